//! The no-echo prompt for the API key.

use rustix::termios::{tcgetattr, tcsetattr, LocalModes, OptionalActions, Termios};
use std::fs::File;

/// Reads a line at `prompt` without echo. Echo goes off before the prompt is shown:
/// rpassword prints the prompt first and only then configures the terminal, so a key
/// pasted the instant the prompt appears could still be echoed.
pub fn secret(prompt: &str) -> std::io::Result<String> {
    let _echo = EchoOff::new();
    rpassword::prompt_password(prompt)
}

/// Restores the terminal's settings when dropped, whatever happened in between.
struct EchoOff(Option<(File, Termios)>);

impl EchoOff {
    fn new() -> EchoOff {
        let saved = File::options()
            .read(true)
            .write(true)
            .open("/dev/tty")
            .ok()
            .and_then(|tty| tcgetattr(&tty).ok().map(|t| (tty, t)));
        if let Some((tty, original)) = &saved {
            let mut quiet = original.clone();
            quiet.local_modes.remove(LocalModes::ECHO);
            // If this fails, rpassword still turns echo off, only a moment later.
            let _ = tcsetattr(tty, OptionalActions::Now, &quiet);
        }
        EchoOff(saved)
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        if let Some((tty, original)) = &self.0 {
            let _ = tcsetattr(tty, OptionalActions::Now, original);
        }
    }
}
