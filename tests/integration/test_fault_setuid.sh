#!/usr/bin/env bash
# Secure execution end to end: a real setuid-root program with backstop
# linked in (tests/helpers/fault_setuid.c), run by an unprivileged user. The
# kernel sets AT_SECURE, and the library must ignore every BACKSTOP_*
# variable: here ones that would stop it at once (attempts = 1), send its
# log to a file, and name a policy file that does not exist (exit 78 if
# read). The built-in policy applies instead (there is no
# /etc/backstop.conf here): no count limit, the 10 s deadline ends the
# retries, log on stderr.
# The same program and environment without setuid shows the variables do
# act when they may.
. "$BS_TOP/tests/integration/lib.sh"

[ "$(id -u)" = 0 ] || { echo "needs root to install a setuid helper"; exit 77; }
command -v setpriv >/dev/null || { echo "needs setpriv (util-linux)"; exit 77; }
[ ! -e /etc/backstop.conf ] || { echo "this machine's /etc/backstop.conf would apply instead of the built-in policy"; exit 77; }

PORT=$(free_port) dest=127.0.0.1
chmod 755 "$BS_TMP"
mkdir -m 755 suid
install -o root -g root -m 4755 "$BS_HELPERS/fault_setuid" suid/fault_setuid
# What would stop the call at once and move the log, if it were read.
hostile=(BACKSTOP_CONNECT_ATTEMPTS=1 BACKSTOP_SEED=5)

# As nobody, through the setuid copy: env ignored, built-in policy.
rc=0
timeout 60 setpriv --reuid=65534 --regid=65534 --clear-groups -- \
	env "${hostile[@]}" BACKSTOP_LOG="$BS_TMP/env-setuid.jsonl" \
	BACKSTOP_POLICY=/nonexistent/backstop.conf \
	"$BS_TMP/suid/fault_setuid" "$dest:$PORT" >setuid.out 2>setuid.err || rc=$?
cat setuid.out setuid.err
assert_eq "$rc" 0 "the setuid run's exit status (78: it read BACKSTOP_POLICY)"
assert_grep '^secure=1 ruid=65534 euid=0$' setuid.out "AT_SECURE in the setuid run"
assert_grep '^connect rc=-1 errno=ECONNREFUSED$' setuid.out "the setuid run's connect"
[ ! -e "$BS_TMP/env-setuid.jsonl" ] || fail "BACKSTOP_LOG was honoured under secure execution"
grep '^{' setuid.err >setuid.jsonl || true
[ "$(count_lines '"event":"connect.retry"' setuid.jsonl)" -ge 2 ] ||
	fail "retries by the built-in policy: $(count_lines '"event":"connect.retry"' setuid.jsonl)"
assert_grep '"event":"connect.giveup".*"errno":"ECONNREFUSED".*"reason":"deadline"' \
	setuid.jsonl "the built-in policy's give-up (its deadline, not attempts = 1)"
assert_no_grep '"event":"policy.loaded"' setuid.jsonl "a policy other than the built-in one"
assert_log_valid setuid.jsonl

# The same program and variables, not setuid: they act (one attempt, log file).
rc=0
timeout 60 env "${hostile[@]}" BACKSTOP_LOG="$BS_TMP/env-plain.jsonl" \
	"$BS_HELPERS/fault_setuid" "$dest:$PORT" >plain.out 2>plain.err || rc=$?
cat plain.out plain.err
assert_eq "$rc" 0 "the plain run's exit status"
assert_grep '^secure=0 ' plain.out "no AT_SECURE without setuid"
assert_grep '^connect rc=-1 errno=ECONNREFUSED$' plain.out "the plain run's connect"
assert_eq "$(count_lines '"event":"connect.retry"' env-plain.jsonl)" 0 "retries with attempts = 1"
assert_grep '"event":"connect.giveup".*"attempt":1.*"reason":"attempts"' env-plain.jsonl "give-up after one attempt"
