/* The refusal table: a uthash keyed by (dev, ino).
 *
 * Host-process rules: allocation through mmap (this may run in a signal handler, so no
 * malloc), out-of-memory is not fatal (HASH_NONFATAL_OOM: the entry is simply not added),
 * and the mutex is only ever try-locked, so a signal handler can never deadlock on it; a
 * lookup that finds it busy answers "not refused", which is safe (sendfile is tried and
 * refused again, and the buffer is sent). Nobody touches the lock until a file has refused:
 * the hot path reads one counter. */
#define _GNU_SOURCE
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>

#include "ownmem.h"
#include "refusals.h"


static int add_failed; /* set by uthash when an add ran out of memory */
#define HASH_NONFATAL_OOM 1
#define uthash_nonfatal_oom(obj) (add_failed = 1)
#define uthash_malloc(sz) asf_mem_alloc(sz)
#define uthash_free(ptr, sz) asf_mem_free((ptr), (sz))
#include <uthash.h>

#define REFUSALS_MAX 4096u

struct refusal_key {
	uint64_t dev, ino;
};

struct refusal {
	struct refusal_key key;
	UT_hash_handle hh;
};

static struct refusal *table;
static unsigned count;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

void asf_refusal_add(uint64_t dev, uint64_t ino)
{
	if (__atomic_load_n(&count, __ATOMIC_ACQUIRE) >= REFUSALS_MAX ||
	    pthread_mutex_trylock(&lock) != 0)
		return;
	struct refusal_key key = { dev, ino };
	struct refusal *found = NULL;
	HASH_FIND(hh, table, &key, sizeof key, found);
	if (!found) {
		struct refusal *r = asf_mem_alloc(sizeof *r);
		if (r) {
			memset(r, 0, sizeof *r);
			r->key = key;
			add_failed = 0;
			HASH_ADD(hh, table, key, sizeof key, r);
			if (!add_failed)
				__atomic_store_n(&count, count + 1, __ATOMIC_RELEASE);
			else
				asf_mem_free(r, sizeof *r);
		}
	}
	pthread_mutex_unlock(&lock);
}

bool asf_refused(uint64_t dev, uint64_t ino)
{
	if (__atomic_load_n(&count, __ATOMIC_ACQUIRE) == 0)
		return false;
	if (pthread_mutex_trylock(&lock) != 0)
		return false;
	struct refusal_key key = { dev, ino };
	struct refusal *found = NULL;
	HASH_FIND(hh, table, &key, sizeof key, found);
	pthread_mutex_unlock(&lock);
	return found != NULL;
}

unsigned asf_refusal_count(void)
{
	return __atomic_load_n(&count, __ATOMIC_ACQUIRE);
}
