/* `backstop log --plot`: an SVG timeline, one lane per destination. */
#ifndef BS_CLI_LOGPLOT_H
#define BS_CLI_LOGPLOT_H

#include "cli/logstats.h"

struct logplot;

struct logplot *logplot_new(void);
/* Record an event if it is one the timeline shows (retry, ok, give-up,
 * shed, cap timeout/reject). Returns 0, or -1 when out of memory. */
int logplot_add(struct logplot *plot, const struct log_event *ev);
/* Write the SVG. Returns 0, or -1 after printing why. */
int logplot_write(const struct logplot *plot, const char *path);
void logplot_free(struct logplot *plot);

#endif
