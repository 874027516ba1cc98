/* The policy file, parsed with libinih.
 *
 * Debian's libinih gives the handler no line number and cuts lines at 200
 * bytes, so inih reads through our own reader: it reads whole lines,
 * counts them, rejects overlong lines and NUL bytes instead of letting inih
 * split them, strips leading whitespace (so an indented line is never
 * taken for a continuation of the previous value) and checks section
 * headers itself (inih does not report a section that holds no keys).
 * inih then splits "key = value", strips comments and whitespace. */
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "policy/load_internal.h"

#define LINE_LIMIT 199 /* what inih's 200-byte buffer holds with its NUL */

struct parse_ctx {
	struct bs_policy *p;
	FILE *f;
	const char *path;
	uint32_t line;
	bool in_section;
	enum bs_scope scope;
	size_t rule; /* BS_SC_RULE: 0 for [connect], else the dest rule; BS_SC_WRAP: the wrap */
	bool failed;
	struct bs_error *err;
};

__attribute__((format(printf, 2, 3))) static int fail(struct parse_ctx *c,
						       const char *fmt, ...)
{
	if (c->failed)
		return 0;
	int n = snprintf(c->err->msg, sizeof c->err->msg, "%s:%u: ", c->path, c->line);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err->msg + n, sizeof c->err->msg - (size_t)n, fmt, ap);
	va_end(ap);
	c->failed = true;
	return 0; /* what inih's handler returns for an error */
}

static bool valid_dest_name(const char *s, size_t len)
{
	if (len == 0 || len >= BS_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("-_.", s[i]))
			return false;
	return true;
}

/* The quoted name of a [dest "NAME"] or [wrap "SYMBOL"] header into name;
 * false (reported) when it is missing or not a valid one. */
static bool section_name(struct parse_ctx *c, const char *rest, size_t len,
			 bool wrap, char name[BS_NAME_MAX])
{
	char q[80];
	while (len && isspace((unsigned char)*rest))
		rest++, len--;
	if (len < 2 || rest[0] != '"' || rest[len - 1] != '"') {
		fail(c, wrap ? "a wrap section needs a quoted symbol: [wrap \"SYMBOL\"]"
			     : "a dest section needs a quoted name: [dest \"NAME\"]");
		return false;
	}
	if (!(wrap ? bs_valid_symbol : valid_dest_name)(rest + 1, len - 2)) {
		snprintf(name, BS_NAME_MAX, "%.*s", (int)(len - 2 < 60 ? len - 2 : 60), rest + 1);
		bs_quote(q, sizeof q, name);
		if (wrap)
			fail(c, "bad symbol '%s' (a C function name: 1 to %d letters, digits or '_', "
				"not starting with a digit)", q, BS_NAME_MAX - 1);
		else
			fail(c, "bad dest name '%s' (1 to %d letters, digits, '-', '_' or '.')",
			     q, BS_NAME_MAX - 1);
		return false;
	}
	memcpy(name, rest + 1, len - 2);
	name[len - 2] = '\0';
	return true;
}

static void open_wrap(struct parse_ctx *c, const char *rest, size_t len)
{
	char name[BS_NAME_MAX];
	if (!section_name(c, rest, len, true, name))
		return;
	for (size_t w = 1; w < c->p->n_wraps; w++)
		if (strcmp(c->p->wraps[w].symbol, name) == 0) {
			fail(c, "section [wrap \"%s\"] appears twice (first at line %u)", name,
			     c->p->origins->wrap_line[w]);
			return;
		}
	long w = bs_policy_add_wrap(c->p, name, c->line);
	if (w < 0) {
		fail(c, "out of memory");
		return;
	}
	c->scope = BS_SC_WRAP;
	c->rule = (size_t)w;
	c->in_section = true;
}

static void open_dest(struct parse_ctx *c, const char *rest, size_t len)
{
	char name[BS_NAME_MAX];
	if (!section_name(c, rest, len, false, name))
		return;
	long r = bs_policy_add_rule(c->p, name, c->line);
	if (r < 0) {
		fail(c, "out of memory");
		return;
	}
	c->scope = BS_SC_RULE;
	c->rule = (size_t)r;
	c->in_section = true;
}

/* A "[...]" line: open the section or report what is allowed. */
static void open_section(struct parse_ctx *c, const char *line)
{
	static const char *const names[] = {"global", "connect", "dest", "accept", "sleep",
					    "dns"};
	static const enum bs_scope scopes[] = {BS_SC_GLOBAL, BS_SC_RULE, BS_SC_RULE,
					       BS_SC_ACCEPT, BS_SC_SLEEP, BS_SC_DNS};
	const size_t n_names = sizeof names / sizeof names[0];
	const char *close = strchr(line, ']');
	if (!close) {
		fail(c, "section header without ']'");
		return;
	}
	const char *after = close + 1;
	while (isspace((unsigned char)*after))
		after++;
	if (*after && *after != ';' && *after != '#') {
		fail(c, "unexpected text after section header");
		return;
	}
	const char *s = line + 1;
	size_t len = (size_t)(close - s);
	while (len && isspace((unsigned char)*s))
		s++, len--;
	while (len && isspace((unsigned char)s[len - 1]))
		len--;
	if (len >= 4 && strncmp(s, "dest", 4) == 0 &&
	    (len == 4 || isspace((unsigned char)s[4]) || s[4] == '"')) {
		open_dest(c, s + 4, len - 4);
		return;
	}
	if (len >= 4 && strncmp(s, "wrap", 4) == 0 &&
	    (len == 4 || isspace((unsigned char)s[4]) || s[4] == '"')) {
		open_wrap(c, s + 4, len - 4);
		return;
	}
	char word[64], q[80];
	snprintf(word, sizeof word, "%.*s", (int)(len < 63 ? len : 63), s);
	for (size_t i = 0; i < n_names; i++) {
		if (i == 2 || strcmp(word, names[i]) != 0)
			continue;
		struct bs_origin_table *o = c->p->origins;
		if (o->section_line[scopes[i]]) {
			fail(c, "section [%s] appears twice (first at line %u)",
			     names[i], o->section_line[scopes[i]]);
			return;
		}
		o->section_line[scopes[i]] = c->line;
		c->scope = scopes[i];
		c->rule = 0;
		c->in_section = true;
		return;
	}
	const char *near = bs_closest(word, names, n_names);
	bs_quote(q, sizeof q, word);
	if (near)
		fail(c, "unknown section [%s] (did you mean [%s]?)", q, near);
	else
		fail(c, "unknown section [%s] (sections are [global], [connect], [dest \"NAME\"], [accept], [sleep], [dns], [wrap \"SYMBOL\"])", q);
}

/* inih's reader: one whole line per call, see the top of the file. */
static char *read_line(char *str, int num, void *stream)
{
	struct parse_ctx *c = stream;
	char buf[LINE_LIMIT + 2];
	size_t len = 0;
	bool nul = false;
	int ch;
	if (c->failed)
		return NULL;
	/* Bounded: a line past the limit is refused as soon as it is, so no
	 * input (a file of zeros, a device) makes this read forever. */
	while (len <= LINE_LIMIT && (ch = getc(c->f)) != EOF && ch != '\n') {
		if (ch == '\0')
			nul = true;
		buf[len++] = (char)ch;
	}
	if (len == 0 && ch == EOF)
		return NULL;
	c->line++;
	if (len > 0 && len < sizeof buf && buf[len - 1] == '\r')
		len--;
	if (nul) {
		fail(c, "NUL byte in line; a policy is a text file");
		return NULL;
	}
	if (len > LINE_LIMIT || len + 1 > (size_t)num) {
		fail(c, "line longer than %d characters", LINE_LIMIT);
		return NULL;
	}
	buf[len] = '\0';
	char *s = buf;
	if (c->line == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
		s += 3; /* a UTF-8 byte order mark */
	while (isspace((unsigned char)*s))
		s++;
	if (*s == '[') {
		open_section(c, s);
	} else if (*s && *s != ';' && *s != '#') {
		size_t key_len = strcspn(s, "=:;");
		if (s[key_len] != '=')
			fail(c, "expected 'key = value' or a [section] header");
	}
	if (c->failed)
		return NULL;
	memcpy(str, s, strlen(s) + 1);
	return str;
}

static int on_key(void *user, const char *section, const char *name,
		  const char *value)
{
	struct parse_ctx *c = user;
	struct bs_policy *p = c->p;
	char sec[BS_NAME_MAX + 16], q[80], why[BS_WHY_MAX];
	(void)section; /* ours is in c: inih truncates long section names */
	if (c->failed)
		return 0;
	bs_quote(q, sizeof q, name);
	if (!c->in_section)
		return fail(c, "key '%s' before any section (start with [global], [connect], [dest \"NAME\"], [accept], [sleep], [dns] or [wrap \"SYMBOL\"])", q);
	bs_section_text(p, c->scope, c->rule, sec, sizeof sec);
	bool in_dest = c->scope == BS_SC_RULE && c->rule > 0;
	const struct bs_key *k = bs_key_find(c->scope, name, in_dest);
	if (!k) {
		if (c->scope == BS_SC_RULE && bs_key_find(c->scope, name, true))
			return fail(c, "'%s' is only allowed in [dest \"NAME\"] sections, not in [connect]", q);
		const char *near = bs_key_suggest(c->scope, name, in_dest);
		if (near)
			return fail(c, "unknown key '%s' in %s (did you mean '%s'?)", q, sec, near);
		char allowed[400] = "";
		size_t n, o = 0;
		const struct bs_key *keys = bs_scope_keys(c->scope, &n);
		for (size_t i = 0; i < n; i++)
			if (in_dest || !keys[i].dest_only)
				o += (size_t)snprintf(allowed + o, sizeof allowed - o, "%s%s",
						      o ? " " : "", keys[i].name);
		return fail(c, "unknown key '%s' in %s (allowed: %s)", q, sec, allowed);
	}
	uint32_t first = bs_origin_get(p, k, c->rule);
	bool repeated = BS_ORIGIN_IS_LINE(first);
	bool list = k->type == BS_K_ERRSET || k->type == BS_K_PATTERNS;
	if (repeated && !list)
		return fail(c, "duplicate key '%s' in %s (first set at line %u; only match, exempt and retry_on may repeat)",
			    k->name, sec, first);
	if (bs_key_set(p, k, c->rule, value, repeated, c->line, why, sizeof why) != 0)
		return fail(c, "%s %s: %s", sec, k->name, why);
	/* A repeated list key keeps the line that started it. */
	if (repeated)
		*bs_origin_slot(p, k, c->rule) = first;
	return 1;
}

/* The policy file, opened without blocking (a FIFO with no writer would
 * block open itself, before any timeout the program could arm) and
 * refused unless it is a regular file (a FIFO, a terminal or /dev/zero
 * could block or never end). O_NONBLOCK means nothing to a regular file's
 * reads. close() is the preload's wrapper: the raw system call here. */
static FILE *open_regular(const char *path, struct bs_error *err)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		snprintf(err->msg, sizeof err->msg, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	struct stat st;
	const char *why = fstat(fd, &st) != 0 ? "cannot stat it" :
			  S_ISDIR(st.st_mode) ? "is a directory" :
			  !S_ISREG(st.st_mode) ? "not a regular file (a FIFO, device or socket is refused)" :
			  NULL;
	FILE *f = why ? NULL : fdopen(fd, "r");
	if (!f) {
		snprintf(err->msg, sizeof err->msg, "%s: %s", path, why ? why : strerror(errno));
		syscall(SYS_close, fd);
	}
	return f;
}

int bs_parse_file(struct bs_policy *p, const char *path, bool privileged,
		  struct bs_error *err)
{
	struct parse_ctx c = {.p = p, .path = path, .err = err};
	if (!(c.f = open_regular(path, err)))
		return -1;
	if (privileged && bs_file_trusted(fileno(c.f), path, geteuid(), err) != 0) {
		fclose(c.f);
		return -1;
	}
	int rc = ini_parse_stream(read_line, &c, on_key, &c);
	if (!c.failed && ferror(c.f))
		snprintf(err->msg, sizeof err->msg, "%s: cannot read: %s", path, strerror(errno));
	else if (!c.failed && rc != 0)
		/* inih found something our reader let through. */
		snprintf(err->msg, sizeof err->msg, "%s:%d: cannot parse this line", path, rc);
	bool bad = c.failed || ferror(c.f) || rc != 0;
	fclose(c.f);
	return bad ? -1 : 0;
}
