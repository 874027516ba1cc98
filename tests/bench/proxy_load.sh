#!/usr/bin/env bash
# One load run, inside the network namespace it is started in (run.sh
# starts it with in_netns): bench_loadgen against the request/response
# server, direct under backstop or through haproxy without it.
#
#   proxy_load.sh DIR direct|haproxy
#
# Prints bench_loadgen's line (conns_per_s X p50_us Y p99_us Z failed F).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/haproxy.sh"
dir=$1 via=$2
mkdir -p "$dir"

: >"$dir/server.out"
"$BIN/bench_herd_server" --backlog 128 0 >"$dir/server.out" &
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
port=$(bound_port "$dir/server.out")
target=$port env=()
if [ "$via" = haproxy ]; then
	target=$((port + 1))
	haproxy_start "$dir" "$target" "$port" >/dev/null
else
	env=($(preload_env "$(policy_like_haproxy)") BACKSTOP_LOG="$dir/backstop.jsonl")
fi
env "${env[@]}" "$BIN/bench_loadgen" --threads "$BENCH_LOAD_THREADS" \
	--requests "$BENCH_REQUESTS" 127.0.0.1 "$target"
