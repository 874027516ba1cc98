/* `backstop log`: one event read from a JSON line, and the per-group
 * summary built from many of them. */
#ifndef BS_CLI_LOGSTATS_H
#define BS_CLI_LOGSTATS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The fields of one backstop log line that the summary uses; the strings
 * point into obj and live as long as it. */
struct log_event {
	json_t *obj;
	double ts;
	const char *event, *prog, *dest, *client, *rule, *reason;
	const char *symbol; /* wrap.*: the declared function */
	json_int_t attempt; /* 0 when absent */
	double delay_ms;    /* < 0 when absent */
};

/* Read a line as a backstop event: a JSON object with a valid ts and an
 * event name. Returns 0 and fills ev (the caller json_decref's ev->obj),
 * or -1 when the line is torn or foreign. */
int log_event_parse(const char *line, struct log_event *ev);

enum log_by { LOG_BY_DEST, LOG_BY_EVENT, LOG_BY_PROG, LOG_BY_RULE };

/* A name with a count, in first-seen order. */
struct counters {
	struct counter { char *name; uint64_t n; } *v;
	size_t n, cap;
};

struct group {
	char *key;
	bool is_client; /* LOG_BY_DEST: the key is an accept.* client */
	bool is_symbol; /* LOG_BY_DEST: the key is a wrap.* symbol */
	uint64_t events;
	uint64_t retries, ok, ok_after_retry, giveups;
	uint64_t cap_waits, cap_acquired, cap_timeouts, cap_rejects, sheds, passes;
	struct counters reasons, by_event, rules, progs, dests;
	double *delays; /* connect.retry delay_ms; sorted by logstats_finish */
	size_t n_delays, cap_delays;
	double first, last;
};

struct log_summary {
	enum log_by by;
	struct group *groups;
	size_t n_groups, cap_groups;
	uint64_t lines, events, skipped, filtered;
	double first, last;
};

/* The name an event is filed under: for LOG_BY_DEST its dest, else its
 * client (accept.*), else "(" + the event's family + ")" such as
 * "(sleep)". */
void log_event_key(const struct log_event *ev, enum log_by by, char *buf, size_t cap);

/* Count an event. Returns 0, or -1 when out of memory. */
int logstats_add(struct log_summary *sum, const struct log_event *ev);
/* Sort groups (busiest first) and their delays, for the reports. */
void logstats_finish(struct log_summary *sum);
/* The p-th percentile (nearest rank) of a group's sorted delays. */
double logstats_percentile(const struct group *g, double p);
void logstats_free(struct log_summary *sum);

#endif
