#!/usr/bin/env bash
# The importer's benchmark: seven scenarios against the project's own sandbox, each
# run RUNS times; prints the median of every figure next to its target.
#
#   benches/run.sh            # all scenarios
#   benches/run.sh 2 3        # only some
#   RUNS=5 benches/run.sh     # more runs per scenario (default 3)
#
# Env: RUNS (runs per scenario, default 3), LARGE_RUNS (runs of the 1,000,000-row
# import of scenario 6, default 1: it takes about a minute and a half), ROWS1
# (scenario 1's file, default 100000), ROWS_LARGE (scenarios 5–7, default 1000000),
# WRK_SECONDS (default 5), WRK_CONNECTIONS (default 64), CONCURRENCY1 (importer
# --concurrency in scenario 1, default 64).
# Everything talks to 127.0.0.1 only. Not a test: figures vary by machine.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

RUNS=${RUNS:-3}
LARGE_RUNS=${LARGE_RUNS:-1}
ROWS1=${ROWS1:-100000}
ROWS_LARGE=${ROWS_LARGE:-1000000}
WRK_SECONDS=${WRK_SECONDS:-5}
WRK_CONNECTIONS=${WRK_CONNECTIONS:-64}
CONCURRENCY1=${CONCURRENCY1:-64}
SCENARIOS=("$@")
[ ${#SCENARIOS[@]} -gt 0 ] || SCENARIOS=(1 2 3 4 5 6 7)

export P100_API_KEY=sandbox-demo-key
unset P100_LEDGER P100_BASE_URL

# --- tools -----------------------------------------------------------------
need_apt=()
command -v wrk >/dev/null || need_apt+=(wrk)
[ -x /usr/bin/time ] || need_apt+=(time)
command -v sqlite3 >/dev/null || need_apt+=(sqlite3)
command -v jq >/dev/null || need_apt+=(jq)
command -v curl >/dev/null || need_apt+=(curl)
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "installing ${need_apt[*]} (apt-get)" >&2
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

cargo build --release --quiet
BIN="$ROOT/target/release/p100-onboard"

DIR=$(mktemp -d "${TMPDIR:-/tmp}/p100-bench.XXXXXX")
SANDBOX_PIDS=()
cleanup() {
    for pid in "${SANDBOX_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${SANDBOX_PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- helpers ---------------------------------------------------------------
log() { echo "  $*" >&2; }

# start_sandbox NAME ARGS... : starts `p100-onboard sandbox` on a free loopback port;
# sets SB_URL and SB_PID.
start_sandbox() {
    local name=$1
    shift
    "$BIN" sandbox --listen 127.0.0.1:0 "$@" >"$DIR/$name.sb.out" 2>"$DIR/$name.sb.err" &
    SB_PID=$!
    SANDBOX_PIDS+=("$SB_PID")
    for _ in $(seq 100); do
        if grep -q '^listening on ' "$DIR/$name.sb.out" 2>/dev/null; then
            SB_URL=$(sed -n 's/^listening on //p' "$DIR/$name.sb.out" | head -1)
            case "$SB_URL" in
            http://127.0.0.1:*) return 0 ;;
            *) echo "sandbox is not on 127.0.0.1: $SB_URL" >&2; exit 2 ;;
            esac
        fi
        sleep 0.05
    done
    echo "the sandbox did not start: $(cat "$DIR/$name.sb.err")" >&2
    exit 2
}

stop_sandbox() {
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

stats() { curl -sf "$1/_sandbox/stats"; }

# import_run NAME FILE URL LEDGER ARGS... : runs the importer under /usr/bin/time -v;
# leaves NAME.json (summary), NAME.time, NAME.out.
import_run() {
    local name=$1 file=$2 url=$3 ledger=$4
    shift 4
    /usr/bin/time -v "$BIN" import "$file" --base-url "$url" --ledger "$ledger" \
        --summary-json "$DIR/$name.json" "$@" >"$DIR/$name.out" 2>"$DIR/$name.time" || {
        local rc=$?
        # 1 = some rows not created: the figures say so; anything else is a broken run.
        if [ $rc -ne 1 ]; then
            echo "import failed (exit $rc):" >&2
            tail -5 "$DIR/$name.time" >&2
            exit 2
        fi
    }
}

wall_seconds() {
    awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$1"
}
peak_mb() { awk -F': ' '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }' "$1"; }
calc() { awk "BEGIN { v = $*; if (v >= 1000 || v <= -1000) printf \"%.0f\", v; else printf \"%.4g\", v }"; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else { m = (v[NR / 2] + v[NR / 2 + 1]) / 2; if (m >= 1000) printf "%.0f\n", m; else printf "%.4g\n", m } }'; }

RESULTS=()
# report FIGURE VALUE OP TARGET UNIT RUNS... : OP is >= or <=
report() {
    local figure=$1 value=$2 op=$3 target=$4 unit=$5
    shift 5
    local verdict
    verdict=$(awk -v v="$value" -v t="$target" -v op="$op" 'BEGIN { ok = (op == ">=") ? (v >= t) : (v <= t); print ok ? "PASS" : "MISS" }')
    local line
    line=$(printf '%-46s %12s %-4s  %-3s %-10s %s' "$figure" "$value" "$unit" "$op" "$target" "$verdict")
    echo "$line   (runs: $*)"
    RESULTS+=("$line")
}

want() {
    local s
    for s in "${SCENARIOS[@]}"; do [ "$s" = "$1" ] && return 0; done
    return 1
}

# created_at_rate LEDGER SKIP_SECONDS : creations per second in the ledger's attempts
# after the first SKIP_SECONDS of the run (from the first attempt's timestamp).
created_rate_after() {
    sqlite3 "$1" "
        WITH t AS (SELECT julianday(at) * 86400.0 AS s, outcome FROM attempts),
             b AS (SELECT min(s) + $2 AS start, max(s) AS stop FROM t)
        SELECT printf('%.2f', (SELECT count(*) FROM t, b WHERE t.outcome = 'created' AND t.s > b.start)
                     / max((SELECT stop - start FROM b), 0.001));"
}

echo "p100-onboard benchmark: $(nproc) cores, $(awk '/model name/ { sub(/.*: /, ""); print; exit }' /proc/cpuinfo), runs=$RUNS" >&2

# --- 1: raw speed against an unlimited sandbox -------------------------------
if want 1; then
    echo "[1] $ROWS1 rows, sandbox without limits; wrk measures the sandbox in the same run" >&2
    "$BIN" sample --rows "$ROWS1" --seed 1 -o "$DIR/s1.csv"
    ratios=() imps=() wrks=() durable=()
    for run in $(seq "$RUNS"); do
        start_sandbox "s1w$run"
        wrk -t2 -c"$WRK_CONNECTIONS" -d"${WRK_SECONDS}s" -s benches/post_users.lua "$SB_URL" >"$DIR/wrk$run.out" 2>&1
        stop_sandbox "$SB_PID"
        w=$(awk '/^Requests\/sec:/ { print $2 }' "$DIR/wrk$run.out")
        non2xx=$(awk '/Non-2xx/ { print $NF }' "$DIR/wrk$run.out")
        [ -z "$non2xx" ] || log "warning: wrk saw $non2xx non-2xx answers"
        start_sandbox "s1i$run"
        import_run "s1r$run" "$DIR/s1.csv" "$SB_URL" "$DIR/s1r$run.db" --rate 1000000 --burst 1000 --concurrency "$CONCURRENCY1"
        stop_sandbox "$SB_PID"
        created=$(jq '.results.created' "$DIR/s1r$run.json")
        secs=$(jq '.elapsed_seconds' "$DIR/s1r$run.json")
        imp=$(calc "$created / $secs")
        # Durable: the ledger, reopened after the process exited, says created.
        in_ledger=$(sqlite3 "$DIR/s1r$run.db" "SELECT count(*) FROM rows WHERE state = 'created'")
        log "run $run: wrk $w req/s, importer $imp rows/s ($created created in ${secs}s), ledger created $in_ledger"
        ratios+=("$(calc "$imp / $w")") imps+=("$imp") wrks+=("$w") durable+=("$in_ledger")
        rm -f "$DIR/s1r$run.db"*
    done
    report "1 sandbox raw POST capacity (wrk)" "$(median "${wrks[@]}")" ">=" 0 "req/s" "${wrks[@]}"
    report "1 importer rows/s" "$(median "${imps[@]}")" ">=" 0 "/s" "${imps[@]}"
    report "1 importer / wrk" "$(median "${ratios[@]}")" ">=" 0.6 "" "${ratios[@]}"
    report "1 rows created in the ledger (min)" "$(printf '%s\n' "${durable[@]}" | sort -n | head -1)" ">=" "$ROWS1" "rows" "${durable[@]}"
fi

# --- 2: exactly at the limit ---------------------------------------------------
if want 2; then
    echo "[2] sandbox --rate-limit 200 --rate-burst 10, importer --rate 200, 20 s" >&2
    "$BIN" sample --rows 4000 --seed 2 -o "$DIR/s2.csv"
    ratios=() r429=()
    for run in $(seq "$RUNS"); do
        start_sandbox "s2-$run" --rate-limit 200 --rate-burst 10
        import_run "s2-$run" "$DIR/s2.csv" "$SB_URL" "$DIR/s2-$run.db" --rate 200
        stop_sandbox "$SB_PID"
        created=$(jq '.results.created' "$DIR/s2-$run.json")
        secs=$(jq '.elapsed_seconds' "$DIR/s2-$run.json")
        sent=$(jq '.requests.sent' "$DIR/s2-$run.json")
        limited=$(jq '.requests.rate_limited' "$DIR/s2-$run.json")
        log "run $run: $created created in ${secs}s, $sent requests, $limited 429s"
        ratios+=("$(calc "$created / $secs / 200")") r429+=("$(calc "100 * $limited / $sent")")
    done
    report "2 achieved rate / 200" "$(median "${ratios[@]}")" ">=" 0.98 "" "${ratios[@]}"
    report "2 429s / requests" "$(median "${r429[@]}")" "<=" 1 "%" "${r429[@]}"
fi

# --- 3: misconfigured --rate above the server's limit ----------------------------
if want 3; then
    echo "[3] sandbox --rate-limit 100 --rate-burst 10, importer --rate 400" >&2
    "$BIN" sample --rows 2000 --seed 3 -o "$DIR/s3.csv"
    ratios=() failed=()
    for run in $(seq "$RUNS"); do
        start_sandbox "s3-$run" --rate-limit 100 --rate-burst 10
        import_run "s3-$run" "$DIR/s3.csv" "$SB_URL" "$DIR/s3-$run.db" --rate 400
        stop_sandbox "$SB_PID"
        rate=$(created_rate_after "$DIR/s3-$run.db" 5)
        f=$(jq '.results.failed' "$DIR/s3-$run.json")
        log "run $run: $(jq -c '{created: .results.created, secs: .elapsed_seconds, sent: .requests.sent, r429: .requests.rate_limited}' "$DIR/s3-$run.json"), after 5 s: $rate/s, failed $f"
        ratios+=("$(calc "$rate / 100")") failed+=("$f")
    done
    report "3 achieved rate after 5 s / 100" "$(median "${ratios[@]}")" ">=" 0.9 "" "${ratios[@]}"
    report "3 rows failed (max)" "$(printf '%s\n' "${failed[@]}" | sort -n | tail -1)" "<=" 0 "rows" "${failed[@]}"
fi

# --- 4: latency hidden by concurrency ----------------------------------------------
if want 4; then
    echo "[4] sandbox --latency 100ms, importer --rate 500 --concurrency 64" >&2
    "$BIN" sample --rows 6000 --seed 4 -o "$DIR/s4.csv"
    ratios=()
    for run in $(seq "$RUNS"); do
        start_sandbox "s4-$run" --latency 100ms
        import_run "s4-$run" "$DIR/s4.csv" "$SB_URL" "$DIR/s4-$run.db" --rate 500 --concurrency 64
        stop_sandbox "$SB_PID"
        created=$(jq '.results.created' "$DIR/s4-$run.json")
        secs=$(jq '.elapsed_seconds' "$DIR/s4-$run.json")
        log "run $run: $created created in ${secs}s"
        ratios+=("$(calc "$created / $secs / 500")")
    done
    report "4 achieved rate / 500" "$(median "${ratios[@]}")" ">=" 0.95 "" "${ratios[@]}"
fi

# --- 6 then 5: a million rows, then the re-run that has nothing to do --------------
if want 5 || want 6; then
    echo "[6] $ROWS_LARGE-row import against the sandbox (runs: $LARGE_RUNS); [5] its re-run" >&2
    "$BIN" sample --rows "$ROWS_LARGE" --seed 5 -o "$DIR/large.csv"
    # One sandbox for both: the ledger is bound to its URL, and the re-run must
    # find every row already created there.
    rss=() walls=() sent=() rerun_rss=()
    for run in $(seq "$LARGE_RUNS"); do
        start_sandbox "s6-$run"
        rm -f "$DIR/large.db"*
        import_run "s6-$run" "$DIR/large.csv" "$SB_URL" "$DIR/large.db" --rate 1000000 --burst 1000 --concurrency "$CONCURRENCY1"
        log "import run $run: $(jq -c '{created: .results.created, failed: .results.failed, secs: .elapsed_seconds}' "$DIR/s6-$run.json"), peak RSS $(peak_mb "$DIR/s6-$run.time") MB"
        rss+=("$(peak_mb "$DIR/s6-$run.time")")
        if want 5 && [ "$run" -eq "$LARGE_RUNS" ]; then
            for r in $(seq "$RUNS"); do
                before=$(stats "$SB_URL" | jq .requests)
                import_run "s5-$r" "$DIR/large.csv" "$SB_URL" "$DIR/large.db" --rate 1000000 --burst 1000 --concurrency "$CONCURRENCY1"
                after=$(stats "$SB_URL" | jq .requests)
                w=$(wall_seconds "$DIR/s5-$r.time")
                s=$(( after - before + $(jq '.requests.sent' "$DIR/s5-$r.json") ))
                log "re-run $r: ${w}s wall, $((after - before)) requests seen by the sandbox, $(jq '.plan.skip_done' "$DIR/s5-$r.json") rows skipped as done, peak RSS $(peak_mb "$DIR/s5-$r.time") MB"
                walls+=("$w") sent+=("$s") rerun_rss+=("$(peak_mb "$DIR/s5-$r.time")")
            done
        fi
        stop_sandbox "$SB_PID"
    done
    if want 5; then
        report "5 re-run of $ROWS_LARGE created rows: wall" "$(median "${walls[@]}")" "<=" 5 "s" "${walls[@]}"
        report "5 re-run: requests sent (max)" "$(printf '%s\n' "${sent[@]}" | sort -n | tail -1)" "<=" 0 "" "${sent[@]}"
        report "5 re-run: peak RSS" "$(median "${rerun_rss[@]}")" "<=" 200 "MB" "${rerun_rss[@]}"
    fi
    if want 6; then
        report "6 $ROWS_LARGE-row import: peak RSS" "$(median "${rss[@]}")" "<=" 200 "MB" "${rss[@]}"
    fi
    rm -f "$DIR/large.db"*
    rm -f "$DIR/large.csv"
fi

# --- 7: validate -----------------------------------------------------------------
if want 7; then
    echo "[7] validate on $ROWS_LARGE rows (5 % invalid)" >&2
    "$BIN" sample --rows "$ROWS_LARGE" --invalid-share 0.05 --seed 42 -o "$DIR/s7.csv"
    rates=() rss=()
    for run in $(seq "$RUNS"); do
        # exit 1 is expected: the file has invalid rows.
        /usr/bin/time -v "$BIN" validate "$DIR/s7.csv" >"$DIR/s7.out" 2>"$DIR/s7.time" || [ $? -eq 1 ]
        secs=$(wall_seconds "$DIR/s7.time")
        rate=$(calc "$ROWS_LARGE / $secs")
        log "run $run: ${secs}s, $rate rows/s, peak RSS $(peak_mb "$DIR/s7.time") MB"
        rates+=("$rate") rss+=("$(peak_mb "$DIR/s7.time")")
    done
    report "7 validate rows/s" "$(median "${rates[@]}")" ">=" 1000000 "/s" "${rates[@]}"
    report "7 validate peak RSS" "$(median "${rss[@]}")" "<=" 200 "MB" "${rss[@]}"
fi

echo
echo "summary (medians of $RUNS runs; scenario 6: $LARGE_RUNS)"
printf '%s\n' "${RESULTS[@]}"
