/* check_stats.c -- unit tests for the counters and their exposition. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "hub.h"
#include "stats.h"
#include "suites.h"

/* Formats st with routes into a NUL-terminated string (caller frees). */
static char *
stats_text(const struct stats *st, const struct stats_route_view *v,
    size_t n)
{
	struct evbuffer		*out = evbuffer_new();
	struct stats_gauges	 g = { 3, 4096, 1000, "1.2\"3", 7 };
	size_t			 len;
	char			*s;

	ck_assert_ptr_nonnull(out);
	stats_format(out, st, &g, v, n);
	len = evbuffer_get_length(out);
	s = malloc(len + 1);
	ck_assert_ptr_nonnull(s);
	evbuffer_remove(out, s, len);
	s[len] = '\0';
	evbuffer_free(out);
	return s;
}

/* Whether text holds line as a whole line. */
static int
has_line(const char *text, const char *line)
{
	const char	*p = text;
	size_t		 n = strlen(line);

	while ((p = strstr(p, line)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return 1;
		p++;
	}
	return 0;
}

/* A metric or label name: [a-zA-Z_:][a-zA-Z0-9_:]*; returns its length. */
static size_t
name_len(const char *s)
{
	size_t	i = 0;

	if (!isalpha((unsigned char)s[0]) && s[0] != '_' && s[0] != ':')
		return 0;
	while (isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == ':')
		i++;
	return i;
}

/*
 * Checks the text format line by line: HELP then TYPE before a family's
 * samples, valid names and labels, counters named *_total, one family
 * never split. Returns the number of samples.
 */
static int
check_format(char *text)
{
	char	 family[128] = "", type[16] = "";
	char	*line, *save = NULL, *p;
	size_t	 n;
	int	 samples = 0;

	ck_assert_msg(text[strlen(text) - 1] == '\n', "no final newline");
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "# HELP ", 7) == 0) {
			n = name_len(line + 7);
			ck_assert_msg(n > 0 && n < sizeof(family), "%s", line);
			ck_assert_msg(strncmp(line + 7, "wsd_", 4) == 0, "%s",
			    line);
			ck_assert_msg(strncmp(family, line + 7, n) != 0 ||
			    family[n] != '\0', "family repeated: %s", line);
			memcpy(family, line + 7, n);
			family[n] = '\0';
			type[0] = '\0';
			continue;
		}
		if (strncmp(line, "# TYPE ", 7) == 0) {
			n = strlen(family);
			ck_assert_msg(n > 0 && strncmp(line + 7, family, n) == 0 &&
			    line[7 + n] == ' ', "TYPE without HELP: %s", line);
			p = line + 8 + n;
			ck_assert_msg(strcmp(p, "counter") == 0 ||
			    strcmp(p, "gauge") == 0, "%s", line);
			snprintf(type, sizeof(type), "%s", p);
			if (strcmp(type, "counter") == 0)
				ck_assert_msg(n > 6 &&
				    strcmp(family + n - 6, "_total") == 0,
				    "counter not *_total: %s", family);
			continue;
		}
		ck_assert_msg(line[0] != '#', "stray comment %s", line);
		ck_assert_msg(type[0] != '\0', "sample before TYPE: %s", line);
		n = strlen(family);
		ck_assert_msg(strncmp(line, family, n) == 0 &&
		    (line[n] == ' ' || line[n] == '{'),
		    "sample %s outside its family %s", line, family);
		p = line + n;
		if (*p == '{') {
			p++;
			while (*p != '}') {
				n = name_len(p);
				ck_assert_msg(n > 0 && p[n] == '=' &&
				    p[n + 1] == '"', "bad label in %s", line);
				for (p += n + 2; *p != '"'; p++) {
					ck_assert_msg(*p != '\0', "%s", line);
					if (*p == '\\') {
						p++;
						ck_assert_msg(*p == '\\' ||
						    *p == '"' || *p == 'n',
						    "bad escape in %s", line);
					}
				}
				p++;
				if (*p == ',')
					p++;
				else
					ck_assert_msg(*p == '}', "%s", line);
			}
			p++;
		}
		ck_assert_msg(*p == ' ' && isdigit((unsigned char)p[1]),
		    "bad value in %s", line);
		for (p++; *p != '\0'; p++)
			ck_assert_msg(isdigit((unsigned char)*p), "%s", line);
		samples++;
	}
	return samples;
}

START_TEST(test_close_codes)
{
	struct stats	 st;
	char		*s;

	stats_init(&st, 900);
	stats_close(&st, 1000);
	stats_close(&st, 1000);
	stats_close(&st, 1011);
	stats_close(&st, 4000);
	stats_close(&st, 0);
	stats_close(&st, 1004);
	stats_http(&st, 200);
	stats_http(&st, 404);
	stats_http(&st, 426);
	stats_http(&st, 600);		/* ignored */
	stats_http(&st, 99);		/* ignored */
	s = stats_text(&st, NULL, 0);
	ck_assert(has_line(s, "wsd_websocket_closes_total{code=\"1000\"} 2"));
	ck_assert(has_line(s, "wsd_websocket_closes_total{code=\"1011\"} 1"));
	ck_assert(has_line(s, "wsd_websocket_closes_total{code=\"1001\"} 0"));
	ck_assert(has_line(s, "wsd_websocket_closes_total{code=\"other\"} 3"));
	ck_assert(has_line(s, "wsd_uptime_seconds 100"));
	ck_assert(has_line(s, "wsd_http_responses_total{class=\"2xx\"} 1"));
	ck_assert(has_line(s, "wsd_http_responses_total{class=\"4xx\"} 2"));
	ck_assert(has_line(s, "wsd_http_responses_total{class=\"5xx\"} 0"));
	ck_assert(has_line(s, "wsd_http_responses_total{class=\"1xx\"} 0"));
	ck_assert(has_line(s, "wsd_start_time_seconds 900"));
	free(s);
}
END_TEST

START_TEST(test_hs_reasons)
{
	struct stats	 st;
	char		*s, line[128];
	int		 i, j;

	stats_init(&st, 0);
	for (i = 0; i < STATS_HS_MAX; i++) {
		ck_assert_uint_eq(name_len(stats_hs_name(i)),
		    strlen(stats_hs_name(i)));
		for (j = 0; j < i; j++)
			ck_assert_str_ne(stats_hs_name(i), stats_hs_name(j));
		for (j = 0; j <= i; j++)
			stats_hs_fail(&st, i);
	}
	stats_hs_fail(&st, STATS_HS_MAX);	/* ignored */
	ck_assert_str_eq(stats_hs_name(STATS_HS_MAX), "unknown");
	ck_assert_str_eq(stats_hs_name(STATS_HS_TOO_MANY), "too_many");
	s = stats_text(&st, NULL, 0);
	for (i = 0; i < STATS_HS_MAX; i++) {
		snprintf(line, sizeof(line), "wsd_handshake_failures_total"
		    "{reason=\"%s\"} %d", stats_hs_name(i), i + 1);
		ck_assert_msg(has_line(s, line), "missing %s", line);
	}
	free(s);
}
END_TEST

START_TEST(test_format_valid)
{
	struct stats		 st;
	struct stats_route	 r1 = { .msgs_in = 5, .msgs_out = 7,
				    .bytes_in = 50, .bytes_out = 70,
				    .ticks_skipped = 8, .backend = 1,
				    .backend_total = 3, .backend_failed = 2,
				    .backend_bytes_out = 9 };
	struct stats_route	 r2 = { .msgs_in = 1, .msgs_out = 2,
				    .bytes_in = 3, .bytes_out = 4 };
	struct hub_stats	 h = { 10, 20, 3, 4, 5 };
	struct stats_route_view	 v[3] = {
		{ "/echo", &r1, NULL, 0, NULL, NULL, 0 },
		{ "/odd\"\\\npath", &r2, &h, 6, NULL, NULL, 0 },
		{ "/echo", &r2, NULL, 0, "a.test", NULL, 0 },
	};
	char			*s;

	stats_init(&st, 0);
	st.conns_total = 9;
	st.ws_total = 4;
	st.ws_current = 2;
	st.tls_current = 1;
	st.out_paused = 11;
	st.tls_refused = 13;
	s = stats_text(&st, v, 3);
	ck_assert(has_line(s, "wsd_connections{kind=\"http\"} 1"));
	ck_assert(has_line(s, "wsd_connections{kind=\"websocket\"} 2"));
	ck_assert(has_line(s, "wsd_connections{kind=\"tls\"} 1"));
	ck_assert(has_line(s, "wsd_connections_total{kind=\"http\"} 9"));
	ck_assert(has_line(s, "wsd_tls_refused_total 13"));
	ck_assert(has_line(s, "wsd_build_info{version=\"1.2\\\"3\"} 1"));
	ck_assert(has_line(s, "wsd_process_resident_memory_bytes 4096"));
	ck_assert(has_line(s, "wsd_output_limit_total{action=\"pause\"} 11"));
	ck_assert(has_line(s, "wsd_output_limit_total{action=\"close\"} 0"));
	ck_assert(has_line(s, "wsd_messages_received_total{route=\"/echo\"} 5"));
	/* Issue 16: a route limited to hosts has a host label. */
	ck_assert(has_line(s, "wsd_messages_received_total{route=\"/echo\","
	    "host=\"a.test\"} 1"));
	ck_assert(has_line(s, "wsd_sent_bytes_total{route=\"/echo\"} 70"));
	ck_assert(has_line(s, "wsd_timer_ticks_skipped_total{route=\"/echo\"} 8"));
	/* Backend samples for a proxy route only. */
	ck_assert(has_line(s, "wsd_backend_connections_total{route=\"/echo\"} 3"));
	ck_assert(has_line(s, "wsd_backend_connect_failures_total"
	    "{route=\"/echo\"} 2"));
	ck_assert(has_line(s, "wsd_backend_sent_bytes_total{route=\"/echo\"} 9"));
	ck_assert_ptr_null(strstr(s, "wsd_backend_connections{route=\"/odd"));
	/* No hub: no hub samples for /echo. */
	ck_assert_ptr_null(strstr(s, "wsd_hub_members{route=\"/echo\"}"));
	ck_assert(has_line(s, "wsd_hub_members{route=\"/odd\\\"\\\\\\npath\"} 6"));
	ck_assert(has_line(s, "wsd_slow_client_total{route=\"/odd\\\"\\\\\\npath\""
	    ",action=\"close\"} 5"));
	ck_assert(has_line(s, "wsd_slow_client_total{route=\"/odd\\\"\\\\\\npath\""
	    ",action=\"conflate\"} 4"));
	ck_assert(has_line(s, "wsd_hub_delivered_total{route=\"/odd\\\"\\\\\\npath\""
	    "} 20"));
	ck_assert_int_gt(check_format(s), 40);
	free(s);
}
END_TEST

START_TEST(test_rss)
{
	ck_assert(stats_rss() > 0);
}
END_TEST

Suite *
stats_suite(void)
{
	Suite	*s = suite_create("stats");
	TCase	*tc = tcase_create("stats");

	tcase_add_test(tc, test_close_codes);
	tcase_add_test(tc, test_hs_reasons);
	tcase_add_test(tc, test_format_valid);
	tcase_add_test(tc, test_rss);
	suite_add_tcase(s, tc);
	return s;
}
