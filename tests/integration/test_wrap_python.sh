#!/usr/bin/env bash
# python3's sqlite3 module with timeout=0 (no busy handler at all): its
# _sqlite3 extension, and libsqlite3.so.0 with it, is loaded with dlopen
# after start-up, so the wrappers of examples/sqlite-busy.conf find their
# symbol only then (wrap.missing at start, reason not_loaded) and must
# redirect the new objects' calls. Without backstop the INSERT raises
# "database is locked"; under it, it waits for the lock.
. "$BS_TOP/tests/integration/lib.sh"
. "$BS_TOP/tests/integration/wrap_lib.sh"

db="$BS_TMP/app.db"
client='import sqlite3, sys
c = sqlite3.connect(sys.argv[1], timeout=0, isolation_level=None)
try:
    c.execute("INSERT INTO t VALUES (?)", (int(sys.argv[2]),))
except sqlite3.OperationalError as e:
    print("error:", e)
    sys.exit(1)
print("inserted")'

hold_lock
python3 -c "$client" "$db" 1 >plain.out && fail "the INSERT succeeded under the lock"
assert_grep '^error: database is locked' plain.out "python's own error"
echo go >"$release"
wait "$holder" || fail "lock holder failed"

hold_lock
insert_through_lock wrapped.out python3 -c "$client" "$db" 2
assert_grep '^inserted' wrapped.out "python's INSERT"
assert_eq "$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM t WHERE x = 2").fetchone()[0])' "$db")" 1 "the wrapped row"
# In the process that retried, nothing defined the symbols at start; the
# dlopen brought them. (python3 may be a wrapper script: every program it
# runs or execs logs its own start.)
assert_eq "$(count_lines '"event":"wrap.ok"' "$log")" 1 "one wrap.ok"
me=$(sed -n 's/.*\("pid":[0-9]*,"tid":[0-9]*,"prog":"[^"]*"\),"event":"wrap.ok".*/\1/p' "$log")
assert_eq "$(count_lines "$me,\"event\":\"wrap.missing\".*\"reason\":\"not_loaded\"" "$log")" 2 "wrap.missing at start"
assert_grep "$me,\"event\":\"wrap.retry\",\"symbol\":\"sqlite3_(prepare_v2|step)\",.*\"return\":5" "$log" "a retry of a busy call"
assert_no_grep '"event":"wrap.giveup"' "$log" "no give-up"
