//! Credentials and query tokens never show up in errors (`Display`, `Debug`, the source chain) or
//! in logs, even at TRACE. A test binary of its own: it installs the process-wide subscriber.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{
    io::{Read, Write},
    sync::{Arc, Mutex},
};

use kithara_file::{File, FileConfig, StorageKind};
use kithara_stream::{
    dl::{Downloader, DownloaderConfig},
    Stream, StreamOptions,
};
use kithara_test_support::{payload, LoopbackServer, Route};

const SECRETS: [&str; 3] = ["alice", "PASSWORD-123", "SECRET-TOKEN"];

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn secret_url(server: &LoopbackServer, path: &str) -> url::Url {
    let mut url = server.url(&format!("{path}?token=SECRET-TOKEN"));
    url.set_username("alice").unwrap();
    url.set_password(Some("PASSWORD-123")).unwrap();
    url
}

fn assert_clean(what: &str, text: &str) {
    for s in SECRETS {
        assert!(!text.contains(s), "{s} leaked into {what}: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_stay_out_of_errors_and_logs() {
    let logs = Captured::default();
    let sink = logs.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || sink.clone())
        .with_ansi(false)
        .init();

    let server = LoopbackServer::start().unwrap();
    let body = payload(300_000, 70);
    server.route("/ok.mp3", Route::new(body.clone()));
    let dl = Downloader::new(DownloaderConfig::builder().system_proxy(false).build()).unwrap();

    // A failing open: the error and its whole chain.
    let err = Stream::<File>::new(
        FileConfig::remote(secret_url(&server, "/missing.mp3"), dl.clone()).build(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.status(), Some(404));
    assert_clean("Display", &err.to_string());
    assert_clean("Debug", &format!("{err:?}"));
    let mut source: Option<&dyn std::error::Error> = Some(&err);
    while let Some(e) = source {
        assert_clean("the source chain", &format!("{e} {e:?}"));
        source = e.source();
    }

    // A stream that works, read to the end: every span and event it logs.
    let mut stream = Stream::<File>::new(
        FileConfig::remote(secret_url(&server, "/ok.mp3"), dl.clone())
            .options(
                StreamOptions::builder()
                    .storage(StorageKind::Memory)
                    .build(),
            )
            .build(),
    )
    .await
    .unwrap();
    let got = tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        stream.read_to_end(&mut out).map(|_| out)
    })
    .await
    .unwrap()
    .unwrap();
    assert!(got == body);

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("/ok.mp3"), "the logs were captured: {text}");
    assert!(text.contains("/missing.mp3"), "{text}");
    assert_clean("the logs", &text);
}
