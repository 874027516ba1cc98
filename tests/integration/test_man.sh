#!/usr/bin/env bash
# The man pages are lint-clean (`man --warnings` prints nothing for any page
# in man/), and backstop.conf(5) documents exactly the keys the code
# accepts: the keys `backstop check` prints for the built-in default and for
# a policy with a [dest] rule and one with a [wrap] section, no more and
# no fewer.
. "$BS_TOP/tests/integration/lib.sh"

pages=("$BS_TOP"/man/*.[1-8])
[ -e "${pages[0]}" ] || fail "no man pages in man/"
for page in "${pages[@]}"; do
	# man writes warnings to stderr; any output there is a lint failure.
	MANWIDTH=80 man --warnings -E UTF-8 -l "$page" >/dev/null 2>lint.out ||
		fail "man cannot format ${page##*/}"
	[ ! -s lint.out ] || { cat lint.out; fail "${page##*/} has groff warnings"; }
	note "lint ok: ${page##*/}"
done

# Keys the code knows, as SECTION.KEY ("dest" for keys of a [dest] rule).
env -i PATH="$PATH" "$BS_CLI" check >builtin.out || fail "backstop check (built-in)"
printf '[dest "t"]\nmatch = 127.0.0.1:1\nexempt = 10.0.0.0/8\n' >dest.conf
env -i PATH="$PATH" "$BS_CLI" check dest.conf >dest.out || fail "backstop check dest.conf"
printf '[wrap "t"]\nreturns = int\nretry_if = return == 1\n' >wrap.conf
env -i PATH="$PATH" "$BS_CLI" check wrap.conf >wrap.out || fail "backstop check wrap.conf"
{
	sed -nE 's/^([a-z]+\.[a-z_]+) = .*/\1/p' builtin.out
	sed -nE 's/^dest "t"\.([a-z_]+) = .*/dest.\1/p' dest.out
	sed -nE 's/^wrap "t"\.([a-z_]+) = .*/wrap.\1/p' wrap.out
} | sort -u >code.keys
[ "$(wc -l <code.keys)" -gt 20 ] || { cat builtin.out; fail "could not read the keys from backstop check"; }

# Keys the man page documents: `.TP` then `.B KEY` under a `.SH "[SECTION] ..."`
# heading. A [dest] rule also takes every [connect] key (the page says so).
awk '
	/^\.SH "\[/ { s = $0; sub(/^\.SH "\[/, "", s); sub(/[] ].*/, "", s); next }
	/^\.SH/ { s = ""; next }
	prev == ".TP" && s != "" && /^\.B [a-z_]+$/ { print s "." $2 }
	{ prev = $0 }
' "$BS_TOP/man/backstop.conf.5" >man.raw
sed -n 's/^connect\./dest./p' man.raw | cat - man.raw | sort -u >man.keys

if ! diff -u code.keys man.keys >keys.diff; then
	cat keys.diff
	fail "backstop.conf.5 and the code disagree on keys ('-': undocumented, '+': unknown to the code)"
fi
note "backstop.conf.5 documents all $(wc -l <code.keys) keys"
