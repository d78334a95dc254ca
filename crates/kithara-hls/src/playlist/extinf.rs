//! Exact `#EXTINF` durations.
//!
//! `m3u8-rs` keeps a segment's duration as an `f32`, which cannot hold values such as `2.002`
//! exactly; summed over hundreds of segments the error reaches milliseconds. The durations are
//! therefore read again from the text as decimals, to the nanosecond, in segment order.

use std::time::Duration;

/// Parses a decimal number of seconds (`10`, `9.97`, `2.002000`) exactly, to the nanosecond
/// (further digits are truncated). `None` for anything else (signs, exponents, empty).
pub(super) fn parse_seconds(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(int) || !all_digits(frac) {
        return None;
    }
    let secs: u64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let mut nanos: u32 = 0;
    for (i, b) in frac.bytes().take(9).enumerate() {
        let exp = u32::try_from(8 - i).ok()?;
        nanos += u32::from(b - b'0') * 10u32.pow(exp);
    }
    Some(Duration::new(secs, nanos))
}

/// The value of every `#EXTINF` tag in `text`, in order; `Err` with the raw value of the first one
/// that is not a decimal number of seconds.
pub(super) fn durations(text: &str) -> Result<Vec<Duration>, String> {
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("#EXTINF:"))
        .map(|rest| {
            let value = rest.split(',').next().unwrap_or(rest);
            parse_seconds(value).ok_or_else(|| value.to_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decimals() {
        assert_eq!(parse_seconds("10"), Some(Duration::from_secs(10)));
        assert_eq!(parse_seconds("2.002"), Some(Duration::from_millis(2002)));
        assert_eq!(parse_seconds("0.000000001"), Some(Duration::from_nanos(1)));
        assert_eq!(parse_seconds("1.0000000019"), Some(Duration::new(1, 1)));
        assert_eq!(parse_seconds(".5"), Some(Duration::from_millis(500)));
        assert_eq!(parse_seconds("-1"), None);
        assert_eq!(parse_seconds("1e3"), None);
        assert_eq!(parse_seconds(""), None);
        assert_eq!(parse_seconds("."), None);
    }

    #[test]
    fn scans_tags_in_order() {
        let text = "#EXTM3U\n#EXTINF:2.002,title\na.ts\n#EXTINF:1,\nb.ts\n";
        assert_eq!(
            durations(text),
            Ok(vec![Duration::from_millis(2002), Duration::from_secs(1)])
        );
        assert_eq!(durations("#EXTINF:abc,\nx"), Err("abc".to_owned()));
    }

    proptest! {
        #[test]
        fn millis_round_trip(ms in 0u64..10_000_000) {
            let s = format!("{}.{:03}", ms / 1000, ms % 1000);
            prop_assert_eq!(parse_seconds(&s), Some(Duration::from_millis(ms)));
        }
    }
}
