/* conn.c -- wsd-bench client connections: TCP, TLS, handshake, frames. */
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "bench.h"
#include "pmd.h"
#include "utf8.h"

/* io results besides a byte count */
#define IO_AGAIN	(-1)
#define IO_ERROR	(-2)

static void	bconn_read_cb(evutil_socket_t, short, void *);
static void	bconn_write_cb(evutil_socket_t, short, void *);
static void	bconn_tls_step(struct bconn *);

/* Makes room for n more bytes in a growable buffer; -1 out of memory. */
static int
buf_reserve(uint8_t **buf, size_t *cap, size_t len, size_t n)
{
	size_t	 want = *cap ? *cap : 256;
	uint8_t	*p;

	if (len + n <= *cap)
		return 0;
	while (want < len + n)
		want *= 2;
	if ((p = realloc(*buf, want)) == NULL)
		return -1;
	*buf = p;
	*cap = want;
	return 0;
}

/* XORs len bytes with a 4-byte key, a word at a time (RFC 6455 5.3). */
static void
bconn_mask(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t key[4])
{
	uint64_t	k, w;
	size_t		i = 0;

	memcpy(&k, key, 4);
	memcpy((uint8_t *)&k + 4, key, 4);
	for (; i + 8 <= len; i += 8) {
		memcpy(&w, src + i, 8);
		w ^= k;
		memcpy(dst + i, &w, 8);
	}
	for (; i < len; i++)
		dst[i] = src[i] ^ key[i & 3];
}

/* Arms write interest once: only while output waits for the socket. */
static void
bconn_want_write(struct bconn *c)
{
	if (!c->wev_armed) {
		event_add(&c->wev, NULL);
		c->wev_armed = 1;
	}
}

/* Tears a connection down; reason non-NULL counts an error. */
void
bconn_drop(struct bconn *c, const char *reason)
{
	int	clean = reason == NULL && c->st == BC_DRAIN;

	if (c->st == BC_DEAD)
		return;
	if (c->st == BC_TCP || c->st == BC_TLS || c->st == BC_HS)
		bench.pending--;
	if (reason != NULL)
		bench_error(c, "%s", reason);
	event_del(&c->rev);
	event_del(&c->wev);
	c->wev_armed = 0;
	if (c->ssl != NULL) {
		/* No close_notify: the WebSocket closing handshake is done. */
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	close(c->fd);
	c->fd = -1;
	c->st = BC_DEAD;
	c->olen = c->ooff = c->ilen = c->mlen = c->zlen = 0;
	c->mop = 0;
	c->close_sent = 0;
	c->deadline = 0;
	pmd_free(c->pmd);
	c->pmd = NULL;
	if (c->ready) {
		c->ready = 0;
		bench.nready--;
	}
	bench.nalive--;
	mode_closed(c, clean);
	bench_launch();
}

/* Writes what is queued; arms write interest on EAGAIN. */
void
bconn_flush(struct bconn *c)
{
	ssize_t	n;
	int	e;

	while (c->ooff < c->olen) {
		if (c->ssl != NULL) {
			ERR_clear_error();
			n = SSL_write(c->ssl, c->obuf + c->ooff,
			    (int)(c->olen - c->ooff));
			if (n <= 0) {
				e = SSL_get_error(c->ssl, (int)n);
				if (e == SSL_ERROR_WANT_WRITE ||
				    e == SSL_ERROR_WANT_READ) {
					bconn_want_write(c);
					return;
				}
				bconn_drop(c, "TLS write failed");
				return;
			}
		} else {
			n = send(c->fd, c->obuf + c->ooff, c->olen - c->ooff,
			    MSG_NOSIGNAL);
			if (n < 0) {
				if (errno == EAGAIN || errno == EINTR) {
					bconn_want_write(c);
					return;
				}
				bconn_drop(c, "write failed");
				return;
			}
		}
		c->ooff += (size_t)n;
	}
	c->olen = c->ooff = 0;
}

/* Queues bytes for the socket. */
static int
bconn_queue(struct bconn *c, const uint8_t *p, size_t len)
{
	if (buf_reserve(&c->obuf, &c->ocap, c->olen, len) == -1)
		return -1;
	memcpy(c->obuf + c->olen, p, len);
	c->olen += len;
	return 0;
}

/*
 * Queues one masked frame (RFC 6455 5.3: a client masks every frame with
 * a fresh key), compressing data messages when permessage-deflate is on.
 * The caller flushes: frames queued in one callback go out in one write.
 */
int
bconn_send(struct bconn *c, int opcode, const uint8_t *data, size_t len)
{
	uint8_t		 hdr[WS_HEADER_MAX];
	uint64_t	 r;
	size_t		 hl, zlen;
	int		 rsv1 = 0;

	if (c->st != BC_OPEN && !(c->st == BC_CLOSING && opcode >= 8))
		return 0;
	if (c->pmd != NULL && opcode < 8) {
		if (bench.zscratch_len < pmd_deflate_bound(len)) {
			free(bench.zscratch);
			bench.zscratch_len = pmd_deflate_bound(len);
			if ((bench.zscratch = malloc(bench.zscratch_len)) ==
			    NULL) {
				bench.zscratch_len = 0;
				bconn_drop(c, "out of memory");
				return -1;
			}
		}
		if (pmd_deflate(c->pmd, data, len, bench.zscratch,
		    bench.zscratch_len, &zlen) != PMD_OK) {
			bconn_drop(c, "deflate failed");
			return -1;
		}
		data = bench.zscratch;
		len = zlen;
		rsv1 = 1;
	}
	hl = ws_frame_header_encode(hdr, 1, opcode, len);
	if (rsv1)
		hdr[0] |= 0x40;
	hdr[1] |= 0x80;
	r = bench_rand();
	memcpy(hdr + hl, &r, 4);
	if (buf_reserve(&c->obuf, &c->ocap, c->olen, hl + 4 + len) == -1) {
		bconn_drop(c, "out of memory");
		return -1;
	}
	memcpy(c->obuf + c->olen, hdr, hl + 4);
	bconn_mask(c->obuf + c->olen + hl + 4, data, len, hdr + hl);
	c->olen += hl + 4 + len;
	return 0;
}

/* Queues a close frame with a code and moves to CLOSING. */
int
bconn_send_close(struct bconn *c, unsigned code)
{
	uint8_t	p[2];

	if (c->st != BC_OPEN)
		return 0;
	p[0] = (uint8_t)(code >> 8);
	p[1] = (uint8_t)code;
	c->st = BC_CLOSING;
	c->close_sent = 1;
	c->deadline = bench_now() + BENCH_CLOSE_TIMEOUT_US;
	return bconn_send(c, WS_OP_CLOSE, p, 2);
}

/* Starts the next connection attempt of c. */
void
bconn_start(struct bconn *c)
{
	struct sockaddr_storage	*src, dst = bench.addr;
	int			 one = 1, fd;

	c->t_start = bench_now();
	c->deadline = c->t_start + BENCH_CONNECT_TIMEOUT_US;
	c->st = BC_TCP;
	bench.pending++;
	bench.nalive++;
	if ((fd = socket(bench.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1) {
		c->fd = -1;
		c->st = BC_DEAD;
		bench.pending--;
		bench.nalive--;
		bench_error(c, "socket: %s", strerror(errno));
		mode_closed(c, 0);
		return;
	}
	c->fd = fd;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	event_assign(&c->rev, bench.base, fd, EV_READ | EV_PERSIST,
	    bconn_read_cb, c);
	event_assign(&c->wev, bench.base, fd, EV_WRITE, bconn_write_cb, c);
	if (bench.nsources > 0) {
		/* Let connect() pick the port: 4-tuples, not ports, are
		   unique, so each source address has its own port range. */
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
		    sizeof(one));
		src = &bench.sources[c->idx % bench.nsources];
		if (bind(fd, (struct sockaddr *)src,
		    src->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
		    sizeof(struct sockaddr_in)) == -1) {
			bconn_drop(c, "bind to --source address failed");
			return;
		}
	}
	/* The publisher may talk to another node of a cluster. */
	if (c->publisher && bench.publish_port != 0) {
		if (dst.ss_family == AF_INET6)
			((struct sockaddr_in6 *)&dst)->sin6_port =
			    htons((uint16_t)bench.publish_port);
		else
			((struct sockaddr_in *)&dst)->sin_port =
			    htons((uint16_t)bench.publish_port);
	}
	if (connect(fd, (struct sockaddr *)&dst, bench.addrlen) ==
	    -1 && errno != EINPROGRESS) {
		bconn_drop(c, errno == EADDRNOTAVAIL ?
		    "connect: no free local port (use --source)" :
		    "connect failed");
		return;
	}
	bconn_want_write(c);
}

/* Base64 of n bytes into out (4 * ceil(n / 3) + 1 bytes). */
static void
bconn_b64(char *out, const uint8_t *in, size_t n)
{
	EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

/* Queues the upgrade request (RFC 6455 4.1) and waits for the 101. */
static void
bconn_send_upgrade(struct bconn *c)
{
	uint8_t		 nonce[16];
	uint64_t	 r;
	char		 key[25], req[1024];
	int		 n;

	r = bench_rand();
	memcpy(nonce, &r, 8);
	r = bench_rand();
	memcpy(nonce + 8, &r, 8);
	bconn_b64(key, nonce, sizeof(nonce));
	if (ws_accept_key(key, strlen(key), c->accept) == -1) {
		bconn_drop(c, "cannot compute the accept key");
		return;
	}
	n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\n"
	    "Host: %s\r\n"
	    "Upgrade: websocket\r\n"
	    "Connection: Upgrade\r\n"
	    "Sec-WebSocket-Key: %s\r\n"
	    "Sec-WebSocket-Version: 13\r\n"
	    "%s"
	    "\r\n", bench.path, bench.hostport, key, bench.deflate ?
	    "Sec-WebSocket-Extensions: permessage-deflate; "
	    "client_max_window_bits\r\n" : "");
	if (n < 0 || (size_t)n >= sizeof(req)) {
		bconn_drop(c, "request too long");
		return;
	}
	c->st = BC_HS;
	if (bconn_queue(c, (const uint8_t *)req, (size_t)n) == -1) {
		bconn_drop(c, "out of memory");
		return;
	}
	bconn_flush(c);
}

/* The value of header name in a response head, or NULL; *len its length. */
static const char *
bconn_header(const char *head, size_t hlen, const char *name, size_t *len)
{
	const char	*p = head, *end = head + hlen, *eol, *v;
	size_t		 nl = strlen(name);

	while (p < end && (eol = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		if ((size_t)(eol - p) > nl && p[nl] == ':' &&
		    strncasecmp(p, name, nl) == 0) {
			v = p + nl + 1;
			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			*len = (size_t)(eol - v);
			while (*len > 0 && (v[*len - 1] == '\r' ||
			    v[*len - 1] == ' ' || v[*len - 1] == '\t'))
				(*len)--;
			return v;
		}
		p = eol + 1;
	}
	return NULL;
}

/* Parses the server's permessage-deflate answer into mirrored params. */
static int
bconn_pmd_response(const char *v, size_t len, struct pmd_params *p)
{
	char	 buf[256], *tok, *save, *eq;
	int	 bits;

	if (len >= sizeof(buf))
		return -1;
	memcpy(buf, v, len);
	buf[len] = '\0';
	/*
	 * pmd.c is written for the server: "server" is the side that
	 * compresses with it. Here we compress with the client's parameters
	 * and inflate with the server's, so they are swapped.
	 */
	p->server_no_context_takeover = 0;
	p->client_no_context_takeover = 0;
	p->server_max_window_bits = 15;
	p->client_max_window_bits = 15;
	tok = strtok_r(buf, ";", &save);
	if (tok == NULL || strcmp(tok + strspn(tok, " \t"),
	    "permessage-deflate") != 0)
		return -1;
	while ((tok = strtok_r(NULL, ";", &save)) != NULL) {
		tok += strspn(tok, " \t");
		tok[strcspn(tok, " \t")] = '\0';
		bits = 0;
		if ((eq = strchr(tok, '=')) != NULL) {
			*eq++ = '\0';
			if (*eq == '"')
				eq++;
			bits = atoi(eq);
		}
		if (strcmp(tok, "server_no_context_takeover") == 0)
			p->client_no_context_takeover = 1;
		else if (strcmp(tok, "client_no_context_takeover") == 0)
			p->server_no_context_takeover = 1;
		else if (strcmp(tok, "server_max_window_bits") == 0 &&
		    bits >= 8 && bits <= 15)
			p->client_max_window_bits = bits;
		else if (strcmp(tok, "client_max_window_bits") == 0 &&
		    bits >= 8 && bits <= 15)
			p->server_max_window_bits = bits < 9 ? 9 : bits;
		else
			return -1;
	}
	return 0;
}

/*
 * Checks the 101 response (RFC 6455 4.1: status, Upgrade, Connection,
 * Sec-WebSocket-Accept, no extension we did not offer). Returns the head's
 * length, 0 when incomplete, -1 after dropping c.
 */
static ssize_t
bconn_handshake(struct bconn *c, const uint8_t *data, size_t len)
{
	const char		*head = (const char *)data, *v, *end;
	struct pmd_params	 pp;
	size_t			 hlen, vl;
	char			 why[96];

	end = memmem(head, len, "\r\n\r\n", 4);
	if (end == NULL) {
		if (len > 8192) {
			bconn_drop(c, "response head too long");
			return -1;
		}
		return 0;
	}
	hlen = (size_t)(end - head) + 4;
	if (hlen < 12 || memcmp(head, "HTTP/1.1 101", 12) != 0) {
		vl = strcspn(head, "\r\n");
		snprintf(why, sizeof(why), "handshake refused: %.*s",
		    (int)(vl < 60 ? vl : 60), head);
		bconn_drop(c, why);
		return -1;
	}
	if ((v = bconn_header(head, hlen, "Sec-WebSocket-Accept", &vl)) ==
	    NULL || vl != WS_ACCEPT_LEN - 1 ||
	    memcmp(v, c->accept, vl) != 0) {
		bconn_drop(c, "bad Sec-WebSocket-Accept");
		return -1;
	}
	if ((v = bconn_header(head, hlen, "Upgrade", &vl)) == NULL ||
	    vl != 9 || strncasecmp(v, "websocket", 9) != 0) {
		bconn_drop(c, "bad Upgrade header in 101");
		return -1;
	}
	if ((v = bconn_header(head, hlen, "Sec-WebSocket-Extensions",
	    &vl)) != NULL) {
		if (!bench.deflate || bconn_pmd_response(v, vl, &pp) == -1) {
			bconn_drop(c, "unexpected Sec-WebSocket-Extensions");
			return -1;
		}
		if ((c->pmd = pmd_new(&pp, 1)) == NULL) {
			bconn_drop(c, "out of memory");
			return -1;
		}
	}
	c->st = BC_OPEN;
	c->deadline = 0;
	bench.pending--;
	bench_launch();
	mode_open(c);
	return (ssize_t)hlen;
}

/* Appends inflated bytes to the connection's message buffer. */
static int
bconn_inflate_sink(void *arg, const uint8_t *data, size_t len)
{
	struct bconn	*c = arg;

	if (buf_reserve(&c->zbuf, &c->zcap, c->zlen, len) == -1)
		return -1;
	memcpy(c->zbuf + c->zlen, data, len);
	c->zlen += len;
	return 0;
}

/* Hands a complete message to the mode, inflating and checking it. */
static int
bconn_message(struct bconn *c, int opcode, int rsv1, const uint8_t *data,
    size_t len)
{
	if (rsv1) {
		c->zlen = 0;
		if (pmd_inflate(c->pmd, data, len, 1, BENCH_MAX_MESSAGE,
		    bconn_inflate_sink, c) != PMD_OK) {
			bconn_drop(c, "cannot inflate a message");
			return -1;
		}
		data = c->zbuf;
		len = c->zlen;
	}
	if (opcode == WS_OP_TEXT && !utf8_valid(data, len)) {
		bconn_drop(c, "text message is not UTF-8");
		return -1;
	}
	return mode_message(c, opcode, data, len);
}

/* Handles a complete control frame. */
static int
bconn_control(struct bconn *c, int opcode, const uint8_t *p, size_t len)
{
	unsigned	code = WS_CLOSE_NO_STATUS;
	uint8_t		echo[2];

	switch (opcode) {
	case WS_OP_PING:
		return bconn_send(c, WS_OP_PONG, p, len);
	case WS_OP_PONG:
		return 0;
	case WS_OP_CLOSE:
		if (len >= 2)
			code = (unsigned)p[0] << 8 | p[1];
		if (c->st == BC_OPEN) {
			if (!mode_server_close_ok(c)) {
				char	why[64];

				snprintf(why, sizeof(why),
				    "server closed the connection (%u)", code);
				bconn_drop(c, why);
				return -1;
			}
			/* RFC 6455 5.5.1: answer with the same code. */
			echo[0] = (uint8_t)(code >> 8);
			echo[1] = (uint8_t)code;
			c->st = BC_CLOSING;
			bconn_send(c, WS_OP_CLOSE, echo,
			    code == WS_CLOSE_NO_STATUS ? 0 : 2);
		}
		/* The server closes TCP first (RFC 6455 7.1.1). */
		c->st = BC_DRAIN;
		c->deadline = bench_now() + BENCH_CLOSE_TIMEOUT_US;
		return 0;
	}
	bconn_drop(c, "unknown control opcode");
	return -1;
}

/*
 * Parses and handles the complete frames at the start of data (server
 * frames: unmasked, RFC 6455 5.1). Returns the bytes consumed, or -1 once
 * c was dropped.
 */
static ssize_t
bconn_frames(struct bconn *c, const uint8_t *data, size_t len)
{
	size_t		 pos = 0, hl, i;
	uint64_t	 plen;
	int		 fin, rsv, op;
	const uint8_t	*p;

	while (len - pos >= 2 && c->st != BC_DEAD) {
		p = data + pos;
		fin = p[0] & 0x80;
		rsv = p[0] & 0x70;
		op = p[0] & 0x0f;
		if (p[1] & 0x80) {
			bconn_drop(c, "masked frame from the server");
			return -1;
		}
		plen = p[1] & 0x7f;
		hl = 2;
		if (plen == 126) {
			if (len - pos < 4)
				break;
			plen = (uint64_t)p[2] << 8 | p[3];
			hl = 4;
		} else if (plen == 127) {
			if (len - pos < 10)
				break;
			for (plen = 0, i = 0; i < 8; i++)
				plen = plen << 8 | p[2 + i];
			hl = 10;
		}
		if (plen > BENCH_MAX_MESSAGE) {
			bconn_drop(c, "frame too large");
			return -1;
		}
		if (len - pos < hl + plen)
			break;
		p += hl;
		pos += hl + (size_t)plen;
		/* RFC 7692 6: RSV1 only on a compressed message's first frame. */
		if ((rsv & ~0x40) != 0 || (rsv && (c->pmd == NULL ||
		    op == WS_OP_CONT || op >= 8))) {
			bconn_drop(c, "reserved bits set");
			return -1;
		}
		if (op >= 8) {
			if (!fin || plen > WS_CONTROL_MAX) {
				bconn_drop(c, "bad control frame");
				return -1;
			}
			if (bconn_control(c, op, p, (size_t)plen) == -1)
				return -1;
			continue;
		}
		if (c->st != BC_OPEN && c->st != BC_CLOSING)
			continue;	/* data after a close: ignored */
		if (op == WS_OP_CONT ? c->mop == 0 :
		    (op != WS_OP_TEXT && op != WS_OP_BINARY) || c->mop != 0) {
			bconn_drop(c, "bad frame sequence");
			return -1;
		}
		if (op != WS_OP_CONT && fin) {
			/* The common case: one frame, handled in place. */
			if (bconn_message(c, op, rsv != 0, p, (size_t)plen) ==
			    -1)
				return -1;
			continue;
		}
		if (op != WS_OP_CONT) {
			c->mop = op;
			c->mrsv1 = rsv != 0;
			c->mlen = 0;
		}
		if (c->mlen + plen > BENCH_MAX_MESSAGE ||
		    buf_reserve(&c->mbuf, &c->mcap, c->mlen, (size_t)plen) ==
		    -1) {
			bconn_drop(c, "message too large");
			return -1;
		}
		memcpy(c->mbuf + c->mlen, p, (size_t)plen);
		c->mlen += (size_t)plen;
		if (fin) {
			op = c->mop;
			c->mop = 0;
			if (bconn_message(c, op, c->mrsv1, c->mbuf, c->mlen) ==
			    -1)
				return -1;
		}
	}
	return c->st == BC_DEAD ? -1 : (ssize_t)pos;
}

/* Handles bytes received in the current state; consumed or -1. */
static ssize_t
bconn_input(struct bconn *c, const uint8_t *data, size_t len)
{
	ssize_t	hl, n;

	if (c->st != BC_HS)
		return bconn_frames(c, data, len);
	if ((hl = bconn_handshake(c, data, len)) <= 0)
		return hl;
	/* Frames may follow the head in the same read. */
	if (c->st == BC_DEAD)
		return -1;
	if ((n = bconn_frames(c, data + hl, len - (size_t)hl)) == -1)
		return -1;
	return hl + n;
}

/* Reads once: bytes, 0 at EOF, IO_AGAIN, IO_ERROR. */
static ssize_t
bconn_io_read(struct bconn *c, uint8_t *buf, size_t cap)
{
	ssize_t	n;
	int	e;

	if (c->ssl != NULL) {
		ERR_clear_error();
		n = SSL_read(c->ssl, buf, (int)cap);
		if (n > 0)
			return n;
		e = SSL_get_error(c->ssl, (int)n);
		if (e == SSL_ERROR_WANT_READ)
			return IO_AGAIN;
		if (e == SSL_ERROR_WANT_WRITE) {
			bconn_want_write(c);
			return IO_AGAIN;
		}
		if (e == SSL_ERROR_ZERO_RETURN)
			return 0;
		/* An EOF without close_notify is an EOF to a WebSocket. */
		if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
			return 0;
		if (e == SSL_ERROR_SSL && ERR_GET_REASON(ERR_peek_error()) ==
		    SSL_R_UNEXPECTED_EOF_WHILE_READING)
			return 0;
		return IO_ERROR;
	}
	n = recv(c->fd, buf, cap, 0);
	if (n >= 0)
		return n;
	if (errno == EAGAIN || errno == EINTR)
		return IO_AGAIN;
	return IO_ERROR;
}

/* The end of the byte stream: normal in DRAIN, an error elsewhere. */
static void
bconn_eof(struct bconn *c)
{
	if (c->st == BC_DRAIN) {
		bconn_drop(c, NULL);
		return;
	}
	bconn_drop(c, c->st == BC_HS ? "connection closed during handshake" :
	    "connection closed without a closing handshake");
}

/*
 * Reads what the socket has. Bytes go into the loop's scratch buffer and
 * are parsed there; only a partial frame is kept in the connection.
 */
static void
bconn_read(struct bconn *c)
{
	uint8_t	*dst, *data;
	size_t	 cap, len, left;
	ssize_t	 n, used;
	int	 rounds;

	for (rounds = 0; rounds < 16 && c->st != BC_DEAD; rounds++) {
		if (c->ilen > 0) {
			if (buf_reserve(&c->ibuf, &c->icap, c->ilen, 16384) ==
			    -1) {
				bconn_drop(c, "out of memory");
				return;
			}
			dst = c->ibuf + c->ilen;
			cap = c->icap - c->ilen;
		} else {
			dst = bench.scratch;
			cap = bench.scratch_len;
		}
		if ((n = bconn_io_read(c, dst, cap)) == IO_AGAIN)
			break;
		if (n == 0) {
			bconn_eof(c);
			return;
		}
		if (n < 0) {
			bconn_drop(c, c->ssl ? "TLS read failed" :
			    "read failed");
			return;
		}
		if (dst == bench.scratch) {
			data = dst;
			len = (size_t)n;
		} else {
			c->ilen += (size_t)n;
			data = c->ibuf;
			len = c->ilen;
		}
		if ((used = bconn_input(c, data, len)) == -1)
			return;
		left = len - (size_t)used;
		if (data == c->ibuf) {
			memmove(c->ibuf, c->ibuf + used, left);
			c->ilen = left;
		} else if (left > 0) {
			if (buf_reserve(&c->ibuf, &c->icap, 0, left) == -1) {
				bconn_drop(c, "out of memory");
				return;
			}
			memcpy(c->ibuf, data + used, left);
			c->ilen = left;
		}
		/* A plain socket that did not fill the buffer is empty. */
		if (c->ssl == NULL && (size_t)n < cap)
			break;
	}
	if (c->st == BC_DEAD)
		return;
	/* Records TLS decrypted but we did not take: no readiness follows. */
	if (c->ssl != NULL && SSL_pending(c->ssl) > 0)
		event_active(&c->rev, EV_READ, 1);
	bconn_flush(c);
}

/* Readable: TLS handshake progress or bytes. */
static void
bconn_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bconn	*c = arg;

	(void)fd;
	(void)what;
	if (c->st == BC_TLS)
		bconn_tls_step(c);
	else if (c->st != BC_DEAD && c->st != BC_TCP)
		bconn_read(c);
}

/* Drives SSL_connect(); sends the upgrade once it is done. */
static void
bconn_tls_step(struct bconn *c)
{
	int	rc, e;

	ERR_clear_error();
	if ((rc = SSL_connect(c->ssl)) == 1) {
		bconn_send_upgrade(c);
		return;
	}
	e = SSL_get_error(c->ssl, rc);
	if (e == SSL_ERROR_WANT_READ)
		return;
	if (e == SSL_ERROR_WANT_WRITE) {
		bconn_want_write(c);
		return;
	}
	bconn_drop(c, "TLS handshake failed");
}

/* Connected, or TLS wants to write, or the socket has room again. */
static void
bconn_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bconn	*c = arg;
	int		 err = 0;
	socklen_t	 len = sizeof(err);

	(void)what;
	c->wev_armed = 0;
	switch (c->st) {
	case BC_DEAD:
		return;
	case BC_TCP:
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 ||
		    err != 0) {
			bconn_drop(c, err == ECONNREFUSED ?
			    "connection refused" : "connect failed");
			return;
		}
		event_add(&c->rev, NULL);
		if (!bench.tls) {
			bconn_send_upgrade(c);
			return;
		}
		if ((c->ssl = SSL_new(bench.ssl_ctx)) == NULL ||
		    SSL_set_fd(c->ssl, c->fd) != 1) {
			bconn_drop(c, "SSL_new failed");
			return;
		}
		SSL_set_tlsext_host_name(c->ssl, bench.host);
		if (bench.cafile != NULL)
			SSL_set1_host(c->ssl, bench.host);
		c->st = BC_TLS;
		bconn_tls_step(c);
		return;
	case BC_TLS:
		bconn_tls_step(c);
		return;
	default:
		bconn_flush(c);
		/* A TLS read that wanted to write may have bytes waiting. */
		if (c->ssl != NULL && c->st != BC_DEAD)
			bconn_read(c);
		return;
	}
}

/* Drops a connection whose deadline passed. */
void
bconn_check_deadline(struct bconn *c, uint64_t now)
{
	static const char *const what[] = {
		[BC_TCP] = "connect timed out",
		[BC_TLS] = "TLS handshake timed out",
		[BC_HS] = "WebSocket handshake timed out",
		[BC_OPEN] = "no reply in time",
		[BC_CLOSING] = "closing handshake timed out",
		[BC_DRAIN] = "server did not close TCP in time",
	};

	if (c->st == BC_DEAD || c->deadline == 0 || now < c->deadline)
		return;
	/* In teardown a slow close is the server's business, not an error. */
	bconn_drop(c, bench.phase == PH_TEARDOWN ? NULL : what[c->st]);
}
