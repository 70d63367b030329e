/* ws.c -- pure RFC 6455 handshake, frame codec and close codes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "http.h"
#include "utf8.h"
#include "ws.h"

/* RFC 6455 1.3: appended to the client's key before hashing. */
#define WS_GUID		"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
/* base64 of 16 bytes: 22 characters and "==". */
#define WS_KEY_LEN	24

/* 1 if c belongs to the base64 alphabet (RFC 4648 4, no padding). */
static int
ws_base64_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/* Computes Sec-WebSocket-Accept for a client key. */
int
ws_accept_key(const char *key, size_t len, char out[WS_ACCEPT_LEN])
{
	unsigned char	 buf[WS_KEY_LEN + sizeof(WS_GUID) - 1];
	unsigned char	 raw[WS_KEY_LEN], md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0;
	size_t		 i;

	/*
	 * RFC 6455 4.1: the key is base64 of 16 random bytes, which is always
	 * 22 characters of the alphabet and two '=' of padding.
	 */
	if (key == NULL || len != WS_KEY_LEN || key[22] != '=' ||
	    key[23] != '=')
		return -1;
	for (i = 0; i < 22; i++) {
		if (!ws_base64_char((unsigned char)key[i]))
			return -1;
	}
	/* OpenSSL must agree: 24 characters decode to 18 bytes with padding. */
	if (EVP_DecodeBlock(raw, (const unsigned char *)key, WS_KEY_LEN) != 18)
		return -1;

	memcpy(buf, key, WS_KEY_LEN);
	memcpy(buf + WS_KEY_LEN, WS_GUID, sizeof(WS_GUID) - 1);
	if (EVP_Digest(buf, sizeof(buf), md, &mdlen, EVP_sha1(), NULL) != 1 ||
	    mdlen != 20)
		return -1;
	/* 20 bytes encode to 28 characters; EVP_EncodeBlock adds the NUL. */
	if (EVP_EncodeBlock((unsigned char *)out, md, 20) != WS_ACCEPT_LEN - 1)
		return -1;
	return 0;
}

/* Validates an opening handshake (RFC 6455 4.2.1). */
int
ws_handshake_check(const struct http_request *req,
    char accept[WS_ACCEPT_LEN], const char **reason)
{
	const struct http_header	*h;
	const char			*why;
	int				 status;

	/* RFC 6455 4.2.1: the checks in the order the RFC lists them,
	 * but the version before the key (see below). */
	if (!http_method_is(req, "GET")) {
		status = 405;
		why = "WebSocket handshake must use GET";
	} else if (req->minor_version < 1) {
		status = 400;
		why = "WebSocket handshake needs HTTP/1.1";
	} else if (http_header_find(req, "Host") == NULL) {
		status = 400;
		why = "missing Host";
	} else if (!http_header_has_token(req, "Upgrade", "websocket")) {
		status = 400;
		why = "missing or invalid Upgrade";
	} else if (!http_header_has_token(req, "Connection", "upgrade")) {
		status = 400;
		why = "missing or invalid Connection";
	} else if ((h = http_header_find(req, "Sec-WebSocket-Version")) ==
	    NULL || http_header_count(req, "Sec-WebSocket-Version") != 1 ||
	    h->value_len != 2 || memcmp(h->value, "13", 2) != 0) {
		/*
		 * RFC 6455 4.4: answered with the versions we speak, before
		 * the key is looked at: a client of another version may not
		 * send a key of our form.
		 */
		status = 426;
		why = "unsupported Sec-WebSocket-Version";
	} else if ((h = http_header_find(req, "Sec-WebSocket-Key")) == NULL ||
	    http_header_count(req, "Sec-WebSocket-Key") != 1 ||
	    ws_accept_key(h->value, h->value_len, accept) == -1) {
		/* RFC 6455 11.3.1: the key appears exactly once. */
		status = 400;
		why = "missing or invalid Sec-WebSocket-Key";
	} else {
		status = 0;
		why = NULL;
	}
	if (reason != NULL)
		*reason = why;
	return status;
}

/* Picks the first offered subprotocol that we support (RFC 6455 4.2.2). */
int
ws_subprotocol_select(const struct http_request *req,
    char *const *supported, size_t n, size_t *sel)
{
	const struct http_header	*h = NULL;
	const char			*p, *s;
	size_t				 j, len;
	int				 found = 0;

	while ((h = http_header_next(req, "Sec-WebSocket-Protocol", h)) !=
	    NULL) {
		p = h->value;
		while (http_list_next(&p, h->value + h->value_len, &s, &len)) {
			/* RFC 7230 7: empty list elements are ignored. */
			if (len == 0)
				continue;
			if (!http_token_valid(s, len))
				return -1;
			for (j = 0; !found && j < n; j++) {
				/* Subprotocol names compare case-sensitively. */
				if (strlen(supported[j]) == len &&
				    memcmp(supported[j], s, len) == 0) {
					*sel = j;
					found = 1;
				}
			}
		}
	}
	return found;
}

/* Writes a masked client frame header (RFC 6455 5.2, 5.3). */
size_t
ws_frame_header_encode_masked(uint8_t out[WS_HEADER_MAX], int fin,
    int opcode, uint64_t len, const uint8_t key[4])
{
	size_t	n = ws_frame_header_encode(out, fin, opcode, len);

	out[1] |= 0x80;
	memcpy(out + n, key, 4);
	return n + 4;
}

/* Writes an unmasked server frame header (RFC 6455 5.2). */
size_t
ws_frame_header_encode(uint8_t out[10], int fin, int opcode, uint64_t len)
{
	int	i;

	out[0] = (uint8_t)((fin ? 0x80 : 0x00) | (opcode & 0x0f));
	/* RFC 6455 5.2: the minimal number of bytes encodes the length. */
	if (len <= 125) {
		out[1] = (uint8_t)len;
		return 2;
	}
	if (len <= 0xffff) {
		out[1] = 126;
		out[2] = (uint8_t)(len >> 8);
		out[3] = (uint8_t)len;
		return 4;
	}
	out[1] = 127;
	for (i = 0; i < 8; i++)
		out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
	return 10;
}

/* Builds a close frame payload: code and a reason cut on a UTF-8 boundary. */
size_t
ws_close_payload(uint8_t out[WS_CONTROL_MAX], unsigned code,
    const char *reason)
{
	size_t	n;

	/* RFC 6455 7.1.5: 1005 means "no code", so the payload is empty. */
	if (code == WS_CLOSE_NO_STATUS)
		return 0;
	out[0] = (uint8_t)(code >> 8);
	out[1] = (uint8_t)code;
	if (reason == NULL)
		return 2;
	n = strlen(reason);
	if (n > WS_CONTROL_MAX - 2) {
		/* Back up to the start of the sequence the cut would split. */
		n = WS_CONTROL_MAX - 2;
		while (n > 0 && ((unsigned char)reason[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(out + 2, reason, n);
	return n + 2;
}

/* 1 if a peer may send this close code (RFC 6455 7.4). */
int
ws_close_code_valid(unsigned code)
{
	/*
	 * 1004-1006 and 1015 are reserved or never on the wire; 1012-1014
	 * are IANA registrations after the RFC; 3000-4999 are for libraries
	 * and applications.
	 */
	return (code >= 1000 && code <= 1003) ||
	    (code >= 1007 && code <= 1014) ||
	    (code >= 3000 && code <= 4999);
}

/* XORs src with the masking key into dst (RFC 6455 5.3). */
void
ws_unmask(uint8_t *dst, const uint8_t *src, size_t len,
    const uint8_t key[4], uint64_t offset)
{
	size_t	i;

	for (i = 0; i < len; i++)
		dst[i] = src[i] ^ key[(offset + i) & 3];
}

/* Resets the parser for a new connection. */
void
ws_parser_init(struct ws_parser *p, uint64_t max_message)
{
	memset(p, 0, sizeof(*p));
	p->max_message = max_message;
	p->utf8_state = UTF8_ACCEPT;
	p->err_reason = NULL;
}

/* Frees a control payload being buffered, if any. */
void
ws_parser_free(struct ws_parser *p)
{
	free(p->ctl);
	p->ctl = NULL;
	p->ctl_len = 0;
}

/* Allows compressed messages (RSV1 on a message's first frame). */
void
ws_parser_allow_rsv1(struct ws_parser *p)
{
	p->rsv1_ok = 1;
}

/* The parser reads a server's frames. */
void
ws_parser_set_client(struct ws_parser *p)
{
	p->client = 1;
}

/* 1 for close, ping and pong (RFC 6455 5.5). */
static int
ws_opcode_is_control(int opcode)
{
	return (opcode & 0x08) != 0;
}

/* 1 for the opcodes RFC 6455 5.2 defines. */
static int
ws_opcode_known(int opcode)
{
	switch (opcode) {
	case WS_OP_CONT:
	case WS_OP_TEXT:
	case WS_OP_BINARY:
	case WS_OP_CLOSE:
	case WS_OP_PING:
	case WS_OP_PONG:
		return 1;
	default:
		return 0;
	}
}

/* Empties an event. */
static void
ws_event_clear(struct ws_event *ev)
{
	ev->type = WS_EV_NONE;
	ev->opcode = 0;
	ev->first = 0;
	ev->fin = 0;
	ev->frame_end = 0;
	ev->compressed = 0;
	ev->data = NULL;
	ev->len = 0;
	ev->code = 0;
	ev->reason = NULL;
}

/* Records a sticky protocol error and reports it; returns -1. */
static int
ws_parser_fail(struct ws_parser *p, struct ws_event *ev, unsigned code,
    const char *reason)
{
	p->err_code = code;
	p->err_reason = reason;
	ws_event_clear(ev);
	ev->type = WS_EV_ERROR;
	ev->code = code;
	ev->reason = reason;
	return -1;
}

/* Bytes of extended payload length announced by the second header byte. */
static size_t
ws_header_extlen(const struct ws_parser *p)
{
	switch (p->hdr[1] & 0x7f) {
	case 126:
		return 2;
	case 127:
		return 8;
	default:
		return 0;
	}
}

/* Checks what the first two header bytes decide. */
static int
ws_header_check_start(struct ws_parser *p, struct ws_event *ev)
{
	uint8_t	b0 = p->hdr[0], b1 = p->hdr[1];

	p->fin = (b0 & 0x80) != 0;
	p->opcode = b0 & 0x0f;
	/* RFC 6455 5.2: RSV1-3 are 0 unless an extension says otherwise. */
	if ((b0 & 0x30) || ((b0 & 0x40) && !p->rsv1_ok))
		return ws_parser_fail(p, ev, WS_CLOSE_PROTOCOL,
		    "reserved bits set");
	if (!ws_opcode_known(p->opcode))
		return ws_parser_fail(p, ev, WS_CLOSE_PROTOCOL,
		    "unknown opcode");
	/* RFC 7692 6.1: RSV1 marks a message's first frame, nothing else. */
	if ((b0 & 0x40) && (ws_opcode_is_control(p->opcode) ||
	    p->opcode == WS_OP_CONT))
		return ws_parser_fail(p, ev, WS_CLOSE_PROTOCOL,
		    "RSV1 on a control or continuation frame");
	if (ws_opcode_is_control(p->opcode)) {
		/*
		 * RFC 6455 5.5: control frames are at most 125 bytes and
		 * never fragmented.
		 */
		if (!p->fin)
			return ws_parser_fail(p, ev, WS_CLOSE_PROTOCOL,
			    "fragmented control frame");
		if ((b1 & 0x7f) > WS_CONTROL_MAX)
			return ws_parser_fail(p, ev, WS_CLOSE_PROTOCOL,
			    "control frame too long");
	}
	/*
	 * RFC 6455 5.1: a server closes on any unmasked client frame, a
	 * client on any masked server frame.
	 */
	if (p->client && (b1 & 0x80))
		return ws_parser_fail(p, ev, WS_CLOSE_PROTOCOL,
		    "masked frame from the server");
	if (!p->client && !(b1 & 0x80))
		return ws_parser_fail(p, ev, WS_CLOSE_PROTOCOL,
		    "unmasked frame");
	return 0;
}

/*
 * Checks the payload length and the frame's place in the message once the
 * length is known, before the masking key and any payload.
 */
static int
ws_header_check_length(struct ws_parser *p, struct ws_event *ev)
{
	size_t		ext = ws_header_extlen(p), i;
	uint64_t	n, limit;

	if (ext == 0)
		n = p->hdr[1] & 0x7f;
	else {
		n = 0;
		for (i = 0; i < ext; i++)
			n = (n << 8) | p->hdr[2 + i];
	}
	/* RFC 6455 5.2: the most significant bit of a 64-bit length is 0. */
	if (n >> 63)
		return ws_parser_fail(p, ev, WS_CLOSE_PROTOCOL,
		    "invalid frame length");
	/* RFC 6455 5.2: "the minimal number of bytes MUST be used". */
	if ((ext == 2 && n < 126) || (ext == 8 && n <= 0xffff))
		return ws_parser_fail(p, ev, WS_CLOSE_PROTOCOL,
		    "non-minimal frame length");
	p->payload_len = n;
	p->payload_done = 0;
	p->ctl_len = 0;
	if (ws_opcode_is_control(p->opcode))
		return 0;

	/*
	 * RFC 6455 5.4: continuations follow a non-final text/binary frame,
	 * and a message ends before the next one starts.
	 */
	if (p->opcode == WS_OP_CONT) {
		if (p->msg_opcode == 0)
			return ws_parser_fail(p, ev, WS_CLOSE_PROTOCOL,
			    "continuation frame without a message");
	} else {
		if (p->msg_opcode != 0)
			return ws_parser_fail(p, ev, WS_CLOSE_PROTOCOL,
			    "new message inside a fragmented message");
		p->msg_opcode = p->opcode;
		p->msg_len = 0;
		p->msg_started = 0;
		p->msg_compressed = (p->hdr[0] & 0x40) != 0;
		p->utf8_state = UTF8_ACCEPT;
	}
	/*
	 * A compressed message is limited by its inflated size; on the wire
	 * it may exceed the limit by deflate's overhead for data that does
	 * not compress: 5 bytes per stored block, and a sender with a small
	 * memLevel cuts blocks short (python-websockets: 2 KiB, 0.25 %).
	 */
	limit = p->max_message;
	if (limit != 0 && p->msg_compressed)
		limit = limit > UINT64_MAX / 2 ? UINT64_MAX :
		    limit + limit / 8 + 1024;
	/* The announced length decides: the payload is never buffered. */
	if (limit != 0 && n > limit - p->msg_len)
		return ws_parser_fail(p, ev, WS_CLOSE_TOO_BIG,
		    "message too big");
	/* Only compared against max_message: saturate instead of wrapping. */
	p->msg_len = n > UINT64_MAX - p->msg_len ? UINT64_MAX : p->msg_len + n;
	return 0;
}

/* Takes one header byte and checks each rule once its bytes are in. */
static int
ws_header_byte(struct ws_parser *p, uint8_t b, struct ws_event *ev)
{
	size_t	ext;

	p->hdr[p->hdr_len++] = b;
	if (p->hdr_len < 2)
		return 0;
	if (p->hdr_len == 2 && ws_header_check_start(p, ev) == -1)
		return -1;
	ext = ws_header_extlen(p);
	if (p->hdr_len == 2 + ext && ws_header_check_length(p, ev) == -1)
		return -1;
	/* A client frame's mask bit is set (checked above): 4 key bytes
	 * end the header. A server frame has none: the key stays zero. */
	if (p->client && p->hdr_len == 2 + ext) {
		memset(p->mask, 0, sizeof(p->mask));
		p->hdr_len = 0;
		p->in_frame = 1;
	} else if (!p->client && p->hdr_len == 2 + ext + 4) {
		memcpy(p->mask, p->hdr + 2 + ext, 4);
		p->hdr_len = 0;
		p->in_frame = 1;
	}
	return 0;
}

/* Forgets the current message once it is complete. */
static void
ws_message_end(struct ws_parser *p)
{
	p->msg_opcode = 0;
	p->msg_len = 0;
	p->msg_started = 0;
	p->msg_compressed = 0;
	p->utf8_state = UTF8_ACCEPT;
}

/* Reports n unmasked payload bytes in out as DATA; -1 on an error. */
static int
ws_data_event(struct ws_parser *p, uint8_t *out, size_t n,
    struct ws_event *ev)
{
	int	frame_end, msg_end;

	frame_end = p->payload_done == p->payload_len;
	msg_end = frame_end && p->fin;
	if (frame_end)
		p->in_frame = 0;
	if (p->msg_opcode == WS_OP_TEXT && !p->msg_compressed) {
		/*
		 * RFC 6455 8.1: fail as soon as the text cannot be valid
		 * UTF-8, even in the middle of a frame.
		 */
		p->utf8_state = utf8_validate(p->utf8_state, out, n);
		if (p->utf8_state == UTF8_REJECT)
			return ws_parser_fail(p, ev, WS_CLOSE_INVALID_DATA,
			    "invalid UTF-8 in text message");
		if (msg_end && p->utf8_state != UTF8_ACCEPT)
			return ws_parser_fail(p, ev, WS_CLOSE_INVALID_DATA,
			    "incomplete UTF-8 at end of text message");
	}
	ev->type = WS_EV_DATA;
	ev->opcode = p->msg_opcode;
	ev->first = !p->msg_started;
	ev->fin = msg_end;
	ev->frame_end = frame_end;
	ev->compressed = p->msg_compressed;
	ev->data = out;
	ev->len = n;
	p->msg_started = 1;
	if (msg_end)
		ws_message_end(p);
	return 0;
}

/* Reports the complete control frame of len unmasked bytes at data. */
static void
ws_control_event(struct ws_parser *p, const uint8_t *data, size_t len,
    struct ws_event *ev)
{
	unsigned	code;

	p->in_frame = 0;
	ev->opcode = p->opcode;
	ev->data = data;
	ev->len = len;
	switch (p->opcode) {
	case WS_OP_PING:
		ev->type = WS_EV_PING;
		return;
	case WS_OP_PONG:
		ev->type = WS_EV_PONG;
		return;
	}

	/* RFC 6455 5.5.1: empty, or a 2-byte code and a UTF-8 reason. */
	if (len == 0) {
		ev->type = WS_EV_CLOSE;
		ev->code = WS_CLOSE_NO_STATUS;
		return;
	}
	if (len == 1) {
		ws_parser_fail(p, ev, WS_CLOSE_PROTOCOL,
		    "close frame with a 1-byte payload");
		return;
	}
	code = (unsigned)data[0] << 8 | data[1];
	if (!ws_close_code_valid(code)) {
		ws_parser_fail(p, ev, WS_CLOSE_PROTOCOL, "invalid close code");
		return;
	}
	if (!utf8_valid(data + 2, len - 2)) {
		ws_parser_fail(p, ev, WS_CLOSE_INVALID_DATA,
		    "invalid UTF-8 in close reason");
		return;
	}
	ev->type = WS_EV_CLOSE;
	ev->code = code;
	ev->data = data + 2;
	ev->len = len - 2;
}

/*
 * Consumes bytes from in and reports at most one event: DATA payload is
 * unmasked into out (at most outcap bytes), or in place when buf, the
 * writable in, is given.
 */
static size_t
ws_parser_run(struct ws_parser *p, const uint8_t *in, size_t len,
    uint8_t *buf, uint8_t *out, size_t outcap, struct ws_event *ev)
{
	size_t		off = 0, n;
	uint64_t	left;

	ws_event_clear(ev);
	/* The last call's control payload is no longer promised. */
	if (p->ctl != NULL && !p->in_frame)
		ws_parser_free(p);
	if (p->err_code != 0) {
		ev->type = WS_EV_ERROR;
		ev->code = p->err_code;
		ev->reason = p->err_reason;
		return 0;
	}
	for (;;) {
		if (!p->in_frame) {
			if (off == len)
				return off;
			if (ws_header_byte(p, in[off++], ev) == -1)
				return off;
			if (!p->in_frame || p->payload_len != 0)
				continue;
			/* An empty frame is complete with its header. */
			if (ws_opcode_is_control(p->opcode)) {
				ws_control_event(p, in + off, 0, ev);
				return off;
			}
			if (p->fin) {
				ws_data_event(p, buf != NULL ? buf + off : out,
				    0, ev);
				return off;
			}
			p->in_frame = 0;
			continue;
		}

		left = p->payload_len - p->payload_done;
		n = len - off;
		if (ws_opcode_is_control(p->opcode)) {
			/* At most 125 bytes: unmasked where they lie when
			 * all are here, else buffered until complete. */
			if (n > left)
				n = (size_t)left;
			if (buf != NULL && p->ctl == NULL && n == left) {
				ws_unmask(buf + off, in + off, n, p->mask, 0);
				off += n;
				p->payload_done += n;
				ws_control_event(p, buf + off - n, n, ev);
				return off;
			}
			if (n == 0)
				return off;
			if (p->ctl == NULL &&
			    (p->ctl = malloc(WS_CONTROL_MAX)) == NULL) {
				ws_parser_fail(p, ev, WS_CLOSE_INTERNAL,
				    "out of memory");
				return off;
			}
			ws_unmask(p->ctl + p->ctl_len, in + off, n, p->mask,
			    p->payload_done);
			off += n;
			p->ctl_len += n;
			p->payload_done += n;
			if (p->payload_done < p->payload_len)
				return off;
			ws_control_event(p, p->ctl, p->ctl_len, ev);
			return off;
		}

		/* Data is handed out piece by piece, unmasked into out or
		 * where it lies. */
		if (buf != NULL)
			out = buf + off;
		else if (n > outcap)
			n = outcap;
		if (n > left)
			n = (size_t)left;
		if (n == 0)
			return off;
		if (!p->client)
			ws_unmask(out, in + off, n, p->mask, p->payload_done);
		else if (out != in + off)
			memcpy(out, in + off, n);
		off += n;
		p->payload_done += n;
		ws_data_event(p, out, n, ev);
		return off;
	}
}

/* Consumes bytes from in and reports at most one event. */
size_t
ws_parser_feed(struct ws_parser *p, const uint8_t *in, size_t len,
    uint8_t *out, size_t outcap, struct ws_event *ev)
{
	return ws_parser_run(p, in, len, NULL, out, outcap, ev);
}

/* ws_parser_feed() unmasking the payload where it lies in buf. */
size_t
ws_parser_feed_inplace(struct ws_parser *p, uint8_t *buf, size_t len,
    struct ws_event *ev)
{
	return ws_parser_run(p, buf, len, buf, NULL, 0, ev);
}
