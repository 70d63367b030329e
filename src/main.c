/* main.c -- command line, start-up order, exit codes. */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "app.h"
#include "apps/exec.h"
#include "config.h"
#include "conn.h"
#include "log.h"
#include "pmd.h"
#include "server.h"
#include "tls.h"
#include "worker.h"

#define WSD_CONFIG_FILE	WSD_SYSCONFDIR "/wsd.ini"
/* -l options, at most. */
#define MAIN_LISTEN_MAX	64

/* Long options: one per line, each the twin of a short one. */
static const struct option main_longopts[] = {
	{ "config",	required_argument,	NULL,	'c' },
	{ "help",	no_argument,		NULL,	'h' },
	{ "listen",	required_argument,	NULL,	'l' },
	{ "print",	no_argument,		NULL,	'T' },
	{ "test",	no_argument,		NULL,	't' },
	{ "verbose",	no_argument,		NULL,	'v' },
	{ "version",	no_argument,		NULL,	'V' },
	{ NULL,		0,			NULL,	0 }
};

/* Prints the usage line to f. */
static void
usage(FILE *f)
{
	fprintf(f, "usage: wsd [-TtVhv] [-c file] [-l addr:port]...\n"
	    "  -c, --config file  read this config file (default: %s,\n"
	    "                     or the embedded default when it does not exist)\n"
	    "  -l, --listen addr:port\n"
	    "                     listen here instead of the config's listen lines\n"
	    "                     (repeatable; flags as in listen, e.g. \"ADDR:PORT tls\")\n"
	    "  -t, --test         check the config and exit\n"
	    "  -T, --print        check the config, print it as wsd sees it and exit\n"
	    "  -v, --verbose      more verbose logging (repeatable)\n"
	    "  -V, --version      print the version and exit\n"
	    "  -h, --help         print this help and exit\n", WSD_CONFIG_FILE);
}

/* Routes libevent's own messages through our log. */
static void
main_event_log_cb(int severity, const char *msg)
{
	if (severity >= EVENT_LOG_ERR)
		log_errx("libevent: %s", msg);
	else if (severity == EVENT_LOG_WARN)
		log_warnx("libevent: %s", msg);
	else
		log_debug("libevent: %s", msg);
}

/*
 * The demo pages for the embedded default: the source tree's www/ when
 * this binary is the one in the build tree, else the installed copy.
 */
static const char *
main_www_root(void)
{
	char	exe[PATH_MAX];
	ssize_t	n;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		if (strcmp(exe, WSD_BUILDDIR "/wsd") == 0)
			return WSD_SRCDIR "/www";
	}
	return WSD_WWWDIR;
}

/* Prints every config error, one per line, and frees them. */
static void
main_print_errors(char *errors)
{
	if (errors != NULL) {
		fprintf(stderr, "%s\n", errors);
		free(errors);
	}
}

/* workers = auto: the CPUs this process may run on. */
static unsigned
main_ncpus(void)
{
	cpu_set_t	set;
	int		n;

	if (sched_getaffinity(0, sizeof(set), &set) == -1 ||
	    (n = CPU_COUNT(&set)) < 1)
		return 1;
	return n > WORKER_MAX ? WORKER_MAX : (unsigned)n;
}

/*
 * A worker's thread: its loop until the stop, then what it holds. Worker
 * 0 (the main thread) is freed by main once the others are gone.
 */
static void
main_worker_run(unsigned i, void *arg)
{
	struct server	*srv = arg;

	server_run(srv);
	if (i == 0)
		return;
	server_free(srv);
	/* No program of an exec route outlives wsd. */
	exec_stop_all();
	conn_loop_free();
	pmd_pool_free();
}

/* A worker started while another could not: stop it at once. */
static void
main_worker_stop(void *arg)
{
	struct server	*srv = arg;

	event_base_loopexit(srv->base, NULL);
}

/* Frees the servers of workers 0..n-1 that were set up. */
static void
main_servers_free(struct server *srvs, unsigned n)
{
	unsigned	i;

	for (i = n; i-- > 0;) {
		worker_act_as(i);
		server_free(&srvs[i]);
	}
	worker_act_as(0);
}

/*
 * Sets up every worker's server, worker 0's first: the others listen
 * where it does. Each takes a reference to conf and its own
 * certificates (tls is worker 0's). -1 (logged) on failure, nothing
 * left set up.
 */
static int
main_servers(struct server *srvs, struct server **all, unsigned n,
    struct wsd_config *conf, struct tls *tls)
{
	char		*errors = NULL;
	unsigned	 i;
	int		 line;

	for (i = 0; i < n; i++)
		all[i] = &srvs[i];
	server_workers(all, n);
	for (i = 0; i < n; i++) {
		worker_act_as(i);
		if (i > 0 && conf->tls.line != 0 &&
		    (tls = tls_new(conf, &errors, &line)) == NULL) {
			log_errx("worker %u: tls: %s", i, errors ? errors :
			    "?");
			free(errors);
			main_servers_free(srvs, i);
			return -1;
		}
		if (server_init(&srvs[i], worker_base(i), config_ref(conf),
		    tls) == -1) {
			if (i > 0)
				log_errx("worker %u: cannot start", i);
			main_servers_free(srvs, i + 1);
			return -1;
		}
		tls = NULL;
	}
	worker_act_as(0);
	return 0;
}

int
main(int argc, char *argv[])
{
	struct wsd_config	*conf;
	struct server		*srvs, **all;
	void			**args;
	struct tls		*tls = NULL;
	struct config_source	 src;
	char			*listens[MAIN_LISTEN_MAX];
	const char		*file = NULL, *www = NULL;
	char			*errors = NULL;
	int			 ch, test = 0, print = 0, verbose = 0;
	int			 embedded = 0, tls_line;
	long			 nofile;
	unsigned		 i, nworkers;
	int			 rc = 0;

	log_init(LOG_LVL_INFO);
	app_register();
	/* wsd -t: certificates that do not load are errors like the rest. */
	config_register_tls_check(tls_check);
	memset(&src, 0, sizeof(src));
	src.listens = listens;
	while ((ch = getopt_long(argc, argv, "c:l:tThvV", main_longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			file = optarg;
			break;
		case 'l':
			if (src.nlistens == MAIN_LISTEN_MAX) {
				fprintf(stderr, "wsd: -l: at most %d\n",
				    MAIN_LISTEN_MAX);
				return 1;
			}
			listens[src.nlistens++] = optarg;
			break;
		case 't':
			test = 1;
			break;
		case 'T':
			test = print = 1;
			break;
		case 'v':
			verbose++;
			break;
		case 'V':
			printf("wsd %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 1;
	}

	if (file == NULL && access(WSD_CONFIG_FILE, F_OK) == 0)
		file = WSD_CONFIG_FILE;
	if (file == NULL) {
		embedded = 1;
		www = main_www_root();
	}
	src.file = file;
	src.www_root = www;
	conf = config_open(&src, &errors);
	if (conf == NULL) {
		main_print_errors(errors);
		if (test)
			fprintf(stderr, "%s: configuration failed\n",
			    file ? file : "(embedded)");
		return 1;
	}
	/* Certificates are part of the config: -t loads them too. */
	if (conf->tls.line != 0 &&
	    (tls = tls_new(conf, &errors, &tls_line)) == NULL) {
		fprintf(stderr, "%s:%d: tls: %s\n", conf->tls.file != NULL ?
		    conf->tls.file : file ? file : "(embedded)", tls_line,
		    errors ? errors : "?");
		free(errors);
		if (test)
			fprintf(stderr, "%s: configuration failed\n",
			    file ? file : "(embedded)");
		config_free(conf);
		return 1;
	}
	if (test) {
		if (print)
			config_print(conf, stdout);
		fprintf(stderr, "%s: configuration OK\n",
		    file ? file : "(embedded)");
		tls_free(tls);
		config_free(conf);
		return 0;
	}

	log_set_level(conf->log_level + verbose);
	log_set_target(conf->log_target);
	if (embedded)
		log_info("wsd %s starting: no config file (%s not found), "
		    "running the embedded default config (demo pages from %s)",
		    PACKAGE_VERSION, WSD_CONFIG_FILE, www);
	else
		log_info("wsd %s starting with config %s", PACKAGE_VERSION,
		    file);

	nofile = server_raise_nofile();
	if (nofile > 0)
		log_info("open files limit: %ld", nofile);
	else
		log_info("open files limit: unlimited");

	/* A peer that goes away mid-write must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	event_set_log_callback(main_event_log_cb);
	nworkers = conf->workers != 0 ? conf->workers : main_ncpus();
	srvs = calloc(nworkers, sizeof(*srvs));
	all = calloc(nworkers, sizeof(*all));
	args = calloc(nworkers, sizeof(*args));
	if (srvs == NULL || all == NULL || args == NULL)
		fatal("workers");
	if (worker_setup(nworkers) == -1)
		fatalx("cannot set up %u workers", nworkers);
	log_info("workers: %u%s", nworkers, conf->workers != 0 ? "" :
	    " (auto)");
	/*
	 * Bind and load keys as root, then write the pid file and drop. Each
	 * server's first generation takes a reference to conf (worker 0's
	 * takes tls too); a reload replaces it, main's reference keeps the
	 * start-up config (pid_file, user).
	 */
	if (main_servers(srvs, all, nworkers, conf, tls) == -1) {
		rc = 1;
		goto out;
	}
	if (server_access_log(&srvs[0], conf, "") == -1 ||
	    server_pid_file_write(conf) == -1 ||
	    server_drop_privileges(conf) == -1) {
		main_servers_free(srvs, nworkers);
		server_workers_end();
		log_access_close();
		server_pid_file_remove(conf);
		rc = 1;
		goto out;
	}
	for (i = 0; i < nworkers; i++) {
		srvs[i].source = &src;
		srvs[i].verbose = verbose;
		args[i] = &srvs[i];
	}
	if (worker_run(main_worker_run, main_worker_stop, args) == -1) {
		log_errx("a worker could not start: stopping");
		rc = 1;
	}
	server_free(&srvs[0]);
	exec_stop_all();
	server_workers_end();
	log_access_close();
	pmd_pool_free();
	server_pid_file_remove(conf);
	log_info("stopped");
out:
	/* Calls no worker ran any more; then the loops. */
	worker_teardown();
	free(srvs);
	free(all);
	free(args);
	config_free(conf);
	return rc;
}
