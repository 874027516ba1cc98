#!/usr/bin/env bash
# nonblocking = async, through every interface a program may use to learn
# the outcome of its nonblocking connect: the client connects while the
# server is down (refused) and says so on a ready fifo; under backstop the
# server is started only once the log (a pipe) shows RETRIES hidden
# retries. The client then sees one slow connect that succeeds; without
# backstop, the refusal. Each case also checks the log: the retries, one
# connect.ok, all with mode async.
. "$BS_TOP/tests/integration/lib.sh"

. "$BS_TOP/tests/integration/async_lib.sh"

# Two threads waiting on the same socket (two_sets) share its entry inside
# the blocking interceptors of ThreadSanitizer's runtime (epoll_wait,
# poll, ...), which ignores every synchronisation made there, atomics and
# mutexes alike (shown with a ten-line preload: a counter under a mutex
# taken inside an interposed epoll_wait is reported as a race), so it
# reports races on fields the entry's lock protects: that case runs in the
# plain build only. Four threads with a socket each (threads) run in all.
THREADED="two_sets threads"
[[ ${BS_SANITIZE:-} == *thread* ]] && THREADED="threads"
for mode in poll ppoll select pselect epoll_wait epoll_pwait epoll_pwait2 oneshot et \
	nested soerror reconnect fork forkexit ${THREADED/threads/}; do
	out=$(late_case "$mode" 1 "")
	assert_grep '^(error|connect)=ECONNREFUSED$' <(echo "$out") "$mode without backstop"
	out=$(late_case "$mode")
	assert_eq "$out" "connected HTTP/1.0 200 OK" "$mode under backstop"
	check_log "$mode" "$RETRIES"
	note "$mode: $(count_lines connect.retry "$BS_TMP/$mode.jsonl") hidden retries, then connected"
done

# A program built with _FORTIFY_SOURCE (as distributions build them) calls
# __poll_chk, __ppoll_chk and __read_chk, which reach libc directly.
fortified=$BS_HELPERS/async_client_fortified
for sym in __poll_chk __ppoll_chk __read_chk; do
	nm -D "$fortified" | grep -q " U $sym" || fail "async_client_fortified does not call $sym"
done
for mode in poll ppoll; do
	out=$(late_run "fortified_$mode" 1 "" "$fortified" "$mode" PORT READY)
	assert_grep '^(error|connect)=ECONNREFUSED$' <(echo "$out") "fortified $mode without backstop"
	out=$(late_run "fortified_$mode" 1 "$BS_PRELOAD" "$fortified" "$mode" PORT READY)
	assert_eq "$out" "connected HTTP/1.0 200 OK" "fortified $mode under backstop"
	check_log "fortified_$mode" "$RETRIES"
done

# A unix socket: the first attempts fail at once (ENOENT, then
# ECONNREFUSED once the file exists), and nothing needs dissolving.
for mode in poll epoll_wait; do
	client=("$BS_HELPERS/async_client" "$mode" PORT READY)
	out=$(UNIX="$BS_TMP/$mode.sock" late_run "unix_$mode" 1 "" "${client[@]}")
	assert_eq "$out" "connect=ENOENT" "unix $mode without backstop"
	out=$(UNIX="$BS_TMP/$mode.sock" late_run "unix_$mode" 1 "$BS_PRELOAD" "${client[@]}")
	assert_eq "$out" "connected HTTP/1.0 200 OK" "unix $mode under backstop"
	check_log "unix_$mode" "$RETRIES"
	assert_grep '"dest":"unix:.*"errno":"ENOENT"' "$BS_TMP/unix_$mode.jsonl" "unix $mode: retried error"
done

if [[ $THREADED == *threads* ]]; then
	out=$(late_case threads 4)
	assert_eq "$out" "$(printf 'connected HTTP/1.0 200 OK\n%.0s' 1 2 3 4)" "threads under backstop"
	check_log threads "$RETRIES" 4
fi
