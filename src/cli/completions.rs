//! `p100-onboard completions <shell>`.

use crate::exit::Exit;

#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  p100-onboard completions bash > /etc/bash_completion.d/p100-onboard")]
pub struct Args {
    /// bash, zsh, fish, elvish or powershell.
    pub shell: clap_complete::Shell,
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    let mut cmd = super::command();
    clap_complete::generate(args.shell, &mut cmd, "p100-onboard", &mut std::io::stdout());
    Ok(Exit::Ok)
}
