#!/usr/bin/env bash
# Database clients started before their server, under the built-in default
# with no policy file: psql (libpq: nonblocking connect, then poll) against
# a PostgreSQL started late, and redis-cli (hiredis: nonblocking connect,
# then connect() again on the same descriptor to learn the outcome) against
# a late redis-server. Each fails without backstop.
. "$BS_TOP/tests/integration/lib.sh"
. "$BS_TOP/tests/integration/late.sh"

REDIS_PORT=$(free_port)
redis_cmd=(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" PING)
late_fails_without redis "${redis_cmd[@]}"
late_client redis "${redis_cmd[@]}"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
	--dir "$BS_TMP" >"$BS_TMP/redis.server" 2>&1 &
redis=$!
late_finish redis
assert_eq "$(cat "$BS_TMP/redis.out")" PONG "redis-cli: reply"
kill "$redis"

# PostgreSQL: a cluster of our own in $BS_TMP, run as the postgres user
# (initdb refuses root), reachable on 127.0.0.1 and a socket directory of
# its own.
if [ "$(id -u)" -ne 0 ] || ! id postgres >/dev/null 2>&1; then
	note "psql: skipped (needs root and the postgres user)"
	exit 0
fi
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
runs_under_sanitizer "$PGBIN/psql" || exit 0
pg="$BS_TMP/pg"
mkdir -p "$pg"
chown postgres: "$pg"
as_postgres() { runuser -u postgres -- "$@"; }
as_postgres "$PGBIN/initdb" -D "$pg/data" -U postgres --auth=trust -N >"$pg/initdb.log" 2>&1 ||
	fail "initdb: $(cat "$pg/initdb.log")"
PG_PORT=$(free_port)
pg_stop() { as_postgres "$PGBIN/pg_ctl" -D "$pg/data" -m immediate stop >/dev/null 2>&1 || true; }
trap 'pg_stop; bs_cleanup' EXIT
psql_cmd=("$PGBIN/psql" -X -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -Atc 'select 6 * 7')
late_fails_without psql "${psql_cmd[@]}"
late_client psql "${psql_cmd[@]}"
as_postgres "$PGBIN/pg_ctl" -D "$pg/data" -l "$pg/server.log" -w \
	-o "-p $PG_PORT -k $pg -c listen_addresses=127.0.0.1" start >/dev/null ||
	fail "pg_ctl start: $(cat "$pg/server.log")"
late_finish psql
assert_eq "$(cat "$BS_TMP/psql.out")" 42 "psql: query result"
