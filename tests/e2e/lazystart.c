/* lazystart: a process that touches a stream socket only when told to, for the tests of the
 * lazily made live counters file (test_lazy_start.sh, test_stat_pids.sh,
 * test_prometheus.sh).
 *
 *   lazystart MODE [END]
 *   MODE  none      no socket at all
 *         socket    a TCP connection on 127.0.0.1 (socket, listen, connect, accept), no byte
 *         write     the same, then one byte written to the accepted socket (and read back)
 *         retitle   write, after a process title written over argv[0] (as nginx does)
 *         signal    a stream socketpair made by raw system calls (the library does not see
 *                   it), whose first write (one byte) is made in a SIGUSR1 handler
 *         fork      write, then fork: the child writes two bytes on a connection of its own
 *         forknone  fork first, with no socket; the child writes two bytes, the parent
 *                   touches no socket
 *         forkheld  a stream socketpair made by raw system calls (as if inherited at exec,
 *                   unseen by the library), then fork: the child writes two bytes on it
 *   END   wait (default): pause until killed; exit: exit(0) once done.
 * Prints "pid=P", "child=C" (fork modes) and "ready" (when done), each line flushed. A fork
 * child ends as its parent does (wait: it pauses too). Exit status 0, or 1 with a message. */
#define _GNU_SOURCE
#include <stdbool.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "testutil.h"

static __attribute__((noreturn)) void die(const char *what)
{
	fprintf(stderr, "lazystart: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* A TCP connection on 127.0.0.1: the accepted end in *srv, the client's in *cli. */
static void connection(int *srv, int *cli)
{
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) != 0 || listen(l, 1) != 0 ||
	    getsockname(l, (struct sockaddr *)&a, &len) != 0)
		die("listen");
	*cli = socket(AF_INET, SOCK_STREAM, 0);
	if (*cli < 0 || connect(*cli, (struct sockaddr *)&a, sizeof a) != 0)
		die("connect");
	*srv = accept(l, NULL, NULL);
	if (*srv < 0)
		die("accept");
	close(l);
}

/* n bytes out of srv, read back from cli. */
static void send_bytes(int srv, int cli, size_t n)
{
	char b[8] = "xyzxyzxy";
	if (write(srv, b, n) != (ssize_t)n)
		die("write");
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(cli, b, sizeof b);
		if (r <= 0)
			die("read");
		got += (size_t)r;
	}
}

static int sig_fd = -1;
static volatile sig_atomic_t sig_wrote;

static void on_usr1(int sig)
{
	(void)sig;
	sig_wrote = write(sig_fd, "s", 1) == 1;
}

static void line(const char *fmt, long v)
{
	printf(fmt, v);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: lazystart none|socket|write|retitle|signal|fork|forknone|forkheld [wait|exit]\n");
		return 2;
	}
	const char *mode = argv[1];
	bool wait_end = argc < 3 || strcmp(argv[2], "exit") != 0;
	line("pid=%ld\n", (long)getpid());
	int srv = -1, cli = -1, held[2] = { -1, -1 };
	pid_t child = -1;
	if (strcmp(mode, "socket") == 0) {
		connection(&srv, &cli);
	} else if (strcmp(mode, "retitle") == 0) {
		memset(argv[0], 'x', strlen(argv[0]));
		connection(&srv, &cli);
		send_bytes(srv, cli, 1);
	} else if (strcmp(mode, "write") == 0 || strcmp(mode, "fork") == 0) {
		connection(&srv, &cli);
		send_bytes(srv, cli, 1);
	} else if (strcmp(mode, "signal") == 0) {
		int sv[2];
		if (syscall(SYS_socketpair, AF_UNIX, SOCK_STREAM, 0, sv) != 0)
			die("socketpair");
		sig_fd = sv[0];
		signal(SIGUSR1, on_usr1);
		raise(SIGUSR1);
		char c;
		if (!sig_wrote || read(sv[1], &c, 1) != 1)
			die("write in the handler");
	} else if (strcmp(mode, "forkheld") == 0) {
		int sv[2];
		if (syscall(SYS_socketpair, AF_UNIX, SOCK_STREAM, 0, sv) != 0)
			die("socketpair");
		held[0] = sv[0];
		held[1] = sv[1];
	} else if (strcmp(mode, "none") != 0 && strcmp(mode, "forknone") != 0) {
		fprintf(stderr, "lazystart: unknown mode %s\n", mode);
		return 2;
	}
	if (strcmp(mode, "fork") == 0 || strcmp(mode, "forknone") == 0 || held[0] >= 0) {
		int done[2]; /* the child says it has written */
		if (pipe(done) != 0)
			die("pipe");
		child = fork();
		if (child < 0)
			die("fork");
		if (child == 0) {
			int s2 = held[0], c2 = held[1];
			if (s2 < 0)
				connection(&s2, &c2);
			send_bytes(s2, c2, 2);
			if (write(done[1], "d", 1) != 1)
				die("pipe write");
			if (!wait_end)
				exit(0);
			for (;;)
				pause();
		}
		char c;
		if (read(done[0], &c, 1) != 1)
			die("the child failed");
		line("child=%ld\n", (long)child);
	}
	fputs("ready\n", stdout);
	fflush(stdout);
	if (!wait_end) {
		if (child > 0 && waitpid(child, NULL, 0) != child)
			die("waitpid");
		return 0;
	}
	for (;;)
		pause();
}
