/* check_pmd.c -- unit tests for permessage-deflate: negotiation, streams. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "http.h"
#include "pmd.h"
#include "suites.h"
#include "ws.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* One negotiation case: a header value and the response, NULL: declined. */
struct neg_case {
	const char	*offer;
	const char	*resp;
};

static const struct neg_case neg_cases[] = {
	/* What browsers and python-websockets offer. */
	{ "permessage-deflate; client_max_window_bits",
	  "permessage-deflate; server_max_window_bits=12; "
	  "client_max_window_bits=12" },
	{ "permessage-deflate",
	  "permessage-deflate; server_max_window_bits=12" },
	{ "permessage-deflate; client_max_window_bits=10",
	  "permessage-deflate; server_max_window_bits=12; "
	  "client_max_window_bits=10" },
	{ "permessage-deflate; client_max_window_bits=15",
	  "permessage-deflate; server_max_window_bits=12; "
	  "client_max_window_bits=12" },
	{ "permessage-deflate; client_max_window_bits=8",
	  "permessage-deflate; server_max_window_bits=12; "
	  "client_max_window_bits=8" },
	{ "permessage-deflate; server_max_window_bits=9",
	  "permessage-deflate; server_max_window_bits=9" },
	{ "permessage-deflate; server_max_window_bits=15",
	  "permessage-deflate; server_max_window_bits=12" },
	{ "permessage-deflate; server_no_context_takeover",
	  "permessage-deflate; server_no_context_takeover; "
	  "server_max_window_bits=12" },
	{ "permessage-deflate; client_no_context_takeover",
	  "permessage-deflate; client_no_context_takeover; "
	  "server_max_window_bits=12" },
	{ "permessage-deflate;server_no_context_takeover;"
	  "client_no_context_takeover;server_max_window_bits=10;"
	  "client_max_window_bits=11",
	  "permessage-deflate; server_no_context_takeover; "
	  "client_no_context_takeover; server_max_window_bits=10; "
	  "client_max_window_bits=11" },
	/* Case, white space and quoted values (RFC 6455 9.1). */
	{ "PerMessage-Deflate ;  Client_Max_Window_Bits = \"10\"  ",
	  "permessage-deflate; server_max_window_bits=12; "
	  "client_max_window_bits=10" },
	{ "permessage-deflate; server_max_window_bits=\"1\\1\"",
	  "permessage-deflate; server_max_window_bits=11" },
	/* zlib cannot do a 256-byte window: declined, next offer taken. */
	{ "permessage-deflate; server_max_window_bits=8", NULL },
	{ "permessage-deflate; server_max_window_bits=8, permessage-deflate",
	  "permessage-deflate; server_max_window_bits=12" },
	{ "permessage-deflate; server_no_context_takeover; "
	  "server_max_window_bits=9, permessage-deflate; "
	  "server_no_context_takeover, permessage-deflate",
	  "permessage-deflate; server_no_context_takeover; "
	  "server_max_window_bits=9" },
	/* Declined offers fall back to the next one. */
	{ "permessage-deflate; foo=1, permessage-deflate; "
	  "client_max_window_bits",
	  "permessage-deflate; server_max_window_bits=12; "
	  "client_max_window_bits=12" },
	{ "x-webkit-deflate-frame, permessage-deflate",
	  "permessage-deflate; server_max_window_bits=12" },
	{ "foo; bar=\"a, b\"; baz, permessage-deflate",
	  "permessage-deflate; server_max_window_bits=12" },
	{ ", ,permessage-deflate,",
	  "permessage-deflate; server_max_window_bits=12" },
	{ "permessage-deflate; server_max_window_bits, permessage-deflate",
	  "permessage-deflate; server_max_window_bits=12" },
	/* Malformed or duplicate parameters: declined. */
	{ "permessage-deflate; server_max_window_bits", NULL },
	{ "permessage-deflate; server_max_window_bits=7", NULL },
	{ "permessage-deflate; server_max_window_bits=16", NULL },
	{ "permessage-deflate; server_max_window_bits=010", NULL },
	{ "permessage-deflate; server_max_window_bits=+9", NULL },
	{ "permessage-deflate; client_max_window_bits=0", NULL },
	{ "permessage-deflate; client_max_window_bits=", NULL },
	{ "permessage-deflate; client_max_window_bits=\"\"", NULL },
	{ "permessage-deflate; client_max_window_bits=\"1 0\"", NULL },
	{ "permessage-deflate; client_max_window_bits=\"10", NULL },
	{ "permessage-deflate; server_no_context_takeover=1", NULL },
	{ "permessage-deflate; server_no_context_takeover; "
	  "server_no_context_takeover", NULL },
	{ "permessage-deflate; client_no_context_takeover; "
	  "client_no_context_takeover", NULL },
	{ "permessage-deflate; client_max_window_bits; "
	  "client_max_window_bits=9", NULL },
	{ "permessage-deflate; server_max_window_bits=9; "
	  "server_max_window_bits=9", NULL },
	{ "permessage-deflate; unknown", NULL },
	{ "permessage-deflate;", NULL },
	{ "permessage-deflate; ;", NULL },
	{ "permessage-deflate x", NULL },
	{ "permessage-deflate; a=b=c", NULL },
	{ "permessage-deflate=1", NULL },
	{ "permessage-deflat", NULL },
	{ "deflate-frame", NULL },
	{ "", NULL },
	{ ",", NULL },
	{ "\"permessage-deflate\"", NULL },
};

/* Each offer gets the response it should, or is declined. */
START_TEST(test_negotiate_value)
{
	const struct neg_case	*t = &neg_cases[_i];
	struct pmd_params	 p;
	char			 resp[PMD_RESPONSE_MAX];
	int			 ok;

	ok = pmd_negotiate_value(t->offer, strlen(t->offer), 0, &p,
	    resp);
	if (t->resp == NULL)
		ck_assert_msg(!ok, "accepted \"%s\" as \"%s\"", t->offer, resp);
	else {
		ck_assert_msg(ok, "declined \"%s\"", t->offer);
		ck_assert_str_eq(resp, t->resp);
	}
}
END_TEST

/*
 * compression = shared: the same offers get no context takeover both ways
 * in the response (RFC 7692 7.1.1.1 and 7.1.1.2 let a server add both),
 * windows as with on; what on declines, shared declines too.
 */
#define SH_NCT	"permessage-deflate; server_no_context_takeover; " \
		"client_no_context_takeover; "
static const struct neg_case shared_cases[] = {
	{ "permessage-deflate", SH_NCT "server_max_window_bits=12" },
	{ "permessage-deflate; client_max_window_bits",
	  SH_NCT "server_max_window_bits=12; client_max_window_bits=12" },
	{ "permessage-deflate; client_max_window_bits=9",
	  SH_NCT "server_max_window_bits=12; client_max_window_bits=9" },
	{ "permessage-deflate; server_max_window_bits=10",
	  SH_NCT "server_max_window_bits=10" },
	{ "permessage-deflate; client_no_context_takeover",
	  SH_NCT "server_max_window_bits=12" },
	{ "permessage-deflate; server_no_context_takeover",
	  SH_NCT "server_max_window_bits=12" },
	{ "permessage-deflate; client_no_context_takeover; "
	  "server_no_context_takeover; server_max_window_bits=11; "
	  "client_max_window_bits=10",
	  SH_NCT "server_max_window_bits=11; client_max_window_bits=10" },
	/* Several offers: the first acceptable one. */
	{ "permessage-deflate; server_max_window_bits=8, permessage-deflate; "
	  "server_max_window_bits=9, permessage-deflate",
	  SH_NCT "server_max_window_bits=9" },
	{ "x-webkit-deflate-frame, permessage-deflate; bogus, "
	  "permessage-deflate; client_max_window_bits",
	  SH_NCT "server_max_window_bits=12; client_max_window_bits=12" },
	{ "permessage-deflate; server_max_window_bits=8", NULL },
	{ "permessage-deflate; client_no_context_takeover; "
	  "client_no_context_takeover", NULL },
	{ "deflate-frame", NULL },
};

/* Shared: each offer gets the response it should, or is declined. */
START_TEST(test_negotiate_shared)
{
	const struct neg_case	*t = &shared_cases[_i];
	struct pmd_params	 p;
	char			 resp[PMD_RESPONSE_MAX];
	int			 ok;

	ok = pmd_negotiate_value(t->offer, strlen(t->offer), 1, &p, resp);
	if (t->resp == NULL) {
		ck_assert_msg(!ok, "accepted \"%s\" as \"%s\"", t->offer, resp);
		return;
	}
	ck_assert_msg(ok, "declined \"%s\"", t->offer);
	ck_assert_str_eq(resp, t->resp);
	ck_assert_int_eq(p.server_no_context_takeover, 1);
	ck_assert_int_eq(p.client_no_context_takeover, 1);
}
END_TEST

/* Negotiates offer s and checks the agreed parameters. */
static void
assert_params(const char *s, int shared, int snct, int cnct, int sw, int cw)
{
	struct pmd_params	 p;
	char			 resp[PMD_RESPONSE_MAX];

	ck_assert(pmd_negotiate_value(s, strlen(s), shared, &p, resp));
	ck_assert_int_eq(p.server_no_context_takeover, snct);
	ck_assert_int_eq(p.client_no_context_takeover, cnct);
	ck_assert_int_eq(p.server_max_window_bits, sw);
	ck_assert_int_eq(p.client_max_window_bits, cw);
}

/* The parameters match what the response announced. */
START_TEST(test_negotiate_params)
{
	struct pmd_params	 p;
	char			 resp[PMD_RESPONSE_MAX];
	const char		*s;

	assert_params("permessage-deflate; client_max_window_bits", 0,
	    0, 0, 12, 12);
	/* No client_max_window_bits offered: its window may be 15 bits. */
	assert_params("permessage-deflate; server_no_context_takeover; "
	    "client_no_context_takeover; server_max_window_bits=10", 0,
	    1, 1, 10, 15);
	/* Shared: the windows as negotiated, no context takeover. */
	assert_params("permessage-deflate; client_max_window_bits", 1,
	    1, 1, 12, 12);
	assert_params("permessage-deflate", 1, 1, 1, 12, 15);

	/* A value that does not fit the length is no overflow. */
	s = "permessage-deflate";
	ck_assert(!pmd_negotiate_value(s, 5, 0, &p, resp));
}
END_TEST

/* Offers spread over several header lines are taken in order. */
START_TEST(test_negotiate_request)
{
	static const char req1[] = "GET /echo HTTP/1.1\r\nHost: x\r\n"
	    "Sec-WebSocket-Extensions: foo, permessage-deflate; bad\r\n"
	    "X: y\r\n"
	    "sec-websocket-extensions: permessage-deflate; "
	    "server_max_window_bits=10\r\n"
	    "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n";
	static const char req2[] = "GET /echo HTTP/1.1\r\nHost: x\r\n"
	    "Sec-WebSocket-Extensions: permessage-deflate; "
	    "server_max_window_bits=8\r\n\r\n";
	static const char req3[] = "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n";
	struct http_request	 req;
	struct pmd_params	 p;
	char			 resp[PMD_RESPONSE_MAX];

	ck_assert_int_gt(http_parse_request(req1, sizeof(req1) - 1, 8192,
	    &req), 0);
	ck_assert(pmd_negotiate(&req, 0, &p, resp));
	ck_assert_str_eq(resp, "permessage-deflate; server_max_window_bits=10");
	ck_assert_int_gt(http_parse_request(req2, sizeof(req2) - 1, 8192,
	    &req), 0);
	ck_assert(!pmd_negotiate(&req, 0, &p, resp));
	ck_assert_int_gt(http_parse_request(req3, sizeof(req3) - 1, 8192,
	    &req), 0);
	ck_assert(!pmd_negotiate(&req, 0, &p, resp));
}
END_TEST

/* A growable byte buffer for what the inflater hands out. */
struct sinkbuf {
	uint8_t	*b;
	size_t	 len;
	size_t	 cap;
	size_t	 calls;
	size_t	 stop_after;	/* 0: never stop */
};

/* pmd sink: appends. */
static int
sink_cb(void *arg, const uint8_t *data, size_t len)
{
	struct sinkbuf	*s = arg;

	if (s->len + len > s->cap) {
		s->cap = (s->len + len) * 2;
		s->b = realloc(s->b, s->cap);
		ck_assert_ptr_nonnull(s->b);
	}
	memcpy(s->b + s->len, data, len);
	s->len += len;
	s->calls++;
	if (s->stop_after != 0 && s->calls >= s->stop_after)
		return -1;
	return 0;
}

/* Parameters with both windows at w bits. */
static struct pmd_params
params(int snct, int cnct, int sw, int cw)
{
	struct pmd_params	p;

	p.server_no_context_takeover = snct;
	p.client_no_context_takeover = cnct;
	p.server_max_window_bits = sw;
	p.client_max_window_bits = cw;
	return p;
}

/* Test data of n bytes: text-like, so that it compresses. */
static uint8_t *
sample(size_t n, unsigned seed)
{
	uint8_t	*b = malloc(n + 1);
	size_t	 i;

	ck_assert_ptr_nonnull(b);
	for (i = 0; i < n; i++)
		b[i] = (uint8_t)("abcdefgh  wsd deflate\n"[(i * 7 + seed +
		    (i >> 5)) % 22]);
	return b;
}

/*
 * Our deflater's output, inflated piece by piece (pieces of step bytes) by
 * an inflater with the peer's view of the parameters, gives the message
 * back, over several messages (context takeover when negotiated); pooled
 * both sides use the loop's streams where there is no context takeover.
 */
static void
roundtrip(struct pmd_params pp, size_t n, size_t step, int pooled)
{
	struct pmd_params	 peer;
	struct pmd		*tx, *rx;
	struct sinkbuf		 sb;
	uint8_t			*msg, *z;
	size_t			 zlen, off, k, m;
	int			 round;

	/* The receiver inflates what our side deflated: mirror the view. */
	peer = pp;
	peer.client_max_window_bits = pp.server_max_window_bits;
	peer.client_no_context_takeover = pp.server_no_context_takeover;
	tx = pmd_new(&pp, pooled);
	rx = pmd_new(&peer, pooled);
	ck_assert_ptr_nonnull(tx);
	ck_assert_ptr_nonnull(rx);
	for (round = 0; round < 3; round++) {
		msg = sample(n, (unsigned)round);
		z = malloc(pmd_deflate_bound(n));
		ck_assert_int_eq(pmd_deflate(tx, msg, n, z,
		    pmd_deflate_bound(n), &zlen), PMD_OK);
		if (n > 1000)
			ck_assert_uint_lt(zlen, n / 2);
		memset(&sb, 0, sizeof(sb));
		off = 0;
		do {
			k = zlen - off < step ? zlen - off : step;
			m = off + k == zlen;
			ck_assert_int_eq(pmd_inflate(rx, z + off, k, (int)m,
			    n, sink_cb, &sb), PMD_OK);
			off += k;
		} while (off < zlen);
		ck_assert_uint_eq(sb.len, n);
		ck_assert(n == 0 || memcmp(sb.b, msg, n) == 0);
		free(sb.b);
		free(msg);
		free(z);
	}
	pmd_free(tx);
	pmd_free(rx);
}

static const size_t rt_sizes[] = { 0, 1, 16, 125, 126, 1000, 65535, 65536,
    200000 };

/* Messages of many sizes survive deflate and inflate, every parameter. */
START_TEST(test_roundtrip)
{
	size_t	n = rt_sizes[_i % NELEM(rt_sizes)];

	roundtrip(params(0, 0, 12, 12), n, SIZE_MAX, 0);
	roundtrip(params(1, 1, 12, 12), n, SIZE_MAX, 0);
	roundtrip(params(0, 0, 9, 9), n, 7, 0);
	roundtrip(params(1, 0, 15, 15), n, 1000, 0);
	roundtrip(params(0, 1, 10, 10), n, 1, 0);
	/* The loop's streams, whole messages and pieces held until fin. */
	roundtrip(params(1, 1, 12, 12), n, SIZE_MAX, 1);
	roundtrip(params(1, 1, 9, 9), n, 7, 1);
	roundtrip(params(1, 1, 15, 15), n, 1000, 1);
	roundtrip(params(0, 0, 10, 10), n, 333, 1);
	roundtrip(params(1, 0, 11, 11), n, 1, 1);
}
END_TEST

/*
 * Pooled state: messages of connections with different windows, in
 * pieces and interleaved, all inflate right through the loop's streams,
 * and a pooled deflater's bytes are those of a fresh stream, whatever
 * was compressed in between.
 */
START_TEST(test_pooled_interleaved)
{
	static const int	 wbits[] = { 9, 15, 12, 9 };
	struct pmd_params	 pp;
	struct pmd		*rx[4], *tx[4], *fresh;
	struct sinkbuf		 sb[4];
	uint8_t			*msg[4], *z[4], zf[8192];
	size_t			 zlen[4], flen, n = 5000, half, i, round;

	for (i = 0; i < 4; i++) {
		/* Our view (receiving) and the peer's (sending) of one conn. */
		pp = params(1, 1, wbits[i], wbits[i]);
		ck_assert_ptr_nonnull(rx[i] = pmd_new(&pp, 1));
		ck_assert_ptr_nonnull(tx[i] = pmd_new(&pp, 1));
	}
	for (round = 0; round < 3; round++) {
		for (i = 0; i < 4; i++) {
			msg[i] = sample(n, (unsigned)(round * 4 + i));
			z[i] = malloc(pmd_deflate_bound(n));
			ck_assert_int_eq(pmd_deflate(tx[i], msg[i], n, z[i],
			    pmd_deflate_bound(n), &zlen[i]), PMD_OK);
			memset(&sb[i], 0, sizeof(sb[i]));
		}
		/* First halves of all, then the second halves, reversed. */
		for (i = 0; i < 4; i++)
			ck_assert_int_eq(pmd_inflate(rx[i], z[i], zlen[i] / 2,
			    0, n, sink_cb, &sb[i]), PMD_OK);
		for (i = 4; i-- > 0;) {
			half = zlen[i] / 2;
			ck_assert_int_eq(pmd_inflate(rx[i], z[i] + half,
			    zlen[i] - half, 1, n, sink_cb, &sb[i]), PMD_OK);
		}
		for (i = 0; i < 4; i++) {
			ck_assert_uint_eq(sb[i].len, n);
			ck_assert_mem_eq(sb[i].b, msg[i], n);
			free(sb[i].b);
		}
		/* The same bytes as a stream of our own, made fresh. */
		pp = params(1, 1, wbits[3], wbits[3]);
		fresh = pmd_new(&pp, 0);
		ck_assert_int_eq(pmd_deflate(fresh, msg[3], n, zf, sizeof(zf),
		    &flen), PMD_OK);
		ck_assert_uint_eq(flen, zlen[3]);
		ck_assert_mem_eq(zf, z[3], flen);
		pmd_free(fresh);
		for (i = 0; i < 4; i++) {
			free(msg[i]);
			free(z[i]);
		}
	}
	/* Garbage fails one message and leaves the pool fine for the next. */
	memset(&sb[0], 0, sizeof(sb[0]));
	ck_assert_int_eq(pmd_inflate(rx[0], (const uint8_t *)"\xff\xff\xff",
	    3, 1, n, sink_cb, &sb[0]), PMD_ERROR);
	free(sb[0].b);
	roundtrip(params(1, 1, 9, 9), 3000, 100, 1);
	for (i = 0; i < 4; i++) {
		pmd_free(rx[i]);
		pmd_free(tx[i]);
	}
	/* Freed pool streams come back on demand. */
	pmd_pool_free();
	roundtrip(params(1, 1, 12, 12), 3000, 100, 1);
	pmd_pool_free();
}
END_TEST

/* zlib's raw stream of data (flush Z_SYNC_FLUSH or Z_FINISH). */
static uint8_t *
zraw(const uint8_t *data, size_t n, int wbits, int flush, int strip,
    size_t *zlen)
{
	z_stream	 s;
	uint8_t		*out;
	size_t		 cap = n + n / 2 + 256;

	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(deflateInit2(&s, 9, Z_DEFLATED, -wbits, 9,
	    Z_DEFAULT_STRATEGY), Z_OK);
	out = malloc(cap);
	s.next_in = (Bytef *)(uintptr_t)data;
	s.avail_in = (uInt)n;
	s.next_out = out;
	s.avail_out = (uInt)cap;
	ck_assert_int_ne(deflate(&s, flush), Z_STREAM_ERROR);
	ck_assert_uint_eq(s.avail_in, 0);
	*zlen = cap - s.avail_out;
	if (strip)
		*zlen -= 4;
	deflateEnd(&s);
	return out;
}

/*
 * A zip bomb (10 MiB of zeros, about 10 KiB compressed) stops with
 * PMD_TOO_BIG once the limit is passed, before more than the limit was
 * handed out.
 */
START_TEST(test_inflate_limit)
{
	struct pmd_params	 pp = params(0, 0, 12, 15);
	struct pmd		*rx;
	struct sinkbuf		 sb;
	uint8_t			*zeros, *z;
	size_t			 zlen, n = 10 * 1024 * 1024;

	zeros = calloc(1, n);
	z = zraw(zeros, n, 15, Z_SYNC_FLUSH, 1, &zlen);
	ck_assert_uint_lt(zlen, 20000);
	rx = pmd_new(&pp, 0);
	memset(&sb, 0, sizeof(sb));
	ck_assert_int_eq(pmd_inflate(rx, z, zlen, 1, 1024 * 1024, sink_cb,
	    &sb), PMD_TOO_BIG);
	ck_assert_uint_le(sb.len, 1024 * 1024);
	pmd_free(rx);

	/* Exactly at the limit is fine; one byte more is not. */
	free(z);
	z = zraw(zeros, 100000, 15, Z_SYNC_FLUSH, 1, &zlen);
	rx = pmd_new(&pp, 0);
	sb.len = 0;
	ck_assert_int_eq(pmd_inflate(rx, z, zlen, 1, 100000, sink_cb, &sb),
	    PMD_OK);
	ck_assert_uint_eq(sb.len, 100000);
	sb.len = 0;
	pmd_free(rx);
	rx = pmd_new(&pp, 0);
	ck_assert_int_eq(pmd_inflate(rx, z, zlen, 1, 99999, sink_cb, &sb),
	    PMD_TOO_BIG);
	/* The limit counts the whole message, across pieces. */
	pmd_free(rx);
	rx = pmd_new(&pp, 0);
	sb.len = 0;
	ck_assert_int_eq(pmd_inflate(rx, z, zlen / 2, 0, 99999, sink_cb,
	    &sb), PMD_OK);
	ck_assert_int_eq(pmd_inflate(rx, z + zlen / 2, zlen - zlen / 2, 1,
	    99999, sink_cb, &sb), PMD_TOO_BIG);
	pmd_free(rx);
	free(sb.b);
	free(z);
	free(zeros);
}
END_TEST

/*
 * client_max_window_bits=8: the inflater has a 256-byte window, and a
 * client compressing with zlib's smallest raw window (9 bits, whose
 * distances stay under 256) is understood across messages.
 */
START_TEST(test_inflate_window8)
{
	struct pmd_params	 pp = params(0, 0, 12, 8);
	struct pmd		*rx;
	struct sinkbuf		 sb;
	z_stream		 s;
	uint8_t			 a[400], out[2048];
	int			 i;

	/* Random bytes: the only matches are in earlier messages. */
	srand(7);
	for (i = 0; i < 400; i++)
		a[i] = (uint8_t)rand();

	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(deflateInit2(&s, 9, Z_DEFLATED, -9, 8,
	    Z_DEFAULT_STRATEGY), Z_OK);
	rx = pmd_new(&pp, 0);
	memset(&sb, 0, sizeof(sb));
	for (i = 0; i < 3; i++) {
		s.next_in = a;
		s.avail_in = 400;
		s.next_out = out;
		s.avail_out = sizeof(out);
		ck_assert_int_eq(deflate(&s, Z_SYNC_FLUSH), Z_OK);
		sb.len = 0;
		ck_assert_int_eq(pmd_inflate(rx, out, sizeof(out) -
		    s.avail_out - 4, 1, 0, sink_cb, &sb), PMD_OK);
		ck_assert_uint_eq(sb.len, 400);
		ck_assert_mem_eq(sb.b, a, 400);
	}
	deflateEnd(&s);
	pmd_free(rx);
	free(sb.b);
}
END_TEST

/* Garbage, a too large window and data after the final block fail. */
START_TEST(test_inflate_errors)
{
	static const uint8_t junk[] = { 0xff, 0xff, 0xff, 0xff, 0x00 };
	struct pmd_params	 pp = params(0, 0, 12, 9);
	struct pmd		*rx;
	struct sinkbuf		 sb;
	uint8_t			*msg, *z, *z2;
	size_t			 zlen, n = 20000;

	memset(&sb, 0, sizeof(sb));
	rx = pmd_new(&pp, 0);
	ck_assert_int_eq(pmd_inflate(rx, junk, sizeof(junk), 1, 0, sink_cb,
	    &sb), PMD_ERROR);
	pmd_free(rx);

	msg = malloc(n);
	{
		uint8_t	*s = sample(4000, 3);

		memcpy(msg, s, 4000);
		memcpy(msg + 4000, s, 4000);
		memcpy(msg + 8000, s, 4000);
		free(s);
	}

	/* A final block ends the message; the tail is not needed then. */
	pp = params(0, 0, 12, 15);
	z = zraw(msg, 12000, 15, Z_FINISH, 0, &zlen);
	rx = pmd_new(&pp, 0);
	sb.len = 0;
	ck_assert_int_eq(pmd_inflate(rx, z, zlen, 1, 0, sink_cb, &sb), PMD_OK);
	ck_assert_uint_eq(sb.len, 12000);
	/* ... and the next message is a new stream. */
	sb.len = 0;
	ck_assert_int_eq(pmd_inflate(rx, z, zlen, 1, 0, sink_cb, &sb), PMD_OK);
	ck_assert_uint_eq(sb.len, 12000);
	/* Bytes after the final block are an error. */
	z2 = malloc(zlen + 10);
	memcpy(z2, z, zlen);
	memset(z2 + zlen, 0, 10);
	ck_assert_int_eq(pmd_inflate(rx, z2, zlen + 10, 1, 0, sink_cb, &sb),
	    PMD_ERROR);
	pmd_free(rx);

	/* The sink may stop inflating. */
	rx = pmd_new(&pp, 0);
	sb.len = 0;
	sb.calls = 0;
	sb.stop_after = 1;
	ck_assert_int_eq(pmd_inflate(rx, z, zlen, 1, 0, sink_cb, &sb),
	    PMD_ABORT);
	pmd_free(rx);
	free(z2);
	free(z);
	free(msg);
	free(sb.b);
}
END_TEST

/*
 * Without server context takeover every message compresses to the same
 * bytes (what lets a hub share them); with it the second copy of a
 * message is much shorter than the first.
 */
START_TEST(test_deflate_context)
{
	struct pmd_params	 p0 = params(0, 0, 12, 15);
	struct pmd_params	 p1 = params(1, 0, 12, 15);
	struct pmd		*a, *b, *k;
	uint8_t			*msg = sample(3000, 1), za[4000], zb[4000];
	size_t			 la, lb, lk1, lk2;

	a = pmd_new(&p1, 0);
	b = pmd_new(&p1, 1);
	k = pmd_new(&p0, 0);
	ck_assert_int_eq(pmd_deflate(a, msg, 3000, za, sizeof(za), &la),
	    PMD_OK);
	ck_assert_int_eq(pmd_deflate(b, (const uint8_t *)"xyz", 3, zb,
	    sizeof(zb), &lb), PMD_OK);
	ck_assert_int_eq(pmd_deflate(b, msg, 3000, zb, sizeof(zb), &lb),
	    PMD_OK);
	ck_assert_uint_eq(la, lb);
	ck_assert_mem_eq(za, zb, la);
	ck_assert_int_eq(pmd_deflate(a, msg, 3000, zb, sizeof(zb), &lb),
	    PMD_OK);
	ck_assert_mem_eq(za, zb, la);

	ck_assert_int_eq(pmd_deflate(k, msg, 3000, za, sizeof(za), &lk1),
	    PMD_OK);
	ck_assert_int_eq(pmd_deflate(k, msg, 3000, za, sizeof(za), &lk2),
	    PMD_OK);
	ck_assert_uint_lt(lk2, lk1 / 2);
	/* The empty message: one byte on the wire. */
	ck_assert_int_eq(pmd_deflate(a, msg, 0, za, pmd_deflate_bound(0),
	    &la), PMD_OK);
	ck_assert_uint_eq(la, 1);
	pmd_free(a);
	pmd_free(b);
	pmd_free(k);
	free(msg);
}
END_TEST

/* Parser: RSV1 only with the extension, only on a message's first frame. */
START_TEST(test_parser_rsv1)
{
	/* Masked frames with a zero key: payload bytes as they are. */
	static const uint8_t c_text[] = { 0xc1, 0x82, 0, 0, 0, 0, 0xff, 0xfe };
	static const uint8_t c_first[] = { 0x41, 0x81, 0, 0, 0, 0, 'a' };
	static const uint8_t c_cont[] = { 0xc0, 0x81, 0, 0, 0, 0, 'b' };
	static const uint8_t p_cont[] = { 0x80, 0x81, 0, 0, 0, 0, 'b' };
	static const uint8_t c_ping[] = { 0xc9, 0x80, 0, 0, 0, 0 };
	static const uint8_t rsv2[] = { 0xa1, 0x80, 0, 0, 0, 0 };
	struct ws_parser	 p;
	struct ws_event		 ev;
	uint8_t			 out[64];

	ws_parser_init(&p, 1024);
	ws_parser_feed(&p, c_text, sizeof(c_text), out, sizeof(out), &ev);
	ck_assert_int_eq(ev.type, WS_EV_ERROR);
	ck_assert_uint_eq(ev.code, WS_CLOSE_PROTOCOL);

	/* Compressed text: its bytes are not UTF-8 checked by the parser. */
	ws_parser_init(&p, 1024);
	ws_parser_allow_rsv1(&p);
	ws_parser_feed(&p, c_text, sizeof(c_text), out, sizeof(out), &ev);
	ck_assert_int_eq(ev.type, WS_EV_DATA);
	ck_assert_int_eq(ev.compressed, 1);
	ck_assert_int_eq(ev.fin, 1);

	ws_parser_feed(&p, c_first, sizeof(c_first), out, sizeof(out), &ev);
	ck_assert_int_eq(ev.type, WS_EV_DATA);
	ck_assert_int_eq(ev.compressed, 1);
	ck_assert_int_eq(ev.fin, 0);
	ws_parser_feed(&p, p_cont, sizeof(p_cont), out, sizeof(out), &ev);
	ck_assert_int_eq(ev.type, WS_EV_DATA);
	ck_assert_int_eq(ev.compressed, 1);
	ck_assert_int_eq(ev.fin, 1);

	/* RFC 7692 6.1: not on continuations, not on control frames. */
	ws_parser_init(&p, 1024);
	ws_parser_allow_rsv1(&p);
	ws_parser_feed(&p, c_first, sizeof(c_first), out, sizeof(out), &ev);
	ws_parser_feed(&p, c_cont, sizeof(c_cont), out, sizeof(out), &ev);
	ck_assert_int_eq(ev.type, WS_EV_ERROR);
	ck_assert_uint_eq(ev.code, WS_CLOSE_PROTOCOL);
	ws_parser_init(&p, 1024);
	ws_parser_allow_rsv1(&p);
	ws_parser_feed(&p, c_ping, sizeof(c_ping), out, sizeof(out), &ev);
	ck_assert_int_eq(ev.type, WS_EV_ERROR);
	ws_parser_init(&p, 1024);
	ws_parser_allow_rsv1(&p);
	ws_parser_feed(&p, rsv2, sizeof(rsv2), out, sizeof(out), &ev);
	ck_assert_int_eq(ev.type, WS_EV_ERROR);
}
END_TEST

/* A compressed message may pass the limit on the wire by a little only. */
START_TEST(test_parser_compressed_limit)
{
	/* Announced lengths: 2049 fits (1024 + 128 + 1024), 3000 does not. */
	static const uint8_t ok[] = { 0xc2, 0xfe, 0x08, 0x01, 0, 0, 0, 0 };
	static const uint8_t big[] = { 0xc2, 0xfe, 0x0b, 0xb8, 0, 0, 0, 0 };
	static const uint8_t plain[] = { 0x82, 0xfe, 0x04, 0x01, 0, 0, 0, 0 };
	struct ws_parser	 p;
	struct ws_event		 ev;
	uint8_t			 out[64];

	ws_parser_init(&p, 1024);
	ws_parser_allow_rsv1(&p);
	ws_parser_feed(&p, ok, sizeof(ok), out, sizeof(out), &ev);
	ck_assert_int_ne(ev.type, WS_EV_ERROR);
	ws_parser_init(&p, 1024);
	ws_parser_allow_rsv1(&p);
	ws_parser_feed(&p, big, sizeof(big), out, sizeof(out), &ev);
	ck_assert_int_eq(ev.type, WS_EV_ERROR);
	ck_assert_uint_eq(ev.code, WS_CLOSE_TOO_BIG);
	ws_parser_init(&p, 1024);
	ws_parser_allow_rsv1(&p);
	ws_parser_feed(&p, plain, sizeof(plain), out, sizeof(out), &ev);
	ck_assert_int_eq(ev.type, WS_EV_ERROR);
	ck_assert_uint_eq(ev.code, WS_CLOSE_TOO_BIG);
}
END_TEST

/* The permessage-deflate suite. */
Suite *
pmd_suite(void)
{
	Suite	*s = suite_create("pmd");
	TCase	*tc;

	tc = tcase_create("negotiate");
	tcase_add_loop_test(tc, test_negotiate_value, 0, NELEM(neg_cases));
	tcase_add_loop_test(tc, test_negotiate_shared, 0, NELEM(shared_cases));
	tcase_add_test(tc, test_negotiate_params);
	tcase_add_test(tc, test_negotiate_request);
	suite_add_tcase(s, tc);

	tc = tcase_create("streams");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_roundtrip, 0, NELEM(rt_sizes));
	tcase_add_test(tc, test_inflate_limit);
	tcase_add_test(tc, test_inflate_errors);
	tcase_add_test(tc, test_inflate_window8);
	tcase_add_test(tc, test_deflate_context);
	tcase_add_test(tc, test_pooled_interleaved);
	suite_add_tcase(s, tc);

	tc = tcase_create("parser");
	tcase_add_test(tc, test_parser_rsv1);
	tcase_add_test(tc, test_parser_compressed_limit);
	suite_add_tcase(s, tc);
	return s;
}
