#!/usr/bin/env bash
# accept errors on demand: tests/shims/libacc_fault.c, preloaded after
# libbackstop-preload.so, makes the real accept4 behind backstop fail with a
# scripted errno sequence (BACKSTOP_TEST_ACCEPT_FAULTS) before it passes
# through. tests/helpers/acc_accept.c prints every result its accept calls
# get. Proves:
#  - a blocking accept retries each transient error inside the call (the
#    program only sees its connection), one accept.retry line per error;
#    other errors, retry_transient = off and nonblocking listeners get the
#    error as it is;
#  - a blocking accept backs off on EMFILE & co. with growing, capped
#    delays until the error stops, then succeeds; a success resets the
#    streak; a nonblocking one sleeps, then returns the error; a fixed
#    BACKSTOP_SEED reproduces the jittered delays.
. "$BS_TOP/tests/integration/lib.sh"

SHIM="$BS_HELPERS/libacc_fault.so"
[ -f "$SHIM" ] || fail "missing $SHIM (make check-run builds it)"

# accepts LABEL FAULTS [ENV...] -- ARGS...: acc_accept's lines, space-separated;
# backstop's log goes to $BS_TMP/LABEL.log.
accepts() {
	local label=$1 faults=$2; shift 2
	local envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	local rc=0
	BACKSTOP_TEST_ACCEPT_FAULTS="$faults" BACKSTOP_LOG="$BS_TMP/$label.log" \
		timeout 60 env LD_PRELOAD="$BS_PRELOAD $SHIM" "${envs[@]}" \
		"$BS_HELPERS/acc_accept" "$@" >"$BS_TMP/$label.out" 2>"$BS_TMP/$label.err" || rc=$?
	[ $rc -eq 0 ] || { cat "$BS_TMP/$label.err" >&2; fail "$label: acc_accept exited $rc"; }
	touch "$BS_TMP/$label.log"
	tr '\n' ' ' <"$BS_TMP/$label.out" | sed 's/ $//'
}

# log_field LABEL EVENT FIELD: that field of every EVENT line, space-separated.
log_field() {
	grep -F "\"event\":\"$2\"" "$BS_TMP/$1.log" | grep -o "\"$3\":[^,}]*" |
		cut -d: -f2 | tr -d '"' | tr '\n' ' ' | sed 's/ $//'
}

TRANSIENT="ECONNABORTED EPROTO ENETDOWN ENOPROTOOPT EHOSTDOWN ENONET EHOSTUNREACH EOPNOTSUPP ENETUNREACH"
SCRIPT=$(echo $TRANSIENT | tr ' ' ,)

# The shim alone: the program sees every scripted error (the injection works).
out=$(BACKSTOP_TEST_ACCEPT_FAULTS=ECONNABORTED,EPROTO timeout 60 env LD_PRELOAD="$SHIM" \
	"$BS_HELPERS/acc_accept" 1)
assert_eq "$out" "$(printf 'ECONNABORTED\nEPROTO\nok')" "without backstop"

# Blocking listener: every transient error is retried inside the call.
assert_eq "$(accepts retry "$SCRIPT" -- 1)" "ok" "blocking accept, transient errors"
assert_eq "$(log_field retry accept.retry errno)" "$TRANSIENT" "accept.retry errnos, in order"
assert_eq "$(count_lines '"event":"accept.retry".*"delay_ms":0\.000' "$BS_TMP/retry.log")" 9 \
	"accept.retry lines (immediate)"
assert_log_valid "$BS_TMP/retry.log"

# Not transient: returned at once, not logged.
assert_eq "$(accepts other EPERM -- 1)" "EPERM ok" "blocking accept, EPERM"
assert_no_grep accept.retry "$BS_TMP/other.log" "EPERM retried"

# retry_transient = off, and a nonblocking listener: the errors as they are.
assert_eq "$(accepts off ECONNABORTED,EPROTO BACKSTOP_ACCEPT_RETRY_TRANSIENT=off -- 1)" \
	"ECONNABORTED EPROTO ok" "retry_transient = off"
assert_no_grep accept.retry "$BS_TMP/off.log" "retry_transient = off"
assert_eq "$(accepts nonblocking ECONNABORTED,EPROTO -- -n 1)" \
	"ECONNABORTED EPROTO ok" "nonblocking listener"
assert_no_grep accept.retry "$BS_TMP/nonblocking.log" "nonblocking listener"

# Descriptor exhaustion, blocking listener, no jitter: delays 1, 2, 4 ms,
# capped at 4; the success resets the streak, so the next errors start
# from 1 ms again. The program sees two connections and no error.
EXACT=(BACKSTOP_ACCEPT_BASE=1ms BACKSTOP_ACCEPT_FACTOR=2 BACKSTOP_ACCEPT_MAX_DELAY=4ms
	BACKSTOP_ACCEPT_JITTER=none)
assert_eq "$(accepts emfile EMFILE*5,ok,ENFILE,ENOBUFS "${EXACT[@]}" -- 2)" "ok ok" \
	"blocking accept, descriptor exhaustion"
assert_eq "$(log_field emfile accept.backoff errno)" "EMFILE EMFILE EMFILE EMFILE EMFILE ENFILE ENOBUFS" \
	"accept.backoff errnos"
assert_eq "$(log_field emfile accept.backoff delay_ms)" "1.000 2.000 4.000 4.000 4.000 1.000 2.000" \
	"accept.backoff delays: growing, capped, reset by a success"
assert_log_valid "$BS_TMP/emfile.log"

# Nonblocking listener: each failing call sleeps, then returns the error;
# the streak carries over from call to call.
assert_eq "$(accepts nb_emfile EMFILE*3 "${EXACT[@]}" -- -n 1)" "EMFILE EMFILE EMFILE ok" \
	"nonblocking accept, descriptor exhaustion"
assert_eq "$(log_field nb_emfile accept.backoff delay_ms)" "1.000 2.000 4.000" "nonblocking accept.backoff delays"

# Full jitter under a fixed seed: each delay within [0, its ceiling], and
# the same seed gives the same delays.
JITTERED=(BACKSTOP_ACCEPT_BASE=1ms BACKSTOP_ACCEPT_FACTOR=2 BACKSTOP_ACCEPT_MAX_DELAY=4ms
	BACKSTOP_ACCEPT_JITTER=full BACKSTOP_SEED=7)
for run in seed_a seed_b; do
	assert_eq "$(accepts $run EMFILE*5,ok,EMFILE*2 "${JITTERED[@]}" -- 2)" "ok ok" "$run: accepts"
done
delays=$(log_field seed_a accept.backoff delay_ms)
note "BACKSTOP_SEED=7 delays: $delays"
assert_eq "$(log_field seed_b accept.backoff delay_ms)" "$delays" "one seed, one delay sequence"
python3 - $delays <<'PY' || fail "jittered delays outside their ceilings: $delays"
import sys
ceilings = [1, 2, 4, 4, 4, 1, 2]  # the reset after the success starts over
delays = [float(d) for d in sys.argv[1:]]
sys.exit(len(delays) != len(ceilings) or any(not 0 <= d <= c for d, c in zip(delays, ceilings)))
PY
