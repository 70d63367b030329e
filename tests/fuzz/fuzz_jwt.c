/*
 * fuzz_jwt.c -- libFuzzer target for the JWT parser: compact tokens
 * verified against an HS256 secret and a P-256 public key, tokens whose
 * HS256 signature the harness makes itself (so that the header and
 * claims parsers are reached with any payload), base64url, the key file
 * parser and the channel patterns.
 *
 * Input: 1 byte selecting the mode, then the bytes of that mode. The
 * seeds in corpus/jwt/ were made by hand (python: base64url, hmac).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "jwt.h"
#include "fuzz.h"

#define FUZZ_SECRET	"fuzz-secret-fuzz-secret-fuzz-secret!"
/* A P-256 public key: the ES256 path, whatever the signature. */
static const char fuzz_ec_pem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEJgwkbRvLV1lY++HLPmNHyNwSh9jF\n"
    "3n2/8NJYhOpTjfrGjS+02wzQZQegOExaqMlWAWS1aEBwEBGaze5MqsFa6g==\n"
    "-----END PUBLIC KEY-----\n";

/* Checks the contract of one jwt_verify call. */
static void
fuzz_jwt_verify(const struct jwt_key *k, const char *tok, size_t len)
{
	struct jwt_claims *c = (void *)1;
	const char	*why = NULL;
	size_t		 i;
	int		 r;

	r = jwt_verify(k, tok, len, 1800000000.0, 30, &c, &why);
	if (r == -1) {
		FUZZ_CHECK(c == NULL && why != NULL);
		return;
	}
	FUZZ_CHECK(r == 0 && c != NULL && why == NULL);
	FUZZ_CHECK(c->nchannels == 0 || c->has_channels);
	for (i = 0; i < c->nchannels; i++)
		FUZZ_CHECK(jwt_allows_channel(c, c->channels[i]));
	jwt_claims_free(c);
}

/* base64url of n bytes, no padding, into out. */
static size_t
fuzz_b64url(const uint8_t *in, size_t n, char *out)
{
	int	len, i;

	len = EVP_EncodeBlock((unsigned char *)out, in, (int)n);
	while (len > 0 && out[len - 1] == '=')
		len--;
	for (i = 0; i < len; i++)
		out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
	return (size_t)len;
}

/* Input "header\0payload", signed here: the claims parser's turn. */
static void
fuzz_jwt_signed(const struct jwt_key *k, const uint8_t *data, size_t size)
{
	const uint8_t	*nul = memchr(data, '\0', size);
	unsigned char	 md[32];
	unsigned int	 mdlen = 0;
	char		*tok;
	size_t		 hlen, n;

	if (nul == NULL || size > JWT_TOKEN_MAX / 2)
		return;
	hlen = (size_t)(nul - data);
	if ((tok = malloc(size * 2 + 64)) == NULL)
		return;
	n = fuzz_b64url(data, hlen, tok);
	tok[n++] = '.';
	n += fuzz_b64url(nul + 1, size - hlen - 1, tok + n);
	FUZZ_CHECK(HMAC(EVP_sha256(), FUZZ_SECRET, sizeof(FUZZ_SECRET) - 1,
	    (unsigned char *)tok, n, md, &mdlen) != NULL);
	tok[n++] = '.';
	n += fuzz_b64url(md, mdlen, tok + n);
	fuzz_jwt_verify(k, tok, n);
	free(tok);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct jwt_key *hs, *ec;
	struct jwt_key	*k;
	unsigned char	*out;
	char		*cause = NULL, *s;
	const char	*tok;
	int		 n;

	if (hs == NULL) {
		hs = jwt_key_parse(FUZZ_SECRET, sizeof(FUZZ_SECRET) - 1,
		    &cause);
		ec = jwt_key_parse(fuzz_ec_pem, sizeof(fuzz_ec_pem) - 1,
		    &cause);
		FUZZ_CHECK(hs != NULL && ec != NULL);
	}
	if (size < 1)
		return 0;
	tok = (const char *)data + 1;
	switch (data[0] % 5) {
	case 0:
		fuzz_jwt_verify(hs, tok, size - 1);
		fuzz_jwt_verify(ec, tok, size - 1);
		break;
	case 1:
		fuzz_jwt_signed(hs, data + 1, size - 1);
		break;
	case 2:
		if ((out = malloc(size * 3 / 4 + 3)) == NULL)
			return 0;
		n = jwt_b64url_decode(tok, size - 1, out);
		FUZZ_CHECK(n >= -1 && (n == -1 ||
		    (size_t)n <= (size - 1) * 3 / 4));
		free(out);
		break;
	case 3:
		if ((k = jwt_key_parse(tok, size - 1, &cause)) == NULL)
			FUZZ_CHECK(cause != NULL);
		free(cause);
		jwt_key_free(k);
		break;
	default:
		/* "pattern\0name": both NUL-terminated copies. */
		if ((s = malloc(size + 1)) == NULL)
			return 0;
		memcpy(s, tok, size - 1);
		s[size - 1] = '\0';
		s[size] = '\0';
		n = jwt_channel_match(s, s + strlen(s) + (strlen(s) < size - 1));
		FUZZ_CHECK(n == 0 || n == 1);
		FUZZ_CHECK(jwt_channel_match("*", s) == 1);
		FUZZ_CHECK(strchr(s, '*') != NULL || jwt_channel_match(s, s));
		free(s);
		break;
	}
	return 0;
}
