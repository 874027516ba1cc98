#!/usr/bin/env bash
# HTTP clients started before their server, under the built-in default with
# no policy file: curl, git ls-remote over HTTP (git-remote-http, libcurl),
# node's http.get (libuv, epoll). And a server whose upstream starts late:
# nginx with proxy_pass answers 200 instead of 502. All connect
# nonblockingly; each fails without backstop.
. "$BS_TOP/tests/integration/lib.sh"
. "$BS_TOP/tests/integration/late.sh"

if runs_under_sanitizer curl; then
	late_listener curl
	late_fails_without curl curl -sS "http://127.0.0.1:$PORT/"
	late_client curl curl -sS "http://127.0.0.1:$PORT/"
	late_listen curl
	late_finish curl
	assert_eq "$(cat "$BS_TMP/curl.out")" ok "curl: response body"
fi

# git over the dumb HTTP protocol: a bare repository served as files.
if runs_under_sanitizer "$(git --exec-path)/git-remote-http"; then
	export HOME="$BS_TMP" GIT_CONFIG_NOSYSTEM=1
	git init -q "$BS_TMP/work"
	git -C "$BS_TMP/work" -c user.name=t -c user.email=t@t commit -q --allow-empty -m one
	git clone -q --bare "$BS_TMP/work" "$BS_TMP/www/repo.git"
	git -C "$BS_TMP/www/repo.git" update-server-info
	GIT_PORT=$(free_port)
	url="http://127.0.0.1:$GIT_PORT/repo.git"
	late_fails_without git git ls-remote "$url"
	late_client git git ls-remote "$url"
	python3 -m http.server --bind 127.0.0.1 --directory "$BS_TMP/www" "$GIT_PORT" \
		>"$BS_TMP/http.server.log" 2>&1 &
	late_finish git
	assert_eq "$(cut -f2 "$BS_TMP/git.out" | grep -c '^refs/heads/')" 1 "git ls-remote: the branch"
fi

node='require("http").get(`http://127.0.0.1:${process.argv[1]}/`, (res) => {
	let body = "";
	res.on("data", (chunk) => (body += chunk));
	res.on("end", () => process.stdout.write(body));
}).on("error", (e) => { console.error(e.message); process.exit(1); });'
late_listener node
late_fails_without node node -e "$node" "$PORT"
late_client node node -e "$node" "$PORT"
late_listen node
late_finish node
assert_eq "$(cat "$BS_TMP/node.out")" ok "node http.get: response body"

# nginx in front of an upstream that comes up late. One process (no
# master), in the foreground, everything under $BS_TMP.
late_listener upstream
NGINX_PORT=$(free_port)
mkdir -p "$BS_TMP/nginx"
cat >"$BS_TMP/nginx/nginx.conf" <<CONF
daemon off;
master_process off;
error_log $BS_TMP/nginx/error.log;
pid $BS_TMP/nginx/nginx.pid;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path $BS_TMP/nginx/body;
	proxy_temp_path $BS_TMP/nginx/proxy;
	fastcgi_temp_path $BS_TMP/nginx/fastcgi;
	uwsgi_temp_path $BS_TMP/nginx/uwsgi;
	scgi_temp_path $BS_TMP/nginx/scgi;
	server {
		listen 127.0.0.1:$NGINX_PORT;
		location / { proxy_pass http://127.0.0.1:$PORT; }
	}
}
CONF
nginx_cmd=(nginx -e "$BS_TMP/nginx/error.log" -p "$BS_TMP/nginx" -c "$BS_TMP/nginx/nginx.conf")
# Whether nginx listens yet: a blocking connect, which backstop retries.
nginx_up() {
	BACKSTOP_LOG=off LD_PRELOAD="$BS_PRELOAD" python3 -c \
		'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1]))).close()' \
		"$NGINX_PORT" || fail "nginx did not come up: $(cat "$BS_TMP/nginx/error.log")"
}
status() { curl -s -o "$BS_TMP/nginx/body.out" -w '%{http_code}' "http://127.0.0.1:$NGINX_PORT/"; }

# Without backstop: 502 Bad Gateway at once.
"${nginx_cmd[@]}" &
plain=$!
nginx_up
assert_eq "$(status)" 502 "nginx without backstop, upstream down"
kill -QUIT "$plain"
wait "$plain" || true

late_start nginx "${nginx_cmd[@]}"
nginx_up
status >"$BS_TMP/nginx/status" &
request=$!
late_await nginx '"event":"connect.retry"' "$LATE_RETRIES"
late_release
late_listen upstream
wait "$request"
assert_eq "$(cat "$BS_TMP/nginx/status")" 200 "nginx under backstop, upstream late"
assert_eq "$(cat "$BS_TMP/nginx/body.out")" ok "nginx: the upstream's body"
kill -QUIT "$LATE_PID"
late_finish nginx
