/* check_app.c -- unit tests for the app runtime's pure parts. */
#include <stdint.h>
#include <string.h>

#include "app.h"
#include "backend.h"
#include "suites.h"

/*
 * On time the next deadline is one period after the previous one, however
 * long the callback took; past deadlines are skipped and counted, none
 * fired late.
 */
START_TEST(deadline_vectors)
{
	static const struct {
		double		prev, now, period, next;
		uint64_t	skipped;
	} v[] = {
		{ 10.0, 10.004, 0.01, 10.01, 0 },
		{ 10.0, 10.0099, 0.01, 10.01, 0 },
		/* Early (timers never are, but the clock may be coarse). */
		{ 10.0, 9.99, 0.01, 10.01, 0 },
		/* Exactly on the next deadline: it has passed, skipped. */
		{ 10.0, 10.01, 0.01, 10.02, 1 },
		{ 10.0, 10.015, 0.01, 10.02, 1 },
		{ 10.0, 10.0351, 0.01, 10.04, 3 },
		/* A stalled loop: many periods, computed, not looped over. */
		{ 1000.0, 4600.0005, 0.001, 4600.001, 3600000 },
	};
	uint64_t	skipped;
	double		next;
	size_t		i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		skipped = 99;
		next = app_deadline_next(v[i].prev, v[i].now, v[i].period,
		    &skipped);
		ck_assert_msg(next > v[i].next - 1e-9 && next < v[i].next +
		    1e-9, "%zu: next %.9f", i, next);
		ck_assert_msg(skipped == v[i].skipped, "%zu: skipped %llu", i,
		    (unsigned long long)skipped);
	}
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

/* The proxy app's backend URLs: ws://, wss://, unix:, and what is not. */
START_TEST(backend_urls)
{
	static const char *const bad[] = {
		"http://h/", "ws://", "ws:///x", "ws://h:0/", "ws://h:65536/",
		"ws://h:/", "ws://h:8x/", "ws://h?x", "ws://[::1/", "ws://[::1]x/",
		"ws://u@h/", "unix:", "unix:rel.sock", "unix:/s.sock:path",
		"ws://h/a b", "ws://h/\x7f", "wss//h/",
	};
	struct backend_url	 u;
	size_t			 i;

	ck_assert_int_eq(backend_url_parse("ws://127.0.0.1:9000/chat?x=1", &u),
	    0);
	ck_assert_int_eq(u.kind, BACKEND_WS);
	ck_assert_str_eq(u.host, "127.0.0.1");
	ck_assert_str_eq(u.port, "9000");
	ck_assert_str_eq(u.path, "/chat?x=1");
	ck_assert_int_eq(backend_url_parse("wss://example.org", &u), 0);
	ck_assert_int_eq(u.kind, BACKEND_WSS);
	ck_assert_str_eq(u.port, "443");
	ck_assert_str_eq(u.path, "/");
	ck_assert_int_eq(backend_url_parse("ws://[::1]:81/p", &u), 0);
	ck_assert_str_eq(u.host, "::1");
	ck_assert_str_eq(u.port, "81");
	ck_assert_int_eq(backend_url_parse("ws://h", &u), 0);
	ck_assert_str_eq(u.port, "80");
	ck_assert_int_eq(backend_url_parse("unix:/run/app.sock:/chat", &u), 0);
	ck_assert_int_eq(u.kind, BACKEND_UNIX);
	ck_assert_str_eq(u.sock, "/run/app.sock");
	ck_assert_str_eq(u.path, "/chat");
	ck_assert_int_eq(backend_url_parse("unix:/run/app.sock", &u), 0);
	ck_assert_str_eq(u.path, "/");
	ck_assert_int_eq(backend_url_named(&u), 0);
	/* Only a host name needs a lookup. */
	ck_assert_int_eq(backend_url_parse("ws://127.0.0.1:9000/", &u), 0);
	ck_assert_int_eq(backend_url_named(&u), 0);
	ck_assert_int_eq(backend_url_parse("ws://[::1]:9000/", &u), 0);
	ck_assert_int_eq(backend_url_named(&u), 0);
	ck_assert_int_eq(backend_url_parse("wss://app.internal/", &u), 0);
	ck_assert_int_eq(backend_url_named(&u), 1);
	ck_assert_int_eq(backend_url_parse("ws://localhost:9000/", &u), 0);
	ck_assert_int_eq(backend_url_named(&u), 1);
	/* Not an address inet_pton takes: a name. */
	ck_assert_int_eq(backend_url_parse("ws://127.1:9000/", &u), 0);
	ck_assert_int_eq(backend_url_named(&u), 1);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(backend_url_check(bad[i]) == -1, "accepted %s",
		    bad[i]);
}
END_TEST

Suite *
app_suite(void)
{
	Suite	*s = suite_create("app");
	TCase	*tc = tcase_create("deadline");

	tcase_add_test(tc, deadline_vectors);
	tcase_add_test(tc, deadline_invariants);
	tcase_add_test(tc, backend_urls);
	suite_add_tcase(s, tc);
	return s;
}
