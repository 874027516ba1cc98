#!/usr/bin/env bash
# Soak: 16 threads, SOAK_CYCLES loopback connect/close cycles in all
# (make check: 40,000; `make soak`: 1,000,000) under max_conns = 4 with
# waits, so that the caps and the log work all the time
# (tests/helpers/soak_cycles.c). Afterwards: every connect succeeded, no
# descriptor left behind, resident memory flat within 1 MiB (not in
# sanitizer builds: their allocators hold freed memory back), all 4 slots
# free again (4 connections held at once, none waits), and the log whole:
# every line parses, no drop reported, every cap.wait ended in cap.acquired.
. "$BS_TOP/tests/integration/lib.sh"

cycles=${SOAK_CYCLES:-40000} log="$BS_TMP/soak.jsonl"
timeout 3000 env LD_PRELOAD="$BS_PRELOAD" BACKSTOP_LOG="$log" \
	BACKSTOP_DEST_LOOP_MATCH=127.0.0.1 BACKSTOP_DEST_LOOP_MAX_CONNS=4 \
	BACKSTOP_DEST_LOOP_ON_CAP=wait BACKSTOP_DEST_LOOP_CAP_WAIT=60s \
	BACKSTOP_DEST_LOOP_DEADLINE=120s \
	"$BS_HELPERS/soak_cycles" "$cycles" 16 4 >out.txt || fail "soak_cycles failed"
cat out.txt
eval "$(tr ' ' '\n' <out.txt | grep -E '^[a-z_]+=[0-9-]+$')"
assert_eq "$failures" 0 "failed connects"
assert_eq "$fds_after" "$fds_before" "descriptors before and after"
if [ -z "${BS_SANITIZE:-}" ]; then
	growth=$((rss_kib_after - rss_kib_before))
	[ "$growth" -le 1024 ] || fail "resident memory grew by $growth KiB"
fi
assert_eq "$final_ok" 4 "connections held at once at max_conns = 4"

assert_log_valid "$log"
assert_no_grep '"dropped"' "$log" "a drop report"
assert_no_grep '"event":"cap.timeout"|"truncated"' "$log" "a cap timeout or a cut line"
waits=$(count_lines '"event":"cap.wait"' "$log")
acquired=$(count_lines '"event":"cap.acquired"' "$log")
note "$cycles cycles: $waits cap.wait, $acquired cap.acquired, $(wc -l <"$log") lines"
[ "$waits" -gt 0 ] || fail "no cap.wait: the soak did not exercise the caps"
assert_eq "$acquired" "$waits" "cap.acquired lines for cap.wait lines"
