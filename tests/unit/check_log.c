/* check_log.c -- unit tests for rate limits, time stamps and line building. */
#include <sys/stat.h>

#include <errno.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "log.h"
#include "logfile.h"
#include "suites.h"

#define KIND_A	"app: bad message"
#define KIND_B	"app: value at its limit"

/* Takes n lines of kind at now; returns how many may be logged. */
static unsigned
take_n(struct log_limit *l, const char *kind, double now, unsigned n,
    unsigned long *report_sum)
{
	unsigned long	 report;
	unsigned	 i, logged = 0;

	for (i = 0; i < n; i++) {
		logged += log_limit_take(l, kind, LOG_LVL_INFO, now, &report);
		*report_sum += report;
	}
	return logged;
}

START_TEST(test_burst_then_counted)
{
	struct log_limit	l;
	unsigned long		report = 0;

	log_limit_init(&l, "127.0.0.1:5555");
	ck_assert_str_eq(l.who, "127.0.0.1:5555");
	/* 5000 bad messages in one second: the burst, then counting. */
	ck_assert_uint_eq(take_n(&l, KIND_A, 100.0, 5000, &report),
	    LOG_LIMIT_BURST);
	ck_assert_uint_eq(report, 0);
	ck_assert_uint_eq(l.slot[0].suppressed, 5000 - LOG_LIMIT_BURST);
	/* Still inside the window: held back, nothing reported. */
	ck_assert_uint_eq(take_n(&l, KIND_A, 100.0 + LOG_LIMIT_WINDOW - 0.5,
	    10, &report), 0);
	ck_assert_uint_eq(report, 0);
	/* The next window: the count comes first, once, then a new burst. */
	ck_assert_uint_eq(take_n(&l, KIND_A, 100.0 + LOG_LIMIT_WINDOW, 1,
	    &report), 1);
	ck_assert_uint_eq(report, 5000 - LOG_LIMIT_BURST + 10);
	report = 0;
	ck_assert_uint_eq(take_n(&l, KIND_A, 100.0 + LOG_LIMIT_WINDOW, 10,
	    &report), LOG_LIMIT_BURST - 1);
	ck_assert_uint_eq(report, 0);
	ck_assert_uint_eq(l.slot[0].suppressed, 10 - (LOG_LIMIT_BURST - 1));
}
END_TEST

START_TEST(test_kinds_apart)
{
	struct log_limit	l;
	unsigned long		report = 0;
	char			other[32];

	log_limit_init(&l, "x");
	ck_assert_uint_eq(take_n(&l, KIND_A, 1.0, 20, &report),
	    LOG_LIMIT_BURST);
	/* Another kind has a budget of its own... */
	ck_assert_uint_eq(take_n(&l, KIND_B, 1.0, 20, &report),
	    LOG_LIMIT_BURST);
	/* ...told apart by its text, not by where the string lives. */
	strcpy(other, KIND_A);
	ck_assert_uint_eq(take_n(&l, other, 1.0, 3, &report), 0);
	ck_assert_uint_eq(l.slot[0].suppressed, 20 - LOG_LIMIT_BURST + 3);
	ck_assert_uint_eq(l.slot[1].suppressed, 20 - LOG_LIMIT_BURST);
	ck_assert_uint_eq(report, 0);
}
END_TEST

START_TEST(test_kinds_beyond_slots_share)
{
	struct log_limit	l;
	unsigned long		report = 0;
	char			kinds[LOG_LIMIT_KINDS + 3][16];
	unsigned		i, logged = 0;

	log_limit_init(&l, "x");
	for (i = 0; i < LOG_LIMIT_KINDS + 3; i++) {
		snprintf(kinds[i], sizeof(kinds[i]), "kind %u", i);
		logged += take_n(&l, kinds[i], 1.0, 10, &report);
	}
	/* A client cannot buy budget by causing more kinds of lines. */
	ck_assert_uint_eq(logged, LOG_LIMIT_KINDS * LOG_LIMIT_BURST);
	ck_assert_uint_eq(l.slot[LOG_LIMIT_KINDS - 1].suppressed,
	    4 * 10 - LOG_LIMIT_BURST);
}
END_TEST

START_TEST(test_level_and_flush)
{
	struct log_limit	l;
	unsigned long		report;
	unsigned		i;

	log_limit_init(&l, "x");
	for (i = 0; i < LOG_LIMIT_BURST + 2; i++)
		log_limit_take(&l, KIND_A, LOG_LVL_INFO, 1.0, &report);
	log_limit_take(&l, KIND_A, LOG_LVL_WARN, 1.0, &report);
	log_limit_take(&l, KIND_A, LOG_LVL_INFO, 1.0, &report);
	/* The summary gets the most severe level it stands for. */
	ck_assert_int_eq(l.slot[0].level, LOG_LVL_WARN);
	ck_assert_uint_eq(l.slot[0].suppressed, 4);
	log_limit_flush(&l);
	ck_assert_str_eq(l.who, "x");
	ck_assert_uint_eq(l.slot[0].suppressed, 0);
	ck_assert_ptr_null(l.slot[0].kind);
	/* Emptied: a new burst. */
	ck_assert_int_eq(log_limit_take(&l, KIND_A, LOG_LVL_INFO, 1.5,
	    &report), 1);
	ck_assert_uint_eq(report, 0);
}
END_TEST

/* Known instants, and the one second cache. */
START_TEST(test_clock_format)
{
	static const struct {
		time_t		 sec;
		long		 usec;
		int		 digits;
		const char	*want;
	} v[] = {
		{ 0, 0, 3, "1970-01-01T00:00:00.000Z" },
		{ 1795608000, 123456, 6, "2026-11-25T12:00:00.123456Z" },
		{ 1795608000, 123456, 3, "2026-11-25T12:00:00.123Z" },
		{ 1795608000, 7, 6, "2026-11-25T12:00:00.000007Z" },
		{ 1795608000, 999999, 3, "2026-11-25T12:00:00.999Z" },
		{ 1795608001, 0, 3, "2026-11-25T12:00:01.000Z" },
		{ 1709251199, 1000, 3, "2024-02-29T23:59:59.001Z" },
		{ 1709251200, 0, 6, "2024-03-01T00:00:00.000000Z" },
	};
	struct log_clock	c = { -1, "" };
	char			out[32];
	size_t			i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		ck_assert_uint_eq(log_clock_format(&c, v[i].sec, v[i].usec,
		    v[i].digits, out), strlen(v[i].want));
		ck_assert_str_eq(out, v[i].want);
	}
	/* Within the second the text is the cached one, not recomputed. */
	memcpy(c.text, "cached-text-of-the-s", 20);
	log_clock_format(&c, 1709251200, 5000, 3, out);
	ck_assert_str_eq(out, "cached-text-of-the-s.005Z");
	log_clock_format(&c, 1709251201, 5000, 3, out);
	ck_assert_str_eq(out, "2024-03-01T00:00:01.005Z");
}
END_TEST

static size_t	compose(char *, size_t, const char *, const char *, int,
		    const char *, ...) LOG_PRINTF(6, 7);

/* log_compose() with the arguments inline. */
static size_t
compose(char *out, size_t size, const char *head, const char *prefix,
    int err, const char *fmt, ...)
{
	va_list	ap;
	size_t	n;

	va_start(ap, fmt);
	n = log_compose(out, size, head, prefix, err, fmt, ap);
	va_end(ap);
	return n;
}

/* The line shape the log readers rely on, byte for byte. */
START_TEST(test_compose_exact)
{
	char	out[LOG_LINE_MAX], want[256];
	size_t	n;

	n = compose(out, sizeof(out), "2026-11-25T12:00:00.123Z wsd[42]: "
	    "info: ", "access: ", -1, "%s ws %s %d", "127.0.0.1:5555",
	    "/echo", 101);
	out[n] = '\0';
	ck_assert_str_eq(out, "2026-11-25T12:00:00.123Z wsd[42]: info: "
	    "access: 127.0.0.1:5555 ws /echo 101\n");
	ck_assert_uint_eq(n, strlen(out));
	n = compose(out, sizeof(out), "<4>warn: ", "", ENOENT, "open %s",
	    "x");
	out[n] = '\0';
	snprintf(want, sizeof(want), "<4>warn: open x: %s\n",
	    strerror(ENOENT));
	ck_assert_str_eq(out, want);
}
END_TEST

/* A line longer than the buffer is cut with a marker, whole, one newline. */
START_TEST(test_compose_truncated)
{
	char	out[LOG_LINE_MAX + 1], *big;
	size_t	n, i, fit;

	big = malloc(3 * LOG_LINE_MAX);
	ck_assert_ptr_nonnull(big);
	memset(big, 'a', 3 * LOG_LINE_MAX - 1);
	big[3 * LOG_LINE_MAX - 1] = '\0';
	n = compose(out, LOG_LINE_MAX, "H: ", "", EIO, "%s", big);
	ck_assert_uint_eq(n, LOG_LINE_MAX);
	out[n] = '\0';
	ck_assert_int_eq(strncmp(out, "H: aaa", 6), 0);
	ck_assert_str_eq(out + n - sizeof(LOG_TRUNCATED),
	    LOG_TRUNCATED "\n");
	for (i = 0; i < n - 1; i++)
		ck_assert_int_ne(out[i], '\n');
	/* Exactly full: no marker; one more byte: the marker. */
	fit = LOG_LINE_MAX - sizeof(LOG_TRUNCATED) - 3;
	big[fit] = '\0';
	n = compose(out, LOG_LINE_MAX, "H: ", "", -1, "%s", big);
	ck_assert_uint_eq(n, fit + 4);
	ck_assert_int_eq(out[n - 2], 'a');
	big[fit] = 'a';
	big[fit + 1] = '\0';
	n = compose(out, LOG_LINE_MAX, "H: ", "", -1, "%s", big);
	out[n] = '\0';
	ck_assert_uint_eq(n, LOG_LINE_MAX);
	ck_assert_str_eq(out + n - sizeof(LOG_TRUNCATED),
	    LOG_TRUNCATED "\n");
	/* A cut in the strerror part is marked too. */
	big[fit - 1] = '\0';
	n = compose(out, LOG_LINE_MAX, "H: ", "", ENOENT, "%s", big);
	out[n] = '\0';
	ck_assert_str_eq(out + n - sizeof(LOG_TRUNCATED) - 1,
	    ":" LOG_TRUNCATED "\n");
	free(big);
}
END_TEST

/* Off debug lines do not evaluate their arguments. */
START_TEST(test_debug_off_costs_nothing)
{
	int	calls = 0;

	log_set_level(LOG_LVL_INFO);
	log_debug("%d", calls++);
	ck_assert_int_eq(calls, 0);
	log_set_level(LOG_LVL_ERROR);
}
END_TEST

START_TEST(test_access_text)
{
	struct log_access_rec r = { 0 };
	char	 out[LOG_LINE_MAX];
	size_t	 n;

	r.client = "127.0.0.1:5555";
	r.method = "GETX";
	r.method_len = 3;
	r.target = "/a?token=***";
	r.minor = 1;
	r.status = 200;
	r.bytes = 12;
	r.secs = 0.0014;
	/* As the main log has always shown it. */
	n = log_access_format(out, sizeof(out), LOG_FORMAT_TEXT, NULL, &r);
	out[n] = '\0';
	ck_assert_str_eq(out, "127.0.0.1:5555 \"GET /a?token=*** HTTP/1.1\" "
	    "200 12 0.001s\n");
	n = log_access_format(out, sizeof(out), LOG_FORMAT_TEXT,
	    "2026-01-02T03:04:05.678Z", &r);
	out[n] = '\0';
	ck_assert_str_eq(out, "2026-01-02T03:04:05.678Z 127.0.0.1:5555 "
	    "\"GET /a?token=*** HTTP/1.1\" 200 12 0.001s\n");
	r.method = NULL;
	r.status = 400;
	n = log_access_format(out, sizeof(out), LOG_FORMAT_TEXT, NULL, &r);
	out[n] = '\0';
	ck_assert_str_eq(out, "127.0.0.1:5555 \"-\" 400 12 0.001s\n");
	memset(&r, 0, sizeof(r));
	r.client = "c";
	r.ws = 1;
	r.path = "/echo";
	r.close_code = 1000;
	r.bytes_in = 2;
	r.bytes_out = 3;
	r.secs = 1.5;
	n = log_access_format(out, sizeof(out), LOG_FORMAT_TEXT, NULL, &r);
	out[n] = '\0';
	ck_assert_str_eq(out, "c ws /echo 1.500s close=1000 in=2 out=3\n");
}
END_TEST

START_TEST(test_access_json)
{
	struct log_access_rec r = { 0 };
	char	 out[LOG_LINE_MAX], *big;
	json_t	*j;
	size_t	 n;

	r.client = "[::1]:80";
	r.method = "GET";
	r.method_len = 3;
	/* A quote, a backslash, a control byte and a byte that is not
	 * UTF-8: still one valid JSON line. */
	r.target = "/\"q\\\x01\xff";
	r.minor = 0;
	r.status = 404;
	r.bytes = 7;
	r.secs = 0.25;
	n = log_access_format(out, sizeof(out), LOG_FORMAT_JSON, "T", &r);
	ck_assert_int_eq(out[n - 1], '\n');
	ck_assert_ptr_null(memchr(out, '\n', n - 1));
	j = json_loadb(out, n, 0, NULL);
	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(json_string_value(json_object_get(j, "time")), "T");
	ck_assert_str_eq(json_string_value(json_object_get(j, "type")), "http");
	ck_assert_str_eq(json_string_value(json_object_get(j, "target")),
	    "/\"q\\\x01\\xFF");
	ck_assert_str_eq(json_string_value(json_object_get(j, "http")), "1.0");
	ck_assert_int_eq(json_integer_value(json_object_get(j, "status")), 404);
	ck_assert(json_real_value(json_object_get(j, "duration")) == 0.25);
	json_decref(j);
	/* A long target is cut, and says so; the line stays JSON. */
	big = malloc(10000);
	memset(big, 'a', 9999);
	big[0] = '/';
	big[9999] = '\0';
	r.target = big;
	n = log_access_format(out, sizeof(out), LOG_FORMAT_JSON, "T", &r);
	ck_assert_uint_lt(n, sizeof(out));
	j = json_loadb(out, n, 0, NULL);
	ck_assert_ptr_nonnull(j);
	ck_assert_uint_eq(strlen(json_string_value(json_object_get(j,
	    "target"))), LOG_JSON_TARGET_MAX);
	ck_assert(json_is_true(json_object_get(j, "truncated")));
	json_decref(j);
	free(big);
	ck_assert_int_eq(log_format_parse("json"), LOG_FORMAT_JSON);
	ck_assert_int_eq(log_format_parse("text"), LOG_FORMAT_TEXT);
	ck_assert_int_eq(log_format_parse("xml"), -1);
}
END_TEST

START_TEST(test_logfile_queue_and_drop)
{
	struct event_base *base = event_base_new();
	struct logfile	*lf;
	char		 path[] = "/tmp/wsd-check-log.XXXXXX", fifo[64];
	char		 line[1000], buf[65536], *cause = NULL;
	uint64_t	 before = logfile_dropped(), dropped;
	int		 rfd, i;
	ssize_t		 n, got = 0;

	ck_assert_ptr_nonnull(mkdtemp(path));
	snprintf(fifo, sizeof(fifo), "%s/f", path);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	/* Without a reader the open fails at once (ENXIO), no hang. */
	ck_assert_ptr_null(logfile_open(fifo, base, &cause));
	ck_assert_ptr_nonnull(cause);
	free(cause);
	rfd = open(fifo, O_RDONLY | O_NONBLOCK);
	ck_assert_int_ge(rfd, 0);
	lf = logfile_open(fifo, base, &cause);
	ck_assert_ptr_nonnull(lf);
	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\n';
	/* The pipe (64 KiB) and the queue (256 KiB) fill; then drops. */
	for (i = 0; i < 400; i++)
		logfile_write(lf, line, sizeof(line));
	dropped = logfile_dropped() - before;
	ck_assert_uint_gt(dropped, 0);
	ck_assert_uint_lt(dropped, 400);
	/* The reader catches up: the queue drains through the loop. */
	for (i = 0; i < 100; i++) {
		while ((n = read(rfd, buf, sizeof(buf))) > 0)
			got += n;
		event_base_loop(base, EVLOOP_NONBLOCK);
	}
	while ((n = read(rfd, buf, sizeof(buf))) > 0)
		got += n;
	/* Whole lines only; each line either arrived or was counted. */
	ck_assert_int_eq(got % (ssize_t)sizeof(line), 0);
	ck_assert_uint_eq((uint64_t)got / sizeof(line) + dropped, 400);
	ck_assert_uint_eq(logfile_dropped() - before, dropped);
	logfile_free(lf);
	close(rfd);
	unlink(fifo);
	rmdir(path);
	event_base_free(base);
}
END_TEST

Suite *
log_suite(void)
{
	Suite	*s = suite_create("log");
	TCase	*tc = tcase_create("log_limit");

	tcase_add_test(tc, test_burst_then_counted);
	tcase_add_test(tc, test_kinds_apart);
	tcase_add_test(tc, test_kinds_beyond_slots_share);
	tcase_add_test(tc, test_level_and_flush);
	suite_add_tcase(s, tc);
	tc = tcase_create("line");
	tcase_add_test(tc, test_clock_format);
	tcase_add_test(tc, test_compose_exact);
	tcase_add_test(tc, test_compose_truncated);
	tcase_add_test(tc, test_debug_off_costs_nothing);
	tcase_add_test(tc, test_access_text);
	tcase_add_test(tc, test_access_json);
	tcase_add_test(tc, test_logfile_queue_and_drop);
	suite_add_tcase(s, tc);
	return s;
}
