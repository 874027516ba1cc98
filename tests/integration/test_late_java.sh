#!/usr/bin/env bash
# Java started before its servers, under the built-in default with no
# policy file: Socket.connect(address, 5000) (a nonblocking connect and
# poll inside the JDK) and then java.net.http.HttpClient (NIO, a selector on
# epoll), one JVM for both to keep the test short. Socket.connect fails
# without backstop.
. "$BS_TOP/tests/integration/lib.sh"
. "$BS_TOP/tests/integration/late.sh"

cat >"$BS_TMP/Late.java" <<'JAVA'
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;

public class Late {
    // Arguments: socket:PORT or http:PORT, done in order.
    public static void main(String[] args) throws Exception {
        for (String arg : args) {
            String[] kv = arg.split(":");
            int port = Integer.parseInt(kv[1]);
            if (kv[0].equals("socket")) {
                try (Socket s = new Socket()) {
                    s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
                    s.getOutputStream().write("GET / HTTP/1.0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                    InputStream in = s.getInputStream();
                    String reply = new String(in.readAllBytes(), StandardCharsets.US_ASCII);
                    System.out.println("socket " + reply.substring(reply.indexOf("\r\n\r\n") + 4).trim());
                }
            } else {
                HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
                HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/")).build();
                HttpResponse<String> res = client.send(req, HttpResponse.BodyHandlers.ofString());
                System.out.println("http " + res.statusCode() + " " + res.body().trim());
            }
        }
    }
}
JAVA
# Compiled once: the source launcher would compile again for every run.
javac -d "$BS_TMP" "$BS_TMP/Late.java"

late_listener socket
SOCKET_PORT=$PORT
late_listener http
HTTP_PORT=$PORT
late_fails_without java java -cp "$BS_TMP" Late "socket:$SOCKET_PORT"
assert_grep 'java.net.ConnectException' "$BS_TMP/java.plain" "without backstop: refused"

# LeakSanitizer's exit-time scan crashes on the JVM ("Tracer caught signal
# 11"), without backstop too: off for the JVM; address checks stay on.
asan_env detect_leaks=0
late_client java "${ASAN_ENV[@]}" java -cp "$BS_TMP" Late "socket:$SOCKET_PORT" "http:$HTTP_PORT"
late_listen socket
# Then the HttpClient's connect: retried as many times before its server
# comes up. Only retries name a destination before it is reached (the JDK
# connects IPv6 sockets: the log says [::ffff:127.0.0.1]:PORT).
late_await java ":$HTTP_PORT\",\"rule\":" "$LATE_RETRIES"
late_listen http
late_finish java
assert_eq "$(cat "$BS_TMP/java.out")" "socket ok
http 200 ok" "Java: both responses"
