/* EAI_* names (see eainames.h). */
#include "policy/eainames.h"

#include <netdb.h>
#include <stdio.h>
#include <string.h>

#include "policy/values.h"

static const struct {
	int code;
	const char *name;
	bool transient; /* may a later lookup answer differently? */
} codes[] = {
	{EAI_BADFLAGS, "EAI_BADFLAGS", false},
	{EAI_NONAME, "EAI_NONAME", true},
	{EAI_AGAIN, "EAI_AGAIN", true},
	{EAI_FAIL, "EAI_FAIL", true},
	{EAI_NODATA, "EAI_NODATA", true},
	{EAI_FAMILY, "EAI_FAMILY", false},
	{EAI_SOCKTYPE, "EAI_SOCKTYPE", false},
	{EAI_SERVICE, "EAI_SERVICE", false},
	{EAI_ADDRFAMILY, "EAI_ADDRFAMILY", true},
	{EAI_MEMORY, "EAI_MEMORY", true},
	{EAI_SYSTEM, "EAI_SYSTEM", true},
	{EAI_OVERFLOW, "EAI_OVERFLOW", false},
};
#define N_CODES (sizeof codes / sizeof codes[0])

const char *bs_eai_name(int code)
{
	for (size_t i = 0; i < N_CODES; i++)
		if (codes[i].code == code)
			return codes[i].name;
	return NULL;
}

int bs_parse_eainames(const char *s, bs_eaiset *out, char *why, size_t cap)
{
	const char *names[N_CODES];
	char tok[32], q[80];
	bs_eaiset set = 0;
	for (size_t i = 0; i < N_CODES; i++)
		names[i] = codes[i].name;
	while (*s) {
		size_t skip = strspn(s, " \t,"), len;
		s += skip;
		if (!*s)
			break;
		len = strcspn(s, " \t,");
		snprintf(tok, sizeof tok, "%.*s", (int)(len < sizeof tok ? len : sizeof tok - 1), s);
		s += len;
		size_t i = 0;
		while (i < N_CODES && (len >= sizeof tok || strcmp(codes[i].name, tok) != 0))
			i++;
		bs_quote(q, sizeof q, tok);
		if (i == N_CODES) {
			const char *near = bs_closest(tok, names, N_CODES);
			snprintf(why, cap, "unknown lookup error '%s'%s%s%s", q,
				 near ? " (did you mean " : " (use names like EAI_AGAIN EAI_NONAME",
				 near ? near : "", ")");
			return -1;
		}
		if (!codes[i].transient) {
			snprintf(why, cap, "%s is a mistake in the program's call, not a transient failure; "
				 "retrying cannot help (use EAI_AGAIN, EAI_FAIL, EAI_NONAME, EAI_NODATA, "
				 "EAI_ADDRFAMILY, EAI_MEMORY or EAI_SYSTEM)", q);
			return -1;
		}
		set |= 1u << -codes[i].code;
	}
	if (set == 0) {
		snprintf(why, cap, "empty list (use names like EAI_AGAIN EAI_NONAME)");
		return -1;
	}
	*out = set;
	return 0;
}

void bs_format_eaiset(char *buf, size_t cap, bs_eaiset set)
{
	size_t o = 0;
	buf[0] = '\0';
	for (int c = -1; c > -32 && o < cap; c--)
		if (bs_eaiset_has(set, c) && bs_eai_name(c))
			o += (size_t)snprintf(buf + o, cap - o, "%s%s", o ? " " : "", bs_eai_name(c));
}
