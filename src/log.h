/* log.h -- leveled logging to stderr, in the OpenBSD shape. */
#ifndef WSD_LOG_H
#define WSD_LOG_H

#include <sys/types.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct event_base;

enum log_level {
	LOG_LVL_ERROR = 0,
	LOG_LVL_WARN,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG,
};

/* Where lines go: stderr (with <N> priorities under systemd) or syslog. */
enum log_target {
	LOG_TO_STDERR = 0,
	LOG_TO_SYSLOG,
};

#define LOG_PRINTF(a, b) __attribute__((format(printf, a, b)))

/*
 * Sets the threshold; messages above it are dropped. Also looks whether
 * stderr is systemd's journal ($JOURNAL_STREAM names its device and
 * inode): then lines get "<N>" syslog priorities and no time stamp.
 */
void	log_init(int level);
void	log_set_level(int level);
/* How access lines are written: access_log's log_format key. */
enum log_format {
	LOG_FORMAT_TEXT = 0,
	LOG_FORMAT_JSON,		/* one JSON object per line */
};
/* Parses "text|json"; -1 when unknown. */
int	log_format_parse(const char *s);
/* Parses "error|warn|info|debug"; -1 when unknown. */
int	log_level_parse(const char *s);
/* Parses "stderr|syslog"; -1 when unknown. */
int	log_target_parse(const char *s);
/* Sends lines to stderr or to syslog(3) (facility daemon, ident wsd). */
void	log_set_target(int target);

/*
 * ISO-8601 UTC now, with 3 (ms) or 6 (us) fraction digits and a Z;
 * returns its length.
 */
size_t	log_timestamp(char out[32], int digits);

/*
 * The pure parts, for tests. A log_clock caches the date and time text
 * of one second: log_clock_format() writes sec.usec into out (like
 * log_timestamp) and runs gmtime/strftime only when sec is not the
 * cached second. Start with { -1, "" }.
 */
struct log_clock {
	time_t	sec;
	char	text[24];		/* "2026-11-25T12:00:00" */
};
size_t	log_clock_format(struct log_clock *c, time_t sec, long usec,
	    int digits, char out[32]);

/*
 * A line is at most LOG_LINE_MAX bytes, newline included, and leaves in
 * one write(2) (a pipe keeps up to PIPE_BUF = 4096 bytes whole); a longer
 * one is cut and ends with LOG_TRUNCATED, never split.
 */
#define LOG_LINE_MAX	4096
#define LOG_TRUNCATED	" [truncated]"
/*
 * Builds head, prefix, the formatted message and, when err >= 0,
 * ": strerror(err)" and a newline into out (size bytes, more than
 * LOG_TRUNCATED); returns the length written (no NUL).
 */
size_t	log_compose(char *out, size_t size, const char *head,
	    const char *prefix, int err, const char *fmt, va_list ap)
	    LOG_PRINTF(6, 0);

/* _warn variants append strerror(errno); _x variants do not. */
void	log_err(const char *fmt, ...) LOG_PRINTF(1, 2);
void	log_errx(const char *fmt, ...) LOG_PRINTF(1, 2);
void	log_warn(const char *fmt, ...) LOG_PRINTF(1, 2);
void	log_warnx(const char *fmt, ...) LOG_PRINTF(1, 2);
void	log_info(const char *fmt, ...) LOG_PRINTF(1, 2);
void	(log_debug)(const char *fmt, ...) LOG_PRINTF(1, 2);
/*
 * The threshold, for the macro below only (set it with log_set_level):
 * a debug line that is off costs one comparison; its arguments are not
 * even evaluated, so they must have no side effects.
 */
extern _Atomic int log_verbosity;	/* workers read it, a reload sets it */
#define log_debug(...) do {						\
	if (log_verbosity >= LOG_LVL_DEBUG)				\
		(log_debug)(__VA_ARGS__);				\
} while (0)
/* What one access line tells: an HTTP response or a WebSocket's end. */
struct log_access_rec {
	const char	*client;	/* conn_peer() */
	int		 ws;		/* 1: a WebSocket session ended,
					 * 2: an SSE stream (path, secs) */
	/* HTTP: method NULL when no request could be parsed. */
	const char	*method;
	size_t		 method_len;
	const char	*target;	/* with tokens redacted */
	int		 minor;		/* HTTP/1.minor */
	int		 status;
	uint64_t	 bytes;		/* body bytes sent */
	/* WebSocket. */
	const char	*path;
	unsigned	 close_code;
	uint64_t	 bytes_in;
	uint64_t	 bytes_out;
	double		 secs;		/* request or session duration */
};
/* Longest target shown in a JSON access line; longer ones are cut. */
#define LOG_JSON_TARGET_MAX	2048
/*
 * Builds one access line into out (size at least 256, ends with a
 * newline, never split as log_compose says): text as the main log has
 * always shown it, after "stamp " unless stamp is NULL; or a JSON object
 * ("time" is stamp) with jansson, every string valid UTF-8 (other bytes
 * are shown as \xNN). Returns its length. Pure.
 */
size_t	log_access_format(char *out, size_t size, int format,
	    const char *stamp, const struct log_access_rec *r);
/*
 * Where access lines go: off, the main log (info, "access: " prefix) or
 * file, opened (O_APPEND | O_NONBLOCK, logfile.c) unless it is the one
 * already open; base drains its queue. On failure nothing changes and
 * -1 comes back with *cause (caller frees).
 */
int	log_access_configure(int on, const char *file, int format,
	    struct event_base *base, char **cause);
/*
 * Gives the access log file, if wsd created it, to the user privileges
 * are dropped to, so that it can open it again after a rotation.
 */
int	log_access_chown(uid_t uid, gid_t gid);
/* SIGUSR1: opens the access log file again; 0 when there is none. */
int	log_access_reopen(char **cause);
/* Writes one access line, when access lines are on. */
void	log_access(const struct log_access_rec *r);
/* Closes the access log file (the end of the process). */
void	log_access_close(void);
/*
 * Lines a client can cause again and again (a bad message, a complaint
 * per frame) go through a log_limit that the connection holds: of each
 * kind, LOG_LIMIT_BURST lines per LOG_LIMIT_WINDOW seconds are logged,
 * the rest only counted, and one "N similar messages suppressed" line
 * reports them when the next window begins or the holder flushes (the
 * connection ends). A kind is a constant string naming the line
 * ("counter: unsupported event"); a holder tells LOG_LIMIT_KINDS kinds
 * apart, further kinds share the last slot.
 */
#define LOG_LIMIT_KINDS		4
#define LOG_LIMIT_BURST		5
#define LOG_LIMIT_WINDOW	60.0

struct log_limit_slot {
	const char	*kind;		/* NULL: unused */
	double		 start;		/* window start, monotonic seconds */
	uint32_t	 suppressed;	/* held back in this window */
	uint16_t	 logged;	/* logged in this window */
	uint8_t		 level;		/* most severe held-back level */
};

struct log_limit {
	const char		*who;	/* summary lines start with it */
	struct log_limit_slot	 slot[LOG_LIMIT_KINDS];
};

/* Empties l; who (the peer, kept by the caller) prefixes summaries. */
void	log_limit_init(struct log_limit *l, const char *who);
/*
 * The counting alone, at monotonic time now: 1 when a line of kind may
 * be logged, 0 when it is held back. *report gets how many were held
 * back in the window that just ended (0: none), to be reported first.
 */
int	log_limit_take(struct log_limit *l, const char *kind, int level,
	    double now, unsigned long *report);
/* Logs one line of kind through l at level (LOG_LVL_WARN...). */
void	log_limited(struct log_limit *l, const char *kind, int level,
	    const char *fmt, ...) LOG_PRINTF(4, 5);
/* Reports every held-back count and empties l (the holder goes). */
void	log_limit_flush(struct log_limit *l);

/*
 * Sets *cause to a formatted message for the caller to print and free
 * (the tmux way of returning errors); NULL when out of memory.
 */
void	log_cause(char **cause, const char *fmt, ...) LOG_PRINTF(2, 3);

/* Start-up failures and broken invariants only: log and exit(1). */
void	fatal(const char *fmt, ...) LOG_PRINTF(1, 2) __attribute__((noreturn));
void	fatalx(const char *fmt, ...) LOG_PRINTF(1, 2) __attribute__((noreturn));

#endif
