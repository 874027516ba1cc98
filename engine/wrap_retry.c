/* A declared wrapper's call as the retry engine's subject (wrap_retry.h). */
#include "engine/wrap_retry.h"

#include <errno.h>
#include <string.h>

static const struct bs_retry_events wrap_events = {
	.retry = "wrap.retry", .ok = "wrap.ok", .giveup = "wrap.giveup",
};

static bool is_signed(enum bs_ctype t)
{
	return t == BS_CT_INT || t == BS_CT_LONG || t == BS_CT_SSIZE || t == BS_CT_INT64;
}

/* -1, 0 or 1 as ret compares with v; the policy checked that v fits. */
static int compare(enum bs_ctype t, union bs_wrap_ret ret, const struct bs_cond_value *v)
{
	if (t == BS_CT_POINTER)
		return ret.p != NULL; /* v is null */
	if (t == BS_CT_DOUBLE) {
		double d = v->kind == BS_CV_DOUBLE ? v->d
			   : v->kind == BS_CV_INT ? (double)v->i : (double)v->u;
		return ret.d < d ? -1 : ret.d > d ? 1 : 0;
	}
	if (is_signed(t)) {
		int64_t i = v->kind == BS_CV_INT ? v->i : (int64_t)v->u;
		return ret.i < i ? -1 : ret.i > i ? 1 : 0;
	}
	return ret.u < v->u ? -1 : ret.u > v->u ? 1 : 0;
}

bool bs_wrap_should_retry(const struct bs_wrap *w, union bs_wrap_ret ret, int err)
{
	const struct bs_retry_if *c = &w->retry_if;
	int cmp = compare(w->returns, ret, &c->values[0]);
	bool match;
	switch (c->op) {
	case BS_OP_EQ: match = cmp == 0; break;
	case BS_OP_NE: match = cmp != 0; break;
	case BS_OP_LT: match = cmp < 0; break;
	case BS_OP_LE: match = cmp <= 0; break;
	case BS_OP_GT: match = cmp > 0; break;
	case BS_OP_GE: match = cmp >= 0; break;
	default:
		match = false;
		for (uint8_t i = 0; i < c->n_values && !match; i++)
			match = compare(w->returns, ret, &c->values[i]) == 0;
	}
	return match && (!c->with_errno || bs_errset_has(&c->errnos, err));
}

/* Digits of v, most significant first, into dst (no NUL); their count. */
static size_t digits(char *dst, uint64_t v, size_t min_width)
{
	char tmp[24];
	size_t n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0 || n < min_width);
	for (size_t i = 0; i < n; i++)
		dst[i] = tmp[n - 1 - i];
	return n;
}

/* A double with six decimals, without stdio (not async-signal-safe);
 * NaN, infinities and magnitudes past 1e18 have no such form: null. */
static void format_double(char *buf, double d)
{
	if (!(d > -1e18 && d < 1e18)) {
		strcpy(buf, "null");
		return;
	}
	size_t n = 0;
	if (d < 0) {
		buf[n++] = '-';
		d = -d;
	}
	uint64_t micro = (uint64_t)(d * 1e6 + 0.5);
	n += digits(buf + n, micro / 1000000, 1);
	buf[n++] = '.';
	n += digits(buf + n, micro % 1000000, 6);
	buf[n] = '\0';
}

void bs_wrap_line_return(struct bs_logline *line, const char *key,
			 enum bs_ctype type, union bs_wrap_ret ret)
{
	char num[48];
	if (type == BS_CT_POINTER) {
		if (ret.p == NULL) {
			bs_line_raw(line, key, "null");
			return;
		}
		static const char hex[] = "0123456789abcdef";
		uint64_t a = (uint64_t)(uintptr_t)ret.p;
		size_t n = 2;
		num[0] = '0', num[1] = 'x';
		for (int shift = 60; shift >= 0; shift -= 4)
			if ((a >> shift) != 0 || shift == 0)
				num[n++] = hex[(a >> shift) & 15];
		num[n] = '\0';
		bs_line_str(line, key, num);
	} else if (type == BS_CT_DOUBLE) {
		format_double(num, ret.d);
		bs_line_raw(line, key, num);
	} else if (is_signed(type)) {
		bs_line_int(line, key, ret.i);
	} else {
		num[digits(num, ret.u, 1)] = '\0';
		bs_line_raw(line, key, num);
	}
}

static void identify(struct bs_logline *line, const void *ctx)
{
	const struct bs_wrap_call *c = ctx;
	bs_line_str(line, "symbol", c->wrap->symbol);
}

static void failure(struct bs_logline *line, const void *ctx, int err)
{
	const struct bs_wrap_call *c = ctx;
	(void)err; /* BS_WRAP_TRANSIENT or ETIMEDOUT: the call's own outcome says more */
	bs_wrap_line_return(line, "return", c->wrap->returns, c->ret);
	if (c->wrap->retry_if.with_errno)
		bs_line_errno(line, "errno", c->err);
}

int bs_wrap_retry(struct bs_wrap_call *c, const struct bs_retry_io *io)
{
	const struct bs_wrap *w = c->wrap;
	const struct bs_retry_call call = {
		.subject = { .events = &wrap_events, .ctx = c,
			     .identify = identify, .failure = failure },
		.limits = { .attempts = w->attempts, .backoff = &w->backoff,
			    .attempt_timeout = 0, .deadline = w->deadline },
		.rng = c->rng,
		.log = c->log,
		.start = c->start,
	};
	return bs_retry_run(&call, io);
}
