/* Policy values as users write them: parsing and printing.
 *
 * Every parser takes the whole value text and returns 0, or -1 with a
 * message in why[cap] that says what was wrong and what is allowed
 * ("bad duration '2x' (use e.g. 250ms, 2s, 1m)"). The caller prefixes the
 * location (FILE:LINE and key, or the variable name). */
#ifndef BS_VALUES_H
#define BS_VALUES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/policy.h"

#define BS_WHY_MAX 320

/* "250ms", "2s", "1m", "1.5s", "0"; units ns us ms s m h. */
int bs_parse_duration(const char *s, bs_ns *out, char *why, size_t cap);
/* A decimal integer in [min, max]. */
int bs_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out,
		  char *why, size_t cap);
/* A decimal number >= 1 (backoff factor), at most 1000. */
int bs_parse_factor(const char *s, double *out, char *why, size_t cap);
/* on/off, yes/no, true/false. */
int bs_parse_bool(const char *s, bool *out, char *why, size_t cap);
/* "25%": 0..100. */
int bs_parse_percent(const char *s, uint32_t *out, char *why, size_t cap);
/* none | full | equal | decorrelated | N%; percent_only: none | N%. */
int bs_parse_jitter(const char *s, bool percent_only, struct bs_jitter *out,
		    char *why, size_t cap);
/* Errno names separated by spaces or commas, added to *set. */
int bs_parse_errnames(const char *s, struct bs_errset *set, char *why,
		      size_t cap);
/* One destination pattern (see docs/policy.md); allocates p->glob for
 * unix patterns. */
int bs_parse_pattern(const char *tok, struct bs_pattern *p, char *why,
		     size_t cap);
/* Whether tok is written as a host name pattern (NAME[:PORT], a letter or
 * a glob character in NAME, no '/' and at most one ':'), and its parser
 * (namepat.c): the name lower-cased into p->glob. */
bool bs_is_name_pattern(const char *tok);
int bs_parse_name_pattern(const char *tok, struct bs_pattern *p, char *why,
			  size_t cap);
/* Patterns separated by spaces or commas, appended to *list. */
int bs_parse_patterns(const char *s, struct bs_pattern **list, size_t *n,
		      char *why, size_t cap);
void bs_patterns_free(struct bs_pattern *list, size_t n);
/* off | N%: a retry budget (BS_BUDGET_OFF for off). */
int bs_parse_budget(const char *s, uint32_t *out, char *why, size_t cap);
void bs_format_budget(char *buf, size_t cap, uint32_t percent);
/* off | /absolute/path: *path replaced (NULL for off). */
int bs_parse_state_path(const char *s, char **path, char *why, size_t cap);
/* stderr | fd:N | syslog | off | /absolute/path */
int bs_parse_log(const char *s, struct bs_global *g, char *why, size_t cap);

/* Printing, in the syntax the parsers accept. */
void bs_format_duration(char *buf, size_t cap, bs_ns d);
void bs_format_jitter(char *buf, size_t cap, const struct bs_jitter *j);
void bs_format_pattern(char *buf, size_t cap, const struct bs_pattern *p);

/* User text made safe to quote in a message: at most ~60 characters,
 * control and non-ASCII bytes as \xNN. */
void bs_quote(char *dst, size_t cap, const char *s);
/* The value parsers' error return: the message, formatted into why (cap
 * bytes), and -1. */
__attribute__((format(printf, 3, 4))) int bs_value_fail(char *why, size_t cap,
							 const char *fmt, ...);
/* The candidate closest to word by edit distance, or NULL when none is
 * close enough to be a plausible typo. */
const char *bs_closest(const char *word, const char *const *cands, size_t n);

#endif
