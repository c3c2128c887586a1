/* Unit tests: the proof (proof.c): a buffer compared with what a descriptor reads at an
 * offset now, a piece at a time through the library's own buffers; its answers (equal,
 * differ, file short, descriptor unusable, buffer unreadable), the same through the kernel
 * where the fault guard cannot run, the sampled mode, the word after the range, the safe
 * small reads, and the proof buffers shared by many threads. The file is never mapped. */
#define _GNU_SOURCE
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
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "autosendfile.h"
#include "config.h"
#include "proof.h"
#include "real.h"
#include "records.h"
#include "signals.h"

#define LEN (256u * 1024u)

static char path[4096];
static int fd = -1;
static unsigned char *buf; /* LEN bytes, page aligned: the file's bytes */

static unsigned char pattern(size_t i)
{
	return (unsigned char)(i * 13u + 5u + (i >> 10));
}

static struct asf_thread *enter(void)
{
	struct asf_thread *t = asf_thread_get(true);
	assert_non_null(t);
	asf_activation_enter(t);
	return t;
}

static enum asf_proof prove(off_t off, const void *p, size_t n)
{
	struct asf_thread *t = enter();
	enum asf_proof r = asf_prove(t, fd, off, p, n, false, NULL, NULL);
	asf_activation_leave(t);
	return r;
}

static int setup(void **state)
{
	(void)state;
	if (!asf_real_bind())
		return -1;
	asf_signals_init();
	asf_cfg.verify = ASF_VERIFY_FULL;
	asf_cfg.chunk = 64 * 1024;
	const char *dir = getenv("TMPDIR");
	snprintf(path, sizeof path, "%s/asf-proof-XXXXXX", dir && *dir ? dir : "/tmp");
	fd = mkstemp(path);
	if (fd < 0)
		return -1;
	buf = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		return -1;
	for (size_t i = 0; i < LEN; i++)
		buf[i] = pattern(i);
	return pwrite(fd, buf, LEN, 0) == (ssize_t)LEN ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	close(fd);
	unlink(path);
	munmap(buf, LEN);
	return 0;
}

/* Is the file mapped anywhere in this process? */
static bool file_mapped(void)
{
	FILE *m = fopen("/proc/self/maps", "r");
	assert_non_null(m);
	char line[8192];
	bool found = false;
	while (fgets(line, sizeof line, m))
		if (strstr(line, path))
			found = true;
	fclose(m);
	return found;
}

static void answers(void **state)
{
	(void)state;
	asf_signals_init();
	assert_int_equal(prove(0, buf, LEN), ASF_PROOF_EQUAL);
	assert_int_equal(prove(1000, buf + 1000, 5000), ASF_PROOF_EQUAL);
	assert_int_equal(prove(1, buf, 5000), ASF_PROOF_DIFFER); /* the wrong offset */
	/* One byte anywhere, in any piece of a range longer than a piece. */
	static const size_t where[] = { 0, 4095, 65535, 65536, 200000, LEN - 1 };
	for (size_t i = 0; i < sizeof where / sizeof where[0]; i++) {
		buf[where[i]] ^= 1;
		assert_int_equal(prove(0, buf, LEN), ASF_PROOF_DIFFER);
		buf[where[i]] ^= 1;
	}
	/* Past the end of the file: short. */
	assert_int_equal(prove(LEN - 10, buf, 11), ASF_PROOF_SHORT);
	assert_int_equal(prove(LEN, buf, 1), ASF_PROOF_SHORT);
	/* A descriptor that does not read: an error, not a verdict. */
	assert_int_equal(asf_prove(enter(), -1, 0, buf, 10, false, NULL, NULL), ASF_PROOF_FILE_ERROR);
	asf_activation_leave(asf_thread_get(false));
	int wfd = open(path, O_WRONLY);
	assert_true(wfd >= 0);
	struct asf_thread *t = enter();
	assert_int_equal(asf_prove(t, wfd, 0, buf, 10, false, NULL, NULL), ASF_PROOF_FILE_ERROR);
	asf_activation_leave(t);
	close(wfd);
	/* Nothing of the file was mapped, and the proof buffer went back. */
	assert_false(file_mapped());
	assert_int_equal(asf_thread_get(false)->slot, 0);
}

static void unreadable_buffer(void **state)
{
	(void)state;
	asf_signals_init();
	assert_int_equal(mprotect(buf + 65536, 4096, PROT_NONE), 0);
	assert_int_equal(prove(0, buf, LEN), ASF_PROOF_BUF_FAULT);
	assert_int_equal(prove(0, buf, 65536), ASF_PROOF_EQUAL);
	/* The same through the kernel, in a thread that blocks SIGSEGV (no guard there). */
	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, SIGSEGV);
	assert_int_equal(pthread_sigmask(SIG_BLOCK, &set, &old), 0);
	assert_int_equal(prove(0, buf, LEN), ASF_PROOF_BUF_FAULT);
	assert_int_equal(prove(0, buf, 65536), ASF_PROOF_EQUAL);
	buf[100] ^= 1;
	assert_int_equal(prove(0, buf, 65536), ASF_PROOF_DIFFER);
	buf[100] ^= 1;
	unsigned char w[8];
	struct asf_thread *t = enter();
	assert_false(asf_read_prog(t, w, buf + 65536, 8));
	assert_true(asf_read_prog(t, w, buf + 8, 8));
	assert_memory_equal(w, buf + 8, 8);
	asf_activation_leave(t);
	assert_int_equal(pthread_sigmask(SIG_SETMASK, &old, NULL), 0);
	t = enter();
	assert_false(asf_read_prog(t, w, buf + 65536, 8));
	assert_true(asf_read_prog(t, w, buf + 16, 8));
	assert_memory_equal(w, buf + 16, 8);
	asf_activation_leave(t);
	assert_int_equal(mprotect(buf + 65536, 4096, PROT_READ | PROT_WRITE), 0);
}

static void sampled_and_next_word(void **state)
{
	(void)state;
	asf_signals_init();
	struct asf_thread *t = enter();
	/* Sampled: a byte between the samples is not compared, one in a sample is. */
	buf[AUTOSENDFILE_SAMPLE_SPAN + 1] ^= 1;
	assert_int_equal(asf_prove(t, fd, 0, buf, 65536, true, NULL, NULL), ASF_PROOF_EQUAL);
	assert_int_equal(asf_prove(t, fd, 0, buf, 65536, false, NULL, NULL), ASF_PROOF_DIFFER);
	buf[AUTOSENDFILE_SAMPLE_SPAN + 1] ^= 1;
	buf[3] ^= 1;
	assert_int_equal(asf_prove(t, fd, 0, buf, 65536, true, NULL, NULL), ASF_PROOF_DIFFER);
	buf[3] ^= 1;
	/* The file's word right after the range, when it has one. */
	uint64_t next = 0, want;
	bool has = false;
	assert_int_equal(asf_prove(t, fd, 100, buf + 100, 70000, false, &next, &has), ASF_PROOF_EQUAL);
	assert_true(has);
	memcpy(&want, buf + 70100, sizeof want);
	assert_true(next == want);
	assert_int_equal(asf_prove(t, fd, LEN - 100, buf + LEN - 100, 100, false, &next, &has),
			 ASF_PROOF_EQUAL);
	assert_false(has);
	uint64_t w;
	assert_true(asf_file_word(fd, 4096, &w));
	memcpy(&want, buf + 4096, sizeof want);
	assert_true(w == want);
	assert_false(asf_file_word(fd, LEN - 4, &w));
	asf_activation_leave(t);
}

/* Many threads proving at once share the few proof buffers: every proof is answered. */
static void *hammer(void *arg)
{
	long *bad = arg;
	struct asf_thread *t = asf_thread_get(true);
	for (int i = 0; i < 300 && t; i++) {
		asf_activation_enter(t);
		size_t off = (size_t)(i * 4099) % (LEN - 20000);
		if (asf_prove(t, fd, (off_t)off, buf + off, 20000, false, NULL, NULL) != ASF_PROOF_EQUAL)
			__atomic_add_fetch(bad, 1, __ATOMIC_RELAXED);
		asf_activation_leave(t);
	}
	return NULL;
}

static void shared_buffers(void **state)
{
	(void)state;
	asf_signals_init();
	enum { N = 24 };
	pthread_t th[N];
	long bad = 0;
	for (int i = 0; i < N; i++)
		assert_int_equal(pthread_create(&th[i], NULL, hammer, &bad), 0);
	for (int i = 0; i < N; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(bad, 0);
	asf_threads_sweep();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(answers, setup, teardown),
		cmocka_unit_test_setup_teardown(unreadable_buffer, setup, teardown),
		cmocka_unit_test_setup_teardown(sampled_and_next_word, setup, teardown),
		cmocka_unit_test_setup_teardown(shared_buffers, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
