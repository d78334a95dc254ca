//! [`RedactedUrl`]: URLs as errors and logs show them, without query, fragment or credentials.

use std::sync::Arc;

use url::Url;

/// A URL with its query, fragment and credentials removed, as kept in errors and logs. Cheap to clone.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RedactedUrl(Arc<Url>);

impl RedactedUrl {
    /// Redacts `url`.
    pub fn new(url: &Url) -> Self {
        Self(Arc::new(redact_url(url)))
    }

    /// The redacted URL.
    pub fn as_url(&self) -> &Url {
        &self.0
    }
}

impl std::ops::Deref for RedactedUrl {
    type Target = Url;

    fn deref(&self) -> &Url {
        &self.0
    }
}

impl std::fmt::Display for RedactedUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.as_str())
    }
}

impl std::fmt::Debug for RedactedUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.0.as_str())
    }
}

/// Removes the query, fragment and credentials from a URL before it reaches an error or a log line.
pub fn redact_url(url: &Url) -> Url {
    let mut u = url.clone();
    u.set_query(None);
    u.set_fragment(None);
    // Both only fail for URLs that cannot carry credentials, which then have none to remove.
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u
}
