/* fuzz_deflate.c -- libFuzzer target: permessage-deflate inflate, deflate
 * round trip and negotiation. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pmd.h"

/* Small, so that inflating past the limit is reached often. */
#define FUZZ_LIMIT	(256 * 1024)

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Sink: counts bytes and touches them, so ASan sees every access. */
static int
fuzz_sink_cb(void *arg, const uint8_t *buf, size_t len)
{
	size_t		*n = arg;
	volatile uint8_t x = 0;
	size_t		 i;

	for (i = 0; i < len; i++)
		x ^= buf[i];
	(void)x;
	*n += len;
	return 0;
}

/* What the round trip must give back. */
struct fuzz_expect {
	const uint8_t	*data;
	size_t		 len;
	size_t		 off;
};

/* Sink: the inflated bytes must be the next bytes of the original. */
static int
fuzz_compare_cb(void *arg, const uint8_t *buf, size_t len)
{
	struct fuzz_expect	*e = arg;

	if (len > e->len - e->off || memcmp(e->data + e->off, buf, len) != 0)
		abort();
	e->off += len;
	return 0;
}

/*
 * The first byte picks the parameters and how the input is cut into
 * frames; the rest is one compressed message, then a second one with the
 * same stream (context takeover), inflated with a limit. The input also
 * goes through the negotiation as a Sec-WebSocket-Extensions value, and
 * through deflate and back, which must give the input again.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pmd_params	 p;
	struct fuzz_expect	 e;
	struct pmd		*z;
	char			 resp[PMD_RESPONSE_MAX];
	uint8_t			 sel, *out;
	size_t			 n = 0, step, off, k, zlen;
	int			 rc, round;

	(void)pmd_negotiate_value((const char *)data, size, 0, &p,
	    resp);
	if (size < 1)
		return 0;
	sel = data[0];
	data++;
	size--;

	memset(&p, 0, sizeof(p));
	p.client_no_context_takeover = sel & 1;
	p.server_no_context_takeover = (sel >> 1) & 1;
	p.client_max_window_bits = 8 + ((sel >> 2) & 7);
	p.server_max_window_bits = 9 + ((sel >> 2) & 3) * 2;
	step = 1 + (size_t)(sel >> 5) * 97;
	if ((z = pmd_new(&p, sel & 0x10)) == NULL)
		return 0;
	for (round = 0; round < 2; round++) {
		for (off = 0; off < size || (off == 0 && size == 0);) {
			k = size - off < step ? size - off : step;
			rc = pmd_inflate(z, data + off, k, off + k == size,
			    FUZZ_LIMIT, fuzz_sink_cb, &n);
			off += k;
			if (rc != PMD_OK)
				break;
			if (k == 0)
				break;
		}
		if (n > FUZZ_LIMIT * 2)
			abort();	/* the limit did not hold */
		n = 0;
	}
	pmd_free(z);

	/* Deflate, then inflate with the peer's view: the input comes back. */
	p.client_max_window_bits = p.server_max_window_bits;
	p.client_no_context_takeover = p.server_no_context_takeover;
	if ((z = pmd_new(&p, 0)) == NULL)
		return 0;
	if ((out = malloc(pmd_deflate_bound(size))) == NULL) {
		pmd_free(z);
		return 0;
	}
	if (pmd_deflate(z, data, size, out, pmd_deflate_bound(size),
	    &zlen) != PMD_OK)
		abort();
	pmd_free(z);
	if ((z = pmd_new(&p, 0)) == NULL) {
		free(out);
		return 0;
	}
	e.data = data;
	e.len = size;
	e.off = 0;
	if (pmd_inflate(z, out, zlen, 1, 0, fuzz_compare_cb, &e) != PMD_OK ||
	    e.off != size)
		abort();
	pmd_free(z);
	free(out);
	return 0;
}
