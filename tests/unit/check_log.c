/* check_log.c -- unit tests for the counting of rate-limited log lines. */
#include <stdio.h>
#include <string.h>

#include "log.h"
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
	return s;
}
