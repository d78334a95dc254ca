//! The store in the platform's cache directory, opened without failing.

use super::{AssetStore, AssetStoreConfig};

impl AssetStore {
    /// Opens the store of `config` (its directory, else the platform cache
    /// directory of kithara, see [`AssetStoreConfig::default_dir`]), or
    /// `None` with a warning when it cannot be opened (no home directory, a
    /// read-only home): callers then read without the cache rather than
    /// fail. The player and the command-line tool open their default cache
    /// this way.
    ///
    /// ```
    /// use kithara_storage::{AssetStore, AssetStoreConfig};
    /// let dir = tempfile::tempdir()?;
    /// let store = AssetStore::open_or_warn(AssetStoreConfig::builder().dir(dir.path()).build());
    /// assert_eq!(store.map(|s| s.dir().to_path_buf()), Some(dir.path().to_path_buf()));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn open_or_warn(config: AssetStoreConfig) -> Option<Self> {
        match Self::new(config) {
            Ok(store) => Some(store),
            Err(e) => {
                tracing::warn!(error = %e, "the cache cannot be opened: reading without it");
                None
            }
        }
    }

    /// [`open_or_warn`](Self::open_or_warn) with the default configuration:
    /// the store in the platform cache directory, or `None` with a warning.
    pub fn open_default() -> Option<Self> {
        Self::open_or_warn(AssetStoreConfig::default())
    }
}

#[cfg(all(test, target_os = "linux"))]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::{path::Path, process::Command};

    use super::*;

    /// Set in the child process the tests below start with a redirected
    /// `XDG_CACHE_HOME`, so the real user cache is never written.
    const CHILD: &str = "KITHARA_STORAGE_DEFAULT_CHILD";

    /// Runs `child_opens_default` in a child process with `XDG_CACHE_HOME`.
    fn run_child(xdg: &Path) -> String {
        let exe = std::env::current_exe().unwrap();
        let out = Command::new(exe)
            .args([
                "--exact",
                "cache::default::tests::child_opens_default",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, "1")
            .env("XDG_CACHE_HOME", xdg)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    #[test]
    fn child_opens_default() {
        if std::env::var_os(CHILD).is_none() {
            return;
        }
        match AssetStore::open_default() {
            Some(store) => print!("STORE={}", store.dir().display()),
            None => print!("STORE=none"),
        }
    }

    #[test]
    fn default_store_lives_in_the_platform_cache_dir() {
        let xdg = tempfile::tempdir().unwrap();
        let out = run_child(xdg.path());
        let expected = xdg.path().join("kithara");
        assert!(
            out.contains(&format!("STORE={}", expected.display())),
            "{out}"
        );
        assert!(expected.join("CACHEDIR.TAG").is_file());
    }

    #[test]
    fn unopenable_default_store_is_none_not_a_failure() {
        let dir = tempfile::tempdir().unwrap();
        // A regular file where the cache directory's parent should be: no
        // store can be made below it, even by root.
        let file = dir.path().join("not-a-dir");
        std::fs::write(&file, b"x").unwrap();
        let out = run_child(&file);
        assert!(out.contains("STORE=none"), "{out}");
    }
}
