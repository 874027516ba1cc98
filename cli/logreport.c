/* Text and JSON summaries of a log, and the one-line view of an event. */
#include <stdlib.h>
#include <string.h>

#include "cli/logreport.h"
#include "cli/logtime.h"

const char *const log_by_names[] = {
	[LOG_BY_DEST] = "dest",
	[LOG_BY_EVENT] = "event",
	[LOG_BY_PROG] = "prog",
	[LOG_BY_RULE] = "rule",
};

/* "name (n), name (n)"; at most a few, then how many more. */
static void print_counters(FILE *out, const char *label, const struct counters *c)
{
	enum { SHOWN = 6 };
	if (c->n == 0)
		return;
	fprintf(out, "  %-16s", label);
	for (size_t i = 0; i < c->n && i < SHOWN; i++)
		fprintf(out, "%s%s (%llu)", i ? ", " : "", c->v[i].name,
			(unsigned long long)c->v[i].n);
	if (c->n > SHOWN)
		fprintf(out, ", and %zu more", c->n - SHOWN);
	fprintf(out, "\n");
}

static void print_metrics(const struct group *g, FILE *out)
{
	fprintf(out, "  %-16s%llu\n", "calls seen", (unsigned long long)(g->ok + g->giveups));
	fprintf(out, "  %-16s%llu\n", "retries", (unsigned long long)g->retries);
	fprintf(out, "  %-16s%llu\n", "ok after retry", (unsigned long long)g->ok_after_retry);
	fprintf(out, "  %-16s%llu", "give-ups", (unsigned long long)g->giveups);
	for (size_t i = 0; i < g->reasons.n; i++)
		fprintf(out, "%s%s %llu", i ? ", " : "  (", g->reasons.v[i].name,
			(unsigned long long)g->reasons.v[i].n);
	fprintf(out, "%s\n", g->reasons.n ? ")" : "");
	fprintf(out, "  %-16swaits %llu, timeouts %llu, rejects %llu\n", "cap",
		(unsigned long long)g->cap_waits, (unsigned long long)g->cap_timeouts,
		(unsigned long long)g->cap_rejects);
	fprintf(out, "  %-16s%llu\n", "sheds", (unsigned long long)g->sheds);
	if (g->n_delays)
		fprintf(out, "  %-16sp50 %.1f ms, p99 %.1f ms, max %.1f ms (%zu retr%s)\n",
			"delay", logstats_percentile(g, 50), logstats_percentile(g, 99),
			g->delays[g->n_delays - 1], g->n_delays, g->n_delays == 1 ? "y" : "ies");
	else
		fprintf(out, "  %-16s-\n", "delay");
	if (g->passes)
		fprintf(out, "  %-16s%llu\n", "passed through", (unsigned long long)g->passes);
}

static void print_group(const struct log_summary *sum, const struct group *g, FILE *out)
{
	char first[40], last[40];
	logtime_format(first, sizeof first, g->first);
	logtime_format(last, sizeof last, g->last);
	fprintf(out, "%s %s\n", g->is_client ? "client" : g->is_symbol ? "symbol" : log_by_names[sum->by],
		g->key);
	/* Groups of sleep or policy events have no calls to count. */
	if (g->retries + g->ok + g->giveups + g->passes + g->cap_waits + g->cap_timeouts +
		    g->cap_rejects + g->sheds > 0)
		print_metrics(g, out);
	/* The other dimensions, so each block says who and what it holds. */
	if (sum->by != LOG_BY_EVENT)
		print_counters(out, "events", &g->by_event);
	if (sum->by != LOG_BY_DEST)
		print_counters(out, "destinations", &g->dests);
	if (sum->by != LOG_BY_RULE)
		print_counters(out, "rules", &g->rules);
	if (sum->by != LOG_BY_PROG)
		print_counters(out, "programs", &g->progs);
	fprintf(out, "  %-16s%s .. %s\n\n", "time", first, last);
}

void logreport_text(const struct log_summary *sum, FILE *out)
{
	fprintf(out, "%llu lines, %llu events", (unsigned long long)sum->lines,
		(unsigned long long)sum->events);
	if (sum->filtered)
		fprintf(out, ", %llu outside --since/--until", (unsigned long long)sum->filtered);
	fprintf(out, "; %llu lines skipped (not backstop JSON)\n",
		(unsigned long long)sum->skipped);
	if (sum->events) {
		char first[40], last[40];
		logtime_format(first, sizeof first, sum->first);
		logtime_format(last, sizeof last, sum->last);
		fprintf(out, "from %s to %s\n", first, last);
	}
	fprintf(out, "\n");
	for (size_t i = 0; i < sum->n_groups; i++)
		print_group(sum, &sum->groups[i], out);
	if (sum->n_groups)
		fprintf(out, "calls seen = connect.ok + connect.giveup (wrap.ok + wrap.giveup for a "
			     "symbol): calls that succeed at the first try are not logged.\n");
}

static json_t *counters_json(const struct counters *c)
{
	json_t *obj = json_object();
	for (size_t i = 0; obj && i < c->n; i++)
		json_object_set_new(obj, c->v[i].name, json_integer((json_int_t)c->v[i].n));
	return obj;
}

static json_t *time_json(double t)
{
	char buf[40];
	logtime_format(buf, sizeof buf, t);
	return json_string(buf);
}

static json_t *group_json(const struct group *g)
{
	json_t *delay = g->n_delays
		? json_pack("{s:I, s:f, s:f, s:f}", "count", (json_int_t)g->n_delays,
			    "p50", logstats_percentile(g, 50), "p99", logstats_percentile(g, 99),
			    "max", g->delays[g->n_delays - 1])
		: json_null();
	return json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:o, s:{s:I, s:I, s:I, s:I}, "
			 "s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
			 "key", g->key, "events", (json_int_t)g->events,
			 "calls_seen", (json_int_t)(g->ok + g->giveups),
			 "retries", (json_int_t)g->retries,
			 "ok_after_retry", (json_int_t)g->ok_after_retry,
			 "giveups", (json_int_t)g->giveups,
			 "giveup_reasons", counters_json(&g->reasons),
			 "cap", "waits", (json_int_t)g->cap_waits,
			 "acquired", (json_int_t)g->cap_acquired,
			 "timeouts", (json_int_t)g->cap_timeouts,
			 "rejects", (json_int_t)g->cap_rejects,
			 "sheds", (json_int_t)g->sheds, "passes", (json_int_t)g->passes,
			 "delay_ms", delay, "by_event", counters_json(&g->by_event),
			 "dests", counters_json(&g->dests), "rules", counters_json(&g->rules),
			 "progs", counters_json(&g->progs), "first", time_json(g->first),
			 "last", time_json(g->last));
}

int logreport_json(const struct log_summary *sum, FILE *out)
{
	json_t *groups = json_array();
	for (size_t i = 0; groups && i < sum->n_groups; i++)
		if (json_array_append_new(groups, group_json(&sum->groups[i])) != 0) {
			json_decref(groups);
			return -1;
		}
	json_t *doc = json_pack("{s:s, s:I, s:I, s:I, s:I, s:o, s:o, s:o}",
				"by", log_by_names[sum->by], "lines", (json_int_t)sum->lines,
				"events", (json_int_t)sum->events,
				"skipped", (json_int_t)sum->skipped,
				"filtered", (json_int_t)sum->filtered,
				"first", sum->events ? time_json(sum->first) : json_null(),
				"last", sum->events ? time_json(sum->last) : json_null(),
				"groups", groups);
	if (!doc)
		return -1;
	int rc = json_dumpf(doc, out, JSON_INDENT(2) | JSON_REAL_PRECISION(12)) == 0 ? 0 : -1;
	fputc('\n', out);
	json_decref(doc);
	return rc;
}

void logreport_event_line(const struct log_event *ev, FILE *out)
{
	static const char *const common[] = { "ts", "pid", "tid", "prog", "event", "dest",
					      "client" };
	char ts[40];
	logtime_format(ts, sizeof ts, ev->ts);
	json_t *pid = json_object_get(ev->obj, "pid");
	fprintf(out, "%s %s[%lld] %-15s %s", ts, ev->prog ? ev->prog : "?",
		(long long)json_integer_value(pid), ev->event,
		ev->dest ? ev->dest : ev->client ? ev->client : "-");
	const char *key;
	json_t *value;
	json_object_foreach(ev->obj, key, value) {
		size_t i = 0;
		while (i < sizeof common / sizeof common[0] && strcmp(key, common[i]) != 0)
			i++;
		if (i < sizeof common / sizeof common[0])
			continue;
		if (json_is_string(value)) {
			fprintf(out, " %s=%s", key, json_string_value(value));
		} else {
			char *text = json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(12));
			fprintf(out, " %s=%s", key, text ? text : "?");
			free(text);
		}
	}
	fprintf(out, "\n");
	fflush(out);
}
