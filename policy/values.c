/* Parsing and printing of policy values (durations, numbers, booleans,
 * jitter, errno lists, destination patterns, log sinks). */
#include "policy/values.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "policy/errnames.h"

#define DURATION_MAX (1000 * 3600 * BS_SEC) /* 1000h: no overflow downstream */
#define FACTOR_MAX 1000.0
#define TOKEN_MAX 256

int bs_value_fail(char *why, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, cap, fmt, ap);
	va_end(ap);
	return -1;
}

void bs_quote(char *dst, size_t cap, const char *s)
{
	size_t o = 0, shown = 0;
	for (; *s && o + 8 < cap; s++, shown++) {
		if (shown == 60) {
			memcpy(dst + o, "...", 3);
			o += 3;
			break;
		}
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c >= 0x7f)
			o += (size_t)snprintf(dst + o, cap - o, "\\x%02x", c);
		else
			dst[o++] = (char)c;
	}
	if (cap)
		dst[o < cap ? o : cap - 1] = '\0';
}

/* Parse "DIGITS[.DIGITS]" at *s; returns the integer part, the fraction as
 * a numerator over 10^*frac_digits, and advances *s. -1 when malformed. */
static int parse_decimal(const char **s, uint64_t *ip, uint64_t *frac,
			 unsigned *frac_digits)
{
	const char *p = *s;
	*ip = *frac = 0;
	*frac_digits = 0;
	if (!isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		uint64_t digit = (uint64_t)(*p - '0');
		if (*ip > (UINT64_MAX - digit) / 10)
			return -1;
		*ip = *ip * 10 + digit;
	}
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -1;
		for (; isdigit((unsigned char)*p); p++) {
			if (*frac_digits == 9)
				return -1; /* finer than a nanosecond of a second */
			*frac = *frac * 10 + (uint64_t)(*p - '0');
			(*frac_digits)++;
		}
	}
	*s = p;
	return 0;
}

int bs_parse_duration(const char *s, bs_ns *out, char *why, size_t cap)
{
	static const struct {
		const char *name;
		bs_ns ns;
	} units[] = {
		{"ns", 1},         {"us", 1000},           {"ms", BS_MS},
		{"s", BS_SEC},     {"m", 60 * BS_SEC},     {"h", 3600 * BS_SEC},
	};
	char q[80];
	bs_quote(q, sizeof q, s);
	if (strcmp(s, "0") == 0) {
		*out = 0;
		return 0;
	}
	const char *p = s;
	uint64_t ip, frac;
	unsigned nd;
	if (parse_decimal(&p, &ip, &frac, &nd) == 0) {
		for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
			if (strcmp(p, units[i].name) != 0)
				continue;
			unsigned __int128 den = 1;
			for (unsigned k = 0; k < nd; k++)
				den *= 10;
			unsigned __int128 v = (unsigned __int128)ip * units[i].ns +
					      (unsigned __int128)frac * units[i].ns / den;
			if (v > DURATION_MAX)
				return bs_value_fail(why, cap, "duration '%s' is too long (at most 1000h)", q);
			*out = (bs_ns)v;
			return 0;
		}
		if (*p == '\0')
			return bs_value_fail(why, cap, "duration '%s' needs a unit (use e.g. 250ms, 2s, 1m; units ns us ms s m h)", q);
	}
	return bs_value_fail(why, cap, "bad duration '%s' (use e.g. 250ms, 2s, 1m)", q);
}

int bs_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out,
		  char *why, size_t cap)
{
	char q[80];
	bs_quote(q, sizeof q, s);
	const char *p = s;
	uint64_t v, frac;
	unsigned nd;
	if (parse_decimal(&p, &v, &frac, &nd) != 0 || nd || *p)
		return bs_value_fail(why, cap, "bad number '%s' (allowed %llu..%llu)", q,
			    (unsigned long long)min, (unsigned long long)max);
	if (v < min || v > max)
		return bs_value_fail(why, cap, "%s is out of range (allowed %llu..%llu)", q,
			    (unsigned long long)min, (unsigned long long)max);
	*out = v;
	return 0;
}

int bs_parse_factor(const char *s, double *out, char *why, size_t cap)
{
	char q[80];
	bs_quote(q, sizeof q, s);
	const char *p = s;
	uint64_t ip, frac;
	unsigned nd;
	/* Checked by hand first: strtod would take "inf", "nan" and hex. */
	if (parse_decimal(&p, &ip, &frac, &nd) != 0 || *p)
		return bs_value_fail(why, cap, "bad factor '%s' (a decimal number like 2 or 1.5)", q);
	double v = strtod(s, NULL);
	if (v < 1.0 || v > FACTOR_MAX)
		return bs_value_fail(why, cap, "factor %s is out of range (allowed 1..1000)", q);
	*out = v;
	return 0;
}

int bs_parse_bool(const char *s, bool *out, char *why, size_t cap)
{
	static const char *const yes[] = {"on", "yes", "true"};
	static const char *const no[] = {"off", "no", "false"};
	for (size_t i = 0; i < 3; i++) {
		if (strcmp(s, yes[i]) == 0 || strcmp(s, no[i]) == 0) {
			*out = strcmp(s, yes[i]) == 0;
			return 0;
		}
	}
	char q[80];
	bs_quote(q, sizeof q, s);
	return bs_value_fail(why, cap, "bad boolean '%s' (use on/off, yes/no or true/false)", q);
}

int bs_parse_percent(const char *s, uint32_t *out, char *why, size_t cap)
{
	char q[80];
	bs_quote(q, sizeof q, s);
	const char *p = s;
	uint64_t v, frac;
	unsigned nd;
	if (parse_decimal(&p, &v, &frac, &nd) != 0 || nd || strcmp(p, "%") != 0)
		return bs_value_fail(why, cap, "bad percentage '%s' (use e.g. 25%%)", q);
	if (v > 100)
		return bs_value_fail(why, cap, "percentage %s is out of range (allowed 0%%..100%%)", q);
	*out = (uint32_t)v;
	return 0;
}

int bs_parse_jitter(const char *s, bool percent_only, struct bs_jitter *out,
		    char *why, size_t cap)
{
	static const char *const kinds[] = {
		[BS_JITTER_NONE] = "none",
		[BS_JITTER_FULL] = "full",
		[BS_JITTER_EQUAL] = "equal",
		[BS_JITTER_DECORRELATED] = "decorrelated",
	};
	for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
		if (strcmp(s, kinds[k]) == 0 &&
		    (!percent_only || k == BS_JITTER_NONE)) {
			*out = (struct bs_jitter){.kind = (enum bs_jitter_kind)k};
			return 0;
		}
	}
	uint32_t pct;
	if (strchr(s, '%') && bs_parse_percent(s, &pct, why, cap) != 0)
		return -1;
	if (strchr(s, '%')) {
		*out = (struct bs_jitter){.kind = BS_JITTER_PERCENT, .percent = pct};
		return 0;
	}
	char q[80];
	bs_quote(q, sizeof q, s);
	return bs_value_fail(why, cap, "bad jitter '%s' (use %s)", q,
		    percent_only ? "none or N%, e.g. 50%"
				 : "none, full, equal, decorrelated or N%, e.g. 25%");
}

/* The next token of a space- or comma-separated list, or NULL at the end.
 * A token longer than cap is reported through *too_long. */
static const char *next_token(const char *s, char *tok, size_t cap,
			      bool *too_long)
{
	while (*s == ' ' || *s == ',' || *s == '\t')
		s++;
	if (*s == '\0')
		return NULL;
	size_t n = 0;
	for (; *s && *s != ' ' && *s != ',' && *s != '\t'; s++) {
		if (n + 1 < cap)
			tok[n] = *s;
		n++;
	}
	*too_long = n >= cap;
	tok[n < cap ? n : cap - 1] = '\0';
	return s;
}

int bs_parse_errnames(const char *s, struct bs_errset *set, char *why,
		      size_t cap)
{
	char tok[TOKEN_MAX], q[80];
	bool too_long;
	size_t count = 0;
	while ((s = next_token(s, tok, sizeof tok, &too_long))) {
		int err = too_long ? 0 : bs_errno_from_name(tok);
		if (err <= 0 || err >= BS_ERRNO_MAX) {
			const char *names[BS_ERRNO_MAX];
			size_t n = 0;
			for (int e = 1; e < BS_ERRNO_MAX; e++)
				if (bs_errno_name(e))
					names[n++] = bs_errno_name(e);
			const char *near = bs_closest(tok, names, n);
			bs_quote(q, sizeof q, tok);
			if (near)
				return bs_value_fail(why, cap, "unknown errno name '%s' (did you mean %s?)", q, near);
			return bs_value_fail(why, cap, "unknown errno name '%s' (use names like ECONNREFUSED ETIMEDOUT)", q);
		}
		bs_errset_add(set, err);
		count++;
	}
	if (count == 0)
		return bs_value_fail(why, cap, "empty errno list (use names like ECONNREFUSED ETIMEDOUT)");
	return 0;
}

#define PATTERN_HELP "use e.g. 10.1.0.0/16, 10.1.0.0/16:5432, 127.0.0.1:5432, " \
	"::1, fd00::/8, [::1]:6379, [fd00::]/8:80, unix:/run/*.sock, unix:@name, " \
	"db.internal:5432, *.internal"

static int parse_unix_pattern(const char *tok, const char *path,
			      struct bs_pattern *p, char *why, size_t cap)
{
	char q[80];
	bs_quote(q, sizeof q, tok);
	if (path[0] != '/' && path[0] != '@')
		return bs_value_fail(why, cap, "bad unix pattern '%s' (use unix:/absolute/path, unix:/dir/*.sock or unix:@abstract)", q);
	if (strlen(path) > sizeof(((struct sockaddr_un *)0)->sun_path))
		return bs_value_fail(why, cap, "unix pattern '%s' is longer than a socket path can be", q);
	p->family = AF_UNIX;
	p->glob = strdup(path);
	if (!p->glob)
		return bs_value_fail(why, cap, "out of memory");
	return 0;
}

/* "/N" and ":PORT" after an address. */
static int parse_suffix(const char *rest, unsigned max_prefix, struct bs_pattern *p)
{
	uint64_t v, frac;
	unsigned nd;
	p->prefix = (uint8_t)max_prefix;
	if (*rest == '/') {
		rest++;
		if (parse_decimal(&rest, &v, &frac, &nd) != 0 || nd || v > max_prefix)
			return -1;
		p->prefix = (uint8_t)v;
	}
	if (*rest == ':') {
		rest++;
		if (parse_decimal(&rest, &v, &frac, &nd) != 0 || nd || v == 0 || v > 65535)
			return -1;
		p->port = (uint16_t)v;
	}
	return *rest ? -1 : 0;
}

int bs_parse_pattern(const char *tok, struct bs_pattern *p, char *why,
		     size_t cap)
{
	memset(p, 0, sizeof *p);
	if (strncmp(tok, "unix:", 5) == 0)
		return parse_unix_pattern(tok, tok + 5, p, why, cap);
	if (bs_is_name_pattern(tok))
		return bs_parse_name_pattern(tok, p, why, cap);

	char host[INET6_ADDRSTRLEN + 1], q[80];
	const char *rest;
	bool v6;
	bs_quote(q, sizeof q, tok);
	if (tok[0] == '[') {
		const char *close = strchr(tok, ']');
		if (!close || (size_t)(close - tok - 1) >= sizeof host)
			return bs_value_fail(why, cap, "bad address pattern '%s' (%s)", q, PATTERN_HELP);
		memcpy(host, tok + 1, (size_t)(close - tok - 1));
		host[close - tok - 1] = '\0';
		rest = close + 1;
		v6 = true;
	} else {
		const char *first_colon = strchr(tok, ':');
		v6 = first_colon && strchr(first_colon + 1, ':');
		size_t n = strcspn(tok, v6 ? "/" : "/:");
		if (n >= sizeof host)
			return bs_value_fail(why, cap, "bad address pattern '%s' (%s)", q, PATTERN_HELP);
		memcpy(host, tok, n);
		host[n] = '\0';
		rest = tok + n;
		if (v6 && strchr(rest, ':'))
			return bs_value_fail(why, cap, "an IPv6 pattern with a port needs brackets, as in [fd00::]/8:80 or [::1]:6379 (got '%s')", q);
	}
	p->family = v6 ? AF_INET6 : AF_INET;
	if (inet_pton(p->family, host, p->addr) != 1 ||
	    parse_suffix(rest, v6 ? 128 : 32, p) != 0) {
		memset(p, 0, sizeof *p);
		return bs_value_fail(why, cap, "bad address pattern '%s' (%s)", q, PATTERN_HELP);
	}
	/* Host bits past the prefix are almost always a typo for a network. */
	for (unsigned bit = p->prefix; bit < (v6 ? 128u : 32u); bit++) {
		if (p->addr[bit / 8] & (0x80 >> (bit % 8))) {
			struct bs_pattern net = *p;
			for (unsigned b = p->prefix; b < (v6 ? 128u : 32u); b++)
				net.addr[b / 8] &= (uint8_t) ~(0x80 >> (b % 8));
			char fixed[96];
			bs_format_pattern(fixed, sizeof fixed, &net);
			return bs_value_fail(why, cap, "'%s' has host bits set past /%u (did you mean %s?)", q, p->prefix, fixed);
		}
	}
	return 0;
}

int bs_parse_patterns(const char *s, struct bs_pattern **list, size_t *n,
		      char *why, size_t cap)
{
	char tok[TOKEN_MAX];
	bool too_long;
	size_t added = 0;
	while ((s = next_token(s, tok, sizeof tok, &too_long))) {
		if (too_long)
			return bs_value_fail(why, cap, "pattern longer than %d characters", TOKEN_MAX - 1);
		struct bs_pattern p;
		if (bs_parse_pattern(tok, &p, why, cap) != 0)
			return -1;
		/* Grow by doubling: capacity is the next power of two >= n. */
		if ((*n & (*n - 1)) == 0) {
			size_t want = *n ? *n * 2 : 1;
			struct bs_pattern *grown = realloc(*list, want * sizeof **list);
			if (!grown) {
				free(p.glob);
				return bs_value_fail(why, cap, "out of memory");
			}
			*list = grown;
		}
		(*list)[(*n)++] = p;
		added++;
	}
	if (added == 0)
		return bs_value_fail(why, cap, "empty pattern list (%s)", PATTERN_HELP);
	return 0;
}

void bs_patterns_free(struct bs_pattern *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(list[i].glob);
	free(list);
}

int bs_parse_log(const char *s, struct bs_global *g, char *why, size_t cap)
{
	static const struct {
		const char *name;
		enum bs_log_kind kind;
	} fixed[] = {{"stderr", BS_LOG_STDERR}, {"syslog", BS_LOG_SYSLOG}, {"off", BS_LOG_OFF}};
	char q[80];
	bs_quote(q, sizeof q, s);
	enum bs_log_kind kind;
	int fd = -1;
	char *path = NULL;
	size_t i;
	for (i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
		if (strcmp(s, fixed[i].name) == 0)
			break;
	if (i < sizeof fixed / sizeof fixed[0]) {
		kind = fixed[i].kind;
	} else if (strncmp(s, "fd:", 3) == 0) {
		uint64_t v;
		if (bs_parse_uint(s + 3, 0, 65535, &v, why, cap) != 0)
			return bs_value_fail(why, cap, "bad log descriptor '%s' (use fd:N, N a descriptor number)", q);
		kind = BS_LOG_FD;
		fd = (int)v;
	} else if (s[0] == '/' && strlen(s) < 4096) {
		kind = BS_LOG_FILE;
		if (!(path = strdup(s)))
			return bs_value_fail(why, cap, "out of memory");
	} else {
		return bs_value_fail(why, cap, "bad log '%s' (use stderr, fd:N, syslog, off or an absolute file path)", q);
	}
	free(g->log_path);
	g->log_kind = kind;
	g->log_fd = fd;
	g->log_path = path;
	return 0;
}

void bs_format_duration(char *buf, size_t cap, bs_ns d)
{
	static const struct {
		const char *name;
		bs_ns ns;
	} units[] = {{"h", 3600 * BS_SEC}, {"m", 60 * BS_SEC}, {"s", BS_SEC},
		     {"ms", BS_MS}, {"us", 1000}, {"ns", 1}};
	if (d == 0) {
		snprintf(buf, cap, "0");
		return;
	}
	size_t i = 0;
	while (d % units[i].ns) /* the largest unit that shows d exactly */
		i++;
	snprintf(buf, cap, "%llu%s", (unsigned long long)(d / units[i].ns), units[i].name);
}

void bs_format_jitter(char *buf, size_t cap, const struct bs_jitter *j)
{
	static const char *const kinds[] = {"none", "full", "equal", "decorrelated"};
	if (j->kind == BS_JITTER_PERCENT)
		snprintf(buf, cap, "%u%%", j->percent);
	else
		snprintf(buf, cap, "%s", kinds[j->kind]);
}

void bs_format_pattern(char *buf, size_t cap, const struct bs_pattern *p)
{
	char addr[INET6_ADDRSTRLEN], prefix[8] = "", port[8] = "";
	if (p->family == AF_UNIX || p->family == BS_PATTERN_NAME) {
		snprintf(buf, cap, "%s%s", p->family == AF_UNIX ? "unix:" : "", p->glob);
		if (p->port)
			snprintf(buf + strlen(buf), cap - strlen(buf), ":%u", p->port);
		return;
	}
	unsigned full = p->family == AF_INET ? 32 : 128;
	inet_ntop(p->family, p->addr, addr, sizeof addr);
	if (p->prefix != full)
		snprintf(prefix, sizeof prefix, "/%u", p->prefix);
	if (p->port)
		snprintf(port, sizeof port, ":%u", p->port);
	if (p->family == AF_INET6 && p->port)
		snprintf(buf, cap, "[%s]%s%s", addr, prefix, port);
	else
		snprintf(buf, cap, "%s%s%s", addr, prefix, port);
}
