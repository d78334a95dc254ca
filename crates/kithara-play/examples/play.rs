//! Plays URLs or paths as one queue through the null sink (real-time pace, no sound) or renders
//! them to a WAV file as fast as they decode, printing every event.
//!
//! ```sh
//! cargo run -p kithara-play --example play -- https://example.com/a.mp3 song.flac
//! cargo run -p kithara-play --example play -- --wav out.wav https://example.com/live/master.m3u8
//! ```
#![allow(clippy::print_stdout)]

use kithara_play::{Event, NullSink, Player, PlayerConfig, SinkFormat, Track, WavSink};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1).peekable();
    let wav = if args.peek().map(String::as_str) == Some("--wav") {
        args.next();
        Some(args.next().ok_or("--wav needs a file name")?)
    } else {
        None
    };
    let tracks: Vec<Track> = args.map(|a| Track::parse(&a)).collect();
    if tracks.is_empty() {
        return Err("usage: play [--wav OUT.wav] <URL|PATH>...".into());
    }
    let format = SinkFormat::new(44_100, 2);
    let config = PlayerConfig::default();
    let player = match &wav {
        Some(path) => Player::new(config, WavSink::create(path, format)?)?,
        None => Player::new(config, NullSink::new(format))?,
    };
    let handle = player.handle();
    let events = handle.subscribe()?;
    for t in tracks {
        handle.append(t)?;
    }
    handle.play()?;
    while let Some(event) = events.recv() {
        println!("{event:?}");
        if matches!(event, Event::QueueEnded) {
            break;
        }
    }
    player.close()?;
    Ok(())
}
