/* The summaries `backstop log` prints: for people and for machines. */
#ifndef BS_CLI_LOGREPORT_H
#define BS_CLI_LOGREPORT_H

#include <stdio.h>

#include "cli/logstats.h"

extern const char *const log_by_names[]; /* indexed by enum log_by */

/* One block per group, after a line with the line counts. */
void logreport_text(const struct log_summary *sum, FILE *out);
/* One JSON document. Returns 0, or -1 when out of memory. */
int logreport_json(const struct log_summary *sum, FILE *out);
/* One event as one human line, for --follow. */
void logreport_event_line(const struct log_event *ev, FILE *out);

#endif
