#!/usr/bin/env bash
# A legacy client that retries a refused connect after a fixed 2 ms sleep:
# under [sleep] mode = retry each retry sleep is jittered (50%) and grows with
# the failure streak up to max_delay (20 ms); the sleep before any connect
# and the one after a successful connect are untouched. A fixed
# BACKSTOP_SEED reproduces the sequence, whichever sleep function is used.
. "$BS_TOP/tests/integration/lib.sh"

FAILURES=8
export BACKSTOP_CONNECT_ATTEMPTS=1 BACKSTOP_SLEEP_MODE=retry BACKSTOP_SLEEP_JITTER=50% \
	BACKSTOP_SLEEP_BACKOFF=on BACKSTOP_SLEEP_MAX_DELAY=20ms BACKSTOP_SLEEP_WINDOW=30s

# legacy LABEL FUNC [ENV...]: run the client, print its sleep.adjust actual_ms values
legacy() {
	local label=$1 func=$2; shift 2
	local log="$BS_TMP/$label.log"
	timeout 60 env LD_PRELOAD="$BS_PRELOAD" BACKSTOP_LOG="$log" "$@" \
		"$BS_HELPERS/sleep_legacy_client" "$func" $FAILURES >"$BS_TMP/$label.out" ||
		fail "$label: client failed"
	assert_log_valid "$log"
	python3 - "$log" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e["event"] == "sleep.adjust":
        print(e["requested_ms"], e["actual_ms"], e["streak"])
PY
}

# check SEQUENCE BACKOFF(on|off): one line per failure, streak 1..N,
# requested 2 ms, actual within 50% of the grown sleep and <= 20 ms.
check() {
	python3 - "$1" "$2" "$FAILURES" <<'PY' || fail "sleep.adjust sequence breaks the policy"
import sys
rows = [l.split() for l in sys.argv[1].splitlines()]
backoff, n = sys.argv[2] == "on", int(sys.argv[3])
assert len(rows) == n, f"{len(rows)} sleep.adjust lines, expected {n}"
factors = set()
for i, (req, act, streak) in enumerate(rows, 1):
    req, act, streak = float(req), float(act), int(streak)
    assert req == 2.0 and streak == i, rows
    grown = min(2.0 * 2 ** (i - 1), 20.0) if backoff else 2.0
    ceiling = 20.0 if backoff else 3.0
    assert grown * 0.5 <= act <= min(grown * 1.5, ceiling) + 0.001, (i, act, grown)
    factors.add(round(act / grown, 3))
assert len(factors) > n // 2, f"no spread: {factors}"
if backoff:
    assert max(float(r[1]) for r in rows[-3:]) >= 10.0, "the cap region was not reached"
PY
}

seq=$(legacy seed7 usleep BACKSTOP_SEED=7)
note "seed 7: $(echo "$seq" | awk '{print $2}' | tr '\n' ' ')"
check "$seq" on
assert_eq "$(legacy seed7-again usleep BACKSTOP_SEED=7)" "$seq" "same seed, same sleeps"
assert_eq "$(legacy seed7-nanosleep nanosleep BACKSTOP_SEED=7)" "$seq" "nanosleep follows the same policy"
assert_eq "$(legacy seed7-clock clock_nanosleep BACKSTOP_SEED=7)" "$seq" "clock_nanosleep follows the same policy"
other=$(legacy seed8 usleep BACKSTOP_SEED=8)
check "$other" on
[ "$other" != "$seq" ] || fail "a different seed gave the same sleeps"

check "$(legacy nobackoff usleep BACKSTOP_SEED=7 BACKSTOP_SLEEP_BACKOFF=off)" off

assert_eq "$(legacy off usleep BACKSTOP_SEED=7 BACKSTOP_SLEEP_MODE=off)" "" "mode = off touches no sleep"
