/* exec.h -- what the core needs of the exec app beyond struct app. */
#ifndef WSD_EXEC_H
#define WSD_EXEC_H

extern const struct app app_exec;

#define EXEC_MODE_LINES		0	/* a message is a line */
#define EXEC_MODE_BINARY	1	/* a message is what one read gave */

/*
 * At exit, once every connection is closed: programs still running get
 * SIGTERM, then SIGKILL after their kill_timeout; every one is reaped
 * before this returns, so that none outlives wsd or is left a zombie.
 */
void	exec_stop_all(void);

#endif
