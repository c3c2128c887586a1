/* Unit tests: per-thread read records (records.c): add, extend, forget, overlap, LRU slot
 * reuse, the candidates for a range (own newest first, then other threads' newest first),
 * the seqlock snapshot of another thread's records, and the recycling of thread states.
 * Records are claims only (source.c proves them against the file), so nothing here needs a
 * real file: the inode numbers are plain numbers. */
#define _GNU_SOURCE
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "records.h"

#define FD 7
#define VIEW 0x100000001ull /* an inode number */

static struct asf_thread *T;

static struct asf_thread *thread_state(void)
{
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

/* This thread's record holding [buf, buf+len), looked up without counting as a use. */
static struct asf_record *own(const void *buf, size_t len)
{
	uintptr_t lo = (uintptr_t)buf;
	struct asf_record *found = NULL;
	for (int i = 0; i < ASF_RECORDS_PER_THREAD; i++) {
		struct asf_record *r = &T->rec[i];
		if (r->start && r->start <= lo && lo - r->start <= r->len &&
		    len <= r->len - (lo - r->start)) {
			if (found && len > 0)
				fail_msg("two own records hold [%p, +%zu)", buf, len);
			found = r;
		}
	}
	return found;
}

/* asf_record_candidates, all of them (this counts as a use for LRU). */
static int cands(const void *buf, size_t len, struct asf_record *out)
{
	return asf_record_candidates(T, buf, len, false, out, ASF_CANDIDATES_MAX);
}

/* Is [buf, buf+len) held by one of this thread's records (via the candidates API)? */
static bool held(const void *buf, size_t len)
{
	struct asf_record c[ASF_CANDIDATES_MAX];
	return cands(buf, len, c) > 0;
}

static void add(const void *buf, size_t len, off_t off)
{
	asf_record_add(T, FD, 1, VIEW, off, buf, len);
}

static void thread_get(void **state)
{
	(void)state;
	struct asf_thread *a = asf_thread_get(true);
	assert_non_null(a);
	assert_ptr_equal(asf_thread_get(false), a); /* the same state, once made */
	assert_ptr_equal(asf_thread_get(true), a);
	assert_int_equal(a->in_use, 1);
}

static void find_whole_and_sub_ranges(void **state)
{
	(void)state;
	static unsigned char buf[10000];
	const size_t n = 8192;
	add(buf + 100, n, 50000);
	assert_int_equal(live_records(), 1);

	struct asf_record c[ASF_CANDIDATES_MAX];
	assert_int_equal(cands(buf + 100, n, c), 1);
	assert_int_equal(c[0].start, (uintptr_t)(buf + 100));
	assert_int_equal(c[0].len, n);
	assert_int_equal(c[0].fd, FD);
	assert_int_equal(c[0].ino, VIEW);
	assert_int_equal(c[0].off, 50000);
	assert_int_equal(c[0].seq % 2, 0);
	struct asf_record *r = own(buf + 100, n);
	assert_non_null(r);

	/* Every sub-range (buf+k, n-k) and (buf, k) and an inner one. */
	static const size_t ks[] = { 0, 1, 2, 100, 4095, 4096, 8000, 8191 };
	for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
		size_t k = ks[i];
		assert_ptr_equal(own(buf + 100 + k, n - k), r);
		assert_ptr_equal(own(buf + 100, n - k), r);
		assert_int_equal(cands(buf + 100 + k, n - k, c), 1);
		assert_int_equal(cands(buf + 100, n - k, c), 1);
		assert_int_equal(asf_record_offset(r, buf + 100 + k), 50000 + (off_t)k);
	}
	assert_true(held(buf + 1000, 10));

	/* Sticking out past the end, starting before, or entirely outside: no record. */
	assert_false(held(buf + 100, n + 1));
	assert_false(held(buf + 101, n));
	assert_false(held(buf + 100 + n - 1, 2));
	assert_false(held(buf + 99, 2));
	assert_false(held(buf + 99, n));
	assert_false(held(buf + 99, 1));
	assert_false(held(buf, 100));
	assert_false(held(buf + 100 + n + 1, 10));
	assert_false(held(buf + 100, SIZE_MAX));
	assert_false(held(buf + 100 + n, SIZE_MAX));
}

static void offset_mapping(void **state)
{
	(void)state;
	static unsigned char buf[4096];
	add(buf, sizeof buf, 123456789);
	struct asf_record *r = own(buf, sizeof buf);
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
	add(a, sz, 0);
	add(b, sz, 4096);
	struct asf_record *ra = own(a, sz), *rb = own(b, sz);
	assert_non_null(ra);
	assert_non_null(rb);
	assert_ptr_not_equal(ra, rb);
	assert_int_equal(asf_record_offset(ra, a), 0);
	assert_int_equal(asf_record_offset(rb, b), 4096);

	/* The next reads reuse the buffers: each replaces that buffer's record only. */
	add(a, sz, 8192);
	add(b, sz, 12288);
	assert_int_equal(live_records(), 2);
	ra = own(a, sz);
	rb = own(b, sz);
	assert_non_null(ra);
	assert_non_null(rb);
	assert_int_equal(asf_record_offset(ra, a), 8192);
	assert_int_equal(asf_record_offset(rb, b), 12288);
}

static void lru_slot_reuse(void **state)
{
	(void)state;
	enum { N = ASF_RECORDS_PER_THREAD + 2, SZ = 1024 };
	static unsigned char bufs[N][SZ + 64]; /* gaps: no two records are contiguous */

	for (int i = 0; i < ASF_RECORDS_PER_THREAD; i++)
		add(bufs[i], SZ, (off_t)i * 100000);
	assert_int_equal(live_records(), ASF_RECORDS_PER_THREAD);
	for (int i = 0; i < ASF_RECORDS_PER_THREAD; i++)
		assert_non_null(own(bufs[i], SZ));

	/* Looking up 0's candidates counts as a use: buffer 1 is now the least recently used. */
	assert_true(held(bufs[0], SZ));
	add(bufs[ASF_RECORDS_PER_THREAD], SZ, 999);
	assert_int_equal(live_records(), ASF_RECORDS_PER_THREAD);
	assert_null(own(bufs[1], SZ));
	assert_non_null(own(bufs[0], SZ));
	struct asf_record *r = own(bufs[ASF_RECORDS_PER_THREAD], SZ);
	assert_non_null(r);
	assert_int_equal(r->off, 999);
	/* The new record took the evicted slot. */
	assert_ptr_equal(r, &T->rec[1]);

	/* Next victim: buffer 2 (0 and the new one were used after it, 3.. are used now). */
	for (int i = 3; i < ASF_RECORDS_PER_THREAD; i++)
		assert_true(held(bufs[i], SZ));
	add(bufs[ASF_RECORDS_PER_THREAD + 1], SZ, 1999);
	assert_null(own(bufs[2], SZ));
	assert_non_null(own(bufs[ASF_RECORDS_PER_THREAD + 1], SZ));
	assert_non_null(own(bufs[0], SZ));
	for (int i = 3; i <= ASF_RECORDS_PER_THREAD; i++)
		assert_non_null(own(bufs[i], SZ));

	/* A free slot is taken before any live one is evicted. */
	asf_record_forget_range(T, bufs[5], SZ);
	assert_int_equal(live_records(), ASF_RECORDS_PER_THREAD - 1);
	add(bufs[1], SZ, 5);
	assert_int_equal(live_records(), ASF_RECORDS_PER_THREAD);
	assert_non_null(own(bufs[0], SZ));
	assert_non_null(own(bufs[3], SZ));
}

static void overlapping_read_drops(void **state)
{
	(void)state;
	static unsigned char buf[20000];
	add(buf + 1000, 4000, 0);  /* [1000, 5000) */
	add(buf + 10000, 4000, 0); /* [10000, 14000) */
	assert_int_equal(live_records(), 2);

	/* A read into [4999, 6000) of another file overwrites the first record's last byte. */
	asf_record_add(T, FD + 1, 1, VIEW + 1, 0, buf + 4999, 1001);
	assert_null(own(buf + 1000, 10));
	assert_null(own(buf + 1000, 4000));
	struct asf_record *r = own(buf + 4999, 1001);
	assert_non_null(r);
	assert_int_equal(r->fd, FD + 1);
	assert_int_equal(r->ino, VIEW + 1);
	assert_non_null(own(buf + 10000, 4000));
	assert_int_equal(live_records(), 2);

	/* One starting before and ending inside. */
	asf_record_add(T, FD + 2, 1, VIEW + 2, 0, buf + 9000, 1001);
	assert_null(own(buf + 10000, 2));
	assert_null(own(buf + 10001, 1));
	r = own(buf + 10000, 1); /* the new record's last byte */
	assert_non_null(r);
	assert_int_equal(r->fd, FD + 2);
	/* One strictly inside another. */
	add(buf + 15000, 4000, 0);
	asf_record_add(T, FD + 3, 1, VIEW + 3, 77, buf + 16000, 10);
	assert_null(own(buf + 15000, 1));
	assert_null(own(buf + 18000, 1));
	r = own(buf + 16000, 10);
	assert_non_null(r);
	assert_int_equal(r->off, 77);
	/* Touching without overlapping keeps both. */
	add(buf + 100, 900, 0);                                /* [100, 1000) */
	asf_record_add(T, FD + 4, 1, VIEW + 4, 0, buf, 100);       /* [0, 100): another file */
	assert_non_null(own(buf + 100, 900));
	assert_non_null(own(buf, 100));
	/* A read of the same file over the same bytes at another offset replaces the record. */
	add(buf + 100, 900, 5000);
	r = own(buf + 100, 900);
	assert_non_null(r);
	assert_int_equal(r->off, 5000);
	/* A zero-length read drops nothing and records nothing. */
	int before = live_records();
	add(buf + 200, 0, 0);
	assert_int_equal(live_records(), before);
}

static void contiguous_read_extends(void **state)
{
	(void)state;
	static unsigned char buf[3 * 70000];
	/* Three reads of 70000 bytes into one buffer, each continuing the last in memory and
	 * in the file. */
	add(buf, 70000, 1000);
	struct asf_record *r = own(buf, 70000);
	assert_non_null(r);
	uint64_t born = r->born;
	add(buf + 70000, 70000, 71000);
	add(buf + 140000, 70000, 141000);
	assert_int_equal(live_records(), 1);
	r = own(buf, sizeof buf);
	assert_non_null(r);
	assert_int_equal(r->len, sizeof buf);
	assert_int_equal(r->off, 1000);
	assert_int_equal(asf_record_offset(r, buf + 150000), 151000);
	assert_true(r->born > born); /* an extension is a newer read */
	assert_int_equal(r->seq % 2, 0);
	/* Continuing through another fd of the same file still extends: (dev, ino), not the fd
	 * number, names the file; the record then reaches it through the newest fd. */
	static unsigned char two[8192];
	asf_record_drop(r);
	add(two, 4096, 0);
	asf_record_add(T, FD + 9, 1, VIEW, 4096, two + 4096, 4096);
	assert_int_equal(live_records(), 1);
	r = own(two, sizeof two);
	assert_non_null(r);
	assert_int_equal(r->len, sizeof two);
	assert_int_equal(r->fd, FD + 9); /* the newest read's fd: the file is reached through it */
}

static void noncontiguous_read_does_not_extend(void **state)
{
	(void)state;
	static unsigned char buf[8192];

	struct {
		uint64_t ino;
		off_t off;
		size_t gap; /* memory gap after the first record */
	} cases[] = {
		{ VIEW, 4097, 0 },     /* file offset jumps */
		{ VIEW, 4095, 0 },     /* file offset goes back */
		{ VIEW, 4096, 1 },     /* memory gap */
		{ VIEW + 1, 4096, 0 }, /* another file */
		{ VIEW + (1ull << 32), 4096, 0 }, /* another view slot */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		setup(NULL);
		add(buf, 4096, 0);
		asf_record_add(T, FD, 1, cases[i].ino, cases[i].off, buf + 4096 + cases[i].gap, 2048);
		if (live_records() != 2)
			fail_msg("case %zu: %d records, wanted 2", i, live_records());
		struct asf_record *a = own(buf, 4096);
		struct asf_record *b = own(buf + 4096 + cases[i].gap, 2048);
		assert_non_null(a);
		assert_non_null(b);
		assert_ptr_not_equal(a, b);
		assert_int_equal(a->len, 4096);
		assert_int_equal(b->off, cases[i].off);
		assert_int_equal(b->ino, cases[i].ino);
		assert_false(held(buf, 4096 + 1));
	}
}

static void too_large_not_added(void **state)
{
	(void)state;
	size_t big = (size_t)ASF_RECORD_MAX_BYTES + 1;
	/* Address space only: records never touch the bytes. */
	unsigned char *buf = malloc(big + 4096);
	assert_non_null(buf);

	add(buf, big, 0);
	assert_int_equal(live_records(), 0);
	assert_false(held(buf, 1));

	/* Exactly the maximum is tracked. */
	add(buf, ASF_RECORD_MAX_BYTES, 0);
	assert_int_equal(live_records(), 1);
	assert_true(held(buf, ASF_RECORD_MAX_BYTES));

	/* A too-large read over it still drops it (those bytes were overwritten). */
	asf_record_add(T, FD + 1, 1, VIEW + 1, 0, buf + 4096, big);
	assert_int_equal(live_records(), 0);
	assert_false(held(buf, 1));

	/* An extension that would pass the maximum starts a new record instead. */
	add(buf, ASF_RECORD_MAX_BYTES - 10, 0);
	add(buf + ASF_RECORD_MAX_BYTES - 10, 20, ASF_RECORD_MAX_BYTES - 10);
	assert_int_equal(live_records(), 2);
	struct asf_record *r = own(buf, ASF_RECORD_MAX_BYTES - 10);
	assert_non_null(r);
	assert_int_equal(r->len, ASF_RECORD_MAX_BYTES - 10);
	assert_false(held(buf, ASF_RECORD_MAX_BYTES));
	setup(NULL);
	free(buf);
}

static void forget_range(void **state)
{
	(void)state;
	static unsigned char buf[30000];
	add(buf, 1000, 0);        /* [0, 1000) */
	add(buf + 2000, 1000, 0); /* [2000, 3000) */
	add(buf + 4000, 1000, 0); /* [4000, 5000) */
	add(buf + 6000, 1000, 0); /* [6000, 7000) */
	assert_int_equal(live_records(), 4);

	/* Touching the ends without overlapping, or empty: nothing forgotten. */
	asf_record_forget_range(T, buf + 1000, 1000);
	asf_record_forget_range(T, buf + 500, 0);
	assert_int_equal(live_records(), 4);
	/* One byte of the second record. */
	asf_record_forget_range(T, buf + 2999, 1);
	assert_null(own(buf + 2000, 1));
	assert_non_null(own(buf, 1000));
	assert_non_null(own(buf + 4000, 1000));
	/* A range covering the third and part of the fourth. */
	asf_record_forget_range(T, buf + 3500, 2600);
	assert_null(own(buf + 4000, 1));
	assert_null(own(buf + 6000, 1));
	assert_non_null(own(buf, 1000));
	assert_int_equal(live_records(), 1);
	/* Everything. */
	asf_record_forget_range(T, buf, sizeof buf);
	assert_int_equal(live_records(), 0);
	/* Every drop left the seqlock even. */
	for (int i = 0; i < ASF_RECORDS_PER_THREAD; i++)
		assert_int_equal(T->rec[i].seq % 2, 0);
}

/* ---- other threads ---------------------------------------------------------------------- */

/* A helper thread that adds records on command and stays alive until told to exit, so its
 * records remain foreign candidates. */
struct helper {
	pthread_t th;
	sem_t go, done;
	void (*job)(struct helper *);
	struct asf_thread *state;
	const void *buf;
	size_t len;
	off_t off;
	uint64_t ino;
	bool quit;
	const char *err;
};

static void *helper_main(void *arg)
{
	struct helper *h = arg;
	for (;;) {
		sem_wait(&h->go);
		if (h->quit)
			return NULL;
		h->job(h);
		sem_post(&h->done);
	}
}

/* What the library does every few new threads, until st's owner is seen gone: pthread_join
 * returns when the thread cleared its tid, a moment before the kernel forgets it (tgkill
 * still finds it then). */
static void sweep_until_free(struct asf_thread *st)
{
	for (int i = 0; i < 1000; i++) {
		asf_threads_sweep();
		if (!st || !__atomic_load_n(&st->in_use, __ATOMIC_ACQUIRE))
			return;
		usleep(1000);
	}
}

static void helper_start(struct helper *h)
{
	memset(h, 0, sizeof *h);
	sem_init(&h->go, 0, 0);
	sem_init(&h->done, 0, 0);
	assert_int_equal(pthread_create(&h->th, NULL, helper_main, h), 0);
}

static void helper_run(struct helper *h, void (*job)(struct helper *))
{
	h->job = job;
	sem_post(&h->go);
	sem_wait(&h->done);
	if (h->err)
		fail_msg("helper thread: %s", h->err);
}

static void helper_stop(struct helper *h)
{
	h->quit = true;
	sem_post(&h->go);
	pthread_join(h->th, NULL);
	sem_destroy(&h->go);
	sem_destroy(&h->done);
	sweep_until_free(h->state);
}

static void job_add(struct helper *h)
{
	h->state = asf_thread_get(true);
	if (!h->state) {
		h->err = "no state";
		return;
	}
	asf_record_add(h->state, FD + 100, 1, h->ino, h->off, h->buf, h->len);
}

static void helper_add(struct helper *h, const void *buf, size_t len, uint64_t ino, off_t off)
{
	h->buf = buf;
	h->len = len;
	h->ino = ino;
	h->off = off;
	helper_run(h, job_add);
}

static void candidates_order(void **state)
{
	(void)state;
	static unsigned char buf[8192];
	struct helper x, y;
	helper_start(&x);
	helper_start(&y);
	struct asf_record c[ASF_CANDIDATES_MAX];

	/* No own record: the other threads' records, newest first. */
	helper_add(&x, buf, sizeof buf, VIEW + 1, 1000);
	helper_add(&y, buf + 100, 4000, VIEW + 2, 2000);
	assert_int_equal(cands(buf + 200, 100, c), 2);
	assert_int_equal(c[0].ino, VIEW + 2);
	assert_int_equal(c[0].off, 2000);
	assert_int_equal(asf_record_offset(&c[0], buf + 200), 2100);
	assert_int_equal(c[1].ino, VIEW + 1);
	assert_int_equal(asf_record_offset(&c[1], buf + 200), 1200);
	/* Only x's record holds a range y's does not. */
	assert_int_equal(cands(buf, 100, c), 1);
	assert_int_equal(c[0].ino, VIEW + 1);

	/* An own record comes first even though it is older than a foreign one. */
	add(buf, sizeof buf, 7);
	helper_add(&x, buf, sizeof buf, VIEW + 1, 3000); /* x re-reads: now the newest */
	assert_int_equal(cands(buf + 200, 100, c), 3);
	assert_int_equal(c[0].ino, VIEW);
	assert_int_equal(c[0].fd, FD);
	assert_int_equal(c[1].ino, VIEW + 1);
	assert_int_equal(c[1].off, 3000);
	assert_int_equal(c[2].ino, VIEW + 2);
	/* At most max, in that order. */
	assert_int_equal(asf_record_candidates(T, buf + 200, 100, false, c, 2), 2);
	assert_int_equal(c[0].ino, VIEW);
	assert_int_equal(c[1].ino, VIEW + 1);
	assert_int_equal(asf_record_candidates(T, buf + 200, 100, false, c, 1), 1);
	assert_int_equal(c[0].ino, VIEW);

	/* newest_only (VERIFY sample/none): just the newest of all, own or not. */
	assert_int_equal(asf_record_candidates(T, buf + 200, 100, true, c, ASF_CANDIDATES_MAX), 1);
	assert_int_equal(c[0].ino, VIEW + 1);
	assert_int_equal(c[0].off, 3000);
	add(buf, sizeof buf, 9); /* own is newest again */
	assert_int_equal(asf_record_candidates(T, buf + 200, 100, true, c, ASF_CANDIDATES_MAX), 1);
	assert_int_equal(c[0].ino, VIEW);
	assert_int_equal(c[0].off, 9);

	/* A thread's own reads never drop another thread's records. */
	assert_int_equal(cands(buf + 100, 4000, c), 3);

	/* Another thread sees ours as foreign. */
	helper_stop(&x);
	helper_stop(&y);
	/* Exited threads' records are gone with them. */
	assert_int_equal(cands(buf + 200, 100, c), 1);
	assert_int_equal(c[0].ino, VIEW);
}

/* A foreign record caught in the middle of a change (odd seq) is skipped, and so is one
 * whose seq moved while it was read. */
static void foreign_odd_seq_skipped(void **state)
{
	(void)state;
	static unsigned char buf[4096];
	struct helper x;
	helper_start(&x);
	helper_add(&x, buf, sizeof buf, VIEW + 5, 0);
	struct asf_record c[ASF_CANDIDATES_MAX];
	assert_int_equal(cands(buf, sizeof buf, c), 1);
	struct asf_record *r = NULL;
	for (int i = 0; i < ASF_RECORDS_PER_THREAD; i++)
		if (x.state->rec[i].start == (uintptr_t)buf)
			r = &x.state->rec[i];
	assert_non_null(r);
	r->seq++; /* x is "changing" it (x is parked on its semaphore) */
	assert_int_equal(cands(buf, sizeof buf, c), 0);
	assert_int_equal(asf_record_candidates(T, buf, sizeof buf, true, c, 1), 0);
	r->seq++;
	assert_int_equal(cands(buf, sizeof buf, c), 1);
	assert_int_equal(c[0].seq, r->seq);
	helper_stop(&x);
}

/* The seqlock under fire: a writer thread keeps replacing its record of one buffer with
 * records whose fields agree with each other (off = view * 4096, len = 1024 * view); a
 * reader must never get a copy mixing two of them. */
#define SEQ_ITERS 200000
static unsigned char seq_buf[64 * 1024];
static int seq_stop;

static void *seq_writer(void *arg)
{
	(void)arg;
	struct asf_thread *t = asf_thread_get(true);
	if (!t)
		return (void *)"no state";
	for (uint64_t k = 1; !__atomic_load_n(&seq_stop, __ATOMIC_RELAXED); k = k % 60 + 1) {
		/* alternately a fresh slot (drop + add) and an extension of the current one */
		asf_record_add(t, (int)k, 1, k, (off_t)k * 4096, seq_buf, 1024 * k);
		if (k % 3 == 0)
			asf_record_add(t, (int)k, 1, k, (off_t)k * 4096 + 1024 * (off_t)k,
				       seq_buf + 1024 * k, 1024);
		/* Now and then a stable moment, so that the reader also sees whole records on a
		 * loaded two-core machine (torn ones are what it must never see). */
		if (k == 60) {
			struct timespec pause = { 0, 20000 };
			nanosleep(&pause, NULL);
		}
	}
	return NULL;
}

static void seqlock_snapshot(void **state)
{
	(void)state;
	pthread_t th;
	__atomic_store_n(&seq_stop, 0, __ATOMIC_RELAXED);
	assert_int_equal(pthread_create(&th, NULL, seq_writer, NULL), 0);
	unsigned long seen = 0;
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < SEQ_ITERS; i++) {
		struct asf_record c[ASF_CANDIDATES_MAX];
		int n = cands(seq_buf, 512, c);
		for (int j = 0; j < n; j++) {
			uint64_t k = c[j].ino;
			size_t want = 1024 * k + (k % 3 == 0 ? 1024 : 0);
			if (k == 0 || k > 60 || c[j].start != (uintptr_t)seq_buf ||
			    c[j].off != (off_t)k * 4096 || c[j].fd != (int)k ||
			    (c[j].len != 1024 * k && c[j].len != want) || (c[j].seq & 1))
				fail_msg("torn snapshot: view %llu off %lld len %zu fd %d seq %llu",
					 (unsigned long long)k, (long long)c[j].off, c[j].len, c[j].fd,
					 (unsigned long long)c[j].seq);
			seen++;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec > 3)
			break;
	}
	__atomic_store_n(&seq_stop, 1, __ATOMIC_RELAXED);
	void *res;
	pthread_join(th, &res);
	assert_null(res);
	if (seen == 0)
		fail_msg("the reader never caught a stable record");
}

/* Records are per thread: another thread starts with no state and records of its own, and
 * its reads into part of our buffer do not touch our record. */
static unsigned char shared_buf[4096];

struct other {
	struct asf_thread *mine, *got;
	const char *err;
};

static void *other_thread(void *arg)
{
	struct other *o = arg;
	struct asf_thread *t = asf_thread_get(false);
	if (t != NULL) {
		o->err = "a new thread already has state";
		return NULL;
	}
	t = o->got = asf_thread_get(true);
	if (t == NULL || t == o->mine) {
		o->err = "no state of its own";
		return NULL;
	}
	for (int i = 0; i < ASF_RECORDS_PER_THREAD; i++)
		if (t->rec[i].start)
			o->err = "a recycled state kept records";
	/* The main thread's record is a foreign candidate here. */
	struct asf_record c[ASF_CANDIDATES_MAX];
	if (asf_record_candidates(t, shared_buf, sizeof shared_buf, false, c, ASF_CANDIDATES_MAX) != 1 ||
	    c[0].fd != FD)
		o->err = "does not see the main thread's record as foreign";
	asf_record_add(t, 99, 1, VIEW + 7, 0, shared_buf + 100, 100);
	if (asf_record_candidates(t, shared_buf + 100, 100, false, c, ASF_CANDIDATES_MAX) != 2 ||
	    c[0].fd != 99 || c[1].fd != FD)
		o->err = "own record not first";
	return NULL; /* its state is taken back by the next sweep once the thread is gone */
}

static void per_thread_and_recycle(void **state)
{
	(void)state;
	add(shared_buf, sizeof shared_buf, 0);
	unsigned registered = 0;
	for (int i = 0; i < 4; i++) {
		pthread_t th;
		struct other o = { .mine = T };
		assert_int_equal(pthread_create(&th, NULL, other_thread, &o), 0);
		assert_int_equal(pthread_join(th, NULL), 0);
		if (o.err)
			fail_msg("other thread: %s", o.err);
		struct asf_thread *st = o.got;
		assert_non_null(st);
		/* Still held: no pthread key or exit hook tells the library a thread ended. */
		assert_int_equal(st->in_use, 1);
		/* The sweep finds the thread gone: the state back, records dropped. */
		sweep_until_free(st);
		assert_int_equal(st->in_use, 0);
		for (int j = 0; j < ASF_RECORDS_PER_THREAD; j++)
			assert_int_equal(st->rec[j].start, 0);
		/* Threads that come one after another reuse states: no new ones are made. */
		if (!registered)
			registered = asf_threads_registered();
		assert_int_equal(asf_threads_registered(), registered);
	}
	/* The other threads' reads into part of the buffer did not touch our record. */
	struct asf_record *r = own(shared_buf, sizeof shared_buf);
	assert_non_null(r);
	assert_int_equal(r->fd, FD);
	struct asf_record c[ASF_CANDIDATES_MAX];
	assert_int_equal(cands(shared_buf + 100, 100, c), 1); /* exited threads: nothing */

	/* Two threads alive at once get two states. */
	struct helper x, y;
	helper_start(&x);
	helper_start(&y);
	helper_add(&x, shared_buf, 10, VIEW, 0);
	helper_add(&y, shared_buf, 10, VIEW, 0);
	assert_ptr_not_equal(x.state, y.state);
	assert_ptr_not_equal(x.state, T);
	helper_stop(&x);
	helper_stop(&y);
}

/* asf_thread_free by hand: records dropped, state free, busy cleared. */
static void thread_free_resets(void **state)
{
	(void)state;
	struct helper x;
	helper_start(&x);
	static unsigned char b[100];
	helper_add(&x, b, sizeof b, VIEW, 0);
	struct asf_thread *st = x.state;
	helper_stop(&x);
	assert_int_equal(st->in_use, 0);
	st->busy = 1;
	st->in_use = 1;
	asf_record_add(st, FD, 1, VIEW, 0, b, sizeof b);
	asf_thread_free(st);
	assert_int_equal(st->in_use, 0);
	assert_int_equal(st->busy, 0);
	for (int j = 0; j < ASF_RECORDS_PER_THREAD; j++)
		assert_int_equal(st->rec[j].start, 0);
	asf_thread_free(NULL); /* no crash */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(thread_get, setup),
		cmocka_unit_test_setup(find_whole_and_sub_ranges, setup),
		cmocka_unit_test_setup(offset_mapping, setup),
		cmocka_unit_test_setup(alternating_buffers, setup),
		cmocka_unit_test_setup(lru_slot_reuse, setup),
		cmocka_unit_test_setup(overlapping_read_drops, setup),
		cmocka_unit_test_setup(contiguous_read_extends, setup),
		cmocka_unit_test_setup(noncontiguous_read_does_not_extend, setup),
		cmocka_unit_test_setup(too_large_not_added, setup),
		cmocka_unit_test_setup(forget_range, setup),
		cmocka_unit_test_setup(candidates_order, setup),
		cmocka_unit_test_setup(foreign_odd_seq_skipped, setup),
		cmocka_unit_test_setup(seqlock_snapshot, setup),
		cmocka_unit_test_setup(per_thread_and_recycle, setup),
		cmocka_unit_test_setup(thread_free_resets, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
