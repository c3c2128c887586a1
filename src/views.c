/* File views: a private descriptor and a read-only shared mapping per source file (see
 * views.h). The table is read without a lock; changes take a try-lock (never waited on:
 * this code may run in a signal handler), and a user holds a reference so a view it uses
 * is never torn down under it. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "trylock.h"
#include "ownmem.h"
#include "fdtable.h"
#include "views.h"

/* FREE: nothing. LIVE: descriptor and mapping, usable. IDLE: the program closed the file;
 * the mapping (its page tables already filled) is kept a moment for the next open of the
 * same file, the descriptor is not. DYING: torn down by the last user. */
enum { VIEW_FREE = 0, VIEW_LIVE, VIEW_DYING, VIEW_IDLE };

static struct asf_view views[ASF_VIEWS_MAX];
static int table_lock;
/* Slots at and above views_top have never held a view: the scans stop there. A slot is
 * taken lowest first, so a server sending a few files scans a few slots, not all of them
 * (two scans of the whole table per request were 3% of a 16 KiB server's CPU). Raised
 * before a slot leaves FREE, never lowered. */
static int views_top;

static int top(void)
{
	return __atomic_load_n(&views_top, __ATOMIC_SEQ_CST);
}
/* Every private descriptor ever made lies in [priv_lo, priv_hi]: close() of a number
 * outside it needs no look at the table. */
static int priv_lo = -1, priv_hi = -1;

static void note_private(int fd)
{
	if (fd < 0)
		return;
	int lo = __atomic_load_n(&priv_lo, __ATOMIC_RELAXED);
	while ((lo < 0 || fd < lo) &&
	       !__atomic_compare_exchange_n(&priv_lo, &lo, fd, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
	int hi = __atomic_load_n(&priv_hi, __ATOMIC_RELAXED);
	while (fd > hi &&
	       !__atomic_compare_exchange_n(&priv_hi, &hi, fd, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_SEQ_CST)
#define STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_SEQ_CST)

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec + 1;
}

static asf_view_id make_id(int slot, uint32_t gen)
{
	return ((uint64_t)(unsigned)(slot + 1) << 32) | gen;
}

static struct asf_view *slot_of(asf_view_id id, uint32_t *gen)
{
	unsigned s = (unsigned)(id >> 32);
	if (s == 0 || s > ASF_VIEWS_MAX)
		return NULL;
	*gen = (uint32_t)id;
	return &views[s - 1];
}

/* A private duplicate of fd, close-on-exec, where the program's own descriptors never are:
 * at or above its soft RLIMIT_NOFILE. The kernel checks that limit only when it hands out a
 * number, so a descriptor above it costs the program none of its numbers: open() at the limit
 * still fails or succeeds exactly as without the library, and loops that close every number
 * below getdtablesize() never meet it. To get such a number the soft limit is raised for the
 * one fcntl and put back (prlimit reads and sets in one step; if something else changed the
 * limit meanwhile, that change is left alone). When the hard limit leaves no room above the
 * soft one (containers often set both alike), the duplicate takes a high number below the
 * limit instead: it then counts against the program's limit (README, "Limits"). */
/* The limit as last seen: the common case needs no prlimit to learn it (a stale value is
 * noticed, since prlimit returns the limit it replaces). */
static struct rlimit lim_seen;
static int lim_known;
/* Serializes learning the limit and the raise-dup-restore of the soft limit (two threads
 * doing that at once could leave the limit raised). The table lock is never held across it. */
static int rlimit_lock;
/* > 0: the last look found no room above the soft limit, and a private descriptor goes at
 * or above this number, below it: no lock, one fcntl. 0: unknown, or room above. */
static int below_from;

/* No room above the soft limit: a high number below it. */
static int dup_below(int fd, rlim_t soft)
{
	rlim_t cur = soft > 8192 ? 8192 : soft;
	int low = cur > 1100 ? (int)cur - 100 : (int)cur / 2;
	if (low < 3)
		low = 3;
	__atomic_store_n(&below_from, low, __ATOMIC_RELAXED);
	return (int)syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, low);
}

static int dup_private_locked(int fd);

static int dup_private(int fd)
{
	int low = __atomic_load_n(&below_from, __ATOMIC_RELAXED);
	if (low > 0) {
		int pfd = (int)syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, low);
		if (pfd >= 0) {
			note_private(pfd);
			return pfd;
		}
	}
	if (!asf_lock_soon(&rlimit_lock))
		return -1;
	int pfd = dup_private_locked(fd);
	asf_unlock(&rlimit_lock);
	return pfd;
}

static int dup_private_locked(int fd)
{
	struct rlimit old = lim_seen;
	if (!__atomic_load_n(&lim_known, __ATOMIC_ACQUIRE) &&
	    prlimit(0, RLIMIT_NOFILE, NULL, &old) != 0)
		return -1;
	for (int tries = 0; tries < 2; tries++) {
		int pfd;
		if (old.rlim_cur == RLIM_INFINITY || old.rlim_cur >= old.rlim_max ||
		    old.rlim_cur > (1u << 20)) {
			pfd = dup_below(fd, old.rlim_cur);
			if (pfd < 0 && tries == 0 && prlimit(0, RLIMIT_NOFILE, NULL, &old) == 0)
				continue; /* the limit we knew may be old: once more with today's */
		} else {
			__atomic_store_n(&below_from, 0, __ATOMIC_RELAXED);
			rlim_t room = old.rlim_max - old.rlim_cur;
			struct rlimit want = { old.rlim_cur + (room < 2u * ASF_VIEWS_MAX ? room
											: 2u * ASF_VIEWS_MAX),
					       old.rlim_max },
				      was, now;
			if (prlimit(0, RLIMIT_NOFILE, &want, &was) != 0) {
				/* The limit we knew is old (a hard limit lowered since)? */
				__atomic_store_n(&lim_known, 0, __ATOMIC_RELEASE);
				if (tries == 0 && prlimit(0, RLIMIT_NOFILE, NULL, &old) == 0)
					continue;
				return -1;
			}
			if (was.rlim_cur != old.rlim_cur || was.rlim_max != old.rlim_max) {
				/* The limit moved since we last saw it: put it back, start again. */
				(void)prlimit(0, RLIMIT_NOFILE, &was, NULL);
				old = was;
				continue;
			}
			pfd = (int)syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, (int)old.rlim_cur);
			/* Put the limit back; if another thread changed it meanwhile, theirs stands. */
			if (prlimit(0, RLIMIT_NOFILE, &old, &now) == 0 &&
			    (now.rlim_cur != want.rlim_cur || now.rlim_max != want.rlim_max))
				(void)prlimit(0, RLIMIT_NOFILE, &now, NULL);
		}
		lim_seen = old;
		__atomic_store_n(&lim_known, 1, __ATOMIC_RELEASE);
		note_private(pfd);
		return pfd;
	}
	return -1;
}

/* Tears a view down. Lock held, state DYING, no references. */
static void finalize(struct asf_view *v)
{
	if (v->map)
		asf_mem_unmap((void *)v->map, v->maplen);
	int fd = __atomic_exchange_n(&v->fd, -1, __ATOMIC_SEQ_CST);
	if (fd >= 0)
		(void)syscall(SYS_close, fd);
	v->map = NULL;
	v->maplen = 0;
	STORE(v->links, 0);
	STORE(v->idle_since, 0);
	STORE(v->refused, false);
	STORE(v->state, VIEW_FREE);
}

/* No new users from now on; torn down now if nobody uses it, else by the last put. Lock
 * held. */
static void retire(struct asf_view *v)
{
	int st = LOAD(v->state);
	if (st != VIEW_LIVE && st != VIEW_IDLE)
		return;
	STORE(v->state, VIEW_DYING);
	if (LOAD(v->refs) == 0)
		finalize(v);
}

/* Lock held: finish views whose last user left while the lock was taken, and retire those
 * unlinked for longer than the linger time. */
static void housekeeping(uint64_t now)
{
	for (int i = 0, n = top(); i < n; i++) {
		struct asf_view *v = &views[i];
		int st = LOAD(v->state);
		if (st == VIEW_DYING && LOAD(v->refs) == 0)
			finalize(v);
		else if ((st == VIEW_IDLE || (st == VIEW_LIVE && LOAD(v->links) <= 0)) &&
			 LOAD(v->idle_since) && now - LOAD(v->idle_since) >= ASF_VIEW_LINGER_NS)
			retire(v);
	}
}

/* Makes slot v a view of the file private descriptor pfd names (identity dev/ino, size
 * len), taking pfd. Lock held, v free. */
static bool create(struct asf_view *v, int pfd, uint64_t dev, uint64_t ino, size_t len)
{
	int saved_errno = errno;
	void *map = asf_mem_map(asf_mem_view_hint((unsigned)(v - views), len), len, PROT_READ,
				MAP_SHARED, pfd, 0);
	if (map == MAP_FAILED) {
		errno = saved_errno;
		return false;
	}
	int slot = (int)(v - views);
	if (slot >= top())
		__atomic_store_n(&views_top, slot + 1, __ATOMIC_SEQ_CST);
	v->fd = pfd;
	v->dev = dev;
	v->ino = ino;
	v->map = map;
	v->maplen = len;
	STORE(v->links, 0);
	STORE(v->idle_since, 0);
	STORE(v->refused, false);
	STORE(v->gen, v->gen + 1);
	STORE(v->state, VIEW_LIVE);
	errno = saved_errno;
	return true;
}

/* A slot for a new view: a free one, else one nobody uses (unlinked first). Lock held. */
static struct asf_view *free_slot(void)
{
	struct asf_view *idle = NULL, *unused = NULL;
	for (int i = 0, n = top(); i < n; i++) {
		struct asf_view *v = &views[i];
		int st = LOAD(v->state);
		if (st == VIEW_FREE)
			return v;
		if (st == VIEW_IDLE) {
			if (!idle || LOAD(v->idle_since) < LOAD(idle->idle_since))
				idle = v;
			continue;
		}
		if (st != VIEW_LIVE || LOAD(v->refs) != 0)
			continue;
		if (LOAD(v->links) <= 0) {
			if (!idle || LOAD(v->idle_since) < LOAD(idle->idle_since))
				idle = v;
		} else if (!unused) {
			unused = v;
		}
	}
	if (top() < ASF_VIEWS_MAX)
		return &views[top()]; /* never used: free (create raises views_top) */
	struct asf_view *victim = idle ? idle : unused;
	if (!victim)
		return NULL;
	retire(victim);
	return LOAD(victim->state) == VIEW_FREE ? victim : NULL;
}

static bool alive(asf_view_id id)
{
	uint32_t gen;
	struct asf_view *v = slot_of(id, &gen);
	return v && LOAD(v->state) == VIEW_LIVE && LOAD(v->gen) == gen;
}

/* An idle view made usable again with pfd, a private descriptor of its file: the mapping
 * and its page tables are reused. Lock held; takes pfd. */
static void revive(struct asf_view *v, int pfd)
{
	STORE(v->fd, pfd);
	STORE(v->links, 0);
	STORE(v->idle_since, 0);
	STORE(v->gen, v->gen + 1);
	STORE(v->state, VIEW_LIVE);
}

/* The program closed its last descriptor of the file: the view stops being usable, and
 * its private descriptor is handed back to be closed after the lock is let go (-1: none
 * to close). The mapping is kept a moment (ASF_VIEW_LINGER_NS), unless the file turns out
 * deleted (view_idle_done). Lock held. */
static int go_idle(struct asf_view *v, uint64_t now)
{
	STORE(v->state, VIEW_IDLE);
	if (LOAD(v->refs) != 0) { /* a write still sends from it: its last put tears it down */
		STORE(v->state, VIEW_DYING);
		return -1;
	}
	STORE(v->idle_since, now);
	return __atomic_exchange_n(&v->fd, -1, __ATOMIC_SEQ_CST);
}

/* After go_idle, without the lock: a deleted file is not kept on disk by our mapping: its
 * idle view goes now (or, if the lock is busy, at the next housekeeping). */
static void view_idle_done(struct asf_view *v, uint32_t gen, int pfd)
{
	struct stat st;
	bool deleted = fstat(pfd, &st) != 0 || st.st_nlink == 0;
	(void)syscall(SYS_close, pfd);
	if (!deleted)
		return;
	if (asf_trylock(&table_lock)) {
		if (LOAD(v->state) == VIEW_IDLE && LOAD(v->gen) == gen)
			retire(v);
		asf_unlock(&table_lock);
	} else if (LOAD(v->state) == VIEW_IDLE && LOAD(v->gen) == gen) {
		STORE(v->idle_since, 1); /* long past: the next housekeeping retires it */
	}
}

/* A private descriptor of the file fd names, checked to be that file (identity dev/ino: the
 * number may name another by now, a dup2 in another thread since the fd table said
 * otherwise), and its size; -1 if none. */
static int private_of(int fd, uint64_t dev, uint64_t ino, size_t *size)
{
	int saved_errno = errno;
	int pfd = dup_private(fd);
	struct stat st;
	if (pfd >= 0 && (fstat(pfd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_dev != dev ||
			 (uint64_t)st.st_ino != ino || st.st_size <= 0)) {
		(void)syscall(SYS_close, pfd);
		pfd = -1;
	}
	if (pfd >= 0)
		*size = (size_t)st.st_size;
	errno = saved_errno;
	return pfd;
}

asf_view_id asf_view_for_fd(int fd)
{
	asf_view_id id = asf_fd_view(fd);
	if (id && alive(id))
		return id;
	uint64_t dev, ino;
	if (!asf_fd_identity(fd, &dev, &ino))
		return 0;
	/* The common case, without the lock: the file already has a live view (another fd
	 * of it, another request for the same file). A view retired meanwhile is caught by
	 * its users (asf_view_get), who then look again. */
	uint64_t size = asf_fd_size(fd);
	for (int i = 0, n = top(); i < n; i++) {
		struct asf_view *v = &views[i];
		uint32_t gen = LOAD(v->gen);
		if (LOAD(v->state) == VIEW_LIVE && v->dev == dev && v->ino == ino && v->maplen >= size &&
		    LOAD(v->gen) == gen) {
			id = make_id(i, gen);
			asf_fd_set_view(fd, id);
			return id;
		}
	}
	/* Not found: a new descriptor for an idle view or a new one. Its system calls are made
	 * before the lock is taken: a thread preempted at their return while holding it kept
	 * other threads waiting for milliseconds, and their writes went out by the real call
	 * (copyserver --threads 4: up to 6 chunks of 64 KiB per second). */
	size_t psize = 0;
	int pfd = private_of(fd, dev, ino, &psize);
	if (pfd < 0)
		return 0;
	if (!asf_lock_soon(&table_lock)) {
		(void)syscall(SYS_close, pfd);
		return 0;
	}
	housekeeping(now_ns());
	struct asf_view *found = NULL;
	for (int i = 0; i < top() && !found; i++) {
		int st = LOAD(views[i].state);
		if ((st == VIEW_LIVE || st == VIEW_IDLE) && views[i].dev == dev && views[i].ino == ino)
			found = &views[i];
	}
	/* The file grew since its view was made (this fd saw it longer): a new, longer view;
	 * the old one goes when its users and links are done. */
	if (found && found->maplen < asf_fd_size(fd)) {
		retire(found);
		found = NULL;
	}
	if (found && LOAD(found->state) == VIEW_IDLE) {
		revive(found, pfd);
		pfd = -1;
	}
	if (!found) {
		struct asf_view *v = free_slot();
		if (v && create(v, pfd, dev, ino, psize)) {
			found = v;
			pfd = -1;
		}
	}
	id = found ? make_id((int)(found - views), LOAD(found->gen)) : 0;
	asf_unlock(&table_lock);
	if (pfd >= 0) /* a live view was there after all (or none could be made) */
		(void)syscall(SYS_close, pfd);
	if (id)
		asf_fd_set_view(fd, id);
	return id;
}

struct asf_view *asf_view_get(asf_view_id id)
{
	uint32_t gen;
	struct asf_view *v = slot_of(id, &gen);
	if (!v)
		return NULL;
	__atomic_add_fetch(&v->refs, 1, __ATOMIC_SEQ_CST);
	if (LOAD(v->state) == VIEW_LIVE && LOAD(v->gen) == gen)
		return v;
	asf_view_put(v);
	return NULL;
}

void asf_view_put(struct asf_view *v)
{
	if (__atomic_sub_fetch(&v->refs, 1, __ATOMIC_SEQ_CST) == 0 && LOAD(v->state) == VIEW_DYING &&
	    asf_trylock(&table_lock)) {
		if (LOAD(v->state) == VIEW_DYING && LOAD(v->refs) == 0)
			finalize(v);
		asf_unlock(&table_lock);
	}
}

const unsigned char *asf_view_bytes(const struct asf_view *v, off_t off, size_t n)
{
	if (off < 0 || !v->map || (uint64_t)off > v->maplen || n > v->maplen - (size_t)off)
		return NULL;
	return v->map + off;
}

void asf_view_refuse(struct asf_view *v)
{
	__atomic_store_n(&v->refused, true, __ATOMIC_RELAXED);
}

void asf_view_link(asf_view_id id)
{
	uint32_t gen;
	struct asf_view *v = slot_of(id, &gen);
	if (v && LOAD(v->gen) == gen) {
		__atomic_add_fetch(&v->links, 1, __ATOMIC_SEQ_CST);
		STORE(v->idle_since, 0);
	}
}

void asf_view_unlink(asf_view_id id)
{
	uint32_t gen;
	struct asf_view *v = slot_of(id, &gen);
	if (!v || LOAD(v->gen) != gen || __atomic_sub_fetch(&v->links, 1, __ATOMIC_SEQ_CST) > 0)
		return;
	/* The program closed its last descriptor of the file: so do we (go_idle), so the process
	 * never holds a descriptor for a file the program no longer has open. */
	if (asf_trylock(&table_lock)) {
		uint64_t now = now_ns();
		int pfd = -1;
		if (LOAD(v->gen) == gen && LOAD(v->links) <= 0 && LOAD(v->state) == VIEW_LIVE)
			pfd = go_idle(v, now);
		uint32_t idle_gen = LOAD(v->gen);
		housekeeping(now);
		asf_unlock(&table_lock);
		if (pfd >= 0)
			view_idle_done(v, idle_gen, pfd);
	} else {
		STORE(v->idle_since, now_ns()); /* the next housekeeping retires it */
	}
}

bool asf_view_owns_fd(int fd)
{
	if (fd < __atomic_load_n(&priv_lo, __ATOMIC_RELAXED) || fd < 0 ||
	    fd > __atomic_load_n(&priv_hi, __ATOMIC_RELAXED))
		return false;
	for (int i = 0, n = top(); i < n; i++)
		if (LOAD(views[i].state) != VIEW_FREE && asf_view_fd(&views[i]) == fd)
			return true;
	return false;
}

void asf_view_vacate_fd(int fd)
{
	if (!asf_view_owns_fd(fd))
		return;
	int saved_errno = errno;
	for (int i = 0, n = top(); i < n; i++) {
		struct asf_view *v = &views[i];
		if (asf_view_fd(v) != fd)
			continue;
		/* A new number for the same file; without one the view can no longer send. */
		int moved = dup_private(fd);
		__atomic_store_n(&v->fd, moved, __ATOMIC_SEQ_CST);
		if (moved < 0 && asf_trylock(&table_lock)) {
			retire(v);
			asf_unlock(&table_lock);
		}
	}
	errno = saved_errno;
}

int asf_view_fds_in(unsigned first, unsigned last, int *out, int max)
{
	int n = 0;
	for (int i = 0; i < top() && n < max; i++) {
		int fd = asf_view_fd(&views[i]);
		if (LOAD(views[i].state) != VIEW_FREE && fd >= 0 && (unsigned)fd >= first &&
		    (unsigned)fd <= last)
			out[n++] = fd;
	}
	/* ascending (insertion sort: at most ASF_VIEWS_MAX) */
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && out[j - 1] > out[j]; j--) {
			int x = out[j];
			out[j] = out[j - 1];
			out[j - 1] = x;
		}
	return n;
}

void asf_views_after_fork_child(void)
{
	for (int i = 0, n = top(); i < n; i++) {
		struct asf_view *v = &views[i];
		if (LOAD(v->state) != VIEW_FREE) {
			STORE(v->state, VIEW_DYING); /* (idle ones too) */
			finalize(v);
		}
		STORE(v->refs, 0);
		STORE(v->gen, v->gen + 1);
	}
	asf_unlock(&table_lock);
	asf_unlock(&rlimit_lock); /* a thread of the parent may have held it at the fork */
}
