/* The library's own memory: every mapping it makes (thread states, fd-table pages, file
 * views, live counters) goes through here. Two reasons:
 * - the raw system call, never the program's mmap (wrap_mmap.c would take the library's
 *   mappings for the program's);
 * - a region of the address space of its own, far from where the kernel puts the program's
 *   mappings. The library often maps right after the program unmapped something; without a
 *   hint the kernel would hand out the range the program just gave back, and a write from
 *   that freed buffer (EFAULT without the library) would find the library's bytes there.
 *   A write whose buffer lies in this region is refused (asf_mem_ours). */
#ifndef ASF_OWNMEM_H
#define ASF_OWNMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* mmap at `hint` (or in the library's region when hint is NULL); MAP_FAILED on failure. */
void *asf_mem_map(void *hint, size_t len, int prot, int flags, int fd, off_t off);
int asf_mem_unmap(void *p, size_t len);
/* Does [p, p+n) touch the library's region? */
bool asf_mem_ours(const void *p, size_t n);
/* The hint for file view slot `slot` (views.c): 64 GiB each, inside the region. */
void *asf_mem_view_hint(unsigned slot, size_t len);

#endif
