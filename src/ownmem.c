/* The library's own mappings (see ownmem.h). */
#define _GNU_SOURCE
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "export.h"
#include "fdtable.h"
#include "ownmem.h"
#include "records.h"

ASF_START_DATA static uintptr_t arena_lo, arena_hi;
ASF_START_DATA static uintptr_t arena_next; /* bump pointer */

static size_t page_round(size_t n)
{
	return (n + 4095u) & ~(size_t)4095u;
}

void *asf_mem_map(size_t len, int prot, int flags, int fd, off_t off)
{
	return (void *)syscall(SYS_mmap, NULL, len, prot, flags, fd, off);
}

int asf_mem_unmap(void *p, size_t len)
{
	return (int)syscall(SYS_munmap, p, len);
}

void asf_mem_init(size_t extra)
{
	if (arena_lo)
		return;
	size_t len = page_round(ASF_ARENA_THREADS * page_round(sizeof(struct asf_thread)) +
				page_round(ASF_FD_PAGE_SIZE * sizeof(struct asf_fd_entry)) + extra);
	void *p = asf_mem_map(len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return;
	arena_hi = (uintptr_t)p + len;
	__atomic_store_n(&arena_next, (uintptr_t)p, __ATOMIC_RELAXED);
	__atomic_store_n(&arena_lo, (uintptr_t)p, __ATOMIC_RELEASE);
}

void *asf_mem_alloc(size_t len)
{
	len = page_round(len);
	if (__atomic_load_n(&arena_lo, __ATOMIC_ACQUIRE)) {
		uintptr_t at = __atomic_load_n(&arena_next, __ATOMIC_RELAXED);
		while (at + len <= arena_hi)
			if (__atomic_compare_exchange_n(&arena_next, &at, at + len, false,
							__ATOMIC_RELAXED, __ATOMIC_RELAXED))
				return (void *)at;
	}
	void *p = asf_mem_map(len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

void asf_mem_free(void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p;
	if (p && !(a >= arena_lo && a < arena_hi))
		asf_mem_unmap(p, page_round(len));
}
