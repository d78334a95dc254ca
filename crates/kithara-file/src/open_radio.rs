//! Opening an endless stream (an internet radio): a [`RadioPeer`] over a ring.

use std::sync::Arc;

use http::HeaderValue;
use kithara_stream::{dl::Downloader, Error, MediaInfo, Opening, Result, StreamParts, Timeline};
use tokio::sync::oneshot;
use url::Url;

use crate::{
    config::FileConfig,
    endless::{RadioPeer, RadioShared},
    open::merge,
    source::FileSource,
    File,
};

/// Opens `url` as a radio; resolves once the station's first response arrived (its headers
/// size the ring), so an unreachable or missing station fails here.
pub(crate) async fn open_radio(
    url: Url,
    downloader: &Downloader,
    config: FileConfig,
) -> Result<StreamParts<File>> {
    let opening = Opening::new(&config.options, Some(downloader));
    let (cancel, events) = (opening.cancel.clone(), opening.events.clone());
    let (ready_tx, ready_rx) = oneshot::channel();
    let shared = Arc::new(RadioShared::new(
        url.clone(),
        config.radio.clone(),
        config.options.storage.as_ref(),
        events,
        ready_tx,
    ));
    let mut headers = config.options.headers.clone();
    if config.radio.icy {
        headers.insert("icy-metadata", HeaderValue::from_static("1"));
    }
    let handle = downloader.register(RadioPeer::new(
        shared.clone(),
        headers,
        cancel.child_token(),
    ));
    let opened = tokio::select! {
        r = ready_rx => r.map_err(|_| Error::Cancelled)??,
        () = cancel.cancelled() => return Err(Error::Cancelled),
    };
    let resource = shared.resource().cloned().ok_or(Error::Cancelled)?;
    let watched = resource.clone();
    opening.on_cancel(move || watched.cancel());
    let from_type = opened
        .content_type
        .as_deref()
        .and_then(MediaInfo::from_mime);
    let from_ext = MediaInfo::from_path(url.path()).unwrap_or_default();
    let info = merge(
        config.media_info,
        from_type.unwrap_or_default().or(from_ext),
    );
    shared.set_media_info(info);
    let source = FileSource::remote(
        resource,
        (handle, None),
        config.options.wait_timeout,
        Timeline::new(),
        info,
        opened.content_type,
    )
    .with_radio(shared);
    Ok(opening.finish(source))
}
