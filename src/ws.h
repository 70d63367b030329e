/* ws.h -- pure RFC 6455 handshake, frame codec and close codes. */
#ifndef WSD_WS_H
#define WSD_WS_H

#include <stddef.h>
#include <stdint.h>

struct http_request;

/* RFC 6455 5.2 opcodes. */
#define WS_OP_CONT	0x0
#define WS_OP_TEXT	0x1
#define WS_OP_BINARY	0x2
#define WS_OP_CLOSE	0x8
#define WS_OP_PING	0x9
#define WS_OP_PONG	0xa

/* RFC 6455 7.4.1 status codes. */
#define WS_CLOSE_NORMAL		1000
#define WS_CLOSE_GOING_AWAY	1001
#define WS_CLOSE_PROTOCOL	1002
#define WS_CLOSE_UNSUPPORTED	1003
#define WS_CLOSE_NO_STATUS	1005	/* never on the wire */
#define WS_CLOSE_ABNORMAL	1006	/* never on the wire */
#define WS_CLOSE_INVALID_DATA	1007
#define WS_CLOSE_POLICY		1008
#define WS_CLOSE_TOO_BIG	1009
#define WS_CLOSE_MANDATORY_EXT	1010
#define WS_CLOSE_INTERNAL	1011

/* RFC 6455 5.5: control frame payloads are at most 125 bytes. */
#define WS_CONTROL_MAX		125
/* Largest frame header: 2 + 8 (length) + 4 (mask). */
#define WS_HEADER_MAX		14
/* Length of a Sec-WebSocket-Accept value plus NUL. */
#define WS_ACCEPT_LEN		29

/*
 * Computes Sec-WebSocket-Accept for a client key (RFC 6455 4.2.2): base64 of
 * SHA-1(key + GUID). The key must be base64 of exactly 16 bytes. Returns 0,
 * or -1 when the key is invalid.
 */
int	ws_accept_key(const char *key, size_t len, char out[WS_ACCEPT_LEN]);

/*
 * Validates an opening handshake (RFC 6455 4.2.1). Returns 0 and fills
 * accept when the request is a valid version-13 upgrade; otherwise the HTTP
 * status to answer with (405 not GET, 400 bad/missing Upgrade, Connection
 * or Host, 426 Sec-WebSocket-Version not one "13", then 400 a bad or
 * missing Sec-WebSocket-Key) and *reason, a static human-readable string
 * for the body and the log.
 */
int	ws_handshake_check(const struct http_request *req,
	    char accept[WS_ACCEPT_LEN], const char **reason);


/*
 * Subprotocol negotiation (RFC 6455 4.2.2): walks the offers of every
 * Sec-WebSocket-Protocol header in order (comma-separated, empty elements
 * ignored) and picks the first one that equals (case-sensitively) one of
 * the n supported names. Returns 1 with its index in *sel, 0 when none
 * matches or nothing was offered, -1 when an offer is not a valid token
 * (RFC 7230 3.2.6): the handshake is then answered with 400.
 */
int	ws_subprotocol_select(const struct http_request *req,
	    char *const *supported, size_t n, size_t *sel);

/*
 * Writes an unmasked server frame header for a payload of len bytes into
 * out and returns its length (2, 4 or 10).
 */
size_t	ws_frame_header_encode(uint8_t out[10], int fin, int opcode,
	    uint64_t len);

/*
 * Builds a close frame payload (code in network order + reason, reason cut
 * to fit 125 bytes on a UTF-8 boundary) into out and returns its length.
 * code WS_CLOSE_NO_STATUS gives an empty payload.
 */
size_t	ws_close_payload(uint8_t out[WS_CONTROL_MAX], unsigned code,
	    const char *reason);

/* 1 if a peer may send this close code (RFC 6455 7.4), else 0. */
int	ws_close_code_valid(unsigned code);

/*
 * XORs len bytes of src with key into dst (dst may equal src). offset is
 * the position of src[0] in the frame payload, so a payload can be unmasked
 * in pieces.
 */
void	ws_unmask(uint8_t *dst, const uint8_t *src, size_t len,
	    const uint8_t key[4], uint64_t offset);

/* What ws_parser_feed() found. */
enum ws_event_type {
	WS_EV_NONE = 0,	/* consumed everything offered; need more bytes */
	WS_EV_DATA,	/* a piece of a text/binary message, unmasked */
	WS_EV_PING,	/* a complete ping; data/len is its payload */
	WS_EV_PONG,	/* a complete pong */
	WS_EV_CLOSE,	/* a valid close frame; code and reason parsed */
	WS_EV_ERROR,	/* protocol violation; close with ev->code */
};

struct ws_event {
	enum ws_event_type type;
	int		 opcode;	/* DATA: message opcode, TEXT or BINARY */
	int		 first;		/* DATA: first piece of the message */
	int		 fin;		/* DATA: last piece of the message */
	int		 frame_end;	/* DATA: last piece of its frame */
	int		 compressed;	/* DATA: RSV1 message (RFC 7692) */
	const uint8_t	*data;		/* payload piece (out buffer or parser) */
	size_t		 len;
	unsigned	 code;		/* CLOSE: peer's code (1005 if none);
					   ERROR: code to close with */
	const char	*reason;	/* ERROR: static description */
};

/*
 * Incremental frame decoder for the server side. It enforces every frame
 * rule of RFC 6455: masking, reserved bits, opcodes, control frame size and
 * fragmentation, continuation order, UTF-8 of text messages (checked as
 * bytes arrive, across fragments) and of close reasons, close codes, and
 * the message size limit (checked against the announced length before any
 * payload is read). A control frame complete in what one in-place call is
 * given is unmasked where it lies; otherwise its payload is buffered in
 * WS_CONTROL_MAX bytes allocated when it starts and freed by the next call
 * or ws_parser_free(): an idle parser holds nothing but itself.
 */
struct ws_parser {
	uint64_t	 max_message;	/* 0: no limit */
	/* current frame */
	uint64_t	 payload_len;
	uint64_t	 payload_done;
	/* current message */
	uint64_t	 msg_len;
	uint32_t	 utf8_state;
	/* sticky error */
	unsigned	 err_code;
	const char	*err_reason;
	/* control frame payload: NULL unless one is being buffered */
	uint8_t		*ctl;
	uint8_t		 ctl_len;
	uint8_t		 hdr[WS_HEADER_MAX];
	uint8_t		 hdr_len;
	uint8_t		 mask[4];
	uint8_t		 opcode;
	uint8_t		 msg_opcode;	/* 0 when no message is open */
	unsigned	 fin:1;
	unsigned	 in_frame:1;	/* header parsed, payload pending */
	unsigned	 msg_started:1;	/* a DATA event was emitted */
	unsigned	 msg_compressed:1; /* RSV1 on its first frame */
	unsigned	 rsv1_ok:1;	/* permessage-deflate negotiated */
	unsigned	 client:1;	/* we are the client: frames unmasked */
};

void	ws_parser_init(struct ws_parser *p, uint64_t max_message);
/* Frees what the parser holds (a control frame being buffered). */
void	ws_parser_free(struct ws_parser *p);

/*
 * Allows RSV1 on the first frame of a data message (RFC 7692 6: the
 * message is compressed). Such messages come out as DATA events with
 * compressed set: their UTF-8 is for the caller to check once inflated,
 * and their wire size may pass max_message by an eighth plus 1 KiB
 * (deflate's overhead on data that does not compress); the inflated size
 * is the caller's limit.
 */
void	ws_parser_allow_rsv1(struct ws_parser *p);

/*
 * Makes the parser a client's (RFC 6455 5.1): frames from the server are
 * unmasked, and a masked one is a protocol error.
 */
void	ws_parser_set_client(struct ws_parser *p);

/*
 * Writes a masked client frame header (RFC 6455 5.2, 5.3) with the
 * masking key into out and returns its length (6, 8 or 14). The payload
 * is masked with ws_unmask(), which is its own inverse.
 */
size_t	ws_frame_header_encode_masked(uint8_t out[WS_HEADER_MAX], int fin,
	    int opcode, uint64_t len, const uint8_t key[4]);

/*
 * Consumes bytes from in and reports at most one event in *ev. Returns the
 * number of bytes consumed (possibly 0 with an event, e.g. a zero-length
 * final frame already buffered). DATA payload is unmasked into out (at most
 * outcap bytes a call); control payloads point into the parser and stay
 * valid until the next call. Out of memory for a control payload is an
 * error with WS_CLOSE_INTERNAL. After WS_EV_ERROR every call returns 0 and the
 * same error.
 */
size_t	ws_parser_feed(struct ws_parser *p, const uint8_t *in, size_t len,
	    uint8_t *out, size_t outcap, struct ws_event *ev);

/*
 * As ws_parser_feed(), but DATA payload is unmasked in place: ev->data
 * points into buf, at the bytes it was unmasked from, and a piece is as
 * long as what buf holds of the frame. A control frame wholly in buf is
 * unmasked there too (ev->data points into buf); one split across calls is
 * buffered in the parser. Masked bytes before the piece are left as they
 * were; nothing past the bytes consumed is touched.
 */
size_t	ws_parser_feed_inplace(struct ws_parser *p, uint8_t *buf, size_t len,
	    struct ws_event *ev);

#endif
