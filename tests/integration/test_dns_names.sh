#!/usr/bin/env bash
# Names the program resolved, at connect time. In a network namespace of
# our own, with its own /etc/hosts (netns_etc_exec):
#  1. rules by name: [dest "svc"] match = svc.test:PORT and [dest
#     "internal"] match = *.internal:PORT apply to connects to the
#     addresses those names resolved to (their attempts are used, their
#     name is logged); the same address connected to without a lookup, or
#     the name on another port, gets [connect]; the name's cap lines
#     (cap.reject) name it too;
#  2. localhost is ::1 and 127.0.0.1, with a server on 127.0.0.1 only:
#     with failover = off python3's create_connection sits out every
#     attempt on ::1; under the default (failover = next) backstop's
#     retries move to 127.0.0.1 after one attempt on ::1;
#  3. that server starting late: python3 create_connection and node
#     net.connect to 'localhost' get through, connect.ok naming 127.0.0.1,
#     with at most one attempt on ::1 (the same as given 127.0.0.1).
. "$BS_TOP/tests/integration/lib.sh"

ns=$(netns_create names)
mkdir etc
printf '::1 localhost\n127.0.0.1 localhost\n127.0.0.2 svc.test\n127.0.0.3 db.internal\n' >etc/hosts
printf 'hosts: files\n' >etc/nsswitch.conf
PORT=4567 # nothing listens on it: every connect is refused

in_ns() { # LOG CMD...: under backstop, inside the namespace
	local log=$1
	shift
	netns_etc_exec "$ns" "$BS_TMP/etc" env LD_PRELOAD="$BS_PRELOAD" BACKSTOP_LOG="$BS_TMP/$log" \
		BACKSTOP_SEED=11 "$@"
}
connect_py='import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2]))).close()
except OSError as e:
    print("failed", e.errno)'

# 1. Rules by name.
cat >policy.ini <<INI
[connect]
attempts = 6
base = 1ms
max_delay = 2ms
[dest "svc"]
match = svc.test:$PORT
attempts = 3
[dest "internal"]
match = *.internal:$PORT
attempts = 2
INI
rule_run() { # LOG HOST PORT [PYTHON]: one create_connection, refused
	in_ns "$1" env BACKSTOP_POLICY="$BS_TMP/policy.ini" python3 -c "${4:-$connect_py}" "$2" "$3" >"$1.out"
	assert_grep '^failed 111$' "$1.out" "$1: refused"
	assert_log_valid "$1"
}
rule_run svc.jsonl svc.test "$PORT"
assert_eq "$(count_lines '"event":"connect.retry","fd":[0-9]+,"dest":"127.0.0.2:4567","name":"svc.test","rule":"svc"' svc.jsonl)" \
	2 "svc: retries under the name's rule"
assert_grep '"event":"connect.giveup","fd":[0-9]+,"dest":"127.0.0.2:4567","name":"svc.test","rule":"svc","mode":"[a-z]+","attempt":3,.*"reason":"attempts"' \
	svc.jsonl "svc: the rule's attempts"
rule_run glob.jsonl db.internal "$PORT"
assert_grep '"event":"connect.giveup","fd":[0-9]+,"dest":"127.0.0.3:4567","name":"db.internal","rule":"internal","mode":"[a-z]+","attempt":2,' \
	glob.jsonl "*.internal: the glob rule"
rule_run other-port.jsonl svc.test 4568
assert_grep '"event":"connect.giveup","fd":[0-9]+,"dest":"127.0.0.2:4568","name":"svc.test","rule":"connect","mode":"[a-z]+","attempt":6,' \
	other-port.jsonl "svc.test on another port: [connect]"
rule_run by-address.jsonl 127.0.0.2 "$PORT"
assert_grep '"event":"connect.giveup","fd":[0-9]+,"dest":"127.0.0.2:4567","rule":"connect","mode":"[a-z]+","attempt":6,' \
	by-address.jsonl "the address without a lookup: [connect], no name"
assert_no_grep '"name":' by-address.jsonl "no lookup, no name"

# A cap on the name's rule: its cap.* lines name the name too.
cat >cap.ini <<INI
[dest "svc"]
match = svc.test:4600
max_conns = 1
on_cap = fail
INI
in_ns cap.jsonl env BACKSTOP_POLICY="$BS_TMP/cap.ini" python3 -c 'import socket
srv = socket.socket(); srv.bind(("127.0.0.2", 4600)); srv.listen(4)
held = socket.create_connection(("svc.test", 4600))
try:
    socket.create_connection(("svc.test", 4600)); print("second connected")
except OSError as e:
    print("second failed")' >cap.out
assert_eq "$(cat cap.out)" "second failed" "the cap of the name's rule"
assert_grep '"event":"cap.reject","dest":"127.0.0.2:4600","name":"svc.test","rule":"svc","in_use":1,' \
	cap.jsonl "cap.reject names the name"

# 2. localhost, nothing listening: attempts on ::1.
v6_attempts() { # LOG: connect.* lines on [::1]
	count_lines '"event":"connect\.(retry|giveup|ok)","fd":[0-9]+,"dest":"\[::1\]:' "$1"
}
in_ns off.jsonl env BACKSTOP_CONNECT_ATTEMPTS=3 BACKSTOP_CONNECT_BASE=1ms BACKSTOP_CONNECT_MAX_DELAY=2ms \
	BACKSTOP_CONNECT_FAILOVER=off python3 -c "$connect_py" localhost "$PORT" >off.out
assert_eq "$(v6_attempts off.jsonl)" 3 "failover = off: attempts on ::1"
in_ns next.jsonl env BACKSTOP_CONNECT_ATTEMPTS=3 BACKSTOP_CONNECT_BASE=1ms BACKSTOP_CONNECT_MAX_DELAY=2ms \
	python3 -c "$connect_py" localhost "$PORT" >next.out
assert_eq "$(v6_attempts next.jsonl)" 1 "failover = next: attempts on ::1"
assert_eq "$(count_lines '"dest":"\[::ffff:127\.0\.0\.1\]:4567","name":"localhost"' next.jsonl)" 2 \
	"failover = next: the retries on the same socket went to 127.0.0.1"

# 3. localhost, a server on 127.0.0.1 that starts after two retries.
# Generous bounds: nothing depends on how fast anything runs.
late_localhost() { # NAME CLIENT...
	local name=$1
	shift
	local ready ctl="$BS_TMP/$name.ctl" pipe="$BS_TMP/$name.pipe"
	ready=$(ready_fifo "$name")
	mkfifo "$ctl" "$pipe"
	ip netns exec "$ns" "$BS_HELPERS/conn_late_server" -r "$ready" -c "$ctl" >"$name.server" &
	local server=$!
	local port
	port=$(await_ready "$ready")
	exec 6>"$ctl"
	netns_etc_exec "$ns" "$BS_TMP/etc" env LD_PRELOAD="$BS_PRELOAD" BACKSTOP_LOG=fd:3 BACKSTOP_SEED=7 \
		BACKSTOP_CONNECT_ATTEMPTS=30 BACKSTOP_CONNECT_BASE=100ms BACKSTOP_CONNECT_MAX_DELAY=500ms \
		BACKSTOP_CONNECT_DEADLINE=60s "$@" "$port" 3>"$pipe" >"$name.out" 2>&1 &
	local client=$!
	exec 5<"$pipe"
	"$BS_HELPERS/conn_logwait" "$name.jsonl" '"event":"connect.retry"' 2 <&5 ||
		fail "$name: no two connect.retry lines: $(cat "$name.jsonl" "$name.out")"
	echo listen >&6
	cat <&5 >>"$name.jsonl"
	exec 5<&- 6>&-
	wait "$client" || fail "$name: failed under backstop: $(cat "$name.out")"
	wait "$server" || fail "$name: server failed"
	assert_eq "$(cat "$name.server")" "accepted 1" "$name: connections the server saw"
	assert_log_valid "$name.jsonl"
	local v6
	v6=$(v6_attempts "$name.jsonl")
	note "$name: $(count_lines '"event":"connect.retry"' "$name.jsonl") retries, $v6 on ::1, then connected"
}
late_localhost python python3 -c \
	'import socket, sys; print(socket.create_connection(("localhost", int(sys.argv[1]))).getpeername())'
# A blocking client: backstop's retries fail over from ::1 to 127.0.0.1.
assert_grep '"event":"connect.ok","fd":[0-9]+,"dest":"(\[::ffff:)?127\.0\.0\.1\]?:[0-9]+","name":"localhost"' \
	python.jsonl "python: connected to 127.0.0.1"
[ "$(v6_attempts python.jsonl)" -le 1 ] || fail "python: more than one attempt on ::1"
# node (happy eyeballs since v20) under the default, nonblocking = async:
# its own 250 ms attempt timer moves it from ::1 to 127.0.0.1, whose
# refusals backstop hides until the server listens.
late_localhost node node -e '
const s = require("net").connect({host: "localhost", port: +process.argv[1]},
	() => { console.log("connected", s.remoteAddress); s.destroy(); });
s.on("error", e => { console.log("error", e.code); process.exit(1); });'
assert_grep '^connected (::ffff:)?127\.0\.0\.1$' node.out "node: connected to 127.0.0.1"
