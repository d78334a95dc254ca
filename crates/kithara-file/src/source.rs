//! The [`Source`] side of a file stream: remote (storage filled by the peer) or local (read in place).

use std::{fs, ops::Range, path::PathBuf, sync::Arc, time::Duration};

use crate::{endless::RadioShared, shared::Shared};
use kithara_storage::StorageResource;
use kithara_stream::{
    dl::PeerHandle, Boundary, Error, MediaInfo, MetadataMark, Result, Source, StationInfo,
    Timeline, WaitOutcome,
};

/// The source of a [`File`](crate::File) stream.
#[derive(Debug)]
pub struct FileSource {
    inner: Inner,
    timeline: Timeline,
    media_info: Option<MediaInfo>,
}

#[derive(Debug)]
enum Inner {
    Remote {
        resource: StorageResource,
        peer: PeerHandle,
        /// The file peer's state (`None` for a radio).
        shared: Option<Arc<Shared>>,
        /// A radio's state: boundaries at its gaps, titles, station headers.
        radio: Option<Arc<RadioShared>>,
        wait_timeout: Duration,
        content_type: Option<String>,
    },
    Local {
        file: fs::File,
        path: PathBuf,
        len: u64,
    },
}

impl FileSource {
    pub(crate) fn remote(
        resource: StorageResource,
        (peer, shared): (PeerHandle, Option<Arc<Shared>>),
        wait_timeout: Duration,
        timeline: Timeline,
        media_info: Option<MediaInfo>,
        content_type: Option<String>,
    ) -> Self {
        Self {
            inner: Inner::Remote {
                resource,
                peer,
                shared,
                radio: None,
                wait_timeout,
                content_type,
            },
            timeline,
            media_info,
        }
    }

    pub(crate) fn local(path: PathBuf, media_info: Option<MediaInfo>) -> Result<Self> {
        let io_err = |op, e| {
            Error::from(crate::Error::LocalIo {
                op,
                path: path.clone(),
                source: Arc::new(e),
            })
        };
        let file = fs::File::open(&path).map_err(|e| io_err("open", e))?;
        let meta = file.metadata().map_err(|e| io_err("stat", e))?;
        if !meta.is_file() {
            return Err(io_err(
                "open",
                std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file"),
            ));
        }
        let timeline = Timeline::new();
        Ok(Self {
            inner: Inner::Local {
                file,
                path,
                len: meta.len(),
            },
            timeline,
            media_info,
        })
    }

    /// The storage behind a remote stream (`None` for a local file).
    pub fn storage(&self) -> Option<&StorageResource> {
        match &self.inner {
            Inner::Remote { resource, .. } => Some(resource),
            Inner::Local { .. } => None,
        }
    }

    /// The `Content-Type` a remote stream was served with (or recorded with its cached copy);
    /// `None` for a local file or when the server sent none. Lets a caller notice that a URL
    /// it took for a file is something else, such as an HLS playlist.
    pub fn content_type(&self) -> Option<&str> {
        match &self.inner {
            Inner::Remote { content_type, .. } => content_type.as_deref(),
            Inner::Local { .. } => None,
        }
    }

    /// Changes how many bytes a remote stream keeps downloaded ahead of the reader (`None`: the
    /// whole file), e.g. from the real bitrate once the decoder knows it. A running request that
    /// reaches beyond the new budget is cut (what it brought stays); the next one follows the new
    /// budget. Does nothing for a local file.
    pub fn set_buffer_ahead(&self, bytes: Option<u64>) {
        if let Inner::Remote {
            shared: Some(shared),
            ..
        } = &self.inner
        {
            let mut st = shared.lock();
            st.buffer_ahead = bytes;
            st.budget_changed = true;
            Shared::wake(&mut st);
        }
    }

    /// The bytes a remote stream keeps downloaded ahead of the reader (`None`: the whole file,
    /// or a local file).
    pub fn buffer_ahead(&self) -> Option<u64> {
        match &self.inner {
            Inner::Remote {
                shared: Some(shared),
                ..
            } => shared.lock().buffer_ahead,
            _ => None,
        }
    }

    /// Makes this source a radio's: boundaries at its gaps, its titles, its station headers.
    pub(crate) fn with_radio(mut self, radio: Arc<RadioShared>) -> Self {
        if let Inner::Remote { radio: r, .. } = &mut self.inner {
            *r = Some(radio);
        }
        self
    }

    fn radio(&self) -> Option<&RadioShared> {
        match &self.inner {
            Inner::Remote { radio, .. } => radio.as_deref(),
            Inner::Local { .. } => None,
        }
    }

    /// Whether this is an endless stream (a radio) read through a ring.
    pub fn is_endless(&self) -> bool {
        self.radio().is_some()
    }

    /// What a radio's headers said about the station (`icy-name`, `icy-genre`, `icy-br`,
    /// `icy-url`, `icy-description`); `None` for other streams.
    pub fn station(&self) -> Option<StationInfo> {
        self.radio().and_then(|r| r.station().cloned())
    }

    /// The registered peer of a remote stream (`None` for a local file).
    pub fn peer(&self) -> Option<&PeerHandle> {
        match &self.inner {
            Inner::Remote { peer, .. } => Some(peer),
            Inner::Local { .. } => None,
        }
    }
}

impl Drop for FileSource {
    /// A ring's writer may be waiting for the reader to make room: with the reader gone it never
    /// will, so the ring is cancelled here, synchronously (a runtime shutting down runs no task
    /// that could do it later).
    fn drop(&mut self) {
        if let Inner::Remote { resource, .. } = &self.inner {
            if resource.ring_capacity().is_some() {
                resource.cancel();
            }
        }
    }
}

#[cfg(unix)]
fn read_file_at(file: &fs::File, offset: u64, buf: &mut [u8]) -> std::io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

#[cfg(windows)]
fn read_file_at(file: &fs::File, offset: u64, buf: &mut [u8]) -> std::io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, offset)
}

impl Source for FileSource {
    fn bytes_fetched(&self) -> u64 {
        self.peer().map_or(0, PeerHandle::bytes_fetched)
    }

    fn wait_range(&mut self, range: Range<u64>) -> Result<WaitOutcome> {
        let (resource, budget) = match &self.inner {
            Inner::Local { len, .. } => {
                return Ok(if range.start >= *len {
                    WaitOutcome::Eof
                } else {
                    WaitOutcome::Ready
                });
            }
            Inner::Remote {
                resource,
                wait_timeout,
                ..
            } => (resource, *wait_timeout),
        };
        // The budget lives here: storage's timeout, the download's failure and a cancel come back
        // as the reader's typed errors.
        Ok(resource.wait_range(range, budget)?)
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<usize> {
        match &self.inner {
            Inner::Local { file, path, .. } => read_file_at(file, offset, buf).map_err(|e| {
                Error::from(crate::Error::LocalIo {
                    op: "read",
                    path: path.clone(),
                    source: Arc::new(e),
                })
            }),
            Inner::Remote { resource, .. } => Ok(resource.read_at(offset, buf)?),
        }
    }

    fn buffered_ahead(&self) -> Option<u64> {
        let pos = self.timeline.position();
        Some(match &self.inner {
            Inner::Remote { resource, .. } => resource
                .contiguous_end(pos)
                .map_or(0, |end| end.saturating_sub(pos)),
            Inner::Local { len, .. } => len.saturating_sub(pos),
        })
    }

    fn len(&self) -> Option<u64> {
        match &self.inner {
            Inner::Local { len, .. } => Some(*len),
            Inner::Remote { resource, .. } => resource.len(),
        }
    }

    fn media_info(&self) -> Option<MediaInfo> {
        self.media_info
    }

    fn timeline(&self) -> &Timeline {
        &self.timeline
    }

    fn next_boundary(&self, from: u64) -> Option<Boundary> {
        self.radio().and_then(|r| r.next_boundary(from))
    }

    fn metadata_marks(&self, from: u64) -> Vec<MetadataMark> {
        self.radio()
            .map(|r| r.marks_since(from))
            .unwrap_or_default()
    }

    fn check_seek(&self, pos: u64) -> Result<()> {
        match &self.inner {
            Inner::Remote { resource, .. } => Ok(resource.check_kept(pos)?),
            Inner::Local { .. } => Ok(()),
        }
    }
}
