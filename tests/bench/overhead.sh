# Section 1: fast-path overhead (sourced by run.sh).

# Median ns/cycle of plain and preloaded runs, interleaved A B A B, each
# run in a fresh network namespace. Prints "plain preload".
time_pairs() { # POLICY
	local i plain=() pre=()
	for ((i = 0; i < BENCH_PAIRS; i++)); do
		plain+=("$(in_netns "$BIN/bench_loop" --cycles "$BENCH_CYCLES" | awk '{ print $2 }')")
		pre+=("$(in_netns env $(preload_env "$1") "$BIN/bench_loop" --cycles "$BENCH_CYCLES" | awk '{ print $2 }')")
	done
	echo "$(printf '%s\n' "${plain[@]}" | median) $(printf '%s\n' "${pre[@]}" | median)"
}

allocs_per_cycle() { # POLICY
	in_netns env $(preload_env "$1" "$BIN/bench_malloc_count.so") \
		"$BIN/bench_loop" --cycles "$BENCH_CYCLES" --allocs | awk '{ print $2 }'
}

# System calls of one bench_loop run, every thread included (strace -f -c).
syscalls() { # CYCLES ENV...
	local n=$1
	shift
	in_netns env "$@" strace -f -c -o "$OUT/strace.out" "$BIN/bench_loop" --cycles "$n" --warmup 0 >/dev/null
	awk '$NF == "total" { print $4 }' "$OUT/strace.out"
}

rss_kb() { # ENV...
	local i
	for i in 1 2 3; do
		in_netns env "$@" "$BIN/bench_loop" --rss | awk '{ print $2 }'
	done | median
}

overhead_section() {
	local variants=(default attempt_timeout max_conns max_per_client)
	local -A file=([default]="" [attempt_timeout]=$(policy_attempt_timeout)
		[max_conns]=$(policy_max_conns) [max_per_client]=$(policy_max_per_client))

	section "1a. Fast-path overhead, wall clock" \
		"socket, connect, accept, close, close on loopback; $BENCH_CYCLES cycles per run, $BENCH_PAIRS interleaved pairs (plain, preload), each run in a fresh network namespace; medians. Target: ratio <= 1.02 (default), <= 1.05 (attempt_timeout)."
	header variant "plain ns/cycle" "backstop ns/cycle" ratio "allocs/cycle"
	local v t
	for v in "${variants[@]}"; do
		t=($(time_pairs "${file[$v]}"))
		row "$v" "${t[0]}" "${t[1]}" "$(ratio "${t[1]}" "${t[0]}")" "$(allocs_per_cycle "${file[$v]}")"
	done

	section "1b. Fast-path overhead, instructions (callgrind)" \
		"Inclusive instructions per call, from runs of $BENCH_CG_CYCLES and $((2 * BENCH_CG_CYCLES)) cycles differenced. nanosleep is a 1 ns sleep after a successful connect (untouched); poll and epoll_wait are zero-timeout checks of the listener (in an epoll set) with no asynchronous connect pending. Target: <= 150 added per connect or accept, <= 40 per close, poll or epoll_wait."
	header variant connect accept close nanosleep poll epoll_wait "added: connect" accept close nanosleep poll epoll_wait
	local base=($(cg_per_call plain "$BENCH_CG_CYCLES" 0))
	row plain "${base[@]}" - - - - - -
	local c
	for v in "${variants[@]}"; do
		c=($(cg_per_call "$v" "$BENCH_CG_CYCLES" 0 $(preload_env "${file[$v]}")))
		row "$v" "${c[@]}" $((c[0] - base[0])) $((c[1] - base[1])) $((c[2] - base[2])) $((c[3] - base[3])) \
			$((c[4] - base[4])) $((c[5] - base[5]))
	done

	section "1d. Fast-path overhead, system calls (strace)" \
		"System calls per cycle added by backstop, counted with strace -f -c (every thread) over runs of $BENCH_SC_CYCLES and $((2 * BENCH_SC_CYCLES)) cycles of the loop of 1a, differenced so that start-up cancels out; \"whole run\" also counts start-up (the policy, the log, the watchdog's start) over the first run. Target: 0 (at most 0.05)."
	header variant "plain calls/cycle" "added/cycle" "added/cycle, whole run"
	local p1 p2 b1 b2
	p1=$(syscalls "$BENCH_SC_CYCLES" LD_PRELOAD=)
	p2=$(syscalls $((2 * BENCH_SC_CYCLES)) LD_PRELOAD=)
	for v in "${variants[@]}"; do
		b1=$(syscalls "$BENCH_SC_CYCLES" $(preload_env "${file[$v]}"))
		b2=$(syscalls $((2 * BENCH_SC_CYCLES)) $(preload_env "${file[$v]}"))
		row "$v" "$(ratio $((p2 - p1)) "$BENCH_SC_CYCLES")" \
			"$(ratio $(((b2 - b1) - (p2 - p1))) "$BENCH_SC_CYCLES")" \
			"$(ratio $((b1 - p1)) "$BENCH_SC_CYCLES")"
	done

	section "1c. Resident memory" \
		"VmRSS of bench_loop after its warm-up cycles (median of 3), without and with the preload (default policy)."
	header "plain kB" "backstop kB" "added kB"
	local a b
	a=$(rss_kb LD_PRELOAD=)
	b=$(rss_kb $(preload_env ""))
	row "$a" "$b" $((b - a))
}
