#!/usr/bin/env bash
# make demo: backstop's main job, on the built-in default policy.
#
# 20 copies of a legacy client (examples/legacy_client.c: 3 tries, sleep(1)
# between them) start while their server is down. The server
# (examples/legacy_server.c) is bound but not listening for the first 2.5 s,
# a simulated outage of the same length in both runs, then it comes back.
#   1. without backstop: every client has given up before the server is back,
#      and their attempts arrive in lockstep bursts;
#   2. the same clients, the same outage, under backstop with no policy at
#      all: every client connects, and the attempts are spread out.
# It ends with `backstop log`'s summary of the second run. Loopback only.
set -euo pipefail
: "${BS_HELPERS:?run through make demo}" "${BS_PRELOAD:?}" "${BS_CLI:?}"

CLIENTS=${DEMO_CLIENTS:-20}
OUTAGE=${DEMO_OUTAGE:-2.5} # seconds; the legacy clients give up after ~2 s

work=$(mktemp -d "${TMPDIR:-/tmp}/backstop-demo.XXXXXX")
server_pid=
cleanup() {
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

say() { printf '%s\n' "$*"; }
section() { printf '\n== %s\n\n' "$*"; }

# Block until FILE holds a line matching PATTERN; print that line.
wait_line() { # PATTERN FILE
	local line
	exec {fd}< <(exec timeout 30 tail -n +1 -F "$2" 2>/dev/null)
	local tail_pid=$!
	line=$(grep -m1 -E "$1" <&"$fd") || { say "demo: no '$1' in $2" >&2; exit 1; }
	kill "$tail_pid" 2>/dev/null || true
	exec {fd}<&-
	printf '%s\n' "$line"
}

# One run: start the server bound but deaf, start the clients, end the
# outage, wait for every client. $1 names the run; the rest is put in
# front of each client (nothing, or `env LD_PRELOAD=...`).
run_clients() {
	local name=$1; shift
	local dir=$work/$name
	mkdir -p "$dir"
	mkfifo "$dir/back"
	"$BS_HELPERS/legacy_server" --listen-when-ready "$dir/back" --print-accepts \
		127.0.0.1 0 >"$dir/server.out" 2>&1 &
	server_pid=$!
	local port
	port=$(wait_line '^bound ' "$dir/server.out")
	port=${port#bound }

	# The clients lose their server at the same moment (a fleet whose
	# backend just crashed): each waits for one line on a shared pipe, and
	# all of them start when the lines are written.
	mkfifo "$dir/start"
	exec {gate}<>"$dir/start"
	local pids=() i
	for ((i = 0; i < CLIENTS; i++)); do
		"$@" "$BS_HELPERS/legacy_client" --wait-stdin --tries 3 127.0.0.1 "$port" \
			<&"$gate" >>"$dir/replies" 2>>"$dir/clients.err" &
		pids+=($!)
	done
	printf '%.0sgo\n' $(seq "$CLIENTS") >&"$gate"
	exec {gate}<&-
	sleep "$OUTAGE" # the simulated outage: the same 2.5 s in both runs
	echo back >"$dir/back"
	wait_line '^listening ' "$dir/server.out" >/dev/null

	local ok=0
	for i in "${pids[@]}"; do
		wait "$i" && ok=$((ok + 1))
	done
	kill "$server_pid" 2>/dev/null || true
	wait "$server_pid" 2>/dev/null || true
	server_pid=
	echo "$ok" >"$dir/ok"
}

# How the retries of a run were spread over time. A retry is every attempt
# after a client's first one: refused ones (from the clients' own lines, or
# from backstop's log when it was retrying inside connect) and the
# connections the server accepted.
spread() { # DIR
	python3 - "$1" "$CLIENTS" <<'PY'
import json, os, re, sys
from datetime import datetime
d, clients = sys.argv[1], int(sys.argv[2])
ok = int(open(f"{d}/ok").read())
log = f"{d}/backstop.jsonl"
refused = {}  # pid -> times of its refused attempts
if os.path.exists(log):
    for line in open(log):
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if e.get("event") in ("connect.retry", "connect.giveup"):
            ts = datetime.fromisoformat(e["ts"].replace("Z", "+00:00"))
            refused.setdefault(e["pid"], []).append(ts.timestamp())
else:
    for line in open(f"{d}/clients.err"):
        m = re.search(r"\[(\d+)\] (\d+\.\d+) attempt \d+/\d+ failed", line)
        if m:
            refused.setdefault(m.group(1), []).append(float(m.group(2)))
accepted = [float(l.split()[1]) for l in open(f"{d}/server.out") if l.startswith("accepted ")]
first = {pid: min(ts) for pid, ts in refused.items()}
retries = sorted([t for pid, ts in refused.items() for t in ts if t != first[pid]] + accepted)
peak, j = 0, 0
for i, t in enumerate(retries):  # most retries inside any 10 ms window
    while retries[j] < t - 0.010:
        j += 1
    peak = max(peak, i - j + 1)
print(f"   connected:                {ok}/{clients}   (gave up: {clients - ok})")
print(f"   retries:                  {len(retries)}")
print(f"   retries in busiest 10 ms: {peak}")
if len(accepted) > 1:
    print(f"   reconnects spread over:   {1000 * (max(accepted) - min(accepted)):.0f} ms")
PY
}

section "backstop demo: $CLIENTS legacy clients, a server that is down for ${OUTAGE} s"
say "Each client is examples/legacy_client.c: connect, and on failure sleep(1)"
say "and try again, 3 tries in all. Nobody can rebuild it."

section "1. without backstop"
run_clients plain
say "What two of the clients said:"
head -n 2 "$work/plain/clients.err" | sed 's/^/   /'
say "..."
spread "$work/plain"
say
say "The clients retried in lockstep, all of them one second after the last"
say "failure, and all of them had given up before the server came back."

section "2. the same clients under backstop (built-in default, no policy file)"
say "   LD_PRELOAD=libbackstop-preload.so BACKSTOP_LOG=backstop.jsonl ./legacy_client ..."
mkdir -p "$work/backstop"
run_clients backstop env LD_PRELOAD="$BS_PRELOAD" BACKSTOP_LOG="$work/backstop/backstop.jsonl"
spread "$work/backstop"
say
say "backstop retried inside connect() with exponential backoff and full jitter,"
say "and spread and lengthened the clients' own sleep(1) after each failure:"
say "more attempts, but never in step, and the clients outlasted the outage."
say "The built-in default that did it (backstop check prints every key):"
"$BS_CLI" check | grep -E '^(connect\.(attempts|base|max_delay|jitter|deadline)|sleep\.(jitter|backoff)) ' |
	sed -E 's/ +#.*//; s/^/   /'

section "3. what backstop logged (one JSON line per decision)"
grep -m1 '"connect.retry"' "$work/backstop/backstop.jsonl" | sed 's/^/   /' || true
grep -m1 '"connect.ok"' "$work/backstop/backstop.jsonl" | sed 's/^/   /' || true

section "4. backstop log backstop.jsonl"
"$BS_CLI" log "$work/backstop/backstop.jsonl"

section "next"
say "   make check                 every test"
say "   backstop run -- PROGRAM    the same, for your program (docs/tutorial.md)"
say "   backstop check             the built-in default policy, every key"
