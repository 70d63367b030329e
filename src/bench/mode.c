/* mode.c -- what each wsd-bench mode sends, expects and counts. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "bench.h"

/* Marks a connection as up. */
static void
mode_ready(struct bconn *c)
{
	if (!c->ready) {
		c->ready = 1;
		bench.nready++;
	}
}

/* 1 while the window counts what arrives. */
static int
mode_counting(void)
{
	return bench.phase == PH_WINDOW;
}

/* 1 while connections keep sending. */
static int
mode_sending(void)
{
	return bench.phase <= PH_WINDOW;
}

/* Writes the 16 hex digits of seq, cut to n bytes, into out. */
static void
mode_seq_hex(uint8_t *out, size_t n, uint64_t seq)
{
	static const char	hex[] = "0123456789abcdef";
	size_t			i;

	for (i = 0; i < n && i < 16; i++)
		out[i] = (uint8_t)hex[(seq >> (60 - 4 * i)) & 0xf];
}

/* Sends the next echo message: the pattern with the sequence in front. */
static int
mode_echo_send(struct bconn *c)
{
	uint8_t		*msg = bench.scratch + bench.scratch_len;
	uint64_t	 seq = c->seq_sent++;

	memcpy(msg, bench.pattern, bench.msg_size);
	mode_seq_hex(msg, bench.msg_size, seq);
	c->sendt[seq % (uint64_t)bench.pipeline] = bench_now();
	return bconn_send(c, WS_OP_TEXT, msg, bench.msg_size);
}

/* Checks one echo against what was sent and keeps the pipeline full. */
static int
mode_echo_message(struct bconn *c, const uint8_t *data, size_t len)
{
	uint8_t		 want[16];
	uint64_t	 now = bench_now(), seq = c->seq_recv;
	size_t		 h = bench.msg_size < 16 ? bench.msg_size : 16;

	if (seq >= c->seq_sent) {
		bconn_drop(c, "echo: a message nobody sent");
		return -1;
	}
	mode_seq_hex(want, h, seq);
	if (len != bench.msg_size || memcmp(data, want, h) != 0 ||
	    memcmp(data + h, bench.pattern + h, len - h) != 0) {
		bconn_drop(c, "echo: payload differs from what was sent");
		return -1;
	}
	c->seq_recv++;
	if (mode_counting()) {
		bench.units++;
		hist_add(&bench.hist, now - c->sendt[seq %
		    (uint64_t)bench.pipeline]);
	}
	if (mode_sending() && mode_echo_send(c) == -1)
		return -1;
	c->deadline = c->seq_recv < c->seq_sent ?
	    now + BENCH_REPLY_TIMEOUT_US : 0;
	return 0;
}

/* Days since 1970-01-01 of a civil date (H. Hinnant's algorithm). */
static int64_t
mode_days(int64_t y, unsigned m, unsigned d)
{
	int64_t		era;
	unsigned	yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/* Reads n digits at p; -1 if one is not a digit. */
static int
mode_digits(const uint8_t *p, int n)
{
	int	v = 0;

	while (n-- > 0) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (*p++ - '0');
	}
	return v;
}

/*
 * Parses an ISO-8601 UTC timestamp, 2026-11-25T12:00:00.123456Z (1 to 9
 * fraction digits), at the start of p into µs since the epoch. Returns the
 * bytes it took, or 0 when p does not start with one.
 */
int
mode_parse_ts(const uint8_t *p, size_t len, uint64_t *us)
{
	int		y, mo, d, h, mi, s, frac = 0, i;
	int64_t		scale = 100000;

	if (len < 21 || p[4] != '-' || p[7] != '-' || p[10] != 'T' ||
	    p[13] != ':' || p[16] != ':' || p[19] != '.')
		return 0;
	if ((y = mode_digits(p, 4)) < 1970 || (mo = mode_digits(p + 5, 2)) <
	    1 || mo > 12 || (d = mode_digits(p + 8, 2)) < 1 || d > 31 ||
	    (h = mode_digits(p + 11, 2)) < 0 || h > 23 ||
	    (mi = mode_digits(p + 14, 2)) < 0 || mi > 59 ||
	    (s = mode_digits(p + 17, 2)) < 0 || s > 60)
		return 0;
	for (i = 20; (size_t)i < len && i < 29 && p[i] >= '0' && p[i] <= '9';
	    i++) {
		frac += (int)((p[i] - '0') * scale);
		scale /= 10;
	}
	if (i == 20 || (size_t)i >= len || p[i] != 'Z')
		return 0;
	*us = (uint64_t)((mode_days(y, (unsigned)mo, (unsigned)d) * 86400 +
	    h * 3600 + mi * 60 + s) * 1000000) + (uint64_t)frac;
	return i + 1;
}

/* A broadcast or relay delivery: timestamp (and sequence) checked. */
static int
mode_broadcast_message(struct bconn *c, const uint8_t *data, size_t len)
{
	uint64_t	 ts, seq = 0, now = bench_realtime();
	size_t		 n, i;

	if (c->publisher)
		return 0;	/* the relay may echo to its sender */
	if ((n = (size_t)mode_parse_ts(data, len, &ts)) == 0) {
		bconn_drop(c, "broadcast: not an ISO-8601 timestamp");
		return -1;
	}
	if (bench.rate > 0) {
		/* relay: "TIMESTAMP SEQ" as the publisher sent it */
		if (n >= len || data[n] != ' ' || n + 1 == len) {
			bconn_drop(c, "relay: no sequence number");
			return -1;
		}
		for (i = n + 1; i < len; i++) {
			if (data[i] < '0' || data[i] > '9') {
				bconn_drop(c, "relay: bad sequence number");
				return -1;
			}
			seq = seq * 10 + (uint64_t)(data[i] - '0');
		}
		if (c->have_seq && seq <= c->last_seq) {
			bconn_drop(c, "relay: message out of order");
			return -1;
		}
		c->have_seq = 1;
		c->last_seq = seq;
	} else if (n != len) {
		bconn_drop(c, "broadcast: text after the timestamp");
		return -1;
	}
	/* Count by send time, so every subscriber counts the same ticks. */
	if ((bench.phase == PH_WINDOW || bench.phase == PH_GRACE) &&
	    ts >= bench.rt_win_start && (bench.phase == PH_WINDOW ||
	    ts < bench.rt_win_end)) {
		bench.units++;
		c->wcount++;
		hist_add(&bench.hist, now > ts ? now - ts : 0);
	}
	return 0;
}

/* A counter event: {"type":"users","count":N} or {"type":"value",...}. */
static int
mode_counter_message(struct bconn *c, const uint8_t *data, size_t len)
{
	json_t		*root, *type, *n;
	const char	*t;
	int		 ok = 0, value = 0;

	if ((root = json_loadb((const char *)data, len, 0, NULL)) != NULL &&
	    json_is_object(root) &&
	    (type = json_object_get(root, "type")) != NULL &&
	    (t = json_string_value(type)) != NULL) {
		if (strcmp(t, "users") == 0)
			ok = (n = json_object_get(root, "count")) != NULL &&
			    json_is_integer(n) && json_integer_value(n) >= 0;
		else if (strcmp(t, "value") == 0) {
			ok = value = (n = json_object_get(root, "value")) !=
			    NULL && json_is_integer(n);
			if (ok)
				c->last_value = json_integer_value(n);
		}
	}
	json_decref(root);
	if (!ok) {
		bconn_drop(c, "counter: not a users or value event");
		return -1;
	}
	if (value && mode_counting()) {
		bench.units++;
		if (c->plus_t != 0)
			hist_add(&bench.hist, bench_now() - c->plus_t);
	}
	if (value)
		c->plus_t = 0;
	return 0;
}

/* hello: the greeting must name us; then the server closes. */
static int
mode_hello_message(struct bconn *c, const uint8_t *data, size_t len)
{
	char	want[48];
	int	n;

	n = snprintf(want, sizeof(want), "Hello bench-%d!", c->idx);
	if (len != (size_t)n || memcmp(data, want, len) != 0) {
		bconn_drop(c, "hello: unexpected greeting");
		return -1;
	}
	c->have_seq = 1;	/* greeted: the server's close is expected */
	return 0;
}

/* A connection finished its handshake. */
void
mode_open(struct bconn *c)
{
	uint64_t	now = bench_now();
	char		name[32];
	int		n;

	switch (bench.mode) {
	case MODE_CONNECT:
		if (mode_counting())
			hist_add(&bench.hist, now - c->t_start);
		c->have_seq = 0;
		if (bench.hello) {
			n = snprintf(name, sizeof(name), "bench-%d", c->idx);
			c->deadline = now + BENCH_REPLY_TIMEOUT_US;
			bconn_send(c, WS_OP_TEXT, (uint8_t *)name, (size_t)n);
		} else
			bconn_send_close(c, WS_CLOSE_NORMAL);
		mode_ready(c);
		break;
	case MODE_ECHO:
		/* Traffic starts with the ramp: connecting goes faster
		   without it. */
		mode_ready(c);
		break;
	case MODE_IDLE:
		hist_add(&bench.hist, now - c->t_start);
		if (bench.deflate) {
			/* One message each way: both zlib streams exist. */
			c->deadline = now + BENCH_REPLY_TIMEOUT_US;
			bconn_send(c, WS_OP_TEXT, (const uint8_t *)"idle", 4);
		} else
			mode_ready(c);
		break;
	case MODE_BROADCAST:
	case MODE_COUNTER:
		mode_ready(c);
		break;
	}
}

/* The ramp begins: echo connections fill their pipelines. */
void
mode_start(void)
{
	struct bconn	*c;
	uint64_t	 now = bench_now();
	int		 i, j;

	if (bench.mode != MODE_ECHO)
		return;
	for (i = 0; i < bench.nc; i++) {
		c = &bench.c[i];
		if (c->st != BC_OPEN)
			continue;
		for (j = 0; j < bench.pipeline; j++)
			if (mode_echo_send(c) == -1)
				break;
		if (c->st != BC_OPEN)
			continue;
		c->deadline = now + BENCH_REPLY_TIMEOUT_US;
		bconn_flush(c);
	}
}

/* A whole message from the server; -1 once c was dropped. */
int
mode_message(struct bconn *c, int opcode, const uint8_t *data, size_t len)
{
	(void)opcode;
	if (bench.phase == PH_TEARDOWN)
		return 0;
	switch (bench.mode) {
	case MODE_CONNECT:
		if (!bench.hello || c->have_seq) {
			bconn_drop(c, "connect: unexpected message");
			return -1;
		}
		return mode_hello_message(c, data, len);
	case MODE_ECHO:
		return mode_echo_message(c, data, len);
	case MODE_BROADCAST:
		return mode_broadcast_message(c, data, len);
	case MODE_COUNTER:
		return mode_counter_message(c, data, len);
	case MODE_IDLE:
		if (!c->ready) {
			c->deadline = 0;
			mode_ready(c);
		}
		return 0;
	}
	return 0;
}

/* 1 if the server may start the closing handshake now. */
int
mode_server_close_ok(struct bconn *c)
{
	if (bench.phase == PH_TEARDOWN)
		return 1;
	return bench.mode == MODE_CONNECT && bench.hello && c->have_seq;
}

/* A connection ended; clean: after a complete closing handshake. */
void
mode_closed(struct bconn *c, int clean)
{
	if (bench.mode != MODE_CONNECT || bench.phase > PH_WINDOW)
		return;
	if (clean && mode_counting())
		bench.units++;
	/* A worker starts over at once after a good cycle; after a failure
	   it waits for the next tick, so a refusing server is not spun on. */
	if (clean)
		bconn_start(c);
}

/* The pacer: counter pluses and relay publications at -r per second. */
void
mode_pace(uint64_t now)
{
	static const uint8_t	 plus[] = "{\"action\":\"plus\"}";
	struct bconn		*c;
	char			 msg[64];
	uint64_t		 due, rt;
	time_t			 secs;
	struct tm		 tm;
	int			 n, tries;

	if (!mode_sending())
		return;
	due = (uint64_t)((double)(now - bench.t_pace_start) * bench.rate /
	    1e6) - bench.paced;
	if (due > 1000)
		due = 1000;	/* the loop fell behind: do not burst */
	if (bench.mode == MODE_BROADCAST) {
		c = &bench.c[bench.conns];
		for (; due > 0 && c->st == BC_OPEN; due--) {
			rt = bench_realtime();
			secs = (time_t)(rt / 1000000);
			gmtime_r(&secs, &tm);
			n = (int)strftime(msg, sizeof(msg), "%Y-%m-%dT%H:%M:%S",
			    &tm);
			n += snprintf(msg + n, sizeof(msg) - (size_t)n,
			    ".%06uZ %" PRIu64, (unsigned)(rt % 1000000),
			    bench.pub_seq++);
			if (bconn_send(c, WS_OP_TEXT, (uint8_t *)msg,
			    (size_t)n) == -1)
				return;
			bench.paced++;
			if (rt >= bench.rt_win_start && bench.phase ==
			    PH_WINDOW)
				bench.published++;
		}
		bench.paced += due;	/* publisher gone: skip them */
		if (c->st == BC_OPEN)
			bconn_flush(c);
		return;
	}
	for (; due > 0; due--) {
		c = NULL;
		for (tries = 0; tries < bench.conns; tries++) {
			c = &bench.c[bench.rr];
			bench.rr = (bench.rr + 1) % bench.conns;
			if (c->st == BC_OPEN)
				break;
		}
		bench.paced++;
		if (c == NULL || c->st != BC_OPEN)
			continue;
		if (c->plus_t == 0)
			c->plus_t = now;
		if (bconn_send(c, WS_OP_TEXT, plus, sizeof(plus) - 1) == 0)
			bconn_flush(c);
	}
}

/* Starts the closing handshake on every connection. */
void
mode_teardown(void)
{
	struct bconn	*c;
	int		 i;

	for (i = 0; i < bench.nc; i++) {
		c = &bench.c[i];
		if (c->st == BC_OPEN) {
			bconn_send_close(c, WS_CLOSE_NORMAL);
			bconn_flush(c);
		} else if (c->st != BC_DEAD && c->st != BC_CLOSING &&
		    c->st != BC_DRAIN)
			bconn_drop(c, NULL);
	}
}

/*
 * After the window: broadcast losses. Every subscriber should have had
 * what the best one had (relay: what was published in the window).
 */
void
mode_finish(void)
{
	uint64_t	 best = 0;
	int		 i;

	if (bench.mode != MODE_BROADCAST)
		return;
	for (i = 0; i < bench.conns; i++)
		if (bench.c[i].wcount > best)
			best = bench.c[i].wcount;
	if (bench.rate > 0)
		best = bench.published;
	bench.losses = 0;
	for (i = 0; i < bench.conns; i++)
		if (bench.c[i].ready && bench.c[i].wcount < best)
			bench.losses += best - bench.c[i].wcount;
}
