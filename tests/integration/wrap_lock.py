# Hold an exclusive lock on a SQLite database until told to let go:
#   python3 wrap_lock.py DB READY_FIFO RELEASE_FIFO
# writes "locked" to READY_FIFO once BEGIN EXCLUSIVE holds, then commits
# when a line arrives on RELEASE_FIFO (used by test_wrap_*.sh).
import sqlite3
import sys

db, ready, release = sys.argv[1:4]
conn = sqlite3.connect(db, isolation_level=None)
conn.execute("CREATE TABLE IF NOT EXISTS t (x INTEGER)")
conn.execute("BEGIN EXCLUSIVE")
conn.execute("INSERT INTO t VALUES (0)")
with open(ready, "w") as f:
    f.write("locked\n")
with open(release) as f:
    f.readline()
conn.execute("COMMIT")
