#!/usr/bin/env bash
# A resolver that answers SERVFAIL during a restart: in a network namespace
# of our own, tests/helpers/dns_server.py answers SERVFAIL to the first two
# queries of each name and type, then the A record; the clients see a
# resolv.conf pointing at it (netns_etc_exec: a private mount namespace,
# the host's /etc/resolv.conf untouched, nscd hidden, one try per lookup).
# getent ahosts, python3 socket.create_connection, curl and perl's
# gethostbyname (gethostbyname_r in a threaded perl) fail to resolve
# without backstop and get through under the built-in default, with
# dns.retry logged; [dns] mode = off and a spent attempts count give the
# failure back, and so does a signal whose handler does not restart.
. "$BS_TOP/tests/integration/lib.sh"

ns=$(netns_create dns)
mkdir etc
printf 'nameserver 127.0.0.1\noptions attempts:1 timeout:5\n' >etc/resolv.conf
printf '127.0.0.1 localhost\n' >etc/hosts
printf 'hosts: files dns\n' >etc/nsswitch.conf

names=()
for n in getent python curl perl; do names+=("$n.test=127.0.0.1" "$n-plain.test=127.0.0.1"); done
names+=(off.test=127.0.0.1 limit.test=127.0.0.1 signal.test=127.0.0.1)
ready=$(ready_fifo dns)
ip netns exec "$ns" python3 "$BS_TOP/tests/helpers/dns_server.py" "$ready" "$BS_TMP/queries" 2 \
	"${names[@]}" &
await_ready "$ready" >/dev/null

# A server for the clients that connect (python3, and curl in the plain
# build: see below): listening at once.
accepts=2
[ -z "${BS_SANITIZE:-}" ] || accepts=1
ready=$(ready_fifo http) listening=$(ready_fifo http-listening)
mkfifo http.ctl
ip netns exec "$ns" "$BS_HELPERS/conn_late_server" -r "$ready" -c http.ctl -n "$accepts" \
	-l "$listening" >http.out &
SERVER=$!
PORT=$(await_ready "$ready")
echo listen >http.ctl
await_ready "$listening" >/dev/null

plain() { # CMD...: in the namespace, without backstop
	netns_etc_exec "$ns" "$BS_TMP/etc" "$@"
}
backstop() { # LOG CMD...: in the namespace, under the built-in policy
	local log=$1
	shift
	netns_etc_exec "$ns" "$BS_TMP/etc" env LD_PRELOAD="$BS_PRELOAD" BACKSTOP_LOG="$BS_TMP/$log" \
		BACKSTOP_SEED=3 "$@"
}

# resolves NAME CMD-WITH-@NAME@: fails plainly on NAME-plain.test, gets
# through under backstop on NAME.test after logged retries.
resolves() { # NAME CALL CMD...
	local name=$1 call=$2
	shift 2
	local cmd=("${@//@NAME@/$name-plain.test}")
	plain "${cmd[@]}" >"$name.plain" 2>&1 && fail "$name: resolved without backstop: $(cat "$name.plain")"
	cmd=("${@//@NAME@/$name.test}")
	backstop "$name.jsonl" "${cmd[@]}" >"$name.out" 2>&1 ||
		fail "$name: failed under backstop: $(cat "$name.out" "$name.jsonl")"
	assert_log_valid "$name.jsonl"
	local retries
	retries=$(count_lines "\"event\":\"dns.retry\",\"name\":\"$name.test\",\"call\":\"$call\",\"attempt\":[0-9]+,\"attempts\":0,\"error\":\"EAI_AGAIN\",\"delay_ms\":" "$name.jsonl")
	[ "$retries" -ge 1 ] || fail "$name: no dns.retry: $(cat "$name.jsonl")"
	assert_grep "\"event\":\"dns.ok\",\"name\":\"$name.test\",\"call\":\"$call\",\"attempt\":$((retries + 1)),\"elapsed_ms\":" \
		"$name.jsonl" "$name: dns.ok after the retries"
	assert_no_grep '"event":"dns.giveup"' "$name.jsonl" "$name"
	note "$name: $retries dns.retry, then resolved"
}

resolves getent getaddrinfo getent ahosts @NAME@
assert_grep '^127\.0\.0\.1 +STREAM getent\.test' getent.out "getent's answer"

resolves python getaddrinfo python3 -c \
	'import socket, sys; socket.create_connection((sys.argv[1], int(sys.argv[2]))).close()' @NAME@ "$PORT"

# curl deadlocks in its own setlocale under a preloaded sanitizer runtime,
# with or without backstop (test_connect_late.sh): plain build only.
if [ -z "${BS_SANITIZE:-}" ]; then
	resolves curl getaddrinfo curl -sS --max-time 60 "http://@NAME@:$PORT/"
	assert_eq "$(cat curl.out)" ok "curl: response body"
fi

resolves perl gethostbyname_r perl -e \
	'my @h = gethostbyname($ARGV[0]) or die "no address: $?\n"; print join(".", unpack("C4", $h[4])), "\n"' @NAME@
assert_eq "$(cat perl.out)" 127.0.0.1 "perl's address"

# mode = off: the preload leaves lookups alone.
backstop off.jsonl env BACKSTOP_DNS_MODE=off getent ahosts off.test >off.out 2>&1 &&
	fail "resolved with [dns] mode = off"
assert_no_grep '"event":"dns\.' off.jsonl "mode = off"

# attempts = 2: the second failure gives up, and the program sees it.
backstop limit.jsonl env BACKSTOP_DNS_ATTEMPTS=2 getent ahosts limit.test >limit.out 2>&1 &&
	fail "resolved within two attempts"
assert_eq "$(count_lines '"event":"dns.retry","name":"limit.test"' limit.jsonl)" 1 "retries before the give-up"
assert_grep '"event":"dns.giveup","name":"limit.test","call":"getaddrinfo","attempt":2,"error":"EAI_AGAIN","reason":"attempts"' \
	limit.jsonl "give-up after two attempts"

# A signal during the pause, its handler installed without SA_RESTART
# (python's): the call ends at once with the last lookup's error, as the
# program's own handler asked (the pause is long, and the signal is sent
# once the retry before it is logged).
mkfifo signal.pipe
netns_etc_exec "$ns" "$BS_TMP/etc" env LD_PRELOAD="$BS_PRELOAD" BACKSTOP_LOG=fd:3 \
	BACKSTOP_DNS_BASE=30s BACKSTOP_DNS_MAX_DELAY=30s BACKSTOP_DNS_JITTER=none \
	BACKSTOP_DNS_DEADLINE=5m python3 -c 'import os, signal, socket, sys
signal.signal(signal.SIGUSR1, lambda *a: None)
print(os.getpid(), flush=True)
try:
    socket.getaddrinfo("signal.test", 80)
    print("resolved")
except socket.gaierror as e:
    print("gaierror", e.errno)' 3>signal.pipe >signal.out 2>&1 &
client=$!
exec 5<signal.pipe
"$BS_HELPERS/conn_logwait" signal.jsonl '"event":"dns.retry"' 1 <&5 || fail "no dns.retry before the signal"
kill -USR1 "$(head -1 signal.out)"
cat <&5 >>signal.jsonl
exec 5<&-
wait "$client" || fail "python failed: $(cat signal.out)"
assert_eq "$(sed -n 2p signal.out)" "gaierror -3" "EAI_AGAIN after the interrupted pause"
assert_grep '"event":"dns.giveup","name":"signal.test","call":"getaddrinfo","attempt":1,"error":"EAI_AGAIN","reason":"interrupted"' \
	signal.jsonl "give-up after the signal"

# Each lookup was the real one: the server saw every query of it.
assert_grep '^getent\.test 1 0$' queries "the A query answered at last"
wait "$SERVER" || fail "http server: $(cat http.out)"
assert_eq "$(cat http.out)" "accepted $accepts" "connections the server saw"
