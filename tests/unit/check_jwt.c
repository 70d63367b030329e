/* check_jwt.c -- JWT keys, verification, claims, channel patterns. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "access.h"
#include "http.h"
#include "jwt.h"
#include "suites.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))
#define NOW		1800000000.0
#define SECRET		"0123456789abcdef0123456789abcdef-secret"

/* base64url without padding of n bytes into out (NUL-terminated). */
static void
b64url(const unsigned char *in, size_t n, char *out)
{
	int	len, i;

	len = EVP_EncodeBlock((unsigned char *)out, in, (int)n);
	while (len > 0 && out[len - 1] == '=')
		len--;
	out[len] = '\0';
	for (i = 0; i < len; i++) {
		if (out[i] == '+')
			out[i] = '-';
		else if (out[i] == '/')
			out[i] = '_';
	}
}

/* "B64(head).B64(payload)" into out. */
static size_t
signing_input(const char *head, const char *payload, char *out)
{
	b64url((const unsigned char *)head, strlen(head), out);
	strcat(out, ".");
	b64url((const unsigned char *)payload, strlen(payload),
	    out + strlen(out));
	return strlen(out);
}

/* An HS256 token with secret. */
static char *
make_hs256(const char *head, const char *payload, const char *secret)
{
	static char	 tok[8192];
	unsigned char	 md[32];
	unsigned int	 mdlen = 0;
	size_t		 n;

	n = signing_input(head, payload, tok);
	ck_assert_ptr_nonnull(HMAC(EVP_sha256(), secret, (int)strlen(secret),
	    (unsigned char *)tok, n, md, &mdlen));
	tok[n++] = '.';
	b64url(md, mdlen, tok + n);
	return tok;
}

/* A token signed with pkey (RS256, or ES256 as raw R || S). */
static char *
make_pkey(const char *head, const char *payload, EVP_PKEY *pkey, int ec)
{
	static char	 tok[8192];
	unsigned char	 sig[1024], raw[64];
	const unsigned char *p = sig;
	EVP_MD_CTX	*ctx = EVP_MD_CTX_new();
	ECDSA_SIG	*es;
	size_t		 n, siglen = sizeof(sig);

	n = signing_input(head, payload, tok);
	ck_assert_int_eq(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL,
	    pkey), 1);
	ck_assert_int_eq(EVP_DigestSign(ctx, sig, &siglen,
	    (unsigned char *)tok, n), 1);
	EVP_MD_CTX_free(ctx);
	tok[n++] = '.';
	if (!ec) {
		b64url(sig, siglen, tok + n);
		return tok;
	}
	es = d2i_ECDSA_SIG(NULL, &p, (long)siglen);
	ck_assert_ptr_nonnull(es);
	BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, 32);
	BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + 32, 32);
	ECDSA_SIG_free(es);
	b64url(raw, sizeof(raw), tok + n);
	return tok;
}

/* The PEM public key of pkey. */
static char *
pubkey_pem(EVP_PKEY *pkey)
{
	BIO	*bio = BIO_new(BIO_s_mem());
	char	*data, *out;
	long	 len;

	ck_assert_int_eq(PEM_write_bio_PUBKEY(bio, pkey), 1);
	len = BIO_get_mem_data(bio, &data);
	out = strndup(data, (size_t)len);
	BIO_free(bio);
	return out;
}

/* Keys made once: RSA generation is slow under sanitizers. */
static EVP_PKEY *
test_key(const char *which)
{
	static EVP_PKEY	*rsa, *ec, *ec384, *rsa1024;

	if (strcmp(which, "rsa") == 0)
		return rsa != NULL ? rsa :
		    (rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048));
	if (strcmp(which, "rsa1024") == 0)
		return rsa1024 != NULL ? rsa1024 :
		    (rsa1024 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA",
		    (size_t)1024));
	if (strcmp(which, "ec384") == 0)
		return ec384 != NULL ? ec384 :
		    (ec384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384"));
	return ec != NULL ? ec :
	    (ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"));
}

/* A key from text; asserts it parses. */
static struct jwt_key *
key_ok(const char *text)
{
	struct jwt_key	*k;
	char		*cause = NULL;

	k = jwt_key_parse(text, strlen(text), &cause);
	ck_assert_msg(k != NULL, "key refused: %s", cause ? cause : "?");
	return k;
}

/* Verifies tok; returns 0 or -1 and the reason. */
static int
verify(const struct jwt_key *k, const char *tok, double leeway,
    struct jwt_claims **claims, const char **why)
{
	return jwt_verify(k, tok, strlen(tok), NOW, leeway, claims, why);
}

START_TEST(test_b64url)
{
	unsigned char	 out[64];

	ck_assert_int_eq(jwt_b64url_decode("", 0, out), 0);
	ck_assert_int_eq(jwt_b64url_decode("Zg", 2, out), 1);
	ck_assert_int_eq(out[0], 'f');
	ck_assert_int_eq(jwt_b64url_decode("Zm8", 3, out), 2);
	ck_assert_int_eq(jwt_b64url_decode("Zm9v", 4, out), 3);
	ck_assert(memcmp(out, "foo", 3) == 0);
	/* RFC 4648 5: - and _ for + and /. */
	ck_assert_int_eq(jwt_b64url_decode("-_8", 3, out), 2);
	ck_assert_int_eq(out[0], 0xfb);
	ck_assert_int_eq(out[1], 0xff);
	ck_assert_int_eq(jwt_b64url_decode("Z", 1, out), -1);
	ck_assert_int_eq(jwt_b64url_decode("Zm9v=", 5, out), -1);
	ck_assert_int_eq(jwt_b64url_decode("Zm+v", 4, out), -1);
	ck_assert_int_eq(jwt_b64url_decode("Zm 9", 4, out), -1);
}
END_TEST

START_TEST(test_key_parse)
{
	struct jwt_key	*k;
	char		*cause = NULL, *pem;

	k = key_ok(SECRET "\n");
	ck_assert_int_eq(jwt_key_alg(k), JWT_HS256);
	jwt_key_free(k);
	/* Too short a secret. */
	ck_assert_ptr_null(jwt_key_parse("short\n", 6, &cause));
	ck_assert_ptr_nonnull(strstr(cause, "shorter than 32"));
	free(cause);
	pem = pubkey_pem(test_key("rsa"));
	k = key_ok(pem);
	ck_assert_int_eq(jwt_key_alg(k), JWT_RS256);
	ck_assert_str_eq(jwt_alg_name(jwt_key_alg(k)), "RS256");
	jwt_key_free(k);
	free(pem);
	pem = pubkey_pem(test_key("ec"));
	k = key_ok(pem);
	ck_assert_int_eq(jwt_key_alg(k), JWT_ES256);
	jwt_key_free(k);
	free(pem);
	pem = pubkey_pem(test_key("rsa1024"));
	ck_assert_ptr_null(jwt_key_parse(pem, strlen(pem), &cause));
	ck_assert_ptr_nonnull(strstr(cause, "1024 bits"));
	free(cause);
	free(pem);
	pem = pubkey_pem(test_key("ec384"));
	ck_assert_ptr_null(jwt_key_parse(pem, strlen(pem), &cause));
	ck_assert_ptr_nonnull(strstr(cause, "P-256"));
	free(cause);
	free(pem);
	ck_assert_ptr_null(jwt_key_parse("-----BEGIN PUBLIC KEY-----\nxx\n",
	    30, &cause));
	ck_assert_ptr_nonnull(strstr(cause, "PEM public key"));
	free(cause);
}
END_TEST

START_TEST(test_hs256)
{
	struct jwt_key	*k = key_ok(SECRET);
	struct jwt_claims *c;
	const char	*why;
	char		*tok;

	tok = make_hs256("{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
	    "{\"sub\":\"ann\",\"exp\":1800000100,\"channels\":[\"room.*\"]}",
	    SECRET);
	ck_assert_int_eq(verify(k, tok, 30, &c, &why), 0);
	ck_assert_ptr_null(why);
	ck_assert_str_eq(c->sub, "ann");
	ck_assert(c->has_exp);
	ck_assert_int_eq(c->exp, 1800000100);
	ck_assert(c->has_channels);
	ck_assert_uint_eq(c->nchannels, 1);
	ck_assert_str_eq(c->channels[0], "room.*");
	jwt_claims_free(c);

	/* Another secret: bad signature. */
	tok = make_hs256("{\"alg\":\"HS256\"}", "{}", SECRET "x");
	ck_assert_int_eq(verify(k, tok, 30, &c, &why), -1);
	ck_assert_ptr_null(c);
	ck_assert_str_eq(why, "bad signature");
	/* A flipped payload byte, signature unchanged. */
	tok = make_hs256("{\"alg\":\"HS256\"}", "{\"sub\":\"a\"}", SECRET);
	tok[strchr(tok, '.') - tok + 2] ^= 1;
	ck_assert_int_eq(verify(k, tok, 30, &c, &why), -1);
	jwt_key_free(k);
}
END_TEST

START_TEST(test_pkey)
{
	struct jwt_key	*rk, *ek;
	struct jwt_claims *c;
	const char	*why;
	char		*pem, *tok;

	pem = pubkey_pem(test_key("rsa"));
	rk = key_ok(pem);
	free(pem);
	pem = pubkey_pem(test_key("ec"));
	ek = key_ok(pem);
	free(pem);

	tok = make_pkey("{\"alg\":\"RS256\"}", "{\"sub\":\"r\"}",
	    test_key("rsa"), 0);
	ck_assert_int_eq(verify(rk, tok, 0, &c, &why), 0);
	ck_assert_str_eq(c->sub, "r");
	jwt_claims_free(c);
	/* The RSA token against the EC key: alg is not the key's. */
	ck_assert_int_eq(verify(ek, tok, 0, &c, &why), -1);
	ck_assert_str_eq(why, "alg is not the key's");

	tok = make_pkey("{\"alg\":\"ES256\"}", "{\"sub\":\"e\"}",
	    test_key("ec"), 1);
	ck_assert_int_eq(verify(ek, tok, 0, &c, &why), 0);
	ck_assert_str_eq(c->sub, "e");
	jwt_claims_free(c);
	/* A corrupted signature byte. */
	tok[strlen(tok) - 3] = tok[strlen(tok) - 3] == 'A' ? 'B' : 'A';
	ck_assert_int_eq(verify(ek, tok, 0, &c, &why), -1);
	ck_assert_str_eq(why, "bad signature");

	/* An HS256 token made with the PEM text as secret: refused. */
	pem = pubkey_pem(test_key("rsa"));
	tok = make_hs256("{\"alg\":\"HS256\"}", "{}", pem);
	ck_assert_int_eq(verify(rk, tok, 0, &c, &why), -1);
	ck_assert_str_eq(why, "alg is not the key's");
	free(pem);
	jwt_key_free(rk);
	jwt_key_free(ek);
}
END_TEST

START_TEST(test_refusals)
{
	/* Signed with the right secret, refused for what they say. */
	static const struct {
		const char	*head, *payload, *why;
	} signed_bad[] = {
		{ "{\"alg\":\"none\"}", "{}", "alg is not the key's" },
		{ "{\"typ\":\"JWT\"}", "{}", "no alg in the header" },
		{ "{\"alg\":\"HS256\",\"crit\":[\"x\"]}", "{}",
		    "crit header not supported" },
		/* RFC 7515 5.2: duplicate member names. */
		{ "{\"alg\":\"HS256\",\"alg\":\"HS256\"}", "{}",
		    "malformed token" },
		{ "{\"alg\":\"HS256\"}", "[1]", "payload is not a JSON object" },
		{ "{\"alg\":\"HS256\"}", "{\"exp\":\"soon\"}",
		    "exp is not a number" },
		{ "{\"alg\":\"HS256\"}", "{\"nbf\":null}",
		    "nbf is not a number" },
		{ "{\"alg\":\"HS256\"}", "{\"sub\":7}", "sub is not a string" },
		{ "{\"alg\":\"HS256\"}", "{\"channels\":\"a\"}",
		    "channels is not a list" },
		{ "{\"alg\":\"HS256\"}", "{\"channels\":[\"a\",1]}",
		    "channels is not a list of strings" },
	};
	static const char *const shapes[] = { "", "a.b", "a.b.c.d", "..",
	    "a.b.c" };
	struct jwt_key	*k = key_ok(SECRET);
	struct jwt_claims *c;
	const char	*why;
	char		 none[512];
	size_t		 i;

	/* alg none, unsigned. */
	signing_input("{\"alg\":\"none\"}", "{}", none);
	strcat(none, ".");
	ck_assert_int_eq(verify(k, none, 0, &c, &why), -1);
	ck_assert_str_eq(why, "alg is not the key's");
	for (i = 0; i < NELEM(signed_bad); i++) {
		ck_assert_int_eq(verify(k, make_hs256(signed_bad[i].head,
		    signed_bad[i].payload, SECRET), 0, &c, &why), -1);
		ck_assert_ptr_null(c);
		ck_assert_str_eq(why, signed_bad[i].why);
	}
	for (i = 0; i < NELEM(shapes); i++) {
		ck_assert_int_eq(verify(k, shapes[i], 0, &c, &why), -1);
		ck_assert_ptr_nonnull(why);
	}
	jwt_key_free(k);
}
END_TEST

START_TEST(test_times)
{
	struct jwt_key	*k = key_ok(SECRET);
	struct jwt_claims *c;
	const char	*why;
	char		*tok;

	/* exp: valid until exp + leeway. */
	tok = make_hs256("{\"alg\":\"HS256\"}", "{\"exp\":1799999990}", SECRET);
	ck_assert_int_eq(verify(k, tok, 0, &c, &why), -1);
	ck_assert_str_eq(why, "token expired");
	ck_assert_int_eq(verify(k, tok, 10, &c, &why), -1);
	ck_assert_int_eq(verify(k, tok, 11, &c, &why), 0);
	jwt_claims_free(c);
	/* nbf: valid from nbf - leeway. */
	tok = make_hs256("{\"alg\":\"HS256\"}", "{\"nbf\":1800000020.5}",
	    SECRET);
	ck_assert_int_eq(verify(k, tok, 0, &c, &why), -1);
	ck_assert_str_eq(why, "token not yet valid");
	ck_assert_int_eq(verify(k, tok, 19, &c, &why), -1);
	ck_assert_int_eq(verify(k, tok, 20, &c, &why), 0);
	ck_assert(c->has_nbf);
	ck_assert(!c->has_exp);
	jwt_claims_free(c);
	tok = make_hs256("{\"alg\":\"HS256\"}", "{\"exp\":1e300}", SECRET);
	ck_assert_int_eq(verify(k, tok, 0, &c, &why), -1);
	jwt_key_free(k);
}
END_TEST

START_TEST(test_channel_match)
{
	static const struct {
		const char	*pat, *name;
		int		 ok;
	} v[] = {
		{ "news", "news", 1 },
		{ "news", "newsx", 0 },
		{ "news", "new", 0 },
		{ "*", "", 1 },
		{ "*", "anything/at.all", 1 },
		{ "room.*", "room.1", 1 },
		{ "room.*", "room.", 1 },
		{ "room.*", "room", 0 },
		{ "*.admin", "x.admin", 1 },
		{ "*.admin", "x.admins", 0 },
		{ "a*b*c", "abc", 1 },
		{ "a*b*c", "aXbYbZc", 1 },
		{ "a*b*c", "aXbYbZ", 0 },
		{ "a**", "a", 1 },
		{ "", "", 1 },
		{ "", "a", 0 },
		{ "?", "a", 0 },
	};
	size_t	i;

	for (i = 0; i < NELEM(v); i++)
		ck_assert_msg(jwt_channel_match(v[i].pat, v[i].name) ==
		    v[i].ok, "%s ~ %s", v[i].pat, v[i].name);
}
END_TEST

START_TEST(test_allows_channel)
{
	struct jwt_key	*k = key_ok(SECRET);
	struct jwt_claims *c;
	const char	*why;
	char		*tok;

	tok = make_hs256("{\"alg\":\"HS256\"}",
	    "{\"channels\":[\"news\",\"room.*\"]}", SECRET);
	ck_assert_int_eq(verify(k, tok, 0, &c, &why), 0);
	ck_assert_int_eq(jwt_allows_channel(c, "news"), 1);
	ck_assert_int_eq(jwt_allows_channel(c, "room.42"), 1);
	ck_assert_int_eq(jwt_allows_channel(c, "sports"), 0);
	jwt_claims_free(c);
	/* An empty list allows nothing; no claim allows everything. */
	tok = make_hs256("{\"alg\":\"HS256\"}", "{\"channels\":[]}", SECRET);
	ck_assert_int_eq(verify(k, tok, 0, &c, &why), 0);
	ck_assert_int_eq(jwt_allows_channel(c, "news"), 0);
	jwt_claims_free(c);
	tok = make_hs256("{\"alg\":\"HS256\"}", "{}", SECRET);
	ck_assert_int_eq(verify(k, tok, 0, &c, &why), 0);
	ck_assert_int_eq(jwt_allows_channel(c, "news"), 1);
	jwt_claims_free(c);
	ck_assert_int_eq(jwt_allows_channel(NULL, "news"), 0);
	jwt_key_free(k);
}
END_TEST

/* Request text kept alive for the parsed request's pointers. */
static char	reqbuf[16384];

START_TEST(test_request)
{
	struct http_request req;
	struct jwt_key	*k = key_ok(SECRET);
	struct jwt_claims *c;
	const char	*why;
	char		 good[1024], *tok;
	int		 n;

	tok = make_hs256("{\"alg\":\"HS256\"}", "{\"sub\":\"q\"}", SECRET);
	snprintf(good, sizeof(good), "%s", tok);
	/* A bad bearer first, the good one in the query: the good wins. */
	n = snprintf(reqbuf, sizeof(reqbuf), "GET /x?a=1&token=%s HTTP/1.1\r\n"
	    "Host: x\r\nAuthorization: Bearer nope.nope.nope\r\n\r\n", good);
	ck_assert_int_eq(http_parse_request(reqbuf, (size_t)n,
	    sizeof(reqbuf), &req), n);
	c = access_jwt_check(k, &req, NOW, 0, &why);
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->sub, "q");
	jwt_claims_free(c);
	n = snprintf(reqbuf, sizeof(reqbuf), "GET /x HTTP/1.1\r\nHost: x\r\n"
	    "Authorization: bearer %s\r\n\r\n", good);
	ck_assert_int_eq(http_parse_request(reqbuf, (size_t)n,
	    sizeof(reqbuf), &req), n);
	c = access_jwt_check(k, &req, NOW, 0, &why);
	ck_assert_ptr_nonnull(c);
	jwt_claims_free(c);
	n = snprintf(reqbuf, sizeof(reqbuf), "GET /x HTTP/1.1\r\nHost: x\r\n"
	    "\r\n");
	ck_assert_int_eq(http_parse_request(reqbuf, (size_t)n,
	    sizeof(reqbuf), &req), n);
	ck_assert_ptr_null(access_jwt_check(k, &req, NOW, 0, &why));
	ck_assert_str_eq(why, "missing token");
	jwt_key_free(k);
}
END_TEST

Suite *
jwt_suite(void)
{
	Suite	*s = suite_create("jwt");
	TCase	*tc = tcase_create("core");

	/* RSA key generation under sanitizers. */
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_b64url);
	tcase_add_test(tc, test_key_parse);
	tcase_add_test(tc, test_hs256);
	tcase_add_test(tc, test_pkey);
	tcase_add_test(tc, test_refusals);
	tcase_add_test(tc, test_times);
	tcase_add_test(tc, test_channel_match);
	tcase_add_test(tc, test_allows_channel);
	tcase_add_test(tc, test_request);
	suite_add_tcase(s, tc);
	return s;
}
