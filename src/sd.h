/* sd.h -- systemd integration: the notify protocol and socket activation. */
#ifndef WSD_SD_H
#define WSD_SD_H

#include <stdint.h>
#include <sys/socket.h>

#include "log.h"

/*
 * No libsystemd: both protocols are a few lines (a datagram to
 * $NOTIFY_SOCKET, descriptors from 3 named by $LISTEN_FDS), and every call
 * is a no-op when the variables are not set, so wsd runs the same under
 * systemd, another supervisor or a shell.
 */

/* The first passed descriptor (SD_LISTEN_FDS_START in sd-daemon.h). */
#define SD_LISTEN_FDS_START	3

/* Sends "STATE\nSTATE..." to $NOTIFY_SOCKET; 0 unset, 1 sent, -1 error. */
int	sd_notify_send(const char *fmt, ...) LOG_PRINTF(1, 2);
/* Whether $NOTIFY_SOCKET is set, that is, whether notify is worth it. */
int	sd_notify_enabled(void);
/* READY=1 with a STATUS= line. */
void	sd_notify_ready(unsigned nconns);
/* RELOADING=1 and MONOTONIC_USEC=now, before a reload. */
void	sd_notify_reloading(void);
/* STOPPING=1, when a graceful stop begins. */
void	sd_notify_stopping(unsigned nconns);
/* STATUS= with the connection count. */
void	sd_notify_status(unsigned nconns);
/* WATCHDOG=1. */
void	sd_notify_watchdog(void);

/*
 * The watchdog period from $WATCHDOG_USEC, when it is set, valid and
 * meant for this process ($WATCHDOG_PID unset or ours); else 0.
 */
uint64_t sd_watchdog_usec(void);

/*
 * Socket activation: the number of descriptors passed by $LISTEN_FDS
 * (from SD_LISTEN_FDS_START) when $LISTEN_PID is this process, else 0;
 * -1 when the variables are malformed. The variables are unset and the
 * descriptors made close-on-exec. *names gets $LISTEN_FDNAMES (caller
 * frees; NULL when unset): colon-separated, one name per descriptor.
 */
int	sd_listen_fds(char **names);

/*
 * Whether fd is a listening stream socket bound to the address in
 * ss/len; a port of 0 in ss matches any port.
 */
int	sd_socket_matches(int fd, const struct sockaddr_storage *ss,
	    socklen_t len);

#endif
