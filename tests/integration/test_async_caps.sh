#!/usr/bin/env bash
# A nonblocking connect over max_conns under nonblocking = async waits for
# its slot without blocking the thread: EINPROGRESS at once, never ready
# while queued, served oldest first when a slot frees, then connected; a
# wait past cap_wait fails the connect with ETIMEDOUT through SO_ERROR.
. "$BS_TOP/tests/integration/lib.sh"

capped_policy max_conns=1 cap_wait=30s deadline=60s
out=$(BACKSTOP_POLICY=policy.ini under_backstop "$BS_HELPERS/async_cap" fifo)
assert_eq "$out" "$(printf '%s\n' 'queued: ready=0,0' 'first: connected, second ready=0' \
	'second: connected')" "queued connects, oldest first"
assert_log_valid log.jsonl
assert_eq "$(count_lines '"event":"cap.wait"' log.jsonl)" 2 "cap.wait lines"
assert_eq "$(count_lines '"event":"cap.acquired"' log.jsonl)" 2 "cap.acquired lines"
assert_eq "$(count_lines '"event":"connect.ok".*"mode":"async"' log.jsonl)" 2 "connect.ok after the wait"
assert_no_grep '"event":"cap.(reject|timeout)"' log.jsonl "fifo"

rm -f log.jsonl
capped_policy max_conns=1 cap_wait=300ms deadline=60s
out=$(BACKSTOP_POLICY=policy.ini under_backstop "$BS_HELPERS/async_cap" timeout)
assert_eq "$out" "queued: ETIMEDOUT" "past cap_wait"
assert_eq "$(count_lines '"event":"cap.timeout"' log.jsonl)" 1 "cap.timeout line"
