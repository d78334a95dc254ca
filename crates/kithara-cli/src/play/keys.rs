//! The keys of `kithara play` on a terminal (crossterm): raw mode for the life of a [`Keys`],
//! restored when it is dropped (at the end, on an error, on a panic's unwinding).

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        mpsc, Arc,
    },
    thread,
    time::Duration,
};

use anyhow::{Context, Result};
use crossterm::{
    event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers},
    terminal,
};

/// What a key asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Key {
    /// Space: pause or resume.
    PlayPause,
    /// ← / →: seek back or forward by 10 s.
    Seek(i8),
    /// ↑ / ↓: volume up or down.
    Volume(i8),
    /// `n`.
    Next,
    /// `p`.
    Previous,
    /// `q`, Esc or Ctrl-C.
    Quit,
}

/// How often the key thread looks at its stop flag.
const POLL: Duration = Duration::from_millis(100);

/// Raw mode and the thread reading keys; both end when this is dropped.
pub(crate) struct Keys {
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Keys {
    /// Enters raw mode and starts reading keys into `tx`.
    pub(crate) fn start(tx: mpsc::Sender<Key>) -> Result<Self> {
        terminal::enable_raw_mode().context("could not put the terminal in raw mode")?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = thread::Builder::new()
            .name("kithara-keys".into())
            .spawn(move || read_keys(&tx, &flag));
        match thread {
            Ok(t) => Ok(Self {
                stop,
                thread: Some(t),
            }),
            Err(e) => {
                let _ = terminal::disable_raw_mode();
                Err(e).context("could not start the key thread")
            }
        }
    }
}

impl Drop for Keys {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if let Err(e) = terminal::disable_raw_mode() {
            tracing::warn!(error = %e, "could not restore the terminal");
        }
    }
}

fn read_keys(tx: &mpsc::Sender<Key>, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        match event::poll(POLL) {
            Ok(true) => {}
            Ok(false) => continue,
            Err(_) => return,
        }
        let Ok(Event::Key(k)) = event::read() else {
            continue;
        };
        if let Some(key) = map(k) {
            if tx.send(key).is_err() {
                return;
            }
        }
    }
}

/// The command of a key press.
pub(crate) fn map(k: KeyEvent) -> Option<Key> {
    if k.kind == KeyEventKind::Release {
        return None;
    }
    Some(match k.code {
        KeyCode::Char('c') if k.modifiers.contains(KeyModifiers::CONTROL) => Key::Quit,
        KeyCode::Char(' ') => Key::PlayPause,
        KeyCode::Left => Key::Seek(-1),
        KeyCode::Right => Key::Seek(1),
        KeyCode::Up => Key::Volume(1),
        KeyCode::Down => Key::Volume(-1),
        KeyCode::Char('n') => Key::Next,
        KeyCode::Char('p') => Key::Previous,
        KeyCode::Char('q') | KeyCode::Esc => Key::Quit,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode, modifiers: KeyModifiers) -> Option<Key> {
        map(KeyEvent::new(code, modifiers))
    }

    #[test]
    fn keys_map_to_commands() {
        let none = KeyModifiers::NONE;
        assert_eq!(press(KeyCode::Char(' '), none), Some(Key::PlayPause));
        assert_eq!(press(KeyCode::Left, none), Some(Key::Seek(-1)));
        assert_eq!(press(KeyCode::Right, none), Some(Key::Seek(1)));
        assert_eq!(press(KeyCode::Up, none), Some(Key::Volume(1)));
        assert_eq!(press(KeyCode::Down, none), Some(Key::Volume(-1)));
        assert_eq!(press(KeyCode::Char('n'), none), Some(Key::Next));
        assert_eq!(press(KeyCode::Char('p'), none), Some(Key::Previous));
        assert_eq!(press(KeyCode::Char('q'), none), Some(Key::Quit));
        assert_eq!(
            press(KeyCode::Char('c'), KeyModifiers::CONTROL),
            Some(Key::Quit)
        );
        assert_eq!(press(KeyCode::Char('x'), none), None);
    }
}
