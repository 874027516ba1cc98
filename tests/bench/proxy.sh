# Section 4: against HAProxy (sourced by run.sh).

proxy_section() {
	section "4a. Against HAProxy: request rate and latency" \
		"bench_loadgen: $BENCH_LOAD_THREADS threads, $BENCH_REQUESTS requests, each a new connection (connect, one line, reply, close) to the same single-threaded server. HAProxy 1 thread, retries 3, timeout connect 500ms, maxconn 32 on the server; backstop: attempts 4, attempt_timeout 500ms, max_conns 32. Everything shares 2 cores. Target: >= 2x the rate of HAProxy, lower p99."
	header path "conns/s" "p50 us" "p99 us" failed
	local via r
	for via in haproxy direct; do
		mkdir -p "$OUT/proxy/$via"
		r=($(in_netns "$BS_TOP/tests/bench/proxy_load.sh" "$OUT/proxy/$via" "$via" |
			awk '{ print $2, $4, $6, $8 }'))
		row "$via$([ $via = direct ] && echo ' (backstop)')" "${r[@]}"
	done

	section "4b. Against HAProxy: the server comes back" \
		"$BENCH_PROXY_CLIENTS legacy clients released at once; the server listens after ${BENCH_OPEN_MS} ms (as in 3). Through HAProxy (no preload) versus direct under backstop with the policy of 4a."
	header path ok "listen at s" attempts "peak /10ms" "peak/clients" "peak after listen" "/clients" "success p50 s" p99 max
	local p
	p=$(policy_like_haproxy)
	for via in haproxy direct; do
		rm -rf "$OUT/proxy/back-$via"
		if [ $via = haproxy ]; then
			in_netns "$BS_TOP/tests/bench/herd_one.sh" "$OUT/proxy/back-$via" \
				"$BENCH_PROXY_CLIENTS" "$BENCH_OPEN_MS" haproxy
		else
			in_netns "$BS_TOP/tests/bench/herd_one.sh" "$OUT/proxy/back-$via" \
				"$BENCH_PROXY_CLIENTS" "$BENCH_OPEN_MS" direct \
				$(preload_env "$p") BACKSTOP_LOG="$OUT/proxy/back-$via.jsonl"
		fi
		row "$via" "$("$BS_TOP/tests/bench/herd_stats.py" "$OUT/proxy/back-$via" "$BENCH_PROXY_CLIENTS")"
	done
}
