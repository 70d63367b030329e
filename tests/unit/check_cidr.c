/* check_cidr.c -- unit tests for addresses and CIDR lists. */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <string.h>

#include "cidr.h"
#include "suites.h"

/* An address from text, failing the test if it does not parse. */
static struct cidr_addr
addr(const char *s)
{
	struct cidr_addr a;

	ck_assert_int_eq(cidr_addr_parse(s, strlen(s), &a), 0);
	return a;
}

/* Whether text's list matches address s. */
static int
list_match(const char *list, const char *s)
{
	struct cidr_list l = { NULL, 0 };
	struct cidr_addr a = addr(s);
	char		 bad[64];
	int		 r;

	ck_assert_int_eq(cidr_list_parse(&l, list, bad, sizeof(bad)), 0);
	r = cidr_list_match(&l, &a);
	cidr_list_free(&l);
	return r;
}

START_TEST(test_addr_parse)
{
	struct cidr_addr a;
	char		 out[CIDR_ADDR_STRLEN];

	a = addr("192.0.2.1");
	ck_assert_int_eq(a.family, AF_INET);
	cidr_addr_format(&a, out);
	ck_assert_str_eq(out, "192.0.2.1");
	a = addr("2001:db8::1");
	ck_assert_int_eq(a.family, AF_INET6);
	cidr_addr_format(&a, out);
	ck_assert_str_eq(out, "2001:db8::1");
	/* v4-mapped IPv6 is the IPv4 address. */
	a = addr("::ffff:192.0.2.1");
	ck_assert_int_eq(a.family, AF_INET);
	ck_assert(cidr_addr_equal(&a, &(struct cidr_addr){ 0 }) == 0);
	cidr_addr_format(&a, out);
	ck_assert_str_eq(out, "192.0.2.1");
	ck_assert_int_eq(cidr_addr_parse("", 0, &a), -1);
	ck_assert_int_eq(cidr_addr_parse("1.2.3", 5, &a), -1);
	ck_assert_int_eq(cidr_addr_parse("1.2.3.256", 9, &a), -1);
	ck_assert_int_eq(cidr_addr_parse("localhost", 9, &a), -1);
	ck_assert_int_eq(cidr_addr_parse("fe80::1%lo", 10, &a), -1);
	ck_assert_int_eq(cidr_addr_parse("1.2.3.4 ", 8, &a), -1);
	/* Only len bytes are read. */
	ck_assert_int_eq(cidr_addr_parse("10.0.0.1:80", 8, &a), 0);
	cidr_addr_format(&a, out);
	ck_assert_str_eq(out, "10.0.0.1");
}
END_TEST

START_TEST(test_addr_sockaddr)
{
	struct sockaddr_in	 s4;
	struct sockaddr_in6	 s6;
	struct sockaddr		 su;
	struct cidr_addr	 a, b;

	memset(&s4, 0, sizeof(s4));
	s4.sin_family = AF_INET;
	inet_pton(AF_INET, "127.0.0.2", &s4.sin_addr);
	ck_assert_int_eq(cidr_addr_from_sockaddr((struct sockaddr *)&s4, &a),
	    0);
	b = addr("127.0.0.2");
	ck_assert(cidr_addr_equal(&a, &b));
	memset(&s6, 0, sizeof(s6));
	s6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "::ffff:127.0.0.2", &s6.sin6_addr);
	ck_assert_int_eq(cidr_addr_from_sockaddr((struct sockaddr *)&s6, &a),
	    0);
	ck_assert(cidr_addr_equal(&a, &b));
	inet_pton(AF_INET6, "::1", &s6.sin6_addr);
	ck_assert_int_eq(cidr_addr_from_sockaddr((struct sockaddr *)&s6, &a),
	    0);
	b = addr("::1");
	ck_assert(cidr_addr_equal(&a, &b));
	memset(&su, 0, sizeof(su));
	su.sa_family = AF_UNIX;
	ck_assert_int_eq(cidr_addr_from_sockaddr(&su, &a), -1);
}
END_TEST

START_TEST(test_parse)
{
	static const char *const bad[] = {
		"", "/8", "10.0.0.0/", "10.0.0.0/33", "10.0.0.1/8",
		"10.0.0.0/8/8", "10.0.0.0/-1", "10.0.0.0/+8", "10.0.0.0/0008",
		"::/129", "2001:db8::1/32", "::ffff:10.0.0.0/95",
		"::ffff:10.0.0.0/129", "example.org", "10.0.0.0 /8",
		"10.0.0.0/8 ",
	};
	struct cidr	 c;
	size_t		 i;

	ck_assert_int_eq(cidr_parse("10.0.0.0/8", &c), 0);
	ck_assert_int_eq(c.len, 8);
	ck_assert_int_eq(cidr_parse("10.1.2.3", &c), 0);
	ck_assert_int_eq(c.len, 32);
	ck_assert_int_eq(cidr_parse("0.0.0.0/0", &c), 0);
	ck_assert_int_eq(c.len, 0);
	ck_assert_int_eq(cidr_parse("::1", &c), 0);
	ck_assert_int_eq(c.len, 128);
	ck_assert_int_eq(cidr_parse("2001:db8::/32", &c), 0);
	ck_assert_int_eq(c.len, 32);
	ck_assert_int_eq(cidr_parse("::/0", &c), 0);
	/* A v4-mapped network is an IPv4 one, its length in v4 bits. */
	ck_assert_int_eq(cidr_parse("::ffff:10.0.0.0/104", &c), 0);
	ck_assert_int_eq(c.addr.family, AF_INET);
	ck_assert_int_eq(c.len, 8);
	ck_assert_int_eq(cidr_parse("127.0.0.0/31", &c), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(cidr_parse(bad[i], &c) == -1, "\"%s\"", bad[i]);
}
END_TEST

START_TEST(test_match)
{
	ck_assert(list_match("127.0.0.0/8", "127.255.0.1"));
	ck_assert(!list_match("127.0.0.0/8", "128.0.0.1"));
	ck_assert(list_match("10.0.0.0/8 192.168.0.0/16", "192.168.7.7"));
	ck_assert(!list_match("10.0.0.0/8 192.168.0.0/16", "192.169.0.1"));
	ck_assert(list_match("192.0.2.128/25", "192.0.2.200"));
	ck_assert(!list_match("192.0.2.128/25", "192.0.2.127"));
	ck_assert(list_match("192.0.2.7", "192.0.2.7"));
	ck_assert(!list_match("192.0.2.7", "192.0.2.8"));
	ck_assert(list_match("0.0.0.0/0", "203.0.113.9"));
	ck_assert(!list_match("0.0.0.0/0", "2001:db8::1"));
	ck_assert(list_match("::/0", "2001:db8::1"));
	ck_assert(!list_match("::/0", "10.0.0.1"));
	ck_assert(list_match("2001:db8::/32", "2001:db8:ffff::1"));
	ck_assert(!list_match("2001:db8::/32", "2001:db9::1"));
	ck_assert(list_match("2001:db8::/33", "2001:db8:7fff::1"));
	ck_assert(!list_match("2001:db8::/33", "2001:db8:8000::1"));
	ck_assert(list_match("::1", "::1"));
	/* v4-mapped either side. */
	ck_assert(list_match("127.0.0.0/8", "::ffff:127.0.0.1"));
	ck_assert(list_match("::ffff:127.0.0.0/104", "127.0.0.9"));
	ck_assert(!list_match("::ffff:127.0.0.0/104", "10.0.0.1"));
	ck_assert(list_match("  10.0.0.1\t ::1  ", "::1"));
}
END_TEST

START_TEST(test_list_parse_errors)
{
	struct cidr_list l = { NULL, 0 };
	char		 bad[16];

	ck_assert_int_eq(cidr_list_parse(&l, "10.0.0.0/8 nope ::1", bad,
	    sizeof(bad)), -1);
	ck_assert_str_eq(bad, "nope");
	cidr_list_free(&l);
	/* The bad word is cut to fit. */
	ck_assert_int_eq(cidr_list_parse(&l, "2001:db8:1:2:3:4:5:6/200",
	    bad, sizeof(bad)), -1);
	ck_assert_int_eq(strlen(bad), sizeof(bad) - 1);
	cidr_list_free(&l);
	/* Lists append. */
	ck_assert_int_eq(cidr_list_parse(&l, "10.0.0.0/8", bad, sizeof(bad)),
	    0);
	ck_assert_int_eq(cidr_list_parse(&l, "::1 127.0.0.1", bad,
	    sizeof(bad)), 0);
	ck_assert_uint_eq(l.n, 3);
	cidr_list_free(&l);
	ck_assert_uint_eq(l.n, 0);
}
END_TEST

Suite *
cidr_suite(void)
{
	Suite	*s = suite_create("cidr");
	TCase	*tc = tcase_create("cidr");

	tcase_add_test(tc, test_addr_parse);
	tcase_add_test(tc, test_addr_sockaddr);
	tcase_add_test(tc, test_parse);
	tcase_add_test(tc, test_match);
	tcase_add_test(tc, test_list_parse_errors);
	suite_add_tcase(s, tc);
	return s;
}
