/* The library's own mappings (see ownmem.h). */
#define _GNU_SOURCE
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ownmem.h"
#include "views.h"

/* 40 TiB up: above brk and PIE, below the kernel's mmap_base near the stack (47-bit user
 * space). Anonymous memory first (8 TiB, handed out by a cursor that only grows: the
 * library frees almost nothing), then ASF_VIEWS_MAX windows of 64 GiB for file views. */
#define REGION_BASE 0x280000000000ull
#define ANON_SPAN (8ull << 40)
#define VIEW_BASE (REGION_BASE + ANON_SPAN)
#define VIEW_BITS 36
#define REGION_END (VIEW_BASE + ((uint64_t)ASF_VIEWS_MAX << VIEW_BITS))

static uint64_t anon_next = REGION_BASE;

void *asf_mem_map(void *hint, size_t len, int prot, int flags, int fd, off_t off)
{
	if (!hint && sizeof(void *) >= 8) {
		uint64_t span = (len + 0xffffu) & ~(uint64_t)0xffffu;
		uint64_t at = __atomic_fetch_add(&anon_next, span, __ATOMIC_RELAXED);
		if (at + span <= REGION_BASE + ANON_SPAN)
			hint = (void *)(uintptr_t)at;
	}
	return (void *)syscall(SYS_mmap, hint, len, prot, flags, fd, off);
}

int asf_mem_unmap(void *p, size_t len)
{
	return (int)syscall(SYS_munmap, p, len);
}

bool asf_mem_ours(const void *p, size_t n)
{
	uint64_t lo = (uintptr_t)p, hi = lo + n;
	return sizeof(void *) >= 8 && hi > REGION_BASE && lo < REGION_END;
}

void *asf_mem_view_hint(unsigned slot, size_t len)
{
	if (sizeof(void *) < 8 || slot >= ASF_VIEWS_MAX || len > (1ull << VIEW_BITS))
		return NULL;
	return (void *)(uintptr_t)(VIEW_BASE + ((uint64_t)slot << VIEW_BITS));
}
