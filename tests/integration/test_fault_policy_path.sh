#!/usr/bin/env bash
# Hostile and relative policy paths (issue 10, defects 9 and 14).
#  9. BACKSTOP_POLICY naming a FIFO with no writer blocked every preloaded
#     program in its constructor, even `timeout` before it could arm its
#     alarm; /dev/zero spun at 100% CPU reading one endless line. Both now
#     stop the program at once with status 78 and a message naming the file.
# 14. A relative BACKSTOP_POLICY was read relative to each process's own
#     working directory: a child started elsewhere (bash -c 'cd / && ls')
#     failed to find it and stopped with status 78. It is resolved once;
#     children inherit the absolute path.
. "$BS_TOP/tests/integration/lib.sh"

mkfifo policy.fifo
for path in "$BS_TMP/policy.fifo" /dev/zero; do
	rc=0
	# The outer timeout is not preloaded: it ends a hang with SIGKILL.
	timeout -s KILL 30 env LD_PRELOAD="$BS_PRELOAD" BACKSTOP_POLICY="$path" \
		timeout 20 true 2>err.txt || rc=$?
	cat err.txt
	assert_eq "$rc" 78 "$path: exit status"
	assert_grep "backstop: error: $path: not a regular file" err.txt "$path: the message"
done
rc=0
timeout -s KILL 30 "$BS_CLI" check /dev/zero >/dev/null 2>err.txt || rc=$?
[ "$rc" -ne 0 ] || fail "backstop check /dev/zero succeeded"
assert_grep '/dev/zero: not a regular file' err.txt "backstop check /dev/zero"

mkdir conf
printf '[global]\nlog = %s/log.jsonl\n[connect]\nattempts = 4\n' "$BS_TMP" >conf/policy.ini
rc=0
(cd conf && BACKSTOP_POLICY=policy.ini timeout 30 env LD_PRELOAD="$BS_PRELOAD" \
	bash -c 'cd / && ls >/dev/null && echo "$BACKSTOP_POLICY"') >out.txt 2>err.txt || rc=$?
cat err.txt
assert_eq "$rc" 0 "exit status of bash and its child started from /"
assert_eq "$(cat out.txt)" "$BS_TMP/conf/policy.ini" "BACKSTOP_POLICY as children see it"
assert_grep '"prog":"ls","event":"policy.loaded","source":"'"$BS_TMP"'/conf/policy.ini"' log.jsonl "ls's policy"
assert_log_valid log.jsonl
