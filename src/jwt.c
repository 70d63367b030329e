/* jwt.c -- signed tokens (RFC 7519 JWTs in the RFC 7515 compact form). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "jwt.h"
#include "log.h"

/* Smallest RSA modulus we take a signature from (RFC 7518 3.3). */
#define JWT_RSA_BITS_MIN	2048
/* An ES256 signature: R and S, 32 bytes each (RFC 7518 3.4). */
#define JWT_ES256_SIG		64

struct jwt_key {
	enum jwt_alg	 alg;
	EVP_PKEY	*pkey;		/* RS256, ES256 */
	unsigned char	*secret;	/* HS256 */
	size_t		 secret_len;
};

/* The name of an algorithm, as in a JOSE header. */
const char *
jwt_alg_name(enum jwt_alg alg)
{
	switch (alg) {
	case JWT_HS256:
		return "HS256";
	case JWT_RS256:
		return "RS256";
	case JWT_ES256:
		return "ES256";
	}
	return "?";
}

/* The algorithm a key verifies. */
enum jwt_alg
jwt_key_alg(const struct jwt_key *key)
{
	return key->alg;
}

/* Takes a PEM public key: RSA for RS256, P-256 for ES256. */
static struct jwt_key *
jwt_key_pem(const char *text, size_t len, char **cause)
{
	struct jwt_key	*key;
	EVP_PKEY	*pkey;
	BIO		*bio;
	char		 group[64];
	enum jwt_alg	 alg;

	if (len > INT32_MAX || (bio = BIO_new_mem_buf(text, (int)len)) ==
	    NULL) {
		log_cause(cause, "cannot read the key");
		return NULL;
	}
	pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (pkey == NULL) {
		log_cause(cause, "not a PEM public key (\"-----BEGIN PUBLIC "
		    "KEY-----\")");
		return NULL;
	}
	if (EVP_PKEY_is_a(pkey, "RSA")) {
		if (EVP_PKEY_get_bits(pkey) < JWT_RSA_BITS_MIN) {
			log_cause(cause, "RSA key of %d bits: RS256 needs at "
			    "least %d", EVP_PKEY_get_bits(pkey),
			    JWT_RSA_BITS_MIN);
			EVP_PKEY_free(pkey);
			return NULL;
		}
		alg = JWT_RS256;
	} else if (EVP_PKEY_is_a(pkey, "EC")) {
		if (EVP_PKEY_get_utf8_string_param(pkey,
		    OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
		    NULL) != 1 || strcmp(group, "prime256v1") != 0) {
			log_cause(cause, "EC key not on P-256: ES256 needs "
			    "prime256v1");
			EVP_PKEY_free(pkey);
			return NULL;
		}
		alg = JWT_ES256;
	} else {
		log_cause(cause, "public key neither RSA nor EC P-256");
		EVP_PKEY_free(pkey);
		return NULL;
	}
	if ((key = calloc(1, sizeof(*key))) == NULL)
		fatal("%s", __func__);
	key->alg = alg;
	key->pkey = pkey;
	return key;
}

/* Parses a key file's text: a PEM public key or an HS256 secret. */
struct jwt_key *
jwt_key_parse(const char *text, size_t len, char **cause)
{
	struct jwt_key	*key;
	const char	*b = text;

	*cause = NULL;
	while (b < text + len && isspace((unsigned char)*b))
		b++;
	if ((size_t)(text + len - b) >= 10 && strncmp(b, "-----BEGIN", 10) == 0)
		return jwt_key_pem(text, len, cause);
	/* A secret may hold any byte; only the file's last newline goes. */
	while (len > 0 && isspace((unsigned char)text[len - 1]))
		len--;
	if (len < JWT_SECRET_MIN) {
		log_cause(cause, "HS256 secret shorter than %d bytes (or not "
		    "a PEM public key)", JWT_SECRET_MIN);
		return NULL;
	}
	if ((key = calloc(1, sizeof(*key))) == NULL ||
	    (key->secret = malloc(len)) == NULL)
		fatal("%s", __func__);
	memcpy(key->secret, text, len);
	key->secret_len = len;
	key->alg = JWT_HS256;
	return key;
}

/* Frees a key; a secret is wiped first. */
void
jwt_key_free(struct jwt_key *key)
{
	if (key == NULL)
		return;
	if (key->secret != NULL) {
		OPENSSL_cleanse(key->secret, key->secret_len);
		free(key->secret);
	}
	EVP_PKEY_free(key->pkey);
	free(key);
}

/* Decodes base64url without padding. */
int
jwt_b64url_decode(const char *s, size_t len, unsigned char *out)
{
	unsigned char	*std;
	size_t		 i, pad;
	int		 n;

	/* RFC 4648 4: one character left over carries no whole byte. */
	if (len % 4 == 1 || len > JWT_TOKEN_MAX)
		return -1;
	pad = (4 - len % 4) % 4;
	if ((std = malloc(len + pad + 1)) == NULL)
		return -1;
	/* RFC 4648 5: '-' and '_' stand for '+' and '/'. */
	for (i = 0; i < len; i++) {
		if (isalnum((unsigned char)s[i]))
			std[i] = (unsigned char)s[i];
		else if (s[i] == '-')
			std[i] = '+';
		else if (s[i] == '_')
			std[i] = '/';
		else {
			free(std);
			return -1;
		}
	}
	memset(std + len, '=', pad);
	/* EVP_DecodeBlock counts the padding as zero bytes. */
	n = len == 0 ? 0 : EVP_DecodeBlock(out, std, (int)(len + pad));
	free(std);
	if (n < 0 || (size_t)n < pad)
		return -1;
	return n - (int)pad;
}

/* Decodes one base64url part as a JSON object; NULL if it is none. */
static json_t *
jwt_json_part(const char *s, size_t len)
{
	unsigned char	*buf;
	json_t		*j;
	int		 n;

	if ((buf = malloc(len * 3 / 4 + 3)) == NULL)
		return NULL;
	if ((n = jwt_b64url_decode(s, len, buf)) <= 0) {
		free(buf);
		return NULL;
	}
	/* RFC 7515 5.2 step 4 (and RFC 7519 7.2 step 9): no duplicates. */
	j = json_loadb((const char *)buf, (size_t)n, JSON_REJECT_DUPLICATES,
	    NULL);
	free(buf);
	if (j != NULL && !json_is_object(j)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

/* Verifies an RS256 or ES256 signature (DER for ECDSA) over data. */
static int
jwt_verify_pkey(EVP_PKEY *pkey, const unsigned char *sig, size_t siglen,
    const char *data, size_t len)
{
	EVP_MD_CTX	*ctx;
	int		 ok;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return 0;
	ok = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pkey) == 1 &&
	    EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)data,
	    len) == 1;
	EVP_MD_CTX_free(ctx);
	return ok;
}

/*
 * RFC 7518 3.4: an ES256 signature is R || S, 32 big-endian bytes each;
 * OpenSSL verifies the DER of an ECDSA-Sig-Value.
 */
static int
jwt_verify_es256(EVP_PKEY *pkey, const unsigned char *sig, size_t siglen,
    const char *data, size_t len)
{
	ECDSA_SIG	*es;
	BIGNUM		*r, *s;
	unsigned char	*der = NULL;
	int		 derlen, ok;

	if (siglen != JWT_ES256_SIG || (es = ECDSA_SIG_new()) == NULL)
		return 0;
	r = BN_bin2bn(sig, JWT_ES256_SIG / 2, NULL);
	s = BN_bin2bn(sig + JWT_ES256_SIG / 2, JWT_ES256_SIG / 2, NULL);
	if (r == NULL || s == NULL || ECDSA_SIG_set0(es, r, s) != 1) {
		BN_free(r);
		BN_free(s);
		ECDSA_SIG_free(es);
		return 0;
	}
	derlen = i2d_ECDSA_SIG(es, &der);
	ECDSA_SIG_free(es);
	if (derlen <= 0)
		return 0;
	ok = jwt_verify_pkey(pkey, der, (size_t)derlen, data, len);
	OPENSSL_free(der);
	return ok;
}

/* Whether sig signs data under key. */
static int
jwt_verify_sig(const struct jwt_key *key, const unsigned char *sig,
    size_t siglen, const char *data, size_t len)
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0;

	switch (key->alg) {
	case JWT_HS256:
		if (HMAC(EVP_sha256(), key->secret, (int)key->secret_len,
		    (const unsigned char *)data, len, md, &mdlen) == NULL ||
		    mdlen != siglen)
			return 0;
		return CRYPTO_memcmp(md, sig, siglen) == 0;
	case JWT_RS256:
		return siglen == (size_t)EVP_PKEY_get_size(key->pkey) &&
		    jwt_verify_pkey(key->pkey, sig, siglen, data, len);
	case JWT_ES256:
		return jwt_verify_es256(key->pkey, sig, siglen, data, len);
	}
	return 0;
}

/* A NumericDate claim (RFC 7519 2): 1 when present, -1 when not a number. */
static int
jwt_claim_time(json_t *payload, const char *name, int64_t *out)
{
	json_t	*v = json_object_get(payload, name);
	double	 d;

	if (v == NULL)
		return 0;
	if (!json_is_number(v))
		return -1;
	d = json_number_value(v);
	/* Far beyond any clock, either way: out of int64_t's reach too. */
	if (!(d > -1e15 && d < 1e15))
		return -1;
	*out = (int64_t)d;
	return 1;
}

/* Copies the claims wsd uses; -1 with *why when one is malformed. */
static int
jwt_claims_take(json_t *payload, struct jwt_claims *c, const char **why)
{
	json_t	*v, *e;
	size_t	 i;
	int	 rc;

	if ((rc = jwt_claim_time(payload, "exp", &c->exp)) == -1) {
		*why = "exp is not a number";
		return -1;
	}
	c->has_exp = rc == 1;
	if ((rc = jwt_claim_time(payload, "nbf", &c->nbf)) == -1) {
		*why = "nbf is not a number";
		return -1;
	}
	c->has_nbf = rc == 1;
	if ((v = json_object_get(payload, "sub")) != NULL) {
		if (!json_is_string(v)) {
			*why = "sub is not a string";
			return -1;
		}
		if ((c->sub = strdup(json_string_value(v))) == NULL)
			fatal("%s", __func__);
	}
	if ((v = json_object_get(payload, "channels")) == NULL)
		return 0;
	if (!json_is_array(v)) {
		*why = "channels is not a list";
		return -1;
	}
	c->has_channels = 1;
	if (json_array_size(v) == 0)
		return 0;
	if ((c->channels = calloc(json_array_size(v), sizeof(char *))) == NULL)
		fatal("%s", __func__);
	json_array_foreach(v, i, e) {
		if (!json_is_string(e)) {
			*why = "channels is not a list of strings";
			return -1;
		}
		if ((c->channels[i] = strdup(json_string_value(e))) == NULL)
			fatal("%s", __func__);
		c->nchannels++;
	}
	return 0;
}

/* Checks the header: the key's alg, no extension we would not know. */
static int
jwt_header_check(const struct jwt_key *key, json_t *head, const char **why)
{
	const char	*alg;

	if ((alg = json_string_value(json_object_get(head, "alg"))) == NULL) {
		*why = "no alg in the header";
		return -1;
	}
	/* RFC 8725 3.1: the key decides; "none" or another alg is refused. */
	if (strcmp(alg, jwt_alg_name(key->alg)) != 0) {
		*why = "alg is not the key's";
		return -1;
	}
	if (json_object_get(head, "crit") != NULL) {
		*why = "crit header not supported";
		return -1;
	}
	return 0;
}

/* Verifies a compact JWS and takes its claims. */
int
jwt_verify(const struct jwt_key *key, const char *token, size_t len,
    double now, double leeway, struct jwt_claims **claims, const char **why)
{
	const char		*dot1, *dot2;
	unsigned char		*sig = NULL;
	json_t			*head = NULL, *payload = NULL;
	struct jwt_claims	*c = NULL;
	size_t			 slen;
	int			 n;

	*claims = NULL;
	*why = "malformed token";
	if (len == 0 || len > JWT_TOKEN_MAX) {
		*why = len == 0 ? "empty token" : "token too long";
		return -1;
	}
	/* RFC 7515 7.1: three parts; a JWE (five) is not a JWS. */
	if ((dot1 = memchr(token, '.', len)) == NULL ||
	    (dot2 = memchr(dot1 + 1, '.', (size_t)(token + len - dot1 - 1))) ==
	    NULL || memchr(dot2 + 1, '.', (size_t)(token + len - dot2 - 1)) !=
	    NULL)
		return -1;
	if ((head = jwt_json_part(token, (size_t)(dot1 - token))) == NULL)
		goto fail;
	if (jwt_header_check(key, head, why) == -1)
		goto fail;
	/* The signature before anything in the payload is believed. */
	slen = (size_t)(token + len - dot2 - 1);
	if ((sig = malloc(slen * 3 / 4 + 3)) == NULL)
		goto fail;
	if ((n = jwt_b64url_decode(dot2 + 1, slen, sig)) <= 0 ||
	    !jwt_verify_sig(key, sig, (size_t)n, token,
	    (size_t)(dot2 - token))) {
		*why = n <= 0 ? "malformed token" : "bad signature";
		goto fail;
	}
	if ((payload = jwt_json_part(dot1 + 1, (size_t)(dot2 - dot1 - 1))) ==
	    NULL) {
		*why = "payload is not a JSON object";
		goto fail;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		fatal("%s", __func__);
	if (jwt_claims_take(payload, c, why) == -1)
		goto fail;
	/* RFC 7519 4.1.4 and 4.1.5, with some leeway for clock skew. */
	if (c->has_exp && now >= (double)c->exp + leeway) {
		*why = "token expired";
		goto fail;
	}
	if (c->has_nbf && now + leeway < (double)c->nbf) {
		*why = "token not yet valid";
		goto fail;
	}
	free(sig);
	json_decref(head);
	json_decref(payload);
	*claims = c;
	*why = NULL;
	return 0;
fail:
	free(sig);
	json_decref(head);
	json_decref(payload);
	jwt_claims_free(c);
	return -1;
}

/* Frees the claims of a token. */
void
jwt_claims_free(struct jwt_claims *c)
{
	size_t	i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nchannels; i++)
		free(c->channels[i]);
	free(c->channels);
	free(c->sub);
	free(c);
}

/* Glob with '*' only: the usual backtrack to the last star, linear-ish. */
int
jwt_channel_match(const char *p, const char *s)
{
	const char	*star = NULL, *mark = NULL;

	while (*s != '\0') {
		if (*p == '*') {
			star = p++;
			mark = s;
		} else if (*p == *s) {
			p++;
			s++;
		} else if (star != NULL) {
			p = star + 1;
			s = ++mark;
		} else
			return 0;
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

/* Whether the token's channels claim lets it use channel. */
int
jwt_allows_channel(const struct jwt_claims *c, const char *channel)
{
	size_t	i;

	if (c == NULL || !c->has_channels)
		return c != NULL;
	for (i = 0; i < c->nchannels; i++)
		if (jwt_channel_match(c->channels[i], channel))
			return 1;
	return 0;
}
