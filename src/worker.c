/*
 * worker.c -- worker threads. Each worker owns one libevent loop and
 * everything that runs in it; nothing of a loop is touched from another
 * thread. What one worker asks of another goes through the other's
 * queue: a mutex-guarded list of calls and an eventfd in its loop, which
 * is written only when the list was empty, so a burst of calls costs one
 * wakeup.
 */
#include <sys/eventfd.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "log.h"
#include "worker.h"

_Static_assert(WORKER_MAX == CONFIG_WORKERS_MAX, "workers: one maximum");

struct worker {
	unsigned		 index;
	struct event_base	*base;
	struct event		*ev_wake;
	int			 efd;
	pthread_t		 thread;
	int			 started;
	pthread_mutex_t		 mu;
	struct worker_call	*head;		/* guarded by mu */
	struct worker_call	**tail;
	unsigned		 nqueued;	/* guarded by mu */
	void			(*run)(unsigned, void *);
	void			*arg;
};

/*
 * ThreadSanitizer tracks descriptors: the changelist's late EPOLL_CTL_DEL
 * of a socket closed meanwhile, whose number another worker's accept4()
 * has taken, looks to it like a race (it is not: the kernel dropped the
 * socket from this worker's set, the DEL fails with ENOENT and libevent
 * ignores it), and reporting it has crashed TSan itself. Its build goes
 * without the changelist.
 */
#if defined(__SANITIZE_THREAD__)
#define WORKER_CHANGELIST	0
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WORKER_CHANGELIST	0
#endif
#endif
#ifndef WORKER_CHANGELIST
#define WORKER_CHANGELIST	1
#endif

static struct worker	*workers;
static unsigned		 nworkers = 1;
static _Thread_local unsigned worker_me;

/* Runs the calls posted to a worker, in the order they came. */
static void
worker_wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker		*w = arg;
	struct worker_call	*call, *next;
	uint64_t		 n;
	int			 owned;

	(void)what;
	if (read(fd, &n, sizeof(n)) == -1 && errno != EAGAIN)
		log_warn("worker %u: eventfd", w->index);
	pthread_mutex_lock(&w->mu);
	call = w->head;
	w->head = NULL;
	w->tail = &w->head;
	w->nqueued = 0;
	pthread_mutex_unlock(&w->mu);
	/* fn may free or post again a call of the caller's own. */
	for (; call != NULL; call = next) {
		next = call->next;
		owned = call->owned;
		call->fn(call->arg);
		if (owned)
			free(call);
	}
}

/* Makes the loops and queues. */
int
worker_setup(unsigned n)
{
	struct event_config	*ecfg;
	struct worker		*w;
	unsigned		 i;

	if (n == 0 || n > WORKER_MAX || workers != NULL)
		return -1;
	if ((workers = calloc(n, sizeof(*workers))) == NULL) {
		log_warn("workers");
		return -1;
	}
	nworkers = n;
	for (i = 0; i < n; i++) {
		w = &workers[i];
		w->index = i;
		w->efd = -1;
		w->tail = &w->head;
		pthread_mutex_init(&w->mu, NULL);
		/*
		 * The changelist folds the interest changes of one loop
		 * iteration into one epoll_ctl per socket at most: a
		 * bufferevent's enable and disable around a response, or
		 * the hand-over of an upgraded socket, cost nothing when
		 * they cancel out (8 to 3 calls per hello).
		 */
		if ((ecfg = event_config_new()) == NULL ||
		    (WORKER_CHANGELIST && event_config_set_flag(ecfg,
		    EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST) == -1) ||
		    (w->base = event_base_new_with_config(ecfg)) == NULL) {
			if (ecfg != NULL)
				event_config_free(ecfg);
			log_warnx("worker %u: cannot create the event loop",
			    i);
			return -1;
		}
		event_config_free(ecfg);
		if ((w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1 ||
		    (w->ev_wake = event_new(w->base, w->efd,
		    EV_READ | EV_PERSIST, worker_wake_cb, w)) == NULL ||
		    event_add(w->ev_wake, NULL) == -1) {
			log_warn("worker %u: wakeup", i);
			return -1;
		}
	}
	return 0;
}

/* Frees the loops; calls nobody ran are dropped with their memory. */
void
worker_teardown(void)
{
	struct worker_call	*call, *next;
	unsigned		 i;
	int			 owned;

	for (i = 0; workers != NULL && i < nworkers; i++) {
		struct worker *w = &workers[i];

		for (call = w->head; call != NULL; call = next) {
			next = call->next;
			owned = call->owned;
			if (call->drop != NULL)
				call->drop(call->arg);
			if (owned)
				free(call);
		}
		if (w->ev_wake != NULL)
			event_free(w->ev_wake);
		if (w->efd != -1)
			close(w->efd);
		if (w->base != NULL)
			event_base_free(w->base);
		pthread_mutex_destroy(&w->mu);
	}
	free(workers);
	workers = NULL;
	nworkers = 1;
}

/* How many workers there are. */
unsigned
worker_count(void)
{
	return nworkers;
}

/* The calling thread's worker. */
unsigned
worker_self(void)
{
	return worker_me;
}

/* The main thread sets worker i up. */
void
worker_act_as(unsigned i)
{
	worker_me = i;
}

/* Worker i's loop. */
struct event_base *
worker_base(unsigned i)
{
	return workers[i].base;
}

/* Appends a call to worker to's queue, waking it for a first one. */
static void
worker_enqueue(unsigned to, struct worker_call *call, void (*fn)(void *),
    void (*drop)(void *), void *arg)
{
	struct worker		*w = &workers[to];
	uint64_t		 one = 1;
	int			 wake;

	call->next = NULL;
	call->fn = fn;
	call->drop = drop;
	call->arg = arg;
	pthread_mutex_lock(&w->mu);
	wake = w->head == NULL;
	*w->tail = call;
	w->tail = &call->next;
	w->nqueued++;
	pthread_mutex_unlock(&w->mu);
	/* A full counter (2^64 - 2 wakeups unread) cannot happen. */
	if (wake && write(w->efd, &one, sizeof(one)) == -1 && errno != EAGAIN)
		log_warn("worker %u: eventfd", to);
}

/* Queues fn(arg) for worker to. */
int
worker_post(unsigned to, void (*fn)(void *), void (*drop)(void *),
    void *arg)
{
	struct worker_call	*call;

	if ((call = malloc(sizeof(*call))) == NULL)
		return -1;
	call->owned = 1;
	worker_enqueue(to, call, fn, drop, arg);
	return 0;
}

/* The caller's call, queued. */
void
worker_post_call(unsigned to, struct worker_call *call, void (*fn)(void *),
    void (*drop)(void *), void *arg)
{
	call->owned = 0;
	worker_enqueue(to, call, fn, drop, arg);
}

/* Calls waiting in worker i's queue. */
unsigned
worker_queued(unsigned i)
{
	unsigned	n;

	pthread_mutex_lock(&workers[i].mu);
	n = workers[i].nqueued;
	pthread_mutex_unlock(&workers[i].mu);
	return n;
}

/* A worker thread's body. */
static void *
worker_main(void *arg)
{
	struct worker	*w = arg;

	worker_me = w->index;
	w->run(w->index, w->arg);
	return NULL;
}

/* Starts workers 1..n-1, runs worker 0 here, joins the others. */
int
worker_run(void (*run)(unsigned, void *), void (*stop)(void *), void **args)
{
	sigset_t	 all, old;
	unsigned	 i;
	int		 err, rc = 0;

	/* Signals are the main thread's: its loop handles them. */
	sigemptyset(&all);
	sigaddset(&all, SIGTERM);
	sigaddset(&all, SIGINT);
	sigaddset(&all, SIGHUP);
	sigaddset(&all, SIGUSR1);
	sigaddset(&all, SIGCHLD);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (i = 1; i < nworkers; i++) {
		workers[i].run = run;
		workers[i].arg = args[i];
		if ((err = pthread_create(&workers[i].thread, NULL,
		    worker_main, &workers[i])) != 0) {
			log_warnx("worker %u: cannot start a thread: %s", i,
			    strerror(err));
			rc = -1;
			break;
		}
		workers[i].started = 1;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc == 0)
		run(0, args[0]);
	for (i = 1; i < nworkers; i++) {
		if (!workers[i].started)
			continue;
		if (rc == -1)
			worker_post(i, stop, NULL, args[i]);
		pthread_join(workers[i].thread, NULL);
		workers[i].started = 0;
	}
	return rc;
}
