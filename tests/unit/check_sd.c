/* check_sd.c -- the systemd protocols: notify datagrams, socket activation. */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "sd.h"
#include "suites.h"

/* A datagram socket standing in for systemd's; its name in *name. */
static int
notify_listener(char *name, size_t namelen, int abstract)
{
	struct sockaddr_un sun;
	socklen_t	 len;
	int		 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (abstract)
		snprintf(name, namelen, "@wsd-check-sd-%ld-%ld", (long)getpid(),
		    (long)time(NULL));
	else
		snprintf(name, namelen, "%s/wsd-check-sd-%ld.sock",
		    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
		    (long)getpid());
	ck_assert_uint_lt(strlen(name), sizeof(sun.sun_path));
	memcpy(sun.sun_path, name, strlen(name));
	if (abstract)
		sun.sun_path[0] = '\0';
	else
		unlink(name);
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
	    strlen(name) + !abstract);
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, len), 0);
	return fd;
}

/* The next datagram, as a string; "" when none is waiting. */
static const char *
notify_recv(int fd)
{
	static char	buf[1024];
	ssize_t		n;

	n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	buf[n < 0 ? 0 : n] = '\0';
	return buf;
}

/* Sends to a path and an abstract socket; nothing without the variable. */
static void
notify_roundtrip(int abstract)
{
	char		 name[108];
	const char	*msg;
	unsigned long long usec;
	struct timespec	 ts;
	int		 fd;

	fd = notify_listener(name, sizeof(name), abstract);
	unsetenv("NOTIFY_SOCKET");
	ck_assert_int_eq(sd_notify_enabled(), 0);
	ck_assert_int_eq(sd_notify_send("READY=1"), 0);
	ck_assert_str_eq(notify_recv(fd), "");

	setenv("NOTIFY_SOCKET", name, 1);
	ck_assert_int_eq(sd_notify_enabled(), 1);
	sd_notify_ready(3);
	ck_assert_str_eq(notify_recv(fd), "READY=1\nSTATUS=3 connections");
	sd_notify_status(7);
	ck_assert_str_eq(notify_recv(fd), "STATUS=7 connections");
	sd_notify_watchdog();
	ck_assert_str_eq(notify_recv(fd), "WATCHDOG=1");
	sd_notify_stopping(2);
	ck_assert_str_eq(notify_recv(fd),
	    "STOPPING=1\nSTATUS=stopping, 2 connections");

	clock_gettime(CLOCK_MONOTONIC, &ts);
	sd_notify_reloading();
	msg = notify_recv(fd);
	ck_assert_int_eq(sscanf(msg, "RELOADING=1\nMONOTONIC_USEC=%llu",
	    &usec), 1);
	ck_assert_uint_ge(usec, (unsigned long long)ts.tv_sec * 1000000ULL);
	ck_assert_uint_lt(usec, ((unsigned long long)ts.tv_sec + 60) *
	    1000000ULL);

	close(fd);
	if (!abstract)
		unlink(name);
	unsetenv("NOTIFY_SOCKET");
}

START_TEST(test_notify_path)
{
	notify_roundtrip(0);
}
END_TEST

START_TEST(test_notify_abstract)
{
	notify_roundtrip(1);
}
END_TEST

START_TEST(test_notify_bad_socket)
{
	/* Relative names and names nobody listens on fail, quietly. */
	setenv("NOTIFY_SOCKET", "relative/notify", 1);
	ck_assert_int_eq(sd_notify_send("READY=1"), -1);
	setenv("NOTIFY_SOCKET", "/nonexistent/wsd/notify", 1);
	ck_assert_int_eq(sd_notify_send("READY=1"), -1);
	setenv("NOTIFY_SOCKET", "", 1);
	ck_assert_int_eq(sd_notify_enabled(), 0);
	ck_assert_int_eq(sd_notify_send("READY=1"), 0);
	unsetenv("NOTIFY_SOCKET");
}
END_TEST

START_TEST(test_watchdog)
{
	char	pid[32];

	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	ck_assert_uint_eq(sd_watchdog_usec(), 0);
	setenv("WATCHDOG_USEC", "30000000", 1);
	ck_assert_uint_eq(sd_watchdog_usec(), 30000000);
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	setenv("WATCHDOG_PID", pid, 1);
	ck_assert_uint_eq(sd_watchdog_usec(), 30000000);
	/* Meant for another process, or malformed: off. */
	setenv("WATCHDOG_PID", "1", 1);
	ck_assert_uint_eq(sd_watchdog_usec(), 0);
	setenv("WATCHDOG_PID", "12x", 1);
	ck_assert_uint_eq(sd_watchdog_usec(), 0);
	unsetenv("WATCHDOG_PID");
	setenv("WATCHDOG_USEC", "0", 1);
	ck_assert_uint_eq(sd_watchdog_usec(), 0);
	setenv("WATCHDOG_USEC", "-5", 1);
	ck_assert_uint_eq(sd_watchdog_usec(), 0);
	setenv("WATCHDOG_USEC", "30s", 1);
	ck_assert_uint_eq(sd_watchdog_usec(), 0);
	unsetenv("WATCHDOG_USEC");
}
END_TEST

/*
 * The activation protocol fixes the descriptors at 3 and up, where check
 * keeps its own channel: the test runs in a child of its own that uses
 * no check calls and exits with the number of the first failed step.
 */
#define STEP(cond) do {						\
	step++;							\
	if (!(cond))						\
		return step;					\
} while (0)

/* A listening TCP socket on 127.0.0.1 at descriptor want; -1 on error. */
static int
listener_at(int want, unsigned *port)
{
	struct sockaddr_in sin;
	socklen_t	 len = sizeof(sin);
	int		 fd;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(fd, 4) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1)
		return -1;
	*port = ntohs(sin.sin_port);
	if (fd != want) {
		if (dup2(fd, want) != want)
			return -1;
		close(fd);
	}
	return want;
}

/* Sets the three variables, LISTEN_PID to pid (0: ours). */
static void
listen_env(long pid, const char *fds, const char *names)
{
	char	buf[32];

	snprintf(buf, sizeof(buf), "%ld", pid ? pid : (long)getpid());
	setenv("LISTEN_PID", buf, 1);
	setenv("LISTEN_FDS", fds, 1);
	if (names != NULL)
		setenv("LISTEN_FDNAMES", names, 1);
	else
		unsetenv("LISTEN_FDNAMES");
}

/* Whether fd matches the listen address text. */
static int
matches(int fd, const char *text)
{
	struct sockaddr_storage ss;
	socklen_t	 len;

	if (config_parse_address(text, &ss, &len) == -1)
		return -1;
	return sd_socket_matches(fd, &ss, len);
}

/* The body of test_listen_fds, in its own process: 0 or a step. */
static int
listen_fds_child(void)
{
	char		*names, addr[64];
	unsigned	 port3, port4;
	int		 step = 0;

	STEP(listener_at(SD_LISTEN_FDS_START, &port3) == 3);
	STEP(listener_at(SD_LISTEN_FDS_START + 1, &port4) == 4);

	unsetenv("LISTEN_PID");
	STEP(sd_listen_fds(&names) == 0 && names == NULL);

	listen_env(0, "2", "web:tls");
	STEP(sd_listen_fds(&names) == 2);
	STEP(names != NULL && strcmp(names, "web:tls") == 0);
	free(names);
	/* Consumed: the variables are gone, the sockets close on exec. */
	STEP(getenv("LISTEN_PID") == NULL && getenv("LISTEN_FDS") == NULL &&
	    getenv("LISTEN_FDNAMES") == NULL);
	STEP((fcntl(3, F_GETFD) & FD_CLOEXEC) != 0);
	STEP((fcntl(4, F_GETFD) & FD_CLOEXEC) != 0);
	STEP(sd_listen_fds(&names) == 0);

	/* For another process: ignored, but unset all the same. */
	listen_env(1, "2", NULL);
	STEP(sd_listen_fds(&names) == 0 && getenv("LISTEN_FDS") == NULL);

	/* Malformed, or more descriptors than were passed. */
	listen_env(0, "two", NULL);
	STEP(sd_listen_fds(&names) == -1);
	listen_env(0, "2", NULL);
	setenv("LISTEN_PID", "me", 1);
	STEP(sd_listen_fds(&names) == -1);
	listen_env(0, "200", NULL);
	STEP(sd_listen_fds(&names) == -1);

	/* A listen line's address against a passed socket. */
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port3);
	STEP(matches(3, addr) == 1);
	STEP(matches(4, addr) == 0);
	STEP(matches(4, "127.0.0.1:0") == 1);
	STEP(matches(4, "127.0.0.2:0") == 0);
	snprintf(addr, sizeof(addr), "[::1]:%u", port3);
	STEP(matches(3, addr) == 0);
	/* Not a socket, or not listening. */
	STEP(matches(0, "127.0.0.1:0") == 0);
	close(4);
	STEP(socket(AF_INET, SOCK_STREAM, 0) == 4);
	STEP(matches(4, "127.0.0.1:0") == 0);
	return 0;
}

START_TEST(test_listen_fds)
{
	pid_t	pid;
	int	status;

	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(listen_fds_child());
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status), "child died: status %d", status);
	ck_assert_msg(WEXITSTATUS(status) == 0, "step %d failed",
	    WEXITSTATUS(status));
}
END_TEST

Suite *
sd_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("sd");
	tc = tcase_create("notify");
	tcase_add_test(tc, test_notify_path);
	tcase_add_test(tc, test_notify_abstract);
	tcase_add_test(tc, test_notify_bad_socket);
	tcase_add_test(tc, test_watchdog);
	suite_add_tcase(s, tc);
	tc = tcase_create("activation");
	tcase_add_test(tc, test_listen_fds);
	suite_add_tcase(s, tc);
	return s;
}
