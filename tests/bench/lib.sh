# Shared by the sections of make bench (sourced by tests/bench/run.sh).
# Environment from mk/bench.mk: BS_LIB, BS_HELPERS, BS_BENCH_BIN, BS_BENCH_OUT.

BIN=$BS_BENCH_BIN
OUT=$BS_BENCH_OUT
RESULTS=$OUT/results.md
POLICIES=$OUT/policies

# Run a command in a fresh network namespace with lo up: no TIME_WAIT or
# port left over from an earlier run, and nobody else's traffic.
in_netns() {
	unshare -n sh -c 'ip link set lo up && exec "$@"' sh "$@"
}

# A table goes to stdout and to results.md; `row` and `header` build it.
header() { # COLUMN...
	local IFS='|'
	printf '\n|%s|\n' "$*" | tee -a "$RESULTS"
	printf '|%s\n' "$(printf -- '---|%.0s' "$@")" | tee -a "$RESULTS"
}
row() { # CELL...
	local IFS='|'
	printf '|%s|\n' "$*" | tee -a "$RESULTS"
}
section() { # TITLE TEXT
	printf '\n### %s\n\n%s\n' "$1" "$2" | tee -a "$RESULTS"
}

median() { # numbers on stdin -> their median
	sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

ratio() { # A B -> A/B, 3 decimals
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b ? a / b : 0) }'
}

# A policy file under $POLICIES; the body comes from stdin.
policy() { # NAME -> prints the path
	mkdir -p "$POLICIES"
	cat >"$POLICIES/$1.conf"
	echo "$POLICIES/$1.conf"
}

# Environment for a run under backstop with the given policy ("" = the
# built-in default). The log goes to a file (policy.loaded at start-up,
# nothing on the fast path), never into the tables; a caller may name
# another file after this.
preload_env() { # POLICY [EXTRA_PRELOAD]
	echo "LD_PRELOAD=$BS_LIB${2:+:$2}"
	echo "BACKSTOP_LOG=$OUT/backstop.jsonl"
	[ -n "$1" ] && echo "BACKSTOP_POLICY=$1"
	return 0
}

# The port bench_herd_server printed ("bound PORT") in FILE, once it did.
bound_port() { # FILE
	local i port
	for ((i = 0; i < 500; i++)); do # bounded: 5 s
		port=$(awk '/^bound/ { print $2 }' "$1")
		[ -n "$port" ] && { echo "$port"; return 0; }
		sleep 0.01
	done
	echo "bench: no server bound (see $1)" >&2
	return 1
}
