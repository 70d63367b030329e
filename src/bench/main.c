/* main.c -- wsd-bench: options, the run's phases and the report. */
#include <sys/resource.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/rand.h>

#include "bench.h"

/* Descriptors beyond the connections: stdio, the loop, /proc reads. */
#define BENCH_SPARE_FDS	16

struct bench	bench;
static uint64_t	rng_state;

/* Monotonic clock in µs. */
uint64_t
bench_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Wall clock in µs, as the server's timestamps are. */
uint64_t
bench_realtime(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* xorshift64*: masks and keys need to be unpredictable to nobody here,
   only well spread; the seed comes from OpenSSL. */
uint64_t
bench_rand(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

/* Counts an error; the first one is kept for the report. */
void
bench_error(struct bconn *c, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	if (bench.phase == PH_TEARDOWN)
		return;
	bench.errors++;
	if (bench.first_error[0] != '\0')
		return;
	n = snprintf(bench.first_error, sizeof(bench.first_error),
	    "connection %d: ", c->idx);
	va_start(ap, fmt);
	vsnprintf(bench.first_error + n, sizeof(bench.first_error) - (size_t)n,
	    fmt, ap);
	va_end(ap);
}

/* Prints the usage and exits 2 (0 and on stdout for --help). */
static void __attribute__((noreturn))
usage(const char *why)
{
	FILE	*f = why != NULL && *why == '\0' ? stdout : stderr;

	if (why != NULL && *why != '\0')
		fprintf(stderr, "wsd-bench: %s\n", why);
	fprintf(f,
	    "usage: wsd-bench connect|echo|broadcast|counter|idle [-c N] "
	    "[-d SECONDS]\n"
	    "                 [--ramp SECONDS] [-s BYTES] [-p N] [-r RATE] "
	    "[--period MS]\n"
	    "                 [--publish-port PORT]\n"
	    "                 [--hello] [--deflate] [--source ADDR[,ADDR...]] "
	    "[--server-pid PID]\n"
	    "                 [--cafile FILE] [--json] URL\n");
	exit(f == stdout ? 0 : 2);
}

/* Parses a number in [min, max] or exits 2. */
static double
opt_num(const char *name, const char *s, double min, double max)
{
	char	*end;
	double	 v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !isfinite(v) ||
	    v < min || v > max) {
		fprintf(stderr, "wsd-bench: %s: bad value \"%s\" (%g to %g)\n",
		    name, s, min, max);
		exit(2);
	}
	return v;
}

/* Parses --source: comma-separated addresses to bind connections to. */
static void
opt_sources(const char *s)
{
	char	*copy, *tok, *save;
	struct sockaddr_in	*in4;
	struct sockaddr_in6	*in6;

	if ((copy = strdup(s)) == NULL)
		exit(1);
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		bench.sources = reallocarray(bench.sources,
		    (size_t)bench.nsources + 1, sizeof(*bench.sources));
		if (bench.sources == NULL)
			exit(1);
		memset(&bench.sources[bench.nsources], 0,
		    sizeof(*bench.sources));
		in4 = (struct sockaddr_in *)&bench.sources[bench.nsources];
		in6 = (struct sockaddr_in6 *)&bench.sources[bench.nsources];
		if (inet_pton(AF_INET, tok, &in4->sin_addr) == 1)
			in4->sin_family = AF_INET;
		else if (inet_pton(AF_INET6, tok, &in6->sin6_addr) == 1)
			in6->sin6_family = AF_INET6;
		else {
			fprintf(stderr, "wsd-bench: --source: bad address "
			    "\"%s\"\n", tok);
			exit(2);
		}
		bench.nsources++;
	}
	free(copy);
	if (bench.nsources == 0)
		usage("--source: no address");
}

/* Splits ws://HOST[:PORT][/PATH] and resolves HOST. */
static void
parse_url(const char *url)
{
	struct addrinfo	 hints, *res;
	const char	*p, *hs, *he, *slash;
	char		 port[8];
	int		 rc;
	long		 pn;

	if (strncmp(url, "ws://", 5) == 0)
		p = url + 5;
	else if (strncmp(url, "wss://", 6) == 0) {
		p = url + 6;
		bench.tls = 1;
	} else
		usage("the URL must start with ws:// or wss://");
	slash = p + strcspn(p, "/");
	if (*p == '[') {
		hs = p + 1;
		if ((he = memchr(hs, ']', (size_t)(slash - hs))) == NULL)
			usage("bad [IPv6] host in the URL");
		p = he + 1;
	} else {
		hs = p;
		he = p + strcspn(p, ":/");
		p = he;
	}
	if (he == hs)
		usage("no host in the URL");
	snprintf(port, sizeof(port), "%d", bench.tls ? 443 : 80);
	if (*p == ':') {
		pn = strtol(p + 1, NULL, 10);
		if (pn < 1 || pn > 65535 || (size_t)(slash - p - 1) !=
		    strspn(p + 1, "0123456789"))
			usage("bad port in the URL");
		snprintf(port, sizeof(port), "%ld", pn);
	} else if (p != slash)
		usage("bad URL");
	bench.host = strndup(hs, (size_t)(he - hs));
	bench.hostport = strndup(url + (bench.tls ? 6 : 5),
	    (size_t)(slash - url - (bench.tls ? 6 : 5)));
	bench.path = strdup(*slash ? slash : "/");
	if (bench.host == NULL || bench.hostport == NULL || bench.path == NULL)
		exit(1);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(bench.host, port, &hints, &res)) != 0) {
		fprintf(stderr, "wsd-bench: %s: %s\n", bench.host,
		    gai_strerror(rc));
		exit(1);
	}
	memcpy(&bench.addr, res->ai_addr, res->ai_addrlen);
	bench.addrlen = res->ai_addrlen;
	freeaddrinfo(res);
}

/* Reads the command line into bench; exits 2 on bad usage. */
static void
parse_args(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "cafile", required_argument, NULL, 'A' },
		{ "deflate", no_argument, NULL, 'D' },
		{ "hello", no_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'J' },
		{ "period", required_argument, NULL, 'P' },
		{ "publish-port", required_argument, NULL, 'U' },
		{ "ramp", required_argument, NULL, 'R' },
		{ "server-pid", required_argument, NULL, 'S' },
		{ "source", required_argument, NULL, 'O' },
		{ NULL, 0, NULL, 0 }
	};
	static const char *const modes[] = {
		[MODE_CONNECT] = "connect", [MODE_ECHO] = "echo",
		[MODE_BROADCAST] = "broadcast", [MODE_COUNTER] = "counter",
		[MODE_IDLE] = "idle",
	};
	int	ch, i, got_size = 0, got_pipe = 0;

	bench.conns = 100;
	bench.duration = 10;
	bench.ramp = 1;
	bench.msg_size = 64;
	bench.pipeline = 1;
	while ((ch = getopt_long(argc, argv, "c:d:hp:r:s:", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			bench.conns = (int)opt_num("-c", optarg, 1, 1000000);
			break;
		case 'd':
			bench.duration = opt_num("-d", optarg, 0.01, 86400);
			break;
		case 'p':
			bench.pipeline = (int)opt_num("-p", optarg, 1, 4096);
			got_pipe = 1;
			break;
		case 'r':
			bench.rate = opt_num("-r", optarg, 0.001, 10000000);
			break;
		case 's':
			bench.msg_size = (size_t)opt_num("-s", optarg, 0,
			    16 << 20);
			got_size = 1;
			break;
		case 'A':
			bench.cafile = optarg;
			break;
		case 'D':
			bench.deflate = 1;
			break;
		case 'H':
			bench.hello = 1;
			break;
		case 'J':
			bench.json = 1;
			break;
		case 'O':
			opt_sources(optarg);
			break;
		case 'P':
			bench.period_ms = opt_num("--period", optarg, 0.001,
			    86400000);
			break;
		case 'U':
			bench.publish_port = (int)opt_num("--publish-port",
			    optarg, 1, 65535);
			break;
		case 'R':
			bench.ramp = opt_num("--ramp", optarg, 0, 3600);
			break;
		case 'S':
			bench.server_pid = (long)opt_num("--server-pid", optarg,
			    1, 4194304);
			break;
		case 'h':
			usage("");
		default:
			usage(NULL);
		}
	}
	if (argc - optind != 2)
		usage(argc - optind < 2 ? "a mode and a URL are needed" :
		    "too many arguments");
	for (i = 0; i <= MODE_IDLE; i++)
		if (strcmp(argv[optind], modes[i]) == 0)
			break;
	if (i > MODE_IDLE)
		usage("unknown mode");
	bench.mode = (enum bench_mode)i;
	bench.mode_name = modes[i];
	bench.url = argv[optind + 1];
	if ((got_size || got_pipe) && bench.mode != MODE_ECHO)
		usage("-s and -p are for echo");
	if (bench.hello && bench.mode != MODE_CONNECT)
		usage("--hello is for connect");
	if (bench.period_ms > 0 && bench.mode != MODE_BROADCAST)
		usage("--period is for broadcast");
	if (bench.rate > 0 && bench.mode != MODE_BROADCAST &&
	    bench.mode != MODE_COUNTER)
		usage("-r is for broadcast (relay) and counter");
	if (bench.publish_port != 0 && (bench.mode != MODE_BROADCAST ||
	    bench.rate == 0))
		usage("--publish-port is for broadcast with -r");
	if (bench.mode == MODE_COUNTER && bench.rate == 0)
		bench.rate = 100;
	if (bench.mode == MODE_IDLE && bench.server_pid == 0)
		usage("idle needs --server-pid");
	parse_url(bench.url);
}

/* Raises RLIMIT_NOFILE to the hard limit; exits 2 if that is too few. */
static void
raise_nofile(void)
{
	struct rlimit	rl;
	rlim_t		need = (rlim_t)bench.conns + 1 + BENCH_SPARE_FDS;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1) {
		fprintf(stderr, "wsd-bench: getrlimit: %s\n", strerror(errno));
		exit(1);
	}
	if (rl.rlim_max != RLIM_INFINITY && need > rl.rlim_max) {
		fprintf(stderr, "wsd-bench: %d connections need %llu open "
		    "files, over the limit of %llu (RLIMIT_NOFILE hard limit; "
		    "raise it with ulimit -n)\n", bench.conns,
		    (unsigned long long)need, (unsigned long long)rl.rlim_max);
		exit(2);
	}
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
}

/* The process's own user + system CPU in seconds. */
static double
self_cpu(void)
{
	struct rusage	ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* Samples the server, if there is one to sample. */
static void
sample_server(struct proc_sample *s)
{
	if (bench.server_pid != 0 && proc_sample(bench.server_pid, s) == -1)
		fprintf(stderr, "wsd-bench: cannot read /proc/%ld\n",
		    bench.server_pid);
}

static void	phase_timer_cb(evutil_socket_t, short, void *);

/* Arms the phase timer for us microseconds. */
static void
phase_after(uint64_t us)
{
	struct timeval	tv;

	tv.tv_sec = (time_t)(us / 1000000);
	tv.tv_usec = (suseconds_t)(us % 1000000);
	evtimer_add(bench.phase_timer, &tv);
}

/* Everything is up: wait --ramp, with the pacer running. */
static void
enter_ramp(void)
{
	struct timeval	tv;
	double		iv;

	bench.phase = PH_RAMP;
	mode_start();
	if (bench.rate > 0) {
		/* Ticks of 1 to 10 ms: fine enough to keep the rate even. */
		iv = 1e6 / bench.rate;
		iv = iv < 1000 ? 1000 : iv > 10000 ? 10000 : iv;
		tv.tv_sec = 0;
		tv.tv_usec = (suseconds_t)iv;
		bench.t_pace_start = bench_now();
		event_add(bench.pacer, &tv);
	}
	phase_after((uint64_t)(bench.ramp * 1e6));
}

/* The measurement window opens. */
static void
enter_window(void)
{
	int	i;

	bench.phase = PH_WINDOW;
	sample_server(&bench.srv_start);
	bench.cli_cpu_start = self_cpu();
	bench.units = 0;
	bench.losses = 0;
	bench.published = 0;
	if (bench.mode != MODE_IDLE)
		hist_reset(&bench.hist);
	for (i = 0; i < bench.nc; i++)
		bench.c[i].wcount = 0;
	bench.t_win_start = bench_now();
	bench.rt_win_start = bench_realtime();
	phase_after((uint64_t)(bench.duration * 1e6));
}

/* Closes every connection and gives them a bounded time to finish. */
static void
enter_teardown(void)
{
	bench.phase = PH_TEARDOWN;
	if (bench.rate > 0)
		event_del(bench.pacer);
	mode_teardown();
	if (bench.nalive == 0)
		event_base_loopbreak(bench.base);
	else
		phase_after(BENCH_TEARDOWN_US);
}

/* The window closes: sample, then (broadcast) wait for late deliveries. */
static void
end_window(void)
{
	bench.t_win_end = bench_now();
	bench.rt_win_end = bench_realtime();
	sample_server(&bench.srv_end);
	bench.cli_cpu_end = self_cpu();
	if (bench.mode == MODE_IDLE)
		bench.units = (uint64_t)bench.nready;
	if (bench.mode == MODE_BROADCAST) {
		bench.phase = PH_GRACE;
		if (bench.rate > 0)
			event_del(bench.pacer);
		phase_after(BENCH_GRACE_US);
	} else
		enter_teardown();
}

/* The phase timer: ramp → window → (grace) → teardown → done. */
static void
phase_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	switch (bench.phase) {
	case PH_CONNECT:
		break;
	case PH_RAMP:
		enter_window();
		break;
	case PH_WINDOW:
		end_window();
		break;
	case PH_GRACE:
		enter_teardown();
		break;
	case PH_TEARDOWN:
		event_base_loopbreak(bench.base);
		break;
	}
}

/* Opens connections while fewer than BENCH_MAX_PENDING are in progress. */
void
bench_launch(void)
{
	static int	busy;

	if (bench.phase != PH_CONNECT || busy)
		return;
	busy = 1;
	while (bench.launched < bench.nc && bench.pending < BENCH_MAX_PENDING)
		bconn_start(&bench.c[bench.launched++]);
	busy = 0;
}

/* The run's clock: deadlines, launching, restarts, progress, phase ends. */
static void
ticker_cb(evutil_socket_t fd, short what, void *arg)
{
	static uint64_t	 last_progress;
	static const char *const names[] = { "connecting", "ramp", "window",
	    "grace", "teardown" };
	uint64_t	 now = bench_now();
	int		 i;

	(void)fd;
	(void)what;
	(void)arg;
	for (i = 0; i < bench.nc; i++)
		bconn_check_deadline(&bench.c[i], now);
	if (bench.phase == PH_CONNECT) {
		bench_launch();
		if (bench.mode != MODE_CONNECT &&
		    now - bench.t_begin > BENCH_CONNECT_PHASE_US)
			for (i = 0; i < bench.nc; i++)
				if (!bench.c[i].ready)
					bconn_drop(&bench.c[i],
					    "not up before the connect phase "
					    "ended");
		if (bench.launched == bench.nc && (bench.mode ==
		    MODE_CONNECT || bench.nready == bench.nalive)) {
			if (bench.nalive == 0 && bench.mode != MODE_CONNECT) {
				/* Nothing came up: report the failure. */
				end_window();
				return;
			}
			enter_ramp();
		}
	}
	if (bench.mode == MODE_CONNECT && bench.phase <= PH_WINDOW)
		for (i = 0; i < bench.nc; i++)
			if (bench.c[i].st == BC_DEAD && i < bench.launched)
				bconn_start(&bench.c[i]);
	if (bench.phase == PH_TEARDOWN && bench.nalive == 0)
		event_base_loopbreak(bench.base);
	if (bench.progress && now - last_progress >= 500000) {
		last_progress = now;
		fprintf(stderr, "\r%-10s up %d/%d  units %" PRIu64
		    "  errors %" PRIu64 "   ", names[bench.phase], bench.nready,
		    bench.nc, bench.units, bench.errors);
	}
}

/* The pacer's tick. */
static void
pacer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	mode_pace(bench_now());
}

/* Sets up TLS for wss:// (no verification unless --cafile). */
static void
setup_tls(void)
{
	if ((bench.ssl_ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		fprintf(stderr, "wsd-bench: SSL_CTX_new failed\n");
		exit(1);
	}
	SSL_CTX_set_mode(bench.ssl_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	if (bench.cafile != NULL) {
		if (SSL_CTX_load_verify_locations(bench.ssl_ctx, bench.cafile,
		    NULL) != 1) {
			fprintf(stderr, "wsd-bench: %s: cannot load CA "
			    "certificates\n", bench.cafile);
			exit(2);
		}
		SSL_CTX_set_verify(bench.ssl_ctx, SSL_VERIFY_PEER, NULL);
	} else
		SSL_CTX_set_verify(bench.ssl_ctx, SSL_VERIFY_NONE, NULL);
}

/* A JSON number, or null when v is NaN. */
static json_t *
jnum(double v)
{
	return isnan(v) ? json_null() : json_real(v);
}

/* A JSON integer, or null when ok is 0. */
static json_t *
jint(int ok, long long v)
{
	return ok ? json_integer(v) : json_null();
}

/* Prints the report, human-readable or JSON. */
static void
report(void)
{
	double		 dur, ups, cpu = NAN, cpu_unit = NAN, rss_conn = NAN;
	double		 cli, received = NAN, implied = NAN, ratio = NAN;
	uint64_t	 p50, p99, p999, mx;
	int		 lat = bench.hist.n > 0, srv, ticks, nsub;
	json_t		*o;

	dur = (double)(bench.t_win_end - bench.t_win_start) / 1e6;
	if (bench.t_win_start == 0)
		dur = 0;
	ups = dur > 0 && bench.mode != MODE_IDLE ? bench.units / dur : NAN;
	srv = bench.srv_start.ok && bench.srv_end.ok;
	if (srv) {
		cpu = bench.srv_end.cpu_s - bench.srv_start.cpu_s;
		if (bench.units > 0 && bench.mode != MODE_IDLE)
			cpu_unit = cpu * 1e6 / (double)bench.units;
		if (bench.mode == MODE_IDLE && bench.units > 0 &&
		    bench.srv_before.ok)
			rss_conn = (double)(bench.srv_end.rss_kib -
			    bench.srv_before.rss_kib) / (double)bench.units;
	}
	cli = bench.cli_cpu_end - bench.cli_cpu_start;
	nsub = bench.conns;
	ticks = bench.mode == MODE_BROADCAST && dur > 0 &&
	    (bench.period_ms > 0 || bench.rate > 0);
	if (ticks) {
		received = (double)bench.units / nsub;
		implied = bench.rate > 0 ? (double)bench.published :
		    dur * 1000 / bench.period_ms;
		ratio = implied > 0 ? received / implied : NAN;
	}
	p50 = hist_percentile(&bench.hist, 0.50);
	p99 = hist_percentile(&bench.hist, 0.99);
	p999 = hist_percentile(&bench.hist, 0.999);
	mx = bench.hist.max;
	if (bench.json) {
		o = json_pack("{s:s,s:s,s:i,s:o,s:I,s:o,"
		    "s:{s:o,s:o,s:o,s:o},"
		    "s:{s:o,s:o,s:o,s:o,s:o,s:o},"
		    "s:{s:o,s:o,s:o},s:o,s:I}",
		    "mode", bench.mode_name, "url", bench.url,
		    "connections", bench.conns, "duration_s", json_real(dur),
		    "units", (json_int_t)bench.units,
		    "units_per_s", jnum(ups),
		    "latency_us", "p50", jint(lat, (long long)p50),
		    "p99", jint(lat, (long long)p99),
		    "p999", jint(lat, (long long)p999),
		    "max", jint(lat, (long long)mx),
		    "server", "pid", jint(bench.server_pid != 0,
		    bench.server_pid), "cpu_s", jnum(cpu),
		    "cpu_us_per_unit", jnum(cpu_unit),
		    "rss_start_kib", jint(srv, bench.mode == MODE_IDLE ?
		    bench.srv_before.rss_kib : bench.srv_start.rss_kib),
		    "rss_end_kib", jint(srv, bench.srv_end.rss_kib),
		    "rss_per_conn_kib", jnum(rss_conn),
		    "ticks", "received", jint(ticks, llround(received)),
		    "implied", jint(ticks, llround(implied)),
		    "ratio", jnum(ratio),
		    "losses", jint(bench.mode == MODE_BROADCAST,
		    (long long)bench.losses),
		    "errors", (json_int_t)bench.errors);
		if (o == NULL) {
			fprintf(stderr, "wsd-bench: cannot build the JSON\n");
			exit(1);
		}
		json_dumpf(o, stdout, JSON_COMPACT | JSON_REAL_PRECISION(10));
		putchar('\n');
		json_decref(o);
		return;
	}
	printf("wsd-bench %s %s: %d connections, %.2f s window\n",
	    bench.mode_name, bench.url, bench.conns, dur);
	if (bench.mode == MODE_IDLE)
		printf("  held          %" PRIu64 " connections\n",
		    bench.units);
	else
		printf("  units         %" PRIu64 " (%.1f/s)\n", bench.units,
		    isnan(ups) ? 0.0 : ups);
	if (lat)
		printf("  latency us    p50 %" PRIu64 "  p99 %" PRIu64
		    "  p99.9 %" PRIu64 "  max %" PRIu64 "%s\n", p50, p99, p999,
		    mx, bench.mode == MODE_IDLE ? " (handshake)" : "");
	if (srv) {
		printf("  server        pid %ld: cpu %.2f s", bench.server_pid,
		    cpu);
		if (!isnan(cpu_unit))
			printf(", %.2f us/unit", cpu_unit);
		printf(", rss %ld -> %ld KiB", bench.mode == MODE_IDLE ?
		    bench.srv_before.rss_kib : bench.srv_start.rss_kib,
		    bench.srv_end.rss_kib);
		if (!isnan(rss_conn))
			printf(" (%.2f KiB/connection)", rss_conn);
		printf("\n");
	}
	printf("  client        cpu %.2f s", cli);
	if (bench.units > 0 && bench.mode != MODE_IDLE)
		printf(", %.2f us/unit", cli * 1e6 / (double)bench.units);
	printf("\n");
	if (ticks)
		printf("  ticks         %.1f received / %.1f implied per "
		    "subscriber = %.3f\n", received, implied, ratio);
	if (bench.mode == MODE_BROADCAST)
		printf("  losses        %" PRIu64 "\n", bench.losses);
	printf("  errors        %" PRIu64 "%s%s\n", bench.errors,
	    bench.first_error[0] ? ", first: " : "", bench.first_error);
}

int
main(int argc, char **argv)
{
	struct timeval	 tv = { 0, 100000 }, dispatch_max = { 0, 5000 };
	struct event_config *cfg;
	size_t		 i;

	parse_args(argc, argv);
	raise_nofile();
	signal(SIGPIPE, SIG_IGN);
	if (RAND_bytes((unsigned char *)&rng_state, sizeof(rng_state)) != 1 ||
	    rng_state == 0)
		rng_state = (uint64_t)bench_realtime() | 1;
	if (bench.tls)
		setup_tls();
	bench.progress = isatty(STDERR_FILENO);
	/* Look at the clock every 5 ms of callbacks, so the phase timers
	   keep time while many connections are busy. */
	if ((cfg = event_config_new()) == NULL ||
	    event_config_set_max_dispatch_interval(cfg, &dispatch_max, 256,
	    0) == -1 || (bench.base = event_base_new_with_config(cfg)) ==
	    NULL) {
		fprintf(stderr, "wsd-bench: event_base_new failed\n");
		return 1;
	}
	event_config_free(cfg);
	bench.nc = bench.conns + (bench.mode == MODE_BROADCAST &&
	    bench.rate > 0);
	bench.scratch_len = 65536;
	bench.c = calloc((size_t)bench.nc, sizeof(*bench.c));
	bench.scratch = malloc(bench.scratch_len + bench.msg_size + 1);
	bench.pattern = malloc(bench.msg_size + 1);
	if (bench.c == NULL || bench.scratch == NULL || bench.pattern == NULL)
		return 1;
	/* Printable text: it passes the server's UTF-8 check and deflates
	   a little, as real messages do. */
	for (i = 0; i < bench.msg_size; i++)
		bench.pattern[i] = (uint8_t)('a' + bench_rand() % 26);
	for (i = 0; i < (size_t)bench.nc; i++) {
		bench.c[i].idx = (int)i;
		bench.c[i].fd = -1;
		if (bench.mode == MODE_ECHO &&
		    (bench.c[i].sendt = calloc((size_t)bench.pipeline,
		    sizeof(uint64_t))) == NULL)
			return 1;
	}
	if (bench.nc > bench.conns)
		bench.c[bench.conns].publisher = 1;
	bench.ticker = event_new(bench.base, -1, EV_PERSIST, ticker_cb, NULL);
	bench.phase_timer = evtimer_new(bench.base, phase_timer_cb, NULL);
	bench.pacer = event_new(bench.base, -1, EV_PERSIST, pacer_cb, NULL);
	event_add(bench.ticker, &tv);
	if (bench.mode == MODE_IDLE)
		sample_server(&bench.srv_before);
	bench.t_begin = bench_now();
	bench.phase = PH_CONNECT;
	bench_launch();
	event_base_dispatch(bench.base);
	if (bench.progress)
		fprintf(stderr, "\r\033[K");
	mode_finish();
	report();
	if (bench.json && bench.errors > 0)
		fprintf(stderr, "wsd-bench: %" PRIu64 " errors, first: %s\n",
		    bench.errors, bench.first_error);
	return bench.units > 0 ? 0 : 1;
}
