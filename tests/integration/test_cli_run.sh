# backstop run: the command sees the library in LD_PRELOAD and the settings
# as BACKSTOP_* variables; a bad policy stops before exec; static binaries
# get a warning; the command's exit status comes back.
. "$BS_TOP/tests/integration/lib.sh"
unset BACKSTOP_POLICY BACKSTOP_LOG

# In sanitizer builds the runtime must stay first in LD_PRELOAD; backstop
# run keeps it there. Elsewhere LD_PRELOAD starts empty.
san=${BS_PRELOAD%"$BS_LIB"}; san=${san% }
bs_run() { env LD_PRELOAD="$san" "$BS_CLI" run "$@"; }

printf '[dest "db"]\nmatch = 127.0.0.1:5432\n' >p.conf
bs_run -p p.conf -l off -s connect.deadline=3s -s dest.db.max_conns=4 -- env >out 2>err ||
	{ cat err >&2; fail "run env"; }
lib=$(readlink -f "$BS_LIB")
assert_grep "^LD_PRELOAD=(.*:)?$lib(:|\$)" out "the library is in LD_PRELOAD"
assert_grep "^BACKSTOP_POLICY=$BS_TMP/p\.conf\$" out "-p is BACKSTOP_POLICY, made absolute"
assert_grep '^BACKSTOP_LOG=off$' out "-l is BACKSTOP_LOG"
assert_grep '^BACKSTOP_CONNECT_DEADLINE=3s$' out "-s connect.deadline"
assert_grep '^BACKSTOP_DEST_DB_MAX_CONNS=4$' out "-s dest.db.max_conns"

# Existing LD_PRELOAD entries are kept, and the library is not listed twice.
env LD_PRELOAD="$san${san:+ }$lib /nonexistent/other.so" "$BS_CLI" run -l off -- \
	sh -c 'echo "$LD_PRELOAD"' >out 2>err || { cat err >&2; fail "run with LD_PRELOAD set"; }
assert_eq "$(grep -o "$lib" out | wc -l)" 1 "the library appears once"
assert_grep '/nonexistent/other\.so' out "other preloads are kept"

# A relative log path becomes absolute.
mkdir -p sub && bs_run -l sub/x.jsonl -- env >out 2>err || { cat err >&2; fail "run -l relative"; }
assert_grep "^BACKSTOP_LOG=$BS_TMP/sub/x\.jsonl\$" out "a relative log path is made absolute"

# A bad setting or policy is refused before anything runs.
rc=0; bs_run -s connect.atempts=3 -- touch ran >out 2>err || rc=$?
assert_eq "$rc" 1 "run with a bad -s"
assert_grep 'BACKSTOP_CONNECT_ATEMPTS' err "the error names the variable"
[ ! -e ran ] || fail "the command ran despite a bad policy"
printf '[connect]\natempts = 3\n' >bad.conf
rc=0; bs_run -p bad.conf -- touch ran >out 2>err || rc=$?
assert_eq "$rc" 1 "run with a bad policy file"
assert_grep "bad\.conf:2: unknown key 'atempts'" err "the error names file, line and key"
[ ! -e ran ] || fail "the command ran despite a bad policy file"

# The exit status of the command comes back; 127 and 126 as a shell does.
rc=0; bs_run -l off -- sh -c 'exit 42' || rc=$?
assert_eq "$rc" 42 "exit status of the command"
rc=0; bs_run -l off -- no-such-command-h3 2>err || rc=$?
assert_eq "$rc" 127 "a missing command"
assert_grep 'no-such-command-h3: command not found' err "a missing command is named"
printf '#!/bin/sh\nexit 0\n' >noexec.sh
rc=0; bs_run -l off -- ./noexec.sh 2>err || rc=$?
assert_eq "$rc" 126 "a file without execute permission"

# A statically linked program gets a warning (and still runs).
printf '#include <stdlib.h>\nint main(void) { return 3; }\n' >static_prog.c
gcc -static -o static_prog static_prog.c
rc=0; bs_run -l off -- ./static_prog 2>err || rc=$?
assert_eq "$rc" 3 "a static program runs"
assert_grep 'warning: \./static_prog is statically linked; LD_PRELOAD cannot reach it' err \
	"the static binary warning"
bs_run -l off -- true 2>err || fail "run true"
assert_no_grep 'warning' err "no warning for a dynamic program"
# ... and a script whose interpreter is static.
printf '#!%s\n' "$BS_TMP/static_prog" >script && chmod +x script
rc=0; bs_run -l off -- ./script 2>err || rc=$?
assert_grep "runs $BS_TMP/static_prog, which is statically linked" err "a script's static interpreter"

# A setuid program gets a warning.
cp "$(type -P true)" suid_true && chmod u+s suid_true
bs_run -l off -- ./suid_true 2>err || true
assert_grep 'is setuid; under secure execution' err "the setuid warning"

