#!/usr/bin/env bash
# The layers point one way, proven from the built objects and the sources
# (docs/architecture.md):
#  - nothing outside preload/ calls a function the preload interposes
#    (preload/hooks.def): inside the library such a call would bind to the
#    preload's own wrapper (engine/sys.h has the raw system calls);
#  - preload -> engine -> policy: engine objects use no symbol defined in
#    preload objects, policy objects none defined in engine or preload
#    objects; api and cli objects none defined in preload objects;
#  - the same direction at the include level;
#  - the preload's dynamic symbol table holds exactly the hooks.def names.
. "$BS_TOP/tests/integration/lib.sh"

obj="$BS_BUILD/obj"
"$BS_TOP/scripts/hook-names" | sort -u >hooks
[ "$(wc -l <hooks)" -gt 5 ] || fail "could not read preload/hooks.def"

objects() { # LAYER -> its objects, one per source (not stale ones)
	local c
	for c in "$BS_TOP/$1"/*.c; do echo "$obj/$1/$(basename "$c" .c).o"; done
}
defined() { # LAYER... -> global symbols the layers' objects define
	for l in "$@"; do objects "$l" | xargs nm -g --defined-only; done |
		awk 'NF == 3 { print $3 }' | sort -u
}
undefined_in() { # OBJECT -> the symbols it references but does not define
	nm -u "$1" | awk '{ sub(/@.*/, "", $NF); print $NF }' | sort -u
}

defined preload >preload.defs
defined engine >engine.defs
[ -s preload.defs ] && [ -s engine.defs ] || fail "no objects under $obj"
sort -u preload.defs engine.defs >below_engine.defs

bad=0
check_layer() { # LAYER FORBIDDEN-LIST WHAT
	local o
	for o in $(objects "$1"); do
		[ -e "$o" ] || fail "$o not built"
		undefined_in "$o" | comm -12 - "$2" >hits
		if [ -s hits ]; then
			echo "${o#"$obj"/}: $3: $(tr '\n' ' ' <hits)" >&2
			bad=1
		fi
	done
}
for layer in engine policy api cli; do
	check_layer "$layer" hooks "calls an interposed function (use engine/sys.h)"
done
check_layer engine preload.defs "uses a symbol of preload/"
check_layer policy below_engine.defs "uses a symbol of preload/ or engine/"
check_layer api preload.defs "uses a symbol of preload/"
check_layer cli preload.defs "uses a symbol of preload/"
[ "$bad" -eq 0 ] || fail "an object breaks the layering (above)"
note "objects: no interposed call outside preload/, preload -> engine -> policy"

# The same arrows between sources.
cd "$BS_TOP"
{
	grep -n '#include "preload/' engine/* policy/* api/* cli/* || true
	grep -n '#include "engine/' policy/* || true
} >"$BS_TMP/includes"
cd "$BS_TMP"
[ ! -s includes ] || { cat includes >&2; fail "an include points against preload -> engine -> policy"; }
note "includes: preload -> engine -> policy"

nm -D --defined-only "$BS_LIB" | awk '{ sub(/@.*/, "", $NF); print $NF }' | sort -u >exports
if ! diff -u hooks exports >exports.diff; then
	cat exports.diff >&2
	fail "the preload's exports differ from preload/hooks.def ('-': missing, '+': extra)"
fi
note "exports: exactly the $(wc -l <hooks) names of preload/hooks.def"
