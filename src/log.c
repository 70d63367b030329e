/* log.c -- leveled logging to stderr or syslog, one line per event. */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* Process-wide, like the stderr it writes to. */
static int	log_level = LOG_LVL_INFO;
static int	log_access_on = 1;
static int	log_target = LOG_TO_STDERR;
static int	log_journal;		/* stderr is the journal */

static const char *const log_names[] = { "error", "warn", "info", "debug" };
static const int log_prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
static const char *const log_targets[] = { "stderr", "syslog" };

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

/* Sets the initial threshold; notices the journal. */
void
log_init(int level)
{
	log_set_level(level);
	log_journal = log_stderr_is_journal();
}

/* Changes the threshold, clamped to the known levels. */
void
log_set_level(int level)
{
	if (level < LOG_LVL_ERROR)
		level = LOG_LVL_ERROR;
	if (level > LOG_LVL_DEBUG)
		level = LOG_LVL_DEBUG;
	log_level = level;
}

/* Turns access lines on or off. */
void
log_set_access(int on)
{
	log_access_on = on;
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

static void	log_vwrite(int, int, const char *, const char *, va_list)
		    __attribute__((format(printf, 4, 0)));

/* Formats and writes one line; err >= 0 appends strerror(err). */
static void
log_vwrite(int level, int err, const char *prefix, const char *fmt,
    va_list ap)
{
	char		 msg[2048], stamp[32];
	size_t		 n;

	if (level > log_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	if (err >= 0)
		snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(err));

	if (log_target == LOG_TO_SYSLOG) {
		syslog(log_prio[level], "%s%s", prefix, msg);
		return;
	}
	/* The journal has its own time stamp and pid; give it a priority. */
	if (log_journal) {
		fprintf(stderr, "<%d>%s: %s%s\n", log_prio[level],
		    log_names[level], prefix, msg);
		return;
	}

	log_timestamp(stamp, 3);

	/* One fprintf per line keeps lines whole when stderr is shared. */
	fprintf(stderr, "%s wsd[%ld]: %s: %s%s\n", stamp, (long)getpid(),
	    log_names[level], prefix, msg);
}

/* ISO-8601 UTC now, with 3 (ms) or 6 (us) fraction digits and a Z. */
void
log_timestamp(char out[32], int digits)
{
	struct timeval	tv;
	struct tm	tm;
	size_t		n;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 32 - n, ".%0*ldZ", digits, digits == 3 ?
	    (long)(tv.tv_usec / 1000) : (long)tv.tv_usec);
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

/* Debug line. */
void
log_debug(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_DEBUG, -1, "");
}

/* Access line: info level, when the access log is on. */
void
log_access(const char *fmt, ...)
{
	if (!log_access_on)
		return;
	LOG_BODY(LOG_LVL_INFO, -1, "access: ");
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

static void	log_write(int, const char *, ...) LOG_PRINTF(2, 3);

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
	if (level > log_level)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (!log_limit_take(l, kind, level,
	    (double)ts.tv_sec + (double)ts.tv_nsec / 1e9, &n))
		return;
	if (n > 0)
		log_limit_report(l, kind, level, n);
	LOG_BODY(level, -1, "");
}

/* Reports what is held back and empties l. */
void
log_limit_flush(struct log_limit *l)
{
	size_t	i;

	for (i = 0; i < LOG_LIMIT_KINDS; i++)
		if (l->slot[i].suppressed > 0)
			log_limit_report(l, l->slot[i].kind,
			    l->slot[i].level, l->slot[i].suppressed);
	log_limit_init(l, l->who);
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
