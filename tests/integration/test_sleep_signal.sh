#!/usr/bin/env bash
# SIGALRM interrupting each of the four sleep wrappers: the same
# return/errno/rem contract as libc (tests/helpers/sleep_signal.c), with the
# remaining time being that of the sleep actually taken (5 s requested,
# 10 s after backoff with streak 2). An absolute CLOCK_MONOTONIC sleep is
# adjusted as the relative sleep it is (Python's time.sleep, see
# test_sleep_python.sh); other clocks and invalid requests pass through
# untouched.
. "$BS_TOP/tests/integration/lib.sh"

timeout 120 "$BS_HELPERS/sleep_signal" >"$BS_TMP/plain.out" || fail "helper failed without backstop"
log="$BS_TMP/backstop.log"
timeout 120 env LD_PRELOAD="$BS_PRELOAD" BACKSTOP_LOG="$log" BACKSTOP_CONNECT_ATTEMPTS=1 \
	BACKSTOP_SLEEP_MODE=retry BACKSTOP_SLEEP_JITTER=none BACKSTOP_SLEEP_BACKOFF=on \
	BACKSTOP_SLEEP_MAX_DELAY=30s BACKSTOP_SLEEP_WINDOW=60s \
	"$BS_HELPERS/sleep_signal" >"$BS_TMP/backstop.out" || fail "helper failed under backstop"

diff <(grep ^contract "$BS_TMP/plain.out") <(grep ^contract "$BS_TMP/backstop.out") >&2 ||
	fail "the interruption contract differs under backstop"
for f in nanosleep clock_nanosleep sleep; do
	assert_eq "$(grep "^left $f " "$BS_TMP/plain.out")" "left $f 4" "$f: seconds left without backstop"
	assert_eq "$(grep "^left $f " "$BS_TMP/backstop.out")" "left $f 9" "$f: seconds left of the 10 s sleep taken"
done
# nanosleep, clock_nanosleep, usleep, sleep, the short completed one and
# the absolute monotonic one (1 ms ahead: a little less is left when it is
# read); not the CLOCK_BOOTTIME or invalid ones.
assert_eq "$(count_lines '"event":"sleep.adjust"' "$log")" 6 "sleep.adjust lines"
assert_grep '"event":"sleep.adjust","requested_ms":0\.[0-9]+,"actual_ms":1\.[0-9]+,"streak":2' "$log" \
	"the absolute monotonic sleep, doubled"
assert_grep '"event":"sleep.adjust".*"requested_ms":5000(\.0+)?,.*"actual_ms":10000(\.0+)?,.*"streak":2' "$log" "adjusted 5 s sleep"
assert_log_valid "$log"
