#!/usr/bin/env bash
# A short fuzzing pass in every `make check`: each libFuzzer target of
# tests/fuzz/ (built by mk/fuzz.mk, ASan+UBSan) first replays its whole
# seed corpus, which holds every crash found so far as a regression input,
# then fuzzes for FUZZ_SMOKE_SECONDS (default 3) from it. Any crash, leak,
# UBSan report or failed property fails the test. `make fuzz` runs longer.
. "$BS_TOP/tests/integration/lib.sh"

seconds=${FUZZ_SMOKE_SECONDS:-3}
targets=()
for bin in "$BS_BUILD"/fuzz/fuzz_*; do [ -f "$bin" ] && [ -x "$bin" ] && targets+=("$bin"); done
[ ${#targets[@]} -ge 5 ] || fail "expected 5 fuzz targets in $BS_BUILD/fuzz (mk/fuzz.mk), found ${#targets[@]}"

for bin in "${targets[@]}"; do
	t=${bin##*/}
	seeds="$BS_TOP/tests/fuzz/corpus/$t"
	n=$(find "$seeds" -type f | wc -l)
	[ "$n" -gt 0 ] || fail "$t: empty seed corpus $seeds"
	"$bin" -runs=0 "$seeds" >"$t.replay.log" 2>&1 ||
		{ tail -40 "$t.replay.log"; fail "$t: a corpus input fails"; }
	mkdir -p "work-$t"
	"$bin" -max_total_time="$seconds" -artifact_prefix="$BS_TMP/crash-$t-" \
		"work-$t" "$seeds" >"$t.fuzz.log" 2>&1 ||
		{ tail -60 "$t.fuzz.log"; fail "$t: fuzzing found a crash (input in $BS_TMP)"; }
	note "$t: replayed $n seeds; $(grep -Eo 'DONE +cov: [0-9]+' "$t.fuzz.log" || echo 'no stats') in ${seconds}s"
done
