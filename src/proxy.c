/* proxy.c -- who is behind a proxy: PROXY protocol, forwarding headers. */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "cidr.h"
#include "http.h"
#include "proxy.h"

/* Most hops we look at in the forwarding headers, from the right. */
#define PROXY_MAX_HOPS	64

static const uint8_t proxy_v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

/* A decimal port without sign or leading zero, 0-65535; -1 if invalid. */
static int
proxy_port_parse(const char *s, size_t len)
{
	unsigned	v = 0;
	size_t		i;

	if (len == 0 || len > 5 || (len > 1 && s[0] == '0'))
		return -1;
	for (i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	return v > 65535 ? -1 : (int)v;
}

/*
 * Parses a complete v1 line (without CRLF): "PROXY TCP4 SRC DST SPORT
 * DPORT", "PROXY TCP6 ..." or "PROXY UNKNOWN[ anything]". Single spaces.
 */
static int
proxy_v1_line(const char *s, size_t len, struct proxy_hdr *out)
{
	const char	*f[6];
	size_t		 flen[6], n = 0, i = 0, start;
	int		 sport, dport, fam;

	if (len >= 13 && memcmp(s, "PROXY UNKNOWN", 13) == 0 &&
	    (len == 13 || s[13] == ' ')) {
		out->local = 1;
		return 0;
	}
	/* Six fields separated by exactly one space. */
	while (i <= len) {
		start = i;
		while (i < len && s[i] != ' ')
			i++;
		if (n == 6 || i == start)
			return -1;
		f[n] = s + start;
		flen[n++] = i - start;
		i++;
	}
	if (n != 6 || flen[0] != 5 || memcmp(f[0], "PROXY", 5) != 0 ||
	    flen[1] != 4)
		return -1;
	if (memcmp(f[1], "TCP4", 4) == 0)
		fam = AF_INET;
	else if (memcmp(f[1], "TCP6", 4) == 0)
		fam = AF_INET6;
	else
		return -1;
	/* TCP6 with a v4-mapped address folds into AF_INET: compare the
	 * family the text was written in. */
	if (cidr_addr_parse(f[2], flen[2], &out->src) == -1 ||
	    cidr_addr_parse(f[3], flen[3], &out->dst) == -1)
		return -1;
	if ((fam == AF_INET) != (memchr(f[2], ':', flen[2]) == NULL) ||
	    (fam == AF_INET) != (memchr(f[3], ':', flen[3]) == NULL))
		return -1;
	if ((sport = proxy_port_parse(f[4], flen[4])) == -1 ||
	    (dport = proxy_port_parse(f[5], flen[5])) == -1)
		return -1;
	out->sport = (uint16_t)sport;
	out->dport = (uint16_t)dport;
	return 0;
}

/* v1: "PROXY " ... CRLF within 107 bytes. */
static int
proxy_v1(const uint8_t *buf, size_t len, struct proxy_hdr *out)
{
	const char	*s = (const char *)buf;
	size_t		 i;

	if (memcmp(s, "PROXY ", len < 6 ? len : 6) != 0)
		return PROXY_ERROR;
	for (i = 0; i < len && i < PROXY_V1_MAX; i++) {
		if (s[i] == '\r') {
			if (i + 1 == len)
				return PROXY_PARTIAL;
			if (s[i + 1] != '\n')
				return PROXY_ERROR;
			out->version = 1;
			if (proxy_v1_line(s, i, out) == -1)
				return PROXY_ERROR;
			return (int)i + 2;
		}
		if (s[i] == '\n' || s[i] == '\0')
			return PROXY_ERROR;
	}
	return len >= PROXY_V1_MAX ? PROXY_ERROR : PROXY_PARTIAL;
}

/* An IPv6 address from a v2 header, v4-mapped ones folded into IPv4. */
static void
proxy_addr6(const uint8_t *a, struct cidr_addr *out)
{
	struct sockaddr_in6	s6;

	memset(&s6, 0, sizeof(s6));
	s6.sin6_family = AF_INET6;
	memcpy(&s6.sin6_addr, a, 16);
	cidr_addr_from_sockaddr((struct sockaddr *)&s6, out);
}

/* v2: the binary header. */
static int
proxy_v2(const uint8_t *buf, size_t len, struct proxy_hdr *out)
{
	size_t	 total, alen;

	if (memcmp(buf, proxy_v2_sig, len < 12 ? len : 12) != 0)
		return PROXY_ERROR;
	if (len < 13)
		return PROXY_PARTIAL;
	/* Version 2; command LOCAL (0) or PROXY (1). */
	if ((buf[12] >> 4) != 2 || (buf[12] & 0x0f) > 1)
		return PROXY_ERROR;
	if (len < 16)
		return PROXY_PARTIAL;
	alen = (size_t)buf[14] << 8 | buf[15];
	total = 16 + alen;
	if (total > PROXY_V2_MAX)
		return PROXY_ERROR;
	if (len < total)
		return PROXY_PARTIAL;
	out->version = 2;
	if ((buf[12] & 0x0f) == 0) {
		/* LOCAL: the proxy's own connection (health checks). */
		out->local = 1;
		return (int)total;
	}
	switch (buf[13] >> 4) {
	case 1:				/* AF_INET */
		if (alen < 12)
			return PROXY_ERROR;
		memset(&out->src, 0, sizeof(out->src));
		memset(&out->dst, 0, sizeof(out->dst));
		out->src.family = out->dst.family = AF_INET;
		memcpy(out->src.a, buf + 16, 4);
		memcpy(out->dst.a, buf + 20, 4);
		out->sport = (uint16_t)(buf[24] << 8 | buf[25]);
		out->dport = (uint16_t)(buf[26] << 8 | buf[27]);
		break;
	case 2:				/* AF_INET6 */
		if (alen < 36)
			return PROXY_ERROR;
		proxy_addr6(buf + 16, &out->src);
		proxy_addr6(buf + 32, &out->dst);
		out->sport = (uint16_t)(buf[48] << 8 | buf[49]);
		out->dport = (uint16_t)(buf[50] << 8 | buf[51]);
		break;
	case 0:				/* AF_UNSPEC */
	case 3:				/* AF_UNIX */
		/* The spec: use the real connection's addresses. */
		out->local = 1;
		break;
	default:
		return PROXY_ERROR;
	}
	return (int)total;
}

/* Parses a PROXY header. */
int
proxy_parse(const uint8_t *buf, size_t len, struct proxy_hdr *out)
{
	memset(out, 0, sizeof(*out));
	if (len == 0)
		return PROXY_PARTIAL;
	if (buf[0] == 'P')
		return proxy_v1(buf, len, out);
	if (buf[0] == proxy_v2_sig[0])
		return proxy_v2(buf, len, out);
	return PROXY_ERROR;
}

/* Parses one forwarding node. */
int
proxy_node_parse(const char *s, size_t len, struct cidr_addr *out)
{
	const char	*end, *colon;

	if (len > 0 && s[0] == '[') {
		if ((end = memchr(s, ']', len)) == NULL)
			return -1;
		if ((size_t)(end - s) + 1 < len && (end[1] != ':' ||
		    proxy_port_parse(end + 2, len - (size_t)(end - s) - 2) ==
		    -1))
			return -1;
		if (cidr_addr_parse(s + 1, (size_t)(end - s) - 1, out) == -1)
			return -1;
		return 0;
	}
	/* One colon: IPv4 with a port; more: a bare IPv6 address. */
	colon = memchr(s, ':', len);
	if (colon != NULL && memchr(colon + 1, ':', len -
	    (size_t)(colon - s) - 1) == NULL) {
		if (proxy_port_parse(colon + 1, len - (size_t)(colon - s) - 1)
		    == -1)
			return -1;
		len = (size_t)(colon - s);
		if (cidr_addr_parse(s, len, out) == -1 ||
		    memchr(s, ':', len) != NULL)
			return -1;
		return 0;
	}
	return cidr_addr_parse(s, len, out);
}

struct proxy_hop {
	const char	*s;
	size_t		 len;
};

/* Trims optional white space around [*s, *s + *len). */
static void
proxy_trim(const char **s, size_t *len)
{
	while (*len > 0 && (**s == ' ' || **s == '\t')) {
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t'))
		(*len)--;
}

/*
 * Splits every header line called name into comma-separated elements,
 * keeping the rightmost PROXY_MAX_HOPS (quoted commas in Forwarded are
 * respected). Returns the number kept.
 */
static size_t
proxy_hops(const struct http_request *req, const char *name,
    struct proxy_hop *hops)
{
	const struct http_header *h = NULL;
	const char	*s, *e;
	size_t		 n = 0, len;
	int		 quoted;

	while ((h = http_header_next(req, name, h)) != NULL) {
		s = h->value;
		e = h->value + h->value_len;
		while (s <= e) {
			const char *p = s;

			quoted = 0;
			while (p < e && (quoted || *p != ',')) {
				if (*p == '"')
					quoted = !quoted;
				else if (*p == '\\' && quoted && p + 1 < e)
					p++;
				p++;
			}
			len = (size_t)(p - s);
			proxy_trim(&s, &len);
			if (len > 0) {
				if (n == PROXY_MAX_HOPS) {
					memmove(hops, hops + 1, (n - 1) *
					    sizeof(*hops));
					n--;
				}
				hops[n].s = s;
				hops[n++].len = len;
			}
			s = p + 1;
		}
	}
	return n;
}

/*
 * The for= node of one Forwarded element (RFC 7239 4), unquoted into
 * buf. -1 when the element has none or it is malformed.
 */
static int
proxy_forwarded_for(const char *s, size_t len, char *buf, size_t buflen,
    size_t *outlen)
{
	const char	*e = s + len, *p, *name;
	size_t		 nlen, o;

	while (s < e) {
		p = s;
		while (p < e && *p != '=' && *p != ';')
			p++;
		name = s;
		nlen = (size_t)(p - s);
		proxy_trim(&name, &nlen);
		if (p == e || *p != '=')
			return -1;
		p++;
		o = 0;
		if (p < e && *p == '"') {
			for (p++; p < e && *p != '"'; p++) {
				if (*p == '\\' && p + 1 < e)
					p++;
				if (o + 1 >= buflen)
					return -1;
				buf[o++] = *p;
			}
			if (p == e)
				return -1;
			p++;
		} else {
			for (; p < e && *p != ';' && *p != ' ' &&
			    *p != '\t'; p++) {
				if (o + 1 >= buflen)
					return -1;
				buf[o++] = *p;
			}
		}
		while (p < e && (*p == ' ' || *p == '\t'))
			p++;
		if (p < e && *p != ';')
			return -1;
		if (nlen == 3 && strncasecmp(name, "for", 3) == 0) {
			buf[o] = '\0';
			*outlen = o;
			return 0;
		}
		s = p < e ? p + 1 : p;
	}
	return -1;
}

/* The client a trusted proxy reports. */
int
proxy_forwarded_client(const struct http_request *req,
    const struct cidr_list *trusted, struct cidr_addr *out)
{
	struct proxy_hop hops[PROXY_MAX_HOPS];
	struct cidr_addr a, last;
	char		 node[128];
	const char	*s;
	size_t		 n, len;
	int		 fwd = 0, have = 0;

	if ((n = proxy_hops(req, "X-Forwarded-For", hops)) == 0) {
		if ((n = proxy_hops(req, "Forwarded", hops)) == 0)
			return 0;
		fwd = 1;
	}
	while (n-- > 0) {
		s = hops[n].s;
		len = hops[n].len;
		if (fwd) {
			if (proxy_forwarded_for(s, len, node, sizeof(node),
			    &len) == -1)
				break;
			s = node;
		}
		/* "unknown" and "_obfuscated" are not addresses either. */
		if (proxy_node_parse(s, len, &a) == -1)
			break;
		if (!cidr_list_match(trusted, &a)) {
			*out = a;
			return 1;
		}
		last = a;
		have = 1;
	}
	if (have)
		*out = last;
	return have;
}
