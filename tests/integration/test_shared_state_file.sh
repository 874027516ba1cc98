#!/usr/bin/env bash
# The state file is checked like a policy file and never misread: a file
# open to others, a symbolic link, or a file of another layout version is
# refused with a state.error line naming the path and why, the program
# still runs and counts per process (its breaker.open says share
# "process"), and `backstop state` refuses it with the same reason. A
# fresh file is created 0600.
. "$BS_TOP/tests/integration/lib.sh"

policy() { # STATE
	cat >"$BS_TMP/policy.ini" <<P
[global]
log = $BS_TMP/log.jsonl
state = $1
[connect]
share = machine
attempts = 2
base = 1ms
max_delay = 1ms
breaker = 1
breaker_cooldown = 1h
on_open = fail
P
}
port=$(free_port)
run() { # STATE: one refused connect under the policy; prints the new log lines
	policy "$1"
	: >log.jsonl
	BACKSTOP_POLICY="$BS_TMP/policy.ini" under_backstop python3 -c '
import socket, sys
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[1])))
except ConnectionRefusedError:
    sys.exit(0)
sys.exit(1)' "$port" || fail "the client did not see ECONNREFUSED"
	assert_log_valid log.jsonl
	cat log.jsonl
}
refused() { # STATE WHY
	local out
	out=$(run "$1")
	grep -q "\"event\":\"state.error\",\"path\":\"$1\",\"error\":\"$1: $2" <<<"$out" ||
		{ echo "$out"; fail "no state.error for $1 saying '$2'"; }
	grep -q '"event":"breaker.open".*"share":"process"' <<<"$out" ||
		{ echo "$out"; fail "$1: not counted per process"; }
	"$BS_CLI" state -p "$BS_TMP/policy.ini" >cli.out 2>&1 && fail "backstop state accepted $1"
	assert_grep "$2" cli.out "backstop state's refusal of $1"
	note "refused: $1: $2"
}

# A fresh file: created 0600, used machine-wide.
out=$(run "$BS_TMP/good.state")
grep -q '"event":"breaker.open".*"share":"machine"' <<<"$out" || { echo "$out"; fail "fresh file not used"; }
assert_eq "$(stat -c %a "$BS_TMP/good.state")" 600 "mode of a new state file"

cp "$BS_TMP/good.state" "$BS_TMP/open.state"
chmod 644 "$BS_TMP/open.state"
refused "$BS_TMP/open.state" "refused: mode 0644 lets others in"

ln -s "$BS_TMP/good.state" "$BS_TMP/link.state"
refused "$BS_TMP/link.state" "refused: a symbolic link"

# The same layout, stamped version 254 (bytes 8..11 of the header).
cp "$BS_TMP/good.state" "$BS_TMP/v254.state"
printf '\376\000\000\000' | dd of="$BS_TMP/v254.state" bs=1 seek=8 conv=notrunc status=none
refused "$BS_TMP/v254.state" "state file version 254, but this backstop reads version "

head -c 4096 /dev/zero | tr '\0' x >"$BS_TMP/other.state"
chmod 600 "$BS_TMP/other.state"
refused "$BS_TMP/other.state" "not a backstop state file"
