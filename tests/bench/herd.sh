# Section 3: the herd (sourced by run.sh). BENCH_CLIENTS copies of the
# legacy client (blocking connect, fixed sleep(1) between tries, 20
# tries) released together against a server that listens after
# BENCH_OPEN_MS, has a backlog of 8 and accepts at most one connection
# per 2 ms.

policy_herd_jitter() { # KIND: connect retries with this jitter
	policy "herd_$1" <<P
[connect]
attempts = 30
base = 100ms
max_delay = 2s
deadline = 30s
jitter = $1
P
}

policy_herd_sleep() { # no connect retries; the client's sleep(1) jittered
	policy herd_sleep50 <<'P'
[connect]
attempts = 1
[sleep]
mode = retry
jitter = 50%
backoff = off
P
}

# Full jitter plus a machine-wide budget and breaker: the herd shares one
# state file (fresh for each run), so the first failures open one circuit
# for everybody, calls are held for its probes, and retries stay within
# 20% of the calls (docs/shared-state.md).
herd_state() { echo "$OUT/herd/machine.state"; }
policy_herd_machine() {
	policy herd_machine <<P
[global]
state = $(herd_state)
[connect]
attempts = 30
base = 100ms
max_delay = 2s
deadline = 30s
jitter = full
share = machine
retry_budget = 20%
retry_budget_min = 0
breaker = 5
breaker_cooldown = 500ms
breaker_cooldown_max = 1s
on_open = wait
P
}

herd_plot() { # PNG VARIANT...
	local png=$1 v i=0 n=$(($# - 1))
	shift
	{
		echo "set terminal pngcairo size 900,$((170 * n + 60)) font ',9'"
		echo "set output '$png'"
		echo "set multiplot layout $n,1 title 'Connection attempts (SYNs at the server) per 10 ms, $BENCH_CLIENTS legacy clients; server listens at the dashed line'"
		# One scale for every panel, so they compare at a glance.
		local xmax ymax
		xmax=$(for v in "$@"; do cat "$OUT/herd/$v/arrivals.dat"; done | sort -g | tail -1 | awk '{ print int($1) + 1 }')
		ymax=$(for v in "$@"; do cat "$OUT/herd/$v/arrivals.dat"; done | sort -g -k2 | tail -1 | awk '{ print $2 + 5 }')
		echo "set xrange [0:$xmax]; set yrange [0:$ymax]; set ylabel 'SYNs / 10 ms'; set grid ytics; set key top left"
		for v in "$@"; do
			i=$((i + 1))
			[ $i -eq $n ] && echo "set xlabel 'seconds since the clients were released'"
			local listen
			listen=$(awk -v t0="$(awk '/^released/ { print $2 }' "$OUT/herd/$v/launch")" \
				'/^listen/ { printf "%.3f", ($2 - t0) / 1e6 }' "$OUT/herd/$v/events")
			echo "unset arrow; set arrow from $listen, graph 0 to $listen, graph 1 nohead dt 2 lc rgb 'gray40'"
			echo "plot '$OUT/herd/$v/arrivals.dat' using 1:2 with boxes fill solid 0.6 lc rgb '#3060a0' title '$v'"
		done
		echo "unset multiplot"
	} >"$OUT/herd/herd.gp"
	gnuplot "$OUT/herd/herd.gp"
}

herd_section() {
	local -A env=([none]="" [full]=$(preload_env "$(policy_herd_jitter full)")
		[equal]=$(preload_env "$(policy_herd_jitter equal)")
		[decorrelated]=$(preload_env "$(policy_herd_jitter decorrelated)")
		[sleep50]=$(preload_env "$(policy_herd_sleep)")
		[machine]=$(preload_env "$(policy_herd_machine)"))
	# BENCH_HERD_VARIANTS="full machine" runs only those (default: all).
	local variants=(${BENCH_HERD_VARIANTS:-none full equal decorrelated sleep50 machine})
	section "3. Herd" \
		"$BENCH_CLIENTS legacy clients (blocking connect, fixed sleep(1), 20 tries) released at once; the server binds at once, listens after ${BENCH_OPEN_MS} ms, backlog 8, one accept per 2 ms. Attempts are SYNs seen on lo by a packet socket in the run's own namespace (refused, dropped and accepted ones, retransmissions included). Times in seconds since release; time to success is the server's accept time. Target (full): peak <= 10% of clients (read it after listen: before, every variant starts with the same unjittered first attempt of all clients at once); fewer attempts and lower p99 than none. Target (machine: full jitter + machine-wide 20% budget and breaker 5, cooldown 500ms up to 1s, on_open = wait): all succeed, attempts <= 1.2 x clients, peak after listen <= 5% of clients, p99 no worse than full."
	header variant ok "listen at s" attempts "peak /10ms" "peak/clients" "peak after listen" "/clients" "success p50 s" p99 max
	local v
	for v in "${variants[@]}"; do
		rm -rf "$OUT/herd/$v" "$OUT/herd/$v.jsonl"
		[ "$v" != machine ] || rm -f "$(herd_state)"
		in_netns "$BS_TOP/tests/bench/herd_one.sh" "$OUT/herd/$v" "$BENCH_CLIENTS" \
			"$BENCH_OPEN_MS" direct ${env[$v]} BACKSTOP_LOG="$OUT/herd/$v.jsonl"
		row "$v" "$("$BS_TOP/tests/bench/herd_stats.py" "$OUT/herd/$v" "$BENCH_CLIENTS")"
	done
	herd_plot "$OUT/herd.png" "${variants[@]}"
	echo "plot: $OUT/herd.png" | tee -a "$RESULTS"
}
