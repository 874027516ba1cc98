# Sourced by every tests/integration/test_*.sh. The runner
# (tests/runner/integration.c) sets BS_TOP, BS_BUILD, BS_LIB, BS_PRELOAD,
# BS_CLI, BS_HELPERS and BS_TMP (the test's own empty working directory).
#
# Rules: no sleeps for coordination (use ready fifos: `ready_fifo` and
# `await_ready`), no assertion on wall time, ports chosen by the kernel,
# traffic only to loopback or to namespaces the test creates itself.
set -euo pipefail
: "${BS_TOP:?run through make check}" "${BS_PRELOAD:?}" "${BS_TMP:?}"

fail() { echo "FAIL: $*" >&2; exit 1; }
note() { echo "# $*"; }

assert_eq() { # ACTUAL EXPECTED WHAT
	[ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"
}

assert_grep() { # PATTERN FILE WHAT
	grep -Eq -- "$1" "$2" || { cat "$2" >&2; fail "$3: no line matching /$1/ in $2"; }
}

assert_no_grep() { # PATTERN FILE WHAT
	! grep -Eq -- "$1" "$2" || { cat "$2" >&2; fail "$3: unexpected /$1/ in $2"; }
}

count_lines() { # PATTERN FILE
	grep -Ec -- "$1" "$2" || true
}

# Sanitizer variants (make check SANITIZE=...) run what is meaningful under
# that runtime. A test listed here exits 77 at once; the runner prints the
# reason (docs/reliability.md explains the choices).
bs_sanitizer_skip_reason() { # TEST-NAME
	case "${BS_SANITIZE:-}:$1" in
	*address*:bench_smoke | *thread*:bench_smoke)
		echo "benchmarks measure the plain build (their runs preload the library without the sanitizer runtime)" ;;
	*address*:fault_efault | *thread*:fault_efault)
		echo "the sanitizer runtime's own accept interceptor, preloaded before backstop, reads the bad addrlen itself and crashes (without backstop too)" ;;
	*address*:fault_cancel)
		echo "gcc 12's ASan runtime flags its own sigaltstack call (in __asan_handle_no_return) on the stale redzones of the frames pthread_cancel's forced unwinding skipped: a false positive of the runtime" ;;
	*thread*:late_java)
		echo "TSan cannot model the JVM's own synchronisation: it reports races inside libjvm.so (Mutex::lock in a JIT compiler thread on Metaspace memory, PlatformParker), with libtsan alone preloaded too" ;;
	*thread*:async_waiters)
		echo "backstop's epoll_wait runs inside TSan's blocking epoll_wait interceptor, where TSan ignores atomics (ignore_interceptors): the release/acquire that publishes backstop's tables to the waiting thread is invisible, the reads are reported as races, and symbolizing the report calls close, which reports again and deadlocks the runtime" ;;
	*thread*:late_own_timeout)
		echo "curl and psql hang under any sanitizer (p11-kit), TSan cannot model the JVM (late_java), and node's libuv runs backstop's hooks inside TSan's blocking interceptors, where TSan ignores atomics: the report of the race it then imagines deadlocks the runtime (as in async_waiters); the plain build runs all four, the ASan variant node and Java" ;;
	*thread*:fault_sigalrm)
		echo "TSan's runtime catches signals itself and delivers them later, merged, without si_overrun: the signal account cannot hold" ;;
	esac
}
bs_skip_reason=$(bs_sanitizer_skip_reason "$(basename "$0" .sh | sed 's/^test_//')")
if [ -n "$bs_skip_reason" ]; then
	echo "SANITIZE=$BS_SANITIZE: $bs_skip_reason"
	exit 77
fi

# Programs linked with p11-kit (through GnuTLS: curl, git's HTTP helper,
# psql, wget) hang on glibc's setlocale lock under a preloaded sanitizer
# runtime, without backstop too (curl in its own setlocale call, psql in
# p11-kit's destructor's freelocale; wget at exit, not on every run under
# ASan): a case with one runs in the plain build only.
runs_under_sanitizer() { # PROGRAM
	[ -z "${BS_SANITIZE:-}" ] && return 0
	if ldd "$(command -v "$1")" 2>/dev/null | grep -q 'libp11-kit'; then
		note "$(basename "$1"): plain build only (p11-kit hangs under SANITIZE=$BS_SANITIZE)"
		return 1
	fi
}

# asan_env OPTIONS: sets the array ASAN_ENV to an `env` prefix that adds
# OPTIONS to ASAN_OPTIONS for one program in address builds (to nothing in
# the others).
asan_env() {
	ASAN_ENV=()
	if [[ ${BS_SANITIZE:-} == *address* ]]; then
		ASAN_ENV=(env "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}$1")
	fi
}

# Run a command under the preload (and a sanitizer runtime, in those builds).
under_backstop() {
	env LD_PRELOAD="$BS_PRELOAD" "$@"
}

# A TCP port on 127.0.0.1 that was free a moment ago.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Coordination without sleeps: a fifo a helper writes one line to when it
# is ready; await_ready reads it, bounded only against a hang.
ready_fifo() { # NAME -> prints the path
	local f="$BS_TMP/$1.ready"
	rm -f "$f"; mkfifo "$f"; echo "$f"
}
await_ready() { # FIFO [SECONDS] -> prints the line the helper wrote
	local line
	IFS= read -r -t "${2:-60}" line <"$1" || fail "no ready signal on $1"
	echo "$line"
}

# The integration scripts' one log checker (python3's strict json module):
# every line of FILE is a JSON object with the fields every line carries.
# With EVENT, every line of that event also has each FIELD, and the number
# of such lines is printed.
assert_log_valid() { # FILE [EVENT FIELD...]
	python3 - "$@" <<'PY' || fail "log $1 is not valid backstop JSON (above)"
import json, sys
path, event, fields = sys.argv[1], (sys.argv[2:3] or [None])[0], sys.argv[3:]
required = ("ts", "pid", "tid", "prog", "event")
count = 0
for n, line in enumerate(open(path), 1):
    try:
        obj = json.loads(line)
    except ValueError as e:
        sys.exit(f"{path}:{n}: not JSON ({e}): {line}")
    if not isinstance(obj, dict):
        sys.exit(f"{path}:{n}: not an object: {line}")
    missing = [k for k in required if k not in obj]
    if obj.get("event") == event:
        count += 1
        missing += [k for k in fields if k not in obj]
    if missing:
        sys.exit(f"{path}:{n}: missing {missing}: {line}")
if event is not None:
    print(count)
PY
}

# Network namespaces made by this test (named bs$$-NAME), removed when it
# ends. They are found by name: netns_create runs in a command
# substitution, whose variables never reach this shell ($$ does).
netns_create() { # NAME
	local ns="bs$$-$1"
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	echo "$ns"
}

# A namespace in which nftables drops TCP SYNs to PORT: a destination that
# never answers (connects to 127.0.0.1:PORT from inside it hang in SYN_SENT).
netns_blackhole() { # NAME PORT -> prints the namespace
	local ns
	ns=$(netns_create "$1")
	ip netns exec "$ns" nft -f - <<NFT
table inet bs_blackhole {
	chain output {
		type filter hook output priority 0; policy accept;
		tcp dport $2 tcp flags syn drop
	}
}
NFT
	echo "$ns"
}

bs_cleanup() {
	local pids
	pids=$(jobs -p) || true
	[ -n "$pids" ] && kill $pids 2>/dev/null || true
	for ns in $(ip netns list 2>/dev/null | awk -v mine="bs$$-" 'index($1, mine) == 1 { print $1 }'); do
		ip netns del "$ns" 2>/dev/null || true
	done
}
trap bs_cleanup EXIT

# policy.ini with one capped rule for 127.0.0.1 and the log in
# $BS_TMP/log.jsonl; the arguments are that rule's other keys.
capped_policy() { # KEY=VALUE...
	{
		printf '[global]\nlog = %s/log.jsonl\n' "$BS_TMP"
		printf '[dest "capped"]\nmatch = 127.0.0.1/32\n'
		local kv
		for kv in "$@"; do printf '%s = %s\n' "${kv%%=*}" "${kv#*=}"; done
	} >policy.ini
}

# Run CMD inside network namespace NS with its own view of /etc: in a
# private mount namespace, every file of DIR (hosts, resolv.conf,
# nsswitch.conf, ...) is bind-mounted over /etc/NAME, and nscd's socket
# directory is hidden, so lookups read only these files and never a cache.
# The host's own /etc is never touched.
netns_etc_exec() { # NS DIR CMD...
	local ns=$1 dir=$2
	shift 2
	ip netns exec "$ns" unshare -m sh -c '
		dir=$1; shift
		for f in "$dir"/*; do mount --bind "$f" "/etc/${f##*/}" || exit 125; done
		for d in /run/nscd /var/run/nscd; do
			[ -d "$d" ] && { mount -t tmpfs none "$d" || exit 125; }
		done
		exec "$@"' sh "$dir" "$@"
}
