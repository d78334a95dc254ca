use proptest::prelude::*;

use super::*;

fn url(s: &str) -> Url {
    Url::parse(s).unwrap()
}

fn tag(method: KeyMethod, uri: Option<&str>, iv: Option<&str>) -> m3u8_rs::Key {
    m3u8_rs::Key {
        method,
        uri: uri.map(str::to_owned),
        iv: iv.map(str::to_owned),
        ..Default::default()
    }
}

#[test]
fn aes128_tag_resolves_uri_and_iv() {
    let base = url("http://h/a/index.m3u8?t=1");
    let k = from_tag(
        &tag(
            KeyMethod::AES128,
            Some("../k/key.bin?x=2"),
            Some("0x0000000000000000000000000000000A"),
        ),
        &base,
    )
    .unwrap()
    .unwrap();
    assert_eq!(k.uri.as_str(), "http://h/k/key.bin?x=2");
    assert_eq!(k.iv.unwrap()[15], 10);
    assert_eq!(
        from_tag(&tag(KeyMethod::None, None, None), &base).unwrap(),
        None
    );
}

#[test]
fn unsupported_methods_and_formats() {
    let base = url("http://h/index.m3u8");
    let sample = from_tag(&tag(KeyMethod::SampleAES, Some("k?tok=s"), None), &base).unwrap_err();
    assert!(
        matches!(&sample, Error::UnsupportedEncryption { method, uri: Some(u) }
            if method == "SAMPLE-AES" && u.as_str() == "http://h/k"),
        "{sample:?}"
    );
    assert!(!sample.to_string().contains("tok"));
    let ctr = from_tag(
        &tag(KeyMethod::Other("SAMPLE-AES-CTR".into()), Some("k"), None),
        &base,
    );
    assert!(
        matches!(ctr, Err(Error::UnsupportedEncryption { method, .. }) if method == "SAMPLE-AES-CTR")
    );
    let other = from_tag(&tag(KeyMethod::Other("ROT13".into()), None, None), &base);
    assert!(matches!(
        other,
        Err(Error::UnsupportedEncryption { uri: None, .. })
    ));
    let mut fairplay = tag(KeyMethod::AES128, Some("skd://x"), None);
    fairplay.keyformat = Some("com.apple.streamingkeydelivery".into());
    assert!(matches!(
        from_tag(&fairplay, &base),
        Err(Error::UnsupportedEncryption { .. })
    ));
}

#[test]
fn bad_key_attributes() {
    let base = url("http://h/index.m3u8");
    assert!(matches!(
        from_tag(&tag(KeyMethod::AES128, None, None), &base),
        Err(Error::BadAttribute {
            tag: "EXT-X-KEY",
            ..
        })
    ));
    for iv in ["1234", "0x", "0xZZ", "0x000000000000000000000000000000001"] {
        assert!(
            matches!(
                from_tag(&tag(KeyMethod::AES128, Some("k"), Some(iv)), &base),
                Err(Error::BadAttribute {
                    tag: "EXT-X-KEY",
                    ..
                })
            ),
            "{iv}"
        );
    }
    assert_eq!(parse_iv("0x1").unwrap(), 1u128.to_be_bytes());
    assert_eq!(parse_iv("0XfF").unwrap(), 255u128.to_be_bytes());
}

#[test]
fn key_length_is_checked() {
    let u = url("http://h/key?token=s");
    let e = validate_key(&u, &[0u8; 15]).unwrap_err();
    assert!(matches!(&e, Error::KeyLength { len: 15, .. }));
    assert_eq!(
        e.to_string(),
        "key http://h/key is 15 bytes long, AES-128 needs 16"
    );
    assert_eq!(validate_key(&u, &[7u8; 16]).unwrap(), [7u8; 16]);
}

#[test]
fn cache_fetches_once_and_keeps_outcome() {
    let mut cache = KeyCache::new();
    let a = url("http://h/a.key");
    let b = url("http://h/b.key");
    assert!(matches!(cache.lookup(&a), KeyLookup::Fetch));
    assert!(matches!(cache.lookup(&a), KeyLookup::Pending));
    assert!(matches!(cache.state(&a), Some(KeyState::InFlight)));
    assert_eq!(cache.complete(&a, Ok(&[1u8; 16])).unwrap(), [1u8; 16]);
    assert!(matches!(cache.lookup(&a), KeyLookup::Ready(k) if k == [1u8; 16]));
    assert_eq!(
        format!("{:?}", cache.state(&a).unwrap()),
        "Ready(<redacted>)"
    );

    assert!(matches!(cache.lookup(&b), KeyLookup::Fetch));
    assert!(cache.complete(&b, Ok(&[1u8; 15])).is_err());
    assert!(matches!(
        cache.lookup(&b),
        KeyLookup::Failed(Error::KeyLength { len: 15, .. })
    ));
    cache.abandon(&b); // a failed key stays failed
    assert!(matches!(cache.lookup(&b), KeyLookup::Failed(_)));

    let c = url("http://h/c.key");
    assert!(matches!(cache.lookup(&c), KeyLookup::Fetch));
    let e = cache
        .complete(&c, Err(kithara_stream::Error::Cancelled))
        .unwrap_err();
    assert!(matches!(&e, Error::KeyFetch { .. }));
    assert!(std::error::Error::source(&e).is_some());
}

#[derive(Debug, Clone)]
enum Op {
    Lookup(u8),
    Complete(u8, bool),
    Abandon(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..3).prop_map(Op::Lookup),
        (0u8..3, any::<bool>()).prop_map(|(k, ok)| Op::Complete(k, ok)),
        (0u8..3).prop_map(Op::Abandon),
    ]
}

proptest! {
    /// However lookups interleave, a fetch is handed out only for a URI that has none in flight
    /// and no outcome: at most one fetch in flight per URI, and none after an outcome.
    #[test]
    fn one_fetch_per_uri(ops in proptest::collection::vec(op(), 0..60)) {
        let mut cache = KeyCache::new();
        let uris: Vec<Url> = (0..3).map(|i| url(&format!("http://h/{i}.key"))).collect();
        let mut in_flight = [false; 3];
        let mut done = [false; 3];
        for op in ops {
            match op {
                Op::Lookup(i) => {
                    let i = usize::from(i);
                    let l = cache.lookup(&uris[i]);
                    if matches!(l, KeyLookup::Fetch) {
                        prop_assert!(!in_flight[i] && !done[i]);
                        in_flight[i] = true;
                    }
                    prop_assert_eq!(matches!(l, KeyLookup::Pending), in_flight[i] && !matches!(l, KeyLookup::Fetch));
                }
                Op::Complete(i, ok) => {
                    let i = usize::from(i);
                    // Only the holder of a fetch completes it.
                    if in_flight[i] {
                        let body = if ok { vec![0u8; 16] } else { vec![0u8; 3] };
                        let _ = cache.complete(&uris[i], Ok(&body));
                        in_flight[i] = false;
                        done[i] = true;
                    }
                }
                Op::Abandon(i) => {
                    let i = usize::from(i);
                    cache.abandon(&uris[i]);
                    in_flight[i] = false;
                }
            }
        }
    }
}
