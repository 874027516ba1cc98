# backstop's command line: help, version, and usage errors (exit 2, naming
# the problem) for every subcommand; the man page is lint clean.
. "$BS_TOP/tests/integration/lib.sh"

expect_status() { # STATUS WHAT CMD...
	local want=$1 what=$2 got=0
	shift 2
	"$@" >out 2>err || got=$?
	[ "$got" = "$want" ] || { cat out err >&2; fail "$what: exit $got, expected $want"; }
}

expect_status 0 "--version" "$BS_CLI" --version
assert_grep '^backstop [0-9]+\.[0-9]+\.[0-9]+$' out "--version output"
expect_status 0 "--help" "$BS_CLI" --help
assert_grep 'Exit status' out "top-level help documents exit codes"
expect_status 0 "help" "$BS_CLI" help
expect_status 2 "no command" "$BS_CLI"
expect_status 2 "unknown command" "$BS_CLI" frobnicate
assert_grep "unknown command 'frobnicate'" err "unknown command is named"

for cmd in run check explain log; do
	expect_status 0 "$cmd --help" "$BS_CLI" "$cmd" --help
	assert_grep "^Usage: backstop $cmd" out "$cmd --help"
	assert_grep 'Exit status' out "$cmd --help documents exit codes"
	expect_status 0 "$cmd -h" "$BS_CLI" "$cmd" -h
	expect_status 0 "help $cmd" "$BS_CLI" help "$cmd"
	assert_grep "^Usage: backstop $cmd" out "help $cmd"
	expect_status 2 "$cmd --bogus" "$BS_CLI" "$cmd" --bogus
	assert_grep "backstop $cmd: unknown option '--bogus'" err "$cmd names the unknown option"
	expect_status 2 "$cmd -Q" "$BS_CLI" "$cmd" -Q
	assert_grep "unknown option '-Q'" err "$cmd names the unknown short option"
done

expect_status 2 "run without a command" "$BS_CLI" run
assert_grep 'missing command' err "run names what is missing"
expect_status 2 "run -p without its argument" "$BS_CLI" run -p
assert_grep "option '-p' needs an argument" err "run names the option"
expect_status 2 "run -s without '='" "$BS_CLI" run -s connect.deadline -- true
assert_grep 'expected SECTION.KEY=VALUE' err "-s format"
expect_status 2 "run -s without a section" "$BS_CLI" run -s deadline=3s -- true
expect_status 2 "explain without DEST" "$BS_CLI" explain
assert_grep 'missing DEST' err "explain names what is missing"
expect_status 2 "explain with a bad DEST" "$BS_CLI" explain not-an-address
assert_grep "'not-an-address' is not a destination" err "explain names the bad DEST"
expect_status 2 "explain -n 0" "$BS_CLI" explain -n 0 127.0.0.1:1
expect_status 2 "check with two files" "$BS_CLI" check a b
expect_status 2 "log --by nonsense" "$BS_CLI" log --by nonsense /dev/null
assert_grep "expected dest, event, prog or rule" err "log --by names the choices"
expect_status 2 "log --since nonsense" "$BS_CLI" log --since yesterday /dev/null
expect_status 2 "log --plot without a file" "$BS_CLI" log --plot

# The man page renders without a single warning.
man --warnings -l "$BS_TOP/man/backstop.1" >/dev/null 2>manlint || { cat manlint >&2; fail "man cannot render man/backstop.1"; }
[ ! -s manlint ] || { cat manlint >&2; fail "man --warnings reports problems in man/backstop.1"; }
