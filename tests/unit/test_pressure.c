/* Unit tests: the redirect policy's view of a socket's send queue (pressure.c), on real
 * loopback TCP connections: a peer that never reads builds a backlog, one that reads
 * everything does not; the queue is looked at on the doubling schedule; a refused or
 * partial write is a backlog at once; AUTOSENDFILE_PRESSURE=0 is always one. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "fdtable.h"
#include "pressure.h"

#define P (64u * 1024u)
static char chunk[P];

/* A connected pair over loopback: *srv the accepted side (the one the library writes to),
 * *cli the peer, its receive buffer small so a peer that does not read stalls at once. */
static void pair(int *srv, int *cli)
{
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof a;
	assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&a, &al), 0);
	*cli = socket(AF_INET, SOCK_STREAM, 0);
	int rcv = 4096;
	setsockopt(*cli, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
	assert_int_equal(connect(*cli, (struct sockaddr *)&a, sizeof a), 0);
	*srv = accept(l, NULL, NULL);
	assert_true(*srv >= 0);
	close(l);
	asf_fd_set(*srv, ASF_FD_STREAM, 0, 0);
}

static uint32_t word(int fd)
{
	return asf_fd_word(fd);
}

/* One write of the program's, as the wrappers account it. */
static ssize_t program_write(int fd, size_t n)
{
	ssize_t r = write(fd, chunk, n);
	asf_pressure_moved(fd, n, r, errno);
	return r;
}

static void drain(int cli, size_t n)
{
	static char sink[P];
	while (n > 0) {
		ssize_t k = recv(cli, sink, n < sizeof sink ? n : sizeof sink, 0);
		assert_true(k > 0);
		n -= (size_t)k;
	}
}

static int setup(void **state)
{
	(void)state;
	asf_cfg.pressure = P;
	return 0;
}

/* A peer that stopped reading: below 2 x PRESSURE sent the queue is not looked at (no
 * backlog can be there yet); at 2 x PRESSURE it is, and holds one. */
static void stalled_peer_is_a_backlog(void **state)
{
	(void)state;
	int s, c;
	pair(&s, &c);
	assert_false(asf_pressure_backlog(s, word(s), P));
	assert_int_equal(program_write(s, P), (ssize_t)P);
	assert_false(asf_pressure_backlog(s, word(s), P)); /* 64 KiB sent: not looked at */
	assert_int_equal(program_write(s, P), (ssize_t)P);
	assert_true(asf_pressure_backlog(s, word(s), P));
	assert_true(word(s) & ASF_FDF_BACKLOG);
	close(s);
	close(c);
}

/* A peer that reads everything before the next write: the queue is empty whenever it is
 * looked at, on the schedule 2P, then steps doubling from 2P up to 16P. */
static void draining_peer_is_none_and_schedule_doubles(void **state)
{
	(void)state;
	int s, c;
	pair(&s, &c);
	struct asf_fd_entry *e = asf_fd_entry(s, false);
	uint64_t expect_at = 2 * P, step = 0;
	int looks = 0;
	for (int i = 0; i < 64; i++) {
		uint64_t out = e->out_bytes;
		bool due = out >= expect_at;
		assert_false(asf_pressure_backlog(s, word(s), P));
		if (due) {
			looks++;
			step = step < 2 * P ? 2 * P : (step * 2 > 16 * P ? 16 * P : step * 2);
			expect_at = out + step;
		}
		assert_int_equal(e->sample_at, due || looks ? expect_at : 0);
		assert_int_equal(program_write(s, P), (ssize_t)P);
		drain(c, P);
	}
	/* before the 64 writes of 64 KiB (0 .. 63 x 64 KiB sent): looks at 128K, 256K, 512K,
	 * 1M, then every 1 MiB: 2M, 3M */
	assert_int_equal(looks, 6);
	assert_int_equal(e->sample_step, 16 * P);
	close(s);
	close(c);
}

/* A backlog that clears (the peer caught up) is seen at the next look, 4 x PRESSURE on. */
static void backlog_clears_when_peer_catches_up(void **state)
{
	(void)state;
	int s, c;
	pair(&s, &c);
	program_write(s, P);
	program_write(s, P);
	assert_true(asf_pressure_backlog(s, word(s), P));
	struct asf_fd_entry *e = asf_fd_entry(s, false);
	assert_int_equal(e->sample_at, 2 * P + 4 * P);
	for (int i = 0; i < 4; i++) {
		drain(c, P);
		assert_true(asf_pressure_backlog(s, word(s), P)); /* not looked at again yet */
		program_write(s, P);
	}
	drain(c, 2 * P); /* everything sent so far */
	usleep(20000);
	assert_false(asf_pressure_backlog(s, word(s), P));
	assert_false(word(s) & ASF_FDF_BACKLOG);
	close(s);
	close(c);
}

/* A write the queue did not take whole is a backlog without looking: EAGAIN, a partial
 * count. A write of nothing, or a failure of another kind, is not. */
static void refusal_and_partial_are_a_backlog(void **state)
{
	(void)state;
	int s, c;
	pair(&s, &c);
	asf_pressure_moved(s, 100, -1, EPIPE);
	assert_false(asf_pressure_backlog(s, word(s), P));
	asf_pressure_moved(s, 0, 0, 0);
	assert_false(asf_pressure_backlog(s, word(s), P));
	asf_pressure_moved(s, 100, -1, EAGAIN);
	assert_true(asf_pressure_backlog(s, word(s), P));
	close(s);
	close(c);
	pair(&s, &c);
	fcntl(s, F_SETFL, O_NONBLOCK);
	ssize_t r;
	while ((r = program_write(s, P)) == (ssize_t)P)
		;
	assert_true(asf_pressure_backlog(s, word(s), P)); /* partial, then EAGAIN */
	close(s);
	close(c);
}

/* A number classified afresh (closed, then a new socket) starts with no backlog and an
 * empty account. */
static void new_socket_starts_fresh(void **state)
{
	(void)state;
	int s, c;
	pair(&s, &c);
	asf_pressure_moved(s, 100, -1, EAGAIN);
	program_write(s, P);
	int num = s;
	close(s);
	close(c);
	asf_fd_forget(num);
	pair(&s, &c);
	assert_int_equal(s, num);
	assert_false(asf_pressure_backlog(s, word(s), P));
	assert_int_equal(asf_fd_entry(s, false)->out_bytes, 0);
	close(s);
	close(c);
}

/* Before the queue was ever looked at, a write of 2 x PRESSURE or more that the queue
 * cannot take whole (queued + n >= SO_SNDBUF) is a backlog; one that fits, or a smaller
 * write, is not (and asks the kernel nothing: no backlog is known). */
static void first_write_too_big_for_queue(void **state)
{
	(void)state;
	int s, c;
	pair(&s, &c);
	int buf = 0;
	socklen_t bl = sizeof buf;
	assert_int_equal(getsockopt(s, SOL_SOCKET, SO_SNDBUF, &buf, &bl), 0);
	assert_false(asf_pressure_backlog(s, word(s), 2 * P - 1)); /* below 2P: not asked */
	assert_true(asf_pressure_backlog(s, word(s), (size_t)buf));
	assert_false(word(s) & ASF_FDF_BACKLOG); /* that write's alone */
	close(s);
	close(c);
	/* A send buffer that takes the whole write: no backlog predicted. */
	pair(&s, &c);
	int big = 8 * (int)P;
	assert_int_equal(setsockopt(s, SOL_SOCKET, SO_SNDBUF, &big, sizeof big), 0);
	assert_int_equal(getsockopt(s, SOL_SOCKET, SO_SNDBUF, &buf, &bl), 0);
	assert_true((size_t)buf >= 2 * P);
	assert_false(asf_pressure_backlog(s, word(s), 2 * P));
	assert_true(asf_pressure_backlog(s, word(s), (size_t)buf + 1));
	/* Once the queue was looked at (2P sent), the schedule decides, not the write's size. */
	program_write(s, P);
	program_write(s, P);
	drain(c, 2 * P);
	assert_false(asf_pressure_backlog(s, word(s), P));
	assert_false(asf_pressure_backlog(s, word(s), (size_t)buf + 1));
	close(s);
	close(c);
}

/* AUTOSENDFILE_PRESSURE=0: every socket counts as one with a backlog; nothing is kept. */
static void zero_means_always(void **state)
{
	(void)state;
	int s, c;
	pair(&s, &c);
	asf_cfg.pressure = 0;
	assert_true(asf_pressure_backlog(s, word(s), P));
	program_write(s, P);
	assert_int_equal(asf_fd_entry(s, false)->out_bytes, 0);
	asf_cfg.pressure = P;
	close(s);
	close(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(stalled_peer_is_a_backlog, setup),
		cmocka_unit_test_setup(draining_peer_is_none_and_schedule_doubles, setup),
		cmocka_unit_test_setup(backlog_clears_when_peer_catches_up, setup),
		cmocka_unit_test_setup(refusal_and_partial_are_a_backlog, setup),
		cmocka_unit_test_setup(new_socket_starts_fresh, setup),
		cmocka_unit_test_setup(first_write_too_big_for_queue, setup),
		cmocka_unit_test_setup(zero_means_always, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
