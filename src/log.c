/* log.c -- leveled logging to stderr or syslog, one line per event. */
#include <sys/stat.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "log.h"
#include "logfile.h"

/* Process-wide, like the stderr it writes to. */
_Atomic int	log_verbosity = LOG_LVL_INFO;
static int	log_access_on = 1;
static int	log_access_fmt = LOG_FORMAT_TEXT;
static struct logfile *log_access_file;	/* NULL: the main log */
/* log_limited() on limits that workers share. */
static pthread_mutex_t log_limit_mu = PTHREAD_MUTEX_INITIALIZER;
/* Workers log access lines while worker 0 may reconfigure: under it. */
static pthread_mutex_t log_access_mu = PTHREAD_MUTEX_INITIALIZER;
static int	log_target = LOG_TO_STDERR;
static int	log_journal;		/* stderr is the journal */
/* "wsd[PID]: ", made at start-up and in a forked child; see log_pid(). */
static char	log_pidtext[32];
static size_t	log_pidlen;
/* The date and time text of the current second; one per loop thread. */
static _Thread_local struct log_clock log_clock = { -1, "" };

static const char *const log_names[] = { "error", "warn", "info", "debug" };
static const int log_prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
static const char *const log_targets[] = { "stderr", "syslog" };
static const char *const log_formats[] = { "text", "json" };

/*
 * systemd sets JOURNAL_STREAM=DEV:INODE when it connects stderr to the
 * journal; a stderr redirected elsewhere by a child does not match.
 */
static int
log_stderr_is_journal(void)
{
	const char		*s = getenv("JOURNAL_STREAM");
	unsigned long long	 dev, ino;
	struct stat		 st;
	char			 extra;

	if (s == NULL || sscanf(s, "%llu:%llu%c", &dev, &ino, &extra) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &st) == -1)
		return 0;
	return (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

/* Formats "wsd[PID]: " for this process. */
static void
log_pid_reset(void)
{
	int	n;

	n = snprintf(log_pidtext, sizeof(log_pidtext), "wsd[%ld]: ",
	    (long)getpid());
	log_pidlen = n > 0 && (size_t)n < sizeof(log_pidtext) ? (size_t)n : 0;
}

/* "wsd[PID]: " without a getpid() per line. */
static const char *
log_pid(size_t *len)
{
	if (log_pidlen == 0)
		log_pid_reset();
	*len = log_pidlen;
	return log_pidtext;
}

/* Sets the initial threshold; notices the journal; caches the pid. */
void
log_init(int level)
{
	static int	atfork;

	log_set_level(level);
	log_journal = log_stderr_is_journal();
	log_pid_reset();
	/* wsd does not fork today; a child must not log its parent's pid. */
	if (!atfork && pthread_atfork(NULL, NULL, log_pid_reset) == 0)
		atfork = 1;
}

/* Changes the threshold, clamped to the known levels. */
void
log_set_level(int level)
{
	if (level < LOG_LVL_ERROR)
		level = LOG_LVL_ERROR;
	if (level > LOG_LVL_DEBUG)
		level = LOG_LVL_DEBUG;
	log_verbosity = level;
}

/* Index of s in a table of names, or -1. */
static int
log_name_index(const char *const *names, size_t n, const char *s)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (strcmp(s, names[i]) == 0)
			return (int)i;
	return -1;
}

/* Maps a level name to its value. */
int
log_level_parse(const char *s)
{
	return log_name_index(log_names,
	    sizeof(log_names) / sizeof(log_names[0]), s);
}

/* Maps a destination name to its value. */
int
log_target_parse(const char *s)
{
	return log_name_index(log_targets,
	    sizeof(log_targets) / sizeof(log_targets[0]), s);
}

/* Maps an access log format name to its value. */
int
log_format_parse(const char *s)
{
	return log_name_index(log_formats,
	    sizeof(log_formats) / sizeof(log_formats[0]), s);
}

/* Switches between stderr and syslog. */
void
log_set_target(int target)
{
	if (target == log_target)
		return;
	if (log_target == LOG_TO_SYSLOG)
		closelog();
	log_target = target;
	if (target == LOG_TO_SYSLOG)
		openlog("wsd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

/* Appends n bytes of s to the line, as many as fit; notes a cut. */
static void
log_line_add(char *out, size_t cap, size_t *len, int *cut, const char *s,
    size_t n)
{
	if (n > cap - *len) {
		n = cap - *len;
		*cut = 1;
	}
	memcpy(out + *len, s, n);
	*len += n;
}

/* Builds one line in out; the pure part of every log line. */
size_t
log_compose(char *out, size_t size, const char *head, const char *prefix,
    int err, const char *fmt, va_list ap)
{
	/* Text stops at cap: the marker and the newline always fit after. */
	size_t		 cap = size - sizeof(LOG_TRUNCATED), len = 0;
	const char	*e;
	int		 n, cut = 0;

	log_line_add(out, cap, &len, &cut, head, strlen(head));
	log_line_add(out, cap, &len, &cut, prefix, strlen(prefix));
	/* vsnprintf may use the byte at cap for its NUL: it is spare. */
	n = vsnprintf(out + len, cap - len + 1, fmt, ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > cap - len) {
		n = (int)(cap - len);
		cut = 1;
	}
	len += (size_t)n;
	if (err >= 0) {
		e = strerror(err);
		log_line_add(out, cap, &len, &cut, ": ", 2);
		log_line_add(out, cap, &len, &cut, e, strlen(e));
	}
	if (cut) {
		memcpy(out + len, LOG_TRUNCATED, sizeof(LOG_TRUNCATED) - 1);
		len += sizeof(LOG_TRUNCATED) - 1;
	}
	out[len++] = '\n';
	return len;
}

/* Writes a whole line to stderr; a pipe takes up to PIPE_BUF at once. */
static void
log_write_all(const char *s, size_t len)
{
	ssize_t	n;
	int	saved = errno;

	while (len > 0) {
		if ((n = write(STDERR_FILENO, s, len)) == -1) {
			if (errno == EINTR)
				continue;
			break;		/* nowhere to report it */
		}
		s += n;
		len -= (size_t)n;
	}
	errno = saved;
}

static void	log_vwrite(int, int, const char *, const char *, va_list)
		    __attribute__((format(printf, 4, 0)));

/*
 * Formats and writes one line; err >= 0 appends strerror(err). The line
 * is built once in a buffer and leaves in one write(2): no stdio, no
 * getpid(), the date recomputed once a second.
 */
static void
log_vwrite(int level, int err, const char *prefix, const char *fmt,
    va_list ap)
{
	char		 line[LOG_LINE_MAX], head[96];
	const char	*pid;
	size_t		 len, n, plen;

	if (level > log_verbosity)
		return;
	if (log_target == LOG_TO_SYSLOG) {
		len = log_compose(line, sizeof(line), "", prefix, err, fmt, ap);
		line[len - 1] = '\0';
		syslog(log_prio[level], "%s", line);
		return;
	}
	/* The journal has its own time stamp and pid; give it a priority. */
	if (log_journal)
		snprintf(head, sizeof(head), "<%d>%s: ", log_prio[level],
		    log_names[level]);
	else {
		/* "STAMP wsd[PID]: LEVEL: " */
		n = log_timestamp(head, 3);
		head[n++] = ' ';
		pid = log_pid(&plen);
		memcpy(head + n, pid, plen);
		n += plen;
		plen = strlen(log_names[level]);
		memcpy(head + n, log_names[level], plen);
		memcpy(head + n + plen, ": ", 3);
	}
	len = log_compose(line, sizeof(line), head, prefix, err, fmt, ap);
	log_write_all(line, len);
}

/* Date and time text of sec.usec, the date redone only for a new second. */
size_t
log_clock_format(struct log_clock *c, time_t sec, long usec, int digits,
    char out[32])
{
	struct tm	tm;
	size_t		n;
	long		frac;
	int		i;

	if (c->sec != sec || c->text[0] == '\0') {
		gmtime_r(&sec, &tm);
		if (strftime(c->text, sizeof(c->text), "%Y-%m-%dT%H:%M:%S",
		    &tm) == 0)
			c->text[0] = '\0';
		c->sec = sec;
	}
	n = strlen(c->text);
	memcpy(out, c->text, n);
	if (digits != 3)
		digits = 6;
	frac = digits == 3 ? usec / 1000 : usec;
	out[n++] = '.';
	for (i = digits - 1; i >= 0; i--) {
		out[n + (size_t)i] = (char)('0' + frac % 10);
		frac /= 10;
	}
	n += (size_t)digits;
	out[n++] = 'Z';
	out[n] = '\0';
	return n;
}

/* ISO-8601 UTC now, with 3 (ms) or 6 (us) fraction digits and a Z. */
size_t
log_timestamp(char out[32], int digits)
{
	struct timeval	tv;

	gettimeofday(&tv, NULL);
	return log_clock_format(&log_clock, tv.tv_sec, (long)tv.tv_usec,
	    digits, out);
}

#define LOG_BODY(level, err, prefix) do {			\
	va_list	ap;						\
	va_start(ap, fmt);					\
	log_vwrite((level), (err), (prefix), fmt, ap);		\
	va_end(ap);						\
} while (0)

/* Error with strerror(errno). */
void
log_err(const char *fmt, ...)
{
	int	err = errno;

	LOG_BODY(LOG_LVL_ERROR, err, "");
}

/* Error without errno. */
void
log_errx(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_ERROR, -1, "");
}

/* Warning with strerror(errno). */
void
log_warn(const char *fmt, ...)
{
	int	err = errno;

	LOG_BODY(LOG_LVL_WARN, err, "");
}

/* Warning without errno. */
void
log_warnx(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_WARN, -1, "");
}

/* Informational line. */
void
log_info(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_INFO, -1, "");
}

/* Debug line; callers go through the macro in log.h. */
void
(log_debug)(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_DEBUG, -1, "");
}

/* A JSON string of n bytes; bytes that are not UTF-8 become "\\xNN". */
static json_t *
log_json_str(const char *s, size_t n)
{
	json_t	*j;
	char	*esc;
	size_t	 i, o = 0;

	if ((j = json_stringn(s, n)) != NULL)
		return j;
	if ((esc = malloc(n * 4 + 1)) == NULL)
		return json_string("");
	for (i = 0; i < n; i++) {
		if ((unsigned char)s[i] < 0x80 && s[i] != '\0')
			esc[o++] = s[i];
		else
			o += (size_t)snprintf(esc + o, 5, "\\x%02X",
			    (unsigned char)s[i]);
	}
	j = json_stringn(esc, o);
	free(esc);
	return j != NULL ? j : json_string("");
}

/* The JSON object of one access line, or NULL without memory. */
static json_t *
log_access_json(const char *stamp, const struct log_access_rec *r)
{
	json_t	*o;
	size_t	 tlen;
	char	 ver[8];

	if ((o = json_object()) == NULL)
		return NULL;
	if (stamp != NULL)
		json_object_set_new(o, "time", json_string(stamp));
	json_object_set_new(o, "client", log_json_str(r->client,
	    strlen(r->client)));
	json_object_set_new(o, "type", json_string(r->ws == 2 ? "sse" :
	    r->ws ? "ws" : "http"));
	if (r->ws == 2)
		json_object_set_new(o, "path", log_json_str(r->path,
		    strlen(r->path)));
	else if (r->ws) {
		json_object_set_new(o, "path", log_json_str(r->path,
		    strlen(r->path)));
		json_object_set_new(o, "close", json_integer(r->close_code));
		json_object_set_new(o, "bytes_in",
		    json_integer((json_int_t)r->bytes_in));
		json_object_set_new(o, "bytes_out",
		    json_integer((json_int_t)r->bytes_out));
	} else {
		if (r->method != NULL) {
			tlen = strlen(r->target);
			json_object_set_new(o, "method", log_json_str(r->method,
			    r->method_len));
			json_object_set_new(o, "target", log_json_str(r->target,
			    tlen < LOG_JSON_TARGET_MAX ? tlen :
			    LOG_JSON_TARGET_MAX));
			if (tlen > LOG_JSON_TARGET_MAX)
				json_object_set_new(o, "truncated",
				    json_true());
			snprintf(ver, sizeof(ver), "1.%d", r->minor);
			json_object_set_new(o, "http", json_string(ver));
		}
		json_object_set_new(o, "status", json_integer(r->status));
		json_object_set_new(o, "bytes",
		    json_integer((json_int_t)r->bytes));
	}
	json_object_set_new(o, "duration", json_real(r->secs));
	return o;
}

/* Builds one access line, text or JSON. */
size_t
log_access_format(char *out, size_t size, int format, const char *stamp,
    const struct log_access_rec *r)
{
	/* Room for the marker and the newline, as in log_compose(). */
	size_t	 cap = size - sizeof(LOG_TRUNCATED), len;
	json_t	*o;
	char	*text = NULL;
	int	 n;

	if (format == LOG_FORMAT_JSON && (o = log_access_json(stamp, r)) !=
	    NULL) {
		text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
		json_decref(o);
	}
	if (text != NULL)
		n = snprintf(out, cap + 1, "%s", text);
	else if (r->ws == 2)
		n = snprintf(out, cap + 1, "%s%s%s sse %s %.3fs",
		    stamp ? stamp : "", stamp ? " " : "", r->client, r->path,
		    r->secs);
	else if (r->ws)
		n = snprintf(out, cap + 1, "%s%s%s ws %s %.3fs close=%u "
		    "in=%" PRIu64 " out=%" PRIu64, stamp ? stamp : "",
		    stamp ? " " : "", r->client, r->path, r->secs,
		    r->close_code, r->bytes_in, r->bytes_out);
	else if (r->method != NULL)
		n = snprintf(out, cap + 1, "%s%s%s \"%.*s %s HTTP/1.%d\" %d %"
		    PRIu64 " %.3fs", stamp ? stamp : "", stamp ? " " : "",
		    r->client, (int)r->method_len, r->method, r->target,
		    r->minor, r->status, r->bytes, r->secs);
	else
		n = snprintf(out, cap + 1, "%s%s%s \"-\" %d %" PRIu64 " %.3fs",
		    stamp ? stamp : "", stamp ? " " : "", r->client, r->status,
		    r->bytes, r->secs);
	free(text);
	len = n < 0 ? 0 : (size_t)n;
	if (len > cap) {
		/* Only a long target gets here: a text line, cut. */
		len = cap;
		memcpy(out + len, LOG_TRUNCATED, sizeof(LOG_TRUNCATED) - 1);
		len += sizeof(LOG_TRUNCATED) - 1;
	}
	out[len++] = '\n';
	return len;
}

/* Sets where access lines go; a new file is opened first. */
int
log_access_configure(int on, const char *file, int format,
    struct event_base *base, char **cause)
{
	struct logfile	*lf;

	*cause = NULL;
	pthread_mutex_lock(&log_access_mu);
	lf = log_access_file;
	if (!on || file == NULL)
		lf = NULL;
	else if (lf == NULL || strcmp(logfile_path(lf), file) != 0) {
		if ((lf = logfile_open(file, base, cause)) == NULL) {
			pthread_mutex_unlock(&log_access_mu);
			return -1;
		}
	}
	if (lf != log_access_file)
		logfile_free(log_access_file);
	log_access_file = lf;
	log_access_on = on;
	log_access_fmt = format;
	pthread_mutex_unlock(&log_access_mu);
	return 0;
}

/* Gives a created access log file to the unprivileged user. */
int
log_access_chown(uid_t uid, gid_t gid)
{
	int	rc = 0;

	pthread_mutex_lock(&log_access_mu);
	if (log_access_file != NULL)
		rc = logfile_chown(log_access_file, uid, gid);
	pthread_mutex_unlock(&log_access_mu);
	return rc;
}

/* SIGUSR1: the access log file again, after a rename. */
int
log_access_reopen(char **cause)
{
	int	rc = 0;

	*cause = NULL;
	pthread_mutex_lock(&log_access_mu);
	if (log_access_file != NULL)
		rc = logfile_reopen(log_access_file, cause);
	pthread_mutex_unlock(&log_access_mu);
	return rc;
}

/* Closes the access log file. */
void
log_access_close(void)
{
	pthread_mutex_lock(&log_access_mu);
	logfile_free(log_access_file);
	log_access_file = NULL;
	pthread_mutex_unlock(&log_access_mu);
}

static void	log_write(int, const char *, ...) LOG_PRINTF(2, 3);

/* Access line: to its file, or the main log at info, when on. */
void
log_access(const struct log_access_rec *r)
{
	char	 line[LOG_LINE_MAX], stamp[32];
	size_t	 len;
	int	 on, fmt;

	pthread_mutex_lock(&log_access_mu);
	on = log_access_on;
	fmt = log_access_fmt;
	if (on && log_access_file != NULL) {
		log_timestamp(stamp, 3);
		len = log_access_format(line, sizeof(line), fmt, stamp, r);
		logfile_write(log_access_file, line, len);
		pthread_mutex_unlock(&log_access_mu);
		return;
	}
	pthread_mutex_unlock(&log_access_mu);
	if (!on || LOG_LVL_INFO > log_verbosity)
		return;
	len = log_access_format(line, sizeof(line), fmt, NULL, r);
	log_write(LOG_LVL_INFO, "access: %.*s", (int)len - 1, line);
}

/* Empties l; summaries will start with who. */
void
log_limit_init(struct log_limit *l, const char *who)
{
	memset(l, 0, sizeof(*l));
	l->who = who;
}

/* The slot of kind: its own, a free one, or else the last. */
static struct log_limit_slot *
log_limit_slot(struct log_limit *l, const char *kind)
{
	size_t	i;

	for (i = 0; i < LOG_LIMIT_KINDS; i++) {
		if (l->slot[i].kind == NULL)
			l->slot[i].kind = kind;
		if (strcmp(l->slot[i].kind, kind) == 0)
			return &l->slot[i];
	}
	return &l->slot[LOG_LIMIT_KINDS - 1];
}

/* Counts one line of kind; 1 when it may be logged. */
int
log_limit_take(struct log_limit *l, const char *kind, int level,
    double now, unsigned long *report)
{
	struct log_limit_slot	*s = log_limit_slot(l, kind);

	*report = 0;
	if (s->logged == 0 || now - s->start >= LOG_LIMIT_WINDOW) {
		*report = s->suppressed;
		s->suppressed = 0;
		s->logged = 0;
		s->start = now;
	}
	if (s->logged < LOG_LIMIT_BURST) {
		s->logged++;
		return 1;
	}
	if (s->suppressed == 0 || level < s->level)
		s->level = (uint8_t)level;
	if (s->suppressed < UINT32_MAX)
		s->suppressed++;
	return 0;
}

/* log_vwrite() with the arguments inline. */
static void
log_write(int level, const char *fmt, ...)
{
	LOG_BODY(level, -1, "");
}

/* The line that stands for n held-back lines of kind. */
static void
log_limit_report(const struct log_limit *l, const char *kind, int level,
    unsigned long n)
{
	log_write(level, "%s: %s: %lu similar messages suppressed",
	    l->who != NULL ? l->who : "-", kind, n);
}

/* A line of kind, unless l holds it back. */
void
log_limited(struct log_limit *l, const char *kind, int level,
    const char *fmt, ...)
{
	struct timespec	ts;
	unsigned long	n;

	/* Lines under the threshold cost nothing, not even a count. */
	if (level > log_verbosity)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	/* Workers share some limits (TLS failures): one lock for all. */
	pthread_mutex_lock(&log_limit_mu);
	if (!log_limit_take(l, kind, level,
	    (double)ts.tv_sec + (double)ts.tv_nsec / 1e9, &n)) {
		pthread_mutex_unlock(&log_limit_mu);
		return;
	}
	pthread_mutex_unlock(&log_limit_mu);
	if (n > 0)
		log_limit_report(l, kind, level, n);
	LOG_BODY(level, -1, "");
}

/* Reports what is held back and empties l. */
void
log_limit_flush(struct log_limit *l)
{
	size_t	i;

	pthread_mutex_lock(&log_limit_mu);
	for (i = 0; i < LOG_LIMIT_KINDS; i++)
		if (l->slot[i].suppressed > 0)
			log_limit_report(l, l->slot[i].kind,
			    l->slot[i].level, l->slot[i].suppressed);
	log_limit_init(l, l->who);
	pthread_mutex_unlock(&log_limit_mu);
}

/* Formats an error for the caller. */
void
log_cause(char **cause, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	if (vasprintf(cause, fmt, ap) == -1)
		*cause = NULL;
	va_end(ap);
}

/* Logs with strerror(errno) and exits 1. */
void
fatal(const char *fmt, ...)
{
	int	err = errno;

	LOG_BODY(LOG_LVL_ERROR, err, "");
	exit(1);
}

/* Logs and exits 1. */
void
fatalx(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_ERROR, -1, "");
	exit(1);
}
