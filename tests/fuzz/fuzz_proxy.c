/*
 * fuzz_proxy.c -- libFuzzer target for the PROXY protocol parser (v1 and
 * v2) and the address parsers behind it: the input is what a client sends
 * first on a proxy_protocol listener. Every prefix of a complete header is
 * partial, the header does not depend on what follows it, the addresses
 * it reports format and parse back to themselves; the input is also read
 * as an address, a network and a list of networks.
 */
#include <sys/socket.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cidr.h"
#include "proxy.h"
#include "fuzz.h"

/* An address formats to text that parses back to it. */
static void
fuzz_proxy_addr(const struct cidr_addr *a)
{
	struct cidr_addr back;
	char		 text[CIDR_ADDR_STRLEN];

	FUZZ_CHECK(a->family == AF_INET || a->family == AF_INET6);
	cidr_addr_format(a, text);
	FUZZ_CHECK(memchr(text, '\0', sizeof(text)) != NULL);
	FUZZ_CHECK(cidr_addr_parse(text, strlen(text), &back) == 0);
	FUZZ_CHECK(cidr_addr_equal(a, &back));
}

/* The input as an address, a network and a list of networks. */
static void
fuzz_proxy_cidr(const uint8_t *data, size_t size)
{
	struct cidr_list list = { NULL, 0 };
	struct cidr_addr a;
	struct cidr	 net;
	char		*text, bad[64];
	size_t		 i;

	if (cidr_addr_parse((const char *)data, size, &a) == 0)
		fuzz_proxy_addr(&a);
	if ((text = malloc(size + 1)) == NULL)
		return;
	memcpy(text, data, size);
	text[size] = '\0';
	if (cidr_parse(text, &net) == 0) {
		FUZZ_CHECK(net.len <= (net.addr.family == AF_INET ? 32 : 128));
		fuzz_proxy_addr(&net.addr);
		FUZZ_CHECK(cidr_list_parse(&list, text, bad, sizeof(bad)) ==
		    0);
	} else if (cidr_list_parse(&list, text, bad, sizeof(bad)) == -1)
		FUZZ_CHECK(memchr(bad, '\0', sizeof(bad)) != NULL);
	for (i = 0; i < list.n; i++)
		FUZZ_CHECK(cidr_list_match(&list, &list.v[i].addr));
	cidr_list_free(&list);
	free(text);
}

/* Parses the input as a PROXY header and checks what comes back. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxy_hdr h, h2;
	uint8_t		*buf;
	size_t		 k;
	int		 r, r2;

	if ((buf = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(buf, data, size);
	r = proxy_parse(buf, size, &h);
	FUZZ_CHECK(r == PROXY_PARTIAL || r == PROXY_ERROR || r > 0);
	if (r > 0) {
		FUZZ_CHECK((size_t)r <= size && (size_t)r <= PROXY_V2_MAX);
		FUZZ_CHECK(h.version == 1 || h.version == 2);
		if (!h.local) {
			fuzz_proxy_addr(&h.src);
			fuzz_proxy_addr(&h.dst);
		}
		r2 = proxy_parse(buf, (size_t)r, &h2);
		FUZZ_CHECK(r2 == r && h2.version == h.version &&
		    h2.local == h.local);
		for (k = 0; k < (size_t)r; k++)
			FUZZ_CHECK(proxy_parse(buf, k, &h2) == PROXY_PARTIAL);
	} else if (r == PROXY_PARTIAL) {
		/* Never partial past the longest header. */
		FUZZ_CHECK(size <= PROXY_V2_MAX);
		for (k = 0; k < size; k++)
			FUZZ_CHECK(proxy_parse(buf, k, &h2) == PROXY_PARTIAL);
	}
	free(buf);
	fuzz_proxy_cidr(data, size);
	return 0;
}
