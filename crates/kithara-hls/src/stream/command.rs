//! The fetch command of one piece: where its bytes go (decrypted in the writer for AES-128, the
//! ciphertext also to its cached asset), and what its callbacks report back to the peer's state.

use std::{ops::Range, sync::atomic::Ordering};

use bytes::Bytes;
use kithara_storage::StorageResource;
use kithara_stream::{
    dl::{FetchCmd, FetchOutcome, FetchPurpose, Priority},
    Error, RedactedUrl,
};
use url::Url;

use super::{layout::Piece, peer::HlsPeer, shared::FlightIo};
use crate::{keys::KeyState, playlist::SegmentId};

/// How a piece's storage was found or made, before its command is built.
pub(super) struct Target {
    pub(super) res: StorageResource,
    /// The cached ciphertext of an AES-128 segment, with its identity.
    pub(super) cipher: Option<(SegmentId, StorageResource)>,
    /// The exact length of a clear piece known before any request.
    pub(super) known: Option<u64>,
    /// Bytes an earlier session cached already (the fetch resumes after them).
    pub(super) done: u64,
}

/// Which piece a command fetches.
pub(super) struct FetchSpec<'a> {
    pub(super) id: u64,
    pub(super) variant: usize,
    pub(super) piece: Piece,
    pub(super) sid: &'a SegmentId,
    /// The key URI of an AES-128 segment.
    pub(super) key_uri: Option<Url>,
    /// The length the piece was queued with (placed without waiting for the response).
    pub(super) place_now: Option<u64>,
}

impl HlsPeer {
    /// The command that fills a piece's storage.
    pub(super) fn fetch_cmd(
        &self,
        spec: FetchSpec<'_>,
        target: &Target,
        io: &FlightIo,
    ) -> FetchCmd {
        let FetchSpec {
            id,
            variant,
            piece,
            sid,
            key_uri,
            place_now,
        } = spec;
        let url = sid.url();
        let range = sid.byte_range().cloned();
        let (res, known, done) = (target.res.clone(), target.known, target.done);
        let cipher_w = target.cipher.as_ref().map(|(_, r)| r.clone());
        let encrypted = key_uri.is_some();
        let base = range.as_ref().map_or(0, |r| r.start);
        let range_len = range.as_ref().map(|r| r.end - r.start);
        let (validated, res_v) = (cipher_w.clone().unwrap_or_else(|| res.clone()), res.clone());
        let cipher_r = cipher_w.clone();
        let (on_resp, on_done) = (self.shared.clone(), self.shared.clone());
        let expected = io.expected.clone();
        let (filled, redacted) = (res.clone(), RedactedUrl::new(url));
        let priority = self.shared.priority.apply(if self.buffer().is_zero() {
            Priority::Urgent
        } else {
            Priority::Normal
        });
        let cmd = FetchCmd::get(url.clone())
            .with_headers(self.shared.headers.clone())
            .with_priority(priority)
            .with_purpose(if piece == Piece::Init {
                FetchPurpose::Other
            } else {
                FetchPurpose::Media
            })
            .writer_blocks(
                res.writes_block() || cipher_w.as_ref().is_some_and(|c| c.writes_block()),
            )
            .with_cancel(io.token.clone())
            .on_response(move |info| {
                if is_html(info.content_type.as_deref()) {
                    return Err(Error::protocol(crate::Error::HtmlInsteadOfMedia {
                        url: RedactedUrl::new(&info.url),
                    }));
                }
                if let Some(v) = info
                    .validator
                    .clone()
                    .filter(|_| validated.asset().is_some())
                {
                    // Kept with a cached copy, for resuming it.
                    let _ = validated.set_validator(v);
                }
                if let Some(total) = info
                    .total_len
                    .filter(|_| known.is_none() && info.status == 200)
                {
                    expected.store(total, Ordering::Release);
                }
                if let Some(c) = &cipher_r {
                    let whole = range_len.or(info.total_len.filter(|_| info.status == 200));
                    if let Some(len) = whole {
                        let _ = c.set_len(len);
                    }
                }
                if !encrypted && place_now.is_none() {
                    // A resumed piece's length is known (and now confirmed); else only a whole
                    // resource gets here without a length: its total is the piece's length.
                    if let Some(len) = known.or(info.total_len) {
                        on_resp.set_len(id, len);
                    }
                }
                Ok(())
            })
            .writer(self.writer(id, base, res.clone(), cipher_w.clone(), key_uri, io))
            .on_complete(move |outcome| {
                let outcome = short_of(outcome, &filled, base, encrypted, &redacted);
                on_done.piece_done(id, variant, piece, outcome);
            });
        resume(cmd, url, range, done, &res_v)
    }

    /// What writes a piece's body: to its storage, or for AES-128 to its decryptor (and the
    /// ciphertext also to its cached asset, if any).
    fn writer(
        &self,
        id: u64,
        base: u64,
        res: StorageResource,
        cipher: Option<StorageResource>,
        key_uri: Option<Url>,
        io: &FlightIo,
    ) -> impl FnMut(u64, Bytes) -> Result<(), Error> + Send + 'static {
        let (shared, loaded) = (self.shared.clone(), io.loaded.clone());
        move |offset, data| {
            loaded.fetch_add(data.len() as u64, Ordering::AcqRel);
            let local = offset.saturating_sub(base);
            if let Some(c) = &cipher {
                c.write_bytes(local, data.clone())?;
            }
            let Some(key_uri) = &key_uri else {
                res.write_bytes(local, data)?;
                return Ok(());
            };
            // Decrypted here, as the chunks arrive, once the key is known.
            let mut guard = shared.lock();
            let st = &mut *guard;
            let key = match st.planner.keys().state(key_uri) {
                Some(KeyState::Ready(k)) => Some(*k),
                _ => None,
            };
            if let Some(e) = st
                .planner
                .queued_mut(id)
                .and_then(|q| q.payload.encrypted.as_mut())
            {
                e.feed(key.as_ref(), &data)?;
            }
            Ok(())
        }
    }
}

/// Asks only for the bytes an earlier session did not cache (`done` of them are), with the
/// stored validator so that a changed resource is refused.
fn resume(
    cmd: FetchCmd,
    url: &Url,
    range: Option<Range<u64>>,
    done: u64,
    res: &StorageResource,
) -> FetchCmd {
    match range {
        Some(r) if done > 0 => cmd
            .with_range(r.start + done..r.end)
            .with_validator(res.validator()),
        Some(r) => cmd.with_range(r),
        None if done > 0 => {
            tracing::debug!(url = %kithara_stream::redact_url(url), from = done,
                "resuming a cached piece");
            cmd.with_range(done..)
                .with_validator(res.validator())
                .with_expected_len(res.len())
        }
        None => cmd,
    }
}

/// A plain piece whose length is fixed (announced, or from the playlist) but whose body ended
/// before it: the fetch "completed" (the server proved the resource ends there), yet the piece
/// can never fill, so it is the typed `ShortBody` rather than a reader waiting out its timeout.
fn short_of(
    outcome: FetchOutcome,
    res: &StorageResource,
    base: u64,
    encrypted: bool,
    url: &RedactedUrl,
) -> FetchOutcome {
    match (&outcome, res.len()) {
        (FetchOutcome::Completed { end, .. }, Some(len)) if !encrypted && !res.is_complete() => {
            FetchOutcome::Failed(Error::ShortBody {
                url: url.clone(),
                got: *end,
                expected: base.saturating_add(len),
            })
        }
        _ => outcome,
    }
}

/// Whether a response's `Content-Type` says HTML (an error or login page served for a segment).
fn is_html(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|ct| {
        ct.trim_start()
            .get(..9)
            .is_some_and(|t| t.eq_ignore_ascii_case("text/html"))
    })
}
