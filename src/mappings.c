/* The table of the program's file mappings (see mappings.h), and the kernel's word on what
 * an address maps right now (PROCMAP_QUERY). */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <linux/ioctl.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "trylock.h"
#include "content.h"
#include "fdtable.h"
#include "mappings.h"
#include "proof.h"

static struct asf_mapping table[ASF_MAPPINGS_MAX];
static int live;  /* entries in use: lookups skip the table while it is 0 */
static int hwm;   /* no entry at or above this index is in use: lookups stop there */
static int table_lock;

#define PUBLISH(field, value) __atomic_store_n(&(field), (value), __ATOMIC_RELAXED)

static void change_begin(struct asf_mapping *m)
{
	__atomic_store_n(&m->seq, m->seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

static void change_end(struct asf_mapping *m)
{
	__atomic_store_n(&m->seq, m->seq + 1, __ATOMIC_RELEASE);
}

/* Lock held. */
static void drop(struct asf_mapping *m)
{
	change_begin(m);
	PUBLISH(m->start, (uintptr_t)0);
	PUBLISH(m->len, (size_t)0);
	change_end(m);
	__atomic_sub_fetch(&live, 1, __ATOMIC_RELAXED);
}

/* Lock held. */
static void drop_overlapping(uintptr_t lo, uintptr_t hi)
{
	int end = __atomic_load_n(&hwm, __ATOMIC_RELAXED);
	for (int i = 0; i < end; i++) {
		struct asf_mapping *m = &table[i];
		if (m->start && m->start < hi && lo < m->start + m->len)
			drop(m);
	}
}

void asf_mapping_add(void *addr, size_t len, bool shared, bool writable, int fd, off_t off)
{
	if (len == 0)
		return;
	if (!asf_lock_soon(&table_lock))
		return;
	uintptr_t lo = (uintptr_t)addr;
	drop_overlapping(lo, lo + len);
	if (writable) { /* a guard: no claim, no probe */
		uint64_t dev, ino;
		struct asf_mapping *g = NULL;
		for (int i = 0; i < ASF_MAPPINGS_MAX && !g; i++)
			if (!table[i].start)
				g = &table[i];
		if (g && asf_fd_identity(fd, &dev, &ino)) {
			if (g - table >= __atomic_load_n(&hwm, __ATOMIC_RELAXED))
				__atomic_store_n(&hwm, (int)(g - table) + 1, __ATOMIC_RELEASE);
			change_begin(g);
			PUBLISH(g->len, len);
			PUBLISH(g->fd, fd);
			PUBLISH(g->off, off);
			PUBLISH(g->shared, true);
			PUBLISH(g->writable, true);
			PUBLISH(g->dev, dev);
			PUBLISH(g->ino, ino);
			PUBLISH(g->start, lo);
			change_end(g);
			__atomic_add_fetch(&live, 1, __ATOMIC_RELAXED);
		}
		asf_unlock(&table_lock);
		return;
	}
	uint64_t dev = 0, ino = 0;
	struct asf_mapping *slot = NULL;
	for (int i = 0; i < ASF_MAPPINGS_MAX && !slot; i++)
		if (!table[i].start)
			slot = &table[i];
	if (slot && slot - table >= __atomic_load_n(&hwm, __ATOMIC_RELAXED))
		__atomic_store_n(&hwm, (int)(slot - table) + 1, __ATOMIC_RELEASE);
	if (slot && asf_fd_identity(fd, &dev, &ino)) {
		change_begin(slot);
		PUBLISH(slot->len, len);
		PUBLISH(slot->fd, fd);
		PUBLISH(slot->off, off);
		PUBLISH(slot->shared, shared);
		PUBLISH(slot->writable, false);
		PUBLISH(slot->dev, dev);
		PUBLISH(slot->ino, ino);
		PUBLISH(slot->start, lo);
		change_end(slot);
		__atomic_add_fetch(&live, 1, __ATOMIC_RELAXED);
		asf_content_mark_any();
	}
	asf_unlock(&table_lock);
}

void asf_mapping_remove(const void *addr, size_t len)
{
	if (!__atomic_load_n(&live, __ATOMIC_RELAXED) || len == 0)
		return;
	/* The lock is held only for a few stores; but a signal handler may have interrupted its
	 * holder in this very thread: after a bounded wait the entry is left (it is only a
	 * claim: the proof in source.c never trusts it alone). */
	if (!asf_lock_soon(&table_lock))
		return;
	/* (hwm only grows: a table that emptied is scanned as far as it once reached) */
	drop_overlapping((uintptr_t)addr, (uintptr_t)addr + len);
	asf_unlock(&table_lock);
}

bool asf_mapping_find(const void *buf, size_t n, struct asf_mapping *out)
{
	if (!__atomic_load_n(&live, __ATOMIC_RELAXED))
		return false;
	uintptr_t lo = (uintptr_t)buf;
	int end = __atomic_load_n(&hwm, __ATOMIC_ACQUIRE);
	for (int i = 0; i < end; i++) {
		struct asf_mapping *m = &table[i];
		uint64_t s1 = __atomic_load_n(&m->seq, __ATOMIC_ACQUIRE);
		uintptr_t start = __atomic_load_n(&m->start, __ATOMIC_RELAXED);
		size_t len = __atomic_load_n(&m->len, __ATOMIC_RELAXED);
		if ((s1 & 1) || !start || start > lo || lo - start > len || n > len - (lo - start) ||
		    __atomic_load_n(&m->writable, __ATOMIC_RELAXED))
			continue;
		out->start = start;
		out->len = len;
		out->fd = __atomic_load_n(&m->fd, __ATOMIC_RELAXED);
		out->off = __atomic_load_n(&m->off, __ATOMIC_RELAXED);
		out->shared = __atomic_load_n(&m->shared, __ATOMIC_RELAXED);
		out->dev = __atomic_load_n(&m->dev, __ATOMIC_RELAXED);
		out->ino = __atomic_load_n(&m->ino, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&m->seq, __ATOMIC_RELAXED) == s1)
			return true;
	}
	return false;
}

int asf_mapping_list(struct asf_mapping *out, int max)
{
	int k = 0;
	if (!__atomic_load_n(&live, __ATOMIC_RELAXED))
		return 0;
	int end = __atomic_load_n(&hwm, __ATOMIC_ACQUIRE);
	for (int i = 0; i < end && k < max; i++) {
		struct asf_mapping *m = &table[i];
		uint64_t s1 = __atomic_load_n(&m->seq, __ATOMIC_ACQUIRE);
		struct asf_mapping *o = &out[k];
		o->start = __atomic_load_n(&m->start, __ATOMIC_RELAXED);
		if ((s1 & 1) || !o->start)
			continue;
		o->len = __atomic_load_n(&m->len, __ATOMIC_RELAXED);
		o->writable = __atomic_load_n(&m->writable, __ATOMIC_RELAXED);
		o->fd = __atomic_load_n(&m->fd, __ATOMIC_RELAXED);
		o->dev = __atomic_load_n(&m->dev, __ATOMIC_RELAXED);
		o->ino = __atomic_load_n(&m->ino, __ATOMIC_RELAXED);
		o->off = __atomic_load_n(&m->off, __ATOMIC_RELAXED);
		o->shared = __atomic_load_n(&m->shared, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&m->seq, __ATOMIC_RELAXED) == s1)
			k++;
	}
	return k;
}

static int kernel_writable(const void *buf, size_t n, uint64_t dev, uint64_t ino);

bool asf_mapping_alias(const void *buf, size_t n, uint64_t dev, uint64_t ino)
{
	if (!__atomic_load_n(&live, __ATOMIC_RELAXED))
		return false;
	uintptr_t lo = (uintptr_t)buf, hi = lo + n;
	bool ask = false;
	int end = __atomic_load_n(&hwm, __ATOMIC_ACQUIRE);
	for (int i = 0; i < end; i++) {
		struct asf_mapping *m = &table[i];
		uintptr_t start = __atomic_load_n(&m->start, __ATOMIC_RELAXED);
		size_t len = __atomic_load_n(&m->len, __ATOMIC_RELAXED);
		if (!start || start >= hi || lo >= start + len ||
		    __atomic_load_n(&m->dev, __ATOMIC_RELAXED) != dev ||
		    __atomic_load_n(&m->ino, __ATOMIC_RELAXED) != ino ||
		    !__atomic_load_n(&m->shared, __ATOMIC_RELAXED))
			continue;
		/* (a torn read can only make this say yes: a redirect missed, never a wrong one) */
		if (__atomic_load_n(&m->writable, __ATOMIC_ACQUIRE))
			return true;
		ask = true; /* read-only as mapped; made writable behind our back since? */
	}
	return ask && kernel_writable(buf, n, dev, ino) != 0;
}

void asf_mapping_made_writable(const void *addr, size_t len)
{
	if (!__atomic_load_n(&live, __ATOMIC_RELAXED) || len == 0)
		return;
	if (!asf_lock_soon(&table_lock))
		return;
	uintptr_t lo = (uintptr_t)addr, hi = lo + len;
	int end = __atomic_load_n(&hwm, __ATOMIC_RELAXED);
	for (int i = 0; i < end; i++) {
		struct asf_mapping *m = &table[i];
		if (!m->start || m->start >= hi || lo >= m->start + m->len || m->writable)
			continue;
		if (!m->shared) {
			drop(m);
			continue;
		}
		/* The whole entry becomes a guard (a part made writable taints the rest too:
		 * simpler, and only costs redirects). */
		change_begin(m);
		PUBLISH(m->writable, true);
		change_end(m);
	}
	asf_unlock(&table_lock);
}

/* PROCMAP_QUERY (Linux 6.11, include/uapi/linux/fs.h); Debian 12's headers predate it. */
struct asf_procmap_query {
	uint64_t size, query_flags, query_addr;
	uint64_t vma_start, vma_end, vma_flags, vma_page_size, vma_offset, inode;
	uint32_t dev_major, dev_minor, vma_name_size, build_id_size;
	uint64_t vma_name_addr, build_id_addr;
};
#define ASF_PROCMAP_QUERY _IOWR(0x66, 17, struct asf_procmap_query)
#define ASF_PROCMAP_VMA_READ 0x01 /* (a range protected or unmapped since faults: EFAULT) */
#define ASF_PROCMAP_VMA_WRITE 0x02 /* (stores after the write returned would be sent) */
#define ASF_PROCMAP_VMA_SHARED 0x08
static int no_procmap; /* the kernel said it does not know the ioctl */

/* /proc/self/maps for PROCMAP_QUERY, or -1 (known to be missing, or no /proc). The caller
 * gives it back with maps_close, which restores errno. */
static int maps_open(void)
{
	if (__atomic_load_n(&no_procmap, __ATOMIC_RELAXED))
		return -1;
	int saved_errno = errno;
	int mfd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/maps", O_RDONLY | O_CLOEXEC);
	errno = saved_errno;
	return mfd;
}

static void maps_close(int mfd, int saved_errno)
{
	(void)syscall(SYS_close, mfd);
	errno = saved_errno;
}

int asf_mapping_confirm(const void *buf, size_t n, uint64_t dev, uint64_t ino, off_t off)
{
	int saved_errno = errno;
	int mfd = maps_open();
	if (mfd < 0)
		return -1;
	int verdict = 1;
	uintptr_t at = (uintptr_t)buf, end = at + n;
	while (at < end && verdict == 1) {
		struct asf_procmap_query q = { .size = sizeof q, .query_addr = at };
		if (ioctl(mfd, ASF_PROCMAP_QUERY, &q) != 0) {
			if (errno == ENOTTY || errno == EINVAL) {
				__atomic_store_n(&no_procmap, 1, __ATOMIC_RELAXED);
				verdict = -1;
			} else {
				verdict = 0; /* ENOENT: nothing mapped there */
			}
			break;
		}
		off_t here = off + (off_t)(at - (uintptr_t)buf);
		if (q.vma_start <= at && (q.vma_flags & ASF_PROCMAP_VMA_SHARED) &&
		    (q.vma_flags & ASF_PROCMAP_VMA_WRITE) && q.inode == ino &&
		    makedev(q.dev_major, q.dev_minor) == dev) {
			verdict = 2; /* the file's page cache, writable: never send from it */
			break;
		}
		if (q.vma_start > at || !(q.vma_flags & ASF_PROCMAP_VMA_READ) ||
		    (q.vma_flags & ASF_PROCMAP_VMA_WRITE) ||
		    !(q.vma_flags & ASF_PROCMAP_VMA_SHARED) || q.inode != ino ||
		    makedev(q.dev_major, q.dev_minor) != dev ||
		    q.vma_offset + (at - q.vma_start) != (uint64_t)here)
			verdict = 0;
		at = q.vma_end;
	}
	maps_close(mfd, saved_errno);
	return verdict;
}

void asf_mappings_after_fork_child(void)
{
	/* fork copied the mappings and the descriptors: the entries still hold */
	table_lock = 0;
}

/* Is some part of [buf, buf+n) a writable shared mapping of (dev, ino) right now? 1 yes,
 * 0 no, -1 cannot tell (taken as yes by the caller: only a redirect is lost). */
static int kernel_writable(const void *buf, size_t n, uint64_t dev, uint64_t ino)
{
	int saved_errno = errno;
	int mfd = maps_open();
	if (mfd < 0)
		return -1;
	int verdict = 0;
	uintptr_t at = (uintptr_t)buf, end = at + n;
	while (at < end) {
		struct asf_procmap_query q = { .size = sizeof q, .query_addr = at,
					       .query_flags = 0x10 /* covering or next */ };
		if (ioctl(mfd, ASF_PROCMAP_QUERY, &q) != 0) {
			if (errno != ENOENT)
				verdict = -1;
			break;
		}
		if (q.vma_start >= end)
			break;
		if ((q.vma_flags & ASF_PROCMAP_VMA_SHARED) && (q.vma_flags & ASF_PROCMAP_VMA_WRITE) &&
		    q.inode == ino && makedev(q.dev_major, q.dev_minor) == dev) {
			verdict = 1;
			break;
		}
		at = q.vma_end;
	}
	maps_close(mfd, saved_errno);
	return verdict;
}
