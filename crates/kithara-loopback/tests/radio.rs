//! Radio routes over real HTTP: endless bodies, ICY blocks on request, station headers, faults.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{client, read_body, server_with};
use kithara_loopback::{payload, Fault, Radio, ResponseEnd, Route};

#[tokio::test]
async fn a_radio_loops_its_payload_with_blocks_only_when_asked() {
    let radio = Radio::new(payload(5_000, 7)).metaint(1_000);
    let server = server_with(
        "/radio",
        Route::radio(radio.clone()).fault(Fault::ResetAfter {
            after: 30_000,
            times: u32::MAX,
        }),
    );
    let c = client();

    let plain = c.get(server.url("/radio")).send().await.unwrap();
    assert_eq!(plain.status(), 200);
    assert!(plain.headers().get("content-length").is_none());
    assert!(plain.headers().get("accept-ranges").is_none());
    assert!(plain.headers().get("icy-metaint").is_none());
    assert_eq!(plain.headers()["icy-name"], "Loopback FM");
    assert_eq!(plain.headers()["icy-br"], "128");
    let (bytes, cut) = read_body(plain).await;
    assert!(cut, "every connection is reset");
    assert_eq!(bytes, radio.audio(0, 30_000));

    let icy = c
        .get(server.url("/radio"))
        .header("Icy-MetaData", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(icy.headers()["icy-metaint"], "1000");
    let (wire, _) = read_body(icy).await;
    assert_eq!(wire.len(), 30_000);
    // Strip as a client does.
    let (mut audio, mut titles, mut i) = (Vec::new(), Vec::new(), 0);
    while i < wire.len() {
        let k = 1_000.min(wire.len() - i);
        audio.extend_from_slice(&wire[i..i + k]);
        i += k;
        if i < wire.len() {
            let n = wire[i] as usize * 16;
            if n > 0 {
                titles.push((
                    audio.len() as u64,
                    String::from_utf8_lossy(&wire[i + 1..(i + 1 + n).min(wire.len())]).into_owned(),
                ));
            }
            i += 1 + n;
        }
    }
    assert_eq!(audio, radio.audio(0, audio.len()));
    let want = radio.titles(audio.len() as u64);
    assert_eq!(titles.len(), want.len());
    for ((at, text), (want_at, title)) in titles.iter().zip(&want) {
        assert_eq!(at, want_at);
        assert!(
            text.starts_with(&format!("StreamTitle='{title}';")),
            "{text}"
        );
    }
    let log = server.requests();
    assert_eq!(log[0].icy_metaint, None);
    assert_eq!(log[1].icy_metaint, Some(1_000));
    assert!(log
        .iter()
        .all(|r| r.end == Some(ResponseEnd::Fault) && r.bytes_sent == 30_000));
}

/// A throttled radio sends at its pace: held at one byte a second, only the first bytes arrive;
/// once the rate is lifted the rest flows, the same audio.
#[tokio::test]
async fn a_throttled_radio_sends_at_its_pace() {
    use kithara_loopback::ThrottleHandle;
    let radio = Radio::new(payload(5_000, 8));
    let pace = ThrottleHandle::new(1);
    let server = server_with(
        "/radio",
        Route::radio(radio.clone())
            .throttle_handle(pace.clone())
            .fault(Fault::ResetAfter {
                after: 20_000,
                times: u32::MAX,
            }),
    );
    let mut resp = client().get(server.url("/radio")).send().await.unwrap();
    let first = resp.chunk().await.unwrap().unwrap();
    assert!(
        first.len() < 64,
        "held to a frame of bytes: {}",
        first.len()
    );
    pace.set(0);
    let mut got = first.to_vec();
    while let Ok(Some(c)) = resp.chunk().await {
        got.extend_from_slice(&c);
    }
    assert_eq!(got, radio.audio(0, 20_000));
}
