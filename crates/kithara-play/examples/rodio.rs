//! Plays URLs or paths as one gapless queue through rodio's default output: the player decodes
//! on its own thread and rodio's audio thread pulls the samples from `kithara_play::rodio_source`
//! (it never waits on the network). Ends when the queue ends; prints every event.
//!
//! ```sh
//! cargo run -p kithara-play --example rodio --features rodio-example -- https://example.com/a.mp3 b.flac
//! ```
//!
//! Behind the `rodio-example` feature: rodio's output needs the ALSA headers on Linux
//! (`apt-get install libasound2-dev`).
#![allow(clippy::print_stdout)]

use kithara_play::{rodio_source, Event, Player, PlayerConfig, SinkFormat, Track};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tracks: Vec<Track> = std::env::args().skip(1).map(|a| Track::parse(&a)).collect();
    if tracks.is_empty() {
        return Err("usage: rodio <URL|PATH>...".into());
    }
    let stream = rodio::OutputStreamBuilder::open_default_stream()?;
    let config = stream.config();
    let format = SinkFormat::new(config.sample_rate(), config.channel_count());
    let (sink, source) = rodio_source(format);
    let player = Player::new(PlayerConfig::default(), sink)?;
    stream.mixer().add(source);
    let handle = player.handle();
    let events = handle.subscribe()?;
    for t in tracks {
        handle.append(t)?;
    }
    handle.play()?;
    // The events are the only wait: no polling, no sleeps.
    while let Some(event) = events.recv() {
        println!("{event:?}");
        if matches!(event, Event::QueueEnded) {
            break;
        }
    }
    player.close()?;
    Ok(())
}
