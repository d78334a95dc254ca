//! `kithara fetch` of an HLS playlist: the stream's virtual byte space (the init section and the
//! segments in play order, decrypted) written to a file, through `FILE.part`. The playlists and
//! segments are read through the persistent cache unless `--no-cache`, as `decode` reads them.

use std::{
    fs,
    io::{Read, Write},
    path::Path,
};

use anyhow::{bail, Context, Result};
use kithara_file::{FileSrc, StorageKind};
use kithara_hls::{Hls, HlsConfig};
use kithara_storage::AssetStore;
use kithara_stream::Stream;

use crate::{args::FetchArgs, fetch::COPY_BUF, progress, Ui};

/// Writes the HLS presentation at `src` to `part`, then renames it to the output. Returns the
/// bytes written.
pub(crate) async fn download(
    src: FileSrc,
    args: &FetchArgs,
    part: &Path,
    label: &str,
    ui: Ui,
    store: Option<AssetStore>,
) -> Result<u64> {
    let FileSrc::Remote(url) = src else {
        bail!("{label}: HLS is read over http(s)");
    };
    let config = HlsConfig::builder()
        .url(url)
        .downloader(crate::fetch::downloader(args)?)
        .options(
            kithara_stream::StreamOptions::builder()
                .maybe_storage(store.map(StorageKind::Cache))
                .wait_timeout(args.timeout)
                .build(),
        )
        .build();
    let mut stream = Stream::<Hls>::new(config).await?;
    if stream.source().is_live() {
        bail!("{label} is a live stream: it has no end to fetch to");
    }
    let bar = progress::bytes_bar(None, ui.progress);
    let (part, output, label) = (part.to_path_buf(), args.output.clone(), label.to_owned());
    let task_bar = bar.clone();
    // `Stream` reads block: off the runtime.
    let written = tokio::task::spawn_blocking(move || -> Result<u64> {
        let mut file =
            fs::File::create(&part).with_context(|| format!("creating {}", part.display()))?;
        let mut buf = vec![0u8; COPY_BUF];
        let mut total = 0u64;
        let copied =
            loop {
                match stream.read(&mut buf) {
                    Ok(0) => break Ok(total),
                    Ok(n) => {
                        if let Err(e) = file.write_all(&buf[..n]) {
                            break Err(anyhow::Error::from(e)
                                .context(format!("writing {}", part.display())));
                        }
                        total += n as u64;
                        task_bar.inc(n as u64);
                    }
                    Err(e) => {
                        break Err(anyhow::Error::from(e)
                            .context(format!("reading {label} at byte {total}")))
                    }
                }
            };
        drop(file);
        crate::sink::publish_part(&part, &output, copied)
    })
    .await
    .context("the download thread failed")??;
    bar.finish_and_clear();
    Ok(written)
}
