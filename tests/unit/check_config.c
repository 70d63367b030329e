/* check_config.c -- config parsing, validation and route matching. */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "access.h"
#include "app.h"
#include "cidr.h"
#include "config.h"
#include "hub.h"
#include "log.h"
#include "suites.h"

/* Per-test scratch directory (check runs each test in its own fork). */
static char	 tmpdir[PATH_MAX];

/*
 * Creates the scratch directory, with the certificate and key files the
 * [tls] tests name (the config checks that they can be read).
 */
static void
setup(void)
{
	static const char *const files[] = {
		"c", "k", "c.pem", "k.pem", "cert.pem", "key.pem",
		"certs/fullchain.pem", "keys/k.pem", "a.pem", "a.key",
		"b.pem", "b.key", "fullchain.pem", "privkey.pem",
	};
	char	 path[PATH_MAX + 64];
	FILE	*fp;
	size_t	 i;

	snprintf(tmpdir, sizeof(tmpdir), "%s/wsd-config-XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(path, sizeof(path), "%s/certs", tmpdir);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/keys", tmpdir);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", tmpdir, files[i]);
		ck_assert_ptr_nonnull(fp = fopen(path, "w"));
		ck_assert_int_eq(fclose(fp), 0);
	}
}

/* Removes one entry of the scratch tree. */
static int
rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Removes the scratch directory and everything in it. */
static void
teardown(void)
{
	nftw(tmpdir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* Writes len bytes to name under the scratch directory; returns its path. */
static char *
write_bytes(const char *name, const char *bytes, size_t len)
{
	static char	 path[PATH_MAX + 256];
	FILE		*fp;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	ck_assert_ptr_nonnull(fp = fopen(path, "w"));
	ck_assert_uint_eq(fwrite(bytes, 1, len, fp), len);
	ck_assert_int_eq(fclose(fp), 0);
	return path;
}

/* Writes text to name under the scratch directory; returns its path. */
static char *
write_file(const char *name, const char *text)
{
	return write_bytes(name, text, strlen(text));
}

/* Makes a directory under the scratch directory; returns its path. */
static char *
make_dir(const char *name)
{
	static char	 path[PATH_MAX + 256];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	return path;
}

/*
 * Loads text as the file "wsd.ini" in the scratch directory. Returns the
 * errors with that file's path replaced by "F" (NULL when it loaded), so
 * tests compare whole "F:LINE: message" lines.
 */
static char *
load_errors_bytes(const char *text, size_t len)
{
	struct wsd_config *conf;
	char		*path, *errs, *out, *s, *o;
	size_t		 plen;

	path = write_bytes("wsd.ini", text, len);
	plen = strlen(path);
	conf = config_load(path, &errs);
	if (conf != NULL) {
		ck_assert_ptr_null(errs);
		config_free(conf);
		return NULL;
	}
	ck_assert_ptr_nonnull(errs);
	ck_assert_ptr_nonnull(out = malloc(strlen(errs) + 1));
	for (s = errs, o = out; *s != '\0';) {
		if (strncmp(s, path, plen) == 0) {
			*o++ = 'F';
			s += plen;
		} else
			*o++ = *s++;
	}
	*o = '\0';
	free(errs);
	return out;
}

/* load_errors_bytes for a string. */
static char *
load_errors(const char *text)
{
	return load_errors_bytes(text, strlen(text));
}

/* Loads text that must be valid. */
static struct wsd_config *
load_ok(const char *text)
{
	struct wsd_config *conf;
	char		*errs;

	conf = config_load(write_file("wsd.ini", text), &errs);
	if (conf == NULL)
		ck_abort_msg("unexpected errors:\n%s", errs);
	ck_assert_ptr_null(errs);
	return conf;
}

/* Asserts that text fails with exactly the given errors. */
#define ck_assert_errors(text, expect) do {				\
	char	*errs_ = load_errors(text);				\
	ck_assert_ptr_nonnull(errs_);					\
	ck_assert_str_eq(errs_, expect);				\
	free(errs_);							\
} while (0)

/* A route by path, which must exist. */
static const struct wsd_route *
route(const struct wsd_config *conf, const char *path)
{
	size_t	i;

	for (i = 0; i < conf->nroutes; i++)
		if (strcmp(conf->routes[i].path, path) == 0)
			return &conf->routes[i];
	ck_abort_msg("no route %s", path);
	return NULL;
}

/* Asserts that a route has every app key at its default. */
static void
assert_app_defaults(const struct wsd_route *r)
{
	ck_assert_msg(app_conf(r)->interval_min == 1, "%s: interval_min %g", r->path,
	    app_conf(r)->interval_min);
	ck_assert_msg(app_conf(r)->interval_max == 3, "%s: interval_max %g", r->path,
	    app_conf(r)->interval_max);
	ck_assert_int_eq(app_conf(r)->slow_client, HUB_SLOW_CLOSE);
	ck_assert_int_eq(app_conf(r)->echo_self, 1);
}

START_TEST(test_parse_size)
{
	static const struct {
		const char	*s;
		size_t		 v;
	} good[] = {
		{ "0", 0 }, { "1", 1 }, { "1k", 1024 }, { "1K", 1024 },
		{ "8k", 8192 }, { "1m", 1048576 }, { "1M", 1048576 },
		{ "1g", 1073741824 }, { "2G", 2147483648u }, { "010", 10 },
		{ "4096", 4096 },
	};
	static const char *const bad[] = {
		"", "-1", "+1", " 1", "1 ", "1x", "k", "1kb", "1.5k", "1 k",
		"0x10", "1t", "18446744073709551616", "17179869184g",
		"99999999999999999999999",
	};
	size_t	i, v;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		v = 7;
		ck_assert_msg(config_parse_size(good[i].s, &v) == 0,
		    "\"%s\" rejected", good[i].s);
		ck_assert_uint_eq(v, good[i].v);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 7;
		ck_assert_msg(config_parse_size(bad[i], &v) == -1,
		    "\"%s\" accepted", bad[i]);
		ck_assert_uint_eq(v, 7);
	}
}
END_TEST

START_TEST(test_parse_duration)
{
	static const struct {
		const char	*s;
		double		 v;
	} good[] = {
		{ "0", 0 }, { "20", 20 }, { "20s", 20 }, { "20S", 20 },
		{ "1.5s", 1.5 }, { "0.5", 0.5 }, { "250ms", 0.25 },
		{ "250MS", 0.25 }, { "1ms", 0.001 }, { "0.001", 0.001 },
		{ "1m", 60 }, { "1.5m", 90 }, { "0ms", 0 }, { "86400", 86400 },
		{ "1440m", 86400 }, { "10.000", 10 },
	};
	static const char *const bad[] = {
		"", "-1", "+1", "1x", ".5", "1.", "1e3", "s", "ms", "1 s",
		" 1", "inf", "nan", "0x10", "1h", "1d", "1..5", "1.5.5",
		"99999999999999999999",
	};
	size_t	i;
	double	v;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		v = -7;
		ck_assert_msg(config_parse_duration(good[i].s, &v) == 0,
		    "\"%s\" rejected", good[i].s);
		/* Exact: bounds like 0.001 are compared with ==. */
		ck_assert_msg(v == good[i].v, "\"%s\" gave %.17g", good[i].s,
		    v);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = -7;
		ck_assert_msg(config_parse_duration(bad[i], &v) == -1,
		    "\"%s\" accepted", bad[i]);
		ck_assert(v == -7);
	}
}
END_TEST

START_TEST(test_parse_bool)
{
	static const char *const on[] = { "on", "yes", "true", "1", "ON",
	    "Yes", "TRUE" };
	static const char *const off[] = { "off", "no", "false", "0", "OFF",
	    "No", "False" };
	static const char *const bad[] = { "", "2", "onn", "y", "n", "enable",
	    " on", "on " };
	size_t	i;
	int	b;

	for (i = 0; i < sizeof(on) / sizeof(on[0]); i++) {
		b = 7;
		ck_assert_int_eq(config_parse_bool(on[i], &b), 0);
		ck_assert_int_eq(b, 1);
	}
	for (i = 0; i < sizeof(off) / sizeof(off[0]); i++) {
		b = 7;
		ck_assert_int_eq(config_parse_bool(off[i], &b), 0);
		ck_assert_int_eq(b, 0);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(config_parse_bool(bad[i], &b) == -1,
		    "\"%s\" accepted", bad[i]);
}
END_TEST

START_TEST(test_parse_address_v4)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	socklen_t	 len;
	char		 buf[INET_ADDRSTRLEN];

	ck_assert_int_eq(config_parse_address("127.0.0.1:8080", &ss, &len), 0);
	ck_assert_int_eq(ss.ss_family, AF_INET);
	ck_assert_uint_eq(len, sizeof(struct sockaddr_in));
	ck_assert_uint_eq(ntohs(sin->sin_port), 8080);
	ck_assert_ptr_nonnull(inet_ntop(AF_INET, &sin->sin_addr, buf,
	    sizeof(buf)));
	ck_assert_str_eq(buf, "127.0.0.1");

	ck_assert_int_eq(config_parse_address("0.0.0.0:0", &ss, &len), 0);
	ck_assert_uint_eq(ntohs(sin->sin_port), 0);
	ck_assert_int_eq(config_parse_address("10.1.2.3:65535", &ss, &len), 0);
	ck_assert_uint_eq(ntohs(sin->sin_port), 65535);
}
END_TEST

START_TEST(test_parse_address_v6)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t	 len;
	char		 buf[INET6_ADDRSTRLEN];

	ck_assert_int_eq(config_parse_address("[::1]:443", &ss, &len), 0);
	ck_assert_int_eq(ss.ss_family, AF_INET6);
	ck_assert_uint_eq(len, sizeof(struct sockaddr_in6));
	ck_assert_uint_eq(ntohs(sin6->sin6_port), 443);
	ck_assert(IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr));

	ck_assert_int_eq(config_parse_address("[::]:0", &ss, &len), 0);
	ck_assert(IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr));
	ck_assert_uint_eq(ntohs(sin6->sin6_port), 0);

	ck_assert_int_eq(config_parse_address("[2001:db8::42]:8080", &ss,
	    &len), 0);
	ck_assert_ptr_nonnull(inet_ntop(AF_INET6, &sin6->sin6_addr, buf,
	    sizeof(buf)));
	ck_assert_str_eq(buf, "2001:db8::42");

	ck_assert_int_eq(config_parse_address("[::ffff:127.0.0.1]:80", &ss,
	    &len), 0);
	ck_assert_int_eq(ss.ss_family, AF_INET6);
}
END_TEST

START_TEST(test_parse_address_bad)
{
	static const char *const bad[] = {
		"", "127.0.0.1", "127.0.0.1:", ":80", "127.0.0.1:65536",
		"127.0.0.1:-1", "127.0.0.1:+80", "127.0.0.1:80x",
		"127.0.0.1:0080000", "127.0.0.1: 80", " 127.0.0.1:80",
		"localhost:80", "1.2.3:80", "256.1.1.1:80", "::1:80", "[::1]80",
		"[::1]", "[::1]:", "[]:80", "[1.2.3.4]:80", "[::1:80",
		"[:::1]:80", "*:80", "127.0.0.1:80 tls",
	};
	struct sockaddr_storage ss;
	socklen_t	 len;
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(config_parse_address(bad[i], &ss, &len) == -1,
		    "\"%s\" accepted", bad[i]);
}
END_TEST

START_TEST(test_defaults)
{
	struct wsd_config *conf;
	struct sockaddr_in *sin;

	/* An empty file: every default, the default listener, no routes. */
	conf = load_ok("");
	ck_assert_ptr_nonnull(conf->file);
	ck_assert_int_eq(conf->log_level, LOG_LVL_INFO);
	ck_assert_int_eq(conf->access_log, 1);
	ck_assert_uint_eq(conf->max_connections, 10000);
	ck_assert_uint_eq(conf->max_header_size, 8192);
	ck_assert_uint_eq(conf->lim.max_message_size, 1048576);
	ck_assert_uint_eq(conf->lim.max_send_buffer, 1048576);
	ck_assert(conf->lim.ping_interval == 20);
	ck_assert(conf->lim.ping_timeout == 20);
	ck_assert(conf->lim.send_timeout == 30);
	ck_assert(conf->handshake_timeout == 10);
	ck_assert(conf->idle_timeout == 30);
	ck_assert(conf->close_timeout == 10);
	ck_assert_uint_eq(conf->nroutes, 0);
	ck_assert_uint_eq(conf->nlistens, 1);
	ck_assert_str_eq(conf->listens[0].text, "127.0.0.1:8080");
	ck_assert_int_eq(conf->listens[0].line, 0);
	ck_assert_int_eq(conf->listens[0].tls, 0);
	sin = (struct sockaddr_in *)&conf->listens[0].addr;
	ck_assert_int_eq(sin->sin_family, AF_INET);
	ck_assert_uint_eq(ntohs(sin->sin_port), 8080);
	ck_assert_uint_eq(htonl(INADDR_LOOPBACK), sin->sin_addr.s_addr);
	/* No [tls] section. */
	ck_assert_int_eq(conf->tls.line, 0);
	ck_assert_ptr_null(conf->tls.certificate);
	ck_assert_ptr_null(conf->tls.private_key);
	ck_assert_int_eq(conf->tls.min_version, TLS1_2_VERSION);
	ck_assert_ptr_null(conf->tls.ciphers);
	ck_assert_ptr_null(conf->tls.ciphersuites);
	config_free(conf);

	/* An empty [server] is fine too. */
	conf = load_ok("[server]\n");
	ck_assert_uint_eq(conf->nlistens, 1);
	config_free(conf);
}
END_TEST

START_TEST(test_full)
{
	struct wsd_config *conf;
	const struct wsd_route *r;
	char		*text, *www;

	www = make_dir("www");
	ck_assert_int_ne(asprintf(&text,
	    "\xef\xbb\xbf# every key\r\n"
	    "[server]\r\n"
	    "listen = 127.0.0.1:0\n"
	    "listen = [::1]:0     ; inline comment\n"
	    "\tlisten = 0.0.0.0:9000\n"
	    "   log_level = debug\n"
	    "access_log = off\n"
	    "max_connections = 1000000\n"
	    "max_header_size = 1m\n"
	    "max_message_size = 1g\n"
	    "max_send_buffer = 64K\n"
	    "ping_interval = 0\n"
	    "ping_timeout = 250ms\n"
	    "handshake_timeout = 0.001\n"
	    "idle_timeout = 1.5m\n"
	    "close_timeout = 86400s\n"
	    "\n"
	    "; a static site\n"
	    "[route /]\n"
	    "app = static\n"
	    "root = %s\n"
	    "[ route   /echo ]   # comment\n"
	    "app=echo\n"
	    "max_message_size=16k\n"
	    "[route /hello]\n"
	    "app = hello\n"
	    "send_timeout = 2.5s\n", www), -1);
	conf = load_ok(text);
	free(text);

	ck_assert_uint_eq(conf->nlistens, 3);
	ck_assert_str_eq(conf->listens[0].text, "127.0.0.1:0");
	ck_assert_int_eq(conf->listens[0].line, 3);
	ck_assert_str_eq(conf->listens[1].text, "[::1]:0");
	ck_assert_int_eq(conf->listens[1].addr.ss_family, AF_INET6);
	ck_assert_int_eq(conf->listens[1].line, 4);
	ck_assert_str_eq(conf->listens[2].text, "0.0.0.0:9000");
	ck_assert_int_eq(conf->log_level, LOG_LVL_DEBUG);
	ck_assert_int_eq(conf->access_log, 0);
	ck_assert_uint_eq(conf->max_connections, 1000000);
	ck_assert_uint_eq(conf->max_header_size, 1048576);
	ck_assert_uint_eq(conf->lim.max_message_size, 1073741824);
	ck_assert_uint_eq(conf->lim.max_send_buffer, 65536);
	ck_assert(conf->lim.ping_interval == 0);
	ck_assert(conf->lim.ping_timeout == 0.25);
	ck_assert(conf->handshake_timeout == 0.001);
	ck_assert(conf->idle_timeout == 90);
	ck_assert(conf->close_timeout == 86400);

	ck_assert_uint_eq(conf->nroutes, 3);
	r = route(conf, "/");
	ck_assert_ptr_null(r->app);
	ck_assert_int_eq(r->line, 19);
	ck_assert_uint_eq(r->path_len, 1);
	ck_assert_str_eq(r->root, www);
	ck_assert_ptr_nonnull(r->root_real);
	ck_assert_str_eq(r->root_real, www);
	r = route(conf, "/echo");
	ck_assert_ptr_eq(r->app, app_find("echo"));
	ck_assert_int_eq(r->line, 22);
	ck_assert_ptr_null(r->root);
	ck_assert_uint_eq(r->lim.max_message_size, 16384);
	ck_assert_uint_eq(r->lim.max_send_buffer, 65536);
	ck_assert(r->lim.ping_interval == 0);
	ck_assert(r->lim.ping_timeout == 0.25);
	ck_assert(r->lim.send_timeout == 30);
	r = route(conf, "/hello");
	ck_assert_ptr_eq(r->app, app_find("hello"));
	ck_assert(r->lim.send_timeout == 2.5);
	config_free(conf);
}
END_TEST

START_TEST(test_typo_line)
{
	char	*errs;

	errs = load_errors(
	    "# line 1\n"
	    "[server]\n"
	    "listen = 127.0.0.1:0\n"
	    "\n"
	    "log_level = info\n"
	    "; line 6\n"
	    "max_conections = 10\n"
	    "access_log = on\n");
	ck_assert_ptr_nonnull(errs);
	ck_assert_ptr_nonnull(strstr(errs, ":7: "));
	ck_assert_str_eq(errs, "F:7: unknown key \"max_conections\" in "
	    "[server] (did you mean \"max_connections\"?)");
	free(errs);

	/* No suggestion when nothing is close. */
	ck_assert_errors("[server]\nfoo = 1\n",
	    "F:2: unknown key \"foo\" in [server]");
	ck_assert_errors("[route /x]\napp = echo\npingtimeout = 1\n",
	    "F:3: unknown key \"pingtimeout\" in [route /x] "
	    "(did you mean \"ping_timeout\"?)");
}
END_TEST

START_TEST(test_many_errors)
{
	char	*expect;

	/* Every error is reported, in line order, and parsing goes on. */
	ck_assert_int_ne(asprintf(&expect,
	    "F:2: max_connections: invalid number \"lots\"\n"
	    "F:3: expected \"key = value\" or \"[section]\"\n"
	    "F:4: ping_interval: invalid duration \"5x\"\n"
	    "F:6: unknown app \"nope\" (known: %s)\n"
	    "F:7: route /b: missing \"app\"\n"
	    "F:8: unknown section \"[bogus]\"\n"
	    "F:10: duplicate [server] section (first at line 1)\n"
	    "F:11: access_log: invalid value (on|off or a file path with a /) "
	    "\"maybe\"",
	    app_names()), -1);
	ck_assert_errors(
	    "[server]\n"
	    "max_connections = lots\n"
	    "this is not a key\n"
	    "ping_interval = 5x\n"
	    "[route /a]\n"
	    "app = nope\n"
	    "[route /b]\n"
	    "[bogus]\n"
	    "key = ignored in a bad section\n"
	    "[server]\n"
	    "access_log = maybe\n", expect);
	free(expect);
}
END_TEST

START_TEST(test_bad_values)
{
	ck_assert_errors("[server]\nmax_message_size = 1x\n",
	    "F:2: max_message_size: invalid size \"1x\"");
	ck_assert_errors("[server]\nmax_send_buffer = -1\n",
	    "F:2: max_send_buffer: invalid size \"-1\"");
	ck_assert_errors("[server]\nmax_header_size = 99999999999999999999k\n",
	    "F:2: max_header_size: invalid size \"99999999999999999999k\"");
	ck_assert_errors("[server]\nping_timeout = 1h\n",
	    "F:2: ping_timeout: invalid duration \"1h\"");
	ck_assert_errors("[server]\nclose_timeout = -1\n",
	    "F:2: close_timeout: invalid duration \"-1\"");
	ck_assert_errors("[server]\naccess_log = maybe\n",
	    "F:2: access_log: invalid value (on|off or a file path with a /) "
	    "\"maybe\"");
	ck_assert_errors("[server]\nlog_level = verbose\n",
	    "F:2: log_level: invalid level (error|warn|info|debug) "
	    "\"verbose\"");
	ck_assert_errors("[server]\nmax_connections = 1.5\n",
	    "F:2: max_connections: invalid number \"1.5\"");
	ck_assert_errors("[server]\nmax_connections =\n",
	    "F:2: max_connections: missing value");
	ck_assert_errors("[server]\nmax_connections = ; just a comment\n",
	    "F:2: max_connections: missing value");
	ck_assert_errors("[server]\nlisten = localhost:80\n",
	    "F:2: listen: invalid address \"localhost:80\" "
	    "(expected ADDR:PORT or [V6ADDR]:PORT)");
	ck_assert_errors("[server]\nlisten = ::1:80\n",
	    "F:2: listen: invalid address \"::1:80\" "
	    "(expected ADDR:PORT or [V6ADDR]:PORT)");
	ck_assert_errors("[server]\nlisten = 127.0.0.1:65536\n",
	    "F:2: listen: invalid address \"127.0.0.1:65536\" "
	    "(expected ADDR:PORT or [V6ADDR]:PORT)");
	ck_assert_errors("[server]\nlisten = [::]:443  tls  http2\n",
	    "F:2: unknown listen flag \"http2\"");
	ck_assert_errors("[server]\nlisten = 127.0.0.1:443 TLS ssl\n",
	    "F:2: unknown listen flag \"TLS\"\n"
	    "F:2: unknown listen flag \"ssl\"");
	ck_assert_errors("[server]\nlisten = 127.0.0.1:443 tls tls\n",
	    "F:2: duplicate listen flag \"tls\"");
	ck_assert_errors("[server]\nlisten = nowhere tls\n",
	    "F:2: listen: invalid address \"nowhere\" "
	    "(expected ADDR:PORT or [V6ADDR]:PORT)");
}
END_TEST

START_TEST(test_bounds)
{
	struct wsd_config *conf;

	ck_assert_errors("[server]\nmax_connections = 0\n",
	    "F:2: max_connections: \"0\" is out of range (1 to 1000000)");
	ck_assert_errors("[server]\nmax_connections = 1000001\n",
	    "F:2: max_connections: \"1000001\" is out of range "
	    "(1 to 1000000)");
	ck_assert_errors("[server]\nmax_connections = 99999999999999999999\n",
	    "F:2: max_connections: invalid number \"99999999999999999999\"");
	ck_assert_errors("[server]\nmax_header_size = 1023\n",
	    "F:2: max_header_size: \"1023\" is out of range (1k to 1m)");
	ck_assert_errors("[server]\nmax_header_size = 1048577\n",
	    "F:2: max_header_size: \"1048577\" is out of range (1k to 1m)");
	ck_assert_errors("[server]\nmax_message_size = 0\n",
	    "F:2: max_message_size: \"0\" is out of range (1 to 1g)");
	ck_assert_errors("[server]\nmax_message_size = 2g\n",
	    "F:2: max_message_size: \"2g\" is out of range (1 to 1g)");
	ck_assert_errors("[server]\nmax_send_buffer = 512\n",
	    "F:2: max_send_buffer: \"512\" is out of range (1k to 1g)");
	ck_assert_errors("[server]\nping_interval = 86401\n",
	    "F:2: ping_interval: \"86401\" is out of range (0s to 86400s)");
	ck_assert_errors("[server]\nping_timeout = 1441m\n",
	    "F:2: ping_timeout: \"1441m\" is out of range (0s to 86400s)");
	ck_assert_errors("[server]\nhandshake_timeout = 0\n",
	    "F:2: handshake_timeout: \"0\" is out of range (1ms to 86400s)");
	ck_assert_errors("[server]\nidle_timeout = 0.0009\n",
	    "F:2: idle_timeout: \"0.0009\" is out of range (1ms to 86400s)");
	ck_assert_errors("[server]\nclose_timeout = 0ms\n",
	    "F:2: close_timeout: \"0ms\" is out of range (1ms to 86400s)");
	/* Per-route values are bounded the same way. */
	ck_assert_errors("[route /e]\napp = echo\nmax_message_size = 2g\n",
	    "F:3: max_message_size: \"2g\" is out of range (1 to 1g)");

	/* The bounds themselves are accepted. */
	conf = load_ok("[server]\n"
	    "max_connections = 1\n"
	    "max_header_size = 1k\n"
	    "max_message_size = 1\n"
	    "max_send_buffer = 1g\n"
	    "ping_interval = 86400\n"
	    "ping_timeout = 0\n"
	    "handshake_timeout = 1ms\n"
	    "idle_timeout = 0.001s\n"
	    "close_timeout = 1440m\n");
	ck_assert_uint_eq(conf->max_connections, 1);
	ck_assert_uint_eq(conf->max_header_size, 1024);
	ck_assert_uint_eq(conf->lim.max_message_size, 1);
	ck_assert_uint_eq(conf->lim.max_send_buffer, 1073741824);
	ck_assert(conf->lim.ping_interval == 86400);
	ck_assert(conf->lim.ping_timeout == 0);
	ck_assert(conf->handshake_timeout == 0.001);
	ck_assert(conf->idle_timeout == 0.001);
	ck_assert(conf->close_timeout == 86400);
	config_free(conf);
}
END_TEST

/* The graceful stop's drain time and the reference count of a reload. */
START_TEST(test_shutdown_delay)
{
	struct wsd_config *conf;

	conf = load_ok("");
	ck_assert(conf->shutdown_delay == 0);
	ck_assert_uint_eq(conf->refs, 1);
	config_free(conf);
	conf = load_ok("[server]\nshutdown_delay = 2.5s\n");
	ck_assert(conf->shutdown_delay == 2.5);
	config_free(conf);
	conf = load_ok("[server]\nshutdown_delay = 1440m\n");
	ck_assert(conf->shutdown_delay == 86400);
	/* Each reference keeps it alive; ASan sees a use after free. */
	ck_assert_ptr_eq(config_ref(conf), conf);
	ck_assert_uint_eq(conf->refs, 2);
	config_free(conf);
	ck_assert(conf->shutdown_delay == 86400);
	config_free(conf);

	ck_assert_errors("[server]\nshutdown_delay = -1s\n",
	    "F:2: shutdown_delay: invalid duration \"-1s\"");
	ck_assert_errors("[server]\nshutdown_delay = 86401\n",
	    "F:2: shutdown_delay: \"86401\" is out of range (0s to 86400s)");
	ck_assert_errors("[server]\nshutdown_delay = soon\n",
	    "F:2: shutdown_delay: invalid duration \"soon\"");
	/* A [server] key only. */
	ck_assert_errors("[route /e]\napp = echo\nshutdown_delay = 1s\n",
	    "F:3: key \"shutdown_delay\" belongs in the [server] section");
}
END_TEST

START_TEST(test_duplicates)
{
	struct wsd_config *conf;

	ck_assert_errors("[route /x]\napp = echo\n\n[route /x]\napp = hello\n",
	    "F:4: duplicate route /x (first at line 1)");
	ck_assert_errors("[server]\n[route /e]\napp = echo\n[server]\n",
	    "F:4: duplicate [server] section (first at line 1)");
	ck_assert_errors("[server]\nmax_connections = 5\nmax_connections = 6\n",
	    "F:3: duplicate key \"max_connections\" (first at line 2)");
	ck_assert_errors("[route /e]\napp = echo\napp = echo\n",
	    "F:3: duplicate key \"app\" (first at line 2)");
	ck_assert_errors("[route /e]\napp = echo\nping_interval = 1\n"
	    "ping_interval = 2\n",
	    "F:4: duplicate key \"ping_interval\" (first at line 3)");
	ck_assert_errors("[server]\nlisten = 127.0.0.1:80\nlisten = [::1]:80\n"
	    "listen = 127.0.0.1:80\n",
	    "F:4: duplicate listen 127.0.0.1:80 (first at line 2)");
	ck_assert_errors("[server]\nlisten = [::1]:80\nlisten = [0::1]:80\n",
	    "F:3: duplicate listen [0::1]:80 (first at line 2)");

	/* listen repeats; port 0 twice is two ephemeral ports. */
	conf = load_ok("[server]\nlisten = 127.0.0.1:0\nlisten = 127.0.0.1:0\n"
	    "listen = 127.0.0.1:81\n");
	ck_assert_uint_eq(conf->nlistens, 3);
	config_free(conf);
}
END_TEST

START_TEST(test_root)
{
	struct wsd_config *conf;
	char		*text, *www, *file, *errs, *expect;
	char		 real[PATH_MAX];

	/* Missing directory. */
	ck_assert_errors("[route /]\napp = static\nroot = /nonexistent/wsd\n",
	    "F:3: root \"/nonexistent/wsd\": No such file or directory");
	ck_assert_errors("[route /]\napp = static\n",
	    "F:1: route /: missing \"root\"");

	/* A file is not a directory. */
	file = write_file("plain", "x");
	ck_assert_int_ne(asprintf(&text, "[route /]\napp = static\n"
	    "root = %s\n", file), -1);
	ck_assert_int_ne(asprintf(&expect, "F:3: root \"%s\": Not a "
	    "directory", file), -1);
	errs = load_errors(text);
	ck_assert_ptr_nonnull(errs);
	ck_assert_str_eq(errs, expect);
	free(errs);
	free(expect);
	free(text);

	/* Relative roots resolve against the config file's directory. */
	www = make_dir("site");
	ck_assert_ptr_nonnull(realpath(www, real));
	conf = load_ok("[route /]\napp = static\nroot = site\n");
	ck_assert_str_eq(conf->routes[0].root, "site");
	ck_assert_str_eq(conf->routes[0].root_real, real);
	config_free(conf);
	ck_assert_int_ne(asprintf(&expect, "F:3: root \"%s/gone\": No such "
	    "file or directory", tmpdir), -1);
	errs = load_errors("[route /]\napp = static\nroot = gone\n");
	ck_assert_ptr_nonnull(errs);
	ck_assert_str_eq(errs, expect);
	free(errs);
	free(expect);

	/* Symlinks and ".." are resolved. */
	make_dir("site/sub");
	conf = load_ok("[route /]\napp = static\nroot = site/sub/../sub/..\n");
	ck_assert_str_eq(conf->routes[0].root_real, real);
	config_free(conf);
}
END_TEST

START_TEST(test_apps)
{
	char	*expect;

	ck_assert_int_ne(asprintf(&expect, "F:2: unknown app \"chat\" "
	    "(known: %s)", app_names()), -1);
	ck_assert_errors("[route /chat]\napp = chat\n", expect);
	free(expect);
	ck_assert_int_ne(asprintf(&expect, "F:2: unknown app \"Echo\" "
	    "(known: %s)", app_names()), -1);
	ck_assert_errors("[route /chat]\napp = Echo\n", expect);
	free(expect);
	/* A bad or empty app does not also say "missing". */
	ck_assert_errors("[route /chat]\napp =\n", "F:2: app: missing value");
}
END_TEST

START_TEST(test_app_names)
{
	static const char *const names[] = { "hello", "echo", "time",
	    "broadcast", "counter", "relay" };
	struct wsd_config *conf;
	char		 text[128];
	size_t		 i;

	/* Every built-in app is known by name and listed. */
	ck_assert_ptr_nonnull(strstr(app_names(), "static"));
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		ck_assert_ptr_nonnull(app_find(names[i]));
		ck_assert_ptr_nonnull(strstr(app_names(), names[i]));
		snprintf(text, sizeof(text), "[route /x]\napp = %s\n",
		    names[i]);
		conf = load_ok(text);
		ck_assert_ptr_eq(conf->routes[0].app, app_find(names[i]));
		config_free(conf);
	}
}
END_TEST

START_TEST(test_app_keys)
{
	struct wsd_config *conf;
	const struct wsd_route *r;

	/* Each app takes its own keys, before or after "app =". */
	conf = load_ok(
	    "[route /t]\n"
	    "interval_min = 250ms\n"
	    "app = time\n"
	    "interval_max = 0.5\n"
	    "[route /b]\n"
	    "app = broadcast\n"
	    "interval_min = 2s\n"
	    "interval_max = 1m\n"
	    "slow_client = drop\n"
	    "[route /c]\n"
	    "slow_client = conflate\n"
	    "app = counter\n"
	    "[route /r]\n"
	    "app = relay\n"
	    "slow_client = close\n"
	    "echo_self = off\n"
	    "[route /r2]\n"
	    "echo_self = Yes\n"
	    "app = relay\n"
	    "max_send_buffer = 64k\n");
	r = route(conf, "/t");
	ck_assert(app_conf(r)->interval_min == 0.25);
	ck_assert(app_conf(r)->interval_max == 0.5);
	ck_assert_int_eq(app_conf(r)->slow_client, HUB_SLOW_CLOSE);
	r = route(conf, "/b");
	ck_assert(app_conf(r)->interval_min == 2);
	ck_assert(app_conf(r)->interval_max == 60);
	ck_assert_int_eq(app_conf(r)->slow_client, HUB_SLOW_DROP);
	r = route(conf, "/c");
	ck_assert_int_eq(app_conf(r)->slow_client, HUB_SLOW_CONFLATE);
	ck_assert(app_conf(r)->interval_min == 1);
	r = route(conf, "/r");
	ck_assert_int_eq(app_conf(r)->slow_client, HUB_SLOW_CLOSE);
	ck_assert_int_eq(app_conf(r)->echo_self, 0);
	r = route(conf, "/r2");
	ck_assert_int_eq(app_conf(r)->echo_self, 1);
	ck_assert_uint_eq(r->lim.max_send_buffer, 65536);
	config_free(conf);
}
END_TEST

START_TEST(test_app_keys_refused)
{
	static const char *const apps[] = { "hello", "echo", "time",
	    "broadcast", "counter", "relay" };
	static const struct {
		const char	*key;
		const char	*value;
		const char	*takers;	/* the apps that take it */
	} keys[] = {
		{ "interval_min", "1s", " time broadcast " },
		{ "interval_max", "3s", " time broadcast " },
		{ "slow_client", "drop", " broadcast counter relay " },
		{ "echo_self", "off", " relay " },
	};
	struct wsd_config *conf;
	char		 text[256], expect[256], word[32], *errs;
	size_t		 i, j;

	/* Every key on every app: accepted by its takers, refused by others. */
	for (i = 0; i < sizeof(apps) / sizeof(apps[0]); i++) {
		snprintf(word, sizeof(word), " %s ", apps[i]);
		for (j = 0; j < sizeof(keys) / sizeof(keys[0]); j++) {
			snprintf(text, sizeof(text), "[route /x]\napp = %s\n"
			    "%s = %s\n", apps[i], keys[j].key, keys[j].value);
			if (strstr(keys[j].takers, word) != NULL) {
				conf = load_ok(text);
				config_free(conf);
				continue;
			}
			snprintf(expect, sizeof(expect), "F:3: key \"%s\" is "
			    "not used by app \"%s\"", keys[j].key, apps[i]);
			errs = load_errors(text);
			ck_assert_msg(errs != NULL, "%s accepted on %s",
			    keys[j].key, apps[i]);
			ck_assert_str_eq(errs, expect);
			free(errs);
		}
	}

	/* Static routes take none of them. */
	make_dir("www");
	for (j = 0; j < sizeof(keys) / sizeof(keys[0]); j++) {
		snprintf(text, sizeof(text), "[route /]\n%s = %s\n"
		    "app = static\nroot = www\n", keys[j].key,
		    keys[j].value);
		snprintf(expect, sizeof(expect), "F:2: key \"%s\" is not used "
		    "by app \"static\"", keys[j].key);
		ck_assert_errors(text, expect);
	}

	/* Before or after "app =", reported at the key's line, in order. */
	ck_assert_errors(
	    "[route /e]\n"
	    "echo_self = off\n"
	    "app = echo\n"
	    "interval_min = 1s\n"
	    "ping_interval = 5\n"
	    "[route /s]\n"
	    "interval_max = 2s\n"
	    "app = static\n"
	    "root = www\n"
	    "ping_timeout = 1\n"
	    "[route /c]\n"
	    "interval_min = 1s\n"
	    "app = counter\n",
	    "F:2: key \"echo_self\" is not used by app \"echo\"\n"
	    "F:4: key \"interval_min\" is not used by app \"echo\"\n"
	    "F:7: key \"interval_max\" is not used by app \"static\"\n"
	    "F:10: key \"ping_timeout\" is not allowed on a static route\n"
	    "F:12: key \"interval_min\" is not used by app \"counter\"");

	/* Without a usable app, only the app is reported. */
	ck_assert_errors("[route /x]\nslow_client = drop\n",
	    "F:1: route /x: missing \"app\"");
	ck_assert_int_ne(snprintf(expect, sizeof(expect), "F:2: unknown app "
	    "\"chat\" (known: %s)", app_names()), -1);
	ck_assert_errors("[route /x]\napp = chat\nslow_client = drop\n",
	    expect);

	/* App keys belong to routes, and typos get a hint. */
	ck_assert_errors("[server]\nslow_client = drop\n",
	    "F:2: key \"slow_client\" belongs in a [route PATH] section");
	ck_assert_errors("[route /r]\napp = relay\nslow_clinet = drop\n",
	    "F:3: unknown key \"slow_clinet\" in [route /r] "
	    "(did you mean \"slow_client\"?)");
	ck_assert_errors("[route /r]\napp = relay\necho_self = on\n"
	    "echo_self = off\n",
	    "F:4: duplicate key \"echo_self\" (first at line 3)");
}
END_TEST

START_TEST(test_app_key_defaults)
{
	struct wsd_config *conf;
	size_t		 i;

	/* Unset keys get their defaults, on every kind of route. */
	make_dir("www");
	conf = load_ok(
	    "[route /]\napp = static\nroot = www\n"
	    "[route /hello]\napp = hello\n"
	    "[route /echo]\napp = echo\n"
	    "[route /time]\napp = time\n"
	    "[route /broadcast]\napp = broadcast\n"
	    "[route /counter]\napp = counter\n"
	    "[route /relay]\napp = relay\n");
	ck_assert_uint_eq(conf->nroutes, 7);
	for (i = 0; i < conf->nroutes; i++)
		assert_app_defaults(&conf->routes[i]);
	config_free(conf);

	/* One key set leaves the others at their defaults. */
	conf = load_ok("[route /b]\napp = broadcast\nslow_client = drop\n");
	ck_assert_int_eq(app_conf(&conf->routes[0])->slow_client, HUB_SLOW_DROP);
	ck_assert(app_conf(&conf->routes[0])->interval_min == 1);
	ck_assert(app_conf(&conf->routes[0])->interval_max == 3);
	ck_assert_int_eq(app_conf(&conf->routes[0])->echo_self, 1);
	config_free(conf);
}
END_TEST

START_TEST(test_policies)
{
	static const struct {
		const char	*s;
		int		 v;
	} good[] = {
		{ "close", HUB_SLOW_CLOSE }, { "drop", HUB_SLOW_DROP },
		{ "conflate", HUB_SLOW_CONFLATE },
	};
	struct wsd_config *conf;
	char		 text[128];
	size_t		 i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(text, sizeof(text), "[route /r]\napp = relay\n"
		    "slow_client = %s\n", good[i].s);
		conf = load_ok(text);
		ck_assert_int_eq(app_conf(&conf->routes[0])->slow_client, good[i].v);
		config_free(conf);
	}

	/* A bad value lists the choices. */
	ck_assert_errors("[route /c]\napp = counter\nslow_client = fast\n",
	    "F:3: slow_client: invalid policy (close|drop|conflate) "
	    "\"fast\"");
	ck_assert_errors("[route /c]\napp = counter\nslow_client = 1\n",
	    "F:3: slow_client: invalid policy (close|drop|conflate) \"1\"");
	ck_assert_errors("[route /c]\napp = counter\nslow_client =\n",
	    "F:3: slow_client: missing value");
	ck_assert_errors("[route /r]\napp = relay\necho_self = maybe\n",
	    "F:3: echo_self: invalid boolean (on|off|yes|no|true|false|1|0) "
	    "\"maybe\"");
}
END_TEST

START_TEST(test_intervals)
{
	struct wsd_config *conf;

	/* interval_min > interval_max: at the later of the two keys. */
	ck_assert_errors("[route /t]\napp = time\ninterval_min = 5s\n"
	    "interval_max = 2s\n",
	    "F:4: interval_min (5s) is greater than interval_max (2s)");
	ck_assert_errors("[route /t]\napp = time\ninterval_max = 2s\n"
	    "interval_min = 5s\n",
	    "F:4: interval_min (5s) is greater than interval_max (2s)");
	ck_assert_errors("[route /b]\ninterval_max = 0.5\n"
	    "interval_min = 0.75\napp = broadcast\n",
	    "F:3: interval_min (750ms) is greater than interval_max (500ms)");
	/* Against a default. */
	ck_assert_errors("[route /t]\napp = time\ninterval_min = 5s\n",
	    "F:3: interval_min (5s) is greater than interval_max "
	    "(3s, the default)");
	ck_assert_errors("[route /b]\napp = broadcast\n"
	    "interval_max = 500ms\n",
	    "F:3: interval_min (1s, the default) is greater than "
	    "interval_max (500ms)");

	/* Bounds: 1ms to 1 day. */
	ck_assert_errors("[route /t]\napp = time\ninterval_min = 0\n",
	    "F:3: interval_min: \"0\" is out of range (1ms to 86400s)");
	ck_assert_errors("[route /t]\napp = time\ninterval_min = 0.5ms\n",
	    "F:3: interval_min: \"0.5ms\" is out of range (1ms to 86400s)");
	ck_assert_errors("[route /t]\napp = time\ninterval_max = 1441m\n",
	    "F:3: interval_max: \"1441m\" is out of range (1ms to 86400s)");
	/* A rejected value is not compared again. */
	ck_assert_errors("[route /t]\napp = time\ninterval_max = 0\n",
	    "F:3: interval_max: \"0\" is out of range (1ms to 86400s)");
	ck_assert_errors("[route /t]\napp = time\ninterval_max = 0.5\n"
	    "interval_min = soon\n",
	    "F:4: interval_min: invalid duration \"soon\"");
	ck_assert_errors("[route /t]\napp = time\ninterval_max =\n",
	    "F:3: interval_max: missing value");
	/* Not compared either on an app that does not take them. */
	ck_assert_errors("[route /e]\napp = echo\ninterval_min = 5s\n"
	    "interval_max = 1s\n",
	    "F:3: key \"interval_min\" is not used by app \"echo\"\n"
	    "F:4: key \"interval_max\" is not used by app \"echo\"");

	/* Equal values and the bounds themselves are fine. */
	conf = load_ok("[route /t]\napp = time\ninterval_min = 2s\n"
	    "interval_max = 2000ms\n"
	    "[route /b]\napp = broadcast\ninterval_min = 1ms\n"
	    "interval_max = 1440m\n"
	    "[route /b2]\napp = broadcast\ninterval_min = 86400\n"
	    "interval_max = 86400s\n");
	ck_assert(app_conf(route(conf, "/t"))->interval_min == 2);
	ck_assert(app_conf(route(conf, "/t"))->interval_max == 2);
	ck_assert(app_conf(route(conf, "/b"))->interval_min == 0.001);
	ck_assert(app_conf(route(conf, "/b"))->interval_max == 86400);
	ck_assert(app_conf(route(conf, "/b2"))->interval_min == 86400);
	config_free(conf);
}
END_TEST

START_TEST(test_sections)
{
	ck_assert_errors("[sever]\nlisten = 1.2.3.4:5\n",
	    "F:1: unknown section \"[sever]\"");
	ck_assert_errors("[server extra]\n",
	    "F:1: unknown section \"[server extra]\"");
	ck_assert_errors("[]\n", "F:1: unknown section \"[]\"");
	ck_assert_errors("[route]\napp = echo\n",
	    "F:1: route without a path (expected [route /PATH])");
	ck_assert_errors("[server\nlisten = 1.2.3.4:5\n",
	    "F:1: missing \"]\" in section header");
	ck_assert_errors("[server] x\n",
	    "F:1: unexpected text after \"]\"");
	ck_assert_errors("listen = 127.0.0.1:80\n[server]\n",
	    "F:1: key \"listen\" outside any section");
	ck_assert_errors("[server]\nroot = /tmp\n",
	    "F:2: key \"root\" belongs in a [route PATH] section");
	ck_assert_errors("[route /e]\napp = echo\nlog_level = debug\n",
	    "F:3: key \"log_level\" belongs in the [server] section");
	ck_assert_errors("[route /e]\napp = echo\nlisten = 127.0.0.1:0\n",
	    "F:3: key \"listen\" belongs in the [server] section");
	/* Issue 16: [tls NAME...] is a certificate for those names. */
	ck_assert_errors("[tls main]\n",
	    "F:1: [tls main]: missing \"certificate\"\n"
	    "F:1: [tls main]: missing \"private_key\"\n"
	    "F:1: [tls main]: no [tls] section with the default certificate "
	    "(for clients without SNI or with another name)");
	ck_assert_errors("[TLS]\n", "F:1: unknown section \"[TLS]\"");
}
END_TEST

/* Issue 16: virtual hosts, [tls NAME...] sections and host keys. */
START_TEST(test_vhost_config)
{
	struct wsd_config *conf;
	const char	*tls = "[tls]\ncertificate = c\nprivate_key = k\n";
	char		*text;

	ck_assert_int_ne(asprintf(&text, "%s[tls Example.ORG www.example.org]\n"
	    "certificate = a.pem\nprivate_key = a.key\n"
	    "[tls *.example.net]\ncertificate = b.pem\nprivate_key = b.key\n"
	    "[route /]\napp = static\nroot = /tmp\nhost = example.org\n"
	    "host = WWW.example.org\n"
	    "[route /]\napp = static\nroot = /\n"
	    "[route /e]\napp = echo\nhost = *.example.net\n"
	    "[route /e]\napp = hello\n", tls), -1);
	conf = load_ok(text);
	free(text);
	ck_assert_uint_eq(conf->ntls_hosts, 2);
	ck_assert_uint_eq(conf->tls_hosts[0].names.n, 2);
	ck_assert_str_eq(conf->tls_hosts[0].names.v[0], "example.org");
	ck_assert_str_eq(conf->tls_hosts[0].names.v[1], "www.example.org");
	ck_assert_int_eq(conf->tls_hosts[0].line, 4);
	ck_assert(strstr(conf->tls_hosts[1].certificate, "/b.pem") != NULL);
	ck_assert_uint_eq(conf->routes[0].hosts.n, 2);
	ck_assert_str_eq(conf->routes[0].hosts.v[1], "www.example.org");
	ck_assert_uint_eq(conf->routes[1].hosts.n, 0);
	/* Host routes first for their names, the others for the rest. */
	ck_assert_ptr_eq(config_route_match_host(conf, "example.org", "/x"),
	    &conf->routes[0]);
	ck_assert_ptr_eq(config_route_match_host(conf, "WWW.Example.Org:8443",
	    "/x"), &conf->routes[0]);
	ck_assert_ptr_eq(config_route_match_host(conf, "example.org.", "/"),
	    &conf->routes[0]);
	ck_assert_ptr_eq(config_route_match_host(conf, "other.org", "/x"),
	    &conf->routes[1]);
	ck_assert_ptr_eq(config_route_match_host(conf, NULL, "/x"),
	    &conf->routes[1]);
	ck_assert_ptr_eq(config_route_match_host(conf, "a.example.net", "/e"),
	    &conf->routes[2]);
	ck_assert_ptr_eq(config_route_match_host(conf, "a.b.example.net",
	    "/e"), &conf->routes[3]);
	ck_assert_ptr_eq(config_route_match_host(conf, "example.net", "/e"),
	    &conf->routes[3]);
	/* An exact app path beats a static prefix on the host. */
	ck_assert_ptr_eq(config_route_match_host(conf, "example.org", "/e"),
	    &conf->routes[3]);
	ck_assert_ptr_eq(config_route_match(conf, "/e"), &conf->routes[3]);
	ck_assert(config_route_same_host(&conf->routes[1], &conf->routes[3]));
	ck_assert(!config_route_same_host(&conf->routes[0],
	    &conf->routes[1]));
	config_free(conf);

	/* Without a route for the other hosts: 404 (no route). */
	conf = load_ok("[route /]\napp = static\nroot = /tmp\n"
	    "host = a.test\n");
	ck_assert_ptr_nonnull(config_route_match_host(conf, "a.test", "/"));
	ck_assert_ptr_null(config_route_match_host(conf, "b.test", "/"));
	ck_assert_ptr_null(config_route_match_host(conf, NULL, "/"));
	config_free(conf);
}
END_TEST

START_TEST(test_vhost_errors)
{
	ck_assert_errors("[route /x]\napp = echo\nhost = a.test\n"
	    "[route /x]\napp = hello\nhost = b.test a.test\n",
	    "F:4: duplicate route /x on the same host (first at line 1)");
	ck_assert_errors("[route /x]\napp = echo\nhost = a_b.test\n"
	    "host = -a.test x..y *x.test *. a.test a.test\n",
	    "F:3: host: invalid host name \"a_b.test\": only letters, "
	    "digits, \"-\" and \".\"\n"
	    "F:4: host: invalid host name \"-a.test\": a label starts or "
	    "ends with \"-\"\n"
	    "F:4: host: invalid host name \"x..y\": empty label (no final "
	    "dot, no \"..\")\n"
	    "F:4: host: invalid host name \"*x.test\": a wildcard is \"*.\" "
	    "and a name\n"
	    "F:4: host: invalid host name \"*.\": a wildcard is \"*.\" and a "
	    "name\n"
	    "F:4: host: host name \"a.test\" given twice");
	ck_assert_errors("[route /x]\napp = echo\nhost =\n",
	    "F:3: host: missing value");
	ck_assert_errors("[tls]\ncertificate = c\nprivate_key = k\n"
	    "[tls a.test]\ncertificate = c\nprivate_key = k\nciphers = X\n"
	    "min_version = 1.3\ncertificate = d\n"
	    "[tls b.test A.test]\ncertificate = c\n"
	    "[tls c..test]\n",
	    "F:7: key \"ciphers\" belongs in the [tls] section: it applies to "
	    "every certificate\n"
	    "F:8: key \"min_version\" belongs in the [tls] section: it applies "
	    "to every certificate\n"
	    "F:9: duplicate key \"certificate\" (first at line 5)\n"
	    "F:10: [tls]: host name \"a.test\" already has a certificate (at "
	    "line 4)\n"
	    "F:12: [tls]: invalid host name \"c..test\": empty label (no final "
	    "dot, no \"..\")");
	ck_assert_errors("[tls]\ncertificate = c\nprivate_key = k\n"
	    "[tls a.test]\ncertificate = c\n",
	    "F:4: [tls a.test]: missing \"private_key\"");
}
END_TEST

/* Host header and SNI names, and how a name matches a pattern. */
START_TEST(test_host_names)
{
	char	out[16];

	ck_assert_int_eq(config_host_normalize("Example.ORG:8080", out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, "example.org");
	ck_assert_int_eq(config_host_normalize("a.test.", out, sizeof(out)),
	    0);
	ck_assert_str_eq(out, "a.test");
	ck_assert_int_eq(config_host_normalize("[::1]:80", out, sizeof(out)),
	    0);
	ck_assert_str_eq(out, "[::1]");
	ck_assert_int_eq(config_host_normalize("", out, sizeof(out)), -1);
	ck_assert_int_eq(config_host_normalize(":80", out, sizeof(out)), -1);
	ck_assert_int_eq(config_host_normalize("a-very-long-name.test", out,
	    sizeof(out)), -1);
	ck_assert_int_eq(config_host_rank("a.test", "a.test"), 2);
	ck_assert_int_eq(config_host_rank("a.test", "b.test"), 0);
	ck_assert_int_eq(config_host_rank("*.a.test", "x.a.test"), 1);
	ck_assert_int_eq(config_host_rank("*.a.test", "a.test"), 0);
	ck_assert_int_eq(config_host_rank("*.a.test", "y.x.a.test"), 0);
	ck_assert_int_eq(config_host_rank("*.a.test", ".a.test"), 0);
	ck_assert_int_eq(config_host_rank("*.a.test", "xa.test"), 0);
}
END_TEST

START_TEST(test_route_paths)
{
	struct wsd_config *conf;
	const char	*long_path;

	ck_assert_errors("[route x]\n",
	    "F:1: invalid route path \"x\": must start with \"/\"");
	ck_assert_errors("[route /a b]\n",
	    "F:1: invalid route path \"/a b\": must not contain white space "
	    "or control characters");
	ck_assert_errors("[route /a?b]\n",
	    "F:1: invalid route path \"/a?b\": must not contain \"?\" or "
	    "\"#\"");
	ck_assert_errors("[route /a#b]\n",
	    "F:1: invalid route path \"/a#b\": must not contain \"?\" or "
	    "\"#\"");
	ck_assert_errors("[route /a/]\n",
	    "F:1: invalid route path \"/a/\": must not end with \"/\"");
	ck_assert_errors("[route /a/./b]\n",
	    "F:1: invalid route path \"/a/./b\": must not contain \".\" or "
	    "\"..\" segments");
	ck_assert_errors("[route /..]\n",
	    "F:1: invalid route path \"/..\": must not contain \".\" or "
	    "\"..\" segments");
	ck_assert_errors("[route /a//b]\n",
	    "F:1: invalid route path \"/a//b\": must not contain empty "
	    "segments (\"//\")");
	/* Only a channels route may end in "/", and it must. */
	ck_assert_errors("[route /a/]\napp = echo\n",
	    "F:1: invalid route path \"/a/\": must not end with \"/\" "
	    "(only channels routes do)");
	ck_assert_errors("[route /a]\napp = channels\n",
	    "F:1: route /a: app channels needs a path ending in \"/\" "
	    "(channels are below it)");
	conf = load_ok("[route /a/]\napp = channels\n");
	ck_assert_int_eq(conf->routes[0].prefix, 1);
	ck_assert_ptr_eq(config_route_match(conf, "/a/news"), &conf->routes[0]);
	ck_assert_ptr_null(config_route_match(conf, "/a"));
	config_free(conf);

	/* Dots inside a segment are fine, and so are long paths. */
	long_path = "[route /a.b/..c/.d./x-y_z~1/"
	    "0123456789012345678901234567890123456789012345678901234567890]\n"
	    "app = echo\n";
	conf = load_ok(long_path);
	ck_assert_str_eq(conf->routes[0].path, "/a.b/..c/.d./x-y_z~1/"
	    "0123456789012345678901234567890123456789012345678901234567890");
	config_free(conf);
}
END_TEST

START_TEST(test_long_line)
{
	struct wsd_config *conf;
	char		 text[1024], line[256], *errs, *root, *p;
	size_t		 n;

	/* 250 characters on line 3; errors after it keep their numbers. */
	memset(line, 'x', 250);
	line[0] = ';';
	line[250] = '\0';
	snprintf(text, sizeof(text), "[server]\nlog_level = info\n%s\n"
	    "foo = 1\n[route /e]\napp = echo\nbar = 2\n", line);
	errs = load_errors(text);
	ck_assert_ptr_nonnull(errs);
	ck_assert_str_eq(errs,
	    "F:3: line too long (at most 199 characters)\n"
	    "F:4: unknown key \"foo\" in [server]\n"
	    "F:7: unknown key \"bar\" in [route /e]");
	free(errs);

	/* A long line without a final newline. */
	snprintf(text, sizeof(text), "[server]\n%s", line);
	ck_assert_errors(text, "F:2: line too long (at most 199 characters)");

	/* 200 characters is too long, 199 is not. */
	line[200] = '\0';
	snprintf(text, sizeof(text), "%s\n[server]\nfoo = 1\n", line);
	ck_assert_errors(text, "F:1: line too long (at most 199 characters)\n"
	    "F:3: unknown key \"foo\" in [server]");
	line[199] = '\0';
	snprintf(text, sizeof(text), "%s\n[server]\nfoo = 1\n", line);
	ck_assert_errors(text, "F:3: unknown key \"foo\" in [server]");
	/* The same with CRLF line ends. */
	snprintf(text, sizeof(text), "%s\r\n[server]\r\nfoo = 1\r\n", line);
	ck_assert_errors(text, "F:3: unknown key \"foo\" in [server]");

	/* A key line of exactly 199 characters fills inih's buffer. */
	make_dir("www");
	n = strlen("root = ") + strlen(tmpdir) + strlen("/www");
	ck_assert_uint_lt(n, 150);
	ck_assert_ptr_nonnull(root = malloc(200));
	p = root + snprintf(root, 200, "root = %s/", tmpdir);
	while ((size_t)(p - root) + 2 + 3 <= 199) {
		*p++ = '.';
		*p++ = '/';
	}
	if ((size_t)(p - root) + 3 < 199)
		*p++ = '/';
	snprintf(p, 200 - (size_t)(p - root), "www");
	ck_assert_uint_eq(strlen(root), 199);
	snprintf(text, sizeof(text), "[route /]\napp = static\n%s\n"
	    "[route /e]\napp = echo\nbar = 2\n", root);
	errs = load_errors(text);
	ck_assert_ptr_nonnull(errs);
	ck_assert_str_eq(errs, "F:6: unknown key \"bar\" in [route /e]");
	free(errs);
	snprintf(text, sizeof(text), "[route /]\napp = static\n%s\n", root);
	conf = load_ok(text);
	ck_assert_str_eq(conf->routes[0].root, root + strlen("root = "));
	config_free(conf);
	free(root);
}
END_TEST

START_TEST(test_indent_and_syntax)
{
	struct wsd_config *conf;
	char		*errs;

	/* Indented lines are ordinary lines, not continuations. */
	conf = load_ok("[server]\n"
	    "    listen = 127.0.0.1:0\n"
	    "\tlisten = 127.0.0.1:1\n"
	    "  \t  max_connections = 7\n"
	    "  [route /e]\n"
	    "\t\tapp = echo\n"
	    "\t\tmax_message_size = 2k\n");
	ck_assert_uint_eq(conf->nlistens, 2);
	ck_assert_uint_eq(conf->max_connections, 7);
	ck_assert_uint_eq(conf->routes[0].lim.max_message_size, 2048);
	config_free(conf);

	/* Every syntax error is reported, not just the first. */
	ck_assert_errors("[server]\n"
	    "listen\n"
	    "log_level: debug\n"
	    "= 5\n"
	    "max connections = 5\n"
	    "access_log = on\n"
	    "  oops\n",
	    "F:2: expected \"key = value\" or \"[section]\"\n"
	    "F:3: expected \"key = value\" or \"[section]\"\n"
	    "F:4: expected \"key = value\" or \"[section]\"\n"
	    "F:5: expected \"key = value\" or \"[section]\"\n"
	    "F:7: expected \"key = value\" or \"[section]\"");

	/* A NUL byte cannot hide the rest of a line. */
	errs = load_errors_bytes("[server]\nfoo\0 = 1\nbar = 2\n", 26);
	ck_assert_ptr_nonnull(errs);
	ck_assert_str_eq(errs, "F:2: line contains a NUL byte\n"
	    "F:3: unknown key \"bar\" in [server]");
	free(errs);
}
END_TEST

START_TEST(test_empty_route)
{
	ck_assert_errors("[server]\n[route /x]\n",
	    "F:2: route /x: missing \"app\"");
	ck_assert_errors("[route /x]\n; only a comment\n"
	    "[route /y]\napp = echo\n",
	    "F:1: route /x: missing \"app\"");
	ck_assert_errors("[route /x]\nmax_message_size = 5\n",
	    "F:1: route /x: missing \"app\"");
}
END_TEST

START_TEST(test_inherit)
{
	struct wsd_config *conf;
	const struct wsd_route *r;
	const char	*routes =
	    "[route /a]\n"
	    "app = echo\n"
	    "ping_timeout = 5s\n"
	    "[route /b]\n"
	    "app = hello\n"
	    "max_send_buffer = 4k\n";
	const char	*server =
	    "[server]\n"
	    "max_message_size = 64k\n"
	    "max_send_buffer = 2m\n"
	    "ping_interval = 1m\n"
	    "ping_timeout = 30\n";
	char		 text[512];
	int		 order;

	/* Routes inherit [server] whether it comes before or after them. */
	for (order = 0; order < 2; order++) {
		snprintf(text, sizeof(text), "%s%s", order ? routes : server,
		    order ? server : routes);
		conf = load_ok(text);
		r = route(conf, "/a");
		ck_assert_uint_eq(r->lim.max_message_size, 65536);
		ck_assert_uint_eq(r->lim.max_send_buffer, 2097152);
		ck_assert(r->lim.ping_interval == 60);
		ck_assert(r->lim.ping_timeout == 5);
		r = route(conf, "/b");
		ck_assert_uint_eq(r->lim.max_message_size, 65536);
		ck_assert_uint_eq(r->lim.max_send_buffer, 4096);
		ck_assert(r->lim.ping_interval == 60);
		ck_assert(r->lim.ping_timeout == 30);
		ck_assert_uint_eq(conf->lim.max_send_buffer, 2097152);
		ck_assert(conf->lim.ping_timeout == 30);
		config_free(conf);
	}

	/* Without [server], routes get the defaults. */
	conf = load_ok(routes);
	r = route(conf, "/b");
	ck_assert_uint_eq(r->lim.max_message_size, 1048576);
	ck_assert(r->lim.ping_interval == 20);
	config_free(conf);
}
END_TEST

/*
 * compression: the app's default (shared on hub apps, on elsewhere) unless
 * [server] sets it for every route, a route's own value over both;
 * booleans mean on and off.
 */
START_TEST(test_compression)
{
	static const char *const hub_apps[] = { "broadcast", "counter",
	    "relay" };
	static const char *const own_apps[] = { "echo", "hello", "time" };
	struct wsd_config *conf;
	char		  text[128];
	size_t		  i;

	for (i = 0; i < 3; i++) {
		snprintf(text, sizeof(text), "[route /h]\napp = %s\n"
		    "[route /o]\napp = %s\n", hub_apps[i], own_apps[i]);
		conf = load_ok(text);
		ck_assert_int_eq(conf->lim.compression, WSD_COMPRESSION_APP);
		ck_assert_int_eq(route(conf, "/h")->lim.compression,
		    WSD_COMPRESSION_SHARED);
		ck_assert_int_eq(route(conf, "/o")->lim.compression,
		    WSD_COMPRESSION_ON);
		config_free(conf);
	}

	conf = load_ok("[route /a]\napp = echo\n[route /b]\napp = echo\n"
	    "compression = yes\n[route /c]\napp = relay\n"
	    "[route /d]\napp = relay\ncompression = Shared\n"
	    "[server]\ncompression = off\n");
	ck_assert_int_eq(conf->lim.compression, WSD_COMPRESSION_OFF);
	ck_assert_int_eq(route(conf, "/a")->lim.compression,
	    WSD_COMPRESSION_OFF);
	ck_assert_int_eq(route(conf, "/b")->lim.compression,
	    WSD_COMPRESSION_ON);
	ck_assert_int_eq(route(conf, "/c")->lim.compression,
	    WSD_COMPRESSION_OFF);
	ck_assert_int_eq(route(conf, "/d")->lim.compression,
	    WSD_COMPRESSION_SHARED);
	config_free(conf);

	/* [server] on or shared: every route that does not say otherwise. */
	conf = load_ok("[server]\ncompression = true\n[route /a]\n"
	    "app = relay\n[route /b]\napp = echo\ncompression = shared\n");
	ck_assert_int_eq(route(conf, "/a")->lim.compression,
	    WSD_COMPRESSION_ON);
	ck_assert_int_eq(route(conf, "/b")->lim.compression,
	    WSD_COMPRESSION_SHARED);
	config_free(conf);
	conf = load_ok("[server]\ncompression = shared\n[route /a]\n"
	    "app = echo\n[route /b]\napp = counter\ncompression = no\n");
	ck_assert_int_eq(route(conf, "/a")->lim.compression,
	    WSD_COMPRESSION_SHARED);
	ck_assert_int_eq(route(conf, "/b")->lim.compression,
	    WSD_COMPRESSION_OFF);
	config_free(conf);

	conf = load_ok("[route /a]\napp = relay\ncompression = off\n");
	ck_assert_int_eq(conf->lim.compression, WSD_COMPRESSION_APP);
	ck_assert_int_eq(route(conf, "/a")->lim.compression,
	    WSD_COMPRESSION_OFF);
	config_free(conf);

	ck_assert_errors("[server]\ncompression = gzip\n",
	    "F:2: compression: invalid value (on|shared|off) \"gzip\"");
	ck_assert_errors("[server]\ncompression = on\ncompression = off\n",
	    "F:3: duplicate key \"compression\" (first at line 2)");
	ck_assert_errors("[route /]\napp = static\nroot = /tmp\n"
	    "compression = off\n",
	    "F:4: key \"compression\" is not allowed on a static route");
	ck_assert_errors("[route /a]\napp = echo\ncompression = 2\n",
	    "F:3: compression: invalid value (on|shared|off) \"2\"");
}
END_TEST

START_TEST(test_static_keys)
{
	char	*text, *www;

	www = make_dir("www");
	ck_assert_int_ne(asprintf(&text, "[route /]\nping_interval = 5\n"
	    "app = static\nroot = %s\nmax_message_size = 1k\n", www), -1);
	ck_assert_errors(text,
	    "F:2: key \"ping_interval\" is not allowed on a static route\n"
	    "F:5: key \"max_message_size\" is not allowed on a static route");
	free(text);
	ck_assert_errors("[route /e]\nroot = /tmp\napp = echo\n",
	    "F:2: key \"root\" is only for static routes");
}
END_TEST

/* dotfiles: allow|deny on static routes only, deny by default. */
START_TEST(test_dotfiles)
{
	struct wsd_config *conf;
	char		*text, *www;

	ck_assert_ptr_nonnull(www = strdup(make_dir("www")));
	ck_assert_int_ne(asprintf(&text, "[route /]\napp = static\n"
	    "root = %s\n[route /a]\napp = static\nroot = %s\n"
	    "dotfiles = allow\n[route /d]\ndotfiles = deny\napp = static\n"
	    "root = %s\n", www, www, www), -1);
	conf = load_ok(text);
	free(text);
	ck_assert_int_eq(config_route_match(conf, "/x")->dotfiles, 0);
	ck_assert_int_eq(config_route_match(conf, "/a/x")->dotfiles, 1);
	ck_assert_int_eq(config_route_match(conf, "/d/x")->dotfiles, 0);
	config_free(conf);

	ck_assert_int_ne(asprintf(&text, "[route /]\napp = static\n"
	    "root = %s\ndotfiles = yes\ndotfiles = allow\n", www), -1);
	ck_assert_errors(text,
	    "F:4: dotfiles: invalid value (allow|deny) \"yes\"\n"
	    "F:5: duplicate key \"dotfiles\" (first at line 4)");
	free(text);
	ck_assert_errors("[route /e]\ndotfiles = allow\napp = echo\n",
	    "F:2: key \"dotfiles\" is only for static routes");
	ck_assert_errors("[server]\ndotfiles = allow\n",
	    "F:2: key \"dotfiles\" belongs in a [route PATH] section");
	free(www);
}
END_TEST

START_TEST(test_match)
{
	struct wsd_config *conf;
	const struct wsd_route *r;
	char		*text, *www;

	ck_assert_ptr_nonnull(www = strdup(make_dir("www")));
	make_dir("www/static");
	ck_assert_int_ne(asprintf(&text,
	    "[route /]\napp = static\nroot = %s\n"
	    "[route /static]\napp = static\nroot = %s/static\n"
	    "[route /static/deep]\napp = static\nroot = %s\n"
	    "[route /echo]\napp = echo\n"
	    "[route /static/chat]\napp = hello\n", www, www, www), -1);
	conf = load_ok(text);
	free(text);
	free(www);

#define MATCH(p_, expect_) do {					\
	r = config_route_match(conf, p_);				\
	ck_assert_ptr_nonnull(r);					\
	ck_assert_str_eq(r->path, expect_);				\
} while (0)
	MATCH("/", "/");
	MATCH("/index.html", "/");
	MATCH("/echo", "/echo");
	/* App routes are exact: below one, the static "/" serves. */
	MATCH("/echo/", "/");
	MATCH("/echo/x", "/");
	MATCH("/echoes", "/");
	/* Static prefixes end on a segment boundary. */
	MATCH("/static", "/static");
	MATCH("/static/", "/static");
	MATCH("/static/a/b.css", "/static");
	MATCH("/staticx", "/");
	MATCH("/static.css", "/");
	/* The longest prefix wins, whatever the order in the file. */
	MATCH("/static/deep", "/static/deep");
	MATCH("/static/deep/x", "/static/deep");
	MATCH("/static/deeper", "/static");
	/* An exact app route beats a static prefix. */
	MATCH("/static/chat", "/static/chat");
	MATCH("/static/chat/x", "/static");
#undef MATCH
	config_free(conf);

	/* Without "/", unmatched paths have no route. */
	conf = load_ok("[route /echo]\napp = echo\n");
	ck_assert_ptr_null(config_route_match(conf, "/"));
	ck_assert_ptr_null(config_route_match(conf, "/echo/"));
	ck_assert_ptr_nonnull(config_route_match(conf, "/echo"));
	config_free(conf);
}
END_TEST

START_TEST(test_embedded)
{
	static const char *const paths[] = { "/", "/hello", "/echo", "/time",
	    "/broadcast", "/counter", "/relay", "/live/", "/metrics",
	    "/health" };
	struct wsd_config *conf;
	const struct wsd_route *r;
	char		*errs, *www;
	size_t		 i;

	www = make_dir("www");
	conf = config_default(www, &errs);
	if (conf == NULL)
		ck_abort_msg("embedded default failed:\n%s", errs);
	ck_assert_ptr_null(errs);
	ck_assert_ptr_null(conf->file);
	ck_assert_uint_eq(conf->nlistens, 1);
	ck_assert_str_eq(conf->listens[0].text, "127.0.0.1:8080");
	/* Every demo, in this order, with the app keys at their defaults. */
	ck_assert_uint_eq(conf->nroutes, 10);
	for (i = 0; i < conf->nroutes; i++) {
		r = &conf->routes[i];
		ck_assert_str_eq(r->path, paths[i]);
		if (i == 0)
			ck_assert_ptr_null(r->app);
		else if (r->prefix)
			ck_assert_ptr_eq(r->app, app_find("channels"));
		else
			ck_assert_ptr_eq(r->app, app_find(paths[i] + 1));
		ck_assert_ptr_nonnull(config_route_match(conf, paths[i]));
		assert_app_defaults(r);
	}
	ck_assert_str_eq(route(conf, "/")->root_real, www);
	ck_assert_uint_eq(conf->max_connections, 10000);
	config_free(conf);

	/* The default goes through the same checks. */
	conf = config_default("/nonexistent/wsd-www", &errs);
	ck_assert_ptr_null(conf);
	ck_assert_str_eq(errs, "(embedded):6: root \"/nonexistent/wsd-www\": "
	    "No such file or directory");
	free(errs);
}
END_TEST

START_TEST(test_files)
{
	struct wsd_config *conf;
	char		 path[PATH_MAX + 32], *errs, *expect;

	snprintf(path, sizeof(path), "%s/missing.ini", tmpdir);
	ck_assert_ptr_null(config_load(path, &errs));
	ck_assert_int_ne(asprintf(&expect, "%s: No such file or directory",
	    path), -1);
	ck_assert_str_eq(errs, expect);
	free(errs);
	free(expect);

	ck_assert_ptr_null(config_load(tmpdir, &errs));
	ck_assert_int_ne(asprintf(&expect, "%s: Is a directory", tmpdir), -1);
	ck_assert_str_eq(errs, expect);
	free(errs);
	free(expect);

	/* The name given is used as written. */
	ck_assert_int_eq(chdir(tmpdir), 0);
	write_file("rel.ini", "[server]\nfoo = 1\n");
	ck_assert_ptr_null(config_load("rel.ini", &errs));
	ck_assert_str_eq(errs, "rel.ini:2: unknown key \"foo\" in [server]");
	free(errs);
	ck_assert_ptr_null(config_load("./rel.ini", &errs));
	ck_assert_str_eq(errs, "./rel.ini:2: unknown key \"foo\" in [server]");
	free(errs);

	/* Errors may be NULL when only success matters. */
	ck_assert_ptr_null(config_load("rel.ini", NULL));
	conf = config_load(write_file("ok.ini", "[server]\n"), NULL);
	ck_assert_ptr_nonnull(conf);
	snprintf(path, sizeof(path), "%s/ok.ini", tmpdir);
	ck_assert_str_eq(conf->file, path);
	config_free(conf);
}
END_TEST

START_TEST(test_strings)
{
	struct wsd_config *conf;
	char		*errs, name[PATH_MAX + 16];

	conf = config_load_string("mem", "[server]\nmax_connections = 3\n",
	    &errs);
	ck_assert_ptr_nonnull(conf);
	ck_assert_ptr_null(errs);
	ck_assert_str_eq(conf->file, "mem");
	ck_assert_uint_eq(conf->max_connections, 3);
	config_free(conf);

	ck_assert_ptr_null(config_load_string(NULL, "[x]\n", &errs));
	ck_assert_str_eq(errs, "(string):1: unknown section \"[x]\"");
	free(errs);

	/* The last line needs no newline. */
	ck_assert_ptr_null(config_load_string("m", "[server]\nfoo = 1",
	    &errs));
	ck_assert_str_eq(errs, "m:2: unknown key \"foo\" in [server]");
	free(errs);

	/* A name with a directory resolves relative roots there. */
	make_dir("d");
	make_dir("d/www");
	snprintf(name, sizeof(name), "%s/d/virtual.ini", tmpdir);
	conf = config_load_string(name, "[route /]\napp = static\nroot = www\n",
	    &errs);
	ck_assert_ptr_nonnull(conf);
	ck_assert_ptr_nonnull(strstr(conf->routes[0].root_real, "/d/www"));
	config_free(conf);
}
END_TEST

/* Path of name under the scratch directory. */
static char *
scratch(const char *name)
{
	static char	 path[PATH_MAX + 256];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	return path;
}

START_TEST(test_tls_listen)
{
	struct wsd_config *conf;

	/* Plain and TLS listeners side by side. */
	conf = load_ok(
	    "[server]\n"
	    "listen = 127.0.0.1:0\n"
	    "listen = 127.0.0.1:0 tls\n"
	    "listen = [::1]:8443\ttls   ; a comment\n"
	    "[tls]\n"
	    "certificate = /dev/null\n"
	    "private_key = k.pem\n");
	ck_assert_uint_eq(conf->nlistens, 3);
	ck_assert_str_eq(conf->listens[0].text, "127.0.0.1:0");
	ck_assert_int_eq(conf->listens[0].tls, 0);
	ck_assert_str_eq(conf->listens[1].text, "127.0.0.1:0");
	ck_assert_int_eq(conf->listens[1].tls, 1);
	ck_assert_int_eq(conf->listens[1].line, 3);
	ck_assert_str_eq(conf->listens[2].text, "[::1]:8443");
	ck_assert_int_eq(conf->listens[2].tls, 1);
	ck_assert_int_eq(conf->tls.line, 5);
	config_free(conf);

	/* The same address with and without tls is one port: a duplicate. */
	ck_assert_errors("[server]\nlisten = 127.0.0.1:443\n"
	    "listen = 127.0.0.1:443 tls\n[tls]\ncertificate = c\n"
	    "private_key = k\n",
	    "F:3: duplicate listen 127.0.0.1:443 (first at line 2)");

	/* A tls listener needs the section, wherever it is in the file. */
	ck_assert_errors("[server]\nlisten = 127.0.0.1:443 tls\n",
	    "F:2: listen 127.0.0.1:443 tls: no [tls] section with "
	    "certificate and private_key");
	ck_assert_errors("[server]\nlisten = 127.0.0.1:80\n"
	    "listen = 127.0.0.1:443 tls\nlisten = [::]:443 tls\n",
	    "F:3: listen 127.0.0.1:443 tls: no [tls] section with "
	    "certificate and private_key\n"
	    "F:4: listen [::]:443 tls: no [tls] section with "
	    "certificate and private_key");
	conf = load_ok("[tls]\ncertificate = c\nprivate_key = k\n"
	    "[server]\nlisten = 127.0.0.1:0 tls\n");
	ck_assert_int_eq(conf->listens[0].tls, 1);
	ck_assert_int_eq(conf->tls.line, 1);
	config_free(conf);

	/* A bad [tls] header is reported, and so is the listener. */
	ck_assert_errors("[server]\nlisten = 127.0.0.1:443 tls\n"
	    "[tls] x\ncertificate = c\nprivate_key = k\n",
	    "F:2: listen 127.0.0.1:443 tls: no [tls] section with "
	    "certificate and private_key\n"
	    "F:3: unexpected text after \"]\"");
}
END_TEST

START_TEST(test_tls_section)
{
	struct wsd_config *conf;
	char		*errs, *expect, cwd[PATH_MAX];

	/* Every key; relative paths are taken from the file's directory. */
	conf = load_ok(
	    "[tls]\n"
	    "certificate = certs/fullchain.pem\n"
	    "private_key = /dev/null\n"
	    "min_version = 1.3\n"
	    "ciphers = ECDHE+AESGCM:!aNULL\n"
	    "ciphersuites = TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256\n");
	ck_assert_int_eq(conf->tls.line, 1);
	ck_assert_str_eq(conf->tls.certificate, scratch("certs/fullchain.pem"));
	ck_assert_str_eq(conf->tls.private_key, "/dev/null");
	ck_assert_int_eq(conf->tls.min_version, TLS1_3_VERSION);
	ck_assert_str_eq(conf->tls.ciphers, "ECDHE+AESGCM:!aNULL");
	ck_assert_str_eq(conf->tls.ciphersuites,
	    "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256");
	/* No tls listener: the section is fine and unused. */
	ck_assert_uint_eq(conf->nlistens, 1);
	ck_assert_int_eq(conf->listens[0].tls, 0);
	config_free(conf);

	/* Defaults; the files need not exist (tls.c reports that). */
	conf = load_ok("[server]\n\n[tls]\nprivate_key = k.pem\n"
	    "certificate = certs/../c.pem\n");
	ck_assert_int_eq(conf->tls.line, 3);
	ck_assert_str_eq(conf->tls.certificate, scratch("certs/../c.pem"));
	ck_assert_str_eq(conf->tls.private_key, scratch("k.pem"));
	ck_assert_int_eq(conf->tls.min_version, TLS1_2_VERSION);
	ck_assert_ptr_null(conf->tls.ciphers);
	ck_assert_ptr_null(conf->tls.ciphersuites);
	config_free(conf);
	conf = load_ok("[tls]\ncertificate = c\nprivate_key = k\n"
	    "min_version = 1.2\n");
	ck_assert_int_eq(conf->tls.min_version, TLS1_2_VERSION);
	config_free(conf);

	/* A config named relatively still stores absolute paths. */
	ck_assert_int_eq(chdir(tmpdir), 0);
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	write_file("rel.ini", "[tls]\ncertificate = c.pem\n"
	    "private_key = keys/k.pem\n");
	conf = config_load("rel.ini", &errs);
	ck_assert_ptr_nonnull(conf);
	ck_assert_int_ne(asprintf(&expect, "%s/c.pem", cwd), -1);
	ck_assert_str_eq(conf->tls.certificate, expect);
	free(expect);
	ck_assert_int_ne(asprintf(&expect, "%s/keys/k.pem", cwd), -1);
	ck_assert_str_eq(conf->tls.private_key, expect);
	free(expect);
	config_free(conf);
	conf = config_load("./rel.ini", &errs);
	ck_assert_ptr_nonnull(conf);
	ck_assert_int_ne(asprintf(&expect, "%s/c.pem", cwd), -1);
	ck_assert_str_eq(conf->tls.certificate, expect);
	free(expect);
	config_free(conf);
	conf = config_load_string(NULL, "[tls]\ncertificate = c.pem\n"
	    "private_key = /dev/null\n", &errs);
	ck_assert_ptr_nonnull(conf);
	ck_assert_int_ne(asprintf(&expect, "%s/c.pem", cwd), -1);
	ck_assert_str_eq(conf->tls.certificate, expect);
	free(expect);
	config_free(conf);
}
END_TEST

START_TEST(test_tls_errors)
{
	/* Both files are required, reported at the section. */
	ck_assert_errors("[server]\n[tls]\n",
	    "F:2: [tls]: missing \"certificate\"\n"
	    "F:2: [tls]: missing \"private_key\"");
	ck_assert_errors("[tls]\ncertificate = c\n",
	    "F:1: [tls]: missing \"private_key\"");
	ck_assert_errors("[tls]\nprivate_key = k\nmin_version = 1.3\n",
	    "F:1: [tls]: missing \"certificate\"");
	/* With a tls listener only the section is blamed. */
	ck_assert_errors("[server]\nlisten = 127.0.0.1:443 tls\n"
	    "[tls]\n; nothing\n",
	    "F:3: [tls]: missing \"certificate\"\n"
	    "F:3: [tls]: missing \"private_key\"");
	ck_assert_errors("[tls]\ncertificate =\nprivate_key = k\n",
	    "F:2: certificate: missing value");

	ck_assert_errors("[tls]\ncertificate = c\nprivate_key = k\n"
	    "[route /e]\napp = echo\n[tls]\nmin_version = 1.3\n",
	    "F:6: duplicate [tls] section (first at line 1)");
	ck_assert_errors("[tls]\ncertificate = c\nprivate_key = k\n"
	    "certificate = d\n",
	    "F:4: duplicate key \"certificate\" (first at line 2)");

	ck_assert_errors("[tls]\ncertificate = c\nprivate_key = k\n"
	    "min_version = 1.1\n",
	    "F:4: min_version: invalid version (1.2|1.3) \"1.1\"");
	ck_assert_errors("[tls]\ncertificate = c\nprivate_key = k\n"
	    "min_version = TLSv1.3\n",
	    "F:4: min_version: invalid version (1.2|1.3) \"TLSv1.3\"");
	ck_assert_errors("[tls]\ncertificate = c\nprivate_key = k\n"
	    "min_version = 1.30\n",
	    "F:4: min_version: invalid version (1.2|1.3) \"1.30\"");

	/* Unknown keys, and keys in the wrong section. */
	ck_assert_errors("[tls]\ncertficate = c\nprivate_key = k\n",
	    "F:1: [tls]: missing \"certificate\"\n"
	    "F:2: unknown key \"certficate\" in [tls] "
	    "(did you mean \"certificate\"?)");
	ck_assert_errors("[tls]\ncertificate = c\nprivate_key = k\n"
	    "chain = x\n",
	    "F:4: unknown key \"chain\" in [tls]");
	ck_assert_errors("[tls]\ncertificate = c\nprivate_key = k\n"
	    "listen = 127.0.0.1:0\n",
	    "F:4: key \"listen\" belongs in the [server] section");
	ck_assert_errors("[tls]\ncertificate = c\nprivate_key = k\n"
	    "app = echo\n",
	    "F:4: key \"app\" belongs in a [route PATH] section");
	ck_assert_errors("[server]\ncertificate = c\n",
	    "F:2: key \"certificate\" belongs in the [tls] section");
	ck_assert_errors("[route /e]\napp = echo\nciphers = HIGH\n",
	    "F:3: key \"ciphers\" belongs in the [tls] section");
	ck_assert_errors("[server]\nmin_versoin = 1.2\n",
	    "F:2: unknown key \"min_versoin\" in [server]");
}
END_TEST

/* Access keys: origins, require_origin, subprotocols, tokens, rate. */
START_TEST(test_access_keys)
{
	struct wsd_config *conf;
	const struct wsd_route *r;
	char		*text, *www, *tok;

	ck_assert_ptr_nonnull(www = strdup(make_dir("www")));
	ck_assert_ptr_nonnull(tok = strdup(write_file("tokens",
	    "# comment\none\n\ntwo\n")));
	write_file("rel.tok", "three\n");
	ck_assert_int_ne(asprintf(&text,
	    "[server]\nmax_messages_per_second = 100\n"
	    "[route /]\napp = static\nroot = %s\nauth_token_file = %s\n"
	    "[route /e]\napp = echo\n"
	    "origins = HTTPS://Example.org:443 http://localhost:8080\n"
	    "origins = http://[::1]\n"
	    "require_origin = on\nsubprotocols = chat v2.json\n"
	    "subprotocols = x\nauth_token_file = rel.tok\n"
	    "max_messages_per_second = 0\n"
	    "[route /h]\napp = hello\n", www, tok), -1);
	conf = load_ok(text);
	free(text);
	ck_assert_uint_eq(conf->lim.max_messages_per_second, 100);

	r = route(conf, "/");
	ck_assert_ptr_nonnull(r->tokens);
	ck_assert_uint_eq(r->tokens->n, 2);
	ck_assert_str_eq(r->auth_token_file, tok);
	ck_assert_uint_eq(r->origins.n, 0);

	r = route(conf, "/e");
	ck_assert_uint_eq(r->origins.n, 3);
	ck_assert_str_eq(r->origins.v[0], "https://example.org");
	ck_assert_str_eq(r->origins.v[1], "http://localhost:8080");
	ck_assert_str_eq(r->origins.v[2], "http://[::1]");
	ck_assert_int_eq(r->require_origin, 1);
	ck_assert_uint_eq(r->subprotocols.n, 3);
	ck_assert_str_eq(r->subprotocols.v[0], "chat");
	ck_assert_str_eq(r->subprotocols.v[1], "v2.json");
	ck_assert_str_eq(r->subprotocols.v[2], "x");
	/* Relative to the config file's directory. */
	ck_assert_str_eq(r->auth_token_file, scratch("rel.tok"));
	ck_assert_uint_eq(r->tokens->n, 1);
	ck_assert_uint_eq(r->lim.max_messages_per_second, 0);

	/* Defaults: nothing restricted; the [server] rate is inherited. */
	r = route(conf, "/h");
	ck_assert_uint_eq(r->origins.n, 0);
	ck_assert_int_eq(r->require_origin, 0);
	ck_assert_uint_eq(r->subprotocols.n, 0);
	ck_assert_ptr_null(r->auth_token_file);
	ck_assert_ptr_null(r->tokens);
	ck_assert_uint_eq(r->lim.max_messages_per_second, 100);
	config_free(conf);

	conf = load_ok("[route /e]\napp = echo\n");
	ck_assert_uint_eq(conf->lim.max_messages_per_second, 0);
	ck_assert_uint_eq(route(conf, "/e")->lim.max_messages_per_second, 0);
	config_free(conf);
	free(www);
	free(tok);
}
END_TEST

/* Bad access keys are errors at their line. */
START_TEST(test_access_errors)
{
	char	*text, *www, *errs, *want, *empty, *bad;

	ck_assert_errors("[route /e]\napp = echo\n"
	    "origins = https://a.example example.org https://b.example/\n",
	    "F:3: origins: invalid origin \"example.org\": expected "
	    "scheme://host[:port]\n"
	    "F:3: origins: invalid origin \"https://b.example/\": an origin "
	    "has no path, not even \"/\"");
	ck_assert_errors("[route /e]\napp = echo\norigins = null\n",
	    "F:3: origins: invalid origin \"null\": expected "
	    "scheme://host[:port]");
	ck_assert_errors("[route /e]\napp = echo\norigins = http://a:99999\n",
	    "F:3: origins: invalid origin \"http://a:99999\": invalid port "
	    "in origin");
	ck_assert_errors("[route /e]\napp = echo\norigins =\n",
	    "F:3: origins: missing value");
	ck_assert_errors("[route /e]\napp = echo\nrequire_origin = maybe\n",
	    "F:3: require_origin: invalid boolean "
	    "(on|off|yes|no|true|false|1|0) \"maybe\"");
	ck_assert_errors("[route /e]\napp = echo\nrequire_origin = on\n"
	    "require_origin = off\n",
	    "F:4: duplicate key \"require_origin\" (first at line 3)");
	ck_assert_errors("[route /e]\napp = echo\n"
	    "subprotocols = chat a/b \"q\"\n",
	    "F:3: subprotocols: invalid subprotocol \"a/b\" (not an HTTP "
	    "token)\n"
	    "F:3: subprotocols: invalid subprotocol \"\"q\"\" (not an HTTP "
	    "token)");
	ck_assert_errors("[route /e]\napp = echo\n"
	    "auth_token_file = /nonexistent/tokens\n",
	    "F:3: auth_token_file \"/nonexistent/tokens\": No such file or "
	    "directory");
	ck_assert_errors("[route /e]\napp = echo\n"
	    "auth_token_file = /tmp\n",
	    "F:3: auth_token_file \"/tmp\": Is a directory");
	ck_assert_errors("[route /e]\napp = echo\n"
	    "auth_token_file = /nonexistent/a\nauth_token_file = b\n",
	    "F:3: auth_token_file \"/nonexistent/a\": No such file or "
	    "directory\n"
	    "F:4: duplicate key \"auth_token_file\" (first at line 3)");
	ck_assert_errors("[server]\nmax_messages_per_second = -1\n",
	    "F:2: max_messages_per_second: invalid number \"-1\"");
	ck_assert_errors("[server]\nmax_messages_per_second = 1000001\n",
	    "F:2: max_messages_per_second: \"1000001\" is out of range "
	    "(0 to 1000000)");
	ck_assert_errors("[server]\norigins = https://a.example\n",
	    "F:2: key \"origins\" belongs in a [route PATH] section");

	/* Empty and bad token files. */
	ck_assert_ptr_nonnull(empty = strdup(write_file("empty.tok",
	    "# nothing\n\n")));
	ck_assert_ptr_nonnull(bad = strdup(write_file("bad.tok",
	    "good\nbad token\n")));
	ck_assert_int_ne(asprintf(&text, "[route /e]\napp = echo\n"
	    "auth_token_file = %s\n[route /f]\napp = echo\n"
	    "auth_token_file = %s\n", empty, bad), -1);
	ck_assert_int_ne(asprintf(&want, "F:3: auth_token_file \"%s\": "
	    "no token in the file\nF:6: auth_token_file \"%s\": "
	    "line 2: a token is printable ASCII without spaces", empty, bad),
	    -1);
	errs = load_errors(text);
	ck_assert_str_eq(errs, want);
	free(errs);
	free(want);
	free(text);
	free(empty);
	free(bad);

	/* WebSocket-only keys on a static route. */
	www = make_dir("www");
	ck_assert_int_ne(asprintf(&text, "[route /]\napp = static\n"
	    "root = %s\norigins = https://a.example\nrequire_origin = on\n"
	    "subprotocols = chat\nmax_messages_per_second = 5\n", www), -1);
	ck_assert_errors(text,
	    "F:4: key \"origins\" is only for WebSocket app routes\n"
	    "F:5: key \"require_origin\" is only for WebSocket app routes\n"
	    "F:6: key \"subprotocols\" is only for WebSocket app routes\n"
	    "F:7: key \"max_messages_per_second\" is not allowed on a static "
	    "route");
	free(text);
}
END_TEST

/* exec's keys: string keys with checks, a required one, a number. */
START_TEST(test_exec_keys)
{
	struct wsd_config *conf;
	const struct wsd_route *r;

	conf = load_ok("[route /x]\napp = exec\n"
	    "command = /bin/sh -c 'echo \"a b\"'\n"
	    "env = A=1 'B=two words'\ndir = /tmp\nmode = binary\n"
	    "max_procs = 3\nkill_timeout = 250ms\n"
	    "[route /y]\napp = exec\ncommand = /bin/cat\n");
	r = route(conf, "/x");
	ck_assert_str_eq(app_conf(r)->exec_command,
	    "/bin/sh -c 'echo \"a b\"'");
	ck_assert_str_eq(app_conf(r)->exec_env, "A=1 'B=two words'");
	ck_assert_str_eq(app_conf(r)->exec_dir, "/tmp");
	ck_assert_int_eq(app_conf(r)->exec_mode, 1);
	ck_assert_uint_eq(app_conf(r)->exec_max_procs, 3);
	ck_assert(app_conf(r)->exec_kill_timeout == 0.25);
	/* Defaults; unset strings stay NULL. */
	r = route(conf, "/y");
	ck_assert_ptr_null(app_conf(r)->exec_env);
	ck_assert_ptr_null(app_conf(r)->exec_dir);
	ck_assert_int_eq(app_conf(r)->exec_mode, 0);
	ck_assert_uint_eq(app_conf(r)->exec_max_procs, 64);
	ck_assert(app_conf(r)->exec_kill_timeout == 5);
	config_free(conf);

	ck_assert_errors("[route /x]\napp = exec\n",
	    "F:1: app \"exec\" needs key \"command\"");
	ck_assert_errors("[route /x]\napp = exec\ncommand = bin/cat\n",
	    "F:3: command: bin/cat: not an absolute path (no shell and no "
	    "PATH search: name the program's file)");
	ck_assert_errors("[route /x]\napp = exec\ncommand = /tmp\n",
	    "F:3: command: /tmp: not an executable file");
	ck_assert_errors("[route /x]\napp = exec\ncommand = /bin/cat \"x\n",
	    "F:3: command: unterminated double quote");
	ck_assert_errors("[route /x]\napp = exec\ncommand = /bin/cat\n"
	    "env = A\ndir = /etc/hostname\nmax_procs = 0\n",
	    "F:4: env: \"A\" is not NAME=VALUE\n"
	    "F:5: dir: /etc/hostname: not a directory\n"
	    "F:6: max_procs: \"0\" is out of range (1 to 1000000)");
	ck_assert_errors("[route /x]\napp = echo\ncommand = /bin/cat\n",
	    "F:3: key \"command\" is not used by app \"echo\"");
}
END_TEST

#ifdef TEST_SRCDIR
/*
 * etc/wsd.ini as installed (@WWWDIR@ replaced), as is and with every
 * commented-out "key = value" line and "[section]" header enabled: those
 * must be the defaults, plus a second listener and the TLS example.
 */
START_TEST(test_operations)
{
	struct wsd_config *conf;
	char		*text;

	/* Defaults: no user, group or pid file; log to stderr. */
	conf = load_ok("");
	ck_assert_ptr_null(conf->user);
	ck_assert_ptr_null(conf->group);
	ck_assert_ptr_null(conf->pid_file);
	ck_assert_int_eq(conf->log_target, LOG_TO_STDERR);
	config_free(conf);

	conf = load_ok("[server]\nuser = nobody\ngroup = nogroup\n"
	    "pid_file = /run/wsd/wsd.pid\nlog = syslog\n");
	ck_assert_str_eq(conf->user, "nobody");
	ck_assert_str_eq(conf->group, "nogroup");
	ck_assert_str_eq(conf->pid_file, "/run/wsd/wsd.pid");
	ck_assert_int_eq(conf->log_target, LOG_TO_SYSLOG);
	config_free(conf);

	/* A relative pid_file is taken from the config's directory. */
	conf = load_ok("[server]\npid_file = wsd.pid\nlog = stderr\n");
	ck_assert_int_eq(asprintf(&text, "%s/wsd.pid", tmpdir) > 0, 1);
	ck_assert_str_eq(conf->pid_file, text);
	ck_assert_int_eq(conf->log_target, LOG_TO_STDERR);
	free(text);
	config_free(conf);

	ck_assert_errors("[server]\nuser = no-such-user-wsd\n",
	    "F:2: user: no such user \"no-such-user-wsd\"");
	ck_assert_errors("[server]\ngroup = no-such-group-wsd\n",
	    "F:2: group: no such group \"no-such-group-wsd\"");
	ck_assert_errors("[server]\nlog = journal\n",
	    "F:2: log: invalid log destination (stderr|syslog) \"journal\"");
	ck_assert_errors("[server]\nuser =\n",
	    "F:2: user: missing value");
	ck_assert_errors("[server]\nuser = nobody\nuser = nobody\n",
	    "F:3: duplicate key \"user\" (first at line 2)");
	ck_assert_errors("[route /echo]\napp = echo\nuser = nobody\n",
	    "F:3: key \"user\" belongs in the [server] section");
	/* A short key name is not offered for any three-letter typo. */
	ck_assert_errors("[server]\nfoo = 1\nlogg = stderr\n",
	    "F:2: unknown key \"foo\" in [server]\n"
	    "F:3: unknown key \"logg\" in [server] (did you mean \"log\"?)");
}
END_TEST

/* Where etc/wsd.ini's [tls NAME] example keeps its files. */
#define LE_DIR	"/etc/letsencrypt/live/example.org/"

START_TEST(test_example)
{
	struct wsd_config *conf, *def;
	const struct wsd_route *r;
	struct wsd_limits lim;
	FILE		*fp;
	char		*line = NULL, *text = NULL, *www, *at, *cert, *key;
	size_t		 size = 0, tlen = 0, i;
	ssize_t		 n;
	int		 pass;

	ck_assert_ptr_nonnull(www = strdup(make_dir("www")));
	/* load_ok writes wsd.ini to the scratch directory. */
	ck_assert_ptr_nonnull(cert = strdup(scratch("cert.pem")));
	ck_assert_ptr_nonnull(key = strdup(scratch("key.pem")));
	def = load_ok("");
	/* [cluster]'s redis_password_file, beside wsd.ini. */
	write_file("redis.pw", "secret\n");
	write_file("redis-ca.pem", "");
	for (pass = 0; pass < 2; pass++) {
		ck_assert_ptr_nonnull(fp = fopen(TEST_SRCDIR "/etc/wsd.ini",
		    "r"));
		free(text);
		text = NULL;
		tlen = 0;
		while ((n = getline(&line, &size, fp)) != -1) {
			if (pass == 1 && line[0] == ';' &&
			    ((line[1] >= 'a' && line[1] <= 'z' &&
			    strstr(line, " = ") != NULL) || line[1] == '['))
				memmove(line, line + 1, (size_t)n--);
			ck_assert_uint_le((size_t)n, 200);
			text = realloc(text, tlen + (size_t)n +
			    strlen(www) + 1);
			ck_assert_ptr_nonnull(text);
			/* The demo pages: the tree's ../www, here www. */
			if ((at = strstr(line, "root = ../www")) != NULL)
				tlen += (size_t)sprintf(text + tlen, "%.*s"
				    "root = %s\n", (int)(at - line), line, www);
			/* The named site's files: here, scratch ones. */
			else if ((at = strstr(line, LE_DIR)) != NULL)
				tlen += (size_t)sprintf(text + tlen, "%.*s%s\n",
				    (int)(at - line), line, at + strlen(LE_DIR));
			else {
				memcpy(text + tlen, line, (size_t)n + 1);
				tlen += (size_t)n;
			}
		}
		fclose(fp);
		conf = load_ok(text);
		ck_assert_uint_eq(conf->nlistens, pass ? 3 : 1);
		ck_assert_str_eq(conf->listens[0].text, "127.0.0.1:8080");
		ck_assert_int_eq(conf->listens[0].tls, 0);
		/* The [cluster] example, commented out: defaults. */
		if (pass == 0)
			ck_assert_int_eq(conf->cluster.line, 0);
		else {
			ck_assert_int_ne(conf->cluster.line, 0);
			ck_assert_str_eq(conf->cluster.redis, "127.0.0.1:6379");
			ck_assert_str_eq(conf->cluster.password_file,
			    scratch("redis.pw"));
			ck_assert_str_eq(conf->cluster.prefix, "wsd:");
			ck_assert_str_eq(conf->cluster.node_name, "web1");
			ck_assert_int_eq(conf->cluster.tls, 1);
			ck_assert_str_eq(conf->cluster.ca_file,
			    scratch("redis-ca.pem"));
			ck_assert(conf->cluster.timeout == 2.0);
			ck_assert(conf->cluster.users_ttl == 30.0);
			ck_assert(conf->cluster.lease == 3.0);
		}
		if (pass == 0)
			ck_assert_int_eq(conf->tls.line, 0);
		else {
			ck_assert_int_eq(conf->listens[1].tls, 0);
			ck_assert_str_eq(conf->listens[2].text, "0.0.0.0:8443");
			ck_assert_int_eq(conf->listens[2].tls, 1);
			ck_assert_int_ne(conf->tls.line, 0);
			ck_assert_str_eq(conf->tls.certificate, cert);
			ck_assert_str_eq(conf->tls.private_key, key);
			ck_assert_ptr_null(conf->tls.ciphers);
			ck_assert_ptr_null(conf->tls.ciphersuites);
		}
		ck_assert_int_eq(conf->tls.min_version, def->tls.min_version);
		ck_assert_int_eq(conf->log_level, def->log_level);
		ck_assert_int_eq(conf->access_log, def->access_log);
		ck_assert_uint_eq(conf->max_connections, def->max_connections);
		ck_assert_uint_eq(conf->max_header_size, def->max_header_size);
		ck_assert(conf->handshake_timeout == def->handshake_timeout);
		ck_assert(conf->idle_timeout == def->idle_timeout);
		ck_assert(conf->close_timeout == def->close_timeout);
		ck_assert(memcmp(&conf->lim, &def->lim, sizeof(def->lim)) == 0);
		ck_assert_uint_eq(conf->nroutes, 10);
		for (i = 0; i < conf->nroutes; i++) {
			r = &conf->routes[i];
			/* compression: each app's default, the rest [server]'s. */
			lim = r->lim;
			ck_assert_int_eq(lim.compression, r->app != NULL &&
			    r->app->via_hub ? WSD_COMPRESSION_SHARED :
			    WSD_COMPRESSION_ON);
			lim.compression = def->lim.compression;
			ck_assert(memcmp(&lim, &def->lim, sizeof(lim)) == 0);
			assert_app_defaults(r);
		}
		ck_assert_str_eq(route(conf, "/")->root_real, www);
		ck_assert_ptr_null(route(conf, "/")->app);
		ck_assert_ptr_eq(route(conf, "/metrics")->app,
		    app_find("metrics"));
		/* Loopback only: 127.0.0.0/8 and ::1. */
		ck_assert_uint_eq(route(conf, "/metrics")->allow.n, 2);
		ck_assert_ptr_eq(route(conf, "/health")->app,
		    app_find("health"));
		/* Every demo route, named after its app. */
		for (i = 0; i < conf->nroutes; i++) {
			r = &conf->routes[i];
			if (r->prefix)
				ck_assert_ptr_eq(r->app, app_find("channels"));
			else if (strcmp(r->path, "/") != 0)
				ck_assert_ptr_eq(r->app, app_find(r->path + 1));
		}
		ck_assert_ptr_nonnull(route(conf, "/hello"));
		ck_assert_ptr_nonnull(route(conf, "/echo"));
		ck_assert_ptr_nonnull(route(conf, "/time"));
		ck_assert_ptr_nonnull(route(conf, "/broadcast"));
		ck_assert_ptr_nonnull(route(conf, "/counter"));
		ck_assert_ptr_nonnull(route(conf, "/relay"));
		config_free(conf);
	}
	config_free(def);
	free(line);
	free(text);
	free(www);
	free(cert);
	free(key);
}
END_TEST
#endif

/* include: glob order, relative names, sections, errors, loops, depth. */
START_TEST(test_include)
{
	struct wsd_config *conf;
	char		*errs, *path, name[64], body[64];
	int		 i;

	make_dir("conf.d");
	make_dir("sub");
	write_file("conf.d/20-b.ini", "[route /b]\napp = echo\n");
	write_file("conf.d/10-a.ini", "; first\n[route /a]\napp = hello\n");
	write_file("conf.d/notes.txt", "not ini\n");
	/* Relative to the including file: sub/x.ini includes sub/y.ini. */
	write_file("sub/x.ini", "include = y.ini\n");
	write_file("sub/y.ini", "[route /y]\napp = time\n");
	conf = load_ok(
	    "[route /first]\n"
	    "app = echo\n"
	    "include = conf.d/*.ini\n"
	    "max_message_size = 2k\n"	/* still /first's */
	    "include = sub/x.ini\n"
	    "include = empty.d/*.ini\n"	/* no such directory: nothing */
	    "[server]\n"
	    "max_connections = 5\n");
	ck_assert_uint_eq(conf->nroutes, 4);
	ck_assert_str_eq(conf->routes[0].path, "/first");
	ck_assert_uint_eq(conf->routes[0].lim.max_message_size, 2048);
	ck_assert_str_eq(conf->routes[1].path, "/a");
	ck_assert_int_eq(conf->routes[1].line, 2);
	ck_assert_ptr_nonnull(strstr(conf->routes[1].file, "/conf.d/10-a.ini"));
	ck_assert_str_eq(conf->routes[2].path, "/b");
	ck_assert_str_eq(conf->routes[3].path, "/y");
	ck_assert_ptr_nonnull(strstr(conf->routes[3].file, "/sub/y.ini"));
	ck_assert_uint_eq(conf->max_connections, 5);
	ck_assert_uint_eq(conf->files.n, 5);
	config_free(conf);

	/* Errors name the included file; the main file's come first. */
	write_file("conf.d/20-b.ini", "[route /b]\napp = echo\nbogus = 1\n");
	errs = load_errors("[server]\ninclude = conf.d/*.ini\nfoo = 1\n");
	ck_assert_ptr_nonnull(errs);
	ck_assert_ptr_eq(strstr(errs, "F:3: unknown key \"foo\""), errs);
	ck_assert_ptr_nonnull(path = strstr(errs, "/conf.d/20-b.ini:3: "
	    "unknown key \"bogus\" in [route /b]"));
	free(errs);
	write_file("conf.d/20-b.ini", "[route /b]\napp = echo\n");

	/* An included file starts outside any section. */
	write_file("keys.ini", "max_connections = 4\n");
	errs = load_errors("[server]\ninclude = keys.ini\n");
	ck_assert_ptr_nonnull(strstr(errs, "/keys.ini:1: key "
	    "\"max_connections\" outside any section"));
	free(errs);

	/* A name without wildcards must exist; loops and depth refused. */
	errs = load_errors("include = nothere.ini\n");
	ck_assert_ptr_nonnull(strstr(errs, "F:1: include \""));
	ck_assert_ptr_nonnull(strstr(errs, "/nothere.ini\": No such file or "
	    "directory"));
	free(errs);
	write_file("loop.ini", "\ninclude = wsd.ini\n");
	errs = load_errors("include = loop.ini\n");
	ck_assert_ptr_nonnull(strstr(errs, "/loop.ini:2: include \""));
	ck_assert_ptr_nonnull(strstr(errs, "\": include loop (the file is "
	    "already being read)"));
	free(errs);
	ck_assert_ptr_nonnull(errs = load_errors("include = ./wsd.ini\n"));
	ck_assert_ptr_nonnull(strstr(errs, "F:1: include \""));
	ck_assert_ptr_nonnull(strstr(errs, "include loop"));
	free(errs);
	for (i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "d%d.ini", i);
		snprintf(body, sizeof(body), "include = d%d.ini\n", i + 1);
		write_file(name, i < 19 ? body : "[server]\n");
	}
	ck_assert_ptr_nonnull(errs = load_errors("include = d0.ini\n"));
	ck_assert_ptr_nonnull(strstr(errs, "/d14.ini:1: include \""));
	ck_assert_ptr_nonnull(strstr(errs, "includes nested more than 16 "
	    "deep"));
	free(errs);
	ck_assert_errors("[server]\ninclude =\n", "F:2: include: missing "
	    "value");
	ck_assert_errors("include = /dev/null\n", "F:1: include "
	    "\"/dev/null\": not a regular file");
	ck_assert_ptr_nonnull(errs = load_errors("include = conf.d\n"));
	ck_assert_ptr_nonnull(strstr(errs, "/conf.d\": Is a directory"));
	free(errs);
}
END_TEST

/* A stand-in for tls_check: the key never matches; counts its calls. */
static int	tls_check_calls;

static int
fake_tls_check(const struct wsd_tls *tls, char **cause, const char **key)
{
	tls_check_calls++;
	ck_assert_ptr_nonnull(tls->private_key);
	*key = "private_key";
	*cause = strdup("key values mismatch");
	return -1;
}

/* The registered [tls] check: at its key's line, only on a clean section. */
START_TEST(test_tls_check_hook)
{
	char	*errs;

	config_register_tls_check(fake_tls_check);
	ck_assert_errors("[server]\nfoo = 1\n[tls]\ncertificate = c\n"
	    "private_key = k\n",
	    "F:2: unknown key \"foo\" in [server]\n"
	    "F:5: key values mismatch");
	ck_assert_int_eq(tls_check_calls, 1);
	/* Not with a file missing: that error is enough. */
	errs = load_errors("[tls]\ncertificate = c\nprivate_key = nokey\n");
	ck_assert_ptr_nonnull(strstr(errs, "F:3: private_key \""));
	ck_assert_ptr_null(strstr(errs, "mismatch"));
	free(errs);
	ck_assert_int_eq(tls_check_calls, 1);
	config_register_tls_check(NULL);
}
END_TEST

/* -l: the listen lines are checked, and replaced. */
START_TEST(test_listen_override)
{
	struct config_source src;
	struct wsd_config *conf;
	char		*errs, *listens[] = { "127.0.0.1:7001",
			    "[::1]:7002 proxy_protocol", "bad" };

	memset(&src, 0, sizeof(src));
	src.file = write_file("wsd.ini", "[server]\nlisten = 127.0.0.1:80\n"
	    "listen = [::1]:80\ntrusted_proxies = ::1\n");
	src.listens = listens;
	src.nlistens = 2;
	ck_assert_ptr_nonnull(conf = config_open(&src, &errs));
	ck_assert_uint_eq(conf->nlistens, 2);
	ck_assert_str_eq(conf->listens[0].text, "127.0.0.1:7001");
	ck_assert_str_eq(conf->listens[0].file, "-l");
	ck_assert_int_eq(conf->listens[0].line, 0);
	ck_assert_str_eq(conf->listens[1].text, "[::1]:7002");
	ck_assert_int_eq(conf->listens[1].proxy_protocol, 1);
	config_free(conf);
	/* A bad -l, and a bad listen line in the file: both reported. */
	src.file = write_file("wsd.ini", "[server]\nlisten = nowhere\n");
	src.nlistens = 3;
	ck_assert_ptr_null(config_open(&src, &errs));
	ck_assert_ptr_nonnull(strstr(errs, ":2: listen: invalid address "
	    "\"nowhere\""));
	ck_assert_ptr_nonnull(strstr(errs, "\n-l: listen: invalid address "
	    "\"bad\""));
	ck_assert_ptr_nonnull(strstr(errs, "\n-l: listen [::1]:7002 "
	    "proxy_protocol: no trusted_proxies"));
	free(errs);
	/* The embedded default takes them too. */
	src.file = NULL;
	src.www_root = make_dir("www");
	src.nlistens = 1;
	ck_assert_ptr_nonnull(conf = config_open(&src, &errs));
	ck_assert_uint_eq(conf->nlistens, 1);
	ck_assert_str_eq(conf->listens[0].text, "127.0.0.1:7001");
	config_free(conf);
}
END_TEST

/* config_print's text into a string. */
static char *
print_text(const struct wsd_config *conf)
{
	char	*buf = NULL;
	size_t	 len = 0;
	FILE	*fp;

	ck_assert_ptr_nonnull(fp = open_memstream(&buf, &len));
	config_print(conf, fp);
	ck_assert_int_eq(fclose(fp), 0);
	return buf;
}

/* -T: what config_print writes loads again to the same text. */
START_TEST(test_print)
{
	struct wsd_config *conf, *again;
	char		*text, *text2, *errs;

	make_dir("www");
	conf = load_ok(
	    "[server]\n"
	    "listen = 127.0.0.1:0 tls\n"
	    "listen = [::1]:8080\n"
	    "ping_interval = 5s\n"
	    "trusted_proxies = 10.0.0.0/8\n"
	    "trusted_proxies = ::1\n"
	    "[tls]\ncertificate = c.pem\nprivate_key = k.pem\n"
	    "[route /]\napp = static\nroot = www\n"
	    "[route /t]\napp = time\ninterval_max = 2s\n"
	    "origins = https://example.org\nmax_message_size = 4k\n");
	text = print_text(conf);
	/* As written, inherited, defaults; absolute paths. */
	ck_assert_ptr_nonnull(strstr(text, "\n[server]\nlisten = 127.0.0.1:0 "
	    "tls\nlisten = [::1]:8080\nlog_level = info\n"));
	ck_assert_ptr_nonnull(strstr(text, "\nmax_connections = 10000\n"));
	ck_assert_ptr_nonnull(strstr(text, "\n;user =\n"));
	ck_assert_ptr_nonnull(strstr(text, "\ntrusted_proxies = 10.0.0.0/8\n"
	    "trusted_proxies = ::1\n"));
	ck_assert_ptr_nonnull(strstr(text, "\n[tls]\ncertificate = /"));
	ck_assert_ptr_nonnull(strstr(text, "\n[route /]\napp = static\n"
	    "root = /"));
	ck_assert_ptr_nonnull(strstr(text, "\ndotfiles = deny\n"));
	ck_assert_ptr_nonnull(strstr(text, "\n[route /t]\napp = time\n"
	    "max_message_size = 4k\nmax_send_buffer = 1m\n"
	    "ping_interval = 5s\n"));
	ck_assert_ptr_nonnull(strstr(text, "\ncompression = on\n"));
	ck_assert_ptr_nonnull(strstr(text, "\ninterval_min = 1s\n"
	    "interval_max = 2s\n"));
	ck_assert_ptr_null(strstr(text, "route /]\napp = static\nping"));
	again = config_load_string(scratch("again.ini"), text, &errs);
	if (again == NULL)
		ck_abort_msg("printed config fails:\n%s\n%s", errs, text);
	text2 = print_text(again);
	/* Past the first line, which names the file. */
	ck_assert_str_eq(strchr(text2, '\n'), strchr(text, '\n'));
	free(text);
	free(text2);
	config_free(again);
	config_free(conf);
}
END_TEST

/* config_changes: routes added, removed, changed; [server] and [tls]. */
START_TEST(test_changes)
{
	struct wsd_config *a, *b;
	char		*changes;

	a = load_ok("[server]\nidle_timeout = 5s\n[route /e]\napp = echo\n"
	    "[route /t]\napp = time\n[route /b]\napp = broadcast\n");
	b = load_ok("[server]\nidle_timeout = 5000ms\n[route /e]\n"
	    "app = echo\n[route /t]\napp = time\n[route /b]\n"
	    "app = broadcast\n");
	ck_assert_ptr_null(config_changes(a, b));
	config_free(b);
	b = load_ok("[server]\nidle_timeout = 6s\nmax_message_size = 2m\n"
	    "[tls]\ncertificate = c\nprivate_key = k\n"
	    "[route /e]\napp = echo\n[route /t]\napp = broadcast\n"
	    "[route /h]\napp = hello\n");
	ck_assert_ptr_nonnull(changes = config_changes(a, b));
	ck_assert_str_eq(changes,
	    "[server] changed: max_message_size 1m -> 2m, idle_timeout 5s -> "
	    "6s\n"
	    "[tls] added\n"
	    "route /e changed: max_message_size 1m -> 2m\n"
	    "route /t changed: app time -> broadcast, max_message_size 1m -> "
	    "2m, compression on -> shared, slow_client (unset) -> close\n"
	    "route /b removed (app broadcast)\n"
	    "route /h added (app hello)");
	free(changes);
	config_free(a);
	config_free(b);
}
END_TEST

/* Client address keys: allow, trusted_proxies, per-address limits. */
START_TEST(test_clientaddr_keys)
{
	struct wsd_config *conf;
	const struct wsd_route *r;
	struct cidr_addr a;

	conf = load_ok("");
	ck_assert_uint_eq(conf->trusted_proxies.n, 0);
	ck_assert_uint_eq(conf->max_connections_per_ip, 0);
	ck_assert_uint_eq(conf->max_connection_rate_per_ip, 0);
	config_free(conf);

	conf = load_ok(
	    "[server]\n"
	    "listen = 127.0.0.1:0 proxy_protocol\n"
	    "listen = 127.0.0.1:0 tls proxy_protocol\n"
	    "listen = 127.0.0.1:0 proxy_protocol tls\n"
	    "trusted_proxies = 10.0.0.0/8 ::1\n"
	    "trusted_proxies = 192.168.0.0/16\n"
	    "max_connections_per_ip = 100\n"
	    "max_connection_rate_per_ip = 20\n"
	    "[tls]\ncertificate = c\nprivate_key = k\n"
	    "[route /]\napp = static\nroot = .\nallow = 127.0.0.0/8\n"
	    "[route /echo]\napp = echo\nallow = 192.0.2.1 2001:db8::/32\n"
	    "allow = ::ffff:198.51.100.0/120\n");
	ck_assert_int_eq(conf->listens[0].proxy_protocol, 1);
	ck_assert_int_eq(conf->listens[0].tls, 0);
	ck_assert_int_eq(conf->listens[1].proxy_protocol, 1);
	ck_assert_int_eq(conf->listens[1].tls, 1);
	ck_assert_int_eq(conf->listens[2].proxy_protocol, 1);
	ck_assert_int_eq(conf->listens[2].tls, 1);
	ck_assert_uint_eq(conf->trusted_proxies.n, 3);
	ck_assert_uint_eq(conf->max_connections_per_ip, 100);
	ck_assert_uint_eq(conf->max_connection_rate_per_ip, 20);
	r = route(conf, "/echo");
	ck_assert_uint_eq(r->allow.n, 3);
	ck_assert_int_eq(cidr_addr_parse("198.51.100.9", 12, &a), 0);
	ck_assert(cidr_list_match(&r->allow, &a));
	ck_assert_int_eq(cidr_addr_parse("192.0.2.2", 9, &a), 0);
	ck_assert(!cidr_list_match(&r->allow, &a));
	ck_assert_uint_eq(route(conf, "/")->allow.n, 1);
	config_free(conf);

	ck_assert_errors("[server]\ntrusted_proxies = 10.0.0.1/8\n",
	    "F:2: trusted_proxies: invalid address or network \"10.0.0.1/8\" "
	    "(expected ADDR or ADDR/LEN, host bits zero)");
	ck_assert_errors("[route /e]\napp = echo\nallow = 127.0.0.1, ::1\n",
	    "F:3: allow: invalid address or network \"127.0.0.1,\" "
	    "(expected ADDR or ADDR/LEN, host bits zero)");
	ck_assert_errors("[route /e]\napp = echo\nallow = localhost\n",
	    "F:3: allow: invalid address or network \"localhost\" "
	    "(expected ADDR or ADDR/LEN, host bits zero)");
	ck_assert_errors("[route /e]\napp = echo\nallow =\n",
	    "F:3: allow: missing value");
	ck_assert_errors("[server]\nallow = 127.0.0.1\n",
	    "F:2: key \"allow\" belongs in a [route PATH] section");
	ck_assert_errors("[route /e]\napp = echo\ntrusted_proxies = ::1\n",
	    "F:3: key \"trusted_proxies\" belongs in the [server] section");
	ck_assert_errors("[server]\nmax_connections_per_ip = 1000001\n",
	    "F:2: max_connections_per_ip: \"1000001\" is out of range "
	    "(0 to 1000000)");
	ck_assert_errors("[server]\nmax_connection_rate_per_ip = -1\n",
	    "F:2: max_connection_rate_per_ip: invalid number \"-1\"");
	ck_assert_errors("[server]\nlisten = 127.0.0.1:0 proxy_protocol\n",
	    "F:2: listen 127.0.0.1:0 proxy_protocol: no trusted_proxies in "
	    "[server] to accept the header from");
	ck_assert_errors("[server]\ntrusted_proxies = ::1\n"
	    "listen = 127.0.0.1:0 proxy_protocol proxy_protocol\n",
	    "F:3: duplicate listen flag \"proxy_protocol\"");
	ck_assert_errors("[server]\nlisten = 127.0.0.1:0 proxy\n",
	    "F:2: unknown listen flag \"proxy\"");
}
END_TEST

/* The config suite. */
START_TEST(test_log_jwt_keys)
{
	struct wsd_config *conf;
	char		 text[1024], *key, *errs;

	/* access_log: on, off or a file; log_format. */
	conf = load_ok("[server]\n");
	ck_assert_int_eq(conf->access_log, 1);
	ck_assert_ptr_null(conf->access_log_file);
	ck_assert_int_eq(conf->log_format, LOG_FORMAT_TEXT);
	config_free(conf);
	conf = load_ok("[server]\naccess_log = /tmp/wsd-access.log\n"
	    "log_format = json\n");
	ck_assert_int_eq(conf->access_log, 1);
	ck_assert_str_eq(conf->access_log_file, "/tmp/wsd-access.log");
	ck_assert_int_eq(conf->log_format, LOG_FORMAT_JSON);
	config_free(conf);
	ck_assert_errors("[server]\nlog_format = xml\n",
	    "F:2: log_format: invalid format (text|json) \"xml\"");
	ck_assert_errors("[server]\naccess_log = /nonexistent/dir/a.log\n",
	    "F:2: access_log \"/nonexistent/dir/a.log\": /nonexistent/dir: "
	    "No such file or directory");

	/* JWT keys: a secret file, leeway, close at exp. */
	key = strdup(write_file("jwt.key",
	    "0123456789abcdef0123456789abcdef\n"));
	snprintf(text, sizeof(text), "[route /e]\napp = echo\n"
	    "auth_jwt_key_file = %s\njwt_leeway = 5s\njwt_expire_close = on\n",
	    key);
	conf = load_ok(text);
	ck_assert_str_eq(conf->routes[0].auth_jwt_key_file, key);
	ck_assert_ptr_nonnull(conf->routes[0].jwt_key);
	ck_assert(conf->routes[0].jwt_leeway == 5.0);
	ck_assert_int_eq(conf->routes[0].jwt_expire_close, 1);
	config_free(conf);
	conf = load_ok("[route /e]\napp = echo\n");
	ck_assert(conf->routes[0].jwt_leeway == 30.0);
	ck_assert_int_eq(conf->routes[0].jwt_expire_close, 0);
	ck_assert_ptr_null(conf->routes[0].jwt_key);
	config_free(conf);
	ck_assert_errors("[route /e]\napp = echo\njwt_leeway = 1s\n"
	    "jwt_expire_close = on\n",
	    "F:3: key \"jwt_leeway\" needs auth_jwt_key_file on the route\n"
	    "F:4: key \"jwt_expire_close\" needs auth_jwt_key_file on the "
	    "route");
	ck_assert_errors("[route /e]\napp = echo\n"
	    "auth_jwt_key_file = /nonexistent/k\n",
	    "F:3: auth_jwt_key_file \"/nonexistent/k\": No such file or "
	    "directory");
	free(key);
	key = strdup(write_file("short.key", "short\n"));
	snprintf(text, sizeof(text), "[route /e]\napp = echo\n"
	    "auth_jwt_key_file = %s\n", key);
	errs = load_errors(text);
	ck_assert_ptr_nonnull(errs);
	ck_assert_ptr_nonnull(strstr(errs,
	    "HS256 secret shorter than 32 bytes"));
	free(errs);
	free(key);
}
END_TEST

Suite *
config_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("config");

	tc = tcase_create("values");
	tcase_add_test(tc, test_parse_size);
	tcase_add_test(tc, test_parse_duration);
	tcase_add_test(tc, test_parse_bool);
	tcase_add_test(tc, test_parse_address_v4);
	tcase_add_test(tc, test_parse_address_v6);
	tcase_add_test(tc, test_parse_address_bad);
	suite_add_tcase(s, tc);

	tc = tcase_create("files");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_full);
	tcase_add_test(tc, test_typo_line);
	tcase_add_test(tc, test_many_errors);
	tcase_add_test(tc, test_bad_values);
	tcase_add_test(tc, test_bounds);
	tcase_add_test(tc, test_duplicates);
	tcase_add_test(tc, test_vhost_config);
	tcase_add_test(tc, test_vhost_errors);
	tcase_add_test(tc, test_host_names);
	tcase_add_test(tc, test_root);
	tcase_add_test(tc, test_apps);
	tcase_add_test(tc, test_app_names);
	tcase_add_test(tc, test_app_keys);
	tcase_add_test(tc, test_app_keys_refused);
	tcase_add_test(tc, test_app_key_defaults);
	tcase_add_test(tc, test_policies);
	tcase_add_test(tc, test_intervals);
	tcase_add_test(tc, test_sections);
	tcase_add_test(tc, test_route_paths);
	tcase_add_test(tc, test_long_line);
	tcase_add_test(tc, test_indent_and_syntax);
	tcase_add_test(tc, test_empty_route);
	tcase_add_test(tc, test_inherit);
	tcase_add_test(tc, test_compression);
	tcase_add_test(tc, test_static_keys);
	tcase_add_test(tc, test_dotfiles);
	tcase_add_test(tc, test_match);
	tcase_add_test(tc, test_embedded);
	tcase_add_test(tc, test_files);
	tcase_add_test(tc, test_strings);
	tcase_add_test(tc, test_tls_listen);
	tcase_add_test(tc, test_tls_section);
	tcase_add_test(tc, test_tls_errors);
	tcase_add_test(tc, test_access_keys);
	tcase_add_test(tc, test_access_errors);
	tcase_add_test(tc, test_log_jwt_keys);
	tcase_add_test(tc, test_operations);
	tcase_add_test(tc, test_clientaddr_keys);
	tcase_add_test(tc, test_shutdown_delay);
	tcase_add_test(tc, test_include);
	tcase_add_test(tc, test_listen_override);
	tcase_add_test(tc, test_tls_check_hook);
	tcase_add_test(tc, test_print);
	tcase_add_test(tc, test_changes);
	tcase_add_test(tc, test_exec_keys);
#ifdef TEST_SRCDIR
	tcase_add_test(tc, test_example);
#endif
	suite_add_tcase(s, tc);
	return s;
}
