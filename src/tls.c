/* tls.c -- OpenSSL contexts for https/wss listeners. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "config.h"
#include "log.h"
#include "tls.h"

/*
 * TLS 1.2 suites when the config names none: forward secrecy and AEAD
 * only (the "intermediate" profile); TLS 1.3 keeps OpenSSL's defaults.
 */
#define TLS_DEFAULT_CIPHERS \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:" \
	"DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384"

struct tls {
	SSL_CTX			*ctx;
};

/* "<what> <path>: <OpenSSL's first queued reason>", for *cause. */
static char *
tls_cause(const char *what, const char *path)
{
	char		 ossl[256], *s;
	unsigned long	 e = ERR_get_error();

	if (e != 0)
		ERR_error_string_n(e, ossl, sizeof(ossl));
	else
		snprintf(ossl, sizeof(ossl), "unknown error");
	ERR_clear_error();
	if (asprintf(&s, "%s %s: %s", what, path, ossl) == -1)
		return NULL;
	return s;
}

/* ALPN: we speak http/1.1 (WebSockets start as HTTP/1.1); else no ALPN. */
static int
tls_alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	static const unsigned char	 ours[] = "\x08http/1.1";
	unsigned char			*sel;

	(void)ssl;
	(void)arg;
	if (SSL_select_next_proto(&sel, outlen, ours, sizeof(ours) - 1, in,
	    inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

/* Encrypted keys are refused: a daemon has nobody to ask. */
static int
tls_no_passphrase_cb(char *buf, int size, int rwflag, void *arg)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)arg;
	return 0;
}

/* Warns when the leaf certificate has expired or is not yet valid. */
static void
tls_check_dates(SSL_CTX *ctx, const char *path)
{
	X509	*cert = SSL_CTX_get0_certificate(ctx);

	if (cert == NULL)
		return;
	if (X509_cmp_current_time(X509_get0_notAfter(cert)) < 0)
		log_warnx("tls: certificate %s has expired", path);
	else if (X509_cmp_current_time(X509_get0_notBefore(cert)) > 0)
		log_warnx("tls: certificate %s is not valid yet", path);
}

/*
 * Builds one SSL_CTX from the config's files; on failure *key names the
 * [tls] key at fault.
 */
static SSL_CTX *
tls_ctx_new(const struct wsd_tls *conf, char **cause, const char **key)
{
	SSL_CTX	*ctx;

	*cause = NULL;
	*key = "certificate";
	/* Plain errno first: it names the real problem best. */
	if (access(conf->certificate, R_OK) == -1) {
		if (asprintf(cause, "certificate %s: %s", conf->certificate,
		    strerror(errno)) == -1)
			*cause = NULL;
		return NULL;
	}
	*key = "private_key";
	if (access(conf->private_key, R_OK) == -1) {
		if (asprintf(cause, "private key %s: %s", conf->private_key,
		    strerror(errno)) == -1)
			*cause = NULL;
		return NULL;
	}
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		*cause = tls_cause("cannot create", "the TLS context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, conf->min_version);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_NO_COMPRESSION);
	/* Idle connections give their read/write buffers back. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_alpn_select_cb(ctx, tls_alpn_cb, NULL);
	SSL_CTX_set_default_passwd_cb(ctx, tls_no_passphrase_cb);
	*key = "ciphers";
	if (SSL_CTX_set_cipher_list(ctx, conf->ciphers ? conf->ciphers :
	    TLS_DEFAULT_CIPHERS) != 1) {
		*cause = tls_cause("ciphers", conf->ciphers ? conf->ciphers :
		    TLS_DEFAULT_CIPHERS);
		goto fail;
	}
	*key = "ciphersuites";
	if (conf->ciphersuites != NULL &&
	    SSL_CTX_set_ciphersuites(ctx, conf->ciphersuites) != 1) {
		*cause = tls_cause("ciphersuites", conf->ciphersuites);
		goto fail;
	}
	*key = "certificate";
	if (SSL_CTX_use_certificate_chain_file(ctx, conf->certificate) != 1) {
		*cause = tls_cause("cannot load certificate",
		    conf->certificate);
		goto fail;
	}
	*key = "private_key";
	if (SSL_CTX_use_PrivateKey_file(ctx, conf->private_key,
	    SSL_FILETYPE_PEM) != 1) {
		*cause = tls_cause("cannot load private key",
		    conf->private_key);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		ERR_clear_error();
		if (asprintf(cause, "private key %s does not match certificate "
		    "%s", conf->private_key, conf->certificate) == -1)
			*cause = NULL;
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	if (*cause == NULL)
		*cause = strdup("TLS set-up failed");
	return NULL;
}

/* Creates the server's TLS context. */
struct tls *
tls_new(const struct wsd_tls *conf, char **cause)
{
	struct tls	*t;
	const char	*key;

	if ((t = calloc(1, sizeof(*t))) == NULL) {
		*cause = strdup("out of memory");
		return NULL;
	}
	if ((t->ctx = tls_ctx_new(conf, cause, &key)) == NULL) {
		free(t);
		return NULL;
	}
	tls_check_dates(t->ctx, conf->certificate);
	return t;
}

/* Builds a context and throws it away: the config's deeper check. */
int
tls_check(const struct wsd_tls *conf, char **cause, const char **key)
{
	SSL_CTX	*ctx;

	if ((ctx = tls_ctx_new(conf, cause, key)) == NULL)
		return -1;
	SSL_CTX_free(ctx);
	return 0;
}

/* Frees the context; open connections keep their own reference. */
void
tls_free(struct tls *t)
{
	if (t == NULL)
		return;
	SSL_CTX_free(t->ctx);
	free(t);
}

/* The certificate's SHA-256 fingerprint, for the reload log. */
void
tls_fingerprint(const struct tls *t, char *buf, size_t size)
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 n = 0, i;
	X509		*cert;
	size_t		 len = 0;

	if (size > 0)
		buf[0] = '\0';
	if (t == NULL || (cert = SSL_CTX_get0_certificate(t->ctx)) == NULL ||
	    X509_digest(cert, EVP_sha256(), md, &n) != 1)
		return;
	for (i = 0; i < n && len + 3 < size; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s%02X",
		    i ? ":" : "", md[i]);
}

/* A server SSL for one accepted connection. */
SSL *
tls_ssl_new(struct tls *t)
{
	return SSL_new(t->ctx);
}
