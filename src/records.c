#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>

#include "export.h"
#include "records.h"

static ASF_TLS struct asf_thread *self;
static pthread_key_t exit_key;
static int exit_key_ok;

static size_t page_round(size_t n)
{
	return (n + 4095u) & ~(size_t)4095u;
}

void asf_thread_free(struct asf_thread *t)
{
	if (!t)
		return;
	for (int i = 0; i < ASF_RECORDS_PER_THREAD; i++)
		if (t->rec[i].shadow)
			munmap(t->rec[i].shadow, t->rec[i].shadow_cap);
	munmap(t, page_round(sizeof *t));
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

struct asf_thread *asf_thread_get(bool create)
{
	if (ASF_LIKELY(self != NULL) || !create)
		return self;
	void *mem = mmap(NULL, page_round(sizeof *self), PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return NULL;
	/* Without the exit destructor the state would leak at thread exit: don't track. */
	if (!exit_key_ok || pthread_setspecific(exit_key, mem) != 0) {
		munmap(mem, page_round(sizeof *self));
		return NULL;
	}
	self = mem;
	return self;
}

void asf_record_drop(struct asf_record *r)
{
	r->start = 0;
	r->len = 0;
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

/* Makes room for cap bytes of shadow; false if memory is short. */
static bool shadow_reserve(struct asf_record *r, size_t cap, size_t keep)
{
	if (cap <= r->shadow_cap)
		return true;
	size_t want = page_round(cap < 65536 ? 65536 : cap);
	void *mem;
	if (r->shadow && keep == 0) {
		munmap(r->shadow, r->shadow_cap);
		r->shadow = NULL;
		r->shadow_cap = 0;
	}
	if (r->shadow)
		mem = mremap(r->shadow, r->shadow_cap, want, MREMAP_MAYMOVE);
	else
		mem = mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return false;
	r->shadow = mem;
	r->shadow_cap = want;
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
			if (!r->start || !shadow_reserve(r, r->len + len, r->len)) {
				asf_record_drop(r);
				break;
			}
			memcpy(r->shadow + r->len, buf, len);
			r->len += len;
			r->last_use = t->clock;
			return;
		}
	}
	asf_record_forget_range(t, buf, len);
	if (len > ASF_RECORD_MAX_BYTES)
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
	if (!shadow_reserve(slot, len, 0))
		return;
	memcpy(slot->shadow, buf, len);
	slot->fd = fd;
	slot->dev = dev;
	slot->ino = ino;
	slot->off = off;
	slot->ctime_ns = ctime_ns;
	slot->len = len;
	slot->last_use = t->clock;
	slot->start = lo;
}

struct asf_record *asf_record_find(struct asf_thread *t, const void *buf, size_t len)
{
	uintptr_t lo = (uintptr_t)buf;
	for (int i = 0; i < ASF_RECORDS_PER_THREAD; i++) {
		struct asf_record *r = &t->rec[i];
		if (r->start && r->start <= lo && lo - r->start <= r->len &&
		    len <= r->len - (lo - r->start)) {
			r->last_use = ++t->clock;
			return r;
		}
	}
	return NULL;
}

bool asf_record_verify(const struct asf_record *r, const void *buf, size_t len)
{
	return memcmp(buf, r->shadow + ((uintptr_t)buf - r->start), len) == 0;
}
