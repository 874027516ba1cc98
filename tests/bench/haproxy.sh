# HAProxy as an operator would set it up for retries and caps: TCP mode,
# retries 3, timeout connect, maxconn per server (sourced).

# Start haproxy on 127.0.0.1:LISTEN in front of 127.0.0.1:SERVER; prints
# its pid once it accepts connections.
haproxy_start() { # DIR LISTEN SERVER
	cat >"$1/haproxy.cfg" <<CFG
global
	nbthread 1
	maxconn 4096
defaults
	mode tcp
	retries 3
	timeout connect 500ms
	timeout client 10s
	timeout server 10s
listen bench
	bind 127.0.0.1:$2
	server app 127.0.0.1:$3 maxconn 32
CFG
	haproxy -db -f "$1/haproxy.cfg" >"$1/haproxy.log" 2>&1 &
	local pid=$! i
	for ((i = 0; i < 100; i++)); do # bounded: until the port answers
		(exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null && { echo $pid; return 0; }
		kill -0 $pid 2>/dev/null || break
		sleep 0.05
	done
	cat "$1/haproxy.log" >&2
	return 1
}

# The same caps and retries for the direct client under backstop.
policy_like_haproxy() {
	policy like_haproxy <<'P'
[connect]
attempts = 4
attempt_timeout = 500ms
deadline = 10s
[dest "app"]
match = 127.0.0.1
max_conns = 32
P
}
