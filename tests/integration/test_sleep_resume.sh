#!/usr/bin/env bash
# A retry sleep that signals interrupt and the program resumes (issue 10,
# defect 5; tests/helpers/sleep_resume.c): the remainder a program asks
# for next is the rest of the same sleep, so it runs as it is. It used to
# count as a new retry sleep, grown and jittered at every resumption: a
# 100 ms sleep under a 5 ms timer took 17 s. One sleep.adjust line per
# sleep, however many signals.
. "$BS_TOP/tests/integration/lib.sh"

for how in nanosleep sleep; do
	log="$BS_TMP/$how.jsonl"
	out=$(timeout 60 env LD_PRELOAD="$BS_PRELOAD" BACKSTOP_LOG="$log" BACKSTOP_SEED=3 \
		BACKSTOP_CONNECT_ATTEMPTS=1 BACKSTOP_SLEEP_MODE=retry BACKSTOP_SLEEP_JITTER=50% \
		BACKSTOP_SLEEP_BACKOFF=on BACKSTOP_SLEEP_WINDOW=30s \
		"$BS_HELPERS/sleep_resume" "$how") || fail "$how: the program failed or hung"
	echo "$how: $out"
	n=${out#interrupted=}
	[ "$n" -ge 3 ] || fail "$how: only $n interruptions: the test proves nothing"
	assert_eq "$(count_lines '"event":"sleep.adjust"' "$log")" 1 "$how: sleep.adjust lines"
	assert_grep '"event":"sleep.adjust".*"streak":2' "$log" "$how: the one adjusted sleep"
	assert_log_valid "$log"
done
