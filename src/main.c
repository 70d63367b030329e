/* main.c -- command line, start-up order, exit codes. */
#include <errno.h>
#include <getopt.h>
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
#include "log.h"
#include "pmd.h"
#include "server.h"
#include "tls.h"

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

int
main(int argc, char *argv[])
{
	struct wsd_config	*conf;
	struct event_base	*base;
	struct event_config	*ecfg;
	struct server		 srv;
	struct tls		*tls = NULL;
	struct config_source	 src;
	char			*listens[MAIN_LISTEN_MAX];
	const char		*file = NULL, *www = NULL;
	char			*errors = NULL;
	int			 ch, test = 0, print = 0, verbose = 0;
	int			 embedded = 0, tls_line;
	long			 nofile;

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
	/*
	 * The changelist folds the interest changes of one loop iteration
	 * into one epoll_ctl per socket at most: a bufferevent's enable and
	 * disable around a response, or the hand-over of an upgraded socket,
	 * cost nothing when they cancel out (8 to 3 calls per hello).
	 */
	if ((ecfg = event_config_new()) == NULL ||
	    event_config_set_flag(ecfg,
	    EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST) == -1 ||
	    (base = event_base_new_with_config(ecfg)) == NULL)
		fatalx("cannot create the event loop");
	event_config_free(ecfg);
	/*
	 * Bind and load keys as root, then write the pid file and drop. The
	 * server's first generation takes conf and tls; a reload replaces
	 * it, this reference keeps the start-up config (pid_file, user) for
	 * main.
	 */
	if (server_init(&srv, base, config_ref(conf), tls) == -1 ||
	    server_access_log(&srv, conf, "") == -1 ||
	    server_pid_file_write(conf) == -1) {
		server_free(&srv);
		log_access_close();
		event_base_free(base);
		config_free(conf);
		return 1;
	}
	if (server_drop_privileges(conf) == -1) {
		server_free(&srv);
		log_access_close();
		server_pid_file_remove(conf);
		event_base_free(base);
		config_free(conf);
		return 1;
	}
	srv.source = &src;
	srv.verbose = verbose;
	server_run(&srv);
	server_free(&srv);
	/* No program of an exec route outlives wsd. */
	exec_stop_all();
	log_access_close();
	pmd_pool_free();
	server_pid_file_remove(conf);
	event_base_free(base);
	config_free(conf);
	log_info("stopped");
	return 0;
}
