#!/usr/bin/env bash
# `make install PREFIX=... DESTDIR=...` puts every piece where docs/install.md
# says, the installed `backstop run` finds the installed preload library and
# a program run through it really is under backstop (it logs retries
# against a refused port), and `make uninstall` leaves nothing behind.
. "$BS_TOP/tests/integration/lib.sh"
. "$BS_TOP/tests/api/install.sh"

dest=$BS_TMP/dest prefix=/opt/backstop-install-test
root=$dest$prefix
bs_install "$dest" "$prefix" >install.out 2>&1 || { cat install.out; fail "make install"; }

for f in bin/backstop lib/backstop/libbackstop-preload.so lib/libbackstop.so \
	lib/libbackstop.so.0 include/backstop/backstop.h lib/pkgconfig/backstop.pc \
	share/doc/backstop/README.md share/doc/backstop/examples/db-client.conf \
	share/doc/backstop/examples/systemd/backstop.conf \
	share/man/man5/backstop.conf.5 share/man/man5/backstop-log.5; do
	[ -e "$root/$f" ] || fail "not installed: $f"
done
[ -L "$root/lib/libbackstop.so" ] || fail "lib/libbackstop.so should be the dev symlink"
assert_eq "$(readlink "$root/lib/libbackstop.so.0")" "libbackstop.so.$(
	sed -n 's/^#define BACKSTOP_VERSION "\(.*\)"/\1/p' "$BS_TOP/include/backstop/backstop.h")" \
	"soname link"
for m in "$BS_TOP"/man/*.1; do
	[ -e "$m" ] || continue
	[ -e "$root/share/man/man1/${m##*/}" ] || fail "man page not installed: ${m##*/}"
done
# The preload library exports the interposed calls, the API library does not.
nm -D --defined-only "$root/lib/backstop/libbackstop-preload.so" | grep -qw connect ||
	fail "lib/backstop/libbackstop-preload.so is not the preload library"
! nm -D --defined-only "$root/lib/libbackstop.so.0" | grep -qw connect ||
	fail "lib/libbackstop.so (what -lbackstop links) must not interpose connect"

if [ -n "${BS_SANITIZE:-}" ]; then
	note "sanitizer build: the installed preload needs its runtime first; run check skipped"
else
	# The installed CLI puts the installed library in LD_PRELOAD ...
	"$root/bin/backstop" run -- env >env.out 2>run.err || { cat run.err; fail "backstop run -- env"; }
	assert_grep "^LD_PRELOAD=$root/lib/backstop/libbackstop-preload\.so" env.out "LD_PRELOAD of the installed library"

	# ... and the library acts: two attempts against a refused port, one retry logged.
	port=$(free_port)
	BACKSTOP_CONNECT_ATTEMPTS=2 BACKSTOP_CONNECT_BASE=1ms \
		"$root/bin/backstop" run -l "$BS_TMP/run.jsonl" -- \
		"$BS_HELPERS/legacy_client" --tries 1 127.0.0.1 "$port" >client.out 2>&1 &&
		fail "the client connected to a port nobody listens on"
	assert_log_valid run.jsonl
	assert_eq "$(count_lines '"event": ?"connect\.retry"' run.jsonl)" 1 "retries logged"
	assert_grep '"event": ?"connect\.giveup"' run.jsonl "give-up logged"
fi

bs_install "$dest" "$prefix" uninstall >uninstall.out 2>&1 || { cat uninstall.out; fail "make uninstall"; }
left=$(find "$dest" -mindepth 1 ! -type d; find "$dest" -mindepth 1 -type d -path "$root*")
[ -z "$left" ] || fail "left after uninstall: $left"
note "install ok"
