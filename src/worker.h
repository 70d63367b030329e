/* worker.h -- worker threads: one event loop each, and calls between them. */
#ifndef WSD_WORKER_H
#define WSD_WORKER_H

struct event_base;

/* workers = N takes at most this many. */
#define WORKER_MAX	64

/*
 * Makes n event loops (n <= WORKER_MAX), one per worker, and the queue
 * each worker takes calls from. Before any other worker_ function but
 * worker_count() and worker_self(); -1 (logged) on failure.
 */
int		 worker_setup(unsigned n);
/* Frees the loops and what their queues still hold; after worker_run(). */
void		 worker_teardown(void);
/* How many workers run (1 before worker_setup()). */
unsigned	 worker_count(void);
/* The index of the calling thread's worker: 0 for the main thread. */
unsigned	 worker_self(void);
/*
 * The main thread sets every worker up in turn before the threads start
 * (listeners are bound before privileges are dropped): it acts as worker
 * i meanwhile, so that what is made for worker i is filed under i.
 */
void		 worker_act_as(unsigned i);
/* Worker i's event loop. */
struct event_base *worker_base(unsigned i);
/*
 * Runs run(i, arg) on a thread of its own for every worker but 0, and
 * run(0, arg) on the calling thread; returns once all have returned.
 * The threads block the signals the main thread handles. -1 (logged)
 * when a thread cannot be started: the ones started are told to stop
 * (stop(i, arg) posted to them) and joined.
 */
int		 worker_run(void (*run)(unsigned, void *),
		    void (*stop)(void *), void **args);
/*
 * Runs fn(arg) on worker to's thread, from its loop, after the calls
 * posted to it before this one: calls from one thread to one worker
 * keep their order. A worker whose queue was empty is woken once for a
 * batch. -1 when out of memory (fn does not run). A call still queued
 * when its worker has stopped gets drop(arg) at worker_teardown(), from
 * the main thread, instead (drop NULL: nothing).
 */
int		 worker_post(unsigned to, void (*fn)(void *),
		    void (*drop)(void *), void *arg);

/* A call's place in a queue; a caller may keep one of its own. */
struct worker_call {
	struct worker_call	*next;
	void			(*fn)(void *);
	void			(*drop)(void *);
	void			*arg;
	int			 owned;	/* the queue's: freed after */
};

/*
 * worker_post() in the caller's call, which must live until fn or drop
 * has run (either may free it, or post it again): cannot fail. For
 * answers that must arrive.
 */
void		 worker_post_call(unsigned to, struct worker_call *call,
		    void (*fn)(void *), void (*drop)(void *), void *arg);
/* Calls posted to worker i and not run yet (a gauge). */
unsigned	 worker_queued(unsigned i);

#endif
