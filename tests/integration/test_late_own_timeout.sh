#!/usr/bin/env bash
# A program's own connect timeout holds under the built-in default: against
# a server that never answers (nftables drops the SYNs, in a network
# namespace of our own), curl --connect-timeout 1, node's socket timeout,
# Java's Socket.connect timeout and psql's connect_timeout each end with
# their own error, not with backstop's deadline (10 s, ETIMEDOUT from
# connect). Asserted on the error kind and on the log (no deadline give-up),
# not on time. Under `nonblocking = sync` each of them fails this test.
. "$BS_TOP/tests/integration/lib.sh"
. "$BS_TOP/tests/integration/late.sh"

ns=$(netns_blackhole owntimeout 9)

# blackhole NAME CMD...: run CMD in the namespace under the preload; its
# output in $BS_TMP/NAME.out, its exit status in $BS_TMP/NAME.rc.
blackhole() {
	local name=$1 rc=0
	shift
	ip netns exec "$ns" env BACKSTOP_LOG="$BS_TMP/$name.jsonl" LD_PRELOAD="$BS_PRELOAD" "$@" \
		>"$BS_TMP/$name.out" 2>&1 || rc=$?
	echo "$rc" >"$BS_TMP/$name.rc"
	assert_log_valid "$BS_TMP/$name.jsonl"
	assert_no_grep '"event":"connect.giveup".*"reason":"deadline"' "$BS_TMP/$name.jsonl" \
		"$name: backstop's deadline ended the call, not the program's timeout"
	note "$name: exit $rc: $(head -c 200 "$BS_TMP/$name.out")"
}

# CURLE_OPERATION_TIMEDOUT (28): curl's own timer, not a failed connect (7).
if runs_under_sanitizer curl; then
	blackhole curl curl -sS --connect-timeout 1 http://127.0.0.1:9/
	assert_eq "$(cat "$BS_TMP/curl.rc")" 28 "curl --connect-timeout 1: exit status"
fi

blackhole node node -e 'const net = require("net");
const s = net.connect({ host: "127.0.0.1", port: 9, timeout: 1000 });
s.on("timeout", () => { console.log("own timeout"); s.destroy(); });
s.on("connect", () => console.log("connected"));
s.on("error", (e) => console.log("error " + e.code));'
assert_eq "$(cat "$BS_TMP/node.out")" "own timeout" "node: the socket's timeout event"

cat >"$BS_TMP/OwnTimeout.java" <<'JAVA'
import java.net.InetSocketAddress;
import java.net.Socket;

public class OwnTimeout {
    public static void main(String[] args) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", 9), 1000);
            System.out.println("connected");
        } catch (Exception e) {
            System.out.println(e.getClass().getName());
        }
    }
}
JAVA
javac -d "$BS_TMP" "$BS_TMP/OwnTimeout.java"
asan_env detect_leaks=0 # the JVM: see test_late_java.sh
blackhole java "${ASAN_ENV[@]}" java -cp "$BS_TMP" OwnTimeout
# java.net.ConnectException ("Connection timed out") would be backstop's.
assert_eq "$(cat "$BS_TMP/java.out")" java.net.SocketTimeoutException "Java: connect timeout"

# libpq's smallest connect_timeout is 2 s.
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
runs_under_sanitizer "$PGBIN/psql" || exit 0
blackhole psql "$PGBIN/psql" -X "host=127.0.0.1 port=9 user=postgres connect_timeout=2" -c 'select 1'
assert_eq "$(cat "$BS_TMP/psql.rc")" 2 "psql: exit status (connection failed)"
assert_grep 'timeout expired' "$BS_TMP/psql.out" "psql: libpq's own connect_timeout"
