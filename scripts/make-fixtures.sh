#!/usr/bin/env bash
# Regenerates kithara's audio fixtures with ffmpeg, then writes their checksums.
#
#   scripts/make-fixtures.sh           # regenerate everything and rewrite SHA256SUMS
#   scripts/make-fixtures.sh --check   # verify the committed files against SHA256SUMS
#
# What it makes:
#   crates/kithara-loopback/media/        bundled media, served by `kithara demo` and the tests
#     chirp.{mp3,aac,m4a,flac,wav,ogg,opus,ts}, chirp-faststart.m4a, chirp-frag.mp4
#     hls/                                a 30 s AAC ladder (3 variants) as TS, fMP4 and packed ADTS,
#                                         one AES-128 variant, one EXT-X-BYTERANGE variant, masters
#   crates/kithara-test-support/fixtures/ reference PCM decoded by ffmpeg (16-bit WAV), test-only
#
# Why these signals and sizes:
#   * The signal is synthesized, never silence: a rising chirp on the left, a falling chirp plus a
#     tone on the right (so swapped or mis-interleaved channels are caught), a slow amplitude
#     envelope, and a little seeded noise. SNR comparisons and seek alignment then mean something.
#   * Everything committed (media + reference PCM) must stay under 4 MiB, the reference PCM being
#     the bulk. Hence 4 s of 22.05 kHz stereo for the single files, 30 s of 16 kHz mono for the HLS
#     ladder (its 30 s reference alone is ~1 MB), and low AAC bitrates (16/24/32 kbit/s) for the ladder. Every ladder variant has the
#     same sample rate and channel count, so a variant switch never changes codec parameters.
#   * AAC is encoded once per bitrate and remuxed (-c copy) into every container, so one reference
#     per encoding serves ADTS, M4A, fMP4 and TS alike. Perceptual noise substitution and intensity
#     stereo are off: decoders fill PNS bands with their own random noise, which would make an SNR
#     comparison between two decoders meaningless.
#   * Opus is there to exercise the "unsupported codec" error (symphonia has no Opus decoder).
#   * -bitexact keeps encoder version strings out of the files, so reruns with the same ffmpeg
#     reproduce the same bytes; another ffmpeg version may encode differently, and --check says so.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MEDIA="$ROOT/crates/kithara-loopback/media"
REF="$ROOT/crates/kithara-test-support/fixtures"

check() {
  (cd "$MEDIA" && sha256sum --quiet -c SHA256SUMS)
  (cd "$REF" && sha256sum --quiet -c SHA256SUMS)
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

# --- checksums ------------------------------------------------------------------------------------
(cd "$MEDIA" && find . -type f ! -name SHA256SUMS | LC_ALL=C sort | xargs sha256sum > SHA256SUMS)
(cd "$REF" && find . -type f ! -name SHA256SUMS | LC_ALL=C sort | xargs sha256sum > SHA256SUMS)
total=$(find "$MEDIA" "$REF" -type f -printf '%s\n' | awk '{s+=$1} END {print s}')
echo "fixtures: $total bytes in total"
if (( total >= 4 * 1024 * 1024 )); then
  echo "error: fixtures exceed the 4 MiB budget" >&2
  exit 1
fi
