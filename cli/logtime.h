/* Times in `backstop log`: seconds since the epoch (UTC) as a double,
 * parsed from RFC 3339 or a relative "10m" (that long before now). */
#ifndef BS_CLI_LOGTIME_H
#define BS_CLI_LOGTIME_H

#include <stddef.h>

/* RFC 3339: "2024-05-01T12:00:00.123456Z", "...+02:00"; a space may
 * stand for the 'T'. Returns 0, or -1 when text is not such a time. */
int logtime_parse(const char *text, double *out);
/* An option value: RFC 3339, or a duration N[s|m|h|d] meaning now - N. */
int logtime_parse_arg(const char *text, double now, double *out);
/* "2024-05-01T12:00:00.123Z" (milliseconds, UTC). */
void logtime_format(char *buf, size_t cap, double t);

#endif
