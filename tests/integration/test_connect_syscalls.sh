#!/usr/bin/env bash
# A guest is invisible until it acts: counted with strace -f -c, a
# python3 loop of first-try-successful blocking connects (socket, connect,
# accept, close, close on loopback) under the built-in default policy makes
# no more system calls than without backstop (at most 0.05 added per cycle
# over 2,000 cycles), and an idle event loop (poll and epoll_wait on a
# connected socket, after a connect started the watchdog) makes none more
# either. Each count is the difference of a run of N and one of 2N
# iterations, so start-up (the policy, the log, the watchdog's start)
# cancels out; the whole 2,000-cycle run is also checked, start-up
# included, where no sanitizer runtime adds its own.
. "$BS_TOP/tests/integration/lib.sh"
command -v strace >/dev/null || fail "strace is missing (scripts/deps.d/fastpath.list)"
# The interpreter itself: `python3` may be a launcher script (pyenv's shim
# runs a dozen processes), whose calls are no part of the loop.
PY=$(python3 -c 'import sys; print(sys.executable)')

cat >loop.py <<'PY'
import select, socket, sys
n, mode = int(sys.argv[1]), sys.argv[2]
l = socket.socket()
l.bind(("127.0.0.1", 0))
l.listen(64)
addr = l.getsockname()
if mode == "cycles":
    for _ in range(n):
        c = socket.socket()
        c.connect(addr)
        a, _ = l.accept()
        a.close()
        c.close()
else:  # idle: nothing to read, ever
    c = socket.socket()
    c.connect(addr)
    a, _ = l.accept()
    p = select.poll()
    p.register(c, select.POLLIN)
    e = select.epoll()
    e.register(c.fileno(), select.EPOLLIN)
    for _ in range(n):
        assert p.poll(0) == [] and e.poll(0) == []
PY

# System calls of one run, every thread included. A sanitizer's runtime
# maps memory as the program allocates (its allocator keeps freed blocks in
# quarantine): under SANITIZE=..., memory mappings are not counted.
count() { # MODE N [ENV...]
	local mode=$1 n=$2
	shift 2
	env "$@" strace -f -c -o "strace.$mode.$n" "$PY" loop.py "$n" "$mode" ||
		fail "python3 loop.py $n $mode failed"
	awk -v skip="${BS_SANITIZE:+^(mmap|munmap|mprotect|madvise|mremap)\$}" '
		$1 ~ /^[0-9.]+$/ && $NF != "total" && (skip == "" || $NF !~ skip) { n += $4 }
		END { print n }' "strace.$mode.$n"
}

# LeakSanitizer cannot run under ptrace: off for these counts (SANITIZE=address).
pre=(LD_PRELOAD="$BS_PRELOAD" BACKSTOP_LOG="$BS_TMP/log.jsonl"
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0")
for mode in cycles idle; do
	plain1=$(count $mode 2000) plain2=$(count $mode 4000)
	pre1=$(count $mode 2000 "${pre[@]}") pre2=$(count $mode 4000 "${pre[@]}")
	added=$(python3 -c "print(((($pre2) - ($pre1)) - (($plain2) - ($plain1))) / 2000)")
	whole=$(python3 -c "print((($pre1) - ($plain1)) / 2000)")
	note "$mode: plain $plain1/$plain2, backstop $pre1/$pre2 system calls for 2000/4000;" \
		"added per iteration $added (whole 2000-iteration run: $whole)"
	limit=0.05
	[ $mode = idle ] && limit=0.005 # none: one more call per poll would be 1
	python3 -c "import sys; sys.exit(not $added <= $limit)" ||
		fail "$mode: $added system calls added per iteration (at most $limit)"
	if [ -z "${BS_SANITIZE:-}" ] && [ $mode = cycles ]; then
		python3 -c "import sys; sys.exit(not $whole <= 0.05)" ||
			fail "cycles: $whole system calls added per cycle, start-up included"
	fi
done
# First-try successes only: nothing was retried, nothing logged.
assert_no_grep 'connect\.' "$BS_TMP/log.jsonl" "a connect event"
