/* check_tls.c -- the pure parts of tls.c. */
#include <check.h>
#include <stdint.h>

#include "suites.h"
#include "tls.h"

/* Issue 16: a first byte that cannot start a TLS record is plain HTTP. */
START_TEST(test_record_start)
{
	unsigned	b;
	const char	*methods = "GET POST HEAD PUT DELETE OPTIONS CONNECT "
	    "PATCH TRACE PRI";

	/* Content types 20-24 and SSLv2-style hellos (high bit). */
	for (b = 20; b <= 24; b++)
		ck_assert_int_eq(tls_record_start((uint8_t)b), 1);
	for (b = 0x80; b <= 0xff; b++)
		ck_assert_int_eq(tls_record_start((uint8_t)b), 1);
	for (b = 0; b < 20; b++)
		ck_assert_int_eq(tls_record_start((uint8_t)b), 0);
	for (b = 25; b < 0x80; b++)
		ck_assert_int_eq(tls_record_start((uint8_t)b), 0);
	/* Whatever method an HTTP client sends, it is caught. */
	for (; *methods != '\0'; methods++)
		ck_assert_int_eq(tls_record_start((uint8_t)*methods), 0);
}
END_TEST

Suite *
tls_suite(void)
{
	Suite	*s = suite_create("tls");
	TCase	*tc = tcase_create("tls");

	tcase_add_test(tc, test_record_start);
	suite_add_tcase(s, tc);
	return s;
}
