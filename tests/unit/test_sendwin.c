/* Unit tests: the send window (sendwin.c). A sendfile goes only from a descriptor still at
 * the generation taken before the proof; a re-pointer waits for other threads' sends to
 * reach the kernel, a bounded time; and a signal handler that re-points the descriptor at
 * any instruction between the check and the system call is always seen (rseq restarts the
 * check): hammered here with a timer firing every 50 microseconds, whose handler swaps
 * two files under the number. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fdtable.h"
#include "real.h"
#include "records.h"
#include "sendwin.h"

static char dir[4096];

/* A file of n bytes, all `c`, opened read-only. */
static int file_of(char c, size_t n)
{
	char p[4200];
	snprintf(p, sizeof p, "%s/asf-sendwin-%c-XXXXXX", dir, c);
	int fd = mkstemp(p);
	assert_true(fd >= 0);
	unlink(p);
	char *b = malloc(n);
	memset(b, c, n);
	assert_int_equal(pwrite(fd, b, n, 0), (ssize_t)n);
	free(b);
	return fd;
}

static int setup(void **state)
{
	(void)state;
	const char *d = getenv("TMPDIR");
	snprintf(dir, sizeof dir, "%s", d && *d ? d : "/tmp");
	return asf_real_bind() ? 0 : -1;
}

static void generations(void **state)
{
	(void)state;
	int fd = file_of('a', 4096), sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	struct asf_thread *t = asf_thread_get(true);
	struct asf_fdgen g;
	asf_fd_change_end(fd, asf_fd_change_begin(fd)); /* an entry for fd */
	assert_true(asf_sendwin_take(fd, &g));
	assert_true(asf_sendwin_same(&g));
	off_t off = 0;
	bool changed;
	assert_int_equal(asf_sendwin_sendfile(t, sv[0], &g, &off, 100, &changed), 100);
	assert_false(changed);
	assert_int_equal(off, 100);
	char got[200];
	assert_int_equal(read(sv[1], got, sizeof got), 100);
	assert_int_equal(got[0], 'a');
	/* A re-pointing since: nothing sent. */
	uint32_t token = asf_fd_change_begin(fd);
	assert_false(asf_sendwin_take(fd, &(struct asf_fdgen){ 0 })); /* under way */
	asf_fd_change_end(fd, token);
	assert_false(asf_sendwin_same(&g));
	assert_int_equal(asf_sendwin_sendfile(t, sv[0], &g, &off, 100, &changed), -1);
	assert_true(changed);
	/* A close_range anywhere moves every number's generation. */
	assert_true(asf_sendwin_take(fd, &g));
	asf_fd_range_change_begin();
	asf_fd_range_change_end();
	assert_int_equal(asf_sendwin_sendfile(t, sv[0], &g, &off, 100, &changed), -1);
	assert_true(changed);
	/* A number handed out fresh ends a bracket its closer left open. */
	token = asf_fd_change_begin(fd);
	asf_fd_fresh_number(fd);
	assert_true(asf_sendwin_take(fd, &g));
	asf_fd_change_end(fd, token); /* late: changes nothing */
	assert_true(asf_sendwin_same(&g));
	/* Errors come back as sendfile's. */
	assert_int_equal(asf_sendwin_sendfile(t, -1, &g, &off, 100, &changed), -1);
	assert_false(changed);
	assert_int_equal(errno, EBADF);
	assert_int_equal(t->armed_fd, -1);
	close(sv[0]);
	close(sv[1]);
	close(fd);
}

/* ---- a re-pointer waits for a send in another thread, a bounded time ---- */

struct blocked {
	int sock, fd;
	ssize_t r;
};

static void *send_blocked(void *arg)
{
	struct blocked *b = arg;
	struct asf_thread *t = asf_thread_get(true);
	struct asf_fdgen g;
	off_t off = 0;
	bool changed;
	b->r = asf_sendwin_take(b->fd, &g) ? asf_sendwin_sendfile(t, b->sock, &g, &off, 1 << 20,
								   &changed)
					   : -2;
	return NULL;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void repointer_waits_bounded(void **state)
{
	(void)state;
	int fd = file_of('b', 1 << 20), sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	int small = 4096;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
	asf_fd_change_end(fd, asf_fd_change_begin(fd));
	struct blocked b = { sv[0], fd, 0 };
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, send_blocked, &b), 0);
	usleep(100 * 1000); /* it blocks in the kernel: the peer reads nothing */
	double t0 = now_s();
	asf_sendwin_wait(fd); /* another fd would not wait at all */
	double waited = now_s() - t0;
	assert_true(waited >= 0.02 && waited < 2.0);
	t0 = now_s();
	asf_sendwin_wait(fd + 1000);
	assert_true(now_s() - t0 < 0.02);
	close(sv[1]); /* the send ends (EPIPE or a partial count) */
	pthread_join(th, NULL);
	assert_true(b.r != -2);
	close(sv[0]);
	close(fd);
	asf_threads_sweep();
}

/* ---- a handler swapping the file under the number, at any instruction ---- */

static int swap_fd, file_a, file_b;
static volatile int current; /* 'a' or 'b': what swap_fd names */

static void swap_handler(int sig)
{
	(void)sig;
	int saved = errno;
	/* what the dup2 wrapper does: bump, re-point, bump */
	uint32_t token = asf_fd_change_begin(swap_fd);
	int to = current == 'a' ? file_b : file_a;
	syscall(SYS_dup3, to, swap_fd, 0);
	current = current == 'a' ? 'b' : 'a';
	asf_fd_change_end(swap_fd, token);
	errno = saved;
}

static void handler_in_the_window(void **state)
{
	(void)state;
	file_a = file_of('a', 4096);
	file_b = file_of('b', 4096);
	swap_fd = dup(file_a);
	current = 'a';
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	asf_fd_change_end(swap_fd, asf_fd_change_begin(swap_fd));
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = swap_handler;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGALRM, &sa, NULL), 0);
	struct itimerval it = { { 0, 50 }, { 0, 50 } };
	assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);
	struct asf_thread *t = asf_thread_get(true);
	long sent = 0, refused = 0, wrong = 0;
	double end = now_s() + 1.5;
	while (now_s() < end) {
		struct asf_fdgen g;
		/* the proof's view of which file the number names, at that generation */
		sigset_t all, old;
		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &old);
		bool ok = asf_sendwin_take(swap_fd, &g);
		char expect = (char)current;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (!ok)
			continue;
		off_t off = 0;
		bool changed;
		ssize_t k = asf_sendwin_sendfile(t, sv[0], &g, &off, 1, &changed);
		if (changed) {
			refused++;
			continue;
		}
		char c;
		if (k == 1) {
			while (read(sv[1], &c, 1) != 1)
				;
			sent++;
			if (c != expect)
				wrong++;
		}
	}
	struct itimerval off_it = { { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_REAL, &off_it, NULL);
	signal(SIGALRM, SIG_DFL);
	print_message("sent %ld, refused after a swap %ld, wrong file %ld\n", sent, refused, wrong);
	assert_true(sent > 1000);
	assert_true(refused > 0);
	assert_int_equal(wrong, 0);
	close(sv[0]);
	close(sv[1]);
	close(swap_fd);
	close(file_a);
	close(file_b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(generations),
		cmocka_unit_test(repointer_waits_bounded),
		cmocka_unit_test(handler_in_the_window),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
