/* Unit tests: the fd table (fdtable.c) and fd classification (fdclass.c). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fdclass.h"
#include "fdtable.h"

/* fd numbers far above what the process has open, on pages nothing else touches. */
#define UNTOUCHED_FD 300000
#define FD_A 200001
#define FD_B 200002

static void word_of_untouched_and_out_of_range(void **state)
{
	(void)state;
	assert_int_equal(asf_fd_word(UNTOUCHED_FD), ASF_FD_UNKNOWN);
	assert_null(asf_fd_entry(UNTOUCHED_FD + 1, false)); /* no page made by a lookup */
	assert_int_equal(asf_fd_word(UNTOUCHED_FD + 1), ASF_FD_UNKNOWN);
	assert_int_equal(asf_fd_word(-1), ASF_FD_OTHER);
	assert_int_equal(asf_fd_word(-4096), ASF_FD_OTHER);
	assert_int_equal(asf_fd_word(INT32_MIN), ASF_FD_OTHER);
	assert_int_equal(asf_fd_word((int)ASF_FD_MAX), ASF_FD_OTHER);
	assert_int_equal(asf_fd_word((int)ASF_FD_MAX + 1), ASF_FD_OTHER);
	assert_int_equal(asf_fd_word(INT32_MAX), ASF_FD_OTHER);
	assert_null(asf_fd_entry(-1, true));
	assert_null(asf_fd_entry((int)ASF_FD_MAX, true));
	/* Setting out of range is ignored, not a crash. */
	asf_fd_set(-1, ASF_FD_FILE, 1, 2);
	asf_fd_set((int)ASF_FD_MAX, ASF_FD_FILE, 1, 2);
	assert_int_equal(asf_fd_word(-1), ASF_FD_OTHER);
	uint64_t dev, ino;
	assert_false(asf_fd_identity(-1, &dev, &ino));
	assert_false(asf_fd_identity((int)ASF_FD_MAX, &dev, &ino));
	assert_false(asf_fd_identity(UNTOUCHED_FD + 5000, &dev, &ino));
}

static void set_and_identity_round_trip(void **state)
{
	(void)state;
	uint64_t dev = 0, ino = 0;
	asf_fd_set(FD_A, ASF_FD_FILE, 0x1234567890abcdefull, 0xfedcba0987654321ull);
	assert_int_equal(asf_fd_word(FD_A), ASF_FD_FILE);
	assert_true(asf_fd_identity(FD_A, &dev, &ino));
	assert_int_equal(dev, 0x1234567890abcdefull);
	assert_int_equal(ino, 0xfedcba0987654321ull);
	/* Neighbours untouched. */
	assert_int_equal(asf_fd_word(FD_A - 1), ASF_FD_UNKNOWN);
	assert_int_equal(asf_fd_word(FD_A + 1), ASF_FD_UNKNOWN);

	asf_fd_set(FD_A, ASF_FD_STREAM | ASF_FDF_OUT_SEEN, 7, 8);
	assert_int_equal(asf_fd_word(FD_A), ASF_FD_STREAM | ASF_FDF_OUT_SEEN);
	assert_true(asf_fd_identity(FD_A, &dev, &ino));
	assert_int_equal(dev, 7);
	assert_int_equal(ino, 8);

	/* fd 0 and the last trackable fd work too. */
	int last = (int)ASF_FD_MAX - 1;
	asf_fd_set(last, ASF_FD_TLS, 3, 4);
	assert_int_equal(asf_fd_word(last), ASF_FD_TLS);
	assert_true(asf_fd_identity(last, &dev, &ino));
	assert_int_equal(ino, 4);
	asf_fd_forget(last);
	assert_int_equal(asf_fd_word(last), ASF_FD_UNKNOWN);
}

static void or_flags_returns_old_word(void **state)
{
	(void)state;
	asf_fd_set(FD_A, ASF_FD_STREAM, 1, 2);
	assert_int_equal(asf_fd_or_flags(FD_A, ASF_FDF_OUT_SEEN), ASF_FD_STREAM);
	assert_int_equal(asf_fd_word(FD_A), ASF_FD_STREAM | ASF_FDF_OUT_SEEN);
	assert_int_equal(asf_fd_or_flags(FD_A, ASF_FDF_OUT_SEEN), ASF_FD_STREAM | ASF_FDF_OUT_SEEN);
	assert_int_equal(asf_fd_or_flags(FD_A, ASF_FDF_IN_SEEN), ASF_FD_STREAM | ASF_FDF_OUT_SEEN);
	assert_int_equal(asf_fd_word(FD_A), ASF_FD_STREAM | ASF_FDF_OUT_SEEN | ASF_FDF_IN_SEEN);
	assert_int_equal(asf_fd_word(FD_A) & ASF_FD_KIND_MASK, ASF_FD_STREAM);
	/* Identity is not touched by flags. */
	uint64_t dev, ino;
	assert_true(asf_fd_identity(FD_A, &dev, &ino));
	assert_int_equal(dev, 1);
	assert_int_equal(ino, 2);
	/* Out of range: OTHER, nothing set. */
	assert_int_equal(asf_fd_or_flags(-3, ASF_FDF_OUT_SEEN), ASF_FD_OTHER);
	assert_int_equal(asf_fd_or_flags((int)ASF_FD_MAX, ASF_FDF_OUT_SEEN), ASF_FD_OTHER);
}

static void forget(void **state)
{
	(void)state;
	asf_fd_set(FD_A, ASF_FD_FILE | ASF_FDF_NO_SENDFILE, 1, 2);
	asf_fd_set(FD_B, ASF_FD_STREAM, 3, 4);
	asf_fd_forget(FD_A);
	assert_int_equal(asf_fd_word(FD_A), ASF_FD_UNKNOWN);
	assert_int_equal(asf_fd_word(FD_B), ASF_FD_STREAM);
	asf_fd_forget(FD_A); /* twice: harmless */
	assert_int_equal(asf_fd_word(FD_A), ASF_FD_UNKNOWN);
	asf_fd_forget(-1);
	asf_fd_forget((int)ASF_FD_MAX);
	asf_fd_forget(UNTOUCHED_FD + 9000); /* no page: no crash, no page made */
	assert_null(asf_fd_entry(UNTOUCHED_FD + 9000, false));
}

static void forget_range_across_pages(void **state)
{
	(void)state;
	const int base = 40 * (int)ASF_FD_PAGE_SIZE; /* pages 40..42: unused elsewhere */
	const unsigned first = (unsigned)base + 4090, last = (unsigned)base + 8200;
	static const int probes[] = { 0, 1, 4089, 4090, 4091, 4095, 4096, 4097, 6000, 8191,
				      8192, 8193, 8199, 8200, 8201, 8202, 12287, 12288 };
	for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++)
		asf_fd_set(base + probes[i], ASF_FD_STREAM | ASF_FDF_IN_SEEN, 1, (uint64_t)i);
	asf_fd_forget_range(first, last);
	for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
		unsigned fd = (unsigned)(base + probes[i]);
		uint32_t want = (fd >= first && fd <= last) ? ASF_FD_UNKNOWN
							    : (ASF_FD_STREAM | ASF_FDF_IN_SEEN);
		if (asf_fd_word((int)fd) != want)
			fail_msg("fd base+%d: word %#x, wanted %#x after forget_range(base+4090, base+8200)",
				 probes[i], asf_fd_word((int)fd), want);
	}

	/* A single fd, the whole of a page, and a range whose middle page was never made. */
	asf_fd_set(base + 100, ASF_FD_FILE, 0, 0);
	asf_fd_forget_range((unsigned)base + 100, (unsigned)base + 100);
	assert_int_equal(asf_fd_word(base + 100), ASF_FD_UNKNOWN);
	assert_int_equal(asf_fd_word(base + 1), ASF_FD_STREAM | ASF_FDF_IN_SEEN);

	const int b2 = 50 * (int)ASF_FD_PAGE_SIZE; /* pages 50 and 52 made, 51 never */
	asf_fd_set(b2 + 4095, ASF_FD_FILE, 0, 0);
	asf_fd_set(b2 + 2 * 4096 + 5, ASF_FD_FILE, 0, 0);
	asf_fd_set(b2 + 2 * 4096 + 6, ASF_FD_FILE, 0, 0);
	asf_fd_forget_range((unsigned)b2 + 4095, (unsigned)b2 + 2 * 4096 + 5);
	assert_null(asf_fd_entry(b2 + 4096, false));
	assert_int_equal(asf_fd_word(b2 + 4095), ASF_FD_UNKNOWN);
	assert_int_equal(asf_fd_word(b2 + 2 * 4096 + 5), ASF_FD_UNKNOWN);
	assert_int_equal(asf_fd_word(b2 + 2 * 4096 + 6), ASF_FD_FILE);

	/* close_range(lowfd, ~0U): clamped to the table, everything above lowfd forgotten. */
	asf_fd_set((int)ASF_FD_MAX - 1, ASF_FD_FILE, 0, 0);
	asf_fd_forget_range((unsigned)b2 + 2 * 4096 + 6, ~0u);
	assert_int_equal(asf_fd_word(b2 + 2 * 4096 + 6), ASF_FD_UNKNOWN);
	assert_int_equal(asf_fd_word((int)ASF_FD_MAX - 1), ASF_FD_UNKNOWN);
	assert_int_equal(asf_fd_word(base + 8202), ASF_FD_STREAM | ASF_FDF_IN_SEEN);
	/* Ranges entirely above the table, or empty (last < first): nothing happens. */
	asf_fd_forget_range(ASF_FD_MAX, ~0u);
	asf_fd_forget_range((unsigned)base + 8202, (unsigned)base + 8201);
	assert_int_equal(asf_fd_word(base + 8202), ASF_FD_STREAM | ASF_FDF_IN_SEEN);
}

static void copy(void **state)
{
	(void)state;
	uint64_t dev, ino;
	asf_fd_set(FD_A, ASF_FD_FILE | ASF_FDF_NO_SENDFILE, 11, 12);
	asf_fd_set(FD_B, ASF_FD_STREAM, 21, 22);
	asf_fd_copy(FD_A, FD_B);
	assert_int_equal(asf_fd_word(FD_B), ASF_FD_FILE | ASF_FDF_NO_SENDFILE);
	assert_true(asf_fd_identity(FD_B, &dev, &ino));
	assert_int_equal(dev, 11);
	assert_int_equal(ino, 12);
	assert_int_equal(asf_fd_word(FD_A), ASF_FD_FILE | ASF_FDF_NO_SENDFILE); /* source kept */

	/* Into a page that did not exist yet. */
	const int far = 60 * (int)ASF_FD_PAGE_SIZE + 3;
	assert_null(asf_fd_entry(far, false));
	asf_fd_copy(FD_A, far);
	assert_int_equal(asf_fd_word(far), ASF_FD_FILE | ASF_FDF_NO_SENDFILE);
	assert_true(asf_fd_identity(far, &dev, &ino));
	assert_int_equal(ino, 12);

	/* Copy of an unknown fd forgets the target. */
	asf_fd_forget(FD_A);
	asf_fd_copy(FD_A, FD_B);
	assert_int_equal(asf_fd_word(FD_B), ASF_FD_UNKNOWN);
	asf_fd_set(FD_B, ASF_FD_STREAM, 21, 22);
	asf_fd_copy(UNTOUCHED_FD + 7000, FD_B); /* source on a page that does not exist */
	assert_int_equal(asf_fd_word(FD_B), ASF_FD_UNKNOWN);

	/* Copy onto itself changes nothing. */
	asf_fd_set(FD_A, ASF_FD_TLS, 5, 6);
	asf_fd_copy(FD_A, FD_A);
	assert_int_equal(asf_fd_word(FD_A), ASF_FD_TLS);
}

static void ctime_baseline(void **state)
{
	(void)state;
	assert_int_equal(asf_fd_ctime(UNTOUCHED_FD + 11000), 0); /* no page: unknown */
	assert_int_equal(asf_fd_ctime(-1), 0);
	asf_fd_set_ctime(-1, 5); /* out of range: ignored */
	asf_fd_set_ctime(FD_A, 1700000000123456789ull);
	assert_int_equal(asf_fd_ctime(FD_A), 1700000000123456789ull);
	asf_fd_set(FD_A, ASF_FD_FILE, 1, 2);
	assert_int_equal(asf_fd_ctime(FD_A), 1700000000123456789ull); /* set keeps it */
	/* dup copies the baseline with the classification. */
	asf_fd_set_ctime(FD_B, 0);
	asf_fd_copy(FD_A, FD_B);
	assert_int_equal(asf_fd_ctime(FD_B), 1700000000123456789ull);
	assert_int_equal(asf_fd_word(FD_B), ASF_FD_FILE);
	asf_fd_set_ctime(FD_A, 42);
	assert_int_equal(asf_fd_ctime(FD_A), 42);
	assert_int_equal(asf_fd_ctime(FD_B), 1700000000123456789ull); /* separate entries */

	struct timespec ts = { 1700000000, 999999999 };
	assert_int_equal(asf_ctime_ns(&ts), 1700000000999999999ull);
	ts.tv_sec = 0;
	ts.tv_nsec = 1;
	assert_int_equal(asf_ctime_ns(&ts), 1);
}

/* ---- asf_fd_classify on real fds ---------------------------------------------------- */

static void assert_classified(int fd, uint32_t want, const char *what)
{
	asf_fd_forget(fd);
	uint32_t got = asf_fd_classify(fd);
	if (got != want)
		fail_msg("%s (fd %d): classified %#x, wanted %#x", what, fd, got, want);
	if (asf_fd_word(fd) != want)
		fail_msg("%s (fd %d): cached %#x, wanted %#x", what, fd, asf_fd_word(fd), want);
	assert_int_equal(asf_fd_word_classified(fd), want);
	struct stat st;
	uint64_t dev, ino;
	assert_int_equal(fstat(fd, &st), 0);
	assert_true(asf_fd_identity(fd, &dev, &ino));
	assert_int_equal(dev, (uint64_t)st.st_dev);
	assert_int_equal(ino, (uint64_t)st.st_ino);
}

static char tmpfile_path[64];

static int make_tmp_file(void)
{
	strcpy(tmpfile_path, "/tmp/asf_unit_fdtable_XXXXXX");
	int fd = mkstemp(tmpfile_path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "hello\n", 6), 6);
	return fd;
}

/* Removes the temp file even when a test failed half way. */
static int remove_tmp_file(void **state)
{
	(void)state;
	if (tmpfile_path[0])
		unlink(tmpfile_path);
	tmpfile_path[0] = '\0';
	return 0;
}

static void classify_regular_file(void **state)
{
	(void)state;
	int fd = make_tmp_file(); /* mkstemp: O_RDWR */
	asf_fd_set_ctime(fd, 0);
	assert_classified(fd, ASF_FD_FILE, "O_RDWR file in /tmp");
	/* Classifying a file also takes its change baseline: st_ctim in ns. */
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(asf_fd_ctime(fd),
			 (uint64_t)st.st_ctim.tv_sec * 1000000000u + (uint64_t)st.st_ctim.tv_nsec);
	assert_true(asf_fd_ctime(fd) != 0);
	int ro = open(tmpfile_path, O_RDONLY);
	assert_true(ro >= 0);
	assert_classified(ro, ASF_FD_FILE, "O_RDONLY file in /tmp");
	int wo = open(tmpfile_path, O_WRONLY);
	assert_true(wo >= 0);
	assert_classified(wo, ASF_FD_OTHER, "O_WRONLY file in /tmp");
	close(wo);
	close(ro);
	close(fd);
	unlink(tmpfile_path);
}

static void classify_pipe(void **state)
{
	(void)state;
	int p[2];
	assert_int_equal(pipe(p), 0);
	assert_classified(p[0], ASF_FD_OTHER, "pipe read end");
	assert_classified(p[1], ASF_FD_OTHER, "pipe write end");
	close(p[0]);
	close(p[1]);
}

static void classify_sockets(void **state)
{
	(void)state;
	int tcp = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(tcp >= 0);
	assert_classified(tcp, ASF_FD_STREAM, "TCP socket");
	assert_int_equal(asf_sockets_seen, 1);

	int tcp6 = socket(AF_INET6, SOCK_STREAM, 0);
	if (tcp6 >= 0) { /* IPv6 may be disabled */
		assert_classified(tcp6, ASF_FD_STREAM, "TCP6 socket");
		close(tcp6);
	}

	/* A connected TCP pair on loopback. */
	int lst = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof sa;
	assert_int_equal(bind(lst, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(listen(lst, 1), 0);
	assert_int_equal(getsockname(lst, (struct sockaddr *)&sa, &sl), 0);
	assert_int_equal(connect(tcp, (struct sockaddr *)&sa, sizeof sa), 0);
	int acc = accept(lst, NULL, NULL);
	assert_true(acc >= 0);
	assert_classified(tcp, ASF_FD_STREAM, "connected TCP socket");
	assert_classified(acc, ASF_FD_STREAM, "accepted TCP socket");
	assert_classified(lst, ASF_FD_STREAM, "listening TCP socket");
	close(acc);
	close(lst);
	close(tcp);

	int udp = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(udp >= 0);
	assert_classified(udp, ASF_FD_OTHER, "UDP socket");
	close(udp);

	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_classified(sv[0], ASF_FD_STREAM, "unix stream socketpair[0]");
	assert_classified(sv[1], ASF_FD_STREAM, "unix stream socketpair[1]");
	close(sv[0]);
	close(sv[1]);

	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), 0);
	assert_classified(sv[0], ASF_FD_OTHER, "unix datagram socketpair");
	close(sv[0]);
	close(sv[1]);

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	assert_classified(sv[0], ASF_FD_OTHER, "unix seqpacket socketpair");
	close(sv[0]);
	close(sv[1]);
}

static void classify_proc_and_dev(void **state)
{
	(void)state;
	int fd = open("/proc/self/status", O_RDONLY);
	assert_true(fd >= 0);
	assert_classified(fd, ASF_FD_OTHER, "/proc/self/status");
	close(fd);

	fd = open("/dev/null", O_RDONLY);
	assert_true(fd >= 0);
	assert_classified(fd, ASF_FD_OTHER, "/dev/null");
	close(fd);

	fd = open("/tmp", O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	assert_classified(fd, ASF_FD_OTHER, "a directory");
	close(fd);
}

static void classify_bad_fd(void **state)
{
	(void)state;
	int fd = make_tmp_file();
	assert_int_equal(asf_fd_classify(fd), ASF_FD_FILE);
	close(fd);
	unlink(tmpfile_path);
	asf_fd_forget(fd); /* what the close wrapper does */
	errno = 1234;
	assert_int_equal(asf_fd_classify(fd), ASF_FD_OTHER);
	assert_int_equal(errno, 1234); /* errno preserved */
	assert_int_equal(asf_fd_word(fd), ASF_FD_UNKNOWN); /* not cached */
	assert_int_equal(asf_fd_classify(-1), ASF_FD_OTHER);
	assert_int_equal(asf_fd_classify(UNTOUCHED_FD + 1234), ASF_FD_OTHER);
	assert_int_equal(asf_fd_word(UNTOUCHED_FD + 1234), ASF_FD_UNKNOWN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(word_of_untouched_and_out_of_range),
		cmocka_unit_test(set_and_identity_round_trip),
		cmocka_unit_test(or_flags_returns_old_word),
		cmocka_unit_test(forget),
		cmocka_unit_test(forget_range_across_pages),
		cmocka_unit_test(copy),
		cmocka_unit_test(ctime_baseline),
		cmocka_unit_test_teardown(classify_regular_file, remove_tmp_file),
		cmocka_unit_test(classify_pipe),
		cmocka_unit_test(classify_sockets),
		cmocka_unit_test(classify_proc_and_dev),
		cmocka_unit_test_teardown(classify_bad_fd, remove_tmp_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
