/* tls.c -- OpenSSL contexts for https/wss listeners. */
#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

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

/* A [tls NAME...] section's certificate and the names it serves. */
struct tls_host {
	SSL_CTX			*ctx;
	char			**names;	/* lowercase, "*.x" wildcards */
	size_t			 nnames;
};

struct tls {
	SSL_CTX			*ctx;		/* [tls]: the default */
	struct tls_host		*hosts;
	size_t			 nhosts;
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
 * Builds one SSL_CTX: protocol settings from conf ([tls]), certificate
 * and key from files (conf itself or a [tls NAME...] section). Every
 * context gets the same settings: the servername callback may switch a
 * handshake to another one, whose callbacks (ALPN) then apply. On failure
 * *key names the key at fault; dates: warn of an expiry (not for -t's
 * trial build).
 */
static SSL_CTX *
tls_ctx_new(const struct wsd_tls *conf, const struct wsd_tls *files,
    char **cause, const char **key, int dates)
{
	SSL_CTX	*ctx;

	*cause = NULL;
	*key = "certificate";
	/* Plain errno first: it names the real problem best. */
	if (access(files->certificate, R_OK) == -1) {
		if (asprintf(cause, "certificate %s: %s", files->certificate,
		    strerror(errno)) == -1)
			*cause = NULL;
		return NULL;
	}
	*key = "private_key";
	if (access(files->private_key, R_OK) == -1) {
		if (asprintf(cause, "private key %s: %s", files->private_key,
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
	if (SSL_CTX_use_certificate_chain_file(ctx, files->certificate) != 1) {
		*cause = tls_cause("cannot load certificate",
		    files->certificate);
		goto fail;
	}
	*key = "private_key";
	if (SSL_CTX_use_PrivateKey_file(ctx, files->private_key,
	    SSL_FILETYPE_PEM) != 1) {
		*cause = tls_cause("cannot load private key",
		    files->private_key);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		ERR_clear_error();
		if (asprintf(cause, "private key %s does not match certificate "
		    "%s", files->private_key, files->certificate) == -1)
			*cause = NULL;
		goto fail;
	}
	if (dates)
		tls_check_dates(ctx, files->certificate);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	if (*cause == NULL)
		*cause = strdup("TLS set-up failed");
	return NULL;
}

/* The context for a client's SNI name: the best match, else NULL. */
static SSL_CTX *
tls_host_ctx(const struct tls *t, const char *sni)
{
	SSL_CTX	*best = NULL;
	char	 name[256];
	size_t	 i, j;
	int	 rank, best_rank = 0;

	if (config_host_normalize(sni, name, sizeof(name)) == -1)
		return NULL;
	for (i = 0; i < t->nhosts; i++)
		for (j = 0; j < t->hosts[i].nnames; j++)
			if ((rank = config_host_rank(t->hosts[i].names[j],
			    name)) > best_rank) {
				best = t->hosts[i].ctx;
				best_rank = rank;
			}
	return best;
}

/*
 * The servername callback (RFC 6066 3), run as the ClientHello is read,
 * before the cipher is chosen: a name with a certificate of its own
 * switches the handshake to that context; no name or another name keeps
 * the default.
 */
static int
tls_sni_cb(SSL *ssl, int *alert, void *arg)
{
	const struct tls	*t = arg;
	const char		*sni;
	SSL_CTX			*ctx;

	(void)alert;
	if ((sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name)) ==
	    NULL)
		return SSL_TLSEXT_ERR_NOACK;
	if ((ctx = tls_host_ctx(t, sni)) != NULL &&
	    SSL_set_SSL_CTX(ssl, ctx) == NULL)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	return SSL_TLSEXT_ERR_OK;
}

/* Adds the context of one [tls NAME...] section; -1 with *cause. */
static int
tls_host_add(struct tls *t, const struct wsd_tls *conf,
    const struct wsd_tls *host, char **cause)
{
	struct tls_host	*h = &t->hosts[t->nhosts];
	const char	*key;
	size_t		 i;

	if ((h->ctx = tls_ctx_new(conf, host, cause, &key, 1)) == NULL)
		return -1;
	t->nhosts++;
	if ((h->names = calloc(host->names.n, sizeof(*h->names))) == NULL)
		goto oom;
	for (i = 0; i < host->names.n; i++) {
		if ((h->names[i] = strdup(host->names.v[i])) == NULL)
			goto oom;
		h->nnames++;
	}
	return 0;
oom:
	*cause = strdup("out of memory");
	return -1;
}

/* Creates the server's TLS contexts: the default, then one per name. */
struct tls *
tls_new(const struct wsd_config *conf, char **cause, int *line)
{
	struct tls	*t;
	const char	*key;
	size_t		 i;

	*line = conf->tls.line;
	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (t->hosts = calloc(conf->ntls_hosts + 1,
	    sizeof(*t->hosts))) == NULL) {
		free(t);
		*cause = strdup("out of memory");
		return NULL;
	}
	if ((t->ctx = tls_ctx_new(&conf->tls, &conf->tls, cause, &key,
	    1)) == NULL)
		goto fail;
	for (i = 0; i < conf->ntls_hosts; i++) {
		*line = conf->tls_hosts[i].line;
		if (tls_host_add(t, &conf->tls, &conf->tls_hosts[i],
		    cause) == -1)
			goto fail;
	}
	if (t->nhosts > 0) {
		SSL_CTX_set_tlsext_servername_callback(t->ctx, tls_sni_cb);
		SSL_CTX_set_tlsext_servername_arg(t->ctx, t);
	}
	return t;
fail:
	tls_free(t);
	return NULL;
}

/* Builds a context and throws it away: the config's deeper check. */
int
tls_check(const struct wsd_tls *conf, char **cause, const char **key)
{
	SSL_CTX	*ctx;

	if ((ctx = tls_ctx_new(conf, conf, cause, key, 0)) == NULL)
		return -1;
	SSL_CTX_free(ctx);
	return 0;
}

/* Frees the contexts; open connections keep their own references. */
void
tls_free(struct tls *t)
{
	size_t	i, j;

	if (t == NULL)
		return;
	for (i = 0; i < t->nhosts; i++) {
		SSL_CTX_free(t->hosts[i].ctx);
		for (j = 0; j < t->hosts[i].nnames; j++)
			free(t->hosts[i].names[j]);
		free(t->hosts[i].names);
	}
	free(t->hosts);
	SSL_CTX_free(t->ctx);
	free(t);
}

/* How many certificates t serves: the default and one per section. */
size_t
tls_count(const struct tls *t)
{
	return t == NULL ? 0 : 1 + t->nhosts;
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

/* First bytes a TLS client may send; anything else is not TLS at all. */
int
tls_record_start(uint8_t b)
{
	return (b >= 20 && b <= 24) || (b & 0x80) != 0;
}

/* OpenSSL's reason for error e, or what. */
const char *
tls_reason(unsigned long e, const char *what)
{
	const char	*r;

	if (e == 0 || (r = ERR_reason_error_string(e)) == NULL)
		return what;
	return r;
}

/* A client context: TLS 1.2 at least, peers checked against ca. */
SSL_CTX *
tls_client_ctx(const char *ca)
{
	SSL_CTX	*ctx;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if ((ca != NULL ? SSL_CTX_load_verify_locations(ctx, ca, NULL) :
	    SSL_CTX_set_default_verify_paths(ctx)) != 1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* A client SSL object: SNI and the name or address check for host. */
SSL *
tls_client_ssl(SSL_CTX *ctx, const char *host)
{
	struct in6_addr	 a6;
	SSL		*ssl;

	if ((ssl = SSL_new(ctx)) == NULL)
		return NULL;
	if (inet_pton(AF_INET, host, &a6) == 1 ||
	    inet_pton(AF_INET6, host, &a6) == 1) {
		if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
		    host) != 1) {
			SSL_free(ssl);
			return NULL;
		}
	} else if (SSL_set_tlsext_host_name(ssl, host) != 1 ||
	    SSL_set1_host(ssl, host) != 1) {
		SSL_free(ssl);
		return NULL;
	}
	SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
	return ssl;
}
