/* check_access.c -- origins, tokens, redaction, message rate, subprotocols. */
#include <sys/stat.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "access.h"
#include "http.h"
#include "suites.h"
#include "ws.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* Request text kept alive for the parsed request's pointers. */
static char	reqbuf[8192];

/* Parses a request head made of a request line and header lines. */
static void
parse_req(struct http_request *req, const char *target, const char *headers)
{
	int	n;

	n = snprintf(reqbuf, sizeof(reqbuf), "GET %s HTTP/1.1\r\n"
	    "Host: x\r\n%s\r\n", target, headers);
	ck_assert_int_gt(n, 0);
	ck_assert_int_lt(n, (int)sizeof(reqbuf));
	ck_assert_int_eq(http_parse_request(reqbuf, (size_t)n, sizeof(reqbuf),
	    req), n);
}

/* Serialises s; asserts success and returns the result. */
static const char *
ser(const char *s)
{
	static char	 out[ACCESS_ORIGIN_MAX];
	const char	*why = "unset";

	ck_assert_msg(access_origin_serialise(s, strlen(s), out, sizeof(out),
	    &why) == 0, "\"%s\" refused: %s", s, why);
	ck_assert_ptr_null(why);
	return out;
}

START_TEST(test_origin_serialise)
{
	static const struct {
		const char	*in, *out;
	} good[] = {
		{ "https://example.org", "https://example.org" },
		{ "HTTPS://Example.ORG", "https://example.org" },
		{ "https://example.org:443", "https://example.org" },
		{ "http://example.org:80", "http://example.org" },
		{ "http://example.org:443", "http://example.org:443" },
		{ "https://example.org:80", "https://example.org:80" },
		{ "wss://a.b:443", "wss://a.b" },
		{ "ws://a.b:80", "ws://a.b" },
		{ "http://localhost:08080", "http://localhost:8080" },
		{ "http://127.0.0.1:8080", "http://127.0.0.1:8080" },
		{ "http://[::1]:8080", "http://[::1]:8080" },
		{ "http://[FE80::A]", "http://[fe80::a]" },
		{ "chrome-extension://abcdef", "chrome-extension://abcdef" },
		{ "http://xn--bcher-kva.example", "http://xn--bcher-kva.example" },
	};
	static const char *const bad[] = {
		"", "null", "example.org", "https//example.org", "://x",
		"https://", "https://example.org/", "https://example.org/x",
		"https://example.org:", "https://example.org:0",
		"https://example.org:65536", "https://example.org:123456",
		"https://example.org:8a", "https://exa mple.org",
		"https://user@example.org", "http://[::1", "http://[]",
		"http://[::g]", "1http://x", "https://example.org?x",
		"https://b\303\274cher.example",
	};
	char		 out[ACCESS_ORIGIN_MAX], small[12];
	const char	*why;
	size_t		 i;

	for (i = 0; i < NELEM(good); i++)
		ck_assert_str_eq(ser(good[i].in), good[i].out);
	for (i = 0; i < NELEM(bad); i++) {
		why = NULL;
		ck_assert_msg(access_origin_serialise(bad[i], strlen(bad[i]),
		    out, sizeof(out), &why) == -1, "\"%s\" accepted", bad[i]);
		ck_assert_ptr_nonnull(why);
	}
	/* Too long for the output: refused, not cut. */
	ck_assert_int_eq(access_origin_serialise("https://example.org", 19,
	    small, sizeof(small), &why), -1);
	/* Only len bytes count. */
	ck_assert_int_eq(access_origin_serialise("http://a.bXYZ", 10, out,
	    sizeof(out), &why), 0);
	ck_assert_str_eq(out, "http://a.b");
}
END_TEST

START_TEST(test_origin_check)
{
	static const char *const refused[] = {
		"Origin: https://example.org.evil\r\n",
		"Origin: http://example.org\r\n",
		"Origin: https://example.org:8443\r\n",
		"Origin: https://sub.example.org\r\n",
		"Origin: null\r\n",
		"Origin: \r\n",
		"Origin: https://example.org/\r\n",
		"Origin: https://example.org https://example.org\r\n",
		"Origin: https://example.org\r\nOrigin: https://example.org\r\n",
	};
	char		*origins[] = { "https://example.org", "http://[::1]:8080" };
	struct http_request req;
	const char	*why;
	size_t		 i;

	/* No origins key: anything goes, absent too. */
	parse_req(&req, "/", "Origin: https://evil.example\r\n");
	ck_assert_int_eq(access_origin_check(&req, NULL, 0, 0, &why), 1);
	parse_req(&req, "/", "");
	ck_assert_int_eq(access_origin_check(&req, NULL, 0, 0, &why), 1);
	ck_assert_int_eq(access_origin_check(&req, origins, 2, 0, &why), 1);
	/* require_origin without a list: any Origin, but one. */
	why = NULL;
	ck_assert_int_eq(access_origin_check(&req, NULL, 0, 1, &why), 0);
	ck_assert_str_eq(why, "Origin required");
	ck_assert_int_eq(access_origin_check(&req, origins, 2, 1, &why), 0);
	parse_req(&req, "/", "Origin: null\r\n");
	ck_assert_int_eq(access_origin_check(&req, NULL, 0, 1, &why), 1);

	parse_req(&req, "/", "origin: HTTPS://EXAMPLE.org:443\r\n");
	ck_assert_int_eq(access_origin_check(&req, origins, 2, 1, &why), 1);
	parse_req(&req, "/", "Origin: http://[::1]:8080\r\n");
	ck_assert_int_eq(access_origin_check(&req, origins, 2, 0, &why), 1);

	for (i = 0; i < NELEM(refused); i++) {
		parse_req(&req, "/", refused[i]);
		why = NULL;
		ck_assert_msg(access_origin_check(&req, origins, 2, 0,
		    &why) == 0, "allowed: %s", refused[i]);
		ck_assert_ptr_nonnull(why);
	}
}
END_TEST

/* Parses token text that must be valid. */
static struct access_tokens *
tokens_ok(const char *text, size_t n)
{
	struct access_tokens *t;
	char	*cause = NULL;

	t = access_tokens_parse(text, strlen(text), &cause);
	ck_assert_msg(t != NULL, "refused: %s", cause ? cause : "?");
	ck_assert_ptr_null(cause);
	ck_assert_uint_eq(t->n, n);
	return t;
}

/* Asserts that token text is refused with that cause. */
static void
tokens_bad(const char *text, size_t len, const char *want)
{
	char	*cause = NULL;

	ck_assert_ptr_null(access_tokens_parse(text, len, &cause));
	ck_assert_ptr_nonnull(cause);
	ck_assert_str_eq(cause, want);
	free(cause);
}

START_TEST(test_tokens_parse)
{
	struct access_tokens *t;
	char	 big[ACCESS_TOKEN_MAX + 1], *cause = NULL;

	access_tokens_free(tokens_ok("abc", 1));
	access_tokens_free(tokens_ok("abc\n", 1));
	access_tokens_free(tokens_ok("# tokens\n\n  abc  \r\n\t\n#x y\n"
	    "d-e.f_g~h+i/j=\n", 2));
	access_tokens_free(tokens_ok("a\nb\nc\na\n", 4));

	tokens_bad("", 0, "no token in the file");
	tokens_bad("\n\n# only a comment\n  \n", 22, "no token in the file");
	tokens_bad("ok\nto ken\n", 10,
	    "line 2: a token is printable ASCII without spaces");
	tokens_bad("ok\n\ntok\x01\n", 9,
	    "line 3: a token is printable ASCII without spaces");
	tokens_bad("t\xc3\xa9\n", 4,
	    "line 1: a token is printable ASCII without spaces");
	tokens_bad("ok\0bad\n", 7,
	    "line 1: a token is printable ASCII without spaces");

	memset(big, 'x', sizeof(big));
	t = access_tokens_parse(big, ACCESS_TOKEN_MAX, &cause);
	ck_assert_ptr_nonnull(t);
	access_tokens_free(t);
	tokens_bad(big, ACCESS_TOKEN_MAX + 1,
	    "line 1: token longer than 1024 characters");
	access_tokens_free(NULL);
}
END_TEST

START_TEST(test_tokens_load)
{
	struct access_tokens *t;
	char	 path[] = "/tmp/wsd-tokens-XXXXXX", *cause = NULL;
	FILE	*fp;
	int	 fd;

	ck_assert_int_ne(fd = mkstemp(path), -1);
	ck_assert_ptr_nonnull(fp = fdopen(fd, "w"));
	fputs("# comment\none\ntwo\n", fp);
	fclose(fp);
	ck_assert_ptr_nonnull(t = access_tokens_load(path, &cause));
	ck_assert_uint_eq(t->n, 2);
	access_tokens_free(t);
	unlink(path);
	ck_assert_ptr_null(access_tokens_load(path, &cause));
	ck_assert_str_eq(cause, "No such file or directory");
	free(cause);
	ck_assert_ptr_null(access_tokens_load("/tmp", &cause));
	ck_assert_str_eq(cause, "Is a directory");
	free(cause);
	ck_assert_ptr_null(access_tokens_load("/dev/null", &cause));
	ck_assert_str_eq(cause, "not a regular file");
	free(cause);
	/* A FIFO without a writer is refused, not waited on. */
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	ck_assert_ptr_null(access_tokens_load(path, &cause));
	ck_assert_str_eq(cause, "not a regular file");
	free(cause);
	unlink(path);
}
END_TEST

START_TEST(test_token_check)
{
	static const struct {
		const char	*target, *headers;
		int		 ok;
	} cases[] = {
		{ "/", "", 0 },
		{ "/", "Authorization: Bearer s3cret\r\n", 1 },
		{ "/", "Authorization: bearer   s3cret\r\n", 1 },
		{ "/", "Authorization: BEARER other+/tok=\r\n", 1 },
		{ "/", "Authorization: Bearer s3cre\r\n", 0 },
		{ "/", "Authorization: Bearer s3crett\r\n", 0 },
		{ "/", "Authorization: Bearer S3CRET\r\n", 0 },
		{ "/", "Authorization: Basic s3cret\r\n", 0 },
		{ "/", "Authorization: Bearers3cret\r\n", 0 },
		{ "/", "Authorization: Bearer\r\n", 0 },
		{ "/", "Authorization: Bearer s3cret x\r\n", 0 },
		{ "/", "Authorization: s3cret\r\n", 0 },
		{ "/", "X-Token: s3cret\r\n", 0 },
		/* Any one of several headers. */
		{ "/", "Authorization: Bearer nope\r\n"
		    "Authorization: Bearer s3cret\r\n", 1 },
		{ "/?token=s3cret", "", 1 },
		{ "/x?a=1&token=s3cret&b=2", "", 1 },
		{ "/?token=%73%33cret", "", 1 },
		{ "/?token=other%2B%2Ftok%3D", "", 1 },
		{ "/?token=other+/tok=", "", 1 },
		{ "/?token=other%20/tok=", "", 0 },
		{ "/?token=s3cre", "", 0 },
		{ "/?token=", "", 0 },
		{ "/?token", "", 0 },
		{ "/?tokens=s3cret", "", 0 },
		{ "/?xtoken=s3cret", "", 0 },
		{ "/?Token=s3cret", "", 0 },
		{ "/?token=s3cret%", "", 0 },
		{ "/?token=s3cret%4", "", 0 },
		{ "/?token=%zz3cret", "", 0 },
		{ "/?token=bad&token=s3cret", "", 1 },
		{ "/?token=bad", "Authorization: Bearer s3cret\r\n", 1 },
		{ "/?token=s3cret", "Authorization: Bearer bad\r\n", 1 },
		{ "/s3cret", "", 0 },
		{ "/?q=s3cret", "", 0 },
	};
	struct access_tokens *t;
	struct http_request req;
	size_t	i;

	t = tokens_ok("s3cret\nother+/tok=\n", 2);
	for (i = 0; i < NELEM(cases); i++) {
		parse_req(&req, cases[i].target, cases[i].headers);
		ck_assert_msg(access_token_check(t, &req) == cases[i].ok,
		    "case %zu: %s %s", i, cases[i].target, cases[i].headers);
	}
	/* No tokens loaded: nothing passes. */
	parse_req(&req, "/?token=s3cret", "");
	ck_assert_int_eq(access_token_check(NULL, &req), 0);
	access_tokens_free(t);
}
END_TEST

START_TEST(test_redact)
{
	static const struct {
		const char	*in, *out;
	} cases[] = {
		{ "/", "/" },
		{ "/echo", "/echo" },
		{ "/echo?", "/echo?" },
		{ "/echo?token=abc", "/echo?token=***" },
		{ "/echo?token=", "/echo?token=***" },
		{ "/echo?a=1&token=abc&b=2", "/echo?a=1&token=***&b=2" },
		{ "/echo?token=a&token=bcd", "/echo?token=***&token=***" },
		{ "/echo?tokens=abc&xtoken=d&token", "/echo?tokens=abc&xtoken=d"
		    "&token" },
		{ "/token=abc", "/token=abc" },
		{ "/echo?a=token=abc", "/echo?a=token=abc" },
		{ "/echo?&&token=x&&", "/echo?&&token=***&&" },
	};
	char	 out[64], tiny[8];
	size_t	 i, n;

	for (i = 0; i < NELEM(cases); i++) {
		n = access_target_redact(cases[i].in, strlen(cases[i].in), out,
		    sizeof(out));
		ck_assert_str_eq(out, cases[i].out);
		ck_assert_uint_eq(n, strlen(cases[i].out));
	}
	/* Cut to the buffer, length of the whole result returned. */
	n = access_target_redact("/e?token=secretvalue", 20, tiny,
	    sizeof(tiny));
	ck_assert_uint_eq(n, strlen("/e?token=***"));
	ck_assert_str_eq(tiny, "/e?toke");
	/* The secret never shows, even cut. */
	n = access_target_redact("/e?token=secretvalue", 20, out, 13);
	ck_assert_str_eq(out, "/e?token=***");
	ck_assert_uint_eq(n, 12);
}
END_TEST

START_TEST(test_rate)
{
	struct access_rate r;
	int		 i;

	/* A burst of rate messages, then one per 1/rate seconds. */
	access_rate_init(&r, 5, 100.0);
	for (i = 0; i < 5; i++)
		ck_assert_int_eq(access_rate_take(&r, 5, 100.0), 0);
	ck_assert_int_eq(access_rate_take(&r, 5, 100.0), -1);
	ck_assert_int_eq(access_rate_take(&r, 5, 100.1), -1);
	ck_assert_int_eq(access_rate_take(&r, 5, 100.21), 0);
	ck_assert_int_eq(access_rate_take(&r, 5, 100.21), -1);
	/* A long pause refills to the burst, not beyond. */
	for (i = 0; i < 5; i++)
		ck_assert_int_eq(access_rate_take(&r, 5, 200.0), 0);
	ck_assert_int_eq(access_rate_take(&r, 5, 200.0), -1);
	/* A clock that does not move adds nothing. */
	ck_assert_int_eq(access_rate_take(&r, 5, 199.0), -1);

	/* Steady sending at the rate is never refused. */
	access_rate_init(&r, 10, 0.0);
	for (i = 1; i <= 1000; i++)
		ck_assert_int_eq(access_rate_take(&r, 10, i * 0.1), 0);
	/* Twice the rate: about half of them refused. */
	access_rate_init(&r, 10, 0.0);
	{
		int	refused = 0;

		for (i = 1; i <= 1000; i++)
			refused += access_rate_take(&r, 10, i * 0.05) == -1;
		ck_assert_int_ge(refused, 480);
		ck_assert_int_le(refused, 520);
	}
	/* Rate 1: one message per second. */
	access_rate_init(&r, 1, 0.0);
	ck_assert_int_eq(access_rate_take(&r, 1, 0.0), 0);
	ck_assert_int_eq(access_rate_take(&r, 1, 0.5), -1);
	ck_assert_int_eq(access_rate_take(&r, 1, 1.5), 0);
}
END_TEST

START_TEST(test_subprotocol)
{
	static char *const sup[] = { "chat", "v2.json", "superchat" };
	static const struct {
		const char	*headers;
		int		 rc;
		size_t		 sel;
	} cases[] = {
		{ "", 0, 0 },
		{ "Sec-WebSocket-Protocol: chat\r\n", 1, 0 },
		{ "Sec-WebSocket-Protocol: superchat, chat\r\n", 1, 2 },
		{ "Sec-WebSocket-Protocol: x, y,v2.json , chat\r\n", 1, 1 },
		{ "Sec-WebSocket-Protocol: x\r\nsec-websocket-protocol: chat, "
		    "superchat\r\n", 1, 0 },
		{ "Sec-WebSocket-Protocol: superchat\r\n"
		    "Sec-WebSocket-Protocol: chat\r\n", 1, 2 },
		{ "Sec-WebSocket-Protocol: CHAT\r\n", 0, 0 },
		{ "Sec-WebSocket-Protocol: x, y\r\n", 0, 0 },
		{ "Sec-WebSocket-Protocol: chatty, cha\r\n", 0, 0 },
		{ "Sec-WebSocket-Protocol: ,, chat,\r\n", 1, 0 },
		{ "Sec-WebSocket-Protocol:\r\n", 0, 0 },
		/* Invalid tokens fail the handshake, matched or not. */
		{ "Sec-WebSocket-Protocol: chat, a b\r\n", -1, 0 },
		{ "Sec-WebSocket-Protocol: a/b\r\n", -1, 0 },
		{ "Sec-WebSocket-Protocol: \"chat\"\r\n", -1, 0 },
		{ "Sec-WebSocket-Protocol: chat;q=1\r\n", -1, 0 },
		{ "Sec-WebSocket-Protocol: chat\r\n"
		    "Sec-WebSocket-Protocol: x{y}\r\n", -1, 0 },
	};
	struct http_request req;
	size_t		 i, sel;
	int		 rc;

	for (i = 0; i < NELEM(cases); i++) {
		parse_req(&req, "/", cases[i].headers);
		sel = 99;
		rc = ws_subprotocol_select(&req, sup, NELEM(sup), &sel);
		ck_assert_msg(rc == cases[i].rc, "case %zu: rc %d, want %d",
		    i, rc, cases[i].rc);
		if (rc == 1)
			ck_assert_uint_eq(sel, cases[i].sel);
	}
	/* A route without subprotocols selects none but still checks. */
	parse_req(&req, "/", "Sec-WebSocket-Protocol: chat\r\n");
	ck_assert_int_eq(ws_subprotocol_select(&req, NULL, 0, &sel), 0);
	parse_req(&req, "/", "Sec-WebSocket-Protocol: a@b\r\n");
	ck_assert_int_eq(ws_subprotocol_select(&req, NULL, 0, &sel), -1);

	ck_assert_int_eq(http_token_valid("a", 1), 1);
	ck_assert_int_eq(http_token_valid("!#$%&'*+-.^_`|~09AZaz", 21), 1);
	ck_assert_int_eq(http_token_valid("", 0), 0);
	ck_assert_int_eq(http_token_valid("a\0b", 3), 0);
	ck_assert_int_eq(http_token_valid("a,b", 3), 0);
	ck_assert_int_eq(http_token_valid("\x7f", 1), 0);
}
END_TEST

START_TEST(test_http_list)
{
	static const char v[] = " a ,,\tb c , ,d";
	static const char *const want[] = { "a", "", "b c", "", "d" };
	const char	*p = v, *e;
	size_t		 len, i = 0;

	while (http_list_next(&p, v + sizeof(v) - 1, &e, &len)) {
		ck_assert_uint_lt(i, NELEM(want));
		ck_assert_uint_eq(len, strlen(want[i]));
		ck_assert(memcmp(e, want[i], len) == 0);
		i++;
	}
	ck_assert_uint_eq(i, NELEM(want));
	p = v;
	ck_assert_int_eq(http_list_next(&p, v, &e, &len), 0);
}
END_TEST

START_TEST(test_http_pct)
{
	char	out[8];

	ck_assert_int_eq(http_pct_decode("a%2Fb%2bc", 9, out, sizeof(out)), 5);
	ck_assert(memcmp(out, "a/b+c", 5) == 0);
	ck_assert_int_eq(http_pct_decode("a+b", 3, out, sizeof(out)), 3);
	ck_assert(memcmp(out, "a+b", 3) == 0);
	ck_assert_int_eq(http_pct_decode("%00", 3, out, sizeof(out)), 1);
	ck_assert_int_eq(out[0], 0);
	ck_assert_int_eq(http_pct_decode("", 0, out, sizeof(out)), 0);
	ck_assert_int_eq(http_pct_decode("%", 1, out, sizeof(out)), -1);
	ck_assert_int_eq(http_pct_decode("%4", 2, out, sizeof(out)), -1);
	ck_assert_int_eq(http_pct_decode("%4g", 3, out, sizeof(out)), -1);
	ck_assert_int_eq(http_pct_decode("%41", 2, out, sizeof(out)), -1);
	ck_assert_int_eq(http_pct_decode("12345678", 8, out, 8), 8);
	ck_assert_int_eq(http_pct_decode("123456789", 9, out, 8), -1);
}
END_TEST

/* The access suite. */
Suite *
access_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("access");
	tc = tcase_create("origins");
	tcase_add_test(tc, test_origin_serialise);
	tcase_add_test(tc, test_origin_check);
	suite_add_tcase(s, tc);
	tc = tcase_create("tokens");
	tcase_add_test(tc, test_tokens_parse);
	tcase_add_test(tc, test_tokens_load);
	tcase_add_test(tc, test_token_check);
	tcase_add_test(tc, test_redact);
	suite_add_tcase(s, tc);
	tc = tcase_create("rate");
	tcase_add_test(tc, test_rate);
	suite_add_tcase(s, tc);
	tc = tcase_create("subprotocols");
	tcase_add_test(tc, test_subprotocol);
	tcase_add_test(tc, test_http_list);
	tcase_add_test(tc, test_http_pct);
	suite_add_tcase(s, tc);
	return s;
}
