#!/usr/bin/env bash
# Fuzzes the CSV reader + validator and the API-answer classifier, each for
# SECONDS (default 60). Only a stable toolchain is assumed: cargo-fuzz needs
# nightly flags, which RUSTC_BOOTSTRAP=1 unlocks on stable.
#   .ci/fuzz.sh          # CI: 60 s per target
#   .ci/fuzz.sh 600      # locally: 10 minutes per target
#   FUZZ_SANITIZER=none .ci/fuzz.sh   # faster build and runs, panics only
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds="${1:-60}"
sanitizer="${FUZZ_SANITIZER:-address}"
export RUSTC_BOOTSTRAP=1
export CARGO_TERM_COLOR=never

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

# Seeds: the sample and hostile files, each behind one option byte (0x08: terms flag on).
mkdir -p corpus/csv_reader corpus/classify
for f in ../samples/*.csv ../tests/hostile/*.csv; do
    { printf '\x08'; cat "$f"; } > "corpus/csv_reader/seed-$(basename "$f")"
done
printf '\x91\x01\x00{"userId":"u","poaRequiredForExtended":true}' > corpus/classify/seed-201
printf '\x90\x01\x00{"errorCode":"P500","errorName":"x","errorMessage":"m"}' > corpus/classify/seed-p500
printf '\xad\x01\x03  2<html>' > corpus/classify/seed-429

for target in csv_reader classify; do
    echo "== cargo fuzz run $target (${seconds}s)"
    cargo fuzz run --fuzz-dir . --sanitizer "$sanitizer" "$target" "corpus/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=4096 -print_final_stats=1
done
