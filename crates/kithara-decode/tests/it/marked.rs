//! A `Stream<Marked>`: a file over loopback whose source also answers the metadata marks a test
//! records in it (what a radio source does with ICY titles, and HLS with timed ID3).

use std::{ops::Range, time::Duration};

use kithara_file::{File, FileConfig, FileSource};
use kithara_stream::{
    AbrHandle, Boundary, MediaInfo, MetadataMark, MetadataMarks, Result, Source, StreamParts,
    StreamType, TimeAnchor, Timeline, WaitOutcome,
};

pub struct Marked;

pub struct MarkedConfig {
    pub file: FileConfig,
    pub marks: MetadataMarks,
}

pub struct MarkedSource {
    inner: FileSource,
    marks: MetadataMarks,
}

impl Source for MarkedSource {
    fn wait_range(&mut self, range: Range<u64>) -> Result<WaitOutcome> {
        self.inner.wait_range(range)
    }
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<usize> {
        self.inner.read_at(offset, buf)
    }
    fn len(&self) -> Option<u64> {
        self.inner.len()
    }
    fn position(&self) -> u64 {
        self.inner.position()
    }
    fn media_info(&self) -> Option<MediaInfo> {
        self.inner.media_info()
    }
    fn timeline(&self) -> &Timeline {
        self.inner.timeline()
    }
    fn bytes_fetched(&self) -> u64 {
        self.inner.bytes_fetched()
    }
    fn buffered_ahead(&self) -> Option<u64> {
        self.inner.buffered_ahead()
    }
    fn is_seekable(&self) -> bool {
        self.inner.is_seekable()
    }
    fn current_variant(&self) -> Option<usize> {
        self.inner.current_variant()
    }
    fn abr_handle(&self) -> Option<AbrHandle> {
        self.inner.abr_handle()
    }
    fn next_boundary(&self, from: u64) -> Option<Boundary> {
        self.inner.next_boundary(from)
    }
    fn metadata_marks(&self, from: u64) -> Vec<MetadataMark> {
        self.marks.since(from)
    }
    fn seek_time(&mut self, t: Duration) -> Result<TimeAnchor> {
        self.inner.seek_time(t)
    }
}

impl StreamType for Marked {
    type Config = MarkedConfig;
    type Source = MarkedSource;
    type Events = <File as StreamType>::Events;

    async fn open(config: MarkedConfig) -> Result<StreamParts<Self>> {
        let parts = File::open(config.file).await?;
        let mut out = StreamParts::new(
            MarkedSource {
                inner: parts.source,
                marks: config.marks,
            },
            parts.events,
            parts.cancel,
        );
        out.open_events = parts.open_events;
        Ok(out)
    }
}
