/* check_ws.c -- unit tests for the RFC 6455 handshake and frame codec. */
#include <sys/mman.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http.h"
#include "suites.h"
#include "utf8.h"
#include "ws.h"

#define FIN	0x80
#define TEXT	(FIN | WS_OP_TEXT)
#define BIN	(FIN | WS_OP_BINARY)
#define CONT	(FIN | WS_OP_CONT)
#define PING	(FIN | WS_OP_PING)
#define PONG	(FIN | WS_OP_PONG)
#define CLOSE	(FIN | WS_OP_CLOSE)

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/*
 * check's ck_assert_*() records its location through a pipe at every
 * call; the helpers that run millions of times test quietly instead.
 */
#define REQUIRE(cond) do {						\
	if (!(cond))							\
		ck_abort_msg("%s:%d: %s", __FILE__, __LINE__, #cond);	\
} while (0)

/* The masking key of the RFC 6455 5.7 examples. */
static const uint8_t tkey[4] = { 0x37, 0xfa, 0x21, 0x3d };

/* Aborts the test when an allocation fails. */
static void *
xrealloc(void *p, size_t n)
{
	p = realloc(p, n == 0 ? 1 : n);
	REQUIRE(p != NULL);
	return p;
}

/*
 * Growable byte buffers: the client byte stream a test builds, and the
 * transcript of what the parser reported.
 */
struct buf {
	uint8_t	*b;
	size_t	 len;
	size_t	 cap;
};

/* Appends n bytes. */
static void
buf_add(struct buf *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 64;
		b->b = xrealloc(b->b, b->cap);
	}
	if (n > 0)
		memcpy(b->b + b->len, p, n);
	b->len += n;
}

/* Appends a NUL-terminated string. */
static void
buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

/* Frees the buffer. */
static void
buf_free(struct buf *b)
{
	free(b->b);
	memset(b, 0, sizeof(*b));
}

/*
 * Appends a client frame: b0 carries FIN, RSV and opcode; the length is
 * encoded minimally; the payload is masked with tkey unless masked is 0.
 */
static void
st_frame(struct buf *st, uint8_t b0, int masked, const void *payload,
    uint64_t len)
{
	const uint8_t	*p = payload;
	uint8_t		 h[WS_HEADER_MAX], m = masked ? 0x80 : 0x00, c;
	size_t		 n = 0, i;
	uint64_t	 j;

	h[n++] = b0;
	if (len <= 125)
		h[n++] = (uint8_t)(m | len);
	else if (len <= 0xffff) {
		h[n++] = m | 126;
		h[n++] = (uint8_t)(len >> 8);
		h[n++] = (uint8_t)len;
	} else {
		h[n++] = m | 127;
		for (i = 0; i < 8; i++)
			h[n++] = (uint8_t)(len >> (56 - 8 * i));
	}
	if (masked) {
		memcpy(h + n, tkey, 4);
		n += 4;
	}
	buf_add(st, h, n);
	for (j = 0; j < len; j++) {
		c = p[j] ^ (masked ? tkey[j & 3] : 0);
		buf_add(st, &c, 1);
	}
}

/* Appends a masked client frame with a string payload. */
static void
st_add(struct buf *st, uint8_t b0, const char *s)
{
	st_frame(st, b0, 1, s, strlen(s));
}

/* Appends a masked close frame with code and reason. */
static void
st_close(struct buf *st, unsigned code, const char *reason)
{
	uint8_t	p[2 + 256];
	size_t	n = strlen(reason);

	ck_assert_uint_le(n, 256);
	p[0] = (uint8_t)(code >> 8);
	p[1] = (uint8_t)code;
	memcpy(p + 2, reason, n);
	st_frame(st, CLOSE, 1, p, n + 2);
}

/*
 * What the parser reported, as text: consecutive DATA pieces are merged
 * so that any split of the input must give the same transcript.
 *   T<>5:Hello;	text piece, '<' first, '>' fin, length and bytes
 *   B<3:abc;	binary piece that started the message
 *   PING 2:hi;  PONG 0:;  CLOSE 1000 2:ok;  ERROR 1002 unmasked frame;
 */
struct tx {
	struct buf	 s;		/* the transcript */
	struct buf	 msg;		/* DATA merged since the last flush */
	int		 pend;		/* msg holds a piece */
	int		 pend_first;
	int		 pend_fin;
	int		 open;		/* a message is open */
	int		 op;		/* its opcode */
	int		 failed;	/* an ERROR was reported */
	uint8_t		*out;		/* unmasking buffer, canary behind */
	size_t		 outcap;
	int		 inplace;	/* ws_parser_feed_inplace() */
	const uint8_t	*from, *to;	/* inplace: the bytes of one call */
};

/* tx_init()'s outcap for a parser that unmasks in place. */
#define TX_INPLACE	((size_t)0)

#define CANARY		16
#define CANARY_BYTE	0xa5

/* Starts a transcript whose parser unmasks into outcap bytes. */
static void
tx_init(struct tx *t, size_t outcap)
{
	memset(t, 0, sizeof(*t));
	t->inplace = outcap == TX_INPLACE;
	t->outcap = outcap;
	t->out = xrealloc(NULL, outcap + CANARY);
	memset(t->out, CANARY_BYTE, outcap + CANARY);
}

/* Frees the transcript. */
static void
tx_free(struct tx *t)
{
	buf_free(&t->s);
	buf_free(&t->msg);
	free(t->out);
}

/* Writes the merged DATA pieces into the transcript. */
static void
tx_flush(struct tx *t)
{
	char	h[64];

	if (!t->pend)
		return;
	snprintf(h, sizeof(h), "%c%s%s%zu:", t->op == WS_OP_TEXT ? 'T' : 'B',
	    t->pend_first ? "<" : "", t->pend_fin ? ">" : "", t->msg.len);
	buf_str(&t->s, h);
	buf_add(&t->s, t->msg.b, t->msg.len);
	buf_str(&t->s, ";");
	t->msg.len = 0;
	t->pend = t->pend_first = t->pend_fin = 0;
}

/* Records one event, checking the invariants every event must keep. */
static void
tx_event(struct tx *t, const struct ws_event *ev)
{
	char	h[128];
	size_t	i;

	for (i = 0; i < CANARY; i++)
		REQUIRE(t->out[t->outcap + i] == CANARY_BYTE);
	switch (ev->type) {
	case WS_EV_DATA:
		REQUIRE(ev->opcode == WS_OP_TEXT ||
		    ev->opcode == WS_OP_BINARY);
		if (t->inplace)
			/* The piece is the last bytes the call consumed. */
			REQUIRE(ev->data >= t->from &&
			    ev->data + ev->len == t->to);
		else {
			REQUIRE(ev->len <= t->outcap);
			if (ev->len > 0)
				REQUIRE(ev->data == t->out);
		}
		if (!t->open) {
			/* The first piece of a message says so. */
			REQUIRE(ev->first == 1);
			t->open = 1;
			t->op = ev->opcode;
		} else {
			REQUIRE(ev->first == 0);
			REQUIRE(ev->opcode == t->op);
		}
		if (!t->pend) {
			t->pend = 1;
			t->pend_first = ev->first;
		}
		buf_add(&t->msg, ev->data, ev->len);
		if (ev->fin) {
			t->pend_fin = 1;
			tx_flush(t);
			t->open = 0;
		}
		return;
	case WS_EV_PING:
	case WS_EV_PONG:
		REQUIRE(ev->len <= WS_CONTROL_MAX);
		tx_flush(t);
		snprintf(h, sizeof(h), "%s %zu:",
		    ev->type == WS_EV_PING ? "PING" : "PONG", ev->len);
		buf_str(&t->s, h);
		buf_add(&t->s, ev->data, ev->len);
		buf_str(&t->s, ";");
		return;
	case WS_EV_CLOSE:
		REQUIRE(ev->len <= WS_CONTROL_MAX - 2);
		tx_flush(t);
		snprintf(h, sizeof(h), "CLOSE %u %zu:", ev->code, ev->len);
		buf_str(&t->s, h);
		buf_add(&t->s, ev->data, ev->len);
		buf_str(&t->s, ";");
		return;
	case WS_EV_ERROR:
		/* Pieces before an error depend on the split: drop them. */
		REQUIRE(ev->reason != NULL);
		t->msg.len = 0;
		t->pend = 0;
		snprintf(h, sizeof(h), "ERROR %u %s;", ev->code, ev->reason);
		buf_str(&t->s, h);
		t->failed = 1;
		return;
	case WS_EV_NONE:
		break;
	}
	ck_abort_msg("unexpected event %d", (int)ev->type);
}

/*
 * One parser call: into t's out buffer, or in place in w, the writable
 * copy of in.
 */
static size_t
tx_call(struct tx *t, struct ws_parser *p, const uint8_t *in, uint8_t *w,
    size_t off, size_t len, struct ws_event *ev)
{
	size_t	n;

	if (!t->inplace)
		return ws_parser_feed(p, in + off, len - off, t->out,
		    t->outcap, ev);
	n = ws_parser_feed_inplace(p, w + off, len - off, ev);
	t->from = w + off;
	t->to = w + off + n;
	return n;
}

/* Feeds one chunk until the parser has consumed it or failed. */
static void
tx_feed(struct tx *t, struct ws_parser *p, const uint8_t *in, size_t len)
{
	struct ws_event	ev;
	size_t		off = 0, n;
	uint8_t		*w = NULL;
	int		idle = 0;

	if (t->inplace) {
		/* Exactly len bytes: the sanitizer sees an over-read. */
		w = xrealloc(NULL, len);
		memcpy(w, in, len);
	}
	while (!t->failed) {
		n = tx_call(t, p, in, w, off, len, &ev);
		REQUIRE(n <= len - off);
		off += n;
		if (ev.type == WS_EV_NONE) {
			/* NONE means everything offered was consumed. */
			REQUIRE(off == len);
			break;
		}
		/* An event without progress cannot repeat forever. */
		idle = n == 0 ? idle + 1 : 0;
		REQUIRE(idle < 3);
		tx_event(t, &ev);
		if (ev.type == WS_EV_ERROR) {
			/* Sticky: the same error, nothing consumed. */
			const char	*reason = ev.reason;
			unsigned	 code = ev.code;

			n = tx_call(t, p, in, w, off, len, &ev);
			REQUIRE(n == 0);
			REQUIRE(ev.type == WS_EV_ERROR);
			REQUIRE(ev.code == code);
			REQUIRE(ev.reason == reason);
		}
	}
	free(w);
}

/* Ends the transcript: an open message's bytes so far are part of it. */
static void
tx_finish(struct tx *t)
{
	if (!t->failed)
		tx_flush(t);
}

/* Prints at most 300 bytes of s readably into out, for failure messages. */
static const char *
tx_show(const uint8_t *s, size_t len, char *out, size_t outlen)
{
	size_t	i, o = 0;

	for (i = 0; i < len && i < 300 && o + 5 < outlen; i++) {
		if (s[i] >= 0x20 && s[i] < 0x7f)
			out[o++] = (char)s[i];
		else
			o += (size_t)snprintf(out + o, outlen - o, "\\x%02x",
			    s[i]);
	}
	out[o] = '\0';
	return out;
}

/* Checks a transcript against the expected one. */
static void
tx_expect(const struct tx *t, const void *want, size_t wantlen,
    const char *what)
{
	char	g[1600], w[1600];

	if (t->s.len == wantlen && memcmp(t->s.b, want, wantlen) == 0)
		return;
	ck_abort_msg("%s:\n got  %s\n want %s", what,
	    tx_show(t->s.b, t->s.len, g, sizeof(g)),
	    tx_show(want, wantlen, w, sizeof(w)));
}

/*
 * Input chunks are copied so that they end right before a PROT_NONE page,
 * and the parser sees them through a read-only view: an over-read or a
 * write to the input crashes the test. Two views of one temporary file,
 * read-write and read-only, spare a pair of mprotect() calls per chunk.
 */
struct guard {
	uint8_t	*rw;		/* where the test writes */
	uint8_t	*ro;		/* what the parser reads, guard page after */
	size_t	 size;
	size_t	 page;
};

/* Maps room for need bytes followed by a guard page. */
static void
guard_init(struct guard *g, size_t need)
{
	FILE	*f;
	void	*ro;

	g->page = (size_t)sysconf(_SC_PAGESIZE);
	g->size = (need + g->page - 1) / g->page * g->page;
	if (g->size == 0)
		g->size = g->page;
	ck_assert_ptr_nonnull(f = tmpfile());
	ck_assert_int_eq(ftruncate(fileno(f), (off_t)g->size), 0);
	g->rw = mmap(NULL, g->size, PROT_READ | PROT_WRITE, MAP_SHARED,
	    fileno(f), 0);
	ck_assert(g->rw != MAP_FAILED);
	/* Reserve the view and its guard page, then map the file over. */
	ro = mmap(NULL, g->size + g->page, PROT_NONE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert(ro != MAP_FAILED);
	g->ro = mmap(ro, g->size, PROT_READ, MAP_SHARED | MAP_FIXED,
	    fileno(f), 0);
	ck_assert(g->ro == ro);
	fclose(f);
}

/* Copies n bytes to end at the guard page; returns the read-only view. */
static const uint8_t *
guard_put(struct guard *g, const uint8_t *src, size_t n)
{
	REQUIRE(n <= g->size);
	memcpy(g->rw + g->size - n, src, n);
	return g->ro + g->size - n;
}

/* Unmaps the guarded region. */
static void
guard_free(struct guard *g)
{
	munmap(g->rw, g->size);
	munmap(g->ro, g->size + g->page);
}

/* Parses in as chunks ending at each cut and then at len. */
static void
tx_run(struct tx *t, struct guard *g, uint64_t max, const uint8_t *in,
    size_t len, const size_t *cuts, size_t ncuts)
{
	struct ws_parser	p;
	size_t			i, from = 0, to;

	ws_parser_init(&p, max);
	for (i = 0; i <= ncuts && !t->failed; i++) {
		to = i < ncuts ? cuts[i] : len;
		if (to > from)
			tx_feed(t, &p, guard_put(g, in + from, to - from),
			    to - from);
		from = to;
	}
	tx_finish(t);
}

/* One run with the given cuts and out buffer, compared to want. */
static void
tx_check(struct guard *g, uint64_t max, const uint8_t *in, size_t len,
    const size_t *cuts, size_t ncuts, size_t outcap, const void *want,
    size_t wantlen)
{
	struct tx	t;
	char		what[128];

	tx_init(&t, outcap);
	tx_run(&t, g, max, in, len, cuts, ncuts);
	snprintf(what, sizeof(what), "len %zu, %zu cuts (first %zu), "
	    "outcap %zu", len, ncuts, ncuts > 0 ? cuts[0] : 0, outcap);
	tx_expect(&t, want, wantlen, what);
	tx_free(&t);
}

/*
 * Parses in whole, byte by byte, split in two at every point and, for
 * short inputs, in three at every pair of points, with roomy and tiny out
 * buffers and unmasked in place: every way must give the transcript want.
 */
static void
check_splits_n(uint64_t max, const uint8_t *in, size_t len,
    const void *want, size_t wantlen)
{
	struct guard	 g;
	size_t		*bytes, cuts[2], i, j;

	guard_init(&g, len);
	tx_check(&g, max, in, len, NULL, 0, 4096, want, wantlen);
	tx_check(&g, max, in, len, NULL, 0, 1, want, wantlen);
	tx_check(&g, max, in, len, NULL, 0, 3, want, wantlen);
	tx_check(&g, max, in, len, NULL, 0, TX_INPLACE, want, wantlen);

	bytes = xrealloc(NULL, (len + 1) * sizeof(*bytes));
	for (i = 1; i < len; i++)
		bytes[i - 1] = i;
	if (len > 1) {
		tx_check(&g, max, in, len, bytes, len - 1, 4096, want,
		    wantlen);
		tx_check(&g, max, in, len, bytes, len - 1, 1, want, wantlen);
		tx_check(&g, max, in, len, bytes, len - 1, TX_INPLACE, want,
		    wantlen);
	}
	free(bytes);

	for (i = 1; i < len; i++) {
		cuts[0] = i;
		tx_check(&g, max, in, len, cuts, 1, 4096, want, wantlen);
		tx_check(&g, max, in, len, cuts, 1, 2, want, wantlen);
		tx_check(&g, max, in, len, cuts, 1, TX_INPLACE, want,
		    wantlen);
	}
	if (len <= 96) {
		for (i = 1; i < len; i++) {
			for (j = i + 1; j < len; j++) {
				cuts[0] = i;
				cuts[1] = j;
				tx_check(&g, max, in, len, cuts, 2, 4096, want,
				    wantlen);
				tx_check(&g, max, in, len, cuts, 2, TX_INPLACE,
				    want, wantlen);
			}
		}
	}
	guard_free(&g);
}

/* check_splits_n() for a NUL-terminated expected transcript. */
static void
check_splits(uint64_t max, const struct buf *st, const char *want)
{
	check_splits_n(max, st->b, st->len, want, strlen(want));
}

/* Parses st whole and returns the transcript (caller frees). */
static void
parse_whole(uint64_t max, const struct buf *st, size_t outcap, struct tx *t)
{
	struct guard	g;

	guard_init(&g, st->len);
	tx_init(t, outcap);
	tx_run(t, &g, max, st->b, st->len, NULL, 0);
	guard_free(&g);
}

/*
 * The accept key.
 */

START_TEST(test_accept_rfc)
{
	char	out[WS_ACCEPT_LEN];

	/* RFC 6455 1.3. */
	ck_assert_int_eq(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", 24, out),
	    0);
	ck_assert_str_eq(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	ck_assert_uint_eq(strlen(out), WS_ACCEPT_LEN - 1);
	/* The example of the Wikipedia article on WebSocket. */
	ck_assert_int_eq(ws_accept_key("x3JJHMbDL1EzLkh9GBhXDw==", 24, out),
	    0);
	ck_assert_str_eq(out, "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
	/* Every byte 0, every byte 0xff (alphabet edges). */
	ck_assert_int_eq(ws_accept_key("AAAAAAAAAAAAAAAAAAAAAA==", 24, out),
	    0);
	ck_assert_str_eq(out, "ICX+Yqv66kxgM0FcWaLWlFLwTAI=");
	ck_assert_int_eq(ws_accept_key("/////////////////////w==", 24, out),
	    0);
	ck_assert_str_eq(out, "XXpj4jYzLM2yUE0C7TIgMwTQh2g=");
	/* Only len bytes count. */
	ck_assert_int_eq(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==junk", 24,
	    out), 0);
	ck_assert_str_eq(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}
END_TEST

static const struct {
	const char	*key;
	size_t		 len;
} bad_keys[] = {
#define K(s)	{ s, sizeof(s) - 1 }
	K(""),
	K("dGhlIHNhbXBsZSBub25jZQ="),		/* 23 characters */
	K("dGhlIHNhbXBsZSBub25jZQ==="),		/* 25 characters */
	K("dGhlIHNhbXBsZSBub25jZQ==AAAA"),	/* 28: 19 bytes */
	K("AAAAAAAAAAAAAAAAAAAA"),		/* 15 bytes */
	K("AAAAAAAAAAAAAAAAAAAAAAA="),		/* 17 bytes */
	K("AAAAAAAAAAAAAAAAAAAAAAAA"),		/* 18 bytes */
	K("AAAAAAAAAAAAAAAAAAAAAAAAAAAA"),	/* 21 bytes */
	K("dGhlIHNhbXBsZSBub25jZQ"),		/* no padding */
	K("dGhlIHNhbXBsZSBub25jZ-=="),		/* base64url alphabet */
	K("dGhlIHNhbXBsZSBub25jZ_=="),
	K("dGhlIHNhbXBsZSBu b25jZ=="),		/* space inside */
	K("dGhlIHNhbXBsZSBub25j=Q=="),		/* padding inside */
	K("dGhlIHNhbXBsZSBub25jZQ=A"),
	K("dGhlIHNhbXBsZSBub25jZQ\0\0"),	/* NUL for padding */
	K("dGhlIHNhbXBsZSBub2\0jZQ=="),		/* NUL inside */
	K("dGhlIHNhbXBsZSBub25jZ!=="),
	K("dGhlIHNhbXBsZSBub25j\xc3\xa9=="),	/* 8-bit bytes */
	K("========================"),
#undef K
};

START_TEST(test_accept_bad)
{
	char	out[WS_ACCEPT_LEN];

	ck_assert_int_eq(ws_accept_key(bad_keys[_i].key, bad_keys[_i].len,
	    out), -1);
}
END_TEST

/*
 * The opening handshake, with requests built by hand.
 */

/* Sets header name to value (NULL removes it); adds it when missing. */
static void
hs_set(struct http_request *r, const char *name, const char *value)
{
	size_t	i;

	for (i = 0; i < r->nheaders; i++) {
		if (strcmp(r->headers[i].name, name) != 0)
			continue;
		if (value == NULL) {
			memmove(&r->headers[i], &r->headers[i + 1],
			    (r->nheaders - i - 1) * sizeof(r->headers[0]));
			r->nheaders--;
			return;
		}
		r->headers[i].value = value;
		r->headers[i].value_len = strlen(value);
		return;
	}
	if (value == NULL)
		return;
	ck_assert_uint_lt(r->nheaders, HTTP_MAX_HEADERS);
	r->headers[r->nheaders].name = name;
	r->headers[r->nheaders].name_len = strlen(name);
	r->headers[r->nheaders].value = value;
	r->headers[r->nheaders].value_len = strlen(value);
	r->nheaders++;
}

/* Adds a header even if one of that name exists. */
static void
hs_add(struct http_request *r, const char *name, const char *value)
{
	ck_assert_uint_lt(r->nheaders, HTTP_MAX_HEADERS);
	r->headers[r->nheaders].name = name;
	r->headers[r->nheaders].name_len = strlen(name);
	r->headers[r->nheaders].value = value;
	r->headers[r->nheaders].value_len = strlen(value);
	r->nheaders++;
}

/* Sets the method. */
static void
hs_method(struct http_request *r, const char *m)
{
	r->method = m;
	r->method_len = strlen(m);
}

/* The RFC 6455 1.2 example request. */
static void
hs_init(struct http_request *r)
{
	memset(r, 0, sizeof(*r));
	hs_method(r, "GET");
	r->target = r->path = "/chat";
	r->target_len = r->path_len = 5;
	r->minor_version = 1;
	hs_set(r, "Host", "server.example.com");
	hs_set(r, "Upgrade", "websocket");
	hs_set(r, "Connection", "Upgrade");
	hs_set(r, "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");
	hs_set(r, "Origin", "http://example.com");
	hs_set(r, "Sec-WebSocket-Protocol", "chat, superchat");
	hs_set(r, "Sec-WebSocket-Version", "13");
}

/* Runs the check; on failure the reason must mention mention. */
static int
hs_check(const struct http_request *r, const char *mention)
{
	char		 accept[WS_ACCEPT_LEN];
	const char	*reason = NULL;
	int		 status;

	status = ws_handshake_check(r, accept, &reason);
	if (status == 0) {
		ck_assert_str_eq(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
		return 0;
	}
	ck_assert_ptr_nonnull(reason);
	ck_assert_msg(strstr(reason, mention) != NULL,
	    "reason \"%s\" does not mention %s", reason, mention);
	return status;
}

START_TEST(test_handshake_ok)
{
	struct http_request	r;

	hs_init(&r);
	ck_assert_int_eq(hs_check(&r, ""), 0);
	/* Tokens are case-insensitive and may sit in a list. */
	hs_set(&r, "Upgrade", "WebSocket");
	hs_set(&r, "Connection", "keep-alive, upgrade");
	ck_assert_int_eq(hs_check(&r, ""), 0);
	hs_set(&r, "Upgrade", "foo/2, websocket");
	hs_set(&r, "Connection", "UPGRADE");
	ck_assert_int_eq(hs_check(&r, ""), 0);
	/* Later HTTP/1.x versions are fine; optional headers are. */
	r.minor_version = 2;
	hs_set(&r, "Origin", NULL);
	hs_set(&r, "Sec-WebSocket-Protocol", NULL);
	ck_assert_int_eq(hs_check(&r, ""), 0);
}
END_TEST

START_TEST(test_handshake_method)
{
	struct http_request	r;

	hs_init(&r);
	hs_method(&r, "POST");
	ck_assert_int_eq(hs_check(&r, "GET"), 405);
	hs_method(&r, "HEAD");
	ck_assert_int_eq(hs_check(&r, "GET"), 405);
	/* Methods are case-sensitive. */
	hs_method(&r, "get");
	ck_assert_int_eq(hs_check(&r, "GET"), 405);
	hs_method(&r, "GETS");
	ck_assert_int_eq(hs_check(&r, "GET"), 405);
}
END_TEST

START_TEST(test_handshake_version)
{
	struct http_request	r;

	hs_init(&r);
	r.minor_version = 0;
	ck_assert_int_eq(hs_check(&r, "HTTP/1.1"), 400);
}
END_TEST

START_TEST(test_handshake_host)
{
	struct http_request	r;

	hs_init(&r);
	hs_set(&r, "Host", NULL);
	ck_assert_int_eq(hs_check(&r, "Host"), 400);
}
END_TEST

START_TEST(test_handshake_upgrade)
{
	struct http_request	r;

	hs_init(&r);
	hs_set(&r, "Upgrade", NULL);
	ck_assert_int_eq(hs_check(&r, "Upgrade"), 400);
	hs_set(&r, "Upgrade", "h2c");
	ck_assert_int_eq(hs_check(&r, "Upgrade"), 400);
	hs_set(&r, "Upgrade", "websockets");
	ck_assert_int_eq(hs_check(&r, "Upgrade"), 400);
	hs_set(&r, "Upgrade", "");
	ck_assert_int_eq(hs_check(&r, "Upgrade"), 400);
}
END_TEST

START_TEST(test_handshake_connection)
{
	struct http_request	r;

	hs_init(&r);
	hs_set(&r, "Connection", NULL);
	ck_assert_int_eq(hs_check(&r, "Connection"), 400);
	hs_set(&r, "Connection", "keep-alive");
	ck_assert_int_eq(hs_check(&r, "Connection"), 400);
	hs_set(&r, "Connection", "upgrades");
	ck_assert_int_eq(hs_check(&r, "Connection"), 400);
}
END_TEST

START_TEST(test_handshake_key)
{
	struct http_request	r;

	hs_init(&r);
	hs_set(&r, "Sec-WebSocket-Key", NULL);
	ck_assert_int_eq(hs_check(&r, "Sec-WebSocket-Key"), 400);
	hs_set(&r, "Sec-WebSocket-Key", "");
	ck_assert_int_eq(hs_check(&r, "Sec-WebSocket-Key"), 400);
	hs_set(&r, "Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAA");
	ck_assert_int_eq(hs_check(&r, "Sec-WebSocket-Key"), 400);
	hs_set(&r, "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZ-==");
	ck_assert_int_eq(hs_check(&r, "Sec-WebSocket-Key"), 400);
	/* RFC 6455 11.3.1: the key must not appear twice. */
	hs_set(&r, "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");
	hs_add(&r, "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");
	ck_assert_int_eq(hs_check(&r, "Sec-WebSocket-Key"), 400);
}
END_TEST

START_TEST(test_handshake_ws_version)
{
	struct http_request	r;
	static const char	*const bad[] = {
		"", "8", "12", "14", "1", "130", "013", "13.0", "13, 8"
	};
	size_t			 i;

	hs_init(&r);
	hs_set(&r, "Sec-WebSocket-Version", NULL);
	ck_assert_int_eq(hs_check(&r, "Sec-WebSocket-Version"), 426);
	for (i = 0; i < NELEM(bad); i++) {
		hs_set(&r, "Sec-WebSocket-Version", bad[i]);
		ck_assert_int_eq(hs_check(&r, "Sec-WebSocket-Version"), 426);
	}
}
END_TEST

/* The first failing check in RFC order decides the answer. */
START_TEST(test_handshake_order)
{
	struct http_request	r;

	memset(&r, 0, sizeof(r));
	hs_method(&r, "POST");
	ck_assert_int_eq(hs_check(&r, "GET"), 405);
	hs_method(&r, "GET");
	ck_assert_int_eq(hs_check(&r, "HTTP/1.1"), 400);
	r.minor_version = 1;
	ck_assert_int_eq(hs_check(&r, "Host"), 400);
	hs_set(&r, "Host", "h");
	ck_assert_int_eq(hs_check(&r, "Upgrade"), 400);
	hs_set(&r, "Upgrade", "websocket");
	ck_assert_int_eq(hs_check(&r, "Connection"), 400);
	hs_set(&r, "Connection", "Upgrade");
	ck_assert_int_eq(hs_check(&r, "Sec-WebSocket-Version"), 426);
	hs_set(&r, "Sec-WebSocket-Version", "13");
	ck_assert_int_eq(hs_check(&r, "Sec-WebSocket-Key"), 400);
	hs_set(&r, "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");
	ck_assert_int_eq(hs_check(&r, ""), 0);
	/* An unsupported version is answered before the key is looked at. */
	hs_set(&r, "Sec-WebSocket-Key", "bad");
	hs_set(&r, "Sec-WebSocket-Version", "8");
	ck_assert_int_eq(hs_check(&r, "Sec-WebSocket-Version"), 426);
	/* The version appears once (RFC 6455 4.1). */
	hs_set(&r, "Sec-WebSocket-Version", "13");
	hs_add(&r, "Sec-WebSocket-Version", "13");
	ck_assert_int_eq(hs_check(&r, "Sec-WebSocket-Version"), 426);
}
END_TEST

/*
 * Encoding, close payloads, close codes, unmasking.
 */

START_TEST(test_encode_lengths)
{
	static const struct {
		uint64_t	len;
		size_t		hlen;
		uint8_t		b[10];
	} v[] = {
		{ 0, 2, { 0x82, 0 } },
		{ 5, 2, { 0x82, 5 } },
		{ 125, 2, { 0x82, 125 } },
		{ 126, 4, { 0x82, 126, 0x00, 126 } },
		{ 256, 4, { 0x82, 126, 0x01, 0x00 } },	/* RFC 6455 5.7 */
		{ 65535, 4, { 0x82, 126, 0xff, 0xff } },
		{ 65536, 10, { 0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0 } },
		{ 0x100000005ULL, 10, { 0x82, 127, 0, 0, 0, 1, 0, 0, 0, 5 } },
		{ 0x7fffffffffffffffULL, 10,
		    { 0x82, 127, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		      0xff } },
	};
	uint8_t	out[10];
	size_t	i;

	for (i = 0; i < NELEM(v); i++) {
		memset(out, 0xee, sizeof(out));
		ck_assert_uint_eq(ws_frame_header_encode(out, 1, WS_OP_BINARY,
		    v[i].len), v[i].hlen);
		ck_assert_mem_eq(out, v[i].b, v[i].hlen);
		/* Server frames are never masked. */
		ck_assert_uint_eq(out[1] & 0x80, 0);
	}
}
END_TEST

START_TEST(test_encode_bits)
{
	uint8_t	out[10];

	/* RFC 6455 5.7: "Hello", ping and pong, and the fragments. */
	ck_assert_uint_eq(ws_frame_header_encode(out, 1, WS_OP_TEXT, 5), 2);
	ck_assert_mem_eq(out, "\x81\x05", 2);
	ck_assert_uint_eq(ws_frame_header_encode(out, 0, WS_OP_TEXT, 3), 2);
	ck_assert_mem_eq(out, "\x01\x03", 2);
	ck_assert_uint_eq(ws_frame_header_encode(out, 1, WS_OP_CONT, 2), 2);
	ck_assert_mem_eq(out, "\x80\x02", 2);
	ck_assert_uint_eq(ws_frame_header_encode(out, 1, WS_OP_PING, 5), 2);
	ck_assert_mem_eq(out, "\x89\x05", 2);
	ck_assert_uint_eq(ws_frame_header_encode(out, 1, WS_OP_PONG, 5), 2);
	ck_assert_mem_eq(out, "\x8a\x05", 2);
	ck_assert_uint_eq(ws_frame_header_encode(out, 1, WS_OP_CLOSE, 0), 2);
	ck_assert_mem_eq(out, "\x88\x00", 2);
	/* fin is a boolean; no RSV bits ever. */
	ck_assert_uint_eq(ws_frame_header_encode(out, 2, WS_OP_BINARY, 0), 2);
	ck_assert_uint_eq(out[0], 0x82);
}
END_TEST

START_TEST(test_close_payload)
{
	uint8_t	out[WS_CONTROL_MAX];

	ck_assert_uint_eq(ws_close_payload(out, WS_CLOSE_NO_STATUS, "x"), 0);
	ck_assert_uint_eq(ws_close_payload(out, WS_CLOSE_NO_STATUS, NULL), 0);
	ck_assert_uint_eq(ws_close_payload(out, 1000, NULL), 2);
	ck_assert_mem_eq(out, "\x03\xe8", 2);
	ck_assert_uint_eq(ws_close_payload(out, 1000, ""), 2);
	ck_assert_uint_eq(ws_close_payload(out, 1009, "too big"), 9);
	ck_assert_mem_eq(out, "\x03\xf1too big", 9);
	ck_assert_uint_eq(ws_close_payload(out, 4999, "x"), 3);
	ck_assert_mem_eq(out, "\x13\x87x", 3);
}
END_TEST

/* Reasons of 'a' * pad + tail, the length they must be cut to. */
static const struct {
	size_t		 pad;
	const char	*tail;
	size_t		 keep;		/* reason bytes kept */
} close_cuts[] = {
	{ 123, "", 123 },
	{ 124, "", 123 },
	{ 200, "", 123 },
	{ 121, "\xc3\xa9", 123 },		/* fits exactly */
	{ 122, "\xc3\xa9", 122 },		/* é would be split */
	{ 123, "\xc3\xa9", 123 },		/* é starts after the cut */
	{ 120, "\xe2\x82\xac", 123 },		/* fits exactly */
	{ 121, "\xe2\x82\xac", 121 },		/* cut after 2 bytes of € */
	{ 122, "\xe2\x82\xac", 122 },		/* cut after 1 byte of € */
	{ 119, "\xf0\x9f\x98\x80", 123 },	/* fits exactly */
	{ 120, "\xf0\x9f\x98\x80", 120 },
	{ 121, "\xf0\x9f\x98\x80", 121 },
	{ 122, "\xf0\x9f\x98\x80", 122 },
	{ 0, "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
	    "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
	    "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
	    "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
	    "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
	    "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
	    "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
	    "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
	    "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac",
	    123 },				/* 41 euros fit, 45 given */
};

START_TEST(test_close_payload_cut)
{
	char			 reason[512];
	uint8_t			 out[WS_CONTROL_MAX + 16];
	struct buf		 st = { 0 };
	struct tx		 t;
	struct ws_event		 ev;
	struct ws_parser	 p;
	size_t			 n;

	memset(reason, 'a', close_cuts[_i].pad);
	strcpy(reason + close_cuts[_i].pad, close_cuts[_i].tail);
	memset(out, 0xee, sizeof(out));
	n = ws_close_payload(out, 1001, reason);
	ck_assert_uint_eq(n, 2 + close_cuts[_i].keep);
	ck_assert_uint_le(n, WS_CONTROL_MAX);
	ck_assert_uint_eq(out[WS_CONTROL_MAX], 0xee);
	ck_assert_mem_eq(out, "\x03\xe9", 2);
	ck_assert_mem_eq(out + 2, reason, close_cuts[_i].keep);
	ck_assert_int_eq(utf8_valid(out + 2, n - 2), 1);

	/* What we send, our own parser accepts as a client's close. */
	st_frame(&st, CLOSE, 1, out, n);
	parse_whole(0, &st, 64, &t);
	ck_assert_int_eq(t.failed, 0);
	ws_parser_init(&p, 0);
	ck_assert_uint_eq(ws_parser_feed(&p, st.b, st.len, NULL, 0, &ev),
	    st.len);
	ck_assert_int_eq(ev.type, WS_EV_CLOSE);
	ck_assert_uint_eq(ev.code, 1001);
	ck_assert_uint_eq(ev.len, n - 2);
	ck_assert_mem_eq(ev.data, reason, n - 2);
	ws_parser_free(&p);
	tx_free(&t);
	buf_free(&st);
}
END_TEST

START_TEST(test_close_code_valid)
{
	static const struct {
		unsigned	code;
		int		valid;
	} v[] = {
		{ 0, 0 }, { 999, 0 }, { 1000, 1 }, { 1001, 1 }, { 1002, 1 },
		{ 1003, 1 }, { 1004, 0 }, { 1005, 0 }, { 1006, 0 },
		{ 1007, 1 }, { 1008, 1 }, { 1009, 1 }, { 1010, 1 },
		{ 1011, 1 }, { 1012, 1 }, { 1013, 1 }, { 1014, 1 },
		{ 1015, 0 }, { 1016, 0 }, { 1100, 0 }, { 2000, 0 },
		{ 2999, 0 }, { 3000, 1 }, { 3999, 1 }, { 4000, 1 },
		{ 4999, 1 }, { 5000, 0 }, { 65535, 0 }, { 65536 + 1000, 0 },
	};
	size_t	i;

	for (i = 0; i < NELEM(v); i++)
		ck_assert_msg(ws_close_code_valid(v[i].code) == v[i].valid,
		    "code %u", v[i].code);
}
END_TEST

START_TEST(test_unmask)
{
	/* RFC 6455 5.7: a masked "Hello". */
	static const uint8_t	 masked[] = {
		0x7f, 0x9f, 0x4d, 0x51, 0x58
	};
	uint8_t			 src[64], whole[64], piece[64];
	size_t			 i, j;

	ws_unmask(whole, masked, 5, tkey, 0);
	ck_assert_mem_eq(whole, "Hello", 5);
	/* In place. */
	memcpy(piece, masked, 5);
	ws_unmask(piece, piece, 5, tkey, 0);
	ck_assert_mem_eq(piece, "Hello", 5);

	/* In pieces at every split: the offset carries the key phase. */
	for (i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i * 7 + 3);
	ws_unmask(whole, src, sizeof(src), tkey, 0);
	for (i = 0; i <= sizeof(src); i++) {
		for (j = i; j <= sizeof(src); j++) {
			ws_unmask(piece, src, i, tkey, 0);
			ws_unmask(piece + i, src + i, j - i, tkey, i);
			ws_unmask(piece + j, src + j, sizeof(src) - j, tkey, j);
			ck_assert_mem_eq(piece, whole, sizeof(src));
		}
	}
	/* Offsets beyond 32 bits. */
	ws_unmask(piece, src, 4, tkey, 0x100000002ULL);
	ck_assert_uint_eq(piece[0], src[0] ^ tkey[2]);
	ck_assert_uint_eq(piece[1], src[1] ^ tkey[3]);
	ck_assert_uint_eq(piece[2], src[2] ^ tkey[0]);
}
END_TEST

/*
 * The parser: RFC 6455 5.7 examples.
 */

START_TEST(test_rfc_hello_masked)
{
	static const uint8_t	hello[] = {
		0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51,
		0x58
	};

	check_splits_n(0, hello, sizeof(hello), "T<>5:Hello;", 11);
}
END_TEST

START_TEST(test_rfc_pong_masked)
{
	static const uint8_t	pong[] = {
		0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51,
		0x58
	};

	check_splits_n(0, pong, sizeof(pong), "PONG 5:Hello;", 13);
}
END_TEST

/* The unmasked examples are what a server must refuse (RFC 6455 5.1). */
START_TEST(test_rfc_unmasked)
{
	static const char	*const ex[] = {
		"\x81\x05" "Hello",
		"\x01\x03" "Hel" "\x80\x02" "lo",
		"\x89\x05" "Hello",
	};
	struct buf		 st = { 0 };
	uint8_t			 big[65536];
	size_t			 i;

	for (i = 0; i < NELEM(ex); i++)
		check_splits_n(0, (const uint8_t *)ex[i], strlen(ex[i]),
		    "ERROR 1002 unmasked frame;", 26);
	memset(big, 'x', sizeof(big));
	st_frame(&st, BIN, 0, big, 256);
	check_splits_n(0, st.b, 4 + 10, "ERROR 1002 unmasked frame;", 26);
	st.len = 0;
	st_frame(&st, BIN, 0, big, 65536);
	check_splits_n(0, st.b, 10 + 10, "ERROR 1002 unmasked frame;", 26);
	buf_free(&st);
}
END_TEST

/* The examples above, masked as a client must send them. */
START_TEST(test_rfc_masked_versions)
{
	struct buf	st = { 0 };

	st_add(&st, WS_OP_TEXT, "Hel");
	st_add(&st, CONT, "lo");
	check_splits(0, &st, "T<>5:Hello;");
	st.len = 0;
	st_add(&st, PING, "Hello");
	check_splits(0, &st, "PING 5:Hello;");
	buf_free(&st);
}
END_TEST

/* Builds the expected transcript of one binary message. */
static void
want_binary(struct buf *w, const uint8_t *p, size_t len)
{
	char	h[64];

	snprintf(h, sizeof(h), "B<>%zu:", len);
	buf_str(w, h);
	buf_add(w, p, len);
	buf_str(w, ";");
}

/* 7-, 16- and 64-bit lengths, each at its edges. */
START_TEST(test_lengths)
{
	static const size_t	 lens[] = { 0, 1, 125, 126, 127, 256, 1000,
	    65535 };
	struct buf		 st = { 0 }, w = { 0 };
	uint8_t			*p;
	size_t			 i, j;

	p = xrealloc(NULL, 65536);
	for (i = 0; i < NELEM(lens); i++) {
		for (j = 0; j < lens[i]; j++)
			p[j] = (uint8_t)(j * 31 + i);
		st.len = w.len = 0;
		st_frame(&st, BIN, 1, p, lens[i]);
		want_binary(&w, p, lens[i]);
		if (lens[i] <= 256)
			check_splits_n(0, st.b, st.len, w.b, w.len);
		else {
			struct tx	t;

			parse_whole(0, &st, 4096, &t);
			tx_expect(&t, w.b, w.len, "whole");
			tx_free(&t);
		}
	}
	free(p);
	buf_free(&st);
	buf_free(&w);
}
END_TEST

/* RFC 6455 5.7: 64 KiB in one frame (64-bit length), masked. */
START_TEST(test_length_64bit)
{
	struct guard	 g;
	struct buf	 st = { 0 }, w = { 0 };
	uint8_t		*p;
	size_t		*bytes, cut, i, n = 65536;
	static const size_t outcaps[] = { 1, 1000, 4096, 65536, 70000 };

	p = xrealloc(NULL, n);
	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(i ^ (i >> 8));
	st_frame(&st, BIN, 1, p, n);
	ck_assert_uint_eq(st.len, n + 14);
	ck_assert_mem_eq(st.b, "\x82\xff\0\0\0\0\0\x01\0\0", 10);
	want_binary(&w, p, n);

	guard_init(&g, st.len);
	for (i = 0; i < NELEM(outcaps); i++)
		tx_check(&g, 0, st.b, st.len, NULL, 0, outcaps[i], w.b, w.len);
	bytes = xrealloc(NULL, st.len * sizeof(*bytes));
	for (i = 1; i < st.len; i++)
		bytes[i - 1] = i;
	tx_check(&g, 0, st.b, st.len, bytes, st.len - 1, 4096, w.b, w.len);
	free(bytes);
	for (cut = 1; cut < st.len; cut++) {
		/* The header, the first and last payload bytes, a stride. */
		if (cut > 40 && cut < st.len - 40 && cut % 4099 != 0)
			continue;
		tx_check(&g, 0, st.b, st.len, &cut, 1, 4096, w.b, w.len);
	}
	guard_free(&g);
	free(p);
	buf_free(&st);
	buf_free(&w);
}
END_TEST

/*
 * Frame rules, each with the close code it must give.
 */

static const struct {
	const char	*in;
	size_t		 len;
	uint64_t	 max;
	const char	*want;
} rules[] = {
#define R(s, max, want)	{ s, sizeof(s) - 1, max, want }
#define M0		"\0\0\0\0"	/* a masking key that changes nothing */
	/* RFC 6455 5.2: reserved bits. */
	R("\xc1\x80" M0, 0, "ERROR 1002 reserved bits set;"),
	R("\xa1\x80" M0, 0, "ERROR 1002 reserved bits set;"),
	R("\x91\x80" M0, 0, "ERROR 1002 reserved bits set;"),
	R("\xf1\x80" M0, 0, "ERROR 1002 reserved bits set;"),
	R("\xc9\x80" M0, 0, "ERROR 1002 reserved bits set;"),	/* ping */
	R("\x81\x81" M0 "a" "\xc0\x80" M0, 0,
	    "T<>1:a;ERROR 1002 reserved bits set;"),
	/* Unknown opcodes. */
	R("\x83\x80" M0, 0, "ERROR 1002 unknown opcode;"),
	R("\x84\x80" M0, 0, "ERROR 1002 unknown opcode;"),
	R("\x85\x80" M0, 0, "ERROR 1002 unknown opcode;"),
	R("\x86\x80" M0, 0, "ERROR 1002 unknown opcode;"),
	R("\x87\x80" M0, 0, "ERROR 1002 unknown opcode;"),
	R("\x8b\x80" M0, 0, "ERROR 1002 unknown opcode;"),
	R("\x8c\x80" M0, 0, "ERROR 1002 unknown opcode;"),
	R("\x8d\x80" M0, 0, "ERROR 1002 unknown opcode;"),
	R("\x8e\x80" M0, 0, "ERROR 1002 unknown opcode;"),
	R("\x8f\x80" M0, 0, "ERROR 1002 unknown opcode;"),
	R("\x03\x80" M0, 0, "ERROR 1002 unknown opcode;"),
	/* RFC 6455 5.5: control frames are not fragmented... */
	R("\x09\x80" M0, 0, "ERROR 1002 fragmented control frame;"),
	R("\x0a\x80" M0, 0, "ERROR 1002 fragmented control frame;"),
	R("\x08\x80" M0, 0, "ERROR 1002 fragmented control frame;"),
	/* ...and carry at most 125 bytes. */
	R("\x89\xfe\x00\x7e" M0, 0, "ERROR 1002 control frame too long;"),
	R("\x8a\xfe\x00\x7e" M0, 0, "ERROR 1002 control frame too long;"),
	R("\x88\xff\0\0\0\0\0\0\0\x7e" M0, 0,
	    "ERROR 1002 control frame too long;"),
	/* RFC 6455 5.1: client frames are masked. */
	R("\x81\x00", 0, "ERROR 1002 unmasked frame;"),
	R("\x82\x01x", 0, "ERROR 1002 unmasked frame;"),
	R("\x89\x00", 0, "ERROR 1002 unmasked frame;"),
	R("\x88\x02\x03\xe8", 0, "ERROR 1002 unmasked frame;"),
	R("\x81\x81" M0 "a" "\x81\x01" "b", 0,
	    "T<>1:a;ERROR 1002 unmasked frame;"),
	/* RFC 6455 5.2: the top bit of a 64-bit length is 0. */
	R("\x82\xff\x80\0\0\0\0\0\0\0" M0, 0,
	    "ERROR 1002 invalid frame length;"),
	R("\x82\xff\xff\xff\xff\xff\xff\xff\xff\xff" M0, 0,
	    "ERROR 1002 invalid frame length;"),
	/* ...and lengths use the fewest bytes that hold them. */
	R("\x82\xfe\x00\x7d" M0, 0, "ERROR 1002 non-minimal frame length;"),
	R("\x82\xfe\x00\x00" M0, 0, "ERROR 1002 non-minimal frame length;"),
	R("\x82\xff\0\0\0\0\0\0\xff\xff" M0, 0,
	    "ERROR 1002 non-minimal frame length;"),
	R("\x82\xff\0\0\0\0\0\0\0\x05" M0, 0,
	    "ERROR 1002 non-minimal frame length;"),
	/* RFC 6455 5.4: continuations need an open message... */
	R("\x80\x80" M0, 0, "ERROR 1002 continuation frame without a message;"),
	R("\x00\x81" M0 "a", 0,
	    "ERROR 1002 continuation frame without a message;"),
	R("\x81\x81" M0 "a" "\x80\x81" M0 "b", 0,
	    "T<>1:a;ERROR 1002 continuation frame without a message;"),
	/* ...and a new message waits for the open one to end. */
	R("\x01\x81" M0 "a" "\x81\x81" M0 "b", 0,
	    "ERROR 1002 new message inside a fragmented message;"),
	R("\x01\x81" M0 "a" "\x02\x81" M0 "b", 0,
	    "ERROR 1002 new message inside a fragmented message;"),
	R("\x02\x81" M0 "a" "\x89\x80" M0 "\x81\x80" M0, 0,
	    "B<1:a;PING 0:;ERROR 1002 new message inside a fragmented message;"),
	/* The order of the checks when a header breaks several rules. */
	R("\xf3\x7e", 0, "ERROR 1002 reserved bits set;"),
	R("\x83\x7e", 0, "ERROR 1002 unknown opcode;"),
	R("\x09\x7e", 0, "ERROR 1002 fragmented control frame;"),
	R("\x89\x7e", 0, "ERROR 1002 control frame too long;"),
	R("\x80\x05", 0, "ERROR 1002 unmasked frame;"),
	R("\x80\xff\x80\0\0\0\0\0\0\0" M0, 0,
	    "ERROR 1002 invalid frame length;"),
	R("\x80\x85" M0 "abcde", 1,
	    "ERROR 1002 continuation frame without a message;"),
	R("\x01\x81" M0 "a" "\x81\x8a" M0 "0123456789", 5,
	    "ERROR 1002 new message inside a fragmented message;"),
	/* Message size, from the announced length. */
	R("\x81\x8b" M0 "hello world", 10, "ERROR 1009 message too big;"),
	R("\x81\x8a" M0 "helloworld", 10, "T<>10:helloworld;"),
	R("\x01\x85" M0 "hello" "\x80\x86" M0 "world!", 10,
	    "ERROR 1009 message too big;"),
	R("\x01\x85" M0 "hello" "\x80\x85" M0 "world", 10,
	    "T<>10:helloworld;"),
	R("\x81\x8a" M0 "helloworld" "\x82\x8a" M0 "helloworld", 10,
	    "T<>10:helloworld;B<>10:helloworld;"),
	/* Control frames count for no message. */
	R("\x01\x85" M0 "hello" "\x89\x8b" M0 "ping ping!!" "\x80\x85" M0
	    "world", 10, "T<5:hello;PING 11:ping ping!!;T>5:world;"),
	/* No limit. */
	R("\x82\xff\x40\0\0\0\0\0\0\0" M0 "abc", 0, "B<3:abc;"),
	R("\x82\xfe\xff\xff" M0 "abc", 0, "B<3:abc;"),
#undef M0
#undef R
};

START_TEST(test_rules)
{
	check_splits_n(rules[_i].max, (const uint8_t *)rules[_i].in,
	    rules[_i].len, rules[_i].want, strlen(rules[_i].want));
}
END_TEST

/* Control frames of 125 bytes are fine, between fragments too. */
START_TEST(test_control_max)
{
	char		p[WS_CONTROL_MAX + 1];
	struct buf	st = { 0 }, w = { 0 };

	memset(p, 'p', WS_CONTROL_MAX);
	p[WS_CONTROL_MAX] = '\0';
	st_add(&st, WS_OP_BINARY, "ab");
	st_add(&st, PING, p);
	st_add(&st, PONG, p);
	st_add(&st, CONT, "cd");
	buf_str(&w, "B<2:ab;PING 125:");
	buf_str(&w, p);
	buf_str(&w, ";PONG 125:");
	buf_str(&w, p);
	buf_str(&w, ";B>2:cd;");
	check_splits_n(0, st.b, st.len, w.b, w.len);
	buf_free(&st);
	buf_free(&w);
}
END_TEST

/* RFC 6455 5.4: fragments with control frames in between. */
START_TEST(test_fragments)
{
	struct buf	st = { 0 };

	st_add(&st, WS_OP_TEXT, "Hel");
	st_add(&st, PING, "x");
	st_add(&st, WS_OP_CONT, "l");
	st_add(&st, PONG, "");
	st_add(&st, PING, "yz");
	st_add(&st, CONT, "o");
	st_add(&st, BIN, "after");
	check_splits(0, &st, "T<3:Hel;PING 1:x;T1:l;PONG 0:;PING 2:yz;T>1:o;"
	    "B<>5:after;");

	/* A close may arrive in the middle of a message too. */
	st.len = 0;
	st_add(&st, WS_OP_BINARY, "ab");
	st_close(&st, 1000, "bye");
	check_splits(0, &st, "B<2:ab;CLOSE 1000 3:bye;");
	buf_free(&st);
}
END_TEST

/* Zero-length frames. */
START_TEST(test_empty_frames)
{
	struct buf		st = { 0 };
	struct ws_parser	p;
	struct ws_event		ev;
	uint8_t			out[16];

	st_add(&st, TEXT, "");
	check_splits(0, &st, "T<>0:;");
	st_add(&st, BIN, "");
	check_splits(0, &st, "T<>0:;B<>0:;");
	st.len = 0;
	st_add(&st, WS_OP_TEXT, "");
	st_add(&st, WS_OP_CONT, "");
	st_add(&st, WS_OP_CONT, "abc");
	st_add(&st, WS_OP_CONT, "");
	st_add(&st, CONT, "");
	st_add(&st, PING, "");
	check_splits(0, &st, "T<>3:abc;PING 0:;");

	/* An empty final frame ends the message with DATA len 0, fin 1. */
	st.len = 0;
	st_add(&st, WS_OP_BINARY, "xy");
	st_add(&st, CONT, "");
	ws_parser_init(&p, 0);
	ck_assert_uint_eq(ws_parser_feed(&p, st.b, st.len, out, sizeof(out),
	    &ev), 8);
	ck_assert_int_eq(ev.type, WS_EV_DATA);
	ck_assert_int_eq(ev.first, 1);
	ck_assert_int_eq(ev.fin, 0);
	ck_assert_uint_eq(ev.len, 2);
	ck_assert_uint_eq(ws_parser_feed(&p, st.b + 8, st.len - 8, out,
	    sizeof(out), &ev), 6);
	ck_assert_int_eq(ev.type, WS_EV_DATA);
	ck_assert_int_eq(ev.opcode, WS_OP_BINARY);
	ck_assert_int_eq(ev.first, 0);
	ck_assert_int_eq(ev.fin, 1);
	ck_assert_uint_eq(ev.len, 0);
	ck_assert_uint_eq(ws_parser_feed(&p, NULL, 0, out, sizeof(out), &ev),
	    0);
	ck_assert_int_eq(ev.type, WS_EV_NONE);
	buf_free(&st);
}
END_TEST

/* Every ping gets its event, even many in one read. */
START_TEST(test_many_pings)
{
	struct buf		 st = { 0 }, w = { 0 };
	struct ws_parser	 p;
	struct ws_event		 ev;
	char			 s[16];
	size_t			 off = 0, n;
	int			 i, pings = 0;

	for (i = 0; i < 10; i++) {
		snprintf(s, sizeof(s), "p%d", i);
		st_add(&st, PING, s);
		snprintf(s, sizeof(s), "PING 2:p%d;", i);
		buf_str(&w, s);
	}
	check_splits_n(0, st.b, st.len, w.b, w.len);

	/* One call per frame; the payload points into the parser's
	 * control buffer, allocated for the frame and freed by the next
	 * call. */
	ws_parser_init(&p, 0);
	for (;;) {
		n = ws_parser_feed(&p, st.b + off, st.len - off, NULL, 0, &ev);
		off += n;
		if (ev.type == WS_EV_NONE)
			break;
		ck_assert_int_eq(ev.type, WS_EV_PING);
		ck_assert_uint_eq(n, 8);
		ck_assert_ptr_nonnull(p.ctl);
		ck_assert_ptr_eq(ev.data, p.ctl);
		snprintf(s, sizeof(s), "p%d", pings++);
		ck_assert_mem_eq(ev.data, s, 2);
	}
	ck_assert_int_eq(pings, 10);
	ck_assert_uint_eq(off, st.len);
	ck_assert_ptr_null(p.ctl);
	ws_parser_free(&p);
	buf_free(&st);
	buf_free(&w);
}
END_TEST

/*
 * In place, a control frame wholly given is unmasked where it lies and
 * allocates nothing; one split across calls is buffered in an allocation
 * that lives until the call after its event, or ws_parser_free().
 */
START_TEST(test_control_inplace_alloc)
{
	struct buf		st = { 0 };
	struct ws_parser	p;
	struct ws_event		ev;
	uint8_t			w[64];

	st_add(&st, PING, "hello");
	ck_assert_uint_le(st.len, sizeof(w));

	ws_parser_init(&p, 0);
	memcpy(w, st.b, st.len);
	ck_assert_uint_eq(ws_parser_feed_inplace(&p, w, st.len, &ev), st.len);
	ck_assert_int_eq(ev.type, WS_EV_PING);
	ck_assert_ptr_eq(ev.data, w + st.len - 5);
	ck_assert_uint_eq(ev.len, 5);
	ck_assert_mem_eq(ev.data, "hello", 5);
	ck_assert_ptr_null(p.ctl);

	/* Split after two payload bytes: buffered. */
	memcpy(w, st.b, st.len);
	ck_assert_uint_eq(ws_parser_feed_inplace(&p, w, st.len - 3, &ev),
	    st.len - 3);
	ck_assert_int_eq(ev.type, WS_EV_NONE);
	ck_assert_ptr_nonnull(p.ctl);
	ck_assert_uint_eq(ws_parser_feed_inplace(&p, w + st.len - 3, 3, &ev),
	    3);
	ck_assert_int_eq(ev.type, WS_EV_PING);
	ck_assert_ptr_eq(ev.data, p.ctl);
	ck_assert_mem_eq(ev.data, "hello", 5);
	/* The next call lets it go. */
	ck_assert_uint_eq(ws_parser_feed_inplace(&p, w, 0, &ev), 0);
	ck_assert_int_eq(ev.type, WS_EV_NONE);
	ck_assert_ptr_null(p.ctl);

	/* Torn down mid-frame: ws_parser_free() releases the buffer. */
	memcpy(w, st.b, st.len);
	ck_assert_uint_eq(ws_parser_feed_inplace(&p, w, st.len - 1, &ev),
	    st.len - 1);
	ck_assert_ptr_nonnull(p.ctl);
	ws_parser_free(&p);
	ck_assert_ptr_null(p.ctl);
	buf_free(&st);
}
END_TEST

/* Consumption stops at the frame that produced the event. */
START_TEST(test_consumed)
{
	struct buf		st = { 0 };
	struct ws_parser	p;
	struct ws_event		ev;
	uint8_t			out[64];

	st_add(&st, TEXT, "Hi");
	st_add(&st, PING, "x");
	st_add(&st, BIN, "");
	ws_parser_init(&p, 0);
	ck_assert_uint_eq(ws_parser_feed(&p, st.b, st.len, out, sizeof(out),
	    &ev), 8);
	ck_assert_int_eq(ev.type, WS_EV_DATA);
	ck_assert_ptr_eq(ev.data, out);
	ck_assert_mem_eq(ev.data, "Hi", 2);
	ck_assert_uint_eq(ws_parser_feed(&p, st.b + 8, st.len - 8, out,
	    sizeof(out), &ev), 7);
	ck_assert_int_eq(ev.type, WS_EV_PING);
	ck_assert_uint_eq(ws_parser_feed(&p, st.b + 15, st.len - 15, out,
	    sizeof(out), &ev), 6);
	ck_assert_int_eq(ev.type, WS_EV_DATA);
	ck_assert_uint_eq(ev.len, 0);
	ck_assert_int_eq(ev.fin, 1);
	ck_assert_uint_eq(ws_parser_feed(&p, st.b + 21, 0, out, sizeof(out),
	    &ev), 0);
	ck_assert_int_eq(ev.type, WS_EV_NONE);

	/* At most outcap bytes a call, unmasked. */
	ws_parser_init(&p, 0);
	ck_assert_uint_eq(ws_parser_feed(&p, st.b, st.len, out, 1, &ev), 7);
	ck_assert_int_eq(ev.type, WS_EV_DATA);
	ck_assert_uint_eq(ev.len, 1);
	ck_assert_uint_eq(out[0], 'H');
	ck_assert_int_eq(ev.first, 1);
	ck_assert_int_eq(ev.fin, 0);
	ck_assert_uint_eq(ws_parser_feed(&p, st.b + 7, st.len - 7, out, 1,
	    &ev), 1);
	ck_assert_uint_eq(out[0], 'i');
	ck_assert_int_eq(ev.first, 0);
	ck_assert_int_eq(ev.fin, 1);
	buf_free(&st);
}
END_TEST

/* Errors are sticky until the parser is initialised again. */
START_TEST(test_sticky)
{
	struct buf		st = { 0 };
	struct ws_parser	p;
	struct ws_event		ev;
	uint8_t			out[64];
	const char		*reason;

	ws_parser_init(&p, 0);
	ck_assert_uint_eq(ws_parser_feed(&p, (const uint8_t *)"\x81\x05", 2,
	    out, sizeof(out), &ev), 2);
	ck_assert_int_eq(ev.type, WS_EV_ERROR);
	ck_assert_uint_eq(ev.code, WS_CLOSE_PROTOCOL);
	reason = ev.reason;
	st_add(&st, TEXT, "fine");
	ck_assert_uint_eq(ws_parser_feed(&p, st.b, st.len, out, sizeof(out),
	    &ev), 0);
	ck_assert_int_eq(ev.type, WS_EV_ERROR);
	ck_assert_uint_eq(ev.code, WS_CLOSE_PROTOCOL);
	ck_assert_ptr_eq(ev.reason, reason);
	ck_assert_uint_eq(ws_parser_feed(&p, NULL, 0, out, sizeof(out), &ev),
	    0);
	ck_assert_int_eq(ev.type, WS_EV_ERROR);

	ws_parser_init(&p, 0);
	ck_assert_uint_eq(ws_parser_feed(&p, st.b, st.len, out, sizeof(out),
	    &ev), st.len);
	ck_assert_int_eq(ev.type, WS_EV_DATA);
	buf_free(&st);
}
END_TEST

/* The limit is decided by the header alone, before any payload. */
START_TEST(test_max_message_header)
{
	static const struct {
		uint64_t	 max;
		uint64_t	 len;
		size_t		 hlen;	/* bytes up to the length field */
	} v[] = {
		{ 10, 11, 2 },
		{ 125, 126, 4 },
		{ 200, 201, 4 },
		{ 65535, 65536, 10 },
		{ 70000, 70001, 10 },
		{ 1 << 20, (1 << 20) + 1, 10 },
		{ 1, 0x7fffffffffffffffULL, 10 },
	};
	struct ws_parser	p;
	struct ws_event		ev;
	uint8_t			h[10], out[16];
	size_t			i, n;

	for (i = 0; i < NELEM(v); i++) {
		/* The client header is the server one with the mask bit. */
		n = ws_frame_header_encode(h, 1, WS_OP_TEXT, v[i].len);
		ck_assert_uint_eq(n, v[i].hlen);
		h[1] |= 0x80;
		/* One byte short of the length: nothing yet. */
		ws_parser_init(&p, v[i].max);
		ck_assert_uint_eq(ws_parser_feed(&p, h, n - 1, out,
		    sizeof(out), &ev), n - 1);
		ck_assert_int_eq(ev.type, WS_EV_NONE);
		/* The length's last byte: 1009 without mask or payload. */
		ck_assert_uint_eq(ws_parser_feed(&p, h + n - 1, 1, out,
		    sizeof(out), &ev), 1);
		ck_assert_int_eq(ev.type, WS_EV_ERROR);
		ck_assert_uint_eq(ev.code, WS_CLOSE_TOO_BIG);
		ck_assert_str_eq(ev.reason, "message too big");

		/* Exactly at the limit: header accepted, payload awaited. */
		n = ws_frame_header_encode(h, 1, WS_OP_TEXT, v[i].max);
		h[1] |= 0x80;
		ws_parser_init(&p, v[i].max);
		ck_assert_uint_eq(ws_parser_feed(&p, h, n, out, sizeof(out),
		    &ev), n);
		ck_assert_int_eq(ev.type, WS_EV_NONE);
		ck_assert_uint_eq(ws_parser_feed(&p, tkey, 4, out, sizeof(out),
		    &ev), 4);
		ck_assert_int_eq(ev.type, WS_EV_NONE);
		ck_assert_uint_eq(ws_parser_feed(&p, (const uint8_t *)"\x56", 1,
		    out, sizeof(out), &ev), 1);
		ck_assert_int_eq(ev.type, WS_EV_DATA);
		ck_assert_uint_eq(out[0], 'a');
	}
}
END_TEST

/* A fragmented message passes the limit at the header that crosses it. */
START_TEST(test_max_message_fragments)
{
	struct buf		st = { 0 };
	struct ws_parser	p;
	struct ws_event		ev;
	uint8_t			out[64];
	size_t			n;

	/* 5 + 4 + 1 = 10 is at the limit; 5 + 4 + 2 is over it. */
	st_add(&st, WS_OP_BINARY, "12345");
	st_add(&st, PING, "in between");
	st_add(&st, WS_OP_CONT, "6789");
	n = st.len;
	st_add(&st, CONT, "0");
	check_splits(10, &st, "B<5:12345;PING 10:in between;B>5:67890;");
	st.len = n;
	st_add(&st, CONT, "01");
	check_splits(10, &st,
	    "B<5:12345;PING 10:in between;ERROR 1009 message too big;");

	/* The pieces before the crossing header were delivered. */
	ws_parser_init(&p, 10);
	ck_assert_uint_eq(ws_parser_feed(&p, st.b, st.len, out, sizeof(out),
	    &ev), 11);
	ck_assert_int_eq(ev.type, WS_EV_DATA);
	ck_assert_uint_eq(ws_parser_feed(&p, st.b + 11, st.len - 11, out,
	    sizeof(out), &ev), 16);
	ck_assert_int_eq(ev.type, WS_EV_PING);
	ck_assert_uint_eq(ws_parser_feed(&p, st.b + 27, st.len - 27, out,
	    sizeof(out), &ev), 10);
	ck_assert_int_eq(ev.type, WS_EV_DATA);
	ck_assert_uint_eq(ev.len, 4);
	/* Two bytes into the last header: rejected. */
	ck_assert_uint_eq(ws_parser_feed(&p, st.b + 37, 2, out, sizeof(out),
	    &ev), 2);
	ck_assert_int_eq(ev.type, WS_EV_ERROR);
	ck_assert_uint_eq(ev.code, WS_CLOSE_TOO_BIG);
	buf_free(&st);
}
END_TEST

/*
 * Text messages and UTF-8.
 */

/* Valid text split into two fragments at every byte. */
START_TEST(test_utf8_fragments)
{
	static const char	 s[] = "a\xc2\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
	    "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5z";
	const size_t		 n = sizeof(s) - 1;
	struct buf		 st = { 0 }, w = { 0 };
	char			 h[32];
	size_t			 i, j;

	snprintf(h, sizeof(h), "T<>%zu:", n);
	buf_str(&w, h);
	buf_add(&w, s, n);
	buf_str(&w, ";");
	for (i = 0; i <= n; i++) {
		st.len = 0;
		st_frame(&st, WS_OP_TEXT, 1, s, i);
		st_frame(&st, CONT, 1, s + i, n - i);
		check_splits_n(0, st.b, st.len, w.b, w.len);
	}
	/* Three fragments with a ping in between: fewer split runs. */
	for (i = 0; i <= n; i++) {
		for (j = i; j <= n; j++) {
			struct tx	t;

			st.len = 0;
			st_frame(&st, WS_OP_TEXT, 1, s, i);
			st_add(&st, PING, "");
			st_frame(&st, WS_OP_CONT, 1, s + i, j - i);
			st_frame(&st, CONT, 1, s + j, n - j);
			parse_whole(0, &st, 1, &t);
			ck_assert_int_eq(t.failed, 0);
			tx_free(&t);
		}
	}
	buf_free(&st);
	buf_free(&w);
}
END_TEST

/* Text that fails, at every fragmentation: the error is 1007. */
static const struct {
	const char	*s;
	const char	*reason;
} bad_text[] = {
	{ "a\xff", "invalid UTF-8 in text message" },
	{ "ab\xed\xa0\x80" "cd", "invalid UTF-8 in text message" },
	{ "\xc0\xaf", "invalid UTF-8 in text message" },
	{ "\xf4\x90\x80\x80", "invalid UTF-8 in text message" },
	{ "\xe2\x82" "a", "invalid UTF-8 in text message" },
	{ "ok\x80", "invalid UTF-8 in text message" },
	{ "\xe2\x82", "incomplete UTF-8 at end of text message" },
	{ "abc\xf0\x9f\x98", "incomplete UTF-8 at end of text message" },
	{ "\xc2", "incomplete UTF-8 at end of text message" },
};

START_TEST(test_utf8_bad_text)
{
	const char	*s = bad_text[_i].s;
	size_t		 n = strlen(s), i;
	struct buf	 st = { 0 }, w = { 0 };
	struct tx	 t;
	char		 want[128], h[32];

	snprintf(want, sizeof(want), "ERROR 1007 %s;", bad_text[_i].reason);
	st_add(&st, TEXT, s);
	check_splits(0, &st, want);
	/* The ping comes first unless the first fragment already fails. */
	for (i = 0; i <= n; i++) {
		st.len = 0;
		st_frame(&st, WS_OP_TEXT, 1, s, i);
		st_add(&st, PING, "p");
		st_frame(&st, CONT, 1, s + i, n - i);
		w.len = 0;
		if (utf8_validate(UTF8_ACCEPT, (const uint8_t *)s, i) !=
		    UTF8_REJECT) {
			if (i > 0) {
				snprintf(h, sizeof(h), "T<%zu:", i);
				buf_str(&w, h);
				buf_add(&w, s, i);
				buf_str(&w, ";");
			}
			buf_str(&w, "PING 1:p;");
		}
		buf_str(&w, want);
		check_splits_n(0, st.b, st.len, w.b, w.len);
	}
	/* An empty final fragment does not complete a sequence either. */
	st.len = 0;
	st_frame(&st, WS_OP_TEXT, 1, s, n);
	st_add(&st, CONT, "");
	check_splits(0, &st, want);
	/* The same bytes as binary are nobody's business. */
	st.len = 0;
	st_add(&st, BIN, s);
	parse_whole(0, &st, 64, &t);
	ck_assert_int_eq(t.failed, 0);
	tx_free(&t);
	buf_free(&st);
	buf_free(&w);
}
END_TEST

/* Invalid UTF-8 fails the message before the frame is complete. */
START_TEST(test_utf8_mid_frame)
{
	struct buf		st = { 0 };
	struct ws_parser	p;
	struct ws_event		ev;
	uint8_t			out[256], payload[100];
	size_t			hlen;

	memset(payload, 'x', sizeof(payload));
	payload[2] = 0xff;
	st_frame(&st, TEXT, 1, payload, sizeof(payload));
	hlen = st.len - sizeof(payload);

	/* The header and "xx": the first piece is delivered. */
	ws_parser_init(&p, 0);
	ck_assert_uint_eq(ws_parser_feed(&p, st.b, hlen + 2, out, sizeof(out),
	    &ev), hlen + 2);
	ck_assert_int_eq(ev.type, WS_EV_DATA);
	ck_assert_uint_eq(ev.len, 2);
	ck_assert_int_eq(ev.fin, 0);
	/* The bad byte: 1007 with 97 bytes of the frame still to come. */
	ck_assert_uint_eq(ws_parser_feed(&p, st.b + hlen + 2, 1, out,
	    sizeof(out), &ev), 1);
	ck_assert_int_eq(ev.type, WS_EV_ERROR);
	ck_assert_uint_eq(ev.code, WS_CLOSE_INVALID_DATA);

	/* A piece holding the bad byte is not delivered at all. */
	ws_parser_init(&p, 0);
	ck_assert_uint_eq(ws_parser_feed(&p, st.b, hlen + 3, out, sizeof(out),
	    &ev), hlen + 3);
	ck_assert_int_eq(ev.type, WS_EV_ERROR);
	ck_assert_uint_eq(ev.code, WS_CLOSE_INVALID_DATA);

	/* A surrogate in a later fragment, found at its second byte. */
	st.len = 0;
	st_add(&st, WS_OP_TEXT, "ok");
	st_frame(&st, CONT, 1, "\xed\xa0\x80zzzzzzzz", 11);
	ws_parser_init(&p, 0);
	ck_assert_uint_eq(ws_parser_feed(&p, st.b, 8, out, sizeof(out), &ev),
	    8);
	ck_assert_int_eq(ev.type, WS_EV_DATA);
	ck_assert_uint_eq(ws_parser_feed(&p, st.b + 8, 7, out, sizeof(out),
	    &ev), 7);
	ck_assert_int_eq(ev.type, WS_EV_DATA);
	ck_assert_uint_eq(ev.len, 1);
	ck_assert_uint_eq(ws_parser_feed(&p, st.b + 15, 1, out, sizeof(out),
	    &ev), 1);
	ck_assert_int_eq(ev.type, WS_EV_ERROR);
	ck_assert_uint_eq(ev.code, WS_CLOSE_INVALID_DATA);
	buf_free(&st);
}
END_TEST

/* UTF-8 state belongs to the message: control frames keep it. */
START_TEST(test_utf8_state)
{
	struct buf	st = { 0 };

	st_add(&st, WS_OP_TEXT, "\xe2");
	st_add(&st, PING, "");
	st_add(&st, PONG, "");
	st_close(&st, 1000, "");
	st_add(&st, CONT, "\x82\xac");
	st_add(&st, TEXT, "\xc3\xa9");
	check_splits(0, &st, "T<1:\xe2;PING 0:;PONG 0:;CLOSE 1000 0:;"
	    "T>2:\x82\xac;T<>2:\xc3\xa9;");
	/* Binary messages are not checked and do not disturb text. */
	st.len = 0;
	st_add(&st, BIN, "\xff\xfe\xe2");
	st_add(&st, TEXT, "ok");
	st_add(&st, WS_OP_BINARY, "\xc0");
	st_add(&st, CONT, "\x80");
	check_splits(0, &st, "B<>3:\xff\xfe\xe2;T<>2:ok;B<>2:\xc0\x80;");
	buf_free(&st);
}
END_TEST

/*
 * Close frames.
 */

START_TEST(test_close_frames)
{
	struct buf	st = { 0 };
	char		big[124], want[160];

	st_add(&st, CLOSE, "");
	check_splits(0, &st, "CLOSE 1005 0:;");
	st.len = 0;
	st_close(&st, 1000, "");
	check_splits(0, &st, "CLOSE 1000 0:;");
	st.len = 0;
	st_close(&st, 1001, "going away");
	check_splits(0, &st, "CLOSE 1001 10:going away;");
	st.len = 0;
	st_close(&st, 3000, "caf\xc3\xa9");
	check_splits(0, &st, "CLOSE 3000 5:caf\xc3\xa9;");
	st.len = 0;
	memset(big, 'r', 123);
	big[123] = '\0';
	st_close(&st, 4999, big);
	ck_assert_uint_eq(st.len, 2 + 4 + 125);
	snprintf(want, sizeof(want), "CLOSE 4999 123:%s;", big);
	check_splits(0, &st, want);
	/* RFC 6455 5.5.1: a 1-byte payload cannot hold a code. */
	st.len = 0;
	st_add(&st, CLOSE, "\x03");
	check_splits(0, &st, "ERROR 1002 close frame with a 1-byte payload;");
	/* RFC 6455 5.5.1: the reason is UTF-8. */
	st.len = 0;
	st_close(&st, 1000, "\xff");
	check_splits(0, &st, "ERROR 1007 invalid UTF-8 in close reason;");
	st.len = 0;
	st_close(&st, 1000, "ok\xe2\x82");
	check_splits(0, &st, "ERROR 1007 invalid UTF-8 in close reason;");
	st.len = 0;
	st_close(&st, 1000, "\xed\xa0\x80");
	check_splits(0, &st, "ERROR 1007 invalid UTF-8 in close reason;");
	buf_free(&st);
}
END_TEST

/* RFC 6455 7.4: codes a peer may send, and the others. */
START_TEST(test_close_frame_codes)
{
	static const unsigned	good[] = {
		1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012,
		1013, 1014, 3000, 3999, 4000, 4999
	};
	static const unsigned	bad[] = {
		0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999,
		5000, 65535
	};
	struct buf		st = { 0 };
	char			want[64];
	size_t			i;

	for (i = 0; i < NELEM(good); i++) {
		st.len = 0;
		st_close(&st, good[i], "r");
		snprintf(want, sizeof(want), "CLOSE %u 1:r;", good[i]);
		check_splits(0, &st, want);
	}
	for (i = 0; i < NELEM(bad); i++) {
		st.len = 0;
		st_close(&st, bad[i], "r");
		check_splits(0, &st, "ERROR 1002 invalid close code;");
		/* The code is checked before the reason. */
		st.len = 0;
		st_close(&st, bad[i], "\xff");
		check_splits(0, &st, "ERROR 1002 invalid close code;");
	}
	buf_free(&st);
}
END_TEST

/* The check suite for ws.c. */
/*
 * A client's parser (RFC 6455 5.1): server frames are unmasked, a masked
 * one is an error; frame_end marks where each frame ends.
 */
START_TEST(test_client_parser)
{
	struct ws_parser	 p;
	struct ws_event		 ev;
	uint8_t			 in[64], hdr[WS_HEADER_MAX], key[4] = { 1, 2, 3,
				    4 }, payload[5];
	size_t			 n, off, hl;

	ws_parser_init(&p, 0);
	ws_parser_set_client(&p);
	/* RFC 6455 5.7: "Hel" then "lo", unmasked fragments. */
	memcpy(in, "\x01\x03Hel\x80\x02lo", 9);
	n = ws_parser_feed_inplace(&p, in, 9, &ev);
	ck_assert_uint_eq(n, 5);
	ck_assert_int_eq(ev.type, WS_EV_DATA);
	ck_assert(ev.first && !ev.fin && ev.frame_end);
	ck_assert_int_eq(memcmp(ev.data, "Hel", 3), 0);
	off = n;
	n = ws_parser_feed_inplace(&p, in + off, 1, &ev);
	ck_assert_int_eq(ev.type, WS_EV_NONE);
	off += n;
	n = ws_parser_feed_inplace(&p, in + off, 2, &ev);
	ck_assert_int_eq(ev.type, WS_EV_DATA);
	ck_assert(!ev.first && !ev.fin && !ev.frame_end);
	ck_assert_int_eq(ev.data[0], 'l');
	off += n;
	n = ws_parser_feed_inplace(&p, in + off, 1, &ev);
	ck_assert(ev.fin && ev.frame_end);
	ck_assert_int_eq(ev.data[0], 'o');
	/* A ping from the server, unmasked. */
	memcpy(in, "\x89\x02hi", 4);
	ws_parser_feed_inplace(&p, in, 4, &ev);
	ck_assert_int_eq(ev.type, WS_EV_PING);
	ck_assert_int_eq(memcmp(ev.data, "hi", 2), 0);
	/* A masked frame from the server is a protocol error. */
	hl = ws_frame_header_encode_masked(hdr, 1, WS_OP_TEXT, 5, key);
	ck_assert_uint_eq(hl, 6);
	memcpy(in, hdr, hl);
	ws_unmask(in + hl, (const uint8_t *)"Hello", 5, key, 0);
	ws_parser_feed_inplace(&p, in, hl + 5, &ev);
	ck_assert_int_eq(ev.type, WS_EV_ERROR);
	ck_assert_uint_eq(ev.code, WS_CLOSE_PROTOCOL);
	ws_parser_free(&p);

	/* The same masked frame is what a server's parser reads back. */
	ws_parser_init(&p, 0);
	ws_parser_feed_inplace(&p, in, hl + 5, &ev);
	ck_assert_int_eq(ev.type, WS_EV_DATA);
	ck_assert(ev.first && ev.fin && ev.frame_end);
	memcpy(payload, ev.data, 5);
	ck_assert_int_eq(memcmp(payload, "Hello", 5), 0);
	ws_parser_free(&p);
	/* Longer headers carry the key after the extended length. */
	ck_assert_uint_eq(ws_frame_header_encode_masked(hdr, 0, WS_OP_BINARY,
	    300, key), 8);
	ck_assert_int_eq(hdr[0], WS_OP_BINARY);
	ck_assert_int_eq(hdr[1], 0x80 | 126);
	ck_assert_int_eq(memcmp(hdr + 4, key, 4), 0);
	ck_assert_uint_eq(ws_frame_header_encode_masked(hdr, 1, WS_OP_BINARY,
	    70000, key), 14);
	ck_assert_int_eq(memcmp(hdr + 10, key, 4), 0);
}
END_TEST

Suite *
ws_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("ws");

	tc = tcase_create("handshake");
	tcase_add_test(tc, test_accept_rfc);
	tcase_add_loop_test(tc, test_accept_bad, 0, NELEM(bad_keys));
	tcase_add_test(tc, test_handshake_ok);
	tcase_add_test(tc, test_handshake_method);
	tcase_add_test(tc, test_handshake_version);
	tcase_add_test(tc, test_handshake_host);
	tcase_add_test(tc, test_handshake_upgrade);
	tcase_add_test(tc, test_handshake_connection);
	tcase_add_test(tc, test_handshake_key);
	tcase_add_test(tc, test_handshake_ws_version);
	tcase_add_test(tc, test_handshake_order);
	suite_add_tcase(s, tc);

	tc = tcase_create("codec");
	tcase_add_test(tc, test_encode_lengths);
	tcase_add_test(tc, test_encode_bits);
	tcase_add_test(tc, test_close_payload);
	tcase_add_loop_test(tc, test_close_payload_cut, 0, NELEM(close_cuts));
	tcase_add_test(tc, test_close_code_valid);
	tcase_add_test(tc, test_unmask);
	suite_add_tcase(s, tc);

	tc = tcase_create("parser");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_rfc_hello_masked);
	tcase_add_test(tc, test_rfc_pong_masked);
	tcase_add_test(tc, test_rfc_unmasked);
	tcase_add_test(tc, test_rfc_masked_versions);
	tcase_add_test(tc, test_lengths);
	tcase_add_test(tc, test_length_64bit);
	tcase_add_loop_test(tc, test_rules, 0, NELEM(rules));
	tcase_add_test(tc, test_control_max);
	tcase_add_test(tc, test_fragments);
	tcase_add_test(tc, test_empty_frames);
	tcase_add_test(tc, test_many_pings);
	tcase_add_test(tc, test_control_inplace_alloc);
	tcase_add_test(tc, test_consumed);
	tcase_add_test(tc, test_sticky);
	tcase_add_test(tc, test_max_message_header);
	tcase_add_test(tc, test_max_message_fragments);
	suite_add_tcase(s, tc);

	tc = tcase_create("text");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_utf8_fragments);
	tcase_add_loop_test(tc, test_utf8_bad_text, 0, NELEM(bad_text));
	tcase_add_test(tc, test_utf8_mid_frame);
	tcase_add_test(tc, test_utf8_state);
	tcase_add_test(tc, test_close_frames);
	tcase_add_test(tc, test_close_frame_codes);
	tcase_add_test(tc, test_client_parser);
	suite_add_tcase(s, tc);

	return s;
}
