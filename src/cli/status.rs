//! `p100-onboard status`: what the ledger holds, per state and per error code,
//! and the last runs.

use crate::exit::Exit;
use crate::ledger::Ledger;
use std::fmt::Write as _;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  p100-onboard status\n  p100-onboard status --ledger nightly.db --json"
)]
pub struct Args {
    #[command(flatten)]
    pub ledger: LedgerArg,

    /// Print JSON: {"states": {state: count}, "codes": [...], "runs": [...]}.
    #[arg(long)]
    pub json: bool,
}

/// `--ledger`, as `status` and `report` read it.
#[derive(Debug, clap::Args)]
pub struct LedgerArg {
    /// Ledger file. [default: ./p100-onboard.db]
    #[arg(
        long = "ledger",
        env = "P100_LEDGER",
        value_name = "PATH",
        default_value = "p100-onboard.db"
    )]
    pub path: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    let ledger = Ledger::open(&args.ledger.path, false)?;
    let states = ledger.state_counts()?;
    let codes = ledger.code_counts()?;
    let runs = ledger.last_runs(5)?;
    if args.json {
        let states: serde_json::Map<String, serde_json::Value> = states
            .iter()
            .map(|(s, n)| (s.as_str().to_string(), (*n).into()))
            .collect();
        let out = serde_json::json!({
            "ledger": args.ledger.path.display().to_string(),
            "environment": ledger.environment()?,
            "states": states,
            "codes": codes,
            "runs": runs,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(Exit::Ok);
    }
    let mut o = String::new();
    let env = ledger.environment()?.unwrap_or_else(|| "(none yet)".into());
    let _ = writeln!(
        o,
        "ledger {} (environment {env})",
        args.ledger.path.display()
    );
    let total: u64 = states.iter().map(|(_, n)| n).sum();
    let _ = writeln!(o, "rows {total}");
    for (s, n) in &states {
        let _ = writeln!(o, "  {:<10} {n}", s.as_str());
    }
    if !codes.is_empty() {
        let _ = writeln!(o, "error codes");
        for c in &codes {
            let _ = writeln!(o, "  {:<10} {:<6} {}", c.state, c.code, c.count);
        }
    }
    if !runs.is_empty() {
        let _ = writeln!(o, "last runs");
        for r in &runs {
            let _ = writeln!(
                o,
                "  #{} {} -> {} {} {} ({})",
                r.id,
                r.started_at,
                r.ended_at.as_deref().unwrap_or("-"),
                r.outcome,
                r.file,
                r.environment
            );
        }
    }
    print!("{o}");
    Ok(Exit::Ok)
}
