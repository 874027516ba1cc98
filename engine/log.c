/* Building a JSON log line on the stack: no malloc, no stdio, no locale,
 * no gmtime, so that it is async-signal-safe. The sink side (opening,
 * writing, moving the descriptor) is in logsink.c. The two files call
 * each other (a finished line goes to bs_log_write; the sinks format
 * numbers with bs_fmt_u64): one module, engine/log.h, split by job. */
#include "engine/log.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "policy/errnames.h"

#define LIT(s) s, sizeof(s) - 1

/* The end of every line is reserved for what emit appends: the longest
 * possible is ,"truncated":true,"dropped":<20 digits>}\n. Fields stop
 * short of it. */
#define TAIL_MAX (sizeof(",\"truncated\":true") - 1 + sizeof(",\"dropped\":") - 1 + 20 + 2)
#define BODY_MAX (BS_LOG_LINE_MAX - TAIL_MAX)

size_t bs_fmt_u64(char *dst, uint64_t v)
{
	char tmp[20];
	size_t n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	for (size_t i = 0; i < n; i++)
		dst[i] = tmp[n - 1 - i];
	return n;
}

static size_t fmt_i64(char *dst, int64_t v)
{
	if (v >= 0)
		return bs_fmt_u64(dst, (uint64_t)v);
	dst[0] = '-';
	return 1 + bs_fmt_u64(dst + 1, -(uint64_t)v); /* INT64_MIN too */
}

/* Zero-padded to `width` digits (v must fit). */
static void fmt_padded(char *dst, uint32_t v, int width)
{
	for (int i = width - 1; i >= 0; i--) {
		dst[i] = (char)('0' + v % 10);
		v /= 10;
	}
}

/* Proleptic Gregorian date of a day count since 1970-01-01 (Howard
 * Hinnant's civil_from_days, http://howardhinnant.github.io/date_algorithms.html). */
static void civil_from_days(int64_t z, int64_t *y, uint32_t *m, uint32_t *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	uint32_t doe = (uint32_t)(z - era * 146097);
	uint32_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	uint32_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	uint32_t mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

size_t bs_format_rfc3339(char *dst, int64_t sec, uint32_t usec)
{
	int64_t days = sec / 86400, rem = sec % 86400;
	if (rem < 0) {
		rem += 86400;
		days--;
	}
	int64_t year;
	uint32_t month, day;
	civil_from_days(days, &year, &month, &day);
	if (year < 0)
		year = 0;
	if (year > 9999)
		year = 9999;
	memcpy(dst, "0000-00-00T00:00:00.000000Z", BS_RFC3339_LEN + 1);
	fmt_padded(dst, (uint32_t)year, 4);
	fmt_padded(dst + 5, month, 2);
	fmt_padded(dst + 8, day, 2);
	fmt_padded(dst + 11, (uint32_t)(rem / 3600), 2);
	fmt_padded(dst + 14, (uint32_t)(rem / 60 % 60), 2);
	fmt_padded(dst + 17, (uint32_t)(rem % 60), 2);
	fmt_padded(dst + 20, usec % 1000000, 6);
	return BS_RFC3339_LEN;
}

/* Length of the well-formed UTF-8 sequence (RFC 3629: no overlongs, no
 * surrogates, nothing past U+10FFFF) that starts s, or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	unsigned char lo = 0x80, hi = 0xbf; /* range of the second byte */
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

/* Escape src into dst, writing at most `room` bytes and never splitting an
 * escape or a character. *used is how much of src went in. */
static size_t escape_some(char *dst, size_t room, const char *src, size_t len,
			  size_t *used)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)src;
	size_t out = 0, i = 0;
	while (i < len) {
		char esc[6];
		const char *piece = (const char *)s + i;
		size_t in = 1, n = 1;
		unsigned char c = s[i];
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			piece = esc, n = 2;
		} else if (c < 0x20 || (c >= 0x80 && (in = utf8_len(s + i, len - i)) == 0)) {
			const char *named = c == '\n' ? "\\n" : c == '\t' ? "\\t" :
					    c == '\r' ? "\\r" : c == '\b' ? "\\b" :
					    c == '\f' ? "\\f" : NULL;
			if (named) {
				piece = named, n = 2;
			} else { /* control byte, or a byte that is not UTF-8 */
				memcpy(esc, "\\u00", 4);
				esc[4] = hex[c >> 4];
				esc[5] = hex[c & 15];
				piece = esc, n = 6;
			}
			in = 1;
		} else {
			n = in; /* ASCII, or a whole valid UTF-8 sequence */
		}
		if (n > room - out)
			break;
		memcpy(dst + out, piece, n);
		out += n;
		i += in;
	}
	*used = i;
	return out;
}

size_t bs_json_escape(char *dst, size_t cap, const char *src, size_t len)
{
	int saved = errno;
	size_t used, n = 0;
	if (cap > 0) {
		n = escape_some(dst, cap - 1, src, len, &used);
		dst[n] = '\0';
	}
	errno = saved;
	return n;
}

static size_t room(const struct bs_logline *line)
{
	return line->len < BODY_MAX ? BODY_MAX - line->len : 0;
}

static bool put(struct bs_logline *line, const char *s, size_t n)
{
	if (n > room(line))
		return false;
	memcpy(line->buf + line->len, s, n);
	line->len += n;
	return true;
}

/* Append [,]"key": and make sure `need` more bytes fit after it. On
 * failure the line is left as it was and marked truncated. */
static bool begin_field(struct bs_logline *line, const char *key, size_t need)
{
	size_t start = line->len, keylen = strlen(key), used;
	bool ok = (line->len <= 1 || put(line, LIT(","))) && put(line, LIT("\""));
	if (ok) {
		line->len += escape_some(line->buf + line->len, room(line), key, keylen, &used);
		ok = used == keylen && put(line, LIT("\":")) && room(line) >= need;
	}
	if (!ok) {
		line->len = start;
		line->truncated = 1;
	}
	return ok;
}

/* A string value is cut, never dropped, when the line runs out of room. */
static void put_str(struct bs_logline *line, const char *key, const char *value)
{
	if (value == NULL)
		value = "";
	if (!begin_field(line, key, 2))
		return;
	size_t len = strlen(value), used;
	line->buf[line->len++] = '"';
	line->len += escape_some(line->buf + line->len, room(line) - 1, value, len, &used);
	line->buf[line->len++] = '"';
	if (used < len)
		line->truncated = 1;
}

/* A number goes in whole or not at all. */
static void put_number(struct bs_logline *line, const char *key, const char *num, size_t n)
{
	if (begin_field(line, key, n))
		put(line, num, n);
}

static void put_int(struct bs_logline *line, const char *key, int64_t value)
{
	char num[21];
	put_number(line, key, num, fmt_i64(num, value));
}

void bs_line_begin(struct bs_logline *line, const struct bs_log *log,
		   const char *event)
{
	int saved = errno;
	struct timespec now = { 0, 0 };
	char ts[BS_RFC3339_LEN + 1];
	clock_gettime(CLOCK_REALTIME, &now);
	bs_format_rfc3339(ts, (int64_t)now.tv_sec, (uint32_t)(now.tv_nsec / 1000));
	line->len = 0;
	line->truncated = 0;
	put(line, LIT("{"));
	put_str(line, "ts", ts);
	put_int(line, "pid", getpid());
	put_int(line, "tid", syscall(SYS_gettid));
	put_str(line, "prog", log != NULL ? log->prog : "");
	put_str(line, "event", event);
	errno = saved;
}

void bs_line_str(struct bs_logline *line, const char *key, const char *value)
{
	int saved = errno;
	put_str(line, key, value);
	errno = saved;
}

void bs_line_int(struct bs_logline *line, const char *key, int64_t value)
{
	int saved = errno;
	put_int(line, key, value);
	errno = saved;
}

void bs_line_ms(struct bs_logline *line, const char *key, bs_ns value)
{
	int saved = errno;
	char num[32];
	size_t n = bs_fmt_u64(num, value / BS_MS);
	num[n++] = '.';
	fmt_padded(num + n, (uint32_t)(value / 1000 % 1000), 3);
	put_number(line, key, num, n + 3);
	errno = saved;
}

void bs_line_raw(struct bs_logline *line, const char *key, const char *json)
{
	int saved = errno;
	put_number(line, key, json, strlen(json));
	errno = saved;
}

void bs_line_errno(struct bs_logline *line, const char *key, int err)
{
	int saved = errno;
	const char *name = bs_errno_name(err);
	if (name != NULL)
		put_str(line, key, name);
	else
		put_int(line, key, err);
	errno = saved;
}

void bs_line_emit(struct bs_logline *line, struct bs_log *log)
{
	int saved = errno;
	if (log == NULL || !bs_log_on(log)) {
		errno = saved;
		return;
	}
	/* Past BODY_MAX: the reserved tail always has room for these. */
	char *end = line->buf + line->len;
	if (line->truncated) {
		memcpy(end, LIT(",\"truncated\":true"));
		end += sizeof(",\"truncated\":true") - 1;
	}
	unsigned long dropped = atomic_exchange(&log->dropped, 0);
	if (dropped != 0) {
		memcpy(end, LIT(",\"dropped\":"));
		end += sizeof(",\"dropped\":") - 1;
		end += bs_fmt_u64(end, dropped);
	}
	*end++ = '}';
	*end++ = '\n';
	line->len = (size_t)(end - line->buf);
	if (!bs_log_write(log, line->buf, line->len))
		atomic_fetch_add(&log->dropped, dropped + 1);
	errno = saved;
}
