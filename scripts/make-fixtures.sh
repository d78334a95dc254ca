#!/usr/bin/env bash
# Regenerates kithara's audio fixtures with ffmpeg, then writes their checksums.
#
#   scripts/make-fixtures.sh           # regenerate everything and rewrite SHA256SUMS
#   scripts/make-fixtures.sh --check   # verify the committed files against SHA256SUMS
#
# What it makes:
#   crates/kithara-loopback/media/        bundled media, served by `kithara demo` and the tests
#     chirp.{mp3,aac,m4a,flac,wav,ogg,opus,ts}, chirp-faststart.m4a, chirp-frag.mp4
#     chirp-vbr.mp3                       LAME VBR with a Xing TOC
#     gapless-{elst,smpb}.m4a             AAC-LC declaring its priming by edit list / iTunSMPB
#     hls/                                a 30 s AAC ladder (3 variants) as TS, fMP4 and packed ADTS,
#                                         one AES-128 variant, one EXT-X-BYTERANGE variant, masters
#   crates/kithara-test-support/fixtures/ reference PCM decoded by ffmpeg (16-bit WAV), test-only
#
# Why these signals and sizes:
#   * The signal is synthesized, never silence: a rising chirp on the left, a falling chirp plus a
#     tone on the right (so swapped or mis-interleaved channels are caught), a slow amplitude
#     envelope, and a little seeded noise. SNR comparisons and seek alignment then mean something.
#   * Everything committed (media + reference PCM) must stay under 6 MiB, the reference PCM being
#     the bulk. Hence 4 s of 22.05 kHz stereo for the single files, 30 s of 16 kHz mono for the HLS
#     ladder (its 30 s reference alone is ~1 MB), and low AAC bitrates (16/24/32 kbit/s) for the ladder. Every ladder variant has the
#     same sample rate and channel count, so a variant switch never changes codec parameters.
#   * AAC is encoded once per bitrate and remuxed (-c copy) into every container, so one reference
#     per encoding serves ADTS, M4A, fMP4 and TS alike. Perceptual noise substitution and intensity
#     stereo are off: decoders fill PNS bands with their own random noise, which would make an SNR
#     comparison between two decoders meaningless.
#   * Opus exercises the `opus` feature (libopus) and, without it, the error naming that feature.
#   * -bitexact keeps encoder version strings out of the files, so reruns with the same ffmpeg
#     reproduce the same bytes; another ffmpeg version may encode differently, and --check says so.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MEDIA="$ROOT/crates/kithara-loopback/media"
REF="$ROOT/crates/kithara-test-support/fixtures"

# Everything committed stays under 6 MiB.
budget() {
  local total
  total=$(find "$MEDIA" "$REF" -type f -printf '%s\n' | awk '{s+=$1} END {print s}')
  echo "fixtures: $total bytes in total"
  if (( total >= 6 * 1024 * 1024 )); then
    echo "error: fixtures exceed the 6 MiB budget" >&2
    exit 1
  fi
}

check() {
  (cd "$MEDIA" && sha256sum --quiet --strict -c SHA256SUMS)
  (cd "$REF" && sha256sum --quiet --strict -c SHA256SUMS)
  budget
  echo "fixtures match their checksums"
}
if [[ "${1:-}" == "--check" ]]; then
  check
  exit 0
fi

command -v ffmpeg >/dev/null || { echo "error: ffmpeg is needed" >&2; exit 1; }

RATE=22050
SECS=4
HLS_SECS=30
HLS_RATE=16000
FF=(ffmpeg -hide_banner -loglevel error -nostdin -y)
BITEXACT=(-fflags +bitexact -flags:a +bitexact -map_metadata -1)
AAC_OPTS=(-c:a aac -aac_pns 0 -aac_is 0)

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

rm -rf "$MEDIA" "$REF"
mkdir -p "$MEDIA/hls" "$REF"

# --- source signals (lossless, kept in TMP) -------------------------------------------------
# Left: chirp 150 Hz -> ~2.6 kHz; right: falling chirp + 440 Hz tone; both with a 0.5 Hz envelope.
stereo_expr="(0.55+0.35*sin(2*PI*0.5*t))*0.5*sin(2*PI*(150*t+300*t*t))|(0.55+0.35*cos(2*PI*0.5*t))*(0.3*sin(2*PI*(2400*t-250*t*t))+0.2*sin(2*PI*440*t))"
mono_expr="(0.55+0.35*sin(2*PI*0.23*t))*(0.4*sin(2*PI*(200*t+40*t*t))+0.15*sin(2*PI*660*t+3*sin(2*PI*0.7*t)))"

make_source() { # out channels expr secs rate
  local out="$1" ch="$2" expr="$3" secs="$4" rate="$5" layout=mono
  [[ "$ch" == 2 ]] && layout=stereo
  "${FF[@]}" \
    -f lavfi -i "aevalsrc=exprs=${expr}:sample_rate=${rate}:duration=${secs}:channel_layout=${layout}" \
    -f lavfi -i "anoisesrc=color=pink:amplitude=0.02:seed=1307:sample_rate=${rate}:duration=${secs}" \
    -filter_complex "[1:a]aformat=channel_layouts=${layout}[n];[0:a][n]amix=inputs=2:normalize=0[out]" \
    -map "[out]" -c:a pcm_s16le "${BITEXACT[@]}" "$out"
}
make_source "$TMP/src.wav" 2 "$stereo_expr" "$SECS" "$RATE"
make_source "$TMP/hls-src.wav" 1 "$mono_expr" "$HLS_SECS" "$HLS_RATE"

# --- single files -------------------------------------------------------------------------------
cd "$MEDIA"
"${FF[@]}" -i "$TMP/src.wav" -c:a pcm_s16le "${BITEXACT[@]}" chirp.wav
"${FF[@]}" -i "$TMP/src.wav" -c:a flac -sample_fmt s16 "${BITEXACT[@]}" chirp.flac
# chirp.wav is the lossless fixtures' reference: ffmpeg's decode of chirp.flac must equal it.
"${FF[@]}" -i chirp.flac -f s16le "$TMP/flac.raw"
"${FF[@]}" -i chirp.wav -f s16le "$TMP/wav.raw"
cmp -s "$TMP/flac.raw" "$TMP/wav.raw" || { echo "error: chirp.flac does not decode to chirp.wav" >&2; exit 1; }
"${FF[@]}" -i "$TMP/src.wav" -c:a libmp3lame -b:a 64k "${BITEXACT[@]}" chirp.mp3
"${FF[@]}" -i "$TMP/src.wav" -c:a libvorbis -q:a 2 "${BITEXACT[@]}" chirp.ogg
"${FF[@]}" -i "$TMP/src.wav" -ar 48000 -c:a libopus -b:a 24k "${BITEXACT[@]}" chirp.opus
# AAC-LC encoded once, then remuxed.
"${FF[@]}" -i "$TMP/src.wav" "${AAC_OPTS[@]}" -b:a 64k "${BITEXACT[@]}" -f adts chirp.aac
"${FF[@]}" -i chirp.aac -c:a copy -bsf:a aac_adtstoasc "${BITEXACT[@]}" chirp.m4a                       # moov at the end
"${FF[@]}" -i chirp.aac -c:a copy -bsf:a aac_adtstoasc "${BITEXACT[@]}" -movflags +faststart chirp-faststart.m4a
# From the M4A, not the ADTS file: with an empty moov written before the first packet, the
# AudioSpecificConfig made by aac_adtstoasc would come too late for the moov.
"${FF[@]}" -i chirp.m4a -c:a copy "${BITEXACT[@]}" \
  -movflags +frag_keyframe+empty_moov+default_base_moof -frag_duration 1000000 chirp-frag.mp4
"${FF[@]}" -i chirp.aac -c:a copy "${BITEXACT[@]}" -f mpegts chirp.ts

# --- HLS ladder -----------------------------------------------------------------------------------
cd "$MEDIA/hls"
BITRATES=(16 24 32)
mkdir -p ts fmp4 adts aes byterange
for i in 0 1 2; do
  "${FF[@]}" -i "$TMP/hls-src.wav" "${AAC_OPTS[@]}" -b:a "${BITRATES[$i]}k" "${BITEXACT[@]}" \
    -f adts "$TMP/v$i.aac"
  # MPEG-TS segments.
  "${FF[@]}" -i "$TMP/v$i.aac" -c:a copy "${BITEXACT[@]}" -f hls -hls_time 2 -hls_list_size 0 \
    -hls_playlist_type vod -hls_segment_type mpegts -hls_segment_filename "ts/v$i-%02d.ts" "ts/v$i.m3u8"
  # fMP4 segments with an init segment (EXT-X-MAP), remuxed from an M4A so that the init segment
  # carries the AudioSpecificConfig.
  "${FF[@]}" -i "$TMP/v$i.aac" -c:a copy -bsf:a aac_adtstoasc "${BITEXACT[@]}" "$TMP/v$i.m4a"
  "${FF[@]}" -i "$TMP/v$i.m4a" -c:a copy "${BITEXACT[@]}" -f hls -hls_time 2 -hls_list_size 0 \
    -hls_playlist_type vod -hls_segment_type fmp4 -hls_fmp4_init_filename "v$i-init.mp4" \
    -hls_segment_filename "fmp4/v$i-%02d.m4s" "fmp4/v$i.m3u8"
  # Packed audio: raw ADTS segments; the segment muxer writes the playlist.
  "${FF[@]}" -i "$TMP/v$i.aac" -c:a copy -f segment -segment_time 2 -segment_format adts \
    -segment_list_type m3u8 -segment_list "adts/v$i.m3u8" "adts/v$i-%02d.aac"
done

# AES-128: the 16 kbit/s variant, a fixed key and an explicit IV.
printf '\x6b\x69\x74\x68\x61\x72\x61\x2d\x74\x65\x73\x74\x2d\x6b\x65\x79' > aes/v0.key
printf 'v0.key\n%s\n%s\n' "$MEDIA/hls/aes/v0.key" 000102030405060708090a0b0c0d0e0f > "$TMP/keyinfo"
"${FF[@]}" -i "$TMP/v0.aac" -c:a copy "${BITEXACT[@]}" -f hls -hls_time 2 -hls_list_size 0 \
  -hls_playlist_type vod -hls_key_info_file "$TMP/keyinfo" -hls_segment_filename "aes/v0-%02d.ts" aes/v0.m3u8

# EXT-X-BYTERANGE: the 16 kbit/s variant as one TS file (also the whole-30 s TS decode fixture).
"${FF[@]}" -i "$TMP/v0.aac" -c:a copy "${BITEXACT[@]}" -f hls -hls_time 2 -hls_list_size 0 \
  -hls_playlist_type vod -hls_flags single_file -hls_segment_filename byterange/v0.ts byterange/v0.m3u8

# Master playlists, relative URIs.
write_master() { # file dir ext
  {
    echo "#EXTM3U"
    echo "#EXT-X-VERSION:$4"
    for i in 0 1 2; do
      echo "#EXT-X-STREAM-INF:BANDWIDTH=$(( (BITRATES[i] + 4) * 1000 )),CODECS=\"mp4a.40.2\""
      echo "$2/v$i.m3u8"
    done
  } > "$1"
}
write_master master.m3u8 ts aac 3
write_master master-fmp4.m3u8 fmp4 m4s 7
write_master master-adts.m3u8 adts aac 3
{
  echo "#EXTM3U"
  echo "#EXT-X-VERSION:3"
  for i in 0 1 2; do
    echo "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aac-${BITRATES[$i]}\",NAME=\"AAC ${BITRATES[$i]} kbit/s\",LANGUAGE=\"en\",DEFAULT=YES,AUTOSELECT=YES,CHANNELS=\"1\",URI=\"ts/v$i.m3u8\""
  done
  for i in 0 1 2; do
    echo "#EXT-X-STREAM-INF:BANDWIDTH=$(( (BITRATES[i] + 4) * 1000 )),CODECS=\"mp4a.40.2\",AUDIO=\"aac-${BITRATES[$i]}\""
    echo "ts/v$i.m3u8"
  done
} > master-renditions.m3u8

# --- reference PCM (ffmpeg as the "other decoder"), 16-bit WAV --------------------------------------
ref() { "${FF[@]}" -i "$1" -c:a pcm_s16le "${BITEXACT[@]}" "$REF/$2"; }
ref "$MEDIA/chirp.mp3" chirp-mp3.wav
ref "$MEDIA/chirp.aac" chirp-aac.wav
ref "$MEDIA/chirp.ogg" chirp-vorbis.wav
ref "$TMP/v0.aac" hls-v0.wav

# --- gapless AAC in M4A, and a variable-bitrate MP3 ------------------------------------------------
# AAC-LC encoded straight from a 3 s, 16 kHz mono source by ffmpeg's native encoder, which declares
# its 1024 frames of priming and the 3 s (48000 frames) in an edit list (edts/elst); the same
# packets remuxed without an edit list, declaring the same in an iTunSMPB tag instead (ffmpeg
# writes it as QuickTime metadata, moov/udta/meta/keys+ilst; its padding, 128 frames, is what the
# 48 packets hold past the 3 s). One reference serves both: ffmpeg's decode of the first, which
# trims the priming by the edit list but plays the padding (48128 frames).
make_source "$TMP/gapless-src.wav" 1 "$mono_expr" 3 16000
"${FF[@]}" -i "$TMP/gapless-src.wav" "${AAC_OPTS[@]}" -b:a 32k "${BITEXACT[@]}" "$MEDIA/gapless-elst.m4a"
"${FF[@]}" -i "$MEDIA/gapless-elst.m4a" -c:a copy "${BITEXACT[@]}" -use_editlist 0 \
  -movflags +use_metadata_tags -metadata iTunSMPB=" 00000000 00000400 00000080 000000000000BB80 00000000" \
  "$MEDIA/gapless-smpb.m4a"
ref "$MEDIA/gapless-elst.m4a" gapless-aac.wav
# LAME VBR (-q:a 4) with a Xing tag and its TOC, for the seeks by the table.
"${FF[@]}" -i "$TMP/src.wav" -c:a libmp3lame -q:a 4 "${BITEXACT[@]}" "$MEDIA/chirp-vbr.mp3"

# --- Opus and HE-AAC (the codecs of the `opus` and `fdk-aac` features) -----------------------------
# HE-AAC v1 (SBR) and v2 (PS) need an encoder that Debian's ffmpeg lacks (no libfdk_aac): they are
# encoded by FDK AAC itself, through kithara-decode's dev-only example `he_aac_encode` (so this
# part needs cargo, and builds the `fdk-aac` feature). Both are 44.1 kHz stereo streams whose
# AAC-LC core runs at 22.05 kHz (mono for v2): decoded as plain AAC-LC they would come out at half
# the rate. One 4 s source:
#   chirp-he.aac       HE-AAC v1, 32 kbit/s (ADTS)
#   chirp-he2.aac      HE-AAC v2, 24 kbit/s (ADTS; the PS payload makes the mono core stereo)
#   hls-he/            an Apple-style ladder in TS segments: v0 HE-AAC v2 (chirp-he2.aac), v1
#                      HE-AAC v1 (chirp-he.aac), v2 AAC-LC 96 kbit/s. Segments of 43 HE-AAC frames
#                      = 86 AAC-LC frames (1.9969 s), so the variants cut at the same media times,
#                      and the audio is aligned across them (below).
# References (ffmpeg's own AAC decoder, which decodes SBR and PS; Opus: ffmpeg through libopus) are
# cut short to keep the fixtures small: chirp-he.wav and chirp-he2.wav the first 2 s, chirp-opus.wav
# the first 1.5 s of chirp.opus, 48 kHz stereo.
HE_RATE=44100
HE_EXAMPLE=(cargo run --quiet --manifest-path "$ROOT/Cargo.toml" -p kithara-decode --features fdk-aac
  --example he_aac_encode --)
make_source "$TMP/he-src.wav" 2 "$stereo_expr" 4 "$HE_RATE"
cd "$MEDIA"
"${HE_EXAMPLE[@]}" "$TMP/he-src.wav" chirp-he.aac he 32
# FDK's HE-AAC v2 encoder delays the audio 2048 frames more than its v1 encoder: its source starts
# 2048 frames later, so the two carry the same audio at each time (the ladder below).
"${FF[@]}" -i "$TMP/he-src.wav" -af "atrim=start_sample=2048,apad=pad_len=2048" -c:a pcm_s16le \
  "${BITEXACT[@]}" "$TMP/he2-src.wav"
"${HE_EXAMPLE[@]}" "$TMP/he2-src.wav" chirp-he2.aac he2 24
mkdir -p "$MEDIA/hls-he"
cd "$MEDIA/hls-he"
cp ../chirp-he2.aac "$TMP/he-v0.aac"
cp ../chirp-he.aac "$TMP/he-v1.aac"
# FDK's HE-AAC encoder delays the audio by 4094 frames (measured against the source, FDK's decoder
# delay taken off), ffmpeg's AAC-LC encoder by 1024: the AAC-LC variant's source starts 3070 frames
# later, so every variant carries the same audio at each time.
"${FF[@]}" -i "$TMP/he-src.wav" -af "adelay=delays=3070S:all=1,atrim=end_sample=$(( 4 * HE_RATE ))" \
  "${AAC_OPTS[@]}" -b:a 96k "${BITEXACT[@]}" -f adts "$TMP/he-v2.aac"
for i in 0 1 2; do
  "${FF[@]}" -i "$TMP/he-v$i.aac" -c:a copy "${BITEXACT[@]}" -f hls -hls_time 1.99 -hls_list_size 0 \
    -hls_playlist_type vod -hls_segment_type mpegts -hls_segment_filename "v$i-%02d.ts" "v$i.m3u8"
done
{
  echo "#EXTM3U"
  echo "#EXT-X-VERSION:3"
  echo "#EXT-X-STREAM-INF:BANDWIDTH=28000,CODECS=\"mp4a.40.29\""
  echo "v0.m3u8"
  echo "#EXT-X-STREAM-INF:BANDWIDTH=36000,CODECS=\"mp4a.40.5\""
  echo "v1.m3u8"
  echo "#EXT-X-STREAM-INF:BANDWIDTH=100000,CODECS=\"mp4a.40.2\""
  echo "v2.m3u8"
} > master.m3u8
"${FF[@]}" -i "$MEDIA/chirp-he.aac" -t 2 -c:a pcm_s16le "${BITEXACT[@]}" "$REF/chirp-he.wav"
"${FF[@]}" -i "$MEDIA/chirp-he2.aac" -t 2 -c:a pcm_s16le "${BITEXACT[@]}" "$REF/chirp-he2.wav"
"${FF[@]}" -c:a libopus -i "$MEDIA/chirp.opus" -t 1.5 -c:a pcm_s16le "${BITEXACT[@]}" "$REF/chirp-opus.wav"
# chirp-he.m4a: chirp-he.aac remuxed into MP4 (moov at the end). aac_adtstoasc writes an AAC-LC
# AudioSpecificConfig (SBR signalled implicitly, as in the ADTS); the tests rewrite it in memory to
# the explicit forms (object type 5 or 29; AAC-LC with the 0x2b7 sync extension) to check that
# HE-AAC signalled by the container needs the `fdk-aac` feature, and decodes at full rate with it.
"${FF[@]}" -i "$MEDIA/chirp-he.aac" -c:a copy -bsf:a aac_adtstoasc "${BITEXACT[@]}" "$MEDIA/chirp-he.m4a"

# --- checksums ------------------------------------------------------------------------------------
(cd "$MEDIA" && find . -type f ! -name SHA256SUMS | LC_ALL=C sort | xargs sha256sum > SHA256SUMS)
(cd "$REF" && find . -type f ! -name SHA256SUMS | LC_ALL=C sort | xargs sha256sum > SHA256SUMS)
budget
