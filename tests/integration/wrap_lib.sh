# Sourced by the sqlite scripts (test_wrap_sqlite.sh, test_wrap_python.sh)
# after lib.sh, with $db set: a process holding the database's lock, and
# an INSERT under examples/sqlite-busy.conf that must retry through it.

# hold_lock: start the holder (wrap_lock.py: BEGIN EXCLUSIVE on $db) and
# wait until it holds the lock. Sets holder (its pid) and release (the
# fifo that ends it: echo go >"$release").
hold_lock() {
	ready=$(ready_fifo lock) release="$BS_TMP/release.fifo"
	rm -f "$release"; mkfifo "$release"
	python3 "$BS_TOP/tests/integration/wrap_lock.py" "$db" "$ready" "$release" &
	holder=$!
	await_ready "$ready" >/dev/null
}

# insert_through_lock OUT CMD...: with the lock held (hold_lock), run CMD
# under the example policy and release the lock only once CMD has logged
# a wrap.retry, so the retry is what got it through; CMD must succeed.
# Its output goes to OUT, the log to $log ($BS_TMP/log.jsonl, checked
# valid). The deadlines are raised so that a slow machine cannot turn the
# test into a give-up (they only bound a hang).
insert_through_lock() {
	local out=$1 pipe="$BS_TMP/log.pipe" client
	shift
	log="$BS_TMP/log.jsonl"
	rm -f "$pipe"; mkfifo "$pipe"
	env BACKSTOP_POLICY="$BS_TOP/examples/sqlite-busy.conf" BACKSTOP_LOG=fd:3 \
		BACKSTOP_WRAP_SQLITE3_PREPARE_V2_DEADLINE=120s BACKSTOP_WRAP_SQLITE3_STEP_DEADLINE=120s \
		LD_PRELOAD="$BS_PRELOAD" "$@" 3>"$pipe" >"$out" 2>&1 &
	client=$!
	exec 5<"$pipe"
	"$BS_HELPERS/conn_logwait" "$log" '"event":"wrap.retry"' 1 <&5 ||
		fail "no wrap.retry logged: $(cat "$out")"
	echo go >"$release"
	cat <&5 >>"$log"
	exec 5<&-
	wait "$client" || { cat "$out" "$log"; fail "the INSERT failed under backstop"; }
	wait "$holder" || fail "lock holder failed"
	assert_log_valid "$log"
}
