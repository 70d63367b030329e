/* check_proxy.c -- unit tests for the PROXY protocol and forwarding headers. */
#include <sys/types.h>
#include <sys/socket.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cidr.h"
#include "http.h"
#include "proxy.h"
#include "suites.h"

#define V2SIG	"\r\n\r\n\0\r\nQUIT\n"

/* The address of a header as text. */
static const char *
fmt(const struct cidr_addr *a)
{
	static char	buf[CIDR_ADDR_STRLEN];

	cidr_addr_format(a, buf);
	return buf;
}

/*
 * Parses a complete header, then every proper prefix of it (each must be
 * PROXY_PARTIAL), each from a malloc'd copy of exact size so that an
 * over-read shows under ASan.
 */
static int
parse_all(const void *hdr, size_t len, struct proxy_hdr *out)
{
	struct proxy_hdr tmp;
	uint8_t		*copy;
	size_t		 i;
	int		 r;

	for (i = 0; i < len; i++) {
		copy = malloc(i + 1);
		memcpy(copy, hdr, i);
		r = proxy_parse(copy, i, &tmp);
		free(copy);
		ck_assert_msg(r == PROXY_PARTIAL, "prefix %zu: %d", i, r);
	}
	copy = malloc(len);
	memcpy(copy, hdr, len);
	r = proxy_parse(copy, len, out);
	free(copy);
	return r;
}

START_TEST(test_v1)
{
	static const char tcp4[] =
	    "PROXY TCP4 192.0.2.1 198.51.100.2 5678 443\r\n";
	static const char tcp6[] =
	    "PROXY TCP6 2001:db8::1 2001:db8::2 65535 0\r\nGET / HTTP/1.1\r\n";
	static const char unk[] = "PROXY UNKNOWN\r\n";
	static const char unk2[] = "PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n";
	struct proxy_hdr h;

	ck_assert_int_eq(parse_all(tcp4, sizeof(tcp4) - 1, &h),
	    (int)sizeof(tcp4) - 1);
	ck_assert_int_eq(h.version, 1);
	ck_assert_int_eq(h.local, 0);
	ck_assert_str_eq(fmt(&h.src), "192.0.2.1");
	ck_assert_str_eq(fmt(&h.dst), "198.51.100.2");
	ck_assert_uint_eq(h.sport, 5678);
	ck_assert_uint_eq(h.dport, 443);
	/* Bytes after the header are not consumed. */
	ck_assert_int_eq(proxy_parse((const uint8_t *)tcp6, sizeof(tcp6) - 1,
	    &h), 44);
	ck_assert_str_eq(fmt(&h.src), "2001:db8::1");
	ck_assert_uint_eq(h.sport, 65535);
	ck_assert_uint_eq(h.dport, 0);
	ck_assert_int_eq(parse_all(unk, sizeof(unk) - 1, &h),
	    (int)sizeof(unk) - 1);
	ck_assert_int_eq(h.local, 1);
	ck_assert_int_eq(parse_all(unk2, sizeof(unk2) - 1, &h),
	    (int)sizeof(unk2) - 1);
	ck_assert_int_eq(h.local, 1);
}
END_TEST

START_TEST(test_v1_bad)
{
	static const char *const bad[] = {
		"PROXY TCP4 192.0.2.1 198.51.100.2 5678 443\n",
		"PROXY TCP4 192.0.2.1 198.51.100.2 5678 443\rX",
		"PROXY TCP4 192.0.2.1  198.51.100.2 5678 443\r\n",
		"PROXY TCP4 192.0.2.1 198.51.100.2 5678\r\n",
		"PROXY TCP4 192.0.2.1 198.51.100.2 5678 443 1\r\n",
		"PROXY TCP4 192.0.2.1 198.51.100.2 65536 443\r\n",
		"PROXY TCP4 192.0.2.1 198.51.100.2 056 443\r\n",
		"PROXY TCP4 192.0.2.1 198.51.100.2 -1 443\r\n",
		"PROXY TCP4 2001:db8::1 198.51.100.2 1 2\r\n",
		"PROXY TCP6 192.0.2.1 2001:db8::2 1 2\r\n",
		"PROXY TCP4 192.0.2 198.51.100.2 1 2\r\n",
		"PROXY UDP4 192.0.2.1 198.51.100.2 1 2\r\n",
		"PROXY tcp4 192.0.2.1 198.51.100.2 1 2\r\n",
		"PROXY UNKNOWNX\r\n",
		"PROXY \r\n",
		"PROXYTCP4 192.0.2.1 198.51.100.2 1 2\r\n",
		"proxy TCP4 192.0.2.1 198.51.100.2 1 2\r\n",
		"GET / HTTP/1.1\r\n",
		"\x16\x03\x01\x02\x00",
	};
	struct proxy_hdr h;
	char		 longline[200];
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(proxy_parse((const uint8_t *)bad[i],
		    strlen(bad[i]), &h) == PROXY_ERROR, "%zu", i);
	/* No CRLF within 107 bytes. */
	memset(longline, ' ', sizeof(longline));
	memcpy(longline, "PROXY UNKNOWN", 13);
	ck_assert_int_eq(proxy_parse((uint8_t *)longline, 106, &h),
	    PROXY_PARTIAL);
	ck_assert_int_eq(proxy_parse((uint8_t *)longline, 107, &h),
	    PROXY_ERROR);
	/* 107 bytes exactly, CRLF included, is fine. */
	longline[105] = '\r';
	longline[106] = '\n';
	ck_assert_int_eq(proxy_parse((uint8_t *)longline, 107, &h), 107);
}
END_TEST

START_TEST(test_v1_nul_early)
{
	struct proxy_hdr h;

	/* A NUL inside the line is an error without waiting for CRLF. */
	ck_assert_int_eq(proxy_parse((const uint8_t *)"PROXY \0", 7, &h),
	    PROXY_ERROR);
	ck_assert_int_eq(proxy_parse((const uint8_t *)"PRO", 3, &h),
	    PROXY_PARTIAL);
	ck_assert_int_eq(proxy_parse((const uint8_t *)"PRX", 3, &h),
	    PROXY_ERROR);
}
END_TEST

START_TEST(test_v2_inet)
{
	static const uint8_t v4[] = V2SIG "\x21\x11\x00\x0c"
	    "\xc0\x00\x02\x01" "\xc6\x33\x64\x02" "\x16\x2e" "\x01\xbb";
	/* With a TLV (PP2_TYPE_AUTHORITY "ab") after the addresses. */
	static const uint8_t v4tlv[] = V2SIG "\x21\x11\x00\x11"
	    "\xc0\x00\x02\x01" "\xc6\x33\x64\x02" "\x16\x2e" "\x01\xbb"
	    "\x02\x00\x02" "ab";
	struct proxy_hdr h;

	ck_assert_int_eq(parse_all(v4, sizeof(v4) - 1, &h), 28);
	ck_assert_int_eq(h.version, 2);
	ck_assert_int_eq(h.local, 0);
	ck_assert_str_eq(fmt(&h.src), "192.0.2.1");
	ck_assert_str_eq(fmt(&h.dst), "198.51.100.2");
	ck_assert_uint_eq(h.sport, 5678);
	ck_assert_uint_eq(h.dport, 443);
	ck_assert_int_eq(parse_all(v4tlv, sizeof(v4tlv) - 1, &h), 33);
	ck_assert_str_eq(fmt(&h.src), "192.0.2.1");
}
END_TEST

START_TEST(test_v2_inet6)
{
	uint8_t		 b[16 + 36];
	struct proxy_hdr h;

	memcpy(b, V2SIG, 12);
	b[12] = 0x21;
	b[13] = 0x21;			/* AF_INET6, STREAM */
	b[14] = 0;
	b[15] = 36;
	memset(b + 16, 0, 32);
	b[16] = 0x20; b[17] = 0x01; b[18] = 0x0d; b[19] = 0xb8;
	b[31] = 1;
	b[47] = 2;
	b[48] = 0x12; b[49] = 0x34;
	b[50] = 0x00; b[51] = 0x50;
	ck_assert_int_eq(parse_all(b, sizeof(b), &h), 52);
	ck_assert_str_eq(fmt(&h.src), "2001:db8::1");
	ck_assert_str_eq(fmt(&h.dst), "::2");
	ck_assert_uint_eq(h.sport, 0x1234);
	ck_assert_uint_eq(h.dport, 80);
	/* A v4-mapped source is IPv4. */
	memset(b + 16, 0, 16);
	b[26] = b[27] = 0xff;
	b[28] = 10; b[29] = 1; b[30] = 2; b[31] = 3;
	ck_assert_int_eq(proxy_parse(b, sizeof(b), &h), 52);
	ck_assert_int_eq(h.src.family, AF_INET);
	ck_assert_str_eq(fmt(&h.src), "10.1.2.3");
}
END_TEST

START_TEST(test_v2_local_unspec)
{
	static const uint8_t local[] = V2SIG "\x20\x00\x00\x00";
	/* LOCAL with addresses: they are ignored. */
	static const uint8_t local4[] = V2SIG "\x20\x11\x00\x0c"
	    "\xc0\x00\x02\x01" "\xc6\x33\x64\x02" "\x16\x2e" "\x01\xbb";
	static const uint8_t unspec[] = V2SIG "\x21\x00\x00\x00";
	struct proxy_hdr h;
	uint8_t		 unix_[16 + 216];

	ck_assert_int_eq(parse_all(local, sizeof(local) - 1, &h), 16);
	ck_assert_int_eq(h.local, 1);
	ck_assert_int_eq(parse_all(local4, sizeof(local4) - 1, &h), 28);
	ck_assert_int_eq(h.local, 1);
	ck_assert_int_eq(parse_all(unspec, sizeof(unspec) - 1, &h), 16);
	ck_assert_int_eq(h.local, 1);
	memset(unix_, 0, sizeof(unix_));
	memcpy(unix_, V2SIG "\x21\x31\x00\xd8", 16);
	ck_assert_int_eq(parse_all(unix_, sizeof(unix_), &h), 232);
	ck_assert_int_eq(h.local, 1);
}
END_TEST

START_TEST(test_v2_bad)
{
	static const struct {
		const char	*s;
		size_t		 len;
	} bad[] = {
		/* Version 1 in the binary form, version 3. */
		{ V2SIG "\x11\x11\x00\x0c", 16 },
		{ V2SIG "\x31\x11\x00\x0c", 16 },
		/* Command 2. */
		{ V2SIG "\x22\x11\x00\x0c", 16 },
		/* INET with too short an address block. */
		{ V2SIG "\x21\x11\x00\x0b" "\0\0\0\0\0\0\0\0\0\0\0", 27 },
		{ V2SIG "\x21\x21\x00\x0c" "\0\0\0\0\0\0\0\0\0\0\0\0", 28 },
		/* Family 4. */
		{ V2SIG "\x21\x41\x00\x00", 16 },
		/* Longer than we take. */
		{ V2SIG "\x21\x11\xff\xff", 16 },
		/* Signature typo. */
		{ "\r\n\r\n\0\r\nQUIT\r", 12 },
	};
	struct proxy_hdr h;
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(proxy_parse((const uint8_t *)bad[i].s, bad[i].len,
		    &h) == PROXY_ERROR, "%zu", i);
	/* A broken signature is noticed at the first wrong byte. */
	ck_assert_int_eq(proxy_parse((const uint8_t *)"\r\n\r\n\0\r\nX", 8,
	    &h), PROXY_ERROR);
	ck_assert_int_eq(proxy_parse((const uint8_t *)"\r\n\r\n\0\r\n", 7,
	    &h), PROXY_PARTIAL);
}
END_TEST

START_TEST(test_node_parse)
{
	struct cidr_addr a;

	ck_assert_int_eq(proxy_node_parse("192.0.2.1", 9, &a), 0);
	ck_assert_str_eq(fmt(&a), "192.0.2.1");
	ck_assert_int_eq(proxy_node_parse("192.0.2.1:80", 12, &a), 0);
	ck_assert_str_eq(fmt(&a), "192.0.2.1");
	ck_assert_int_eq(proxy_node_parse("2001:db8::1", 11, &a), 0);
	ck_assert_int_eq(proxy_node_parse("[2001:db8::1]", 13, &a), 0);
	ck_assert_str_eq(fmt(&a), "2001:db8::1");
	ck_assert_int_eq(proxy_node_parse("[2001:db8::1]:4711", 18, &a), 0);
	ck_assert_int_eq(proxy_node_parse("[2001:db8::1]:", 14, &a), -1);
	ck_assert_int_eq(proxy_node_parse("[2001:db8::1]x", 14, &a), -1);
	ck_assert_int_eq(proxy_node_parse("[192.0.2.1", 10, &a), -1);
	ck_assert_int_eq(proxy_node_parse("192.0.2.1:x", 11, &a), -1);
	ck_assert_int_eq(proxy_node_parse("unknown", 7, &a), -1);
	ck_assert_int_eq(proxy_node_parse("_hidden", 7, &a), -1);
	ck_assert_int_eq(proxy_node_parse("", 0, &a), -1);
}
END_TEST

/* Runs proxy_forwarded_client on a request head; "" when 0 is returned. */
static const char *
forwarded(const char *headers, const char *trusted)
{
	static char	 out[CIDR_ADDR_STRLEN];
	struct http_request req;
	struct cidr_list l = { NULL, 0 };
	struct cidr_addr a;
	char		 buf[2048], bad[64];
	int		 n;

	snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: x\r\n%s\r\n",
	    headers);
	n = http_parse_request(buf, strlen(buf), sizeof(buf), &req);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(cidr_list_parse(&l, trusted, bad, sizeof(bad)), 0);
	if (proxy_forwarded_client(&req, &l, &a) == 1)
		cidr_addr_format(&a, out);
	else
		out[0] = '\0';
	cidr_list_free(&l);
	return out;
}

START_TEST(test_xff)
{
	const char	*tp = "10.0.0.0/8 ::1";

	ck_assert_str_eq(forwarded("", tp), "");
	ck_assert_str_eq(forwarded("X-Forwarded-For: 203.0.113.5\r\n", tp),
	    "203.0.113.5");
	/* Rightmost untrusted: the spoofed left part is ignored. */
	ck_assert_str_eq(forwarded("X-Forwarded-For: 1.1.1.1, 203.0.113.5, "
	    "10.0.0.2\r\n", tp), "203.0.113.5");
	/* Several header lines are one list. */
	ck_assert_str_eq(forwarded("X-Forwarded-For: 1.1.1.1\r\n"
	    "X-Forwarded-For: 203.0.113.5, 10.1.1.1\r\n"
	    "x-forwarded-for: 10.0.0.3\r\n", tp), "203.0.113.5");
	/* All trusted: the leftmost. */
	ck_assert_str_eq(forwarded("X-Forwarded-For: 10.0.0.9, 10.0.0.2\r\n",
	    tp), "10.0.0.9");
	/* Garbage ends the walk at the last trusted hop. */
	ck_assert_str_eq(forwarded("X-Forwarded-For: 203.0.113.5, bogus, "
	    "10.0.0.2\r\n", tp), "10.0.0.2");
	ck_assert_str_eq(forwarded("X-Forwarded-For: bogus\r\n", tp), "");
	ck_assert_str_eq(forwarded("X-Forwarded-For: ,, 203.0.113.5 ,\r\n",
	    tp), "203.0.113.5");
	ck_assert_str_eq(forwarded("X-Forwarded-For: 2001:db8::7\r\n", tp),
	    "2001:db8::7");
	ck_assert_str_eq(forwarded("X-Forwarded-For: [2001:db8::7]:99, "
	    "::1\r\n", tp), "2001:db8::7");
	/* X-Forwarded-For wins over Forwarded. */
	ck_assert_str_eq(forwarded("Forwarded: for=198.51.100.1\r\n"
	    "X-Forwarded-For: 203.0.113.5\r\n", tp), "203.0.113.5");
}
END_TEST

START_TEST(test_forwarded)
{
	const char	*tp = "10.0.0.0/8";

	ck_assert_str_eq(forwarded("Forwarded: for=192.0.2.60;proto=http;"
	    "by=203.0.113.43\r\n", tp), "192.0.2.60");
	ck_assert_str_eq(forwarded("Forwarded: For=\"[2001:db8:cafe::17]:4711"
	    "\"\r\n", tp), "2001:db8:cafe::17");
	ck_assert_str_eq(forwarded("Forwarded: for=\"192.0.2.43:47011\"\r\n",
	    tp), "192.0.2.43");
	ck_assert_str_eq(forwarded("Forwarded: for=192.0.2.43, "
	    "for=198.51.100.17\r\n", tp), "198.51.100.17");
	ck_assert_str_eq(forwarded("Forwarded: for=192.0.2.43, "
	    "for=10.0.0.1;proto=https\r\n", tp), "192.0.2.43");
	ck_assert_str_eq(forwarded("Forwarded: proto=https;for=192.0.2.43;"
	    "host=\"a,b\"\r\n", tp), "192.0.2.43");
	/* unknown, obfuscated, no for=: the walk stops. */
	ck_assert_str_eq(forwarded("Forwarded: for=unknown\r\n", tp), "");
	ck_assert_str_eq(forwarded("Forwarded: for=192.0.2.43, "
	    "for=_hidden, for=10.0.0.1\r\n", tp), "10.0.0.1");
	ck_assert_str_eq(forwarded("Forwarded: for=192.0.2.43, "
	    "proto=http\r\n", tp), "");
	ck_assert_str_eq(forwarded("Forwarded: for=\"192.0.2.43\r\n", tp),
	    "");
	ck_assert_str_eq(forwarded("Forwarded: for\r\n", tp), "");
	ck_assert_str_eq(forwarded("Forwarded: for=\"\\1\\92.0.2.1\"\r\n",
	    tp), "192.0.2.1");
}
END_TEST

START_TEST(test_random_input)
{
#define S(lit)	{ lit, sizeof(lit) - 1 }
	static const struct {
		const char	*s;
		size_t		 len;
	} starts[] = {
		S(""), S("P"), S("PROXY "), S("PROXY TCP4 "),
		S("PROXY TCP6 ::1 "), S(V2SIG), S(V2SIG "\x21"),
		S(V2SIG "\x21\x11"), S(V2SIG "\x21\x21\x00"),
	};
#undef S
	struct proxy_hdr h;
	uint8_t		*buf;
	size_t		 i, j, len, k;
	unsigned	 seed = 1;
	int		 r;

	/* Whatever follows a plausible start: a result within bounds,
	 * and no read past len (the buffer has the exact size). */
	for (i = 0; i < 20000; i++) {
		k = i % (sizeof(starts) / sizeof(starts[0]));
		len = starts[k].len + (size_t)(rand_r(&seed) % 80);
		ck_assert_ptr_nonnull(buf = malloc(len > 0 ? len : 1));
		memcpy(buf, starts[k].s, starts[k].len);
		for (j = starts[k].len; j < len; j++)
			buf[j] = (uint8_t)(rand_r(&seed) % 4 == 0 ? ' ' :
			    rand_r(&seed));
		r = proxy_parse(buf, len, &h);
		ck_assert_int_ge(r, PROXY_ERROR);
		ck_assert_int_le(r, (int)len);
		free(buf);
	}
}
END_TEST

Suite *
proxy_suite(void)
{
	Suite	*s = suite_create("proxy");
	TCase	*tc = tcase_create("proxy");

	tcase_add_test(tc, test_v1);
	tcase_add_test(tc, test_v1_bad);
	tcase_add_test(tc, test_v1_nul_early);
	tcase_add_test(tc, test_v2_inet);
	tcase_add_test(tc, test_v2_inet6);
	tcase_add_test(tc, test_v2_local_unspec);
	tcase_add_test(tc, test_v2_bad);
	tcase_add_test(tc, test_node_parse);
	tcase_add_test(tc, test_xff);
	tcase_add_test(tc, test_forwarded);
	tcase_add_test(tc, test_random_input);
	suite_add_tcase(s, tc);
	return s;
}
