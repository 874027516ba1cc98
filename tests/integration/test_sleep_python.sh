#!/usr/bin/env bash
# Python's retry sleeps (issue 10, blind spot). Python 3.11's time.sleep is
# clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME) to a deadline, which was
# passed through untouched: ten clients sleeping 0.1 s after each refused
# connect woke in lockstep (sd 0.5 ms under jitter = 50%). An absolute
# monotonic sleep is now a relative one in disguise: it is spread as
# [sleep] says. A signal in the middle makes Python ask for the same
# deadline again: that resumption keeps the deadline already given.
# Checked on the seeded sleep.adjust lines, never on wall time.
. "$BS_TOP/tests/integration/lib.sh"

PORT=$(free_port) log="$BS_TMP/log.jsonl"
client='import signal, socket, sys, time
signal.signal(signal.SIGALRM, lambda *a: None)
signal.setitimer(signal.ITIMER_REAL, 0.007, 0.007)  # resumptions, too
for _ in range(10):
    try: socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    except OSError: pass
    time.sleep(0.1)
signal.setitimer(signal.ITIMER_REAL, 0)
print("done")'
out=$(timeout 60 env LD_PRELOAD="$BS_PRELOAD" BACKSTOP_LOG="$log" BACKSTOP_SEED=11 \
	BACKSTOP_CONNECT_ATTEMPTS=1 BACKSTOP_SLEEP_MODE=retry BACKSTOP_SLEEP_JITTER=50% \
	BACKSTOP_SLEEP_BACKOFF=off python3 -c "$client" "$PORT") || fail "the python client failed"
assert_eq "$out" "done" "the client's run"
assert_log_valid "$log"
python3 - "$log" <<'PY' || fail "python's retry sleeps are not spread as [sleep] says"
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
adj = [r for r in rows if r["event"] == "sleep.adjust"]
assert len(adj) == 10, f"{len(adj)} sleep.adjust lines, expected one per sleep (10)"
actual = [r["actual_ms"] for r in adj]
for r in adj:
    # The length Python asked for, read off its deadline: 100 ms less the
    # moment between computing it and calling clock_nanosleep (generous:
    # a sanitizer build on a loaded machine is slow).
    assert 50 <= r["requested_ms"] <= 100.001, r
    assert 0.5 * r["requested_ms"] - 0.01 <= r["actual_ms"] <= 1.5 * r["requested_ms"] + 0.01, r
sd = statistics.pstdev(actual)
print("actual_ms:", actual, "sd %.1f ms" % sd)
assert sd > 10, f"sd {sd:.1f} ms: not spread"
PY
