/* Read records, per thread, readable across threads (see records.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ownmem.h"
#include "export.h"
#include "proof.h"
#include "records.h"

static ASF_TLS struct asf_thread *self;

/* Every thread state ever made, for foreign lookups and for reuse. Entries are appended
 * (count only grows) and never removed; a state is free when its in_use is 0. */
static struct asf_thread *registry[ASF_THREADS_MAX];
static unsigned registry_count;
/* Orders reads across threads (asf_record.born). */
static uint64_t read_clock;
/* New states made since the last look for states whose threads are gone. */
static unsigned made_since_sweep;
#define SWEEP_EVERY 32

static size_t page_round(size_t n)
{
	return (n + 4095u) & ~(size_t)4095u;
}

/* Seqlock writer side: around every change of a record. The fields a foreign reader loads
 * are stored with relaxed atomics (the reader loads them so too). */
#define PUBLISH(field, value) __atomic_store_n(&(field), (value), __ATOMIC_RELAXED)

static void change_begin(struct asf_record *r)
{
	__atomic_store_n(&r->seq, r->seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

static void change_end(struct asf_record *r)
{
	__atomic_store_n(&r->seq, r->seq + 1, __ATOMIC_RELEASE);
}

void asf_record_drop(struct asf_record *r)
{
	if (!r->start)
		return;
	change_begin(r);
	PUBLISH(r->start, (uintptr_t)0);
	PUBLISH(r->len, (size_t)0);
	change_end(r);
}

void asf_thread_free(struct asf_thread *t)
{
	if (!t)
		return;
	for (int i = 0; i < ASF_RECORDS_PER_THREAD; i++)
		asf_record_drop(&t->rec[i]);
	asf_content_clear(t);
	t->busy = 0;
	t->open_src = NULL;
	t->open_guard = NULL;
	t->slot = 0;
	__atomic_store_n(&t->armed_fd, -1, __ATOMIC_RELAXED);
	__atomic_store_n(&t->has_records, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&t->in_use, 0, __ATOMIC_RELEASE);
}

/* A free registered state, claimed; or NULL. */
static struct asf_thread *claim_free_state(void)
{
	unsigned n = __atomic_load_n(&registry_count, __ATOMIC_ACQUIRE);
	for (unsigned i = 0; i < n && i < ASF_THREADS_MAX; i++) {
		struct asf_thread *t = __atomic_load_n(&registry[i], __ATOMIC_ACQUIRE);
		int expected = 0;
		if (t && __atomic_compare_exchange_n(&t->in_use, &expected, 1, false,
						     __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
			return t;
	}
	return NULL;
}

/* Takes back the states of threads that have ended (and, in a forked child, of the parent's
 * other threads): tgkill(tid, 0) fails with ESRCH only for a thread that is gone. A reused
 * tid keeps a dead thread's state one more round; a live thread's state is never taken. */
void asf_threads_sweep(void)
{
	pid_t pid = getpid();
	unsigned n = __atomic_load_n(&registry_count, __ATOMIC_ACQUIRE);
	for (unsigned i = 0; i < n && i < ASF_THREADS_MAX; i++) {
		struct asf_thread *t = __atomic_load_n(&registry[i], __ATOMIC_ACQUIRE);
		int tid = t ? __atomic_load_n(&t->tid, __ATOMIC_RELAXED) : 0;
		if (!t || t == self || !__atomic_load_n(&t->in_use, __ATOMIC_ACQUIRE) || tid <= 0)
			continue;
		if (syscall(SYS_tgkill, pid, tid, 0) != 0 && errno == ESRCH &&
		    __atomic_load_n(&t->tid, __ATOMIC_RELAXED) == tid)
			asf_thread_free(t);
	}
}

static struct asf_thread *new_state(void)
{
	unsigned slot = __atomic_fetch_add(&registry_count, 1, __ATOMIC_ACQ_REL);
	if (slot >= ASF_THREADS_MAX) {
		__atomic_fetch_sub(&registry_count, 1, __ATOMIC_ACQ_REL);
		return NULL;
	}
	struct asf_thread *t = asf_mem_alloc(page_round(sizeof(struct asf_thread)));
	if (t) {
		t->in_use = 1;
		__atomic_store_n(&t->armed_fd, -1, __ATOMIC_RELAXED);
	}
	/* Published even if NULL: readers skip NULL slots. */
	__atomic_store_n(&registry[slot], t, __ATOMIC_RELEASE);
	return t;
}

struct asf_thread *asf_thread_get(bool create)
{
	if (ASF_LIKELY(self != NULL) || !create)
		return self;
	int saved_errno = errno;
	struct asf_thread *t = claim_free_state();
	if (!t && __atomic_add_fetch(&made_since_sweep, 1, __ATOMIC_RELAXED) % SWEEP_EVERY == 0) {
		asf_threads_sweep();
		t = claim_free_state();
	}
	if (!t)
		t = new_state();
	if (!t) { /* the registry is full: threads that ended may have left room */
		asf_threads_sweep();
		t = claim_free_state();
	}
	if (t)
		__atomic_store_n(&t->tid, (int)gettid(), __ATOMIC_RELAXED);
	self = t;
	errno = saved_errno;
	return self;
}

/* In a forked child the thread that forked keeps its state; the others' owners are gone. */
void asf_threads_after_fork_child(void)
{
	if (self)
		__atomic_store_n(&self->tid, (int)gettid(), __ATOMIC_RELAXED);
	asf_threads_sweep();
}

void asf_record_forget_range(struct asf_thread *t, const void *buf, size_t len)
{
	uintptr_t lo = (uintptr_t)buf, hi = lo + len;
	if (len == 0)
		return;
	for (int i = 0; i < ASF_RECORDS_PER_THREAD; i++) {
		struct asf_record *r = &t->rec[i];
		if (r->start && r->start < hi && lo < r->start + r->len)
			asf_record_drop(r);
	}
}

static void add(struct asf_thread *t, int fd, uint64_t dev, uint64_t ino, off_t off,
		const void *buf, size_t len, bool copy)
{
	uintptr_t lo = (uintptr_t)buf;
	t->clock++;
	/* A read that continues a record in memory and in the file extends it: programs that
	 * fill one big buffer with several reads still get one record. */
	for (int i = 0; i < ASF_RECORDS_PER_THREAD; i++) {
		struct asf_record *r = &t->rec[i];
		if (r->start && r->start + r->len == lo && r->dev == dev && r->ino == ino &&
		    r->copy == copy &&
		    r->off + (off_t)r->len == off && r->len + len <= ASF_RECORD_MAX_BYTES) {
			asf_record_forget_range(t, buf, len);
			change_begin(r);
			/* The file is reached through the fd of the newest read: an older fd of it
			 * may have been closed or re-pointed since (source.c resolves through it). */
			PUBLISH(r->fd, fd);
			PUBLISH(r->len, r->len + len);
			PUBLISH(r->born, __atomic_add_fetch(&read_clock, 1, __ATOMIC_RELAXED));
			r->last_use = t->clock;
			change_end(r);
			return;
		}
	}
	asf_record_forget_range(t, buf, len);
	if (len > ASF_RECORD_MAX_BYTES || len == 0)
		return;
	/* A free slot, else the least recently used one. */
	struct asf_record *slot = &t->rec[0];
	for (int i = 0; i < ASF_RECORDS_PER_THREAD; i++) {
		struct asf_record *r = &t->rec[i];
		if (!r->start) {
			slot = r;
			break;
		}
		if (r->last_use < slot->last_use)
			slot = r;
	}
	if (!t->has_records)
		__atomic_store_n(&t->has_records, 1, __ATOMIC_RELEASE);
	change_begin(slot);
	PUBLISH(slot->fd, fd);
	PUBLISH(slot->dev, dev);
	PUBLISH(slot->ino, ino);
	PUBLISH(slot->off, off);
	PUBLISH(slot->len, len);
	PUBLISH(slot->copy, copy);
	PUBLISH(slot->born, __atomic_add_fetch(&read_clock, 1, __ATOMIC_RELAXED));
	slot->last_use = t->clock;
	PUBLISH(slot->start, lo);
	change_end(slot);
}

void asf_record_add(struct asf_thread *t, int fd, uint64_t dev, uint64_t ino, off_t off,
		    const void *buf, size_t len)
{
	add(t, fd, dev, ino, off, buf, len, false);
}

void asf_record_add_copy(struct asf_thread *t, int fd, uint64_t dev, uint64_t ino, off_t off,
			 const void *buf, size_t len)
{
	add(t, fd, dev, ino, off, buf, len, true);
}

void asf_activation_leave(struct asf_thread *t)
{
	asf_proof_release(t);
	t->busy = 0;
}

unsigned asf_threads_registered(void)
{
	unsigned n = __atomic_load_n(&registry_count, __ATOMIC_ACQUIRE);
	return n < ASF_THREADS_MAX ? n : ASF_THREADS_MAX;
}

struct asf_thread *asf_thread_registered(unsigned i)
{
	struct asf_thread *o = i < ASF_THREADS_MAX ? __atomic_load_n(&registry[i], __ATOMIC_ACQUIRE)
						 : NULL;
	return o && __atomic_load_n(&o->in_use, __ATOMIC_ACQUIRE) ? o : NULL;
}

static bool holds(uintptr_t start, size_t rlen, uintptr_t lo, size_t len)
{
	return start && start <= lo && lo - start <= rlen && len <= rlen - (lo - start);
}

/* Seqlock reader side: a copy of r if it holds the range and did not change while read. */
static bool snapshot(struct asf_record *r, uintptr_t lo, size_t len, struct asf_record *out)
{
	uint64_t s1 = __atomic_load_n(&r->seq, __ATOMIC_ACQUIRE);
	if (s1 & 1)
		return false;
	out->start = __atomic_load_n(&r->start, __ATOMIC_RELAXED);
	out->len = __atomic_load_n(&r->len, __ATOMIC_RELAXED);
	if (!holds(out->start, out->len, lo, len))
		return false;
	out->fd = __atomic_load_n(&r->fd, __ATOMIC_RELAXED);
	out->dev = __atomic_load_n(&r->dev, __ATOMIC_RELAXED);
	out->ino = __atomic_load_n(&r->ino, __ATOMIC_RELAXED);
	out->off = __atomic_load_n(&r->off, __ATOMIC_RELAXED);
	out->born = __atomic_load_n(&r->born, __ATOMIC_RELAXED);
	out->copy = __atomic_load_n(&r->copy, __ATOMIC_RELAXED);
	out->seq = s1;
	out->last_use = 0;
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return __atomic_load_n(&r->seq, __ATOMIC_RELAXED) == s1;
}

/* Inserts c into out[0..*n) ordered by born, newest first, from index `from` on; keeps at
 * most max. */
static void insert_newest_first(struct asf_record *out, int *n, int from, int max,
				const struct asf_record *c)
{
	int i = *n;
	while (i > from && out[i - 1].born < c->born) {
		if (i < max)
			out[i] = out[i - 1];
		i--;
	}
	if (i < max) {
		out[i] = *c;
		if (*n < max)
			(*n)++;
	}
}

int asf_record_recent(struct asf_thread *t, struct asf_record *out, int max)
{
	int n = 0;
	for (int i = 0; i < ASF_RECORDS_PER_THREAD; i++)
		if (t->rec[i].start && !t->rec[i].copy)
			insert_newest_first(out, &n, 0, max, &t->rec[i]);
	return n;
}

int asf_record_candidates(struct asf_thread *t, const void *buf, size_t len, bool newest_only,
			  struct asf_record *out, int max)
{
	uintptr_t lo = (uintptr_t)buf;
	int n = 0;
	if (newest_only)
		max = 1;
	for (int i = 0; t && i < ASF_RECORDS_PER_THREAD; i++) {
		struct asf_record *r = &t->rec[i];
		if (holds(r->start, r->len, lo, len)) {
			r->last_use = ++t->clock;
			insert_newest_first(out, &n, 0, max, r);
		}
	}
	int own = newest_only ? 0 : n;
	unsigned count = __atomic_load_n(&registry_count, __ATOMIC_ACQUIRE);
	if (count > ASF_THREADS_MAX)
		count = ASF_THREADS_MAX;
	for (unsigned i = 0; i < count; i++) {
		struct asf_thread *o = __atomic_load_n(&registry[i], __ATOMIC_ACQUIRE);
		if (!o || o == t || !__atomic_load_n(&o->in_use, __ATOMIC_ACQUIRE) ||
		    !__atomic_load_n(&o->has_records, __ATOMIC_ACQUIRE))
			continue;
		for (int j = 0; j < ASF_RECORDS_PER_THREAD; j++) {
			struct asf_record c;
			if (snapshot(&o->rec[j], lo, len, &c))
				insert_newest_first(out, &n, own, max, &c);
		}
	}
	return n;
}
