/* Read records and their shadows, per thread, readable across threads (see records.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>

#include "autosendfile.h"
#include "config.h"
#include "export.h"
#include "records.h"

static ASF_TLS struct asf_thread *self;
static pthread_key_t exit_key;
static int exit_key_ok;

/* Every thread state ever made, for foreign lookups and for reuse. Entries are appended
 * (count only grows) and never removed; a state is free when its in_use is 0. */
static struct asf_thread *registry[ASF_THREADS_MAX];
static unsigned registry_count;
/* Orders reads across threads (asf_record.born). */
static uint64_t read_clock;

static size_t page_round(size_t n)
{
	return (n + 4095u) & ~(size_t)4095u;
}

/* ---- what the shadow holds, by AUTOSENDFILE_VERIFY ---------------------------------------
 * full: every byte. sample: the bytes at record offsets o with o % STRIDE < SPAN, and the
 * record's last SPAN bytes. none: nothing (every comparison succeeds). Offsets below are
 * relative to the record's start; reclen is the record's length. */

/* Calls fn(lo, hi, ctx) for each sampled span [lo, hi) of [from, to), in order; stops and
 * returns false as soon as fn does. */
static bool each_sample(size_t from, size_t to, size_t reclen,
			bool (*fn)(size_t lo, size_t hi, void *ctx), void *ctx)
{
	for (size_t p = from - from % AUTOSENDFILE_SAMPLE_STRIDE; p < to;
	     p += AUTOSENDFILE_SAMPLE_STRIDE) {
		size_t lo = p > from ? p : from;
		size_t hi = p + AUTOSENDFILE_SAMPLE_SPAN < to ? p + AUTOSENDFILE_SAMPLE_SPAN : to;
		if (lo < hi && !fn(lo, hi, ctx))
			return false;
	}
	size_t tail = reclen > AUTOSENDFILE_SAMPLE_SPAN ? reclen - AUTOSENDFILE_SAMPLE_SPAN : 0;
	size_t lo = tail > from ? tail : from;
	return lo >= to || fn(lo, to, ctx);
}

struct span_ctx {
	unsigned char *shadow;       /* indexed by record offset */
	const unsigned char *bytes;  /* the program's bytes, starting at record offset `from` */
	size_t from;
};

static bool span_store(size_t lo, size_t hi, void *arg)
{
	struct span_ctx *c = arg;
	memcpy(c->shadow + lo, c->bytes + (lo - c->from), hi - lo);
	return true;
}

static bool span_equal(size_t lo, size_t hi, void *arg)
{
	struct span_ctx *c = arg;
	return memcmp(c->bytes + (lo - c->from), c->shadow + lo, hi - lo) == 0;
}

/* Stores bytes [from, to) of the record (src points at offset from) into its shadow. */
static void shadow_store(unsigned char *shadow, const unsigned char *src, size_t from, size_t to,
			 size_t reclen)
{
	struct span_ctx c = { shadow, src, from };
	if (asf_cfg.verify == ASF_VERIFY_FULL)
		memcpy(shadow + from, src, to - from);
	else if (asf_cfg.verify == ASF_VERIFY_SAMPLE)
		(void)each_sample(from, to, reclen, span_store, &c);
}

/* Does buf (the program's bytes at record offsets [from, to)) equal the shadow? */
static bool shadow_equal(const unsigned char *shadow, const unsigned char *buf, size_t from,
			 size_t to, size_t reclen)
{
	struct span_ctx c = { (unsigned char *)shadow, buf, from };
	if (asf_cfg.verify == ASF_VERIFY_FULL)
		return memcmp(buf, shadow + from, to - from) == 0;
	if (asf_cfg.verify == ASF_VERIFY_SAMPLE)
		return each_sample(from, to, reclen, span_equal, &c);
	return true;
}

/* Seqlock writer side: around every change of a record's fields or shadow. The fields a
 * foreign reader loads are stored with relaxed atomics (the reader loads them so too). */
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
	for (int i = 0; i < ASF_RECORDS_PER_THREAD; i++) {
		asf_record_drop(&t->rec[i]);
		/* Keep the reservation (a foreign reader may still touch it: it reads zeros and
		 * finds no match), give its pages back. */
		if (t->rec[i].shadow)
			madvise(t->rec[i].shadow, ASF_RECORD_MAX_BYTES, MADV_DONTNEED);
	}
	t->busy = 0;
	__atomic_store_n(&t->in_use, 0, __ATOMIC_RELEASE);
}

static void thread_exit(void *arg)
{
	int saved_errno = errno;
	if (self == arg)
		self = NULL;
	asf_thread_free(arg);
	errno = saved_errno;
}

void asf_records_init(void)
{
	if (!exit_key_ok && pthread_key_create(&exit_key, thread_exit) == 0)
		exit_key_ok = 1;
}

/* A free registered state, claimed; or NULL. */
static struct asf_thread *claim_free_state(void)
{
	unsigned n = __atomic_load_n(&registry_count, __ATOMIC_ACQUIRE);
	for (unsigned i = 0; i < n; i++) {
		struct asf_thread *t = __atomic_load_n(&registry[i], __ATOMIC_ACQUIRE);
		int expected = 0;
		if (t && __atomic_compare_exchange_n(&t->in_use, &expected, 1, false,
						     __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
			return t;
	}
	return NULL;
}

static struct asf_thread *new_state(void)
{
	unsigned slot = __atomic_fetch_add(&registry_count, 1, __ATOMIC_ACQ_REL);
	if (slot >= ASF_THREADS_MAX) {
		__atomic_fetch_sub(&registry_count, 1, __ATOMIC_ACQ_REL);
		return NULL;
	}
	void *mem = mmap(NULL, page_round(sizeof(struct asf_thread)), PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct asf_thread *t = mem == MAP_FAILED ? NULL : mem;
	if (t)
		t->in_use = 1;
	/* Published even if NULL: readers skip NULL slots. */
	__atomic_store_n(&registry[slot], t, __ATOMIC_RELEASE);
	return t;
}

struct asf_thread *asf_thread_get(bool create)
{
	if (ASF_LIKELY(self != NULL) || !create)
		return self;
	if (!exit_key_ok)
		return NULL; /* without the exit destructor the state would never be recycled */
	struct asf_thread *t = claim_free_state();
	if (!t)
		t = new_state();
	if (!t)
		return NULL;
	if (pthread_setspecific(exit_key, t) != 0) {
		asf_thread_free(t);
		return NULL;
	}
	self = t;
	return self;
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

/* The shadow reservation: made once per record, never moved or unmapped. */
static bool shadow_reserve(struct asf_record *r)
{
	if (r->shadow)
		return true;
	void *mem = mmap(NULL, ASF_RECORD_MAX_BYTES, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED)
		return false;
	PUBLISH(r->shadow, (unsigned char *)mem);
	return true;
}

void asf_record_add(struct asf_thread *t, int fd, uint64_t dev, uint64_t ino, off_t off,
		    uint64_t ctime_ns, const void *buf, size_t len)
{
	uintptr_t lo = (uintptr_t)buf;
	t->clock++;
	/* A read that continues a record in memory and in the file extends it: programs that
	 * fill one big buffer with several reads still get one record. */
	for (int i = 0; i < ASF_RECORDS_PER_THREAD; i++) {
		struct asf_record *r = &t->rec[i];
		if (r->start && r->start + r->len == lo && r->fd == fd && r->dev == dev &&
		    r->ino == ino && r->off + (off_t)r->len == off && r->ctime_ns == ctime_ns &&
		    r->len + len <= ASF_RECORD_MAX_BYTES) {
			asf_record_forget_range(t, buf, len);
			change_begin(r);
			shadow_store(r->shadow, buf, r->len, r->len + len, r->len + len);
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
	asf_record_drop(slot);
	if (!shadow_reserve(slot))
		return;
	change_begin(slot);
	shadow_store(slot->shadow, buf, 0, len, len);
	PUBLISH(slot->fd, fd);
	PUBLISH(slot->dev, dev);
	PUBLISH(slot->ino, ino);
	PUBLISH(slot->off, off);
	PUBLISH(slot->ctime_ns, ctime_ns);
	PUBLISH(slot->len, len);
	PUBLISH(slot->born, __atomic_add_fetch(&read_clock, 1, __ATOMIC_RELAXED));
	slot->last_use = t->clock;
	PUBLISH(slot->start, lo);
	change_end(slot);
}

static bool holds(const struct asf_record *r, uintptr_t lo, size_t len)
{
	return r->start && r->start <= lo && lo - r->start <= r->len &&
	       len <= r->len - (lo - r->start);
}

struct asf_record *asf_record_find(struct asf_thread *t, const void *buf, size_t len)
{
	uintptr_t lo = (uintptr_t)buf;
	for (int i = 0; i < ASF_RECORDS_PER_THREAD; i++) {
		struct asf_record *r = &t->rec[i];
		if (holds(r, lo, len)) {
			r->last_use = ++t->clock;
			return r;
		}
	}
	return NULL;
}

bool asf_record_verify(const struct asf_record *r, const void *buf, size_t len)
{
	size_t from = (uintptr_t)buf - r->start;
	return shadow_equal(r->shadow, buf, from, from + len, r->len);
}

/* Seqlock reader side. The fields and the shadow may change under us while we look; what
 * we saw counts only if seq was even before and is the same after. */
static bool snapshot_foreign(struct asf_record *r, const void *buf, size_t len,
			     struct asf_record *out)
{
	uint64_t s1 = __atomic_load_n(&r->seq, __ATOMIC_ACQUIRE);
	if (s1 & 1)
		return false;
	uintptr_t start = __atomic_load_n(&r->start, __ATOMIC_RELAXED);
	size_t rlen = __atomic_load_n(&r->len, __ATOMIC_RELAXED);
	unsigned char *shadow = __atomic_load_n(&r->shadow, __ATOMIC_RELAXED);
	uintptr_t lo = (uintptr_t)buf;
	if (!start || !shadow || start > lo || lo - start > rlen || len > rlen - (lo - start) ||
	    rlen > ASF_RECORD_MAX_BYTES)
		return false;
	bool same = shadow_equal(shadow, buf, lo - start, lo - start + len, rlen);
	out->start = start;
	out->len = rlen;
	out->fd = __atomic_load_n(&r->fd, __ATOMIC_RELAXED);
	out->dev = __atomic_load_n(&r->dev, __ATOMIC_RELAXED);
	out->ino = __atomic_load_n(&r->ino, __ATOMIC_RELAXED);
	out->off = __atomic_load_n(&r->off, __ATOMIC_RELAXED);
	out->ctime_ns = __atomic_load_n(&r->ctime_ns, __ATOMIC_RELAXED);
	out->born = __atomic_load_n(&r->born, __ATOMIC_RELAXED);
	out->shadow = NULL;
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return same && __atomic_load_n(&r->seq, __ATOMIC_RELAXED) == s1;
}

bool asf_record_find_foreign(const struct asf_thread *me, const void *buf, size_t len,
			     struct asf_record *out)
{
	unsigned n = __atomic_load_n(&registry_count, __ATOMIC_ACQUIRE);
	if (n > ASF_THREADS_MAX)
		n = ASF_THREADS_MAX;
	bool found = false, newest_only = asf_cfg.verify != ASF_VERIFY_FULL;
	struct asf_record cand;
	for (unsigned i = 0; i < n; i++) {
		struct asf_thread *t = __atomic_load_n(&registry[i], __ATOMIC_ACQUIRE);
		if (!t || t == me || !__atomic_load_n(&t->in_use, __ATOMIC_ACQUIRE))
			continue;
		for (int j = 0; j < ASF_RECORDS_PER_THREAD; j++) {
			if (!snapshot_foreign(&t->rec[j], buf, len, &cand))
				continue;
			if (!newest_only)
				return *out = cand, true;
			if (!found || cand.born > out->born)
				*out = cand;
			found = true;
		}
	}
	return found;
}
