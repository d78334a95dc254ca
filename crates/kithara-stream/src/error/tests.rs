//! Tests of the error type: io kinds, predicates, classification, redaction.

use super::*;
use url::Url;

use crate::ErrorClass;

#[test]
fn io_kinds_and_predicates() {
    let url = RedactedUrl::new(&Url::parse("http://127.0.0.1/a.mp3?k=v").unwrap());
    assert_eq!(url.to_string(), "http://127.0.0.1/a.mp3");
    let e = Error::HttpStatus {
        method: http::Method::GET,
        url: url.clone(),
        range: None,
        status: 404,
    };
    assert_eq!(e.status(), Some(404));
    assert_eq!(e.clone().into_io().kind(), io::ErrorKind::NotFound);
    let wrapped = Error::RetriesExhausted {
        url,
        attempts: 3,
        last: Box::new(e),
    };
    assert_eq!(wrapped.status(), Some(404));
    let io = wrapped.into_io();
    assert!(io
        .get_ref()
        .and_then(|e| e.downcast_ref::<Error>())
        .is_some());
    let t = Error::WaitTimeout {
        range: 0..10,
        waited: Duration::from_secs(1),
    };
    assert!(t.is_timeout());
    assert_eq!(t.into_io().kind(), io::ErrorKind::TimedOut);
}

#[test]
fn redaction_strips_secrets() {
    let url = Url::parse("https://user:pw@cdn.example/x.mp3?token=secret#frag").unwrap();
    assert_eq!(redact_url(&url).as_str(), "https://cdn.example/x.mp3");
}

#[derive(Debug, thiserror::Error)]
#[error("the key at {0} is gone")]
struct KeyGone(&'static str);

impl ProtocolError for KeyGone {
    fn class(&self) -> ErrorClass {
        ErrorClass::Key
    }
    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }
}

#[test]
fn protocol_errors_are_classified_and_found_through_io_errors() {
    let io = Error::protocol(KeyGone("k")).into_io();
    assert_eq!(ErrorClass::of(&io), ErrorClass::Key);
    assert_eq!(
        io.to_string(),
        "the key at k is gone",
        "the top line names what failed"
    );
    let found = crate::find_error::<KeyGone>(&io).map(|k| k.0);
    assert_eq!(found, Some("k"));
    let retried = Error::RetriesExhausted {
        url: RedactedUrl::new(&Url::parse("http://h/x").unwrap()),
        attempts: 2,
        last: Box::new(Error::Inactivity {
            url: RedactedUrl::new(&Url::parse("http://h/x").unwrap()),
            range: None,
            timeout: Duration::from_secs(1),
        }),
    };
    assert_eq!(retried.class(), ErrorClass::Timeout);
    let other = Error::other(io::Error::new(io::ErrorKind::NotFound, "gone"));
    assert_eq!(other.class(), ErrorClass::NotFound);
    assert!(crate::find_error::<io::Error>(&other).is_some());
}

#[test]
fn shared_roundtrip_keeps_type() {
    let shared: SharedError = Arc::new(Error::Cancelled);
    assert!(Error::from_shared(shared).is_cancelled());
}
