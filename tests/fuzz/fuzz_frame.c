/*
 * fuzz_frame.c -- libFuzzer target for the RFC 6455 frame decoder and the
 * incremental UTF-8 validator.
 *
 * Input: 1 byte choosing max_message, 1 byte choosing the chunk size
 * handed out per DATA event, 8 bytes seeding the split points, then the
 * client's byte stream. The stream is decoded twice, in one piece with a
 * large output buffer and in pieces split at points drawn from the seed
 * with a small one, and at the same points unmasked in place: all must
 * report the same messages, control frames and final error. Each event is checked against the rules it claims to
 * enforce, and the UTF-8 validator against a plain reference decoder,
 * whole and fed in pieces. The input as a close reason checks the
 * server's close payloads. Everything is done again by a client's
 * parser (server frames: unmasked), which must agree with itself too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"
#include "ws.h"
#include "fuzz.h"

/* A growing byte buffer for the transcript of one decoding run. */
struct fuzz_buf {
	uint8_t		*data;
	size_t		 len;
	size_t		 cap;
};

/* Appends n bytes; aborts when out of memory (inputs are small). */
static void
fuzz_buf_add(struct fuzz_buf *b, const void *p, size_t n)
{
	uint8_t	*d;
	size_t	 cap;

	if (n == 0)
		return;
	if (b->len + n > b->cap) {
		cap = b->cap ? b->cap : 256;
		while (cap < b->len + n)
			cap *= 2;
		FUZZ_CHECK((d = realloc(b->data, cap)) != NULL);
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

/* Appends a tagged record: tag, 4-byte value, 8-byte length, bytes. */
static void
fuzz_buf_record(struct fuzz_buf *b, uint8_t tag, uint32_t v,
    const void *p, size_t n)
{
	uint64_t	len = n;

	fuzz_buf_add(b, &tag, 1);
	fuzz_buf_add(b, &v, sizeof(v));
	fuzz_buf_add(b, &len, sizeof(len));
	fuzz_buf_add(b, p, n);
}

/* RFC 3629 validity, written plainly as the reference for utf8.c. */
static int
fuzz_utf8_ref(const uint8_t *s, size_t n)
{
	size_t		i = 0, j, k;
	uint32_t	cp;

	while (i < n) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if (s[i] >= 0xc2 && s[i] <= 0xdf) {
			k = 1;
			cp = s[i] & 0x1f;
		} else if (s[i] >= 0xe0 && s[i] <= 0xef) {
			k = 2;
			cp = s[i] & 0x0f;
		} else if (s[i] >= 0xf0 && s[i] <= 0xf4) {
			k = 3;
			cp = s[i] & 0x07;
		} else
			return 0;
		if (n - i - 1 < k)
			return 0;
		for (j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		if (k == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)))
			return 0;
		if (k == 3 && (cp < 0x10000 || cp > 0x10ffff))
			return 0;
		i += k + 1;
	}
	return 1;
}

/*
 * The validator on its own: whole, incrementally at the split points, and
 * against the reference. A rejected prefix stays rejected.
 */
static void
fuzz_utf8(const uint8_t *s, size_t n, uint64_t seed)
{
	uint32_t	state = UTF8_ACCEPT, whole;
	size_t		off = 0, k;
	int		valid = utf8_valid(s, n);

	FUZZ_CHECK(valid == fuzz_utf8_ref(s, n));
	whole = utf8_validate(UTF8_ACCEPT, s, n);
	FUZZ_CHECK((whole == UTF8_ACCEPT) == valid);
	while (off < n) {
		k = 1 + (size_t)(fuzz_rand(&seed) % 8);
		if (k > n - off)
			k = n - off;
		state = utf8_validate(state, s + off, k);
		off += k;
		if (state == UTF8_REJECT)
			/* Fail fast: the prefix so far can never be valid. */
			FUZZ_CHECK(!fuzz_utf8_ref(s, off) &&
			    utf8_validate(UTF8_ACCEPT, s, off) == UTF8_REJECT);
		else if (state == UTF8_ACCEPT)
			FUZZ_CHECK(fuzz_utf8_ref(s, off));
	}
	FUZZ_CHECK(state == whole);
}

/*
 * Decodes the stream, cut at split points (seed 0: in one piece), into a
 * transcript of complete messages, control frames and the final error or
 * close; outcap 0 unmasks in place, in a copy of the stream. Checks every
 * event on the way.
 */
static void
fuzz_decode(const uint8_t *s, size_t n, uint64_t max_message, size_t outcap,
    uint64_t seed, int client, struct fuzz_buf *t)
{
	struct ws_parser p;
	struct ws_event	 ev;
	struct fuzz_buf	 msg = { NULL, 0, 0 };
	uint8_t		*out, *w = NULL;
	size_t		 off = 0, end, used;
	unsigned	 code;
	int		 opcode = 0, done = 0;

	FUZZ_CHECK((out = malloc(outcap + 1)) != NULL);
	if (outcap == 0) {
		FUZZ_CHECK((w = malloc(n + 1)) != NULL);
		memcpy(w, s, n);
	}
	ws_parser_init(&p, max_message);
	if (client)
		ws_parser_set_client(&p);
	while (off < n && !done) {
		end = seed == 0 ? n :
		    off + 1 + (size_t)(fuzz_rand(&seed) % 64);
		if (end > n)
			end = n;
		/* Offer [off, end) until the parser wants more. */
		while (off < end && !done) {
			if (w != NULL)
				used = ws_parser_feed_inplace(&p, w + off,
				    end - off, &ev);
			else
				used = ws_parser_feed(&p, s + off, end - off,
				    out, outcap, &ev);
			FUZZ_CHECK(used <= end - off);
			off += used;
			switch (ev.type) {
			case WS_EV_NONE:
				/* Only when everything offered is used. */
				FUZZ_CHECK(off == end);
				break;
			case WS_EV_DATA:
				if (w != NULL)
					/* The last bytes the call consumed. */
					FUZZ_CHECK(ev.data >= w + off - used &&
					    ev.data + ev.len == w + off);
				else
					FUZZ_CHECK(ev.data == out &&
					    ev.len <= outcap);
				FUZZ_CHECK(ev.opcode == WS_OP_TEXT ||
				    ev.opcode == WS_OP_BINARY);
				FUZZ_CHECK(ev.first == (opcode == 0));
				/* A message ends with a frame. */
				FUZZ_CHECK(!ev.fin || ev.frame_end);
				if (!ev.first)
					FUZZ_CHECK(ev.opcode == opcode);
				opcode = ev.opcode;
				fuzz_buf_add(&msg, ev.data, ev.len);
				if (max_message != 0)
					FUZZ_CHECK(msg.len <= max_message);
				if (!ev.fin)
					break;
				/* RFC 6455 8.1: text is valid UTF-8. */
				if (opcode == WS_OP_TEXT)
					FUZZ_CHECK(fuzz_utf8_ref(msg.data,
					    msg.len));
				fuzz_buf_record(t, 'M', (uint32_t)opcode,
				    msg.data, msg.len);
				msg.len = 0;
				opcode = 0;
				break;
			case WS_EV_PING:
			case WS_EV_PONG:
				FUZZ_CHECK(ev.len <= WS_CONTROL_MAX);
				fuzz_buf_record(t, ev.type == WS_EV_PING ?
				    'P' : 'p', 0, ev.data, ev.len);
				break;
			case WS_EV_CLOSE:
				FUZZ_CHECK(ev.len <= WS_CONTROL_MAX - 2);
				FUZZ_CHECK(ev.code == WS_CLOSE_NO_STATUS ?
				    ev.len == 0 : ws_close_code_valid(ev.code));
				FUZZ_CHECK(fuzz_utf8_ref(ev.data, ev.len));
				fuzz_buf_record(t, 'C', ev.code, ev.data,
				    ev.len);
				/* conn.c stops reading here. */
				done = 1;
				break;
			case WS_EV_ERROR:
				FUZZ_CHECK(ev.code == WS_CLOSE_PROTOCOL ||
				    ev.code == WS_CLOSE_INVALID_DATA ||
				    ev.code == WS_CLOSE_TOO_BIG);
				FUZZ_CHECK(ev.reason != NULL);
				fuzz_buf_record(t, 'E', ev.code, NULL, 0);
				/* The error is sticky. */
				code = ev.code;
				used = ws_parser_feed(&p, s, n, out, outcap,
				    &ev);
				FUZZ_CHECK(used == 0 &&
				    ev.type == WS_EV_ERROR && ev.code == code);
				done = 1;
				break;
			}
		}
	}
	/* A control frame split across pieces holds a buffer. */
	ws_parser_free(&p);
	free(msg.data);
	free(out);
	free(w);
}

/*
 * A close payload built from valid UTF-8 text (the input, up to its first
 * NUL) fits a control frame, keeps the code and cuts the reason on a
 * character boundary.
 */
static void
fuzz_close_payload(const uint8_t *s, size_t n)
{
	uint8_t		 out[WS_CONTROL_MAX];
	char		*reason;
	size_t		 len, rlen;

	if (memchr(s, '\0', n) != NULL)
		n = (size_t)((const uint8_t *)memchr(s, '\0', n) - s);
	if (!utf8_valid(s, n) || (reason = malloc(n + 1)) == NULL)
		return;
	memcpy(reason, s, n);
	reason[n] = '\0';
	len = ws_close_payload(out, WS_CLOSE_POLICY, reason);
	FUZZ_CHECK(len >= 2 && len <= WS_CONTROL_MAX);
	FUZZ_CHECK(out[0] == WS_CLOSE_POLICY >> 8 &&
	    out[1] == (WS_CLOSE_POLICY & 0xff));
	rlen = len - 2;
	FUZZ_CHECK(rlen <= n && memcmp(out + 2, reason, rlen) == 0);
	FUZZ_CHECK(utf8_valid(out + 2, rlen));
	/* Only as much is cut as the limit needs: at most one character. */
	FUZZ_CHECK(rlen == n || rlen + 4 > WS_CONTROL_MAX - 2);
	FUZZ_CHECK(ws_close_payload(out, WS_CLOSE_NO_STATUS, reason) == 0);
	free(reason);
}

/* Decodes the stream whole and in pieces and compares. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	struct fuzz_buf	 a = { NULL, 0, 0 }, b = { NULL, 0, 0 };
	struct fuzz_buf	 c = { NULL, 0, 0 };
	uint64_t	 max_message, seed;
	size_t		 outcap;
	unsigned	 sel;
	int		 client;

	sel = (unsigned)fuzz_take(&in, 1);
	/* 0: no limit, else a limit small enough to be hit. */
	max_message = sel == 0 ? 0 : (uint64_t)sel * 8;
	outcap = 1 + (size_t)fuzz_take(&in, 1) % 64;
	seed = fuzz_take(&in, 8) | 1;

	fuzz_utf8(in.data, in.len, seed);
	fuzz_close_payload(in.data, in.len);
	for (client = 0; client < 2; client++) {
		fuzz_decode(in.data, in.len, max_message, 16384, 0, client,
		    &a);
		fuzz_decode(in.data, in.len, max_message, outcap, seed,
		    client, &b);
		fuzz_decode(in.data, in.len, max_message, 0, seed, client, &c);
		FUZZ_CHECK(a.len == b.len && (a.len == 0 ||
		    memcmp(a.data, b.data, a.len) == 0));
		FUZZ_CHECK(a.len == c.len && (a.len == 0 ||
		    memcmp(a.data, c.data, a.len) == 0));
		a.len = b.len = c.len = 0;
	}
	free(a.data);
	free(b.data);
	free(c.data);
	return 0;
}
