/* check_cluster.c -- unit tests for the cluster's pure pieces. */
#include <stdint.h>
#include <string.h>

#include "cluster_env.h"
#include "suites.h"
#include "ws.h"

/* A message envelope reads back as it was written, SSE form and all. */
START_TEST(test_env_msg_roundtrip)
{
	uint8_t			 buf[CLUSTER_ENV_HDR_MAX + 64];
	struct cluster_env	 env;
	size_t			 h;

	h = cluster_env_header(buf, CLUSTER_ENV_MSG, "node-a/1234", WS_OP_BINARY,
	    2, 5);
	ck_assert_uint_eq(h, 4 + 11 + 6);
	memcpy(buf + h, "sse!!", 5);
	memcpy(buf + h + 5, "\0hi", 3);
	ck_assert_int_eq(cluster_env_decode(buf, h + 8, &env), 0);
	ck_assert_int_eq(env.kind, CLUSTER_ENV_MSG);
	ck_assert_uint_eq(env.id_len, 11);
	ck_assert(memcmp(env.id, "node-a/1234", 11) == 0);
	ck_assert_int_eq(env.opcode, WS_OP_BINARY);
	ck_assert_uint_eq(env.key, 2);
	ck_assert_uint_eq(env.sse_len, 5);
	ck_assert(memcmp(env.sse, "sse!!", 5) == 0);
	ck_assert_uint_eq(env.len, 3);
	ck_assert(memcmp(env.data, "\0hi", 3) == 0);
}
END_TEST

/* An empty message without SSE form is fine; every cut of it is not. */
START_TEST(test_env_truncated)
{
	uint8_t			 buf[CLUSTER_ENV_HDR_MAX];
	struct cluster_env	 env;
	size_t			 h, i;

	h = cluster_env_header(buf, CLUSTER_ENV_MSG, "n", WS_OP_TEXT, 0, 0);
	ck_assert_int_eq(cluster_env_decode(buf, h, &env), 0);
	ck_assert_uint_eq(env.len, 0);
	ck_assert_ptr_null(env.sse);
	for (i = 0; i < h; i++)
		ck_assert_int_eq(cluster_env_decode(buf, i, &env), -1);
	/* An SSE length past the end. */
	h = cluster_env_header(buf, CLUSTER_ENV_MSG, "n", WS_OP_TEXT, 0, 9);
	ck_assert_int_eq(cluster_env_decode(buf, h + 8, &env), -1);
}
END_TEST

/* Bad magic, kind, opcode or id are refused. */
START_TEST(test_env_bad)
{
	struct cluster_env	 env;
	uint8_t			 buf[CLUSTER_ENV_HDR_MAX];
	size_t			 h;

	ck_assert_int_eq(cluster_env_decode((const uint8_t *)"X1Mxn", 5,
	    &env), -1);
	ck_assert_int_eq(cluster_env_decode((const uint8_t *)"W1Q\1n", 5,
	    &env), -1);
	ck_assert_int_eq(cluster_env_decode((const uint8_t *)"W1V\0", 4,
	    &env), -1);
	h = cluster_env_header(buf, CLUSTER_ENV_MSG, "n", 9, 0, 0);
	ck_assert_int_eq(cluster_env_decode(buf, h, &env), -1);
	ck_assert_uint_eq(cluster_env_header(buf, CLUSTER_ENV_MSG, "", 1, 0,
	    0), 0);
}
END_TEST

/* VALUE and USERS carry a decimal number, appended in Redis. */
START_TEST(test_env_number)
{
	uint8_t			 buf[CLUSTER_ENV_HDR_MAX + 32];
	struct cluster_env	 env;
	long long		 n;
	size_t			 h;
	static const char *const bad[] = { "", "-", "+1", " 1", "1x", "0x10",
	    "99999999999999999999" };
	size_t			 i;

	h = cluster_env_header(buf, CLUSTER_ENV_VALUE, "node", 0, 0, 0);
	ck_assert_uint_eq(h, 8);
	memcpy(buf + h, "-42", 3);
	ck_assert_int_eq(cluster_env_decode(buf, h + 3, &env), 0);
	ck_assert_int_eq(env.kind, CLUSTER_ENV_VALUE);
	ck_assert_int_eq(cluster_env_number(&env, &n), 0);
	ck_assert_int_eq(n, -42);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(buf + h, bad[i], strlen(bad[i]));
		ck_assert_int_eq(cluster_env_decode(buf, h + strlen(bad[i]),
		    &env), 0);
		ck_assert_msg(cluster_env_number(&env, &n) == -1, "%s", bad[i]);
	}
}
END_TEST

/*
 * A STREAM envelope: the header a node writes, then what the script
 * appends (the stream id, a newline, a kind byte, the message).
 */
START_TEST(test_env_stream)
{
	uint8_t				 buf[CLUSTER_ENV_HDR_MAX + 64];
	struct cluster_env		 env;
	struct cluster_env_stream	 st;
	size_t				 h;
	static const char *const bad[] = { "", "\n", "1-2", "1-2\n",
	    "-2\nt", "1-\nt", "1x2\nt", "a-1\nt",
	    "123456789012345678901-1\nt" };
	size_t				 i;

	h = cluster_env_header(buf, CLUSTER_ENV_STREAM, "n1", 0, 0, 0);
	ck_assert_uint_eq(h, 6);
	memcpy(buf + h, "1733370000000-7\nj{\"a\":\n1}", 25);
	ck_assert_int_eq(cluster_env_decode(buf, h + 25, &env), 0);
	ck_assert_int_eq(env.kind, CLUSTER_ENV_STREAM);
	ck_assert_int_eq(cluster_env_stream(&env, &st), 0);
	ck_assert_str_eq(st.id, "1733370000000-7");
	ck_assert_int_eq(st.kind, 'j');
	ck_assert_uint_eq(st.len, 8);
	ck_assert(memcmp(st.data, "{\"a\":\n1}", 8) == 0);
	/* An empty message. */
	memcpy(buf + h, "0-0\nt", 5);
	ck_assert_int_eq(cluster_env_decode(buf, h + 5, &env), 0);
	ck_assert_int_eq(cluster_env_stream(&env, &st), 0);
	ck_assert_uint_eq(st.len, 0);
	/* A number is not a stream entry, nor is a stream entry a number. */
	ck_assert_int_eq(cluster_env_number(&env, &(long long){ 0 }), -1);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(buf + h, bad[i], strlen(bad[i]));
		ck_assert_int_eq(cluster_env_decode(buf, h + strlen(bad[i]),
		    &env), 0);
		ck_assert_msg(cluster_env_stream(&env, &st) == -1, "%s",
		    bad[i]);
	}
	/* Another kind. */
	h = cluster_env_header(buf, CLUSTER_ENV_VALUE, "n1", 0, 0, 0);
	memcpy(buf + h, "1-1\nt", 5);
	ck_assert_int_eq(cluster_env_decode(buf, h + 5, &env), 0);
	ck_assert_int_eq(cluster_env_stream(&env, &st), -1);
	/* DELETE: the header only. */
	h = cluster_env_header(buf, CLUSTER_ENV_DELETE, "n1", 0, 0, 0);
	ck_assert_int_eq(cluster_env_decode(buf, h, &env), 0);
	ck_assert_int_eq(env.kind, CLUSTER_ENV_DELETE);
}
END_TEST

/* What XADD gives out: MS-SEQ, two decimals of at most 20 digits. */
START_TEST(test_env_sid)
{
	ck_assert_int_eq(cluster_env_sid_valid("0-1", 3), 1);
	ck_assert_int_eq(cluster_env_sid_valid(
	    "18446744073709551615-18446744073709551615", 41), 1);
	ck_assert_int_eq(cluster_env_sid_valid("1-2-3", 5), 0);
	ck_assert_int_eq(cluster_env_sid_valid("1", 1), 0);
	ck_assert_int_eq(cluster_env_sid_valid("", 0), 0);
	ck_assert_int_eq(cluster_env_sid_valid("+", 1), 0);
	ck_assert_int_eq(cluster_env_sid_valid("1-2", 2), 0);
	ck_assert_int_eq(cluster_env_sid_valid(" 1-2", 4), 0);
}
END_TEST

/* 500 ms, times 1.5 each time, capped at 10 s; jitter 0.8 to 1.2. */
START_TEST(test_backoff)
{
	ck_assert_uint_eq(cluster_backoff_ms(0, 0.5), 500);
	ck_assert_uint_eq(cluster_backoff_ms(1, 0.5), 750);
	ck_assert_uint_eq(cluster_backoff_ms(2, 0.5), 1125);
	ck_assert_uint_eq(cluster_backoff_ms(0, 0.0), 400);
	ck_assert_uint_eq(cluster_backoff_ms(0, 0.999999), 599);
	ck_assert_uint_eq(cluster_backoff_ms(7, 0.5), 8542);
	ck_assert_uint_eq(cluster_backoff_ms(8, 0.5), 10000);
	ck_assert_uint_eq(cluster_backoff_ms(1000, 0.0), 8000);
	ck_assert_uint_eq(cluster_backoff_ms(4000000000u, 0.5), 10000);
	/* Out of range jitter is the middle. */
	ck_assert_uint_eq(cluster_backoff_ms(0, 7.0), 500);
}
END_TEST

Suite *
cluster_suite(void)
{
	Suite	*s = suite_create("cluster");
	TCase	*tc = tcase_create("pure");

	tcase_add_test(tc, test_env_msg_roundtrip);
	tcase_add_test(tc, test_env_truncated);
	tcase_add_test(tc, test_env_bad);
	tcase_add_test(tc, test_env_number);
	tcase_add_test(tc, test_env_stream);
	tcase_add_test(tc, test_env_sid);
	tcase_add_test(tc, test_backoff);
	suite_add_tcase(s, tc);
	return s;
}
