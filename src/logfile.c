/* logfile.c -- a log file whose writes never block the event loop. */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "logfile.h"
#include "worker.h"

struct logfile {
	char		*path;
	int		 fd;
	struct event_base *base;
	struct event	*wev;		/* armed while the queue holds bytes */
	char		*queue;		/* LOGFILE_QUEUE_MAX + one line */
	size_t		 qlen;
	int		 created;	/* the last open made the file */
	uint64_t	 unreported;	/* dropped since the last note */
	time_t		 noted;		/* when the last note went out */
	unsigned	 owner;		/* the worker whose loop has wev */
};

/*
 * Workers write lines to the same files: one lock for every file's queue;
 * wev is only ever added in the owner's loop.
 */
static pthread_mutex_t	logfile_mu = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;

/* Process-wide, like the files: wsd_log_lines_dropped_total. */
static _Atomic uint64_t logfile_ndropped;

static void	logfile_write_cb(evutil_socket_t, short, void *);

/*
 * Opens the file for appending without ever blocking on it; *created
 * says whether this open made it.
 */
static int
logfile_fd(const char *path, int *created, char **cause)
{
	/* A FIFO without a reader: ENXIO rather than a hang. */
	const int	flags = O_WRONLY | O_APPEND | O_NONBLOCK | O_CLOEXEC |
			    O_NOCTTY;
	int		fd;

	*created = 0;
	if ((fd = open(path, flags)) == -1 && errno == ENOENT) {
		if ((fd = open(path, flags | O_CREAT | O_EXCL, 0640)) != -1)
			*created = 1;
		else if (errno == EEXIST)
			fd = open(path, flags);
	}
	if (fd == -1)
		log_cause(cause, "%s", strerror(errno));
	return fd;
}

/* Makes the writable event of the current descriptor. */
static int
logfile_event(struct logfile *lf)
{
	if (lf->wev != NULL) {
		event_free(lf->wev);
		lf->wev = NULL;
	}
	if (lf->base == NULL)
		return 0;
	lf->wev = event_new(lf->base, lf->fd, EV_WRITE, logfile_write_cb, lf);
	return lf->wev != NULL ? 0 : -1;
}

/* Opens a log file. */
struct logfile *
logfile_open(const char *path, struct event_base *base, char **cause)
{
	struct logfile	*lf;

	*cause = NULL;
	if ((lf = calloc(1, sizeof(*lf))) == NULL ||
	    (lf->path = strdup(path)) == NULL)
		fatal("%s", __func__);
	lf->base = base;
	lf->owner = worker_self();
	if ((lf->fd = logfile_fd(path, &lf->created, cause)) == -1 ||
	    logfile_event(lf) == -1) {
		if (*cause == NULL)
			log_cause(cause, "cannot make its event");
		logfile_free(lf);
		return NULL;
	}
	return lf;
}

/* The path the file was opened with. */
const char *
logfile_path(const struct logfile *lf)
{
	return lf->path;
}

/* Counts dropped lines; the main log hears of it at most once a minute. */
static void
logfile_drop(struct logfile *lf, uint64_t n, int err)
{
	time_t	now = time(NULL);

	logfile_ndropped += n;
	lf->unreported += n;
	if (lf->noted != 0 && now - lf->noted < LOGFILE_NOTE_INTERVAL)
		return;
	log_warnx("access log %s: %llu lines dropped (%s); at most one such "
	    "note a minute, wsd_log_lines_dropped_total counts them all",
	    lf->path, (unsigned long long)lf->unreported,
	    err != 0 ? strerror(err) : "output would block, queue full");
	lf->unreported = 0;
	lf->noted = now;
}

/* Lines (newlines) in n bytes of s. */
static uint64_t
logfile_lines(const char *s, size_t n)
{
	const char	*end;
	uint64_t	 lines = 0;

	if (s == NULL)
		return 0;
	end = s + n;
	while (s < end && (s = memchr(s, '\n', (size_t)(end - s))) != NULL) {
		lines++;
		s++;
	}
	return lines;
}

/*
 * Writes as much of the queue as the file takes. A hard error drops the
 * whole queue. Returns 1 when bytes remain (wait for writable).
 */
static int
logfile_flush(struct logfile *lf)
{
	ssize_t	n;
	int	err;

	while (lf->qlen > 0) {
		n = write(lf->fd, lf->queue, lf->qlen);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return 1;
		if (n <= 0) {
			err = n == -1 ? errno : EIO;
			logfile_drop(lf, logfile_lines(lf->queue, lf->qlen),
			    err);
			lf->qlen = 0;
			return 0;
		}
		memmove(lf->queue, lf->queue + n, lf->qlen - (size_t)n);
		lf->qlen -= (size_t)n;
	}
	return 0;
}

/* The file can take more: drain the queue. */
static void
logfile_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct logfile	*lf = arg;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&logfile_mu);
	if (logfile_flush(lf))
		event_add(lf->wev, NULL);
	pthread_mutex_unlock(&logfile_mu);
}

/* Another worker queued bytes: wait for writable here. */
static void
logfile_arm_cb(void *arg)
{
	struct logfile	*lf = arg;

	pthread_mutex_lock(&logfile_mu);
	if (lf->qlen > 0 && lf->wev != NULL)
		event_add(lf->wev, NULL);
	pthread_mutex_unlock(&logfile_mu);
}

/* The queue holds bytes: the owner's loop waits for writable. */
static void
logfile_arm(struct logfile *lf)
{
	if (worker_self() == lf->owner)
		event_add(lf->wev, NULL);
	else if (worker_post(lf->owner, logfile_arm_cb, NULL, lf) == -1)
		log_warnx("access log %s: out of memory", lf->path);
}

static void	logfile_write_locked(struct logfile *, const char *, size_t);

/* Writes, queues or drops one line. */
void
logfile_write(struct logfile *lf, const char *s, size_t len)
{
	pthread_mutex_lock(&logfile_mu);
	logfile_write_locked(lf, s, len);
	pthread_mutex_unlock(&logfile_mu);
}

/* logfile_write() under the lock. */
static void
logfile_write_locked(struct logfile *lf, const char *s, size_t len)
{
	ssize_t	n = 0;

	if (lf->qlen == 0) {
		do
			n = write(lf->fd, s, len);
		while (n == -1 && errno == EINTR);
		if (n >= 0 && (size_t)n == len)
			return;
		if (n == -1 && errno != EAGAIN) {
			logfile_drop(lf, 1, errno);
			return;
		}
		if (n == -1)
			n = 0;
	}
	/* The rest of a line already begun is always kept: no torn lines. */
	if (lf->wev == NULL || (n == 0 && lf->qlen + len > LOGFILE_QUEUE_MAX)) {
		logfile_drop(lf, 1, 0);
		return;
	}
	if (lf->queue == NULL &&
	    (lf->queue = malloc(LOGFILE_QUEUE_MAX + LOG_LINE_MAX)) == NULL) {
		logfile_drop(lf, 1, ENOMEM);
		return;
	}
	if (len - (size_t)n > LOGFILE_QUEUE_MAX + LOG_LINE_MAX - lf->qlen) {
		logfile_drop(lf, 1, 0);
		return;
	}
	memcpy(lf->queue + lf->qlen, s + n, len - (size_t)n);
	lf->qlen += len - (size_t)n;
	logfile_arm(lf);
}

/* Opens the path again, for logrotate. */
int
logfile_reopen(struct logfile *lf, char **cause)
{
	int	fd, old = lf->fd, created;

	*cause = NULL;
	if ((fd = logfile_fd(lf->path, &created, cause)) == -1)
		return -1;
	pthread_mutex_lock(&logfile_mu);
	lf->created = created;
	lf->fd = fd;
	if (logfile_event(lf) == -1) {
		log_cause(cause, "cannot make its event");
		close(fd);
		lf->fd = old;
		logfile_event(lf);
		pthread_mutex_unlock(&logfile_mu);
		return -1;
	}
	close(old);
	if (lf->qlen > 0)
		event_add(lf->wev, NULL);
	pthread_mutex_unlock(&logfile_mu);
	return 0;
}

/* Gives a file the open made to the user that will write to it. */
int
logfile_chown(struct logfile *lf, uid_t uid, gid_t gid)
{
	if (!lf->created)
		return 0;
	return fchown(lf->fd, uid, gid);
}

/* Last chance for the queue, then the file goes. */
void
logfile_free(struct logfile *lf)
{
	if (lf == NULL)
		return;
	pthread_mutex_lock(&logfile_mu);
	if (lf->fd != -1) {
		logfile_flush(lf);
		close(lf->fd);
	}
	pthread_mutex_unlock(&logfile_mu);
	/* What the file never took is counted, if not noted. */
	logfile_ndropped += logfile_lines(lf->queue, lf->qlen);
	if (lf->wev != NULL)
		event_free(lf->wev);
	free(lf->queue);
	free(lf->path);
	free(lf);
}

/* Lines dropped since start-up. */
uint64_t
logfile_dropped(void)
{
	return logfile_ndropped;
}
