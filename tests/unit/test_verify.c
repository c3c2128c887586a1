/* Unit tests: asf_source_open (source.c), the proof before every redirect, against real
 * files: a record only claims which file bytes a buffer holds; the open succeeds only where
 * the buffer equals what the record's descriptor reads there now (per AUTOSENDFILE_VERIFY),
 * and says why not otherwise. A protected buffer, a truncated file, a descriptor re-pointed
 * behind the library's back, a thread that blocks SIGSEGV: a miss, never a crash.
 *
 * cmocka installs its own SIGSEGV/SIGBUS handlers around every fixture and test (and puts
 * the old ones back with signal(), which drops SA_SIGINFO), so the fault guard is installed
 * at the start of each test body (arm()), not in a setup function: cmocka's handler then
 * plays the program's, to which faults outside a guarded compare are forwarded. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "autosendfile.h"
#include "config.h"
#include "fdclass.h"
#include "fdtable.h"
#include "real.h"
#include "records.h"
#include "signals.h"
#include "source.h"
#include "stats.h"
#include <sys/syscall.h>

#define LEN (64u * 1024u)

static struct asf_thread *T;
static char path[4096];
static int fd = -1;
static uint64_t fdev, fino; /* the file, as the fd table names it */
static unsigned char *buf; /* LEN bytes, page aligned (mprotect) */

static unsigned char pattern(size_t i)
{
	return (unsigned char)(i * 7u + 3u + (i >> 12));
}

static void arm(void)
{
	asf_signals_init();
}

static void drop_own_records(void)
{
	for (int i = 0; i < ASF_RECORDS_PER_THREAD; i++)
		asf_record_drop(&T->rec[i]);
}

/* A fresh LEN-byte file, opened and classified; buf holds its bytes and a record says so. */
static int setup(void **state)
{
	(void)state;
	if (!asf_real_bind())
		return -1;
	T = asf_thread_get(true);
	if (!T)
		return -1;
	drop_own_records();
	asf_cfg.verify = ASF_VERIFY_FULL;
	const char *dir = getenv("TMPDIR");
	snprintf(path, sizeof path, "%s/asf-verify-XXXXXX", dir && *dir ? dir : "/tmp");
	fd = mkstemp(path);
	if (fd < 0)
		return -1;
	unsigned char *data = malloc(LEN);
	for (size_t i = 0; i < LEN; i++)
		data[i] = pattern(i);
	ssize_t w = pwrite(fd, data, LEN, 0);
	free(data);
	if (w != (ssize_t)LEN)
		return -1;
	if ((asf_fd_classify(fd) & ASF_FD_KIND_MASK) != ASF_FD_FILE)
		return -1;
	if (!asf_fd_identity(fd, &fdev, &fino))
		return -1;
	void *m = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return -1;
	buf = m;
	if (pread(fd, buf, LEN, 0) != (ssize_t)LEN)
		return -1;
	asf_record_add(T, fd, fdev, fino, 0, buf, LEN);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	drop_own_records();
	asf_fd_forget(fd); /* the program's close */
	close(fd);
	unlink(path);
	munmap(buf, LEN);
	asf_cfg.verify = ASF_VERIFY_FULL;
	return 0;
}

/* try_open's answer for "opened at file offset o" (a miss is a small number). */
#define OPENED(o) (100 + (long)(o))

/* asf_source_open on buf[k, k+n): the miss, or OPENED(offset) after checking what it
 * opened and closing it. */
static long try_open(size_t k, size_t n)
{
	struct asf_source s;
	memset(&s, 0x5a, sizeof s);
	asf_activation_enter(T); /* as each wrapped call does */
	bool ok = asf_source_open(T, buf + k, n, &s);
	if (!ok) {
		asf_activation_leave(T);
		if (s.miss == ASF_MISS_NONE)
			fail_msg("open said no without a reason");
		if (s.open)
			fail_msg("a failed open says it is open");
		if (T->open_src == &s)
			fail_msg("a failed open is registered as open");
		return s.miss;
	}
	if (s.miss != ASF_MISS_NONE || !s.open || s.buf != (const char *)buf + k)
		fail_msg("open: miss %d open %d buf %p", s.miss, s.open, (const void *)s.buf);
	if (T->open_src != &s)
		fail_msg("the open source is not registered with the thread");
	/* it sends through the program's own descriptor of the file, at its generation */
	if (s.gen.fd != fd || s.dev != fdev || s.ino != fino || !asf_sendwin_same(&s.gen))
		fail_msg("the source is not the program's descriptor of the file");
	off_t at = s.off;
	asf_source_close(&s);
	if (s.open || T->open_src != NULL)
		fail_msg("close left the source open");
	asf_activation_leave(T); /* gives the proof buffer back, as each wrapped call's end */
	return OPENED(at);
}

static void equal_buffer_opens(void **state)
{
	(void)state;
	arm();
	assert_int_equal(try_open(0, LEN), OPENED(0));
	assert_int_equal(try_open(1000, 5000), OPENED(1000));
	assert_int_equal(try_open(LEN - 1, 1), OPENED(LEN - 1));
	/* A record at another file offset: the offsets follow it. */
	drop_own_records();
	assert_int_equal(pread(fd, buf, 16384, 8192), 16384);
	asf_record_add(T, fd, fdev, fino, 8192, buf, 16384);
	assert_int_equal(try_open(10, 100), OPENED(8202));
	assert_int_equal(try_open(0, 16384), OPENED(8192));
	/* Outside what the record holds: no record. */
	assert_int_equal(try_open(0, 16385), ASF_MISS_NO_RECORD);
	assert_int_equal(try_open(20000, 10), ASF_MISS_NO_RECORD);
	/* The descriptor re-pointed by a wrapped call since (its generation moved): a source
	 * opened before would not send (sendwin.h). */
	struct asf_source s;
	asf_activation_enter(T);
	assert_true(asf_source_open(T, buf, 100, &s));
	uint32_t token = asf_fd_change_begin(fd);
	asf_fd_change_end(fd, token);
	assert_false(asf_sendwin_same(&s.gen));
	asf_source_close(&s);
	asf_activation_leave(T);
}

static void no_record(void **state)
{
	(void)state;
	arm();
	drop_own_records();
	assert_int_equal(try_open(0, LEN), ASF_MISS_NO_RECORD);
	/* A record whose file is not what the fd names now (closed, re-pointed): no claim. */
	asf_record_add(T, fd, fdev, fino + 1, 0, buf, LEN); /* another file on that fd */
	assert_int_equal(try_open(0, LEN), ASF_MISS_NO_RECORD);
	asf_record_add(T, fd, 0, 0, 0, buf, LEN);
	assert_int_equal(try_open(0, LEN), ASF_MISS_NO_RECORD);
}

static void one_byte_changed(void **state)
{
	(void)state;
	arm();
	static const size_t where[] = { 0, 1, 4095, 4096, LEN / 2, LEN - 2, LEN - 1 };
	for (size_t i = 0; i < sizeof where / sizeof where[0]; i++) {
		size_t w = where[i];
		asf_fd_clear_flags(fd, ASF_FDF_RESYNC);
		uint64_t rejects = asf_stats.verify_rejects;
		buf[w] ^= 0x80;
		if (try_open(0, LEN) != ASF_MISS_CHANGED)
			fail_msg("byte %zu changed but the whole range opened", w);
		assert_int_equal(asf_stats.verify_rejects, rejects + 1);
		/* the fd's next read proves its offset */
		assert_true(asf_fd_word(fd) & ASF_FDF_RESYNC);
		/* a sub-range containing it fails too, one that excludes it opens */
		size_t lo = w > 10 ? w - 10 : 0;
		assert_int_equal(try_open(lo, w - lo + 1), ASF_MISS_CHANGED);
		assert_int_equal(try_open(w, 1), ASF_MISS_CHANGED);
		if (w > 0)
			assert_int_equal(try_open(0, w), OPENED(0));
		if (w + 1 < LEN)
			assert_int_equal(try_open(w + 1, LEN - w - 1), OPENED(w + 1));
		buf[w] ^= 0x80;
		assert_int_equal(try_open(0, LEN), OPENED(0));
	}
	/* The program overwrote part of the buffer with its own bytes. */
	memset(buf + 100, 0, 50);
	assert_int_equal(try_open(90, 70), ASF_MISS_CHANGED);
	assert_int_equal(try_open(150, 100), OPENED(150));
	/* ... or with the very bytes the file has: that is no change. */
	for (size_t i = 100; i < 150; i++)
		buf[i] = pattern(i);
	assert_int_equal(try_open(0, LEN), OPENED(0));
}

static void file_rewritten_in_place(void **state)
{
	(void)state;
	arm();
	unsigned char x[100];
	memset(x, 0xee, sizeof x);
	assert_int_equal(pwrite(fd, x, sizeof x, 5000), (ssize_t)sizeof x);
	assert_int_equal(try_open(0, LEN), ASF_MISS_CHANGED);
	assert_int_equal(try_open(5099, 1), ASF_MISS_CHANGED);
	assert_int_equal(try_open(0, 5000), OPENED(0));
	assert_int_equal(try_open(5100, LEN - 5100), OPENED(5100));
	/* The old bytes back: the buffer equals the file again. */
	for (size_t i = 0; i < sizeof x; i++)
		x[i] = pattern(5000 + i);
	assert_int_equal(pwrite(fd, x, sizeof x, 5000), (ssize_t)sizeof x);
	assert_int_equal(try_open(0, LEN), OPENED(0));
	/* Rewritten through another descriptor (another process would): the same. */
	int other = open(path, O_WRONLY);
	assert_true(other >= 0);
	assert_int_equal(pwrite(other, "Z", 1, LEN - 1), 1);
	close(other);
	assert_int_equal(try_open(0, LEN), ASF_MISS_CHANGED);
	assert_int_equal(try_open(0, LEN - 1), OPENED(0));
}

static void file_truncated(void **state)
{
	(void)state;
	arm();
	/* Shorter: the file reads short there. */
	assert_int_equal(ftruncate(fd, 8192), 0);
	uint64_t gone = asf_stats.source_changed;
	assert_int_equal(try_open(0, LEN), ASF_MISS_FILE_GONE);
	assert_int_equal(asf_stats.source_changed, gone + 1);
	assert_int_equal(try_open(8192, 100), ASF_MISS_FILE_GONE);
	assert_int_equal(try_open(4000, 4192), OPENED(4000)); /* still in the file */
	/* Empty. */
	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(try_open(0, 1), ASF_MISS_FILE_GONE);
	assert_int_equal(try_open(0, LEN), ASF_MISS_FILE_GONE);
	/* Grown back: the bytes are zeros now, not the buffer's. */
	assert_int_equal(ftruncate(fd, LEN), 0);
	assert_int_equal(try_open(0, LEN), ASF_MISS_CHANGED);
	memset(buf, 0, 100);
	assert_int_equal(try_open(0, 100), OPENED(0));
	/* The same in the sampling mode. */
	asf_cfg.verify = ASF_VERIFY_SAMPLE;
	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(try_open(0, LEN), ASF_MISS_FILE_GONE);
}

/* A record may claim bytes past the file's end (the record is wrong, or the file shrank):
 * not sendable; once the file has those bytes (it grew), they are. */
static void range_past_end(void **state)
{
	(void)state;
	arm();
	drop_own_records();
	asf_record_add(T, fd, fdev, fino, LEN - 100, buf, 4096);
	assert_int_equal(pread(fd, buf, 100, LEN - 100), 100);
	assert_int_equal(try_open(0, 100), OPENED(LEN - 100));
	assert_int_equal(try_open(0, 101), ASF_MISS_FILE_GONE);
	unsigned char x[4096];
	memcpy(x + 100, buf + 100, sizeof x - 100);
	assert_int_equal(pwrite(fd, x + 100, sizeof x - 100, LEN), (ssize_t)sizeof x - 100);
	assert_int_equal(try_open(0, 4096), OPENED(LEN - 100)); /* the file grew to hold them */
	buf[4000] ^= 1;
	assert_int_equal(try_open(0, 4096), ASF_MISS_CHANGED);
	buf[4000] ^= 1;
}

/* The record's descriptor re-pointed behind the library's back (a raw dup2 of another
 * file over it: the fd table still names the first file): the proof reads through the
 * descriptor, so it compares with the file the descriptor names now. */
static void descriptor_repointed_raw(void **state)
{
	(void)state;
	arm();
	char other[4200];
	snprintf(other, sizeof other, "%s.other", path);
	int ofd = open(other, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(ofd >= 0);
	unsigned char *data = malloc(LEN);
	for (size_t i = 0; i < LEN; i++)
		data[i] = (unsigned char)~pattern(i);
	assert_int_equal(pwrite(ofd, data, LEN, 0), (ssize_t)LEN);
	int keep = dup(fd);
	assert_int_equal(syscall(SYS_dup3, ofd, fd, 0), fd); /* raw: no wrapper saw it */
	assert_int_equal(try_open(0, LEN), ASF_MISS_CHANGED);
	/* Where the other file holds the very bytes of the buffer, sending it sends them. */
	assert_int_equal(pwrite(ofd, buf, 4096, 0), 4096);
	assert_int_equal(try_open(0, 4096), OPENED(0));
	assert_int_equal(syscall(SYS_dup3, keep, fd, 0), fd);
	close(keep);
	close(ofd);
	unlink(other);
	free(data);
	asf_fd_clear_flags(fd, ASF_FDF_RESYNC);
	assert_int_equal(try_open(0, LEN), OPENED(0));
}

/* A thread that blocks SIGSEGV and SIGBUS (the sigwait-thread design) cannot be guarded:
 * its buffer is read through the kernel, and an unreadable one is a miss, not a crash. */
static void blocked_signals_thread(void **state)
{
	(void)state;
	arm();
	sigset_t all, old;
	sigfillset(&all);
	assert_int_equal(pthread_sigmask(SIG_BLOCK, &all, &old), 0);
	assert_int_equal(try_open(0, LEN), OPENED(0));
	buf[7] ^= 1;
	assert_int_equal(try_open(0, LEN), ASF_MISS_CHANGED);
	buf[7] ^= 1;
	assert_int_equal(mprotect(buf + 4096, 4096, PROT_NONE), 0);
	assert_int_equal(try_open(0, LEN), ASF_MISS_UNREADABLE);
	assert_int_equal(munmap(buf + 4096, 4096), 0);
	assert_int_equal(try_open(0, LEN), ASF_MISS_UNREADABLE);
	assert_int_equal(pthread_sigmask(SIG_SETMASK, &old, NULL), 0);
	assert_true(mmap(buf + 4096, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
			 -1, 0) == buf + 4096);
	assert_int_equal(pread(fd, buf + 4096, 4096, 4096), 4096);
	assert_int_equal(try_open(0, LEN), OPENED(0));
}

static void unreadable_buffer(void **state)
{
	(void)state;
	arm();
	assert_int_equal(mprotect(buf, LEN, PROT_NONE), 0);
	assert_int_equal(try_open(0, LEN), ASF_MISS_UNREADABLE);
	assert_int_equal(try_open(5000, 10), ASF_MISS_UNREADABLE);
	assert_int_equal(mprotect(buf, LEN, PROT_READ | PROT_WRITE), 0);
	assert_int_equal(try_open(0, LEN), OPENED(0));
	/* One page of the range only. */
	assert_int_equal(mprotect(buf + 8192, 4096, PROT_NONE), 0);
	assert_int_equal(try_open(0, LEN), ASF_MISS_UNREADABLE);
	assert_int_equal(try_open(0, 8192), OPENED(0));
	assert_int_equal(try_open(12288, 4096), OPENED(12288));
	/* The guard put the signal mask back: a second fault is caught again. */
	assert_int_equal(try_open(8000, 500), ASF_MISS_UNREADABLE);
	sigset_t now;
	assert_int_equal(pthread_sigmask(SIG_SETMASK, NULL, &now), 0);
	assert_false(sigismember(&now, SIGSEGV));
	asf_cfg.verify = ASF_VERIFY_SAMPLE; /* offset 8192 is a sampled span */
	assert_int_equal(try_open(0, LEN), ASF_MISS_UNREADABLE);
	assert_int_equal(mprotect(buf + 8192, 4096, PROT_READ | PROT_WRITE), 0);
	assert_int_equal(try_open(0, LEN), OPENED(0));
}

static void refused_file(void **state)
{
	(void)state;
	arm();
	/* (the fd's flag, set where sendfile refused; the process-wide table by inode is
	 * test_refusals.c's, and a later test's temp file may get this inode back) */
	asf_fd_or_flags(fd, ASF_FDF_NO_SENDFILE);
	assert_int_equal(try_open(0, LEN), ASF_MISS_REFUSED);
}

/* ---- candidates from another thread ---- */

struct helper {
	sem_t go, done;
	struct asf_thread *state;
	int fd;
	off_t off;
	const void *buf;
	size_t len;
};

static void *helper_main(void *arg)
{
	struct helper *h = arg;
	struct asf_thread *t = h->state = asf_thread_get(true);
	if (t)
		asf_record_add(t, h->fd, fdev, fino, h->off, h->buf, h->len);
	sem_post(&h->done);
	sem_wait(&h->go); /* stay alive: the record stays a candidate */
	return NULL;
}

/* A wrong own record (the offset guess was off) and a right one from another thread: full
 * verification tries both and sends from the right one; the weaker modes try only the
 * newest. */
static void tries_every_candidate(void **state)
{
	(void)state;
	arm();
	drop_own_records();
	struct helper h = { .fd = fd, .off = 0, .buf = buf, .len = LEN };
	sem_init(&h.go, 0, 0);
	sem_init(&h.done, 0, 0);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, helper_main, &h), 0);
	sem_wait(&h.done);
	asf_record_add(T, fd, fdev, fino, 4096, buf, LEN - 4096); /* own, newer, wrong */
	asf_fd_clear_flags(fd, ASF_FDF_RESYNC);
	assert_int_equal(try_open(0, 100), OPENED(0));
	assert_true(asf_fd_word(fd) & ASF_FDF_RESYNC); /* the wrong one flagged its fd */
	asf_cfg.verify = ASF_VERIFY_SAMPLE;
	assert_int_equal(try_open(0, 100), ASF_MISS_CHANGED);
	asf_cfg.verify = ASF_VERIFY_FULL;
	/* Our own record right as well: opened from it. */
	asf_record_add(T, fd, fdev, fino, 0, buf, LEN);
	assert_int_equal(try_open(0, LEN), OPENED(0));
	sem_post(&h.go);
	pthread_join(th, NULL);
	sem_destroy(&h.go);
	sem_destroy(&h.done);
	/* its state and record go (the library sweeps every few threads; the kernel forgets a
	 * joined thread a moment after pthread_join returns) */
	for (int i = 0; i < 1000 && h.state && __atomic_load_n(&h.state->in_use, __ATOMIC_ACQUIRE); i++) {
		asf_threads_sweep();
		usleep(1000);
	}
}

/* ---- the weaker modes ---- */

/* Does a write of buf[from, to) open after the buffer byte at `at` was changed? */
static bool change_missed(int mode, size_t at, size_t from, size_t to)
{
	asf_cfg.verify = mode;
	assert_int_equal(try_open(from, to - from), OPENED(from)); /* untouched: equal */
	buf[at] ^= 0x5a;
	bool missed = try_open(from, to - from) == OPENED(from);
	buf[at] ^= 0x5a;
	return missed;
}

static void full_sees_every_byte(void **state)
{
	(void)state;
	arm();
	size_t offs[] = { 0, 1, 63, 64, 100, 4095, 4096, 4200, LEN / 2, LEN - 65, LEN - 1 };
	for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++)
		assert_false(change_missed(ASF_VERIFY_FULL, offs[i], 0, LEN));
	/* a sub-range write is compared over its own bytes only */
	assert_true(change_missed(ASF_VERIFY_FULL, 10, 100, LEN));
	assert_false(change_missed(ASF_VERIFY_FULL, 150, 100, LEN));
}

static void sample_sees_sampled_bytes_only(void **state)
{
	(void)state;
	arm();
	const size_t SPAN = AUTOSENDFILE_SAMPLE_SPAN, STRIDE = AUTOSENDFILE_SAMPLE_STRIDE;
	/* sampled: file offsets o with o % STRIDE < SPAN, and the range's last SPAN bytes */
	assert_false(change_missed(ASF_VERIFY_SAMPLE, 0, 0, LEN));
	assert_false(change_missed(ASF_VERIFY_SAMPLE, SPAN - 1, 0, LEN));
	assert_false(change_missed(ASF_VERIFY_SAMPLE, 3 * STRIDE + 5, 0, LEN));
	assert_false(change_missed(ASF_VERIFY_SAMPLE, LEN - 1, 0, LEN));
	assert_false(change_missed(ASF_VERIFY_SAMPLE, LEN - SPAN, 0, LEN));
	/* documented misses: bytes between the samples */
	assert_true(change_missed(ASF_VERIFY_SAMPLE, SPAN, 0, LEN));
	assert_true(change_missed(ASF_VERIFY_SAMPLE, 100, 0, LEN));
	assert_true(change_missed(ASF_VERIFY_SAMPLE, 2 * STRIDE - 1, 0, LEN));
	/* a retried tail write (buf+k) still compares the samples inside it, by file offset */
	assert_false(change_missed(ASF_VERIFY_SAMPLE, 8 * STRIDE + 1, 5000, LEN));
	assert_true(change_missed(ASF_VERIFY_SAMPLE, 8 * STRIDE + 1, 9 * STRIDE, LEN));
	/* a short write's last SPAN bytes are compared whatever their offset */
	assert_false(change_missed(ASF_VERIFY_SAMPLE, 1000, 200, 1001));
	assert_true(change_missed(ASF_VERIFY_SAMPLE, 1000, 200, 1001 + SPAN));
	/* the file side is sampled the same way: a changed file byte between samples is missed */
	asf_cfg.verify = ASF_VERIFY_SAMPLE;
	assert_int_equal(pwrite(fd, "Q", 1, 100), 1);
	assert_int_equal(try_open(0, LEN), OPENED(0));
	assert_int_equal(pwrite(fd, "Q", 1, 10), 1);
	assert_int_equal(try_open(0, LEN), ASF_MISS_CHANGED);
}

static void sample_extension_keeps_tail(void **state)
{
	(void)state;
	arm();
	/* a record grown by a contiguous read in small steps: a write of all of it samples its
	 * tail */
	asf_cfg.verify = ASF_VERIFY_SAMPLE;
	drop_own_records();
	size_t len = 0;
	for (size_t step = 10; len + step <= 9000; len += step)
		asf_record_add(T, fd, fdev, fino, (off_t)len, buf + len, step);
	assert_int_equal(try_open(0, len), OPENED(0));
	buf[len - 1] ^= 1;
	assert_int_equal(try_open(0, len), ASF_MISS_CHANGED);
	buf[len - 1] ^= 1;
}

static void none_sees_nothing(void **state)
{
	(void)state;
	arm();
	/* the risk the README states: with none, a buffer overwritten after the read still
	 * "matches", and the file's bytes would be sent in place of the program's */
	assert_true(change_missed(ASF_VERIFY_NONE, 0, 0, LEN));
	assert_true(change_missed(ASF_VERIFY_NONE, LEN / 2, 0, LEN));
	memset(buf, 'S', LEN);
	assert_int_equal(try_open(0, LEN), OPENED(0));
	/* no compare: not even an unreadable buffer is noticed (the sendfile sends the file) */
	assert_int_equal(mprotect(buf, 4096, PROT_NONE), 0);
	assert_int_equal(try_open(0, LEN), OPENED(0));
	assert_int_equal(mprotect(buf, 4096, PROT_READ | PROT_WRITE), 0);
	/* ... but still no record, no open */
	drop_own_records();
	assert_int_equal(try_open(0, LEN), ASF_MISS_NO_RECORD);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(equal_buffer_opens, setup, teardown),
		cmocka_unit_test_setup_teardown(no_record, setup, teardown),
		cmocka_unit_test_setup_teardown(one_byte_changed, setup, teardown),
		cmocka_unit_test_setup_teardown(file_rewritten_in_place, setup, teardown),
		cmocka_unit_test_setup_teardown(file_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(range_past_end, setup, teardown),
		cmocka_unit_test_setup_teardown(descriptor_repointed_raw, setup, teardown),
		cmocka_unit_test_setup_teardown(blocked_signals_thread, setup, teardown),
		cmocka_unit_test_setup_teardown(unreadable_buffer, setup, teardown),
		cmocka_unit_test_setup_teardown(refused_file, setup, teardown),
		cmocka_unit_test_setup_teardown(tries_every_candidate, setup, teardown),
		cmocka_unit_test_setup_teardown(full_sees_every_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(sample_sees_sampled_bytes_only, setup, teardown),
		cmocka_unit_test_setup_teardown(sample_extension_keeps_tail, setup, teardown),
		cmocka_unit_test_setup_teardown(none_sees_nothing, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
