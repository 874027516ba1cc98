#!/usr/bin/env bash
# One herd run, inside the network namespace it is started in (run.sh
# starts it with in_netns): the server binds, clients start together, the
# server listens after OPEN_MS, and the run ends when every client is done.
#
#   herd_one.sh DIR CLIENTS OPEN_MS direct|haproxy [ENV...]
#
# ENV (e.g. LD_PRELOAD=..., BACKSTOP_POLICY=...) applies to the clients.
# Leaves DIR/events (server: syn/listen/accept lines) and DIR/launch
# (released EPOCH_US, ok K).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/haproxy.sh"
dir=$1 clients=$2 open_ms=$3 via=$4
shift 4
mkdir -p "$dir"

: >"$dir/server.out"
"$BIN/bench_herd_server" --sniff --open-after-ms "$open_ms" --backlog 8 \
	--accept-gap-us 2000 --expect "$clients" --out "$dir/events" 0 >"$dir/server.out" &
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
port=$(bound_port "$dir/server.out")

target=$port
if [ "$via" = haproxy ]; then
	target=$((port == 65535 ? port - 1 : port + 1))
	haproxy_start "$dir" "$target" "$port" >/dev/null
fi
env "$@" "$BIN/bench_herd_launch" "$clients" "$BS_HELPERS/legacy_client" \
	--tries 20 --quiet 127.0.0.1 "$target" >"$dir/launch" 2>"$dir/clients.err"
# Clients whose request failed never arrive: once the server has opened
# (so the table can say when), the EXIT trap stops it (and haproxy).
for ((i = 0; i < 1000; i++)); do # bounded: 10 s
	grep -q '^listen' "$dir/events" && break
	sleep 0.01
done
