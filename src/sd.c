/* sd.c -- systemd integration: the notify protocol and socket activation. */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "sd.h"

/* Parses a whole decimal number (an unset variable is none). */
static int
sd_parse_ull(const char *s, unsigned long long *out)
{
	return s == NULL ? -1 : config_parse_uint(s, out);
}

/* Whether $NOTIFY_SOCKET is set. */
int
sd_notify_enabled(void)
{
	const char	*path = getenv("NOTIFY_SOCKET");

	return path != NULL && *path != '\0';
}

/*
 * The notify protocol (sd_notify(3)): one datagram of newline-separated
 * VAR=VALUE lines to the AF_UNIX socket named by $NOTIFY_SOCKET, an
 * abstract one when the name starts with '@'. A fresh socket per message:
 * they are rare, and nothing stays open across a fork or an exec.
 */
int
sd_notify_send(const char *fmt, ...)
{
	struct sockaddr_un sun;
	const char	*path = getenv("NOTIFY_SOCKET");
	char		 msg[512];
	va_list		 ap;
	socklen_t	 len;
	size_t		 plen;
	ssize_t		 n;
	int		 fd, rc;

	if (path == NULL || *path == '\0')
		return 0;
	plen = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || plen >= sizeof(sun.sun_path)) {
		log_debug("sd: NOTIFY_SOCKET \"%s\" is not usable", path);
		return -1;
	}
	va_start(ap, fmt);
	rc = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (rc < 0 || (size_t)rc >= sizeof(msg))
		return -1;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, plen);
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen +
	    (path[0] == '/'));
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1) {
		log_warn("sd: notify socket");
		return -1;
	}
	n = sendto(fd, msg, (size_t)rc, MSG_NOSIGNAL,
	    (struct sockaddr *)&sun, len);
	if (n == -1)
		log_debug("sd: notify %s: %s", path, strerror(errno));
	close(fd);
	return n == rc ? 1 : -1;
}

/* READY=1 once every listener is up. */
void
sd_notify_ready(unsigned nconns)
{
	sd_notify_send("READY=1\nSTATUS=%u connections", nconns);
}

/*
 * RELOADING=1 with the time of the request: systemd >= 253 (Type=
 * notify-reload) wants MONOTONIC_USEC to tell this reload from the last.
 */
void
sd_notify_reloading(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	sd_notify_send("RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ULL +
	    (unsigned long long)ts.tv_nsec / 1000ULL);
}

/* STOPPING=1 when a graceful stop begins. */
void
sd_notify_stopping(unsigned nconns)
{
	sd_notify_send("STOPPING=1\nSTATUS=stopping, %u connections", nconns);
}

/* STATUS= with the connection count, shown by systemctl status. */
void
sd_notify_status(unsigned nconns)
{
	sd_notify_send("STATUS=%u connections", nconns);
}

/* Keeps the watchdog from restarting us. */
void
sd_notify_watchdog(void)
{
	sd_notify_send("WATCHDOG=1");
}

/* The watchdog period, when the watchdog is on for this process. */
uint64_t
sd_watchdog_usec(void)
{
	unsigned long long usec, pid;
	const char	*s;

	if (sd_parse_ull(getenv("WATCHDOG_USEC"), &usec) == -1 || usec == 0)
		return 0;
	s = getenv("WATCHDOG_PID");
	if (s != NULL && (sd_parse_ull(s, &pid) == -1 ||
	    pid != (unsigned long long)getpid()))
		return 0;
	return usec;
}

/* Socket activation (sd_listen_fds(3)). */
int
sd_listen_fds(char **names)
{
	unsigned long long pid, n;
	const char	*s;
	int		 fd, flags, rc = 0;

	*names = NULL;
	if ((s = getenv("LISTEN_PID")) == NULL)
		return 0;
	if (sd_parse_ull(s, &pid) == -1) {
		log_warnx("sd: bad LISTEN_PID \"%s\"", s);
		rc = -1;
		goto out;
	}
	/* Meant for the process that exec'd us, not for us: ignore. */
	if (pid != (unsigned long long)getpid())
		goto out;
	s = getenv("LISTEN_FDS");
	if (sd_parse_ull(s, &n) == -1 ||
	    n > (unsigned long long)(INT_MAX - SD_LISTEN_FDS_START)) {
		log_warnx("sd: bad LISTEN_FDS \"%s\"", s ? s : "");
		rc = -1;
		goto out;
	}
	for (fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + (int)n;
	    fd++) {
		if ((flags = fcntl(fd, F_GETFD)) == -1) {
			log_warn("sd: passed descriptor %d", fd);
			rc = -1;
			goto out;
		}
		if (fcntl(fd, F_SETFD, flags | FD_CLOEXEC) == -1) {
			log_warn("sd: passed descriptor %d", fd);
			rc = -1;
			goto out;
		}
	}
	if ((s = getenv("LISTEN_FDNAMES")) != NULL &&
	    (*names = strdup(s)) == NULL)
		fatal("%s", __func__);
	rc = (int)n;
out:
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return rc;
}

/* Whether fd listens on a stream socket bound to ss (port 0: any port). */
int
sd_socket_matches(int fd, const struct sockaddr_storage *ss, socklen_t len)
{
	struct sockaddr_storage	 bound;
	socklen_t		 blen = sizeof(bound), olen;
	int			 type, listening;

	olen = sizeof(type);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &olen) == -1 ||
	    type != SOCK_STREAM)
		return 0;
	olen = sizeof(listening);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &olen) ==
	    -1 || !listening)
		return 0;
	if (getsockname(fd, (struct sockaddr *)&bound, &blen) == -1 ||
	    bound.ss_family != ss->ss_family || blen != len)
		return 0;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)ss;
		const struct sockaddr_in *b = (const void *)&bound;

		return a->sin_addr.s_addr == b->sin_addr.s_addr &&
		    (a->sin_port == 0 || a->sin_port == b->sin_port);
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)ss;
		const struct sockaddr_in6 *b = (const void *)&bound;

		return memcmp(&a->sin6_addr, &b->sin6_addr,
		    sizeof(a->sin6_addr)) == 0 &&
		    (a->sin6_port == 0 || a->sin6_port == b->sin6_port);
	}
	return 0;
}
