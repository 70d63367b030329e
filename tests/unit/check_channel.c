/* check_channel.c -- unit tests for channel names, ids, rings, envelope, SSE. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "channel.h"
#include "suites.h"

START_TEST(test_names)
{
	char	long_name[CHANNEL_NAME_MAX + 2];

	ck_assert_int_eq(channel_name_valid("news", 4), 1);
	ck_assert_int_eq(channel_name_valid("Aa0._:-", 7), 1);
	ck_assert_int_eq(channel_name_valid("", 0), 0);
	ck_assert_int_eq(channel_name_valid("a b", 3), 0);
	ck_assert_int_eq(channel_name_valid("a/b", 3), 0);
	ck_assert_int_eq(channel_name_valid("caf\xc3\xa9", 5), 0);
	ck_assert_int_eq(channel_name_valid("a\0b", 3), 0);
	ck_assert_int_eq(channel_name_valid("\"", 1), 0);
	memset(long_name, 'x', sizeof(long_name));
	ck_assert_int_eq(channel_name_valid(long_name, CHANNEL_NAME_MAX), 1);
	ck_assert_int_eq(channel_name_valid(long_name, CHANNEL_NAME_MAX + 1),
	    0);
}
END_TEST

START_TEST(test_ids)
{
	char		 id[CHANNEL_ID_MAX];
	uint64_t	 e, s;
	size_t		 n;

	n = channel_id_format(id, 1733350000123ULL, 42);
	ck_assert_str_eq(id, "1733350000123-42");
	ck_assert_uint_eq(n, strlen(id));
	ck_assert_int_eq(channel_id_parse(id, n, &e, &s), 0);
	ck_assert_uint_eq(e, 1733350000123ULL);
	ck_assert_uint_eq(s, 42);
	/* The longest id fits. */
	n = channel_id_format(id, UINT64_MAX, UINT64_MAX);
	ck_assert_int_eq(channel_id_parse(id, n, &e, &s), 0);
	ck_assert(e == UINT64_MAX && s == UINT64_MAX);
	ck_assert_int_eq(channel_id_parse("18446744073709551616-1", 22, &e,
	    &s), -1);
	ck_assert_int_eq(channel_id_parse("1-", 2, &e, &s), -1);
	ck_assert_int_eq(channel_id_parse("-1", 2, &e, &s), -1);
	ck_assert_int_eq(channel_id_parse("1", 1, &e, &s), -1);
	ck_assert_int_eq(channel_id_parse("1-2-3", 5, &e, &s), -1);
	ck_assert_int_eq(channel_id_parse("+1-2", 4, &e, &s), -1);
	ck_assert_int_eq(channel_id_parse("1- 2", 4, &e, &s), -1);
}
END_TEST

/* A ring of messages with these seqs, after floor. */
static void
ring_fill(struct channel_ring *r, uint64_t floor, const uint64_t *seqs,
    size_t n)
{
	size_t	i;

	channel_ring_init(r, floor);
	for (i = 0; i < n; i++)
		ck_assert_int_eq(channel_ring_push(r, channel_msg_new(seqs[i],
		    0, 0, "abc", 3)), 0);
}

/* Frees the messages and the ring. */
static void
ring_drop(struct channel_ring *r)
{
	struct channel_msg	*m;

	while ((m = channel_ring_pop(r)) != NULL)
		free(m);
	channel_ring_free(r);
}

START_TEST(test_ring)
{
	static const uint64_t	 seqs[] = { 3, 5, 6, 9, 10, 20, 21 };
	struct channel_ring	 r;
	struct channel_msg	*m;
	size_t			 first, i;

	ring_fill(&r, 2, seqs, 7);
	ck_assert_uint_eq(r.n, 7);
	ck_assert_uint_eq(r.bytes, 21);
	for (i = 0; i < 7; i++)
		ck_assert_uint_eq(channel_ring_at(&r, i)->seq, seqs[i]);
	ck_assert_uint_eq(channel_ring_last(&r)->seq, 21);
	/* Resume points: the first message after seq. */
	ck_assert_int_eq(channel_ring_since(&r, 2, 30, &first), 0);
	ck_assert_uint_eq(first, 0);
	ck_assert_int_eq(channel_ring_since(&r, 5, 30, &first), 0);
	ck_assert_uint_eq(first, 2);
	ck_assert_int_eq(channel_ring_since(&r, 7, 30, &first), 0);
	ck_assert_uint_eq(first, 3);
	ck_assert_int_eq(channel_ring_since(&r, 21, 30, &first), 0);
	ck_assert_uint_eq(first, 7);
	ck_assert_int_eq(channel_ring_since(&r, 25, 30, &first), 0);
	ck_assert_uint_eq(first, 7);
	/* Before the floor, or an id never given out: reset. */
	ck_assert_int_eq(channel_ring_since(&r, 1, 30, &first), 1);
	ck_assert_uint_eq(first, 0);
	ck_assert_int_eq(channel_ring_since(&r, 31, 30, &first), 1);
	/* Popping raises the floor: resuming from 3 now misses 5. */
	m = channel_ring_pop(&r);
	ck_assert_uint_eq(m->seq, 3);
	free(m);
	m = channel_ring_pop(&r);
	free(m);
	ck_assert_uint_eq(r.floor, 5);
	ck_assert_int_eq(channel_ring_since(&r, 3, 30, &first), 1);
	ck_assert_int_eq(channel_ring_since(&r, 5, 30, &first), 0);
	ck_assert_uint_eq(first, 0);
	/* Wrapping around and growing keeps the order. */
	for (i = 0; i < 100; i++) {
		ck_assert_int_eq(channel_ring_push(&r, channel_msg_new(100 + i,
		    0, 1, NULL, 0)), 0);
		if (i % 3 == 0)
			free(channel_ring_pop(&r));
	}
	for (i = 1; i < r.n; i++)
		ck_assert_uint_lt(channel_ring_at(&r, i - 1)->seq,
		    channel_ring_at(&r, i)->seq);
	ring_drop(&r);
	ck_assert_ptr_null(channel_ring_pop(&r));
}
END_TEST

/* The envelope as a jansson value. */
static json_t *
env(const char *ch, const char *id, enum channel_kind k, const char *data,
    size_t len)
{
	json_error_t	 err;
	json_t		*v;
	char		*s;
	size_t		 n;

	s = channel_envelope(ch, id, k, data, len, &n);
	if (s == NULL)
		return NULL;
	ck_assert_uint_eq(n, strlen(s));
	v = json_loads(s, JSON_ALLOW_NUL, &err);
	ck_assert_ptr_nonnull(v);
	free(s);
	return v;
}

START_TEST(test_envelope)
{
	json_t	*v;
	char	*s;
	size_t	 n;

	v = env("news", "1-2", CHANNEL_JSON, "{\"a\":[1,true]}", 14);
	ck_assert_str_eq(json_string_value(json_object_get(v, "channel")),
	    "news");
	ck_assert_str_eq(json_string_value(json_object_get(v, "id")), "1-2");
	ck_assert(json_is_array(json_object_get(json_object_get(v, "data"),
	    "a")));
	json_decref(v);
	/* A bare JSON scalar is a value too. */
	v = env("n", "1-3", CHANNEL_JSON, "42", 2);
	ck_assert_int_eq(json_integer_value(json_object_get(v, "data")), 42);
	json_decref(v);
	ck_assert_ptr_null(env("n", "1-3", CHANNEL_JSON, "{nope", 5));
	ck_assert_ptr_null(env("n", "1-3", CHANNEL_JSON, "1 2", 3));
	/* Text, quotes and a NUL included, is a string. */
	v = env("n", "1-4", CHANNEL_TEXT, "a\"b\0c", 5);
	ck_assert_uint_eq(json_string_length(json_object_get(v, "data")), 5);
	ck_assert_mem_eq(json_string_value(json_object_get(v, "data")),
	    "a\"b\0c", 5);
	json_decref(v);
	/* Binary is base64 with "binary": true. */
	v = env("n", "1-5", CHANNEL_BINARY, "\x00\xff\x10", 3);
	ck_assert_str_eq(json_string_value(json_object_get(v, "data")), "AP8Q");
	ck_assert(json_is_true(json_object_get(v, "binary")));
	json_decref(v);
	s = channel_envelope_reset("news", &n);
	ck_assert_str_eq(s, "{\"type\":\"reset\",\"channel\":\"news\"}");
	free(s);
}
END_TEST

/* The SSE form, as a string. */
static void
sse_is(const char *id, const char *event, int binary, const char *data,
    size_t len, const char *want)
{
	char	*s;
	size_t	 n;

	s = channel_sse_event(id, event, binary, data, len, &n);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(n, strlen(want));
	ck_assert_mem_eq(s, want, n);
	free(s);
}

START_TEST(test_sse)
{
	sse_is("1-2", NULL, 0, "hello", 5, "data: hello\nid: 1-2\n\n");
	/* Every line break ends a data line: LF, CR, CRLF. */
	sse_is("1-3", NULL, 0, "a\nb\rc\r\nd", 8,
	    "data: a\ndata: b\ndata: c\ndata: d\nid: 1-3\n\n");
	sse_is("1-4", NULL, 0, "end\n", 4, "data: end\ndata: \nid: 1-4\n\n");
	sse_is("1-5", NULL, 0, "", 0, "data: \nid: 1-5\n\n");
	sse_is("1-6", NULL, 1, "\x00\xff", 2,
	    "event: binary\ndata: AP8=\nid: 1-6\n\n");
	sse_is(NULL, "reset", 0, "{}", 2, "event: reset\ndata: {}\n\n");
}
END_TEST

/* The id of an event we made reads back; others have none. */
START_TEST(test_sse_id)
{
	static const char *const bad[] = {
		"data: x\n\n",			/* no id */
		"data: x\nid: 1-2\n",		/* not a whole event */
		"id: 1-2\ndata: x\n\n",		/* not the last field */
		"data: x\nid: 1-x\n\n",		/* not an id */
		"data: x\nid:1-2\n\n",		/* not our form */
		"\n\n", "",
	};
	char	*ev, id[CHANNEL_ID_MAX];
	size_t	 len, i;

	ck_assert_ptr_nonnull(ev = channel_sse_event("1733350000123-42", NULL,
	    1, "\n\nid: 9-9\n\n", 12, &len));
	ck_assert_int_eq(channel_sse_id(ev, len, id), 0);
	ck_assert_str_eq(id, "1733350000123-42");
	free(ev);
	ck_assert_ptr_nonnull(ev = channel_sse_event("5-6", NULL, 0,
	    "a\nid: 7-8", 9, &len));
	ck_assert_int_eq(channel_sse_id(ev, len, id), 0);
	ck_assert_str_eq(id, "5-6");
	free(ev);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(channel_sse_id(bad[i], strlen(bad[i]), id) == -1,
		    "%s", bad[i]);
}
END_TEST

/* Messages from other nodes are found by their publisher's id. */
START_TEST(test_ring_find)
{
	struct channel_ring	 r;
	struct channel_msg	*m[3];
	size_t			 i, at = 99;

	channel_ring_init(&r, 0);
	for (i = 0; i < 3; i++) {
		ck_assert_ptr_nonnull(m[i] = channel_msg_new(i + 1, 0, 0, "x",
		    1));
		ck_assert_int_eq(channel_ring_push(&r, m[i]), 0);
	}
	snprintf(m[1]->origin, sizeof(m[1]->origin), "77-5");
	ck_assert_int_eq(channel_ring_find(&r, "77-5", &at), 0);
	ck_assert_uint_eq(at, 1);
	ck_assert_int_eq(channel_ring_find(&r, "77-6", &at), -1);
	/* Our own messages have no origin: "" finds nothing. */
	ck_assert_int_eq(channel_ring_find(&r, "", &at), -1);
	for (i = 0; i < 3; i++)
		free(m[i]);
	channel_ring_free(&r);
}
END_TEST

START_TEST(test_kind)
{
	ck_assert_int_eq(channel_kind_of("text/plain", 10), CHANNEL_TEXT);
	ck_assert_int_eq(channel_kind_of("TEXT/html; charset=utf-8", 24),
	    CHANNEL_TEXT);
	ck_assert_int_eq(channel_kind_of("application/json", 16),
	    CHANNEL_JSON);
	ck_assert_int_eq(channel_kind_of("application/json; charset=utf-8",
	    31), CHANNEL_JSON);
	ck_assert_int_eq(channel_kind_of("application/jsonx", 17),
	    CHANNEL_BINARY);
	ck_assert_int_eq(channel_kind_of("application/x-www-form-urlencoded",
	    33), CHANNEL_TEXT);
	ck_assert_int_eq(channel_kind_of("image/png", 9), CHANNEL_BINARY);
	ck_assert_int_eq(channel_json_valid("[1]", 3), 1);
	ck_assert_int_eq(channel_json_valid("[1", 2), 0);
}
END_TEST

Suite *
channel_suite(void)
{
	Suite	*s = suite_create("channel");
	TCase	*tc = tcase_create("channel");

	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_ids);
	tcase_add_test(tc, test_ring);
	tcase_add_test(tc, test_envelope);
	tcase_add_test(tc, test_sse);
	tcase_add_test(tc, test_sse_id);
	tcase_add_test(tc, test_ring_find);
	tcase_add_test(tc, test_kind);
	suite_add_tcase(s, tc);
	return s;
}
