/* threadexit: a process that ends from a thread other than the main one, as h2o does
 * (test_thread_exit.sh).
 *
 *   threadexit HOW FILE   sends FILE over a stream socketpair with a read/write loop (64 KiB;
 *                         a thread drains the other end), then a second thread ends the
 *                         process while the main thread waits in pause(): HOW is exit,
 *                         _exit, _Exit, or raw (the exit_group system call, no libc).
 *   threadexit idle HOW   the same end with nothing sent (no socket at all).
 * Prints "pid=P" first. Exit status 0, or 1 with a message. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/syscall.h>

#include "testutil.h"

#define BUF (64u * 1024u)

static const char *how;

static __attribute__((noreturn)) void die(const char *what)
{
	fprintf(stderr, "threadexit: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void *drain(void *arg)
{
	int fd = *(int *)arg;
	static char b[BUF];
	while (read(fd, b, sizeof b) > 0)
		;
	return NULL;
}

static void *ender(void *arg)
{
	(void)arg;
	if (strcmp(how, "exit") == 0)
		exit(0);
	if (strcmp(how, "_exit") == 0)
		_exit(0);
	if (strcmp(how, "_Exit") == 0)
		_Exit(0);
	syscall(SYS_exit_group, 0);
	return NULL;
}

static void copy(const char *file)
{
	static int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		die("socketpair");
	pthread_t t;
	if (pthread_create(&t, NULL, drain, &sv[1]) != 0)
		die("pthread_create");
	int f = open(file, O_RDONLY);
	if (f < 0)
		die(file);
	static char buf[BUF];
	ssize_t n;
	while ((n = read(f, buf, sizeof buf)) > 0)
		for (ssize_t off = 0; off < n;) {
			ssize_t k = write(sv[0], buf + off, (size_t)(n - off));
			if (k <= 0)
				die("write");
			off += k;
		}
	close(f);
	shutdown(sv[0], SHUT_WR);
	pthread_join(t, NULL); /* every byte is across before the end */
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: threadexit exit|_exit|_Exit|raw FILE | threadexit idle HOW\n");
		return 2;
	}
	printf("pid=%d\n", (int)getpid());
	fflush(stdout);
	if (strcmp(argv[1], "idle") == 0) {
		how = argv[2];
	} else {
		how = argv[1];
		copy(argv[2]);
	}
	pthread_t t;
	if (pthread_create(&t, NULL, ender, NULL) != 0)
		die("pthread_create");
	for (;;)
		pause();
}
