#!/usr/bin/env bash
# The issue-14 throughput table: ssdbpy against the reference SSDB 1.9.8 server,
# redis-benchmark -c 50 -n 50000 -d 100 -r 100000, rows SET GET INCR HSET LPUSH
# ZADD MSET(10) at -P 1 and -P 16, servers interleaved per repetition, median of
# the per-repetition ratios ssdbpy/SSDB.  Arguments go to benchmarks/compare_ssdb.py:
#   bash benchmarks/run.sh                 # full table, 3 repetitions
#   bash benchmarks/run.sh --quick         # 10000 requests, 1 repetition (development)
#   bash benchmarks/run.sh --redis         # redis-server (persistence off) as a second reference
#   bash benchmarks/run.sh --tests set,get --pipelines 1
#   bash benchmarks/run.sh --replication   # issue 14, replication: full-copy speed (1M keys) and the
#                                          # throughput a streaming sync slave costs (benchmarks/copy_speed.py)
#   bash benchmarks/run.sh --replication --keys 200000 --reps 1 --requests 20000   # quicker
#   bash benchmarks/run.sh --big           # issue 14, the 10M-key table: load rate, disk, RSS, GET/SET
#                                          # at that size, beside SSDB (benchmarks/big_keys.py; ~10 min)
#   bash benchmarks/run.sh --big --keys 1000000 --reps 1   # quicker
# Needs redis-benchmark (redis-tools) and ../shared/reference/ssdb-1.9.8/ssdb-server
# (or SSDB_SERVER=path).  PYTHON selects the interpreter that runs ssdbpy (default: the
# Quick start's .venv/bin/python when it exists, else python3).
set -euo pipefail
cd "$(dirname "$0")/.."
DEFAULT_PY=python3
[ -x .venv/bin/python ] && DEFAULT_PY=.venv/bin/python
PY=${PYTHON:-$DEFAULT_PY}
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), nproc $(nproc), $($PY --version 2>&1), git $(git rev-parse --short HEAD 2>/dev/null || echo -)"
if [ "${1:-}" = "--replication" ]; then
    shift
    keys=(); reqs=(); reps=()
    while [ $# -gt 0 ]; do
        case "$1" in
            --keys) keys=(--keys "$2"); shift 2 ;;
            --requests) reqs=(--requests "$2"); shift 2 ;;
            --reps) reps=(--reps "$2"); shift 2 ;;
            *) echo "unknown option for --replication: $1" >&2; exit 2 ;;
        esac
    done
    $PY benchmarks/copy_speed.py "${keys[@]}" "${reps[@]}"
    exec $PY benchmarks/copy_speed.py --with-slave "${reqs[@]}" "${reps[@]}"
fi
if [ "${1:-}" = "--big" ]; then
    shift
    exec $PY benchmarks/big_keys.py "$@"
fi
exec $PY benchmarks/compare_ssdb.py "$@"
