#!/usr/bin/env bash
# The log file's filesystem is full (a 16 KiB tmpfs, filled, in a private
# mount namespace): every line backstop tries to write fails with ENOSPC.
# The program runs on unharmed: connect retries and gives up with the
# refusal's errno exactly as with a working log; nothing blocks and nothing
# partial lands in the file. Then, with room made, a later process's
# lines arrive whole. (Drop counting within one process: tests/unit/test_log.c.)
. "$BS_TOP/tests/integration/lib.sh"

PORT=$(free_port)
mkdir -p full
cat >inner.sh <<'SH'
set -eu
mount -t tmpfs -o size=16k bs-full full
dd if=/dev/zero of=full/filler bs=4k count=64 2>/dev/null || true
client() {
	env BACKSTOP_LOG="$PWD/full/log.jsonl" BACKSTOP_CONNECT_ATTEMPTS=4 \
		BACKSTOP_CONNECT_BASE=1ms BACKSTOP_CONNECT_JITTER=none \
		LD_PRELOAD="$BS_PRELOAD" "$BS_HELPERS/conn_client" "127.0.0.1:$PORT" || true
}
echo "full: $(client)"
echo "full-size: $(stat -c %s full/log.jsonl)"
rm full/filler
echo "room: $(client)"
cp full/log.jsonl after.jsonl
SH
PORT=$PORT timeout 120 unshare -m --propagation private bash inner.sh >out.txt 2>err.txt ||
	{ cat out.txt err.txt >&2; fail "the run in a private mount namespace failed"; }
cat out.txt
assert_grep '^full: result=ECONNREFUSED .*flags_kept=yes' out.txt "connect with the log's filesystem full"
assert_grep '^full-size: 0$' out.txt "bytes that reached a full filesystem"
assert_grep '^room: result=ECONNREFUSED' out.txt "connect once there is room"
assert_eq "$(count_lines '"event":"connect.retry"' after.jsonl)" 3 "retries logged once there is room"
assert_grep '"event":"connect.giveup".*"reason":"attempts"' after.jsonl "give-up logged once there is room"
assert_log_valid after.jsonl
