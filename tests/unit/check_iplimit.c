/* check_iplimit.c -- unit tests for per-address counts and rates. */
#include <sys/types.h>
#include <sys/socket.h>

#include <stdio.h>
#include <string.h>

#include "cidr.h"
#include "iplimit.h"
#include "suites.h"

/* An address from text. */
static struct cidr_addr
addr(const char *s)
{
	struct cidr_addr a;

	ck_assert_int_eq(cidr_addr_parse(s, strlen(s), &a), 0);
	return a;
}

START_TEST(test_count)
{
	struct iplimit	*t = iplimit_new(2, 0, 1);
	struct iplimit_entry *e1, *e2, *e3, *f;
	struct cidr_addr a = addr("192.0.2.1"), b = addr("192.0.2.2");

	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(iplimit_acquire(t, &a, 0, &e1), IPLIMIT_OK);
	ck_assert_int_eq(iplimit_acquire(t, &a, 0, &e2), IPLIMIT_OK);
	ck_assert_int_eq(iplimit_acquire(t, &a, 0, &e3), IPLIMIT_COUNT);
	ck_assert_uint_eq(iplimit_count(t, &a), 2);
	/* Another address has its own count. */
	ck_assert_int_eq(iplimit_acquire(t, &b, 0, &f), IPLIMIT_OK);
	ck_assert_uint_eq(iplimit_size(t), 2);
	iplimit_release(t, e1, 0);
	ck_assert_int_eq(iplimit_acquire(t, &a, 0, &e3), IPLIMIT_OK);
	iplimit_release(t, e2, 0);
	iplimit_release(t, e3, 0);
	/* Without a rate, an entry goes with its last connection. */
	ck_assert_uint_eq(iplimit_size(t), 1);
	iplimit_release(t, f, 0);
	ck_assert_uint_eq(iplimit_size(t), 0);
	iplimit_free(t);
}
END_TEST

START_TEST(test_v6_per_64)
{
	struct iplimit	*t = iplimit_new(1, 0, 1);
	struct iplimit_entry *e, *f;
	struct cidr_addr a = addr("2001:db8:1:2::1");
	struct cidr_addr b = addr("2001:db8:1:2:ffff::9");
	struct cidr_addr c = addr("2001:db8:1:3::1");

	ck_assert_int_eq(iplimit_acquire(t, &a, 0, &e), IPLIMIT_OK);
	ck_assert_int_eq(iplimit_acquire(t, &b, 0, &f), IPLIMIT_COUNT);
	ck_assert_int_eq(iplimit_acquire(t, &c, 0, &f), IPLIMIT_OK);
	iplimit_release(t, e, 0);
	iplimit_release(t, f, 0);
	ck_assert_uint_eq(iplimit_size(t), 0);
	iplimit_free(t);
}
END_TEST

START_TEST(test_rate)
{
	struct iplimit	*t = iplimit_new(0, 3, 1);
	struct iplimit_entry *e[8];
	struct cidr_addr a = addr("198.51.100.7");
	int		 i;

	/* A burst of 3, then refused until tokens come back. */
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(iplimit_acquire(t, &a, 10.0, &e[i]),
		    IPLIMIT_OK);
	ck_assert_int_eq(iplimit_acquire(t, &a, 10.0, &e[3]), IPLIMIT_RATE);
	ck_assert_int_eq(iplimit_acquire(t, &a, 10.2, &e[3]), IPLIMIT_RATE);
	/* 3 per second: one token after a third of a second. */
	ck_assert_int_eq(iplimit_acquire(t, &a, 10.34, &e[3]), IPLIMIT_OK);
	ck_assert_int_eq(iplimit_acquire(t, &a, 10.34, &e[4]), IPLIMIT_RATE);
	for (i = 0; i < 4; i++)
		iplimit_release(t, e[i], 10.4);
	/* Closed, but the bucket is still refilling: kept. */
	ck_assert_uint_eq(iplimit_size(t), 1);
	iplimit_expire(t, 10.5);
	ck_assert_uint_eq(iplimit_size(t), 1);
	iplimit_expire(t, 11.5);
	ck_assert_uint_eq(iplimit_size(t), 0);
	iplimit_free(t);
}
END_TEST

START_TEST(test_churn_bounded)
{
	struct iplimit	*t = iplimit_new(5, 100, 42);
	struct iplimit_entry *e;
	struct cidr_addr a;
	char		 s[32];
	int		 i;

	/* 20000 addresses, one short connection each, 1000 per second. */
	for (i = 0; i < 20000; i++) {
		snprintf(s, sizeof(s), "10.%d.%d.%d", i >> 16, (i >> 8) & 255,
		    i & 255);
		a = addr(s);
		ck_assert_int_eq(iplimit_acquire(t, &a, i / 1000.0, &e),
		    IPLIMIT_OK);
		iplimit_release(t, e, i / 1000.0);
		if (i % 1000 == 0)
			iplimit_expire(t, i / 1000.0);
		ck_assert_uint_le(iplimit_size(t), 2100);
	}
	iplimit_expire(t, 1000.0);
	ck_assert_uint_eq(iplimit_size(t), 0);
	iplimit_free(t);
}
END_TEST

START_TEST(test_both_limits)
{
	struct iplimit	*t = iplimit_new(1, 10, 7);
	struct iplimit_entry *e, *f;
	struct cidr_addr a = addr("::1");

	ck_assert_int_eq(iplimit_acquire(t, &a, 0, &e), IPLIMIT_OK);
	/* The count refuses first and spends no token. */
	for (int i = 0; i < 20; i++)
		ck_assert_int_eq(iplimit_acquire(t, &a, 0, &f), IPLIMIT_COUNT);
	iplimit_release(t, e, 0);
	ck_assert_int_eq(iplimit_acquire(t, &a, 0, &f), IPLIMIT_OK);
	iplimit_release(t, f, 0);
	iplimit_free(t);
}
END_TEST

Suite *
iplimit_suite(void)
{
	Suite	*s = suite_create("iplimit");
	TCase	*tc = tcase_create("iplimit");

	tcase_add_test(tc, test_count);
	tcase_add_test(tc, test_v6_per_64);
	tcase_add_test(tc, test_rate);
	tcase_add_test(tc, test_churn_bounded);
	tcase_add_test(tc, test_both_limits);
	suite_add_tcase(s, tc);
	return s;
}
