//! Opening a file stream: the [`StreamType`] implementation of [`File`].

use kithara_stream::{
    Error, MediaInfo, RedactedUrl, Result, Source, StreamParts, StreamType, Timeline,
};
use tokio::sync::broadcast;
use url::Url;

use crate::{
    cache,
    config::{FileConfig, FileSrc},
    events::FileEvent,
    peer::{FilePeer, PeerParts},
    source::FileSource,
    File,
};

impl StreamType for File {
    type Config = FileConfig;
    type Source = FileSource;
    type Events = FileEvent;

    async fn open(config: FileConfig) -> Result<StreamParts<Self>> {
        match config.src.clone() {
            FileSrc::Local(path) => {
                let from_ext = path.to_str().and_then(MediaInfo::from_path);
                let info = merge(config.media_info, from_ext.unwrap_or_default());
                let source = FileSource::local(path, info)?;
                let events = config
                    .events
                    .clone()
                    .unwrap_or_else(|| broadcast::channel(config.events_capacity.max(1)).0);
                let cancel = config.cancel.map(|p| p.child_token()).unwrap_or_default();
                if let Some(total) = source.len() {
                    let _ = events.send(FileEvent::Completed { total });
                }
                Ok(StreamParts::new(source, events, cancel))
            }
            FileSrc::Remote(url) => open_remote(url, config).await,
        }
    }
}

fn merge(preferred: Option<MediaInfo>, fallback: MediaInfo) -> Option<MediaInfo> {
    let m = preferred.map_or(fallback, |p| p.or(fallback));
    (m != MediaInfo::default()).then_some(m)
}

async fn open_remote(url: Url, config: FileConfig) -> Result<StreamParts<File>> {
    let Some(downloader) = config.downloader.clone() else {
        return Err(Error::NoDownloader {
            url: RedactedUrl::new(&url),
        });
    };
    let cancel = match &config.cancel {
        Some(parent) => parent.child_token(),
        None => downloader.child_token(),
    };
    // Until the stream exists, dropping this future must stop the download.
    let guard = cancel.clone().drop_guard();
    let mut resource = cache::create_storage(&config.storage, &url).await?;
    let timeline = Timeline::new();
    let events = config
        .events
        .clone()
        .unwrap_or_else(|| broadcast::channel(config.events_capacity.max(1)).0);
    let mut discarded = false;
    let (handle, content_type) = loop {
        let present = resource.covered();
        let cached = resource.asset().is_some() && present > 0;
        // "Ready" is a state of storage: a complete copy the cache may serve needs no request.
        let offline = resource.is_complete() && resource.can_skip_revalidation();
        if cached {
            let _ = events.send(FileEvent::FromCache {
                present,
                total: resource.len(),
                revalidating: !offline,
            });
        }
        let peer_cancel = cancel.child_token();
        let (peer, first) = FilePeer::new(PeerParts {
            url: url.clone(),
            headers: config.headers.clone(),
            resource: resource.clone(),
            timeline: timeline.clone(),
            events: events.clone(),
            cancel: peer_cancel.clone(),
            seek_threshold: config.seek_threshold,
            buffer_ahead: config.buffer_ahead,
            revalidate: resource.is_complete() && !offline,
        });
        let handle = downloader.register(peer);
        if offline {
            tracing::debug!(len = ?resource.len(), "serving the cached copy without a request");
            break (handle, resource.content_type());
        }
        let first = tokio::select! {
            r = first => match r {
                Ok(r) => r,
                Err(_) => return Err(Error::Cancelled),
            },
            _ = cancel.cancelled() => return Err(Error::Cancelled),
        };
        match first {
            Ok(r) => break (handle, r.content_type.or_else(|| resource.content_type())),
            Err(e) if e.is_resource_changed() && cached && !discarded => {
                tracing::info!(error = %e, discarded = present,
                    "the server's version changed: discarding the cached copy");
                peer_cancel.cancel();
                resource = cache::discard(resource).await?;
                discarded = true;
                let _ = events.send(FileEvent::VersionChanged {
                    discarded: present,
                    reason: e,
                });
            }
            Err(e) if cached && resource.is_complete() && !e.is_cancelled() => {
                tracing::warn!(error = %e, "revalidation failed: serving the cached copy");
                let _ = events.send(FileEvent::RevalidationFailed(e));
                break (handle, resource.content_type());
            }
            Err(e) => return Err(e),
        }
    };
    // A blocked reader wakes up with `Cancelled` when the stream's token is cancelled elsewhere.
    let (watch_token, watch_resource) = (cancel.clone(), resource.clone());
    tokio::spawn(async move {
        watch_token.cancelled().await;
        watch_resource.cancel();
    });
    let from_type = content_type.as_deref().and_then(MediaInfo::from_mime);
    let from_ext = MediaInfo::from_path(url.path()).unwrap_or_default();
    let info = merge(
        config.media_info,
        from_type.unwrap_or_default().or(from_ext),
    );
    let source = FileSource::remote(
        resource,
        handle,
        config.wait_timeout,
        timeline,
        info,
        content_type,
    );
    guard.disarm();
    Ok(StreamParts::new(source, events, cancel))
}
