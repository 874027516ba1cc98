/* Values of the shared-state keys (docs/shared-state.md): a retry budget
 * (`off` or a percentage) and the state file (`off` or an absolute path). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/values.h"

int bs_parse_budget(const char *s, uint32_t *out, char *why, size_t cap)
{
	if (strcmp(s, "off") == 0) {
		*out = BS_BUDGET_OFF;
		return 0;
	}
	if (bs_parse_percent(s, out, why, cap) == 0)
		return 0;
	char q[80];
	bs_quote(q, sizeof q, s);
	snprintf(why, cap, "bad retry budget '%s' (use off or a percentage of calls, e.g. 20%%)", q);
	return -1;
}

void bs_format_budget(char *buf, size_t cap, uint32_t percent)
{
	if (percent == BS_BUDGET_OFF)
		snprintf(buf, cap, "off");
	else
		snprintf(buf, cap, "%u%%", percent);
}

int bs_parse_state_path(const char *s, char **path, char *why, size_t cap)
{
	char *copy = NULL;
	if (strcmp(s, "off") != 0) {
		if (s[0] != '/' || strlen(s) >= 4096) {
			char q[80];
			bs_quote(q, sizeof q, s);
			snprintf(why, cap, "bad state '%s' (use off or an absolute path, e.g. /dev/shm/backstop.state)", q);
			return -1;
		}
		if (!(copy = strdup(s))) {
			snprintf(why, cap, "out of memory");
			return -1;
		}
	}
	free(*path);
	*path = copy;
	return 0;
}
