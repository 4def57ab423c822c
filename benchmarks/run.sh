#!/usr/bin/env bash
# ssdbpy vs redis-server (redis-benchmark, interleaved, median ratios), then the
# 1M-key load / size / RSS figures. Needs redis-tools and redis-server from apt.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores"
$PY benchmarks/compare_redis.py "$@"
if [ -f benchmarks/load_1m.py ]; then
    $PY benchmarks/load_1m.py
fi
