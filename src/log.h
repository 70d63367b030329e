/* log.h -- leveled logging to stderr, in the OpenBSD shape. */
#ifndef WSD_LOG_H
#define WSD_LOG_H

#include <stdarg.h>

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
/* Turns the access log on or off. */
void	log_set_access(int on);
/* Parses "error|warn|info|debug"; -1 when unknown. */
int	log_level_parse(const char *s);
/* Parses "stderr|syslog"; -1 when unknown. */
int	log_target_parse(const char *s);
/* Sends lines to stderr or to syslog(3) (facility daemon, ident wsd). */
void	log_set_target(int target);

/* ISO-8601 UTC now, with 3 (ms) or 6 (us) fraction digits and a Z. */
void	log_timestamp(char out[32], int digits);

/* _warn variants append strerror(errno); _x variants do not. */
void	log_err(const char *fmt, ...) LOG_PRINTF(1, 2);
void	log_errx(const char *fmt, ...) LOG_PRINTF(1, 2);
void	log_warn(const char *fmt, ...) LOG_PRINTF(1, 2);
void	log_warnx(const char *fmt, ...) LOG_PRINTF(1, 2);
void	log_info(const char *fmt, ...) LOG_PRINTF(1, 2);
void	log_debug(const char *fmt, ...) LOG_PRINTF(1, 2);
/* One line per HTTP request or WebSocket session, when enabled. */
void	log_access(const char *fmt, ...) LOG_PRINTF(1, 2);
/* Start-up failures and broken invariants only: log and exit(1). */
void	fatal(const char *fmt, ...) LOG_PRINTF(1, 2) __attribute__((noreturn));
void	fatalx(const char *fmt, ...) LOG_PRINTF(1, 2) __attribute__((noreturn));

#endif
