#!/usr/bin/env bash
# nonblocking = async: the program makes a socket blocking while its
# connect is pending (EAGAIN from a unix listener whose backlog is full,
# retried). The retries backstop makes inside the program's poll must stay
# nonblocking: a blocking connect there would hold the poll (and the
# entry's lock) until the listener accepts, here never.
. "$BS_TOP/tests/integration/lib.sh"
. "$BS_TOP/tests/integration/async_lib.sh"

sock="$BS_TMP/full.sock"
assert_eq "$("$BS_HELPERS/async_madeblocking" "$sock")" "connect=EAGAIN" "without backstop"
log="$BS_TMP/madeblocking.jsonl"
out=$(env "${POLICY[@]}" BACKSTOP_LOG="$log" LD_PRELOAD="$BS_PRELOAD" \
	"$BS_HELPERS/async_madeblocking" "$sock")
assert_eq "$out" "returned" "under backstop"
# Retries were made after the socket became blocking (attempt 2 and on).
assert_grep '"event":"connect.retry".*"mode":"async","attempt":[2-9].*"errno":"EAGAIN"' "$log" \
	"retries on the blocking socket"
