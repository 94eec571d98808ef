#!/usr/bin/env bash
# The long form of the chaos test: a 20,000-row import against the sandbox with
# 10% faults, 2% dropped connections and latency, SIGKILLed at 50 random moments
# and restarted each time; then every row must exist exactly once. CI runs the
# short form (2,000 rows, 10 kills) inside `cargo test`.
#   .ci/chaos.sh                     # 20000 rows, 50 kills, a random seed
#   .ci/chaos.sh 50000 100 [SEED]    # rows, kills, and a seed to replay a failure
set -euo pipefail
cd "$(dirname "$0")/.."

export CHAOS_ROWS="${1:-20000}"
export CHAOS_KILLS="${2:-50}"
if [ -n "${3:-}" ]; then
    export CHAOS_SEED="$3"
fi
export CARGO_TERM_COLOR=never

echo "== chaos: ${CHAOS_ROWS} rows, ${CHAOS_KILLS} kills${CHAOS_SEED:+, seed ${CHAOS_SEED}}"
cargo test --locked --test cli -- --exact \
    reliability::an_import_killed_at_random_moments_under_faults_and_drops_creates_every_row_exactly_once \
    --nocapture
