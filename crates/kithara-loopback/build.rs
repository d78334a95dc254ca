//! Generates the table of bundled media (`media/`) so every file is embedded with `include_bytes!`.

use std::{env, fmt::Write as _, fs, path::Path};

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("media");
    println!("cargo:rerun-if-changed=media");
    let mut files = Vec::new();
    collect(&root, &root, &mut files);
    files.sort();
    let mut out = String::from("&[\n");
    for name in &files {
        if name == "SHA256SUMS" {
            continue;
        }
        let path = root.join(name);
        let _ = writeln!(
            out,
            "    MediaFile {{ name: {name:?}, bytes: include_bytes!({path:?}), content_type: {ct:?} }},",
            path = path.display().to_string(),
            ct = content_type(name),
        );
    }
    out.push(']');
    let dest = Path::new(&env::var("OUT_DIR").unwrap_or_default()).join("media_table.rs");
    if let Err(e) = fs::write(&dest, out) {
        println!("cargo:warning=cannot write the media table: {e}");
    }
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<String>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(root, &path, files);
        } else if let Ok(rel) = path.strip_prefix(root) {
            let rel = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            files.push(rel);
        }
    }
}

fn content_type(name: &str) -> &'static str {
    let ext = name.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    match ext {
        "mp3" => "audio/mpeg",
        "aac" => "audio/aac",
        "m4a" | "mp4" => "audio/mp4",
        "m4s" => "video/iso.segment",
        "flac" => "audio/flac",
        "wav" => "audio/wav",
        "ogg" => "audio/ogg",
        "opus" => "audio/ogg; codecs=opus",
        "ts" => "video/mp2t",
        "m3u8" => "application/vnd.apple.mpegurl",
        _ => "application/octet-stream",
    }
}
