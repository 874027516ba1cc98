/* Reading backstop events from JSON (jansson) and counting them per group. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/logstats.h"
#include "cli/logtime.h"

static const char *str_field(json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

int log_event_parse(const char *line, struct log_event *ev)
{
	json_t *obj = json_loads(line, 0, NULL);
	const char *ts = obj ? str_field(obj, "ts") : NULL;
	*ev = (struct log_event){ .obj = obj, .delay_ms = -1 };
	if (!json_is_object(obj) || !ts || logtime_parse(ts, &ev->ts) != 0 ||
	    !(ev->event = str_field(obj, "event")) || !*ev->event) {
		json_decref(obj);
		return -1;
	}
	ev->prog = str_field(obj, "prog");
	ev->dest = str_field(obj, "dest");
	ev->client = str_field(obj, "client");
	ev->symbol = str_field(obj, "symbol");
	ev->rule = str_field(obj, "rule");
	ev->reason = str_field(obj, "reason");
	ev->attempt = json_integer_value(json_object_get(obj, "attempt"));
	json_t *delay = json_object_get(obj, "delay_ms");
	if (json_is_number(delay))
		ev->delay_ms = json_number_value(delay);
	else if (json_is_string(delay))
		ev->delay_ms = strtod(json_string_value(delay), NULL);
	return 0;
}

void log_event_key(const struct log_event *ev, enum log_by by, char *buf, size_t cap)
{
	const char *key = NULL;
	switch (by) {
	case LOG_BY_DEST:
		key = ev->dest ? ev->dest : ev->client ? ev->client : ev->symbol;
		break;
	case LOG_BY_EVENT:
		key = ev->event;
		break;
	case LOG_BY_PROG:
		key = ev->prog;
		break;
	case LOG_BY_RULE:
		key = ev->rule;
		break;
	}
	if (key) {
		snprintf(buf, cap, "%s", key);
		return;
	}
	/* No such field: file it under the event family, "(sleep)". */
	snprintf(buf, cap, "(%.*s)", (int)strcspn(ev->event, "."), ev->event);
}

static int count(struct counters *c, const char *name)
{
	if (!name)
		return 0;
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->v[i].name, name) == 0) {
			c->v[i].n++;
			return 0;
		}
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 4;
		struct counter *v = realloc(c->v, cap * sizeof *v);
		if (!v)
			return -1;
		c->v = v;
		c->cap = cap;
	}
	if (!(c->v[c->n].name = strdup(name)))
		return -1;
	c->v[c->n++].n = 1;
	return 0;
}

static struct group *find_group(struct log_summary *sum, const char *key)
{
	for (size_t i = 0; i < sum->n_groups; i++)
		if (strcmp(sum->groups[i].key, key) == 0)
			return &sum->groups[i];
	if (sum->n_groups == sum->cap_groups) {
		size_t cap = sum->cap_groups ? sum->cap_groups * 2 : 8;
		struct group *v = realloc(sum->groups, cap * sizeof *v);
		if (!v)
			return NULL;
		sum->groups = v;
		sum->cap_groups = cap;
	}
	struct group *g = &sum->groups[sum->n_groups];
	*g = (struct group){ .key = strdup(key) };
	if (!g->key)
		return NULL;
	sum->n_groups++;
	return g;
}

static int add_delay(struct group *g, double ms)
{
	if (g->n_delays == g->cap_delays) {
		size_t cap = g->cap_delays ? g->cap_delays * 2 : 16;
		double *v = realloc(g->delays, cap * sizeof *v);
		if (!v)
			return -1;
		g->delays = v;
		g->cap_delays = cap;
	}
	g->delays[g->n_delays++] = ms;
	return 0;
}

/* The per-event-kind counters of a group. */
static void count_kind(struct group *g, const struct log_event *ev)
{
	static const struct { const char *event; size_t offset; } kinds[] = {
		{ "connect.retry", offsetof(struct group, retries) },
		{ "connect.ok", offsetof(struct group, ok) },
		{ "connect.giveup", offsetof(struct group, giveups) },
		{ "connect.pass", offsetof(struct group, passes) },
		{ "cap.wait", offsetof(struct group, cap_waits) },
		{ "cap.acquired", offsetof(struct group, cap_acquired) },
		{ "cap.timeout", offsetof(struct group, cap_timeouts) },
		{ "cap.reject", offsetof(struct group, cap_rejects) },
		{ "accept.shed", offsetof(struct group, sheds) },
		{ "wrap.retry", offsetof(struct group, retries) },
		{ "wrap.ok", offsetof(struct group, ok) },
		{ "wrap.giveup", offsetof(struct group, giveups) },
	};
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		if (strcmp(ev->event, kinds[i].event) == 0)
			(*(uint64_t *)((char *)g + kinds[i].offset))++;
	if ((strcmp(ev->event, "connect.ok") == 0 || strcmp(ev->event, "wrap.ok") == 0) &&
	    ev->attempt > 1)
		g->ok_after_retry++;
}

int logstats_add(struct log_summary *sum, const struct log_event *ev)
{
	char key[512];
	log_event_key(ev, sum->by, key, sizeof key);
	struct group *g = find_group(sum, key);
	if (!g)
		return -1;
	if (g->events == 0 || ev->ts < g->first)
		g->first = ev->ts;
	if (g->events == 0 || ev->ts > g->last)
		g->last = ev->ts;
	if (sum->events == 0 || ev->ts < sum->first)
		sum->first = ev->ts;
	if (sum->events == 0 || ev->ts > sum->last)
		sum->last = ev->ts;
	g->is_client = sum->by == LOG_BY_DEST && !ev->dest && ev->client;
	g->is_symbol = sum->by == LOG_BY_DEST && !ev->dest && !ev->client && ev->symbol;
	g->events++;
	sum->events++;
	count_kind(g, ev);
	bool wrap = strncmp(ev->event, "wrap.", 5) == 0;
	if ((strcmp(ev->event, "connect.giveup") == 0 || (wrap && strcmp(ev->event + 5, "giveup") == 0)) &&
	    count(&g->reasons, ev->reason ? ev->reason : "(none)") != 0)
		return -1;
	if ((strcmp(ev->event, "connect.retry") == 0 || (wrap && strcmp(ev->event + 5, "retry") == 0)) &&
	    ev->delay_ms >= 0 && add_delay(g, ev->delay_ms) != 0)
		return -1;
	return count(&g->by_event, ev->event) || count(&g->rules, ev->rule) ||
			       count(&g->progs, ev->prog) ||
			       count(&g->dests, ev->dest ? ev->dest : ev->client)
		       ? -1 : 0;
}

static int by_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Busiest first; the "(family)" groups of events without the key last. */
static int by_weight(const void *a, const void *b)
{
	const struct group *x = a, *y = b;
	int px = x->key[0] == '(', py = y->key[0] == '(';
	if (px != py)
		return px - py;
	if (x->events != y->events)
		return x->events > y->events ? -1 : 1;
	return strcmp(x->key, y->key);
}

void logstats_finish(struct log_summary *sum)
{
	/* No groups or no delays: no array, and qsort(NULL, 0) is undefined. */
	if (sum->n_groups > 0)
		qsort(sum->groups, sum->n_groups, sizeof *sum->groups, by_weight);
	for (size_t i = 0; i < sum->n_groups; i++)
		if (sum->groups[i].n_delays > 0)
			qsort(sum->groups[i].delays, sum->groups[i].n_delays, sizeof(double), by_double);
}

double logstats_percentile(const struct group *g, double p)
{
	if (g->n_delays == 0)
		return 0;
	size_t rank = (size_t)ceil(p / 100.0 * (double)g->n_delays);
	return g->delays[rank == 0 ? 0 : rank - 1];
}

static void counters_free(struct counters *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->v[i].name);
	free(c->v);
}

void logstats_free(struct log_summary *sum)
{
	for (size_t i = 0; i < sum->n_groups; i++) {
		struct group *g = &sum->groups[i];
		free(g->key);
		free(g->delays);
		counters_free(&g->reasons);
		counters_free(&g->by_event);
		counters_free(&g->rules);
		counters_free(&g->progs);
		counters_free(&g->dests);
	}
	free(sum->groups);
}
