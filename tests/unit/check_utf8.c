/* check_utf8.c -- unit tests for the incremental UTF-8 validator. */
#include <stdint.h>
#include <string.h>

#include "suites.h"
#include "utf8.h"

/* A byte string with its length (may hold NUL). */
struct utf8_vec {
	const char	*s;
	size_t		 len;
};

#define V(lit)	{ lit, sizeof(lit) - 1 }

/* Feeds s from state in one call. */
static uint32_t
utf8_run(const char *s, size_t len)
{
	return utf8_validate(UTF8_ACCEPT, (const uint8_t *)s, len);
}

/*
 * Index of the byte at which the byte-by-byte state first becomes
 * UTF8_REJECT, or len when it never does.
 */
static size_t
utf8_reject_at(const char *s, size_t len)
{
	uint32_t	state = UTF8_ACCEPT;
	size_t		i;

	for (i = 0; i < len; i++) {
		state = utf8_validate(state, (const uint8_t *)s + i, 1);
		if (state == UTF8_REJECT)
			return i;
	}
	return len;
}

/* Complete valid strings: Kuhn's test file section 1 and 2 and more. */
static const struct utf8_vec utf8_good[] = {
	V(""),
	V("a"),
	V("hello, world"),
	V("\x00"),				/* U+0000 is valid */
	V("\x7f"),				/* U+007F */
	V("\xc2\x80"),				/* U+0080 */
	V("\xc2\xa9"),				/* U+00A9 */
	V("\xdf\xbf"),				/* U+07FF */
	V("\xe0\xa0\x80"),			/* U+0800 */
	V("\xe2\x82\xac"),			/* U+20AC */
	V("\xed\x9f\xbf"),			/* U+D7FF, below surrogates */
	V("\xee\x80\x80"),			/* U+E000, above surrogates */
	V("\xef\xbf\xbd"),			/* U+FFFD */
	V("\xef\xbf\xbf"),			/* U+FFFF */
	V("\xf0\x90\x80\x80"),			/* U+10000 */
	V("\xf0\x9f\x98\x80"),			/* U+1F600 */
	V("\xf3\xbf\xbf\xbf"),			/* U+FFFFF */
	V("\xf4\x80\x80\x80"),			/* U+100000 */
	V("\xf4\x8f\xbf\xbf"),			/* U+10FFFF */
	V("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"),	/* kosme */
	V("a\xc2\xa9" "b\xe2\x82\xac" "c\xf0\x9f\x98\x80" "d"),
};

/* Invalid strings and the index of the first byte that is rejected. */
static const struct {
	struct utf8_vec	v;
	size_t		at;
} utf8_bad[] = {
	{ V("\x80"), 0 },			/* lone continuation bytes */
	{ V("\xbf"), 0 },
	{ V("a\x80"), 1 },
	{ V("\xc2\xa9\xa9"), 2 },		/* one continuation too many */
	{ V("\xc0\x80"), 0 },			/* overlong U+0000 */
	{ V("\xc0\xaf"), 0 },			/* overlong '/' */
	{ V("\xc1\xbf"), 0 },			/* overlong U+007F */
	{ V("\xe0\x80\x80"), 1 },		/* overlong U+0000 */
	{ V("\xe0\x80\xaf"), 1 },
	{ V("\xe0\x9f\xbf"), 1 },		/* overlong U+07FF */
	{ V("\xf0\x80\x80\x80"), 1 },		/* overlong U+0000 */
	{ V("\xf0\x80\x80\xaf"), 1 },
	{ V("\xf0\x8f\xbf\xbf"), 1 },		/* overlong U+FFFF */
	{ V("\xf8\x88\x80\x80\x80"), 0 },	/* 5-byte forms */
	{ V("\xfc\x84\x80\x80\x80\x80"), 0 },	/* 6-byte forms */
	{ V("\xed\xa0\x80"), 1 },		/* U+D800 */
	{ V("\xed\xad\xbf"), 1 },		/* U+DB7F */
	{ V("\xed\xb0\x80"), 1 },		/* U+DC00 */
	{ V("\xed\xbf\xbf"), 1 },		/* U+DFFF */
	{ V("\xed\xa0\x80\xed\xb0\x80"), 1 },	/* surrogate pair */
	{ V("\xf4\x90\x80\x80"), 1 },		/* U+110000 */
	{ V("\xf4\xbf\xbf\xbf"), 1 },
	{ V("\xf5\x80\x80\x80"), 0 },		/* leads above U+10FFFF */
	{ V("\xf7\xbf\xbf\xbf"), 0 },
	{ V("\xfe"), 0 },
	{ V("\xff"), 0 },
	{ V("\xc2\x41"), 1 },			/* truncated, then ASCII */
	{ V("\xe2\x82\x41"), 2 },
	{ V("\xf0\x9f\x98\x41"), 3 },
	{ V("\xe2\x82\xc2\xa9"), 2 },		/* truncated, then a lead */
	{ V("\xf0\x9f\xf0\x9f\x98\x80"), 2 },
	{ V("\xc2\xc2"), 1 },
	{ V("hello\xed\xa0\x80world"), 6 },	/* rejected mid-string */
};

/* Prefixes of multi-byte sequences: valid so far, not complete. */
static const struct utf8_vec utf8_partial[] = {
	V("\xc2"),
	V("\xdf"),
	V("\xe0"),
	V("\xe0\xa0"),
	V("\xe2\x82"),
	V("\xed"),
	V("\xed\x9f"),
	V("\xf0"),
	V("\xf0\x90"),
	V("\xf0\x9f\x98"),
	V("\xf4\x8f\xbf"),
	V("a\xf3"),
};

START_TEST(test_utf8_good)
{
	const struct utf8_vec	*v = &utf8_good[_i];

	ck_assert_uint_eq(utf8_run(v->s, v->len), UTF8_ACCEPT);
	ck_assert_int_eq(utf8_valid((const uint8_t *)v->s, v->len), 1);
	ck_assert_uint_eq(utf8_reject_at(v->s, v->len), v->len);
}
END_TEST

START_TEST(test_utf8_bad)
{
	const struct utf8_vec	*v = &utf8_bad[_i].v;
	size_t			 at = utf8_bad[_i].at;

	ck_assert_uint_eq(utf8_run(v->s, v->len), UTF8_REJECT);
	ck_assert_int_eq(utf8_valid((const uint8_t *)v->s, v->len), 0);
	/* Rejected at the first byte that makes the prefix invalid... */
	ck_assert_uint_eq(utf8_reject_at(v->s, v->len), at);
	ck_assert_uint_eq(utf8_run(v->s, at + 1), UTF8_REJECT);
	/* ...and not one byte earlier. */
	ck_assert_uint_ne(utf8_run(v->s, at), UTF8_REJECT);
}
END_TEST

START_TEST(test_utf8_partial)
{
	const struct utf8_vec	*v = &utf8_partial[_i];
	uint32_t		 state;

	state = utf8_run(v->s, v->len);
	ck_assert_uint_ne(state, UTF8_ACCEPT);
	ck_assert_uint_ne(state, UTF8_REJECT);
	ck_assert_int_eq(utf8_valid((const uint8_t *)v->s, v->len), 0);
	/* Interrupted by ASCII: rejected at that byte. */
	ck_assert_uint_eq(utf8_validate(state, (const uint8_t *)"a", 1),
	    UTF8_REJECT);
}
END_TEST

/* Every split of every valid string: non-REJECT between, ACCEPT at the end. */
START_TEST(test_utf8_splits)
{
	const struct utf8_vec	*v = &utf8_good[_i];
	const uint8_t		*s = (const uint8_t *)v->s;
	uint32_t		 state;
	size_t			 i, j;

	for (i = 0; i <= v->len; i++) {
		state = utf8_validate(UTF8_ACCEPT, s, i);
		ck_assert_uint_ne(state, UTF8_REJECT);
		state = utf8_validate(state, s + i, v->len - i);
		ck_assert_uint_eq(state, UTF8_ACCEPT);
		/* Three pieces too. */
		for (j = i; j <= v->len; j++) {
			state = utf8_validate(UTF8_ACCEPT, s, i);
			state = utf8_validate(state, s + i, j - i);
			ck_assert_uint_ne(state, UTF8_REJECT);
			state = utf8_validate(state, s + j, v->len - j);
			ck_assert_uint_eq(state, UTF8_ACCEPT);
		}
	}
}
END_TEST

/* The state after a split point only ACCEPTs at character boundaries. */
START_TEST(test_utf8_boundaries)
{
	static const char	 s[] = "a\xc2\xa9\xe2\x82\xac\xf0\x9f\x98\x80z";
	static const int	 boundary[] = {
		1, 1, 0, 1, 0, 0, 1, 0, 0, 0, 1, 1
	};
	size_t			 i;

	for (i = 0; i < sizeof(boundary) / sizeof(boundary[0]); i++) {
		if (boundary[i])
			ck_assert_uint_eq(utf8_run(s, i), UTF8_ACCEPT);
		else {
			ck_assert_uint_ne(utf8_run(s, i), UTF8_ACCEPT);
			ck_assert_uint_ne(utf8_run(s, i), UTF8_REJECT);
		}
	}
}
END_TEST

START_TEST(test_utf8_sticky)
{
	ck_assert_uint_eq(utf8_validate(UTF8_REJECT, (const uint8_t *)"a", 1),
	    UTF8_REJECT);
	ck_assert_uint_eq(utf8_validate(UTF8_REJECT, NULL, 0), UTF8_REJECT);
	ck_assert_uint_eq(utf8_run("\x80" "abc", 4), UTF8_REJECT);
	ck_assert_uint_eq(utf8_validate(UTF8_ACCEPT, NULL, 0), UTF8_ACCEPT);
	/* A state the DFA never hands out is not trusted. */
	ck_assert_uint_eq(utf8_validate(0xdeadbeef, (const uint8_t *)"a", 1),
	    UTF8_REJECT);
}
END_TEST

/* Long ASCII runs around multi-byte characters (the fast path). */
START_TEST(test_utf8_ascii_runs)
{
	char	buf[300];

	memset(buf, 'x', sizeof(buf));
	ck_assert_uint_eq(utf8_run(buf, sizeof(buf)), UTF8_ACCEPT);
	memcpy(buf + 150, "\xe2\x82\xac", 3);
	ck_assert_uint_eq(utf8_run(buf, sizeof(buf)), UTF8_ACCEPT);
	buf[299] = (char)0xc2;
	ck_assert_uint_ne(utf8_run(buf, sizeof(buf)), UTF8_ACCEPT);
	ck_assert_uint_ne(utf8_run(buf, sizeof(buf)), UTF8_REJECT);
	buf[200] = (char)0x80;
	ck_assert_uint_eq(utf8_reject_at(buf, sizeof(buf)), 200);
	ck_assert_uint_eq(utf8_run(buf, sizeof(buf)), UTF8_REJECT);
}
END_TEST

/*
 * Reference classification of s, written independently of the DFA:
 * 0 complete and valid, 1 no completion can be valid, 2 valid so far.
 * A partial sequence is viable when some code point reachable by
 * completing it is in range for its length and not a surrogate.
 */
static int
utf8_reference(const uint8_t *s, size_t len)
{
	size_t		i = 0, need, k;
	uint32_t	lo, hi, min;

	while (i < len) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if (s[i] >= 0xc0 && s[i] < 0xe0) {
			need = 1;
			lo = s[i] & 0x1f;
			min = 0x80;
		} else if (s[i] >= 0xe0 && s[i] < 0xf0) {
			need = 2;
			lo = s[i] & 0x0f;
			min = 0x800;
		} else if (s[i] >= 0xf0 && s[i] < 0xf8) {
			need = 3;
			lo = s[i] & 0x07;
			min = 0x10000;
		} else
			return 1;
		for (k = 1; k <= need && i + k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 1;
			lo = (lo << 6) | (s[i + k] & 0x3f);
		}
		hi = lo;
		for (; k <= need; k++) {
			lo = lo << 6;
			hi = (hi << 6) | 0x3f;
		}
		if (lo < min)
			lo = min;
		if (hi > 0x10ffff)
			hi = 0x10ffff;
		if (lo > hi || (lo >= 0xd800 && hi <= 0xdfff))
			return 1;
		if (i + need >= len)
			return 2;
		i += need + 1;
	}
	return 0;
}

/* Maps a DFA state onto the reference's classes. */
static int
utf8_class_of(uint32_t state)
{
	if (state == UTF8_ACCEPT)
		return 0;
	if (state == UTF8_REJECT)
		return 1;
	return 2;
}

/* Every 1-, 2- and 3-byte string against the reference. */
START_TEST(test_utf8_exhaustive3)
{
	uint8_t		s[3];
	uint32_t	s0, s1, s2;
	unsigned	a, b, c;

	for (a = 0; a < 256; a++) {
		s[0] = (uint8_t)a;
		s0 = utf8_validate(UTF8_ACCEPT, s, 1);
		ck_assert_int_eq(utf8_class_of(s0), utf8_reference(s, 1));
		for (b = 0; b < 256; b++) {
			s[1] = (uint8_t)b;
			s1 = utf8_validate(s0, s + 1, 1);
			ck_assert_int_eq(utf8_class_of(s1),
			    utf8_reference(s, 2));
			for (c = 0; c < 256; c++) {
				s[2] = (uint8_t)c;
				s2 = utf8_validate(s1, s + 2, 1);
				if (utf8_class_of(s2) != utf8_reference(s, 3))
					ck_abort_msg("%02x %02x %02x: dfa %d "
					    "ref %d", a, b, c,
					    utf8_class_of(s2),
					    utf8_reference(s, 3));
			}
		}
	}
}
END_TEST

/* 4-byte strings over the bytes where the rules change. */
START_TEST(test_utf8_edges4)
{
	static const uint8_t	 edge[] = {
		0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0,
		0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0,
		0xf1, 0xf3, 0xf4, 0xf5, 0xf7, 0xf8, 0xfe, 0xff
	};
	const size_t		 n = sizeof(edge);
	uint8_t			 s[4];
	size_t			 a, b, c, d;

	for (a = 0; a < n; a++)
	for (b = 0; b < n; b++)
	for (c = 0; c < n; c++)
	for (d = 0; d < n; d++) {
		s[0] = edge[a];
		s[1] = edge[b];
		s[2] = edge[c];
		s[3] = edge[d];
		if (utf8_class_of(utf8_validate(UTF8_ACCEPT, s, 4)) !=
		    utf8_reference(s, 4))
			ck_abort_msg("%02x %02x %02x %02x", s[0], s[1], s[2],
			    s[3]);
	}
}
END_TEST

/* Every code point encodes to a string the DFA accepts, except surrogates. */
START_TEST(test_utf8_all_code_points)
{
	uint8_t		s[4];
	size_t		len;
	uint32_t	cp;
	int		want;

	for (cp = 0; cp <= 0x10ffff; cp++) {
		if (cp < 0x80) {
			s[0] = (uint8_t)cp;
			len = 1;
		} else if (cp < 0x800) {
			s[0] = (uint8_t)(0xc0 | cp >> 6);
			s[1] = (uint8_t)(0x80 | (cp & 0x3f));
			len = 2;
		} else if (cp < 0x10000) {
			s[0] = (uint8_t)(0xe0 | cp >> 12);
			s[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
			s[2] = (uint8_t)(0x80 | (cp & 0x3f));
			len = 3;
		} else {
			s[0] = (uint8_t)(0xf0 | cp >> 18);
			s[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
			s[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
			s[3] = (uint8_t)(0x80 | (cp & 0x3f));
			len = 4;
		}
		want = cp >= 0xd800 && cp <= 0xdfff ? 0 : 1;
		if (utf8_valid(s, len) != want)
			ck_abort_msg("U+%04X", (unsigned)cp);
	}
}
END_TEST

/* The check suite for utf8.c. */
Suite *
utf8_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("utf8");

	tc = tcase_create("vectors");
	tcase_add_loop_test(tc, test_utf8_good, 0,
	    sizeof(utf8_good) / sizeof(utf8_good[0]));
	tcase_add_loop_test(tc, test_utf8_bad, 0,
	    sizeof(utf8_bad) / sizeof(utf8_bad[0]));
	tcase_add_loop_test(tc, test_utf8_partial, 0,
	    sizeof(utf8_partial) / sizeof(utf8_partial[0]));
	tcase_add_test(tc, test_utf8_sticky);
	tcase_add_test(tc, test_utf8_ascii_runs);
	suite_add_tcase(s, tc);

	tc = tcase_create("splits");
	tcase_add_loop_test(tc, test_utf8_splits, 0,
	    sizeof(utf8_good) / sizeof(utf8_good[0]));
	tcase_add_test(tc, test_utf8_boundaries);
	suite_add_tcase(s, tc);

	tc = tcase_create("exhaustive");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_utf8_exhaustive3);
	tcase_add_test(tc, test_utf8_edges4);
	tcase_add_test(tc, test_utf8_all_code_points);
	suite_add_tcase(s, tc);

	return s;
}
