/* proxy.h -- who is behind a proxy: PROXY protocol, forwarding headers. */
#ifndef WSD_PROXY_H
#define WSD_PROXY_H

#include <stddef.h>
#include <stdint.h>

#include "cidr.h"

struct http_request;

/* proxy_parse() results besides the header's length. */
#define PROXY_PARTIAL	0		/* need more bytes */
#define PROXY_ERROR	(-1)		/* not a valid PROXY header */

/* v1 lines are at most 107 bytes; v2 headers we take up to this size. */
#define PROXY_V1_MAX	107
#define PROXY_V2_MAX	(16 + 2048)

/* A parsed PROXY protocol header. */
struct proxy_hdr {
	int		 version;	/* 1 or 2 */
	int		 local;		/* no addresses: keep the TCP peer */
	struct cidr_addr src;		/* the client */
	struct cidr_addr dst;
	uint16_t	 sport;
	uint16_t	 dport;
};

/*
 * Parses a PROXY protocol v1 or v2 header at the start of buf (haproxy's
 * proxy-protocol.txt). Returns the header's length when complete,
 * PROXY_PARTIAL when every byte so far can still start a valid header, or
 * PROXY_ERROR as soon as they cannot. v1 "UNKNOWN", v2 LOCAL and v2
 * families other than INET/INET6 set local.
 */
int	proxy_parse(const uint8_t *buf, size_t len, struct proxy_hdr *out);

/*
 * The client address a trusted proxy reports in the request's
 * X-Forwarded-For headers or, when there is none, its Forwarded headers
 * (RFC 7239 "for="). The list (every header line, in order) is walked from
 * the right past addresses in trusted: the first address not in trusted is
 * the client; if all are trusted, the leftmost. A hop that is not an
 * address ("unknown", an obfuscated "_name", garbage) ends the walk: the
 * client is the last trusted address passed, if any. Returns 1 with *out
 * set, 0 when neither header is present or nothing is usable.
 */
int	proxy_forwarded_client(const struct http_request *req,
	    const struct cidr_list *trusted, struct cidr_addr *out);

/*
 * One node of X-Forwarded-For or Forwarded: "a.b.c.d", "a.b.c.d:port",
 * "v6", "[v6]" or "[v6]:port". 0, or -1 if it is not an address.
 */
int	proxy_node_parse(const char *s, size_t len, struct cidr_addr *out);

#endif
