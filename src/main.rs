use p100_onboard::exit::exit_for_error;
use std::process::ExitCode;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = p100_onboard::cli::parse();
    match p100_onboard::cli::run(cli) {
        Ok(exit) => exit.into(),
        Err(err) => {
            eprintln!("error: {err:#}");
            exit_for_error(&err).into()
        }
    }
}
