/* Unit tests: per-thread read records (records.c). */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "records.h"

#define FD 7
#define DEV 0x801u
#define INO 4242u

static struct asf_thread *T;
#define CTIME 1700000000123456789ull /* the file's change baseline (ns) */

static struct asf_thread *thread_state(void)
{
	asf_records_init();
	struct asf_thread *t = asf_thread_get(true);
	assert_non_null(t);
	return t;
}

/* Every test starts with no records. */
static int setup(void **state)
{
	(void)state;
	T = thread_state();
	for (int i = 0; i < ASF_RECORDS_PER_THREAD; i++)
		asf_record_drop(&T->rec[i]);
	return 0;
}

static int live_records(void)
{
	int n = 0;
	for (int i = 0; i < ASF_RECORDS_PER_THREAD; i++)
		n += T->rec[i].start != 0;
	return n;
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(seed * 31u + i * 7u + (i >> 8));
}

static void add(const void *buf, size_t len, off_t off)
{
	asf_record_add(T, FD, DEV, INO, off, CTIME, buf, len);
}

static void thread_get(void **state)
{
	(void)state;
	struct asf_thread *a = asf_thread_get(true);
	assert_non_null(a);
	assert_ptr_equal(asf_thread_get(false), a); /* the same state, once made */
	assert_ptr_equal(asf_thread_get(true), a);
}

static void find_whole_and_sub_ranges(void **state)
{
	(void)state;
	static unsigned char buf[10000];
	const size_t n = 8192;
	fill(buf, sizeof buf, 1);
	add(buf + 100, n, 50000);
	assert_int_equal(live_records(), 1);

	struct asf_record *r = asf_record_find(T, buf + 100, n);
	assert_non_null(r);
	assert_int_equal(r->start, (uintptr_t)(buf + 100));
	assert_int_equal(r->len, n);
	assert_int_equal(r->fd, FD);
	assert_int_equal(r->dev, DEV);
	assert_int_equal(r->ino, INO);
	assert_int_equal(r->off, 50000);
	assert_int_equal(r->ctime_ns, CTIME);
	assert_memory_equal(r->shadow, buf + 100, n);

	/* Every sub-range (buf+k, n-k) and (buf, k) and an inner one. */
	static const size_t ks[] = { 0, 1, 2, 100, 4095, 4096, 8000, 8191 };
	for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
		size_t k = ks[i];
		assert_ptr_equal(asf_record_find(T, buf + 100 + k, n - k), r);
		assert_ptr_equal(asf_record_find(T, buf + 100, n - k), r);
		assert_ptr_equal(asf_record_offset(r, buf + 100 + k), 50000 + (off_t)k);
	}
	assert_ptr_equal(asf_record_find(T, buf + 1000, 10), r);

	/* Sticking out past the end, starting before, or entirely outside: no record. */
	assert_null(asf_record_find(T, buf + 100, n + 1));
	assert_null(asf_record_find(T, buf + 101, n));
	assert_null(asf_record_find(T, buf + 100 + n - 1, 2));
	assert_null(asf_record_find(T, buf + 99, 2));
	assert_null(asf_record_find(T, buf + 99, n));
	assert_null(asf_record_find(T, buf + 99, 1));
	assert_null(asf_record_find(T, buf, 100));
	assert_null(asf_record_find(T, buf + 100 + n + 1, 10));
	assert_null(asf_record_find(T, buf + 100, SIZE_MAX));
}

static void offset_mapping(void **state)
{
	(void)state;
	static unsigned char buf[4096];
	fill(buf, sizeof buf, 2);
	add(buf, sizeof buf, 123456789);
	struct asf_record *r = asf_record_find(T, buf, sizeof buf);
	assert_non_null(r);
	for (size_t k = 0; k < sizeof buf; k += 511)
		assert_int_equal(asf_record_offset(r, buf + k), 123456789 + (off_t)k);
	assert_int_equal(asf_record_offset(r, buf + 4095), 123456789 + 4095);
}

static void alternating_buffers(void **state)
{
	(void)state;
	/* A gap between the two, so that b never continues a in memory. */
	static unsigned char mem[3 * 4096];
	unsigned char *a = mem, *b = mem + 2 * 4096;
	const size_t sz = 4096;
	fill(a, sz, 3);
	fill(b, sz, 4);
	add(a, sz, 0);
	add(b, sz, 4096);
	struct asf_record *ra = asf_record_find(T, a, sz);
	struct asf_record *rb = asf_record_find(T, b, sz);
	assert_non_null(ra);
	assert_non_null(rb);
	assert_ptr_not_equal(ra, rb);
	assert_int_equal(asf_record_offset(ra, a), 0);
	assert_int_equal(asf_record_offset(rb, b), 4096);
	assert_true(asf_record_verify(ra, a, sz));
	assert_true(asf_record_verify(rb, b, sz));

	/* The next reads reuse the buffers: each replaces that buffer's record only. */
	fill(a, sz, 5);
	add(a, sz, 8192);
	fill(b, sz, 6);
	add(b, sz, 12288);
	assert_int_equal(live_records(), 2);
	ra = asf_record_find(T, a, sz);
	rb = asf_record_find(T, b, sz);
	assert_non_null(ra);
	assert_non_null(rb);
	assert_int_equal(asf_record_offset(ra, a), 8192);
	assert_int_equal(asf_record_offset(rb, b), 12288);
	assert_true(asf_record_verify(ra, a, sz));
	assert_true(asf_record_verify(rb, b, sz));
}

static void lru_eviction(void **state)
{
	(void)state;
	enum { N = ASF_RECORDS_PER_THREAD + 2, SZ = 1024 };
	static unsigned char bufs[N][SZ + 64]; /* gaps: no two records are contiguous */
	for (int i = 0; i < N; i++)
		fill(bufs[i], SZ, (unsigned)i);

	for (int i = 0; i < ASF_RECORDS_PER_THREAD; i++)
		add(bufs[i], SZ, (off_t)i * 100000);
	assert_int_equal(live_records(), ASF_RECORDS_PER_THREAD);
	for (int i = 0; i < ASF_RECORDS_PER_THREAD; i++)
		assert_non_null(asf_record_find(T, bufs[i], SZ));

	/* Touch 0 (a find counts as a use): buffer 1 is now the least recently used. */
	assert_non_null(asf_record_find(T, bufs[0], SZ));
	add(bufs[ASF_RECORDS_PER_THREAD], SZ, 999);
	assert_int_equal(live_records(), ASF_RECORDS_PER_THREAD);
	assert_null(asf_record_find(T, bufs[1], SZ));
	assert_non_null(asf_record_find(T, bufs[0], SZ));
	struct asf_record *r = asf_record_find(T, bufs[ASF_RECORDS_PER_THREAD], SZ);
	assert_non_null(r);
	assert_int_equal(r->off, 999);
	assert_true(asf_record_verify(r, bufs[ASF_RECORDS_PER_THREAD], SZ));

	/* Next victim: buffer 2 (finds above touched 0 and the new one, and 3.. were used later). */
	for (int i = 3; i < ASF_RECORDS_PER_THREAD; i++)
		assert_non_null(asf_record_find(T, bufs[i], SZ));
	add(bufs[ASF_RECORDS_PER_THREAD + 1], SZ, 1999);
	assert_null(asf_record_find(T, bufs[2], SZ));
	assert_non_null(asf_record_find(T, bufs[ASF_RECORDS_PER_THREAD + 1], SZ));
	assert_non_null(asf_record_find(T, bufs[0], SZ));
	for (int i = 3; i <= ASF_RECORDS_PER_THREAD; i++)
		assert_non_null(asf_record_find(T, bufs[i], SZ));
}

static void overlapping_read_drops(void **state)
{
	(void)state;
	static unsigned char buf[20000];
	fill(buf, sizeof buf, 7);
	add(buf + 1000, 4000, 0);    /* [1000, 5000) */
	add(buf + 10000, 4000, 0);   /* [10000, 14000) */
	assert_int_equal(live_records(), 2);

	/* A read into [4999, 6000) of another file overwrites the first record's last byte. */
	asf_record_add(T, FD + 1, DEV, INO + 1, 0, CTIME, buf + 4999, 1001);
	assert_null(asf_record_find(T, buf + 1000, 10));
	assert_null(asf_record_find(T, buf + 1000, 4000));
	struct asf_record *r = asf_record_find(T, buf + 4999, 1001);
	assert_non_null(r);
	assert_int_equal(r->fd, FD + 1);
	assert_non_null(asf_record_find(T, buf + 10000, 4000));
	assert_int_equal(live_records(), 2);

	/* One starting before and ending inside. */
	asf_record_add(T, FD + 2, DEV, INO + 2, 0, CTIME, buf + 9000, 1001);
	assert_null(asf_record_find(T, buf + 10000, 2));
	assert_null(asf_record_find(T, buf + 10001, 1));
	r = asf_record_find(T, buf + 10000, 1); /* the new record's last byte */
	assert_non_null(r);
	assert_int_equal(r->fd, FD + 2);
	/* One strictly inside another. */
	add(buf + 15000, 4000, 0);
	asf_record_add(T, FD + 3, DEV, INO + 3, 77, CTIME, buf + 16000, 10);
	assert_null(asf_record_find(T, buf + 15000, 1));
	assert_null(asf_record_find(T, buf + 18000, 1));
	r = asf_record_find(T, buf + 16000, 10);
	assert_non_null(r);
	assert_int_equal(r->off, 77);
	/* Touching without overlapping keeps both. */
	add(buf + 100, 900, 0);   /* [100, 1000) ends where nothing else begins */
	asf_record_add(T, FD + 4, DEV, INO, 0, CTIME, buf, 100); /* [0,100): different fd */
	assert_non_null(asf_record_find(T, buf + 100, 900));
	assert_non_null(asf_record_find(T, buf, 100));
}

static void contiguous_read_extends(void **state)
{
	(void)state;
	static unsigned char buf[3 * 70000];
	fill(buf, sizeof buf, 8);
	/* Three reads of 70000 bytes (more than the first shadow allocation) into one buffer. */
	add(buf, 70000, 1000);
	add(buf + 70000, 70000, 71000);
	add(buf + 140000, 70000, 141000);
	assert_int_equal(live_records(), 1);
	struct asf_record *r = asf_record_find(T, buf, sizeof buf);
	assert_non_null(r);
	assert_int_equal(r->len, sizeof buf);
	assert_int_equal(r->off, 1000);
	assert_int_equal(asf_record_offset(r, buf + 150000), 151000);
	assert_true(asf_record_verify(r, buf, sizeof buf));
	assert_memory_equal(r->shadow, buf, sizeof buf);
	buf[139999] ^= 1;
	assert_false(asf_record_verify(r, buf, sizeof buf));
	buf[139999] ^= 1;
}

static void noncontiguous_read_does_not_extend(void **state)
{
	(void)state;
	static unsigned char buf[8192];
	fill(buf, sizeof buf, 9);

	struct {
		int fd;
		uint64_t dev, ino;
		off_t off;
		size_t gap; /* memory gap after the first record */
		uint64_t ctime_ns;
	} cases[] = {
		{ FD, DEV, INO, 4097, 0, CTIME },     /* file offset jumps */
		{ FD, DEV, INO, 4095, 0, CTIME },     /* file offset goes back */
		{ FD, DEV, INO, 4096, 1, CTIME },     /* memory gap */
		{ FD + 1, DEV, INO, 4096, 0, CTIME }, /* another fd */
		{ FD, DEV + 1, INO, 4096, 0, CTIME }, /* another device */
		{ FD, DEV, INO + 1, 4096, 0, CTIME }, /* another inode */
		{ FD, DEV, INO, 4096, 0, CTIME + 1 }, /* the file changed in between */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		setup(NULL);
		add(buf, 4096, 0);
		asf_record_add(T, cases[i].fd, cases[i].dev, cases[i].ino, cases[i].off,
			       cases[i].ctime_ns, buf + 4096 + cases[i].gap, 2048);
		if (live_records() != 2)
			fail_msg("case %zu: %d records, wanted 2", i, live_records());
		struct asf_record *a = asf_record_find(T, buf, 4096);
		struct asf_record *b = asf_record_find(T, buf + 4096 + cases[i].gap, 2048);
		assert_non_null(a);
		assert_non_null(b);
		assert_ptr_not_equal(a, b);
		assert_int_equal(a->len, 4096);
		assert_int_equal(a->ctime_ns, CTIME);
		assert_int_equal(b->off, cases[i].off);
		assert_int_equal(b->ctime_ns, cases[i].ctime_ns);
		assert_null(asf_record_find(T, buf, 4096 + 1));
	}
}

static void verify_detects_changes(void **state)
{
	(void)state;
	enum { N = 10000 };
	static unsigned char buf[N];
	fill(buf, N, 10);
	add(buf, N, 0);
	struct asf_record *r = asf_record_find(T, buf, N);
	assert_non_null(r);
	assert_true(asf_record_verify(r, buf, N));

	static const size_t where[] = { 0, 1, N / 2, N - 2, N - 1 };
	for (size_t i = 0; i < sizeof where / sizeof where[0]; i++) {
		size_t w = where[i];
		buf[w] ^= 0x80;
		if (asf_record_verify(r, buf, N))
			fail_msg("byte %zu changed but the whole range verifies", w);
		/* A sub-range containing it fails too... */
		size_t lo = w > 10 ? w - 10 : 0;
		assert_false(asf_record_verify(r, buf + lo, w - lo + 1));
		assert_false(asf_record_verify(r, buf + w, 1));
		/* ...and one that excludes it passes. */
		if (w > 0)
			assert_true(asf_record_verify(r, buf, w));
		if (w + 1 < N)
			assert_true(asf_record_verify(r, buf + w + 1, N - w - 1));
		buf[w] ^= 0x80;
		assert_true(asf_record_verify(r, buf, N));
	}
	/* The shadow is a copy: a write into the buffer does not change it. */
	memset(buf + 100, 0, 50);
	assert_false(asf_record_verify(r, buf + 90, 70));
	assert_true(asf_record_verify(r, buf + 150, 100));
}

static void too_large_not_added(void **state)
{
	(void)state;
	size_t big = (size_t)ASF_RECORD_MAX_BYTES + 1;
	unsigned char *buf = malloc(big + 4096);
	assert_non_null(buf);
	memset(buf, 'z', big + 4096);

	add(buf, big, 0);
	assert_int_equal(live_records(), 0);
	assert_null(asf_record_find(T, buf, 1));

	/* Exactly the maximum is tracked. */
	add(buf, ASF_RECORD_MAX_BYTES, 0);
	assert_int_equal(live_records(), 1);
	assert_non_null(asf_record_find(T, buf, ASF_RECORD_MAX_BYTES));

	/* A too-large read over it still drops it (those bytes were overwritten). */
	asf_record_add(T, FD + 1, DEV, INO, 0, CTIME, buf + 4096, big);
	assert_int_equal(live_records(), 0);
	assert_null(asf_record_find(T, buf, 1));

	/* An extension that would pass the maximum starts a new record instead. */
	add(buf, ASF_RECORD_MAX_BYTES - 10, 0);
	add(buf + ASF_RECORD_MAX_BYTES - 10, 20, ASF_RECORD_MAX_BYTES - 10);
	assert_int_equal(live_records(), 2);
	struct asf_record *r = asf_record_find(T, buf, ASF_RECORD_MAX_BYTES - 10);
	assert_non_null(r);
	assert_int_equal(r->len, ASF_RECORD_MAX_BYTES - 10);
	assert_null(asf_record_find(T, buf, ASF_RECORD_MAX_BYTES));
	setup(NULL);
	free(buf);
}

static void forget_range(void **state)
{
	(void)state;
	static unsigned char buf[30000];
	fill(buf, sizeof buf, 11);
	add(buf, 1000, 0);          /* [0, 1000) */
	add(buf + 2000, 1000, 0);   /* [2000, 3000) */
	add(buf + 4000, 1000, 0);   /* [4000, 5000) */
	add(buf + 6000, 1000, 0);   /* [6000, 7000) */
	assert_int_equal(live_records(), 4);

	/* Touching the ends without overlapping: nothing forgotten. */
	asf_record_forget_range(T, buf + 1000, 1000);
	assert_int_equal(live_records(), 4);
	/* One byte of the second record. */
	asf_record_forget_range(T, buf + 2999, 1);
	assert_null(asf_record_find(T, buf + 2000, 1));
	assert_non_null(asf_record_find(T, buf, 1000));
	assert_non_null(asf_record_find(T, buf + 4000, 1000));
	/* A range covering the third and part of the fourth. */
	asf_record_forget_range(T, buf + 3500, 2600);
	assert_null(asf_record_find(T, buf + 4000, 1));
	assert_null(asf_record_find(T, buf + 6000, 1));
	assert_non_null(asf_record_find(T, buf, 1000));
	assert_int_equal(live_records(), 1);
	/* Everything. */
	asf_record_forget_range(T, buf, sizeof buf);
	assert_int_equal(live_records(), 0);
}

/* Records are per thread: another thread starts with none and sees none of ours. */
static unsigned char shared_buf[4096];

static void *other_thread(void *arg)
{
	struct asf_thread *mine = arg;
	struct asf_thread *t = asf_thread_get(false);
	if (t != NULL)
		return (void *)"a new thread already has state";
	t = asf_thread_get(true);
	if (t == NULL || t == mine)
		return (void *)"no state of its own";
	if (asf_record_find(t, shared_buf, sizeof shared_buf) != NULL)
		return (void *)"sees the main thread's record";
	asf_record_add(t, 99, 1, 2, 0, CTIME, shared_buf + 100, 100);
	if (asf_record_find(t, shared_buf + 100, 100) == NULL)
		return (void *)"cannot find its own record";
	return NULL; /* its state is freed by the thread-exit destructor */
}

static void per_thread(void **state)
{
	(void)state;
	fill(shared_buf, sizeof shared_buf, 12);
	add(shared_buf, sizeof shared_buf, 0);
	for (int i = 0; i < 3; i++) {
		pthread_t th;
		void *res = (void *)"not run";
		assert_int_equal(pthread_create(&th, NULL, other_thread, T), 0);
		assert_int_equal(pthread_join(th, &res), 0);
		if (res)
			fail_msg("other thread: %s", (const char *)res);
	}
	/* The other thread's read into part of the buffer did not touch our record. */
	struct asf_record *r = asf_record_find(T, shared_buf, sizeof shared_buf);
	assert_non_null(r);
	assert_int_equal(r->fd, FD);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(thread_get, setup),
		cmocka_unit_test_setup(find_whole_and_sub_ranges, setup),
		cmocka_unit_test_setup(offset_mapping, setup),
		cmocka_unit_test_setup(alternating_buffers, setup),
		cmocka_unit_test_setup(lru_eviction, setup),
		cmocka_unit_test_setup(overlapping_read_drops, setup),
		cmocka_unit_test_setup(contiguous_read_extends, setup),
		cmocka_unit_test_setup(noncontiguous_read_does_not_extend, setup),
		cmocka_unit_test_setup(verify_detects_changes, setup),
		cmocka_unit_test_setup(too_large_not_added, setup),
		cmocka_unit_test_setup(forget_range, setup),
		cmocka_unit_test_setup(per_thread, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
