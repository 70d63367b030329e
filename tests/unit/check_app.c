/* check_app.c -- unit tests for the app runtime's pure parts. */
#include <stdint.h>

#include "app.h"
#include "suites.h"

/* On time: the next deadline is one period after the previous one. */
START_TEST(deadline_on_time)
{
	uint64_t	skipped = 99;
	double		next;

	next = app_deadline_next(10.0, 10.004, 0.01, &skipped);
	ck_assert_double_eq_tol(next, 10.01, 1e-9);
	ck_assert_uint_eq(skipped, 0);
	/* The callback's own time does not move the schedule. */
	next = app_deadline_next(10.0, 10.0099, 0.01, &skipped);
	ck_assert_double_eq_tol(next, 10.01, 1e-9);
	ck_assert_uint_eq(skipped, 0);
	/* Early (a timer never fires early, but the clock may be coarse). */
	next = app_deadline_next(10.0, 9.99, 0.01, &skipped);
	ck_assert_double_eq_tol(next, 10.01, 1e-9);
	ck_assert_uint_eq(skipped, 0);
}
END_TEST

/* Overrun: passed deadlines are skipped and counted, none fired late. */
START_TEST(deadline_overrun)
{
	uint64_t	skipped = 99;
	double		next;

	/* Exactly on the next deadline: it has passed, so it is skipped. */
	next = app_deadline_next(10.0, 10.01, 0.01, &skipped);
	ck_assert_double_eq_tol(next, 10.02, 1e-9);
	ck_assert_uint_eq(skipped, 1);
	next = app_deadline_next(10.0, 10.015, 0.01, &skipped);
	ck_assert_double_eq_tol(next, 10.02, 1e-9);
	ck_assert_uint_eq(skipped, 1);
	next = app_deadline_next(10.0, 10.0351, 0.01, &skipped);
	ck_assert_double_eq_tol(next, 10.04, 1e-9);
	ck_assert_uint_eq(skipped, 3);
	/* A stalled loop: many periods, computed, not looped over. */
	next = app_deadline_next(1000.0, 4600.0005, 0.001, &skipped);
	ck_assert(next > 4600.0005);
	ck_assert(next - 0.001 <= 4600.0005);
	ck_assert_uint_eq(skipped, 3600000);
}
END_TEST

/* Every result lies after now and on the schedule, whatever the rounding. */
START_TEST(deadline_invariants)
{
	static const double periods[] = { 0.001, 0.01, 0.02, 0.1, 0.3, 1, 3 };
	uint64_t	skipped;
	double		prev, now, next, p, k;
	size_t		i, j;

	for (i = 0; i < sizeof(periods) / sizeof(periods[0]); i++) {
		p = periods[i];
		prev = 12345.678901;
		for (j = 0; j < 2000; j++) {
			now = prev + (double)j * p * 0.37;
			next = app_deadline_next(prev, now, p, &skipped);
			ck_assert_msg(next > now, "p=%g j=%zu", p, j);
			ck_assert_msg(next - p <= now + 1e-9, "p=%g j=%zu", p,
			    j);
			k = (next - prev) / p;
			ck_assert_double_eq_tol(k, (double)(skipped + 1), 1e-6);
		}
	}
}
END_TEST

Suite *
app_suite(void)
{
	Suite	*s = suite_create("app");
	TCase	*tc = tcase_create("deadline");

	tcase_add_test(tc, deadline_on_time);
	tcase_add_test(tc, deadline_overrun);
	tcase_add_test(tc, deadline_invariants);
	suite_add_tcase(s, tc);
	return s;
}
