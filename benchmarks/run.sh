#!/usr/bin/env bash
# The issue-14 throughput table: ssdbpy against the reference SSDB 1.9.8 server,
# redis-benchmark -c 50 -n 50000 -d 100 -r 100000, rows SET GET INCR HSET LPUSH
# ZADD MSET(10) at -P 1 and -P 16, servers interleaved per repetition, median of
# the per-repetition ratios ssdbpy/SSDB.  Arguments go to benchmarks/compare_ssdb.py:
#   bash benchmarks/run.sh                 # full table, 3 repetitions
#   bash benchmarks/run.sh --quick         # 10000 requests, 1 repetition (development)
#   bash benchmarks/run.sh --redis         # redis-server (persistence off) as a second reference
#   bash benchmarks/run.sh --tests set,get --pipelines 1
# Needs redis-benchmark (redis-tools) and ../shared/reference/ssdb-1.9.8/ssdb-server
# (or SSDB_SERVER=path).  PYTHON selects the interpreter that runs ssdbpy.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), nproc $(nproc), $($PY --version 2>&1), git $(git rev-parse --short HEAD 2>/dev/null || echo -)"
exec $PY benchmarks/compare_ssdb.py "$@"
