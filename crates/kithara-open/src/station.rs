//! Opening through a station link: reading a body that may be one (capped), and trying the
//! link's entries in order until one opens.

use std::future::Future;

use kithara_file::{File, FileSource, FileSrc};
use kithara_stream::{ErrorClass, Source as _, StreamParts, StreamType as _, WaitOutcome};
use tokio::sync::broadcast;

use crate::{
    detect::label,
    error::LinkFailure,
    link::{classify, entry_label, resolve_entry, LinkBody, MAX_LINK_BYTES},
    options::EVENTS_CAPACITY,
    Error, OpenOptions, Result,
};

/// Size of one read of a link's body.
const READ: usize = 16 * 1024;

/// Opens the entries of the station link at `link` with `open`, in order, until one opens;
/// every failure is kept, and returned together when none opens.
pub(crate) async fn first_entry<T, F, Fut>(
    link: &FileSrc,
    entries: Vec<String>,
    mut open: F,
) -> Result<T>
where
    F: FnMut(FileSrc) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut failures = Vec::new();
    for entry in entries {
        let name = entry_label(link, &entry);
        let error = match resolve_entry(link, &entry) {
            Err(refusal) => Error::EntryRefused {
                entry: name.clone(),
                reason: refusal.reason(),
            },
            Ok(src) => match open(src).await {
                Ok(opened) => {
                    tracing::debug!(link = %label(link), entry = %name, "station link entry opened");
                    return Ok(opened);
                }
                Err(e) => e,
            },
        };
        tracing::info!(link = %label(link), entry = %name, error = %error,
            "a station link entry failed: trying the next");
        failures.push(LinkFailure {
            entry: name,
            error: Box::new(error),
        });
    }
    Err(Error::StationLink {
        origin: label(link),
        failures,
    })
}

/// Whether an HLS open failed because the body is no playlist (then it may be a station link).
pub(crate) fn not_a_playlist(e: &Error) -> bool {
    match e {
        Error::LocalPlaylist { .. } => true,
        Error::Stream { source, .. } => source.class() == ErrorClass::InvalidData,
        _ => false,
    }
}

/// What the body of `src`, read again as a file, is (the fallback of a `.m3u8` that is no HLS
/// playlist).
pub(crate) async fn read_link(src: &FileSrc, options: &OpenOptions) -> Result<LinkBody> {
    let (events, _) = broadcast::channel(EVENTS_CAPACITY);
    let parts = File::open(options.file_config(src.clone(), events))
        .await
        .map_err(|source| Error::Stream {
            origin: label(src),
            source,
        })?;
    let StreamParts { source, cancel, .. } = parts;
    let _stop = cancel.drop_guard();
    let (_, body) = read_body(source, src).await?;
    link_body(src, &body)
}

/// What `body` (read with [`read_body`]) is; a station link longer than the cap is refused.
pub(crate) fn link_body(src: &FileSrc, body: &[u8]) -> Result<LinkBody> {
    let kind = classify(body);
    let long = u64::try_from(body.len()).map_or(true, |n| n > MAX_LINK_BYTES);
    if long && matches!(kind, LinkBody::Entries(_)) {
        return Err(Error::LinkTooLarge {
            origin: label(src),
            limit: MAX_LINK_BYTES,
        });
    }
    Ok(kind)
}

/// Reads the first `MAX_LINK_BYTES + 1` bytes of a file source (fewer at its end) on tokio's
/// blocking pool, without moving its position; hands the source back. Each wait is bounded by
/// the stream's wait timeout.
pub(crate) async fn read_body(source: FileSource, src: &FileSrc) -> Result<(FileSource, Vec<u8>)> {
    let (source, read) = tokio::task::spawn_blocking(move || {
        let mut source = source;
        let read = read_capped(&mut source);
        (source, read)
    })
    .await
    .map_err(Error::ProbeTask)?;
    let body = read.map_err(|e| Error::Stream {
        origin: label(src),
        source: e,
    })?;
    Ok((source, body))
}

fn read_capped(source: &mut FileSource) -> kithara_stream::Result<Vec<u8>> {
    let limit = MAX_LINK_BYTES.saturating_add(1);
    let mut body = Vec::new();
    let mut buf = vec![0u8; READ];
    loop {
        let at = u64::try_from(body.len()).unwrap_or(u64::MAX);
        if at >= limit {
            return Ok(body);
        }
        let want = usize::try_from(limit - at).map_or(READ, |w| w.min(READ));
        let end = at.saturating_add(u64::try_from(want).unwrap_or(0));
        if source.wait_range(at..end)? == WaitOutcome::Eof {
            return Ok(body);
        }
        let n = source.read_at(at, &mut buf[..want])?;
        if n == 0 {
            return Ok(body);
        }
        body.extend_from_slice(&buf[..n]);
    }
}
