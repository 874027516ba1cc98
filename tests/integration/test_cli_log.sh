# backstop log on a recorded log with torn and foreign lines: exact
# per-destination numbers, --json, --since/--until, --by, --plot, --follow.
. "$BS_TOP/tests/integration/lib.sh"
log="$BS_TOP/tests/data/cli-sample.jsonl"

"$BS_CLI" log "$log" >out 2>err || { cat err >&2; fail "log"; }
cat out
assert_grep '^36 lines, 31 events; 5 lines skipped \(not backstop JSON\)$' out "line counts"
block() { # KEY: the block of one group
	awk -v key="$1" '$0 == key {on = 1; next} /^$/ {on = 0} on' out
}
block 'dest 127.0.0.1:5432' >db
assert_grep '^  calls seen +4$' db "db calls"
assert_grep '^  retries +7$' db "db retries"
assert_grep '^  ok after retry +1$' db "db ok after retry"
assert_grep '^  give-ups +2  \(attempts 1, deadline 1\)$' db "db give-ups by reason"
assert_grep '^  cap +waits 2, timeouts 1, rejects 0$' db "db caps"
assert_grep '^  delay +p50 120\.0 ms, p99 900\.0 ms, max 900\.0 ms \(7 retries\)$' db "db delays"
block 'dest [::1]:6379' >redis
assert_grep '^  give-ups +1  \(not_retryable 1\)$' redis "redis give-ups"
assert_grep '^  cap +waits 0, timeouts 0, rejects 1$' redis "redis cap reject"
block 'client 10.0.0.7' >client
assert_grep '^  sheds +3$' client "sheds filed under the client"
block 'dest (sleep)' >sleep
assert_grep '^  events +sleep\.adjust \(2\)$' sleep "sleep events grouped"

# The same from stdin, and --json for machines.
"$BS_CLI" log --json - <"$log" >sum.json || fail "log --json"
python3 - sum.json <<'PY' || fail "--json summary is wrong"
import json, sys
doc = json.load(open(sys.argv[1]))
assert (doc["lines"], doc["events"], doc["skipped"], doc["by"]) == (36, 31, 5, "dest"), doc
g = {x["key"]: x for x in doc["groups"]}
db = g["127.0.0.1:5432"]
assert (db["calls_seen"], db["retries"], db["ok_after_retry"], db["giveups"]) == (4, 7, 1, 2), db
assert db["giveup_reasons"] == {"attempts": 1, "deadline": 1}, db
assert db["cap"] == {"waits": 2, "acquired": 1, "timeouts": 1, "rejects": 0}, db
assert db["delay_ms"] == {"count": 7, "p50": 120.0, "p99": 900.0, "max": 900.0}, db
assert db["progs"] == {"psql": 5, "worker": 10}, db
assert g["10.0.0.7"]["sheds"] == 3
assert g["unix:/run/app.sock"]["passes"] == 1
assert g["(sleep)"]["events"] == 2 and g["(accept)"]["events"] == 1
assert doc["first"] == "2024-05-01T12:00:00.001Z" and doc["last"] == "2024-05-01T12:00:10.000Z"
PY

# --since/--until keep the events in [since, until] (the call that gave up
# at 12:00:06 and the cap events after it; not the 12:00:09 redis events).
"$BS_CLI" log --json --since 2024-05-01T12:00:05.9Z --until '2024-05-01T14:00:08.5+02:00' \
	"$log" >win.json || fail "log --since --until"
python3 - win.json <<'PY' || fail "--since/--until filter is wrong"
import json, sys
doc = json.load(open(sys.argv[1]))
assert (doc["events"], doc["filtered"]) == (6, 25), doc
g = {x["key"]: x for x in doc["groups"]}
assert list(g) == ["127.0.0.1:5432"], list(g)
db = g["127.0.0.1:5432"]
assert (db["calls_seen"], db["retries"], db["giveups"]) == (2, 1, 1), db
assert (db["cap"]["waits"], db["cap"]["timeouts"]) == (2, 0), db
PY
"$BS_CLI" log --since 1000000d "$log" >out || fail "relative --since"
assert_grep '^36 lines, 31 events;' out "a relative --since far back keeps everything"

# --by event: one block per event name.
"$BS_CLI" log --by event "$log" >out || fail "log --by event"
block 'event connect.retry' >retry
assert_grep '^  retries +10$' retry "connect.retry count"
assert_grep '^  destinations +127\.0\.0\.1:5432 \(7\), \[::1\]:6379 \(2\), unix:/run/app\.sock \(1\)$' \
	retry "connect.retry by destination"
"$BS_CLI" log --by prog --json "$log" | python3 -c '
import json, sys; g = {x["key"]: x for x in json.load(sys.stdin)["groups"]}
assert g["worker"]["events"] == 11 and g["worker"]["giveups"] == 1, g["worker"]' ||
	fail "--by prog"

# --plot: an SVG that parses, with one lane per destination.
"$BS_CLI" log --plot timeline.svg "$log" >/dev/null || fail "log --plot"
python3 - timeline.svg <<'PY' || fail "the SVG timeline is wrong"
import sys, xml.etree.ElementTree as ET
ns = {"s": "http://www.w3.org/2000/svg"}
root = ET.parse(sys.argv[1]).getroot()
lanes = [g.get("data-dest") for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("class") == "lane"]
assert sorted(lanes) == sorted(["127.0.0.1:5432", "[::1]:6379", "10.0.0.7", "unix:/run/app.sock"]), lanes
texts = " ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
for word in ("retry (10)", "give-up (3)", "shed (3)", "cap timeout (1)", "time (UTC"):
    assert word in texts, word
PY
if command -v rsvg-convert >/dev/null; then
	rsvg-convert timeline.svg -o timeline.png || fail "the SVG does not render"
	[ -s timeline.png ] || fail "rendering gave an empty PNG"
fi

# An unreadable file is an error.
rc=0; "$BS_CLI" log missing.jsonl >out 2>err || rc=$?
assert_eq "$rc" 1 "a missing log file"
assert_grep 'missing.jsonl' err "the missing file is named"

# --follow: earlier lines go to the summary, new ones are printed as they
# arrive, a line being written is held until complete, and SIGINT prints
# the summary. Coordination through pipes only.
head -n 4 "$log" >live.jsonl   # ends with a torn line
mkfifo stream errs
"$BS_CLI" log --follow live.jsonl >stream 2>errs &
follower=$!
exec 3<stream 4<errs
IFS= read -r -t 60 notice <&4 || fail "no notice that following began"
case $notice in *'following'*) ;; *) fail "unexpected notice: $notice" ;; esac
sed -n 5p "$log" | tr -d '\n' >>live.jsonl   # half a line first: held back
sed -n 6p "$log" | sed 's/^/\n/' >>live.jsonl  # its newline, then a whole line
IFS= read -r -t 60 first <&3 || fail "no streamed line for the first new event"
IFS= read -r -t 60 second <&3 || fail "no streamed line for the second new event"
case $first in *' psql[100] connect.retry '*'127.0.0.1:5432'*'attempt=2'*) ;;
	*) fail "unexpected streamed line: $first" ;; esac
case $second in *'connect.ok'*'attempt=3'*) ;; *) fail "unexpected streamed line: $second" ;; esac
kill -INT "$follower"
cat <&3 >summary
wait "$follower" || fail "backstop log --follow did not exit 0 on SIGINT"
assert_grep '^6 lines, 5 events; 1 lines skipped' summary "the summary after SIGINT"

# Declared wrappers' lines are grouped by symbol, with their retries,
# delays and give-up reasons.
cat >wrap.jsonl <<'EOF2'
{"ts":"2026-11-30T10:48:46.174795Z","pid":7,"tid":7,"prog":"sqlite3","event":"wrap.retry","symbol":"sqlite3_step","attempt":1,"attempts":0,"return":5,"delay_ms":4.000,"deadline_left_ms":2999.949}
{"ts":"2026-11-30T10:48:46.179795Z","pid":7,"tid":7,"prog":"sqlite3","event":"wrap.retry","symbol":"sqlite3_step","attempt":2,"attempts":0,"return":5,"delay_ms":8.000,"deadline_left_ms":2994.949}
{"ts":"2026-11-30T10:48:46.189795Z","pid":7,"tid":7,"prog":"sqlite3","event":"wrap.ok","symbol":"sqlite3_step","attempt":3,"elapsed_ms":15.000}
{"ts":"2026-11-30T10:48:47.000000Z","pid":8,"tid":8,"prog":"app","event":"wrap.giveup","symbol":"sqlite3_step","attempt":1,"return":5,"reason":"deadline"}
EOF2
"$BS_CLI" log wrap.jsonl >out 2>err || { cat err >&2; fail "log of wrap lines"; }
block 'symbol sqlite3_step' >step
assert_grep '^  calls seen +2$' step "wrap calls"
assert_grep '^  retries +2$' step "wrap retries"
assert_grep '^  ok after retry +1$' step "wrap ok after retry"
assert_grep '^  give-ups +1  \(deadline 1\)$' step "wrap give-ups by reason"
assert_grep '^  delay +p50 4\.0 ms, p99 8\.0 ms, max 8\.0 ms \(2 retries\)$' step "wrap delays"
