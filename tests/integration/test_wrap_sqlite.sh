#!/usr/bin/env bash
# "database is locked" from the unmodified sqlite3 CLI (Debian's, linked to
# libsqlite3.so.0): while another process holds BEGIN EXCLUSIVE, an INSERT
# fails at once without backstop, and succeeds under
# examples/sqlite-busy.conf once the lock is released. The lock is released
# only after the CLI has logged a wrap.retry, so the retry is what got it
# through. The deadlines are raised so a slow machine cannot turn the
# test into a give-up (they only bound a hang).
. "$BS_TOP/tests/integration/lib.sh"

db="$BS_TMP/app.db"
hold_lock() { # -> starts the holder; sets release
	ready=$(ready_fifo lock) release="$BS_TMP/release.fifo"
	rm -f "$release"; mkfifo "$release"
	python3 "$BS_TOP/tests/integration/wrap_lock.py" "$db" "$ready" "$release" &
	holder=$!
	await_ready "$ready" >/dev/null
}

# Without backstop: the error a new user meets.
hold_lock
sqlite3 "$db" 'INSERT INTO t VALUES (1)' 2>plain.err && fail "the INSERT succeeded under the lock"
assert_grep 'database is locked' plain.err "sqlite3's own error"
echo go >"$release"
wait "$holder" || fail "lock holder failed"

# Under the example policy.
hold_lock
pipe="$BS_TMP/log.pipe" log="$BS_TMP/log.jsonl"
mkfifo "$pipe"
env BACKSTOP_POLICY="$BS_TOP/examples/sqlite-busy.conf" BACKSTOP_LOG=fd:3 \
	BACKSTOP_WRAP_SQLITE3_PREPARE_V2_DEADLINE=120s BACKSTOP_WRAP_SQLITE3_STEP_DEADLINE=120s \
	LD_PRELOAD="$BS_PRELOAD" sqlite3 "$db" 'INSERT INTO t VALUES (2)' 3>"$pipe" 2>wrapped.err &
client=$!
exec 5<"$pipe"
"$BS_HELPERS/conn_logwait" "$log" '"event":"wrap.retry"' 1 <&5 || fail "no wrap.retry logged: $(cat wrapped.err)"
echo go >"$release"
cat <&5 >>"$log"
wait "$client" || { cat wrapped.err "$log"; fail "the INSERT failed under backstop"; }
wait "$holder" || fail "lock holder failed"

assert_log_valid "$log"
assert_eq "$(sqlite3 "$db" 'SELECT group_concat(x) FROM t')" "0,0,2" "rows: two holders' and the wrapped INSERT"
assert_grep '"event":"wrap.retry","symbol":"sqlite3_prepare_v2","attempt":1,.*"return":5' "$log" "first retry"
assert_eq "$(count_lines '"event":"wrap.ok"' "$log")" 1 "one wrap.ok"
assert_no_grep '"event":"wrap.giveup"\|"event":"wrap.missing"' "$log" "no give-up, nothing missing"
note "$(count_lines '"event":"wrap.retry"' "$log") retries, then $(grep -o '"event":"wrap.ok".*' "$log")"
