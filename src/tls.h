/* tls.h -- a generation's TLS context: built from [tls] at each load. */
#ifndef WSD_TLS_H
#define WSD_TLS_H

#include <stdint.h>

#include <openssl/ssl.h>

struct wsd_config;
struct wsd_tls;
struct tls;

/*
 * Builds the TLS contexts of a config: [tls]'s, the default, and one for
 * each [tls NAME...] section, chosen by the client's SNI name at the
 * handshake (the best match, exact before wildcard). Each has its
 * certificate chain and private key (checked against the certificate);
 * all share [tls]'s minimum version, cipher lists and ALPN http/1.1.
 * Returns NULL with *cause (caller frees) naming the file that failed and
 * *line the line of its section. An expired certificate is only a
 * warning.
 */
struct tls	*tls_new(const struct wsd_config *conf, char **cause,
		    int *line);
void		 tls_free(struct tls *t);
/* How many certificates t serves (0 for NULL). */
size_t		 tls_count(const struct tls *t);
/*
 * Whether conf's files make a context (they load, the key matches the
 * certificate, the cipher lists are known): 0, or -1 with *cause (caller
 * frees) and *key, the [tls] key at fault. config_register_tls_check()
 * takes it, so that wsd -t reports these errors with all the others.
 */
int		 tls_check(const struct wsd_tls *conf, char **cause,
		    const char **key);
/*
 * The SHA-256 fingerprint of t's certificate as openssl x509 -fingerprint
 * writes it ("AB:CD:..."), into buf; "" when there is none.
 */
void		 tls_fingerprint(const struct tls *t, char *buf, size_t size);
/*
 * A client context (a proxy's wss backends, [cluster]'s Redis): TLS 1.2
 * at least, the peer's chain checked against the PEM file ca, or the
 * system's store for NULL. NULL when ca cannot be loaded (the caller
 * logs it) or memory ran out.
 */
SSL_CTX		*tls_client_ctx(const char *ca);
/*
 * A client SSL object for a connection to host: SNI and the host name
 * check (RFC 6125), or the address check for an IP literal. NULL on
 * failure.
 */
SSL		*tls_client_ssl(SSL_CTX *ctx, const char *host);
/* A new server-side SSL object for one connection; NULL on failure. */
SSL		*tls_ssl_new(struct tls *t);

/*
 * Whether b can be the first byte of what a TLS client sends: a record's
 * content type (RFC 8446 5.1, 20 to 23, and 24 for heartbeats, RFC 6520)
 * or the high bit of an SSLv2-compatible ClientHello's length (RFC 5246
 * E.2). A plain HTTP request starts with a letter of its method.
 */
int		 tls_record_start(uint8_t b);
/*
 * Why a handshake failed, from an OpenSSL error code: its reason string
 * ("wrong version number", "no shared cipher", "tlsv1 alert protocol
 * version"), or what for 0.
 */
const char	*tls_reason(unsigned long e, const char *what);

#endif
