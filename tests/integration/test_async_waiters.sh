#!/usr/bin/env bash
# nonblocking = async, waits that began before the connect they must
# serve: the main thread waits with no timeout on an epoll set, and only
# then does another thread connect (refused: the server is down) and
# register the socket in that set. The wait must hide the parked socket's
# hang-up (which the registration fires once) and then be cut at the
# retry's due time, so that the retries go on and the late server is
# reached; before, the program was woken for a socket that had neither
# connected nor failed.
. "$BS_TOP/tests/integration/lib.sh"
. "$BS_TOP/tests/integration/async_lib.sh"

for mode in epoll epoll_elsewhere; do
	client=("$BS_HELPERS/async_waiter" "$mode" PORT READY)
	out=$(late_run "$mode" 1 "" "${client[@]}")
	assert_eq "$out" "error=ECONNREFUSED" "$mode without backstop"
	out=$(late_run "$mode" 1 "$BS_PRELOAD" "${client[@]}")
	assert_eq "$out" "connected HTTP/1.0 200 OK" "$mode under backstop"
	check_log "$mode" "$RETRIES"
done
