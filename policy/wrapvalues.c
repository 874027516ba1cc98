/* The values only [wrap "SYMBOL"] sections have: C types (returns, args),
 * the retry_if condition and the library name; adding a wrap section; and
 * the checks that need several keys (retry_if against returns). */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/errnames.h"
#include "policy/load_internal.h"

#define TYPES_HELP "void, int, unsigned, long, unsigned long, size_t, ssize_t, int64, uint64, double or pointer"
#define RETRY_IF_HELP "return OP VALUES [and errno in NAMES], OP one of == != < <= > >= in; " \
	"VALUES are integers, numbers or null (e.g. return in 5 6, return == -1 and errno in EAGAIN, return == null)"

static const char *const ctype_names[] = {
	[BS_CT_VOID] = "void", [BS_CT_INT] = "int", [BS_CT_UNSIGNED] = "unsigned",
	[BS_CT_LONG] = "long", [BS_CT_ULONG] = "unsigned long", [BS_CT_SIZE] = "size_t",
	[BS_CT_SSIZE] = "ssize_t", [BS_CT_INT64] = "int64", [BS_CT_UINT64] = "uint64",
	[BS_CT_DOUBLE] = "double", [BS_CT_POINTER] = "pointer",
};
#define N_CTYPES (sizeof ctype_names / sizeof ctype_names[0])

static const char *const op_names[] = {
	[BS_OP_EQ] = "==", [BS_OP_NE] = "!=", [BS_OP_LT] = "<", [BS_OP_LE] = "<=",
	[BS_OP_GT] = ">", [BS_OP_GE] = ">=", [BS_OP_IN] = "in",
};
#define N_OPS (sizeof op_names / sizeof op_names[0])

bool bs_valid_symbol(const char *s, size_t len)
{
	if (len == 0 || len >= BS_NAME_MAX || isdigit((unsigned char)s[0]))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return false;
	return true;
}

long bs_policy_add_wrap(struct bs_policy *p, const char *symbol, uint32_t line)
{
	struct bs_origin_table *o = p->origins;
	if (p->n_wraps == o->wrap_cap) {
		size_t cap = o->wrap_cap ? o->wrap_cap * 2 : 4;
		struct bs_wrap *wraps = realloc(p->wraps, cap * sizeof *wraps);
		if (!wraps)
			return -1;
		p->wraps = wraps;
		uint32_t *keys = realloc(o->wrap_keys, cap * BS_SCOPE_KEYS_MAX * sizeof *keys);
		if (!keys)
			return -1;
		o->wrap_keys = keys;
		uint32_t *lines = realloc(o->wrap_line, cap * sizeof *lines);
		if (!lines)
			return -1;
		o->wrap_line = lines;
		o->wrap_cap = cap;
	}
	size_t w = p->n_wraps++;
	if (w == 0)
		memset(&p->wraps[0], 0, sizeof p->wraps[0]);
	else
		p->wraps[w] = p->wraps[0];
	snprintf(p->wraps[w].symbol, sizeof p->wraps[w].symbol, "%s", symbol);
	memset(&o->wrap_keys[w * BS_SCOPE_KEYS_MAX], 0, BS_SCOPE_KEYS_MAX * sizeof *o->wrap_keys);
	o->wrap_line[w] = line;
	return (long)w;
}

/* ---- C types ------------------------------------------------------------ */

/* The type at *s (whitespace skipped; "unsigned long" is one type), or -1.
 * Advances *s past it. */
static int next_ctype(const char **s, char *word, size_t cap)
{
	const char *p = *s + strspn(*s, " \t,");
	size_t len = strcspn(p, " \t,");
	snprintf(word, cap, "%.*s", (int)len, p);
	*s = p + len;
	if (strcmp(word, "unsigned") == 0) {
		const char *q = *s + strspn(*s, " \t");
		if (strncmp(q, "long", 4) == 0 && strchr(" \t,", q[4])) {
			*s = q + 4;
			return BS_CT_ULONG;
		}
	}
	for (size_t t = 0; t < N_CTYPES; t++)
		if (strcmp(word, ctype_names[t]) == 0)
			return (int)t;
	return -1;
}

static int parse_ctype(const char *value, enum bs_ctype *out, char *why, size_t cap)
{
	char word[64], q[80];
	const char *s = value;
	int t = next_ctype(&s, word, sizeof word);
	if (t < 0 || s[strspn(s, " \t")] != '\0') {
		bs_quote(q, sizeof q, value);
		return bs_value_fail(why, cap, "unknown type '%s' (use one of %s)", q, TYPES_HELP);
	}
	*out = (enum bs_ctype)t;
	return 0;
}

static int parse_ctypes(const char *value, enum bs_ctype *args, uint8_t *n,
			char *why, size_t cap)
{
	enum bs_ctype list[BS_WRAP_ARGS_MAX];
	uint8_t count = 0;
	char word[64], q[80];
	const char *s = value;
	while (s[strspn(s, " \t,")] != '\0') {
		int t = next_ctype(&s, word, sizeof word);
		if (t < 0) {
			bs_quote(q, sizeof q, word);
			return bs_value_fail(why, cap, "unknown type '%s' in args (use %s, separated by commas)",
				    q, TYPES_HELP);
		}
		if (t == BS_CT_VOID) {
			if (count > 0 || s[strspn(s, " \t,")] != '\0')
				return bs_value_fail(why, cap, "void in args stands alone (args = void: no parameters)");
			break;
		}
		if (count == BS_WRAP_ARGS_MAX)
			return bs_value_fail(why, cap, "more than %d args", BS_WRAP_ARGS_MAX);
		list[count++] = (enum bs_ctype)t;
	}
	memcpy(args, list, count * sizeof *list);
	*n = count;
	return 0;
}

static void format_ctypes(const enum bs_ctype *args, uint8_t n, char *buf, size_t cap)
{
	size_t o = 0;
	buf[0] = '\0';
	for (uint8_t i = 0; i < n && o < cap; i++)
		o += (size_t)snprintf(buf + o, cap - o, "%s%s", i ? ", " : "", ctype_names[args[i]]);
	if (n == 0)
		snprintf(buf, cap, "void");
}

/* ---- retry_if ----------------------------------------------------------- */

static int parse_value(const char *tok, struct bs_cond_value *v)
{
	char *end;
	if (strcmp(tok, "null") == 0 || strcmp(tok, "NULL") == 0) {
		v->kind = BS_CV_NULL;
		return 0;
	}
	errno = 0;
	if (tok[0] == '-') {
		long long i = strtoll(tok, &end, 0);
		if (errno == 0 && end != tok && *end == '\0') {
			v->kind = i < 0 ? BS_CV_INT : BS_CV_UINT;
			if (i < 0)
				v->i = i;
			else
				v->u = (uint64_t)i;
			return 0;
		}
	} else if (isdigit((unsigned char)tok[0])) {
		unsigned long long u = strtoull(tok, &end, 0);
		if (errno == 0 && end != tok && *end == '\0') {
			v->kind = BS_CV_UINT;
			v->u = u;
			return 0;
		}
	}
	errno = 0;
	double d = strtod(tok, &end);
	if (errno != 0 || end == tok || *end != '\0' || !isfinite(d) ||
	    !(isdigit((unsigned char)tok[0]) || tok[0] == '-' || tok[0] == '.'))
		return -1;
	v->kind = BS_CV_DOUBLE;
	v->d = d;
	return 0;
}

static int bad_retry_if(char *why, size_t cap, const char *what, const char *tok)
{
	char q[80];
	bs_quote(q, sizeof q, tok);
	return bs_value_fail(why, cap, "%s '%s' (use %s)", what, q, RETRY_IF_HELP);
}

static int parse_retry_if(const char *value, struct bs_retry_if *out, char *why,
			  size_t cap)
{
	struct bs_retry_if c = {.set = true};
	char tok[64];
	const char *s = value;
	size_t len;
#define NEXT() (s += strspn(s, " \t"), len = strcspn(s, " \t"), \
		snprintf(tok, sizeof tok, "%.*s", (int)len, s), s += len, len)
	if (NEXT() == 0 || strcmp(tok, "return") != 0)
		return bad_retry_if(why, cap, len ? "retry_if starts with 'return', not" : "empty retry_if", tok);
	if (NEXT() == 0)
		return bad_retry_if(why, cap, "missing operator after", "return");
	size_t op = 0;
	while (op < N_OPS && strcmp(tok, op_names[op]) != 0)
		op++;
	if (op == N_OPS)
		return bad_retry_if(why, cap, "unknown operator", tok);
	c.op = (enum bs_cond_op)op;
	while (NEXT() != 0 && strcmp(tok, "and") != 0) {
		if (c.n_values == (c.op == BS_OP_IN ? BS_WRAP_VALUES_MAX : 1))
			return bad_retry_if(why, cap, c.op == BS_OP_IN ? "too many values (at most 16) at"
								  : "one value after the operator, then",
					    tok);
		if (parse_value(tok, &c.values[c.n_values]) != 0)
			return bad_retry_if(why, cap, "bad value", tok);
		c.n_values++;
	}
	if (c.n_values == 0)
		return bad_retry_if(why, cap, "missing value after", op_names[c.op]);
	if (strcmp(tok, "and") == 0) {
		if (NEXT() == 0 || strcmp(tok, "errno") != 0 || NEXT() == 0 || strcmp(tok, "in") != 0)
			return bad_retry_if(why, cap, "after 'and' comes 'errno in NAMES', not", tok);
		if (bs_parse_errnames(s, &c.errnos, why, cap) != 0)
			return -1;
		c.with_errno = true;
	}
#undef NEXT
	*out = c;
	return 0;
}

static size_t format_value(const struct bs_cond_value *v, char *buf, size_t cap)
{
	switch (v->kind) {
	case BS_CV_NULL:
		return (size_t)snprintf(buf, cap, "null");
	case BS_CV_INT:
		return (size_t)snprintf(buf, cap, "%" PRId64, v->i);
	case BS_CV_UINT:
		return (size_t)snprintf(buf, cap, "%" PRIu64, v->u);
	default:
		return (size_t)snprintf(buf, cap, "%.17g", v->d);
	}
}

static void format_retry_if(const struct bs_retry_if *c, char *buf, size_t cap)
{
	buf[0] = '\0';
	if (!c->set)
		return;
	size_t o = (size_t)snprintf(buf, cap, "return %s", op_names[c->op]);
	for (uint8_t i = 0; i < c->n_values && o + 1 < cap; i++) {
		buf[o++] = ' ';
		o += format_value(&c->values[i], buf + o, cap - o);
	}
	if (!c->with_errno || o + 1 >= cap)
		return;
	o += (size_t)snprintf(buf + o, cap - o, " and errno in");
	for (int e = 1; e < BS_ERRNO_MAX && o < cap; e++)
		if (bs_errset_has(&c->errnos, e))
			o += (size_t)snprintf(buf + o, cap - o, " %s", bs_errno_name(e));
}

/* ---- the key table's hooks ---------------------------------------------- */

int bs_wrap_parse_value(const struct bs_key *k, char *base, const char *value,
			char *why, size_t cap)
{
	char *field = base + k->off;
	char q[80];
	switch (k->type) {
	case BS_K_CTYPE:
		return parse_ctype(value, (enum bs_ctype *)field, why, cap);
	case BS_K_CTYPES:
		return parse_ctypes(value, (enum bs_ctype *)field,
				    (uint8_t *)(base + k->count_off), why, cap);
	case BS_K_RETRY_IF:
		return parse_retry_if(value, (struct bs_retry_if *)field, why, cap);
	default: /* BS_K_STRING */
		if (value[0] == '\0' || strcspn(value, " \t") != strlen(value) ||
		    strlen(value) >= k->size) {
			bs_quote(q, sizeof q, value);
			return bs_value_fail(why, cap, "bad name '%s' (one word of 1 to %zu characters, "
					      "e.g. libsqlite3.so.0)", q, k->size - 1);
		}
		memcpy(field, value, strlen(value) + 1);
		return 0;
	}
}

void bs_wrap_format_value(const struct bs_key *k, const char *base, char *buf,
			  size_t cap)
{
	const char *field = base + k->off;
	switch (k->type) {
	case BS_K_CTYPE:
		snprintf(buf, cap, "%s", ctype_names[*(const enum bs_ctype *)field]);
		return;
	case BS_K_CTYPES:
		format_ctypes((const enum bs_ctype *)field,
			      *(const uint8_t *)(base + k->count_off), buf, cap);
		return;
	case BS_K_RETRY_IF:
		format_retry_if((const struct bs_retry_if *)field, buf, cap);
		return;
	default:
		snprintf(buf, cap, "%s", field);
		return;
	}
}

/* ---- checks across keys ------------------------------------------------- */

static bool is_unsigned(enum bs_ctype t)
{
	return t == BS_CT_UNSIGNED || t == BS_CT_ULONG || t == BS_CT_SIZE || t == BS_CT_UINT64;
}

/* Whether value v can be a return of type t; why says what is wrong. */
static bool value_fits(enum bs_ctype t, const struct bs_cond_value *v, const char **why)
{
	if (t == BS_CT_POINTER) {
		*why = "a pointer is compared with null only";
		return v->kind == BS_CV_NULL;
	}
	*why = "null is only for returns = pointer";
	if (v->kind == BS_CV_NULL)
		return false;
	if (t == BS_CT_DOUBLE)
		return true;
	*why = "a number with a fraction is only for returns = double";
	if (v->kind == BS_CV_DOUBLE)
		return false;
	*why = "a negative number cannot be returned by an unsigned type";
	if (v->kind == BS_CV_INT && is_unsigned(t))
		return false;
	*why = "the number does not fit the return type";
	if (t == BS_CT_INT)
		return v->kind == BS_CV_INT ? v->i >= INT32_MIN : v->u <= INT32_MAX;
	if (t == BS_CT_UNSIGNED)
		return v->u <= UINT32_MAX;
	if (!is_unsigned(t))
		return v->kind == BS_CV_INT || v->u <= INT64_MAX;
	return true;
}

static int wrap_fail(struct bs_policy *p, size_t w, const char *key,
		     struct bs_error *err, const char *what, const char *detail)
{
	char where[BS_WHY_MAX], sec[BS_NAME_MAX + 16];
	bs_section_text(p, BS_SC_WRAP, w, sec, sizeof sec);
	const struct bs_key *k = key ? bs_key_find(BS_SC_WRAP, key, false) : NULL;
	if (k && bs_origin_get(p, k, w) != BS_ORIGIN_DEFAULT)
		bs_origin_text(p, k, w, where, sizeof where);
	else
		snprintf(where, sizeof where, "%s:%u", p->origins->file, p->origins->wrap_line[w]);
	snprintf(err->msg, sizeof err->msg, "%s: %s %s%s", where, sec, what, detail);
	return -1;
}

int bs_wraps_finalize(struct bs_policy *p, struct bs_error *err)
{
	const struct bs_key *kret = bs_key_find(BS_SC_WRAP, "returns", false);
	for (size_t w = 1; w < p->n_wraps; w++) {
		const struct bs_wrap *wr = &p->wraps[w];
		if (bs_origin_get(p, kret, w) == BS_ORIGIN_DEFAULT)
			return wrap_fail(p, w, NULL, err, "has no 'returns'",
					 " (add e.g. returns = int; types: " TYPES_HELP ")");
		if (!wr->retry_if.set)
			return wrap_fail(p, w, NULL, err, "has no 'retry_if'",
					 " (add e.g. retry_if = return in 5 6; " RETRY_IF_HELP ")");
		if (wr->returns == BS_CT_VOID)
			return wrap_fail(p, w, "returns", err, "returns void",
					 ": a function without a result cannot say it failed, so it cannot be retried");
		for (uint8_t i = 0; i < wr->retry_if.n_values; i++) {
			const char *why;
			if (value_fits(wr->returns, &wr->retry_if.values[i], &why))
				continue;
			char detail[160], v[32];
			format_value(&wr->retry_if.values[i], v, sizeof v);
			snprintf(detail, sizeof detail, " '%s' with returns = %s: %s", v,
				 ctype_names[wr->returns], why);
			return wrap_fail(p, w, "retry_if", err, "retry_if value", detail);
		}
		if (wr->returns == BS_CT_POINTER && wr->retry_if.op != BS_OP_EQ &&
		    wr->retry_if.op != BS_OP_NE && wr->retry_if.op != BS_OP_IN)
			return wrap_fail(p, w, "retry_if", err, "retry_if",
					 ": a pointer return takes == null or != null");
	}
	return 0;
}
