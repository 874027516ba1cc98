#!/usr/bin/env bash
# Declared wrappers around a library of our own (tests/shims/libwrap_flaky.c,
# whose calls fail their first WRAPF_FAILS times), called by wrap_client,
# linked -z now with full RELRO: through its GOT, through dlsym (RTLD_DEFAULT
# and a handle), from a plugin dlopen'ed by bare name through the client's
# RUNPATH, a pointer return (return == null), an errno condition (retried
# for EAGAIN, not for EPERM, errno preserved), a wrapped call made from
# inside another (passed straight through), a symbol nobody defines, and a
# policy without wrappers (nothing changes).
. "$BS_TOP/tests/integration/lib.sh"

cat >policy.ini <<EOF2
[global]
log = $BS_TMP/log.jsonl
seed = 7
[wrap "wrapf_busy"]
returns = int
args = void
retry_if = return == 5
base = 1ms
[wrap "wrapf_alloc"]
returns = pointer
args = size_t
retry_if = return == null
library = libwrap_flaky.so
base = 1ms
[wrap "wrapf_take"]
returns = ssize_t
args = int, size_t
retry_if = return == -1 and errno in EAGAIN EINTR
base = 1ms
[wrap "wrapf_call"]
returns = int
args = pointer
retry_if = return != 0
base = 1ms
[wrap "no_such_function"]
returns = int
retry_if = return < 0
EOF2

client="$BS_HELPERS/wrap_client"
run() { # EXPECTED-WITHOUT EXPECTED-WITH MODE... : output without and with backstop
	rm -f "$BS_TMP/log.jsonl"
	assert_eq "$(WRAPF_FAILS=3 "$client" "${@:3}")" "$1" "without backstop: ${*:3}"
	assert_eq "$(WRAPF_FAILS=3 BACKSTOP_POLICY=policy.ini under_backstop "$client" "${@:3}")" "$2" \
		"under backstop: ${*:3}"
	assert_log_valid "$BS_TMP/log.jsonl"
}
retried() { # SYMBOL: three retries of SYMBOL, then wrap.ok at attempt 4
	local log="$BS_TMP/log.jsonl"
	assert_eq "$(count_lines "\"event\":\"wrap.retry\",\"symbol\":\"$1\"" "$log")" 3 "$1 retries"
	assert_grep "\"event\":\"wrap.ok\",\"symbol\":\"$1\",\"attempt\":4,\"elapsed_ms\":" "$log" "$1 wrap.ok"
	assert_no_grep '"event":"wrap.giveup"' "$log" "no give-up"
}

# A sanitizer runtime preloaded first interposes dlopen itself and calls
# the next one from its own code, so a bare name no longer finds the
# program's RUNPATH, backstop or not: the plugin case is left out there.
modes=(busy dlsym handle plugin)
[ -z "${BS_SANITIZE:-}" ] || modes=(busy dlsym handle)
for mode in "${modes[@]}"; do
	run 5 0 "$mode"
	retried wrapf_busy
	note "$mode: redirected"
done
# The same client with DT_RPATH instead of DT_RUNPATH finds its plugin too.
if [ -z "${BS_SANITIZE:-}" ]; then
	rm -f "$BS_TMP/log.jsonl"
	assert_eq "$(WRAPF_FAILS=3 BACKSTOP_POLICY=policy.ini under_backstop "$BS_HELPERS/wrap_client_rpath" plugin)" 0 \
		"plugin found through DT_RPATH"
	retried wrapf_busy
fi
assert_grep '"event":"wrap.missing","symbol":"no_such_function","reason":"not_found"' \
	"$BS_TMP/log.jsonl" "wrap.missing for an undefined symbol"
assert_eq "$(count_lines '"event":"wrap.missing"' "$BS_TMP/log.jsonl")" 1 "wrap.missing once"

run null ptr alloc
retried wrapf_alloc
assert_grep '"event":"wrap.retry","symbol":"wrapf_alloc","attempt":1,"attempts":10,"return":null,' \
	"$BS_TMP/log.jsonl" "a null return logged as null"

eagain=$(python3 -c 'import errno; print(errno.EAGAIN)')
eperm=$(python3 -c 'import errno; print(errno.EPERM)')
run "-1 errno $eagain" 7 take "$eagain"
retried wrapf_take
assert_grep '"event":"wrap.retry","symbol":"wrapf_take","attempt":1,"attempts":10,"return":-1,"errno":"EAGAIN",' \
	"$BS_TMP/log.jsonl" "return and errno logged"
run "-1 errno $eperm" "-1 errno $eperm" take "$eperm"
assert_no_grep '"event":"wrap\.(retry|ok|giveup)"' "$BS_TMP/log.jsonl" "EPERM is not in retry_if"

# wrapf_call runs the program's callback, which calls wrapf_busy: that
# inner call is made from inside a wrapper and gets the real 5, once.
run "0 5" "0 5" nested
assert_no_grep '"event":"wrap\.(retry|ok|giveup)"' "$BS_TMP/log.jsonl" "nested call passed through"

# Give-up: more failures than attempts.
rm -f "$BS_TMP/log.jsonl"
assert_eq "$(WRAPF_FAILS=50 BACKSTOP_WRAP_WRAPF_BUSY_ATTEMPTS=4 BACKSTOP_POLICY=policy.ini \
	under_backstop "$client" busy)" 5 "the last real return after giving up"
assert_grep '"event":"wrap.giveup","symbol":"wrapf_busy","attempt":4,"return":5,"reason":"attempts"' \
	"$BS_TMP/log.jsonl" "give-up line"

# A policy that declares no wrapper: calls are untouched.
printf '[global]\nlog = %s/log.jsonl\n' "$BS_TMP" >plain.ini
rm -f "$BS_TMP/log.jsonl"
for mode in "${modes[@]}"; do
	assert_eq "$(WRAPF_FAILS=3 BACKSTOP_POLICY=plain.ini under_backstop "$client" "$mode")" 5 \
		"no wrapper: $mode"
done
[ ! -s "$BS_TMP/log.jsonl" ] || assert_no_grep '"event":"wrap\.' "$BS_TMP/log.jsonl" "no wrap lines"

# Threads and fork: four threads call wrapf_busy while the main thread
# dlopens the plugin (a walk of the GOTs while calls are in flight) and
# runs it; the 12 failures are shared, so every call is retried until it
# gets through (no count limit here: which call meets how many failures is
# up to the scheduler). A forked child (the walk lock must not be inherited
# held) fails twice more for each of its two calls, direct and through
# dlsym, and is retried.
rm -f "$BS_TMP/log.jsonl"
WRAPF_FAILS=12 "$client" threads >plain.out || fail "threads without backstop"
assert_eq "$(cat plain.out)" "$(printf 'threads 5 5 5 5 plugin 5\nchild 5 5')" "threads without backstop"
WRAPF_FAILS=12 BACKSTOP_WRAP_WRAPF_BUSY_ATTEMPTS=0 BACKSTOP_WRAP_WRAPF_BUSY_DEADLINE=120s \
	BACKSTOP_POLICY=policy.ini under_backstop "$client" threads >wrapped.out ||
	fail "threads under backstop"
assert_eq "$(cat wrapped.out)" "$(printf 'threads 0 0 0 0 plugin 0\nchild 0 0')" "threads under backstop"
log="$BS_TMP/log.jsonl"
assert_log_valid "$log"
assert_eq "$(count_lines '"event":"wrap.retry","symbol":"wrapf_busy"' "$log")" 16 "12 + 2 + 2 retries"
assert_no_grep '"event":"wrap.giveup"' "$log" "no give-up"
parent=$(grep -m1 '"event":"policy.loaded"' "$log" | grep -o '"pid":[0-9]*,')
assert_eq "$(grep '"event":"wrap.ok"' "$log" | grep -vc "$parent")" 2 "the child's two calls, retried"
ok=$(grep '"event":"wrap.ok"' "$log" | grep -c "$parent")
[ "$ok" -ge 1 ] && [ "$ok" -le 5 ] || fail "parent wrap.ok lines: $ok, expected 1 to 5"

# The defining library is dlclose'd and loaded again at another address
# (its old one blocked): the wrapper follows the new definition.
cat >reload.ini <<EOF2
[global]
log = $BS_TMP/log.jsonl
[wrap "plugin_run"]
returns = int
retry_if = return == 5
base = 1ms
EOF2
rm -f "$BS_TMP/log.jsonl"
assert_eq "$("$client" reload)" "5 5 moved" "reload without backstop"
assert_eq "$(BACKSTOP_POLICY=reload.ini under_backstop "$client" reload)" "0 0 moved" "reload under backstop"
assert_eq "$(count_lines '"event":"wrap.ok","symbol":"plugin_run","attempt":3,' "$BS_TMP/log.jsonl")" 2 \
	"both loads' calls retried"
