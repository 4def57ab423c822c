#!/usr/bin/env bash
# CPU time per request of each thread of a running server (ssdbpy or ssdb-server), and of the
# whole machine, over one redis-benchmark run:
#   bash benchmarks/thread_cpu.sh PID PORT TEST PIPELINE REQUESTS
#   bash benchmarks/thread_cpu.sh 1234 8888 set 1 200000
# Prints redis-benchmark's req/s and its own CPU (user, system seconds), then each thread
# that used CPU (tid, name, µs per request) and the machine's busy share and µs per request
# (every CPU, /proc/stat).  Needs redis-benchmark (redis-tools).
set -euo pipefail
[ $# -eq 5 ] || { sed -n 2,8p "$0"; exit 2; }
PID=$1; PORT=$2; TEST=$3; P=$4; N=$5
ticks=$(getconf CLK_TCK)
threads() { for t in /proc/"$PID"/task/*; do echo "$(basename "$t") $(awk '{print $14+$15}' "$t"/stat) $(tr ' ' _ < "$t"/comm)"; done | sort; }
before=$(threads); c0=$(head -1 /proc/stat)
/usr/bin/time -f "redis-benchmark cpu: user %U s, system %S s" \
    redis-benchmark -p "$PORT" -c 50 -n "$N" -d 100 -r 100000 -P "$P" -t "$TEST" -q 2>&1 | tr '\r' '\n' | grep -v '^$' | tail -2
c1=$(head -1 /proc/stat); after=$(threads)
join <(echo "$before") <(echo "$after") | awk -v n="$N" -v hz="$ticks" \
    '{d=$4-$2; if (d>0) printf "  thread %s %s: %.2f us/req\n", $1, $3, d*1e6/hz/n}'
echo "$c0 $c1" | awk -v n="$N" -v hz="$ticks" '{b0=$2+$3+$4+$7+$8; i0=$5+$6; b1=$13+$14+$15+$18+$19; i1=$16+$17;
    printf "  machine: busy %.0f%% of all CPUs, %.2f us of CPU per request\n", 100*(b1-b0)/((b1-b0)+(i1-i0)), (b1-b0)*1e6/hz/n}'
