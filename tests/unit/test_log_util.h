/* Shared by the log writer's tests (test_log.c, test_logsink.c): open a
 * log on a sink, and read back and parse the lines it wrote (jansson, a
 * strict parser: it also rejects invalid UTF-8). */
#ifndef BS_TEST_LOG_UTIL_H
#define BS_TEST_LOG_UTIL_H

#include <check.h>
#include <fcntl.h>
#include <jansson.h>
#include <string.h>
#include <unistd.h>

#include "engine/log.h"

static inline void open_log(struct bs_log *log, enum bs_log_kind kind, int fd, char *path)
{
	struct bs_global g = { .log_kind = kind, .log_fd = fd, .log_path = path };
	struct bs_error err = { "" };
	ck_assert_msg(bs_log_open(log, &g, "test-prog", &err) == 0, "%s", err.msg);
}

static inline void make_pipe(int p[2])
{
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
}

/* One line from a pipe or datagram socket: a single read gets it whole,
 * because the writer made it with a single write. */
static inline size_t read_line(int fd, char *buf, size_t cap)
{
	ssize_t n = read(fd, buf, cap - 1);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	return (size_t)n;
}

static inline json_t *parse_line(const char *text)
{
	size_t len = strlen(text);
	ck_assert_msg(len > 0 && text[len - 1] == '\n', "no newline: %s", text);
	ck_assert_ptr_null(memchr(text, '\n', len - 1));
	json_error_t jerr;
	json_t *obj = json_loadb(text, len - 1, JSON_REJECT_DUPLICATES, &jerr);
	ck_assert_msg(obj != NULL, "invalid JSON (%s): %s", jerr.text, text);
	ck_assert(json_is_object(obj));
	return obj;
}

static inline const char *get_str(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	ck_assert_msg(json_is_string(v), "%s is not a string", key);
	return json_string_value(v);
}

static inline json_int_t get_int(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	ck_assert_msg(json_is_integer(v), "%s is not an integer", key);
	return json_integer_value(v);
}

static inline void emit_simple(struct bs_log *log, const char *event)
{
	struct bs_logline line;
	bs_line_begin(&line, log, event);
	bs_line_emit(&line, log);
}

#endif
