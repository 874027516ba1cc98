#!/usr/bin/env bash
# Pure sleeps through readiness calls: select with no descriptors (perl's
# select(undef, undef, undef, t), python's select.select([], [], [], t))
# and poll with none (python's select.poll().poll(ms)) are sleeps, and the
# [sleep] policy applies to them as to nanosleep: one sleep.adjust line
# each under mode = all. The call's contract holds: select's time left is
# written back (0 after a whole sleep), and a signal still ends it with
# EINTR.
. "$BS_TOP/tests/integration/lib.sh"

export BACKSTOP_SLEEP_MODE=all BACKSTOP_SLEEP_JITTER=50% BACKSTOP_SLEEP_FLOOR=1ms BACKSTOP_SEED=3

run() { # LABEL CMD...: prints the command's output; the log is LABEL.jsonl
	local label=$1
	shift
	env BACKSTOP_LOG="$BS_TMP/$label.jsonl" LD_PRELOAD="$BS_PRELOAD" "$@"
}
adjusted() { # LABEL: the requested_ms of its sleep.adjust lines
	count_lines '"event":"sleep.adjust","requested_ms":30.000' "$BS_TMP/$1.jsonl"
}

out=$(run perl perl -e 'for (1..4) { my ($n, $left) = select(undef, undef, undef, 0.03); print "$n $left\n" }')
assert_eq "$out" "$(printf '0 0\n%.0s' 1 2 3 4)" "perl select: result and time left"
assert_eq "$(adjusted perl)" 4 "perl select: sleep.adjust lines"

out=$(run pyselect python3 -c '
import select
for _ in range(4):
    print(select.select([], [], [], 0.03))')
assert_eq "$(echo "$out" | sort -u)" "([], [], [])" "python select"
assert_eq "$(adjusted pyselect)" 4 "python select: sleep.adjust lines"

out=$(run pypoll python3 -c '
import select
p = select.poll()
for _ in range(4):
    print(p.poll(30))')
assert_eq "$(echo "$out" | sort -u)" "[]" "python poll"
assert_eq "$(adjusted pypoll)" 4 "python poll with no descriptors: sleep.adjust lines"

# A signal ends the adjusted sleep with EINTR, as it ends select.
out=$(run eintr perl -MTime::HiRes=ualarm -MErrno=EINTR -e '
$SIG{ALRM} = sub {};
ualarm(20000);
my $n = select(undef, undef, undef, 5);
print $n, " ", ($!{EINTR} ? "EINTR" : "other"), "\n"')
assert_eq "$out" "-1 EINTR" "perl select interrupted"
assert_grep '"event":"sleep.adjust","requested_ms":5000.000' "$BS_TMP/eintr.jsonl" "interrupted sleep was adjusted"
