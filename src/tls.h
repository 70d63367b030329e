/* tls.h -- a generation's TLS context: built from [tls] at each load. */
#ifndef WSD_TLS_H
#define WSD_TLS_H

#include <openssl/ssl.h>

struct wsd_tls;
struct tls;

/*
 * Builds a TLS context from the config: certificate chain, private key
 * (checked against the certificate), minimum version, cipher lists, ALPN
 * http/1.1. Returns NULL with *cause (caller frees) naming the file that
 * failed. An expired certificate is only a warning.
 */
struct tls	*tls_new(const struct wsd_tls *conf, char **cause);
void		 tls_free(struct tls *t);
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
/* A new server-side SSL object for one connection; NULL on failure. */
SSL		*tls_ssl_new(struct tls *t);

#endif
