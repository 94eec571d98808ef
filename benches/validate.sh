#!/usr/bin/env bash
# Throughput and peak memory of `validate` on a 1,000,000-row synthetic file
# (scenario 7 of benches/run.sh). Targets: >= 1,000,000 rows/s and <= 200 MB peak RSS.
# RUNS (default 3) and ROWS_LARGE (default 1000000) as in run.sh.
exec "$(dirname "$0")/run.sh" 7
