//! Opening a file stream: the [`StreamType`] implementation of [`File`].

use kithara_storage::StorageKind;
use kithara_stream::{
    dl::Downloader, Error, MediaInfo, Opening, Result, Source, StreamParts, StreamType, Timeline,
};
use url::Url;

use crate::{
    cache,
    config::{FileConfig, Origin},
    events::FileEvent,
    peer::{FilePeer, PeerParts},
    source::FileSource,
    Endless, File,
};

impl StreamType for File {
    type Config = FileConfig;
    type Source = FileSource;
    type Events = FileEvent;

    async fn open(config: FileConfig) -> Result<StreamParts<Self>> {
        match config.origin().clone() {
            Origin::Local(path) => {
                let opening = Opening::new(&config.options, None);
                let from_ext = path.to_str().and_then(MediaInfo::from_path);
                let info = merge(config.media_info, from_ext.unwrap_or_default());
                let source = FileSource::local(path, info)?;
                if let Some(total) = source.len() {
                    opening.send(FileEvent::Completed { total });
                }
                Ok(opening.finish(source))
            }
            Origin::Remote { url, downloader } if config.radio.endless == Endless::Always => {
                crate::open_radio::open_radio(url, &downloader, config).await
            }
            Origin::Remote { url, downloader } => open_remote(url, &downloader, config).await,
        }
    }
}

pub(crate) fn merge(preferred: Option<MediaInfo>, fallback: MediaInfo) -> Option<MediaInfo> {
    let m = preferred.map_or(fallback, |p| p.or(fallback));
    (m != MediaInfo::default()).then_some(m)
}

async fn open_remote(
    url: Url,
    downloader: &Downloader,
    config: FileConfig,
) -> Result<StreamParts<File>> {
    // Until the stream exists, dropping this future (or failing) stops the download.
    let opening = Opening::new(&config.options, Some(downloader));
    let (cancel, events) = (opening.cancel.clone(), opening.events.clone());
    let storage = config.options.storage_or(StorageKind::default());
    let mut resource = cache::create_storage(&storage, &url).await?;
    let timeline = Timeline::new();
    let mut discarded = false;
    let (handle, shared, content_type) = loop {
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
            headers: config.options.headers.clone(),
            resource: resource.clone(),
            timeline: timeline.clone(),
            events: events.clone(),
            cancel: peer_cancel.clone(),
            seek_threshold: config.seek_threshold,
            stall_timeout: config.stall_timeout,
            buffer_ahead: config.buffer_ahead,
            priority: config.options.priority.clone(),
            revalidate: resource.is_complete() && !offline,
            detect_endless: config.radio.endless == Endless::Auto && !offline && !cached,
        });
        let shared = peer.shared();
        let handle = downloader.register(peer);
        if offline {
            tracing::debug!(len = ?resource.len(), "serving the cached copy without a request");
            break (handle, shared, resource.content_type());
        }
        let first = tokio::select! {
            r = first => match r {
                Ok(r) => r,
                Err(_) => return Err(Error::Cancelled),
            },
            _ = cancel.cancelled() => return Err(Error::Cancelled),
        };
        match first {
            Ok(r) if r.endless => {
                peer_cancel.cancel();
                handle.cancel();
                drop(resource);
                return crate::open_radio::open_radio(url, downloader, config).await;
            }
            Ok(r) => {
                break (
                    handle,
                    shared,
                    r.content_type.or_else(|| resource.content_type()),
                )
            }
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
                break (handle, shared, resource.content_type());
            }
            Err(e) => return Err(e),
        }
    };
    // A blocked reader wakes up with `Cancelled` when the stream's token is cancelled elsewhere.
    let watched = resource.clone();
    opening.on_cancel(move || watched.cancel());
    let from_type = content_type.as_deref().and_then(MediaInfo::from_mime);
    let from_ext = MediaInfo::from_path(url.path()).unwrap_or_default();
    let info = merge(
        config.media_info,
        from_type.unwrap_or_default().or(from_ext),
    );
    let source = FileSource::remote(
        resource,
        (handle, Some(shared)),
        config.options.wait_timeout,
        timeline,
        info,
        content_type,
    );
    Ok(opening.finish(source))
}
