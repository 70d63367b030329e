/* check_counter.c -- unit tests for the counter app's pure pieces. */
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "apps/counter.h"
#include "suites.h"

/* A message with its length (may hold NUL) and the expected action. */
struct counter_vec {
	const char	*s;
	size_t		 len;
	int		 want;
};

#define V(lit, want)	{ lit, sizeof(lit) - 1, want }

static const struct counter_vec counter_actions[] = {
	V("{\"action\":\"plus\"}", 1),
	V("{\"action\":\"minus\"}", -1),
	V(" { \"action\" : \"plus\" } ", 1),
	V("\n{\"action\":\"minus\"}\n", -1),
	V("{\"x\":1,\"action\":\"plus\",\"y\":[1,2]}", 1),
	V("{\"action\":\"\\u0070lus\"}", 1),		/* escaped 'p' */
	/* Duplicate keys: the last one wins, as in Python's json. */
	V("{\"action\":\"plus\",\"action\":\"minus\"}", -1),
	/* Malformed JSON. */
	V("", 0),
	V("{", 0),
	V("{\"action\":\"plus\"", 0),
	V("{\"action\":\"plus\"}}", 0),
	V("{\"action\":\"plus\"} x", 0),
	V("{'action':'plus'}", 0),
	V("{action:\"plus\"}", 0),
	V("plus", 0),
	V("{\"action\":\"plus\"}\0", 0),		/* trailing NUL byte */
	V("{\"action\":\"plus\0\"}", 0),		/* raw NUL in a string */
	/* Not an object. */
	V("\"plus\"", 0),
	V("[\"plus\"]", 0),
	V("[{\"action\":\"plus\"}]", 0),
	V("1", 0),
	V("null", 0),
	V("true", 0),
	/* Missing or unknown action. */
	V("{}", 0),
	V("{\"act\":\"plus\"}", 0),
	V("{\"Action\":\"plus\"}", 0),
	V("{\"action\":\"PLUS\"}", 0),
	V("{\"action\":\"plus \"}", 0),
	V("{\"action\":\"pluss\"}", 0),
	V("{\"action\":\"plu\"}", 0),
	V("{\"action\":\"\"}", 0),
	V("{\"action\":\"reset\"}", 0),
	V("{\"action\":\"plus\\u0000\"}", 0),		/* escaped NUL refused */
	/* Action of the wrong type. */
	V("{\"action\":1}", 0),
	V("{\"action\":null}", 0),
	V("{\"action\":true}", 0),
	V("{\"action\":[\"plus\"]}", 0),
	V("{\"action\":{\"plus\":1}}", 0),
	V("{\"nested\":{\"action\":\"plus\"}}", 0),
};

#define NACTIONS	(sizeof(counter_actions) / sizeof(counter_actions[0]))

/* Each vector maps to its action. */
START_TEST(test_counter_parse)
{
	const struct counter_vec	*v = &counter_actions[_i];

	ck_assert_msg(counter_parse_action((const uint8_t *)v->s, v->len) ==
	    v->want, "vector %d: %s", _i, v->s);
}
END_TEST

/* Every prefix of a valid event is incomplete JSON: no action. */
START_TEST(test_counter_parse_prefixes)
{
	static const char	 plus[] = "{\"action\":\"plus\"}";
	size_t			 i;

	for (i = 0; i < sizeof(plus) - 1; i++)
		ck_assert_int_eq(counter_parse_action((const uint8_t *)plus,
		    i), 0);
	ck_assert_int_eq(counter_parse_action((const uint8_t *)plus,
	    sizeof(plus) - 1), 1);
}
END_TEST

/* The parser reads only len bytes: no NUL terminator needed. */
START_TEST(test_counter_parse_unterminated)
{
	static const char	 buf[] = "{\"action\":\"minus\"}garbage";

	ck_assert_int_eq(counter_parse_action((const uint8_t *)buf, 18), -1);
	ck_assert_int_eq(counter_parse_action((const uint8_t *)buf,
	    sizeof(buf) - 1), 0);
}
END_TEST

/* Deep nesting is refused, not a stack overflow. */
START_TEST(test_counter_parse_deep)
{
	static char	 buf[200001];
	size_t		 n = 100000;

	memset(buf, '[', n);
	memset(buf + n, ']', n);
	ck_assert_int_eq(counter_parse_action((const uint8_t *)buf, 2 * n),
	    0);
}
END_TEST

/* Plus and minus move the value and stop at the long long limits. */
START_TEST(test_counter_apply)
{
	long long	 v = 0;

	ck_assert_int_eq(counter_apply(&v, 1), 0);
	ck_assert(v == 1);
	ck_assert_int_eq(counter_apply(&v, -1), 0);
	ck_assert_int_eq(counter_apply(&v, -1), 0);
	ck_assert(v == -1);

	v = LLONG_MAX - 1;
	ck_assert_int_eq(counter_apply(&v, 1), 0);
	ck_assert(v == LLONG_MAX);
	ck_assert_int_eq(counter_apply(&v, 1), -1);
	ck_assert(v == LLONG_MAX);
	ck_assert_int_eq(counter_apply(&v, -1), 0);
	ck_assert(v == LLONG_MAX - 1);

	v = LLONG_MIN + 1;
	ck_assert_int_eq(counter_apply(&v, -1), 0);
	ck_assert(v == LLONG_MIN);
	ck_assert_int_eq(counter_apply(&v, -1), -1);
	ck_assert(v == LLONG_MIN);
	ck_assert_int_eq(counter_apply(&v, 1), 0);
	ck_assert(v == LLONG_MIN + 1);
}
END_TEST

/* Checks that out[0..len) is exactly want. */
static void
counter_json_is(const char *out, size_t len, const char *want)
{
	ck_assert_msg(len == strlen(want) && memcmp(out, want, len) == 0,
	    "got \"%.*s\", want \"%s\"", (int)len, out, want);
}

/* The users event is compact, type first. */
START_TEST(test_counter_users_json)
{
	char	 out[COUNTER_JSON_MAX];

	counter_json_is(out, counter_users_json(out, 0),
	    "{\"type\":\"users\",\"count\":0}");
	counter_json_is(out, counter_users_json(out, 1),
	    "{\"type\":\"users\",\"count\":1}");
	counter_json_is(out, counter_users_json(out, 10000),
	    "{\"type\":\"users\",\"count\":10000}");
	counter_json_is(out, counter_users_json(out, UINT_MAX),
	    "{\"type\":\"users\",\"count\":4294967295}");
}
END_TEST

/* The value event is compact, type first, down to the extremes. */
START_TEST(test_counter_value_json)
{
	char	 out[COUNTER_JSON_MAX];

	counter_json_is(out, counter_value_json(out, 0),
	    "{\"type\":\"value\",\"value\":0}");
	counter_json_is(out, counter_value_json(out, 42),
	    "{\"type\":\"value\",\"value\":42}");
	counter_json_is(out, counter_value_json(out, -3),
	    "{\"type\":\"value\",\"value\":-3}");
	counter_json_is(out, counter_value_json(out, LLONG_MAX),
	    "{\"type\":\"value\",\"value\":9223372036854775807}");
	counter_json_is(out, counter_value_json(out, LLONG_MIN),
	    "{\"type\":\"value\",\"value\":-9223372036854775808}");
}
END_TEST

/* The check suite for the counter app. */
Suite *
counter_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("counter");

	tc = tcase_create("parse");
	tcase_add_loop_test(tc, test_counter_parse, 0, NACTIONS);
	tcase_add_test(tc, test_counter_parse_prefixes);
	tcase_add_test(tc, test_counter_parse_unterminated);
	tcase_add_test(tc, test_counter_parse_deep);
	suite_add_tcase(s, tc);

	tc = tcase_create("value");
	tcase_add_test(tc, test_counter_apply);
	suite_add_tcase(s, tc);

	tc = tcase_create("json");
	tcase_add_test(tc, test_counter_users_json);
	tcase_add_test(tc, test_counter_value_json);
	suite_add_tcase(s, tc);

	return s;
}
