//! `p100-onboard completions <shell>`.

use crate::exit::Exit;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  p100-onboard completions bash > /etc/bash_completion.d/p100-onboard"
)]
pub struct Args {
    /// bash, zsh, fish, elvish or powershell.
    pub shell: clap_complete::Shell,
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    use std::io::Write;
    let mut cmd = super::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "p100-onboard", &mut script);
    match std::io::stdout().write_all(&script) {
        // A reader that stopped early (`| head`) is not an error.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(Exit::Ok),
    }
}
