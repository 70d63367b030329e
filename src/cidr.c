/* cidr.c -- IP addresses and CIDR lists: parsing and matching (pure). */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "cidr.h"

static const uint8_t cidr_v4mapped[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};

/* Stores an IPv6 address, folding v4-mapped ones into IPv4. */
static void
cidr_addr_set6(struct cidr_addr *out, const uint8_t a[16])
{
	memset(out, 0, sizeof(*out));
	if (memcmp(a, cidr_v4mapped, sizeof(cidr_v4mapped)) == 0) {
		out->family = AF_INET;
		memcpy(out->a, a + 12, 4);
		return;
	}
	out->family = AF_INET6;
	memcpy(out->a, a, 16);
}

/* Parses a bare numeric address. */
int
cidr_addr_parse(const char *s, size_t len, struct cidr_addr *out)
{
	char	 buf[CIDR_ADDR_STRLEN];
	uint8_t	 a[16];

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	/* inet_pton takes no zone ids ("fe80::1%eth0") either. */
	if (inet_pton(AF_INET, buf, a) == 1) {
		memset(out, 0, sizeof(*out));
		out->family = AF_INET;
		memcpy(out->a, a, 4);
		return 0;
	}
	if (inet_pton(AF_INET6, buf, a) == 1) {
		cidr_addr_set6(out, a);
		return 0;
	}
	return -1;
}

/* The address of a socket address. */
int
cidr_addr_from_sockaddr(const struct sockaddr *sa, struct cidr_addr *out)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)sa;

		memset(out, 0, sizeof(*out));
		out->family = AF_INET;
		memcpy(out->a, &s4->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		cidr_addr_set6(out, s6->sin6_addr.s6_addr);
		return 0;
	}
	memset(out, 0, sizeof(*out));
	return -1;
}

/* Formats an address. */
void
cidr_addr_format(const struct cidr_addr *a, char *out)
{
	if (a->family != AF_INET && a->family != AF_INET6) {
		strcpy(out, "unknown");
		return;
	}
	if (inet_ntop(a->family, a->a, out, CIDR_ADDR_STRLEN) == NULL)
		strcpy(out, "?");
}

/* Whether two addresses are equal. */
int
cidr_addr_equal(const struct cidr_addr *a, const struct cidr_addr *b)
{
	return a->family == b->family && memcmp(a->a, b->a, 16) == 0;
}

/* Whether the first len bits of a and b agree. */
static int
cidr_prefix_equal(const uint8_t *a, const uint8_t *b, unsigned len)
{
	unsigned	bytes = len / 8, bits = len % 8;
	uint8_t		mask;

	if (memcmp(a, b, bytes) != 0)
		return 0;
	if (bits == 0)
		return 1;
	mask = (uint8_t)(0xff << (8 - bits));
	return (a[bytes] & mask) == (b[bytes] & mask);
}

/* Parses ADDR/LEN or ADDR. */
int
cidr_parse(const char *s, struct cidr *out)
{
	struct cidr_addr masked;
	const char	*slash, *p;
	size_t		 alen;
	unsigned	 len = 0, max, ndigits = 0, i;

	memset(out, 0, sizeof(*out));
	slash = strchr(s, '/');
	alen = slash ? (size_t)(slash - s) : strlen(s);
	if (cidr_addr_parse(s, alen, &out->addr) == -1)
		return -1;
	max = out->addr.family == AF_INET ? 32 : 128;
	if (slash == NULL) {
		out->len = (uint8_t)max;
		return 0;
	}
	for (p = slash + 1; isdigit((unsigned char)*p); p++) {
		if (++ndigits > 3)
			return -1;
		len = len * 10 + (unsigned)(*p - '0');
	}
	if (ndigits == 0 || *p != '\0')
		return -1;
	/*
	 * "::ffff:10.0.0.0/104" counts IPv6 bits; the address is kept as
	 * IPv4, so the length is too.
	 */
	if (out->addr.family == AF_INET && memchr(s, ':', alen) != NULL) {
		if (len < 96)
			return -1;
		len -= 96;
	}
	if (len > max)
		return -1;
	out->len = (uint8_t)len;
	/* Host bits set under the prefix: most likely a typo. */
	masked = out->addr;
	for (i = len; i < max; i++)
		masked.a[i / 8] &= (uint8_t)~(0x80 >> (i % 8));
	if (!cidr_addr_equal(&masked, &out->addr))
		return -1;
	return 0;
}

/* Appends the networks of a white-space separated list. */
int
cidr_list_parse(struct cidr_list *list, const char *text, char *bad,
    size_t badlen)
{
	struct cidr	 c, *v;
	char		 word[64];
	size_t		 n;

	for (;;) {
		while (isspace((unsigned char)*text))
			text++;
		if (*text == '\0')
			return 0;
		n = strcspn(text, " \t\r\n");
		if (n < sizeof(word)) {
			memcpy(word, text, n);
			word[n] = '\0';
		}
		if (n >= sizeof(word) || cidr_parse(word, &c) == -1) {
			if (badlen > 0) {
				if (n >= badlen)
					n = badlen - 1;
				memcpy(bad, text, n);
				bad[n] = '\0';
			}
			return -1;
		}
		if ((v = reallocarray(list->v, list->n + 1,
		    sizeof(*v))) == NULL)
			return -2;
		list->v = v;
		list->v[list->n++] = c;
		text += n;
	}
}

/* Frees a list's networks. */
void
cidr_list_free(struct cidr_list *list)
{
	free(list->v);
	list->v = NULL;
	list->n = 0;
}

/* Whether an address is in a list. */
int
cidr_list_match(const struct cidr_list *list, const struct cidr_addr *a)
{
	size_t	i;

	for (i = 0; i < list->n; i++)
		if (list->v[i].addr.family == a->family &&
		    cidr_prefix_equal(list->v[i].addr.a, a->a,
		    list->v[i].len))
			return 1;
	return 0;
}
