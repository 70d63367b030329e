/* bench.h -- wsd-bench: a WebSocket load generator on one libevent loop. */
#ifndef WSD_BENCH_H
#define WSD_BENCH_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/event_struct.h>
#include <openssl/ssl.h>

#include "ws.h"

enum bench_mode {
	MODE_CONNECT,
	MODE_ECHO,
	MODE_BROADCAST,
	MODE_COUNTER,
	MODE_IDLE,
};

/* The run's phases, in order. */
enum bench_phase {
	PH_CONNECT,	/* opening the connections */
	PH_RAMP,	/* all up, waiting for --ramp */
	PH_WINDOW,	/* measuring */
	PH_GRACE,	/* broadcast: late deliveries of window messages */
	PH_TEARDOWN,	/* closing everything */
};

/* A client connection's state. */
enum bconn_state {
	BC_DEAD = 0,	/* no socket */
	BC_TCP,		/* connect() in progress */
	BC_TLS,		/* TLS handshake */
	BC_HS,		/* upgrade request sent, waiting for 101 */
	BC_OPEN,	/* WebSocket open */
	BC_CLOSING,	/* our close frame sent, waiting for the server's */
	BC_DRAIN,	/* close frames exchanged, waiting for TCP EOF */
};

/* Connect + handshake, a reply, a closing handshake must finish within. */
#define BENCH_CONNECT_TIMEOUT_US	10000000ULL
#define BENCH_REPLY_TIMEOUT_US		5000000ULL
#define BENCH_CLOSE_TIMEOUT_US		1000000ULL
/* The connect phase as a whole, then teardown, are bounded too. */
#define BENCH_CONNECT_PHASE_US		30000000ULL
#define BENCH_TEARDOWN_US		2000000ULL
/* broadcast: how long after the window late deliveries still count. */
#define BENCH_GRACE_US			250000ULL
/* Handshakes in flight at once: more would overflow the listen queue. */
#define BENCH_MAX_PENDING		256
/* Largest message accepted from the server. */
#define BENCH_MAX_MESSAGE		(64u << 20)

/* One client connection. */
struct bconn {
	int		 fd;
	int		 idx;
	enum bconn_state st;
	int		 publisher;	/* the relay publisher, not a subscriber */
	int		 ready;		/* counted as up */
	int		 close_sent;
	int		 wev_armed;
	SSL		*ssl;
	struct event	 rev;
	struct event	 wev;
	uint64_t	 deadline;	/* monotonic µs, 0: none */
	uint64_t	 t_start;	/* connect started */
	char		 accept[WS_ACCEPT_LEN];
	/* output not yet written */
	uint8_t		*obuf;
	size_t		 olen, ooff, ocap;
	/* input kept between reads (a partial frame) */
	uint8_t		*ibuf;
	size_t		 ilen, icap;
	/* a fragmented or compressed message being assembled */
	uint8_t		*mbuf;
	size_t		 mlen, mcap;
	int		 mop;		/* its opcode, 0: none open */
	int		 mrsv1;
	/* permessage-deflate, when negotiated */
	struct pmd	*pmd;
	uint8_t		*zbuf;
	size_t		 zlen, zcap;
	/* mode state */
	uint64_t	 seq_sent;	/* echo: messages sent */
	uint64_t	 seq_recv;	/* echo: echoes verified */
	uint64_t	*sendt;		/* echo: send times, ring of -p */
	uint64_t	 last_seq;	/* relay: last sequence number seen */
	int		 have_seq;
	uint64_t	 wcount;	/* broadcast: deliveries in the window */
	long long	 last_value;	/* counter: last value event */
	uint64_t	 plus_t;	/* counter: oldest unanswered plus */
};

/* Log-bucket latency histogram (µs), ~1.6 % resolution. */
#define HIST_SUB_BITS	6
#define HIST_BUCKETS	((40 - HIST_SUB_BITS + 2) << HIST_SUB_BITS)
struct hist {
	uint64_t	count[HIST_BUCKETS];
	uint64_t	n;
	uint64_t	max;
};

/* The server's counters from /proc. */
struct proc_sample {
	int		ok;
	double		cpu_s;
	long		rss_kib;
};

/* Options and the state of the whole run. */
struct bench {
	/* options */
	enum bench_mode	 mode;
	const char	*mode_name;
	const char	*url;
	int		 conns;
	double		 duration;
	double		 ramp;
	size_t		 msg_size;
	int		 pipeline;
	double		 rate;		/* 0: not given */
	double		 period_ms;	/* 0: not given */
	int		 hello;
	int		 deflate;
	int		 json;
	long		 server_pid;	/* 0: none */
	int		 publish_port;	/* relay publisher's; 0: the URL's */
	const char	*cafile;
	/* target */
	int		 tls;
	char		*host;
	char		*hostport;	/* Host header */
	char		*path;
	struct sockaddr_storage addr;
	socklen_t	 addrlen;
	struct sockaddr_storage *sources;
	int		 nsources;
	SSL_CTX		*ssl_ctx;
	/* loop */
	struct event_base *base;
	struct event	*ticker;
	struct event	*phase_timer;
	struct event	*pacer;
	int		 progress;	/* stderr is a terminal */
	/* connections: conns subscribers/clients, plus the relay publisher */
	struct bconn	*c;
	int		 nc;
	int		 launched;
	int		 pending;
	int		 nready;
	int		 nfailed;
	int		 nalive;
	int		 rr;		/* counter: next client to send */
	/* phases */
	enum bench_phase phase;
	uint64_t	 t_begin;	/* monotonic µs */
	uint64_t	 t_win_start, t_win_end;
	uint64_t	 rt_win_start, rt_win_end;	/* realtime µs */
	uint64_t	 t_pace_start;
	uint64_t	 paced;		/* messages the pacer sent */
	uint64_t	 pub_seq;
	uint64_t	 published;	/* relay: sent within the window */
	/* results */
	uint64_t	 units;
	uint64_t	 errors;
	uint64_t	 losses;
	struct hist	 hist;
	struct proc_sample srv_before, srv_start, srv_end;
	double		 cli_cpu_start, cli_cpu_end;
	char		 first_error[160];
	/* scratch */
	uint8_t		*pattern;	/* echo payload template */
	uint8_t		*scratch;
	size_t		 scratch_len;
	uint8_t		*zscratch;
	size_t		 zscratch_len;
};

extern struct bench	bench;

/* main.c */
uint64_t	bench_now(void);
uint64_t	bench_realtime(void);
uint64_t	bench_rand(void);
void		bench_launch(void);
void		bench_error(struct bconn *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

/* conn.c */
void	bconn_start(struct bconn *);
void	bconn_drop(struct bconn *, const char *);
int	bconn_send(struct bconn *, int, const uint8_t *, size_t);
int	bconn_send_close(struct bconn *, unsigned);
void	bconn_flush(struct bconn *);
void	bconn_check_deadline(struct bconn *, uint64_t);

/* mode.c: what each mode does with a connection */
void	mode_open(struct bconn *);
void	mode_start(void);
int	mode_message(struct bconn *, int, const uint8_t *, size_t);
void	mode_closed(struct bconn *, int);
int	mode_server_close_ok(struct bconn *);
void	mode_pace(uint64_t);
void	mode_teardown(void);
void	mode_finish(void);
int	mode_parse_ts(const uint8_t *, size_t, uint64_t *);

/* hist.c */
void		hist_reset(struct hist *);
void		hist_add(struct hist *, uint64_t);
uint64_t	hist_percentile(const struct hist *, double);
int		proc_sample(long, struct proc_sample *);

#endif
