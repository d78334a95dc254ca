//! [`AnySource`]: the source of a [`Stream<AnyMedia>`](crate::AnyStream), a progressive file's or
//! an HLS stream's behind one type.
//!
//! Every [`Source`] method forwards to the protocol's own source, so a stream opened through this
//! crate reads, waits, seeks and reports boundaries exactly like `Stream<File>` or `Stream<Hls>`.

use std::{ops::Range, time::Duration};

use kithara_file::FileSource;
use kithara_hls::HlsSource;
use kithara_stream::{
    AbrHandle, Boundary, MediaInfo, RedactedUrl, Result, Source, TimeAnchor, Timeline, WaitOutcome,
};

/// The protocol's source inside an [`AnySource`].
#[derive(Debug)]
#[non_exhaustive]
pub enum Protocol {
    /// A progressive HTTP resource or a local file.
    File(FileSource),
    /// An HLS stream.
    Hls(HlsSource),
}

/// The source of a stream opened by [`open`](crate::open): the protocol's source and where the
/// stream came from.
#[derive(Debug)]
pub struct AnySource {
    protocol: Protocol,
    origin: Option<RedactedUrl>,
}

impl AnySource {
    pub(crate) fn new(protocol: Protocol, origin: Option<RedactedUrl>) -> Self {
        Self { protocol, origin }
    }

    /// The protocol's own source.
    pub fn protocol(&self) -> &Protocol {
        &self.protocol
    }

    /// The file source, when the stream is a progressive file.
    pub fn as_file(&self) -> Option<&FileSource> {
        match &self.protocol {
            Protocol::File(s) => Some(s),
            Protocol::Hls(_) => None,
        }
    }

    /// The HLS source (variants, liveness), when the stream is HLS.
    pub fn as_hls(&self) -> Option<&HlsSource> {
        match &self.protocol {
            Protocol::Hls(s) => Some(s),
            Protocol::File(_) => None,
        }
    }

    /// Whether the stream is HLS.
    pub fn is_hls(&self) -> bool {
        self.as_hls().is_some()
    }

    /// Where the stream came from: the URL with its query and credentials removed, or a
    /// `file://` URL of a local path (`None` if the path could not be made absolute). This is
    /// what [`open_decoder`](crate::open_decoder) names in the decoder's errors.
    pub fn origin(&self) -> Option<&RedactedUrl> {
        self.origin.as_ref()
    }

    fn inner(&self) -> &dyn Source {
        match &self.protocol {
            Protocol::File(s) => s,
            Protocol::Hls(s) => s,
        }
    }

    fn inner_mut(&mut self) -> &mut dyn Source {
        match &mut self.protocol {
            Protocol::File(s) => s,
            Protocol::Hls(s) => s,
        }
    }
}

impl Source for AnySource {
    fn wait_range(&mut self, range: Range<u64>) -> Result<WaitOutcome> {
        self.inner_mut().wait_range(range)
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<usize> {
        self.inner_mut().read_at(offset, buf)
    }

    fn len(&self) -> Option<u64> {
        self.inner().len()
    }

    fn is_empty(&self) -> bool {
        self.inner().is_empty()
    }

    fn position(&self) -> u64 {
        self.inner().position()
    }

    fn media_info(&self) -> Option<MediaInfo> {
        self.inner().media_info()
    }

    fn timeline(&self) -> &Timeline {
        self.inner().timeline()
    }

    fn bytes_fetched(&self) -> u64 {
        self.inner().bytes_fetched()
    }

    fn buffered_ahead(&self) -> Option<u64> {
        self.inner().buffered_ahead()
    }

    fn is_seekable(&self) -> bool {
        self.inner().is_seekable()
    }

    fn current_variant(&self) -> Option<usize> {
        self.inner().current_variant()
    }

    fn abr_handle(&self) -> Option<AbrHandle> {
        self.inner().abr_handle()
    }

    fn next_boundary(&self, from: u64) -> Option<Boundary> {
        self.inner().next_boundary(from)
    }

    fn metadata_marks(&self, from: u64) -> Vec<kithara_stream::MetadataMark> {
        self.inner().metadata_marks(from)
    }

    fn seek_time(&mut self, t: Duration) -> Result<TimeAnchor> {
        self.inner_mut().seek_time(t)
    }
}
