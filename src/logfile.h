/* logfile.h -- a log file whose writes never block the event loop. */
#ifndef WSD_LOGFILE_H
#define WSD_LOGFILE_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct logfile;

/*
 * Lines queued while the file cannot take them (a pipe nobody reads): at
 * most this many bytes; a line that does not fit is dropped and counted.
 */
#define LOGFILE_QUEUE_MAX	(256 * 1024)
/* Seconds between two "lines dropped" notes in the main log. */
#define LOGFILE_NOTE_INTERVAL	60

/*
 * Opens path for appending (O_APPEND | O_NONBLOCK, created 0640). base
 * runs the writable event that drains the queue (NULL: no queue, a line
 * that would block is dropped). NULL with *cause (caller frees).
 */
struct logfile	*logfile_open(const char *path, struct event_base *base,
		    char **cause);
/*
 * Opens the path again (logrotate renamed the file: SIGUSR1); queued
 * lines go to the new file. On failure the old file stays in use and -1
 * comes back with *cause (caller frees).
 */
int		 logfile_reopen(struct logfile *lf, char **cause);
/*
 * Before privileges are dropped: a file that the open created (as root)
 * goes to the user that will reopen it after a rotation. -1 with errno.
 */
int		 logfile_chown(struct logfile *lf, uid_t uid, gid_t gid);
/* Tries once to write what is queued, then closes and frees. */
void		 logfile_free(struct logfile *lf);
const char	*logfile_path(const struct logfile *lf);
/*
 * Writes one whole line (newline included), or queues what the file did
 * not take, or drops the line when the queue is full or the write failed
 * (ENOSPC, EIO...): never waits.
 */
void		 logfile_write(struct logfile *lf, const char *line, size_t len);
/* Lines dropped by every log file since start-up. */
uint64_t	 logfile_dropped(void);

#endif
