#!/usr/bin/env bash
# make bench: every benchmark of docs/benchmarks.md in one run. Prints the
# tables and writes them to $BS_BENCH_OUT/results.md (raw data beside it).
# BENCH_QUICK=1: small sizes, to prove the machinery works (the smoke test).
# Needs root (network namespaces, packet socket, ulimit -n).
set -euo pipefail
: "${BS_TOP:?run through make bench}" "${BS_LIB:?}" "${BS_BENCH_BIN:?}" "${BS_BENCH_OUT:?}"
cd "$BS_TOP"
for part in lib policies callgrind overhead scale herd haproxy proxy; do
	. "tests/bench/$part.sh"
done

if [ -n "${BENCH_QUICK:-}" ] && [ "$BENCH_QUICK" != 0 ]; then
	BENCH_CYCLES=500 BENCH_PAIRS=1 BENCH_CG_CYCLES=100 BENCH_SC_CYCLES=200
	BENCH_RULES="1 100" BENCH_HELD="1 200"
	BENCH_CLIENTS=20 BENCH_OPEN_MS=500 BENCH_PROXY_CLIENTS=10
	BENCH_LOAD_THREADS=2 BENCH_REQUESTS=300
else
	BENCH_CYCLES=20000 BENCH_PAIRS=5 BENCH_CG_CYCLES=2000 BENCH_SC_CYCLES=2000
	BENCH_RULES="1 100 10000" BENCH_HELD="1 1000 10000 100000"
	BENCH_CLIENTS=200 BENCH_OPEN_MS=3000 BENCH_PROXY_CLIENTS=50
	BENCH_LOAD_THREADS=4 BENCH_REQUESTS=20000
fi
export BIN OUT RESULTS POLICIES BENCH_LOAD_THREADS BENCH_REQUESTS

mkdir -p "$OUT"
{
	echo "## Results of make bench${BENCH_QUICK:+ (BENCH_QUICK=$BENCH_QUICK)}"
	echo
	echo "- date: $(date -u +%Y-%m-%dT%H:%MZ)"
	echo "- machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), kernel $(uname -r)"
	echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
} | tee "$RESULTS"

# BENCH_SECTIONS="herd" runs only those sections (default: all).
for section in ${BENCH_SECTIONS:-overhead scale herd proxy}; do
	"${section}_section"
done
echo
echo "results: $RESULTS"
