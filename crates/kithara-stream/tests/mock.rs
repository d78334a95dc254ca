//! The `mock` feature: unimock mocks of `Source` drive `Stream` without any I/O.
#![cfg(feature = "mock")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub
)]

use std::io::Read;

use kithara_stream::{Error, SourceMock, Stream, StreamParts, StreamType, Timeline, WaitOutcome};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use unimock::{matching, MockFn, Unimock};

struct Mocked;

impl StreamType for Mocked {
    type Config = Unimock;
    type Source = Unimock;
    type Events = ();

    async fn open(source: Unimock) -> kithara_stream::Result<StreamParts<Self>> {
        Ok(StreamParts::new(
            source,
            broadcast::channel(1).0,
            CancellationToken::new(),
        ))
    }
}

fn open(source: Unimock) -> Stream<Mocked> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(Stream::<Mocked>::new(source)).unwrap()
}

#[test]
fn a_source_timeout_reaches_the_reader_as_timed_out() {
    let source = Unimock::new((
        SourceMock::timeline
            .each_call(matching!())
            .returns(Timeline::new()),
        SourceMock::read_at
            .next_call(matching!(0, _))
            .returns(Ok(0)),
        SourceMock::wait_range
            .next_call(matching!(_))
            .returns(Err(Error::WaitTimeout {
                range: 0..16,
                waited: std::time::Duration::from_secs(1),
            })),
    ));
    let mut s = open(source);
    let err = s.read(&mut [0u8; 16]).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    let typed = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<Error>())
        .unwrap();
    assert!(matches!(typed, Error::WaitTimeout { range, .. } if *range == (0..16)));
}

#[test]
fn present_bytes_are_read_without_waiting_and_the_end_is_asked_for() {
    let source = Unimock::new((
        SourceMock::read_at
            .next_call(matching!(0, _))
            .answers(&|_, _, buf: &mut [u8]| {
                buf[..3].copy_from_slice(b"abc");
                Ok(3)
            }),
        SourceMock::timeline
            .each_call(matching!())
            .returns(Timeline::new()),
        SourceMock::read_at
            .next_call(matching!(3, _))
            .returns(Ok(0)),
        SourceMock::wait_range
            .next_call(matching!(_))
            .returns(Ok(WaitOutcome::Eof)),
    ));
    let mut s = open(source);
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    assert_eq!(out, b"abc");
    assert_eq!(s.position(), 3);
}
