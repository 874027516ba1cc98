#!/usr/bin/env bash
# The C API as a user gets it: installed into a staging DESTDIR, a program
# compiled with nothing but `pkg-config --cflags --libs backstop`, run
# against the installed library. Asserts the matched rule and its settings,
# delays within the rule's backoff bounds and reproducible for a seed, the
# log line in the preload's format, errors naming FILE:LINE, and that the
# library exports nothing but the API.
. "$BS_TOP/tests/integration/lib.sh"
. "$BS_TOP/tests/api/install.sh"

dest=$BS_TMP/dest prefix=/opt/backstop-api-test
bs_install "$dest" "$prefix" >install.out 2>&1 || { cat install.out; fail "make install"; }
libdir=$dest$prefix/lib

export PKG_CONFIG_PATH=$libdir/pkgconfig PKG_CONFIG_SYSROOT_DIR=$dest
flags=$(pkg-config --cflags --libs backstop) || fail "pkg-config does not know backstop"
note "pkg-config: $flags"
assert_eq "$(pkg-config --modversion backstop)" \
	"$(sed -n 's/^#define BACKSTOP_VERSION "\(.*\)"/\1/p' "$BS_TOP/include/backstop/backstop.h")" \
	"backstop.pc version"
cc -std=c11 -Wall -Wextra -Werror -o api_demo "$BS_TOP/tests/api/api_demo.c" $flags ||
	fail "the API program does not build from the installed header and .pc"

# It links the API library (soname .so.0), never the preload.
LD_LIBRARY_PATH=$libdir ldd ./api_demo >ldd.out
assert_grep "libbackstop\.so\.0 => $libdir/libbackstop\.so\.0" ldd.out "linked API library"
assert_no_grep "lib/backstop/" ldd.out "the preload library must not be linked"

# Only backstop_* leaves the API library.
nm -D --defined-only "$libdir/libbackstop.so.0" | awk '{print $NF}' >exports
[ -s exports ] || fail "the API library exports nothing"
grep -v '^backstop_' exports >extra || true
[ ! -s extra ] || { cat extra; fail "the API library exports symbols beyond backstop_*"; }

cat >policy.conf <<CONF
[global]
log = $BS_TMP/api.jsonl

[connect]
attempts = 4

[dest "db"]
match = 127.0.0.1:5432
attempts = 6
base = 100ms
factor = 2
max_delay = 1s
jitter = full
deadline = 9s
max_conns = 3
CONF

demo() { LD_LIBRARY_PATH=$libdir run_installed ./api_demo "$@"; }
demo policy.conf 127.0.0.1:5432 42 8 >run1 || { cat run1; fail "api_demo run 1"; }
demo policy.conf 127.0.0.1:5432 42 8 >run2 || fail "api_demo run 2"
demo policy.conf 127.0.0.1:5432 43 8 >run3 || fail "api_demo run 3"
demo policy.conf 127.0.0.1:80 42 1 >other || fail "api_demo other"
cat run1

assert_grep '^header ([0-9.]+) library \1$' run1 "header and library versions agree"
assert_grep '^rule db attempts 6 deadline_ms 9000 base_ms 100 max_delay_ms 1000 max_conns 3 retry_ECONNREFUSED 1 retry_EACCES 0$' \
	run1 "rule db and its settings"
assert_grep '^rule connect attempts 4 ' other "an unmatched destination gets [connect]"
assert_eq "$(grep ^delays run1)" "$(grep ^delays run2)" "same seed, same delays"
[ "$(grep ^delays run1)" != "$(grep ^delays run3)" ] || fail "another seed gave the same delays"

# Full jitter: retry n waits uniformly in [0, min(max_delay, base*2^(n-1))].
grep ^delays run1 | python3 -c '
import sys
d = [float(x) for x in sys.stdin.read().split()[1:]]
assert len(d) == 8, d
for n, v in enumerate(d, 1):
    ceiling = min(1000.0, 100.0 * 2 ** (n - 1))
    assert 0 <= v <= ceiling, (n, v, ceiling)
assert len(set(d)) > 1, d
' || fail "delays outside the rule's backoff bounds"

# The line it logged: valid JSON, required fields, the fields as given.
assert_log_valid api.jsonl
assert_eq "$(count_lines . api.jsonl)" 4 "one line per run"
python3 - api.jsonl run1 <<'PY' || fail "logged line does not match"
import json, sys
obj = json.loads(open(sys.argv[1]).readline())
delays = [l for l in open(sys.argv[2]) if l.startswith("delays ")][0]
last = float(delays.split()[-1])
want = {"event": "connect.retry", "prog": "api_demo", "fd": 3,
        "dest": "127.0.0.1:5432", "rule": "db", "attempt": 1, "attempts": 6,
        "errno": "ECONNREFUSED", "note": 'quote " backslash \\ newline \n'}
for k, v in want.items():
    assert obj.get(k) == v, (k, obj.get(k), v)
assert abs(float(obj["delay_ms"]) - last) < 0.001, (obj["delay_ms"], last)
assert float(obj["deadline_left_ms"]) == 9000, obj
PY

# A bad policy is an error naming the file, the line and the key.
printf '[connect]\nattempts = 3\nbogus_key = 1\n' >bad.conf
demo --check bad.conf >bad.out && fail "a bad policy loaded"
assert_grep "^error .*bad\.conf:3.*bogus_key" bad.out "error names FILE:LINE and key"
note "api ok"
