//! The loopback server, the shared downloader and the peers' clients that the cases share, and
//! the read-to-end loops of each contender.

use std::{io::Read, time::Duration};

use anyhow::{anyhow, bail, Context, Result};
use kithara_file::{File, FileConfig, StorageKind};
use kithara_loopback::LoopbackServer;
use kithara_stream::{
    dl::{Downloader, DownloaderConfig},
    Stream,
};
use stream_download::{
    http::{reqwest as sd_reqwest, HttpStream},
    storage::{memory::MemoryStorageProvider, temp::TempStorageProvider, StorageProvider},
    Settings, StreamDownload,
};
use tokio::runtime::Runtime;
use url::Url;

/// Size of every reader's buffer.
pub(crate) const READ_BUF: usize = 64 << 10;

/// Where stream-download keeps the bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum SdStorage {
    /// `TempStorageProvider`: an anonymous temporary file.
    TempFile,
    /// `MemoryStorageProvider`: a growing in-memory buffer.
    Memory,
}

/// The server and the clients of one bench run.
pub(crate) struct Fixture<'rt> {
    /// The runtime every async part runs on.
    pub(crate) rt: &'rt Runtime,
    /// The loopback server (routes are added by the cases).
    pub(crate) server: LoopbackServer,
    /// kithara's shared downloader.
    pub(crate) downloader: Downloader,
    /// The raw reqwest loops' client (built like the downloader's: no proxy, `TCP_NODELAY`).
    pub(crate) client: reqwest::Client,
    /// stream-download's client (its own reqwest release), without proxy.
    sd_client: sd_reqwest::Client,
}

impl<'rt> Fixture<'rt> {
    /// Starts the server and builds the clients; `max_in_flight` sizes the downloader's pool.
    pub(crate) fn new(rt: &'rt Runtime, max_in_flight: usize) -> Result<Self> {
        let server = LoopbackServer::start().context("could not start the loopback server")?;
        let downloader = {
            let _guard = rt.enter();
            Downloader::new(
                DownloaderConfig::builder()
                    .system_proxy(false)
                    .max_in_flight(max_in_flight)
                    .runtime(rt.handle().clone())
                    .build(),
            )
            .context("could not build the downloader")?
        };
        let client = reqwest::Client::builder()
            .no_proxy()
            .tcp_nodelay(true)
            .build()
            .context("could not build the reqwest client")?;
        let sd_client = sd_reqwest::Client::builder()
            .no_proxy()
            .tcp_nodelay(true)
            .build()
            .context("could not build stream-download's reqwest client")?;
        Ok(Fixture {
            rt,
            server,
            downloader,
            client,
            sd_client,
        })
    }

    /// A `Stream<File>` of `url` on the shared downloader.
    pub(crate) fn open(&self, url: &Url, storage: StorageKind) -> Result<Stream<File>> {
        let config = FileConfig::remote(url.clone(), self.downloader.clone())
            .options(
                kithara_stream::StreamOptions::builder()
                    .storage(storage)
                    .wait_timeout(Duration::from_secs(60))
                    .build(),
            )
            .build();
        self.rt
            .block_on(Stream::<File>::new(config))
            .context("could not open the kithara stream")
    }

    /// Opens a `Stream<File>` and reads it to the end on this thread; returns the byte count.
    pub(crate) fn kithara_read(&self, url: &Url, storage: StorageKind) -> Result<u64> {
        let mut stream = self.open(url, storage)?;
        read_all(&mut stream).context("kithara stream read")
    }

    /// A raw GET whose body is counted with a `chunk()` loop on a runtime task.
    pub(crate) fn raw_read(&self, url: &Url) -> Result<u64> {
        let task = self.rt.spawn(raw_get(self.client.clone(), url.clone()));
        self.rt.block_on(task).context("the reqwest task failed")?
    }

    /// Opens a stream-download reader (its default settings) and reads it to the end here.
    pub(crate) fn sd_read(&self, url: &Url, storage: SdStorage) -> Result<u64> {
        match storage {
            SdStorage::TempFile => {
                let mut r = self.sd_open(url, TempStorageProvider::new())?;
                read_all(&mut r).context("stream-download read")
            }
            SdStorage::Memory => {
                let mut r = self.sd_open(url, MemoryStorageProvider)?;
                read_all(&mut r).context("stream-download read")
            }
        }
    }

    /// A stream-download reader of `url` with `provider`.
    pub(crate) fn sd_open<P: StorageProvider>(
        &self,
        url: &Url,
        provider: P,
    ) -> Result<StreamDownload<P>> {
        let client = self.sd_client.clone();
        self.rt.block_on(async move {
            let http = HttpStream::new(client, url.clone())
                .await
                .map_err(|e| anyhow!("stream-download could not open {url}: {e}"))?;
            StreamDownload::from_stream(http, provider, Settings::default())
                .await
                .map_err(|e| anyhow!("stream-download could not start: {e}"))
        })
    }
}

/// One GET of `url` on `client`, its body counted chunk by chunk.
pub(crate) async fn raw_get(client: reqwest::Client, url: Url) -> Result<u64> {
    let mut resp = client
        .get(url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .context("raw GET")?;
    let mut n = 0u64;
    while let Some(chunk) = resp.chunk().await.context("raw GET body")? {
        n += chunk.len() as u64;
    }
    Ok(n)
}

/// Reads `r` to the end through a [`READ_BUF`] buffer; returns the byte count.
pub(crate) fn read_all(r: &mut impl Read) -> std::io::Result<u64> {
    let mut buf = vec![0u8; READ_BUF];
    let mut total = 0u64;
    loop {
        match r.read(&mut buf)? {
            0 => return Ok(total),
            n => total += n as u64,
        }
    }
}

/// Fails unless `got` is `want`.
pub(crate) fn check_len(what: &str, got: u64, want: u64) -> Result<()> {
    if got != want {
        bail!("{what} read {got} bytes, the body has {want}");
    }
    Ok(())
}

/// MiB per second of `bytes` in `secs`.
pub(crate) fn mib_s(bytes: u64, took: Duration) -> f64 {
    bytes as f64 / f64::from(1u32 << 20) / took.as_secs_f64()
}
