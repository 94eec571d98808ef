#!/usr/bin/env bash
# Throughput and peak memory of `validate` on a 1,000,000-row synthetic file.
# Targets: >= 1,000,000 rows/s and <= 200 MB peak RSS. Not a test: figures vary by machine.
set -euo pipefail
cd "$(dirname "$0")/.."

ROWS=${ROWS:-1000000}
RUNS=3
command -v /usr/bin/time >/dev/null || { echo "needs GNU time: apt-get install -y time" >&2; exit 2; }

cargo build --release --quiet
BIN=target/release/p100-onboard
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
FILE="$DIR/bench.csv"

"$BIN" sample --rows "$ROWS" --invalid-share 0.05 --seed 42 -o "$FILE"
echo "file: $ROWS rows, $(du -m "$FILE" | cut -f1) MB"

rates=()
rss=()
for run in $(seq "$RUNS"); do
    # exit 1 is expected: the file has invalid rows.
    /usr/bin/time -v "$BIN" validate "$FILE" >"$DIR/out" 2>"$DIR/time" || [ $? -eq 1 ]
    secs=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$DIR/time")
    kb=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$DIR/time")
    rate=$(awk -v r="$ROWS" -v s="$secs" 'BEGIN { printf "%d", (s > 0 ? r / s : 0) }')
    echo "run $run: ${secs}s, $rate rows/s, peak RSS $((kb / 1024)) MB"
    rates+=("$rate")
    rss+=("$kb")
done

median() { printf '%s\n' "$@" | sort -n | sed -n "$((($# + 1) / 2))p"; }
mrate=$(median "${rates[@]}")
mrss=$(( $(median "${rss[@]}") / 1024 ))
echo "median: $mrate rows/s (target >= 1000000), peak RSS $mrss MB (target <= 200)"
