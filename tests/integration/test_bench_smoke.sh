#!/usr/bin/env bash
# make bench's machinery works: the quick version (BENCH_QUICK=1) runs
# every section and produces every table, with values that parse and are
# non-zero where a zero would mean nothing was measured, and the herd
# plot. Nothing here looks at speed: that is what make bench reports.
. "$BS_TOP/tests/integration/lib.sh"

unshare -n true 2>/dev/null || fail "make bench needs network namespaces (root)"
out=$BS_TMP/bench
BS_BENCH_BIN=$BS_BUILD/bench/bin BS_BENCH_OUT=$out BENCH_QUICK=1 \
	"$BS_TOP/tests/bench/run.sh" >run.out 2>&1 || { cat run.out; fail "bench run failed"; }

python3 - "$out/results.md" <<'PY' || fail "results.md is incomplete (see above)"
import re, sys
text = open(sys.argv[1]).read()
tables, current = {}, None
for line in text.splitlines():
    m = re.match(r"### (\S+)", line)
    if m:
        current = m.group(1)
    elif line.startswith("|") and not line.startswith("|---"):
        tables.setdefault(current, []).append(line.strip("|").split("|"))

def check(cond, what):
    if not cond:
        sys.exit(f"results.md: {what}\n{text}")

def num(cell):
    return float(cell.split("/")[0].rstrip("%"))

for sec, rows in (("1a.", 5), ("1b.", 6), ("1d.", 5), ("1c.", 2), ("2.", 6), ("3.", 7), ("4a.", 3), ("4b.", 3)):
    check(len(tables.get(sec, [])) == rows, f"section {sec}: {rows} rows (header included) expected")
for r in tables["1a."][1:]:
    check(all(num(c) > 0 for c in r[1:4]) and num(r[4]) >= 0, f"1a row {r}")
for r in tables["1b."][1:]:
    check(all(num(c) > 0 for c in r[1:5]), f"1b row {r}")
check(all(num(c) > 0 for c in tables["1c."][1][:2]), "1c: RSS")
for r in tables["1d."][1:]:
    check(num(r[1]) > 0 and all(num(c) == num(c) for c in r[2:4]), f"1d row {r}")
for r in tables["2."]:
    if r[0][0].isdigit():
        check(all(num(c) > 0 for c in r[1:]), f"2 row {r}")
for r in tables["3."][1:] + tables["4b."][1:]:
    check(num(r[3]) > 0 and num(r[4]) > 0 and all(num(c) == num(c) or c == "nan" for c in r[1:]), f"herd row {r}")
for r in tables["4a."][1:]:
    check(all(num(c) > 0 for c in r[1:4]), f"4a row {r}")
PY
assert_eq "$(head -c 4 "$out/herd.png" | tail -c 3)" "PNG" "herd plot is a PNG"
