//! [`Validator`]: what identifies one version of a remote resource.

use std::fmt;

/// The HTTP validators of one version of a resource (`ETag`, `Last-Modified`). Bytes fetched
/// under different validators belong to different versions and must never be combined.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Validator {
    /// The `ETag` header, as sent (quotes and `W/` prefix kept).
    pub etag: Option<String>,
    /// The `Last-Modified` header, as sent.
    pub last_modified: Option<String>,
}

impl Validator {
    /// A validator from the two headers; `None` if neither is present.
    pub fn new(etag: Option<String>, last_modified: Option<String>) -> Option<Self> {
        (etag.is_some() || last_modified.is_some()).then_some(Self {
            etag,
            last_modified,
        })
    }

    /// The value to send in `If-Range`: a strong `ETag`, else `Last-Modified`. Weak ETags
    /// (`W/"…"`) cannot be used there.
    pub fn if_range(&self) -> Option<&str> {
        self.etag
            .as_deref()
            .filter(|e| !e.starts_with("W/"))
            .or(self.last_modified.as_deref())
    }

    /// Whether `other` names a different version: a validator present in both differs.
    pub fn conflicts_with(&self, other: &Validator) -> bool {
        let differs =
            |a: &Option<String>, b: &Option<String>| matches!((a, b), (Some(x), Some(y)) if x != y);
        differs(&self.etag, &other.etag) || differs(&self.last_modified, &other.last_modified)
    }
}

impl fmt::Display for Validator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.etag, &self.last_modified) {
            (Some(e), _) => write!(f, "ETag {e}"),
            (None, Some(m)) => write!(f, "Last-Modified {m}"),
            (None, None) => f.write_str("no validator"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflicts_and_if_range() {
        let a = Validator::new(Some("\"a\"".into()), None).unwrap();
        let b = Validator::new(Some("\"b\"".into()), None).unwrap();
        let m = Validator::new(None, Some("Tue, 01 Jan 2030 00:00:00 GMT".into())).unwrap();
        assert!(a.conflicts_with(&b));
        assert!(!a.conflicts_with(&m), "nothing in common to compare");
        assert_eq!(a.if_range(), Some("\"a\""));
        let weak = Validator::new(Some("W/\"a\"".into()), None).unwrap();
        assert_eq!(weak.if_range(), None);
        assert!(Validator::new(None, None).is_none());
        assert_eq!(m.to_string(), "Last-Modified Tue, 01 Jan 2030 00:00:00 GMT");
    }
}
