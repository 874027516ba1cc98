#!/usr/bin/env bash
# nonblocking = async: a number whose connect was pending (and so parked:
# its epoll registrations reduced to nothing between attempts) is let go
# of by close, close after EPOLL_CTL_DEL, close_range or a raw close system
# call, and taken by a pipe the program registers in its epoll set. The
# pipe's events must reach the program; before, the parking outlived the
# socket and the pipe was registered with the parking mask (an event loop
# then waited for ever on a descriptor that was ready).
. "$BS_TOP/tests/integration/lib.sh"
. "$BS_TOP/tests/integration/async_lib.sh"

for mode in close unregister close_range raw_close; do
	assert_eq "$("$BS_HELPERS/async_reuse" "$mode")" "readable" "$mode without backstop"
	out=$(env "${POLICY[@]}" BACKSTOP_LOG="$BS_TMP/$mode.jsonl" LD_PRELOAD="$BS_PRELOAD" \
		"$BS_HELPERS/async_reuse" "$mode")
	assert_eq "$out" "readable" "$mode under backstop"
	# The connect was pending (retried) when the number was let go of.
	assert_grep '"event":"connect.retry".*"mode":"async"' "$BS_TMP/$mode.jsonl" "$mode: pending"
done

# A connect that failed for good, its socket closed behind backstop's back
# (a raw system call), and a new socket on the number connecting to a
# listening port: the old entry must not answer for it (it gave the new
# connect the old ECONNREFUSED).
mode=raw_close_connect
out=$(env "${POLICY[@]}" BACKSTOP_CONNECT_ATTEMPTS=2 BACKSTOP_LOG="$BS_TMP/$mode.jsonl" \
	LD_PRELOAD="$BS_PRELOAD" "$BS_HELPERS/async_reuse" "$mode")
assert_eq "$out" "connected" "$mode under backstop"
assert_grep '"event":"connect.giveup".*"mode":"async"' "$BS_TMP/$mode.jsonl" "$mode: failed first"
