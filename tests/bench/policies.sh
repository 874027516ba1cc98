# The policy variants the overhead and scale sections compare (sourced).
# Each rule matches the loop's own destination, so the rule is really
# consulted on every call; log = off in none of them: the fast path logs
# nothing when nothing fails.

policy_attempt_timeout() {
	policy attempt_timeout <<'P'
[dest "loop"]
match = 127.0.0.0/8
attempt_timeout = 500ms
P
}

policy_max_conns() { # a cap high enough never to wait
	policy max_conns <<'P'
[dest "loop"]
match = 127.0.0.0/8
max_conns = 1000000
P
}

policy_max_per_client() {
	policy max_per_client <<'P'
[accept]
max_per_client = 1000000
P
}

# N [dest] rules: N-1 that never match 127.0.0.1 and the one that does,
# last, so matching sees them all.
policy_rules() { # N
	{
		for ((i = 1; i < $1; i++)); do
			printf '[dest "r%d"]\nmatch = 10.%d.%d.0/24:%d\n' \
				"$i" $((i / 256 % 256)) $((i % 256)) $((1000 + i % 5000))
		done
		printf '[dest "loop"]\nmatch = 127.0.0.0/8\nattempt_timeout = 500ms\n'
	} | policy "rules_$1"
}
