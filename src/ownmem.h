/* The library's own memory: every mapping it makes (thread states, fd-table pages, proof
 * buffers, live counters) goes through here, by the raw system call, never the program's
 * mmap (wrap_mmap.c would take the library's mappings for the program's).
 *
 * Where it lies matters. A mapping made while the program runs may land where the program
 * has just unmapped a buffer, and the program's write from that freed buffer (EFAULT
 * without the library) would find the library's bytes there. So what the library will
 * need is mapped once, at its constructor, before the program has freed anything: an arena
 * the kernel places as it places any mapping (no reserved region of the address space: a
 * fixed one split the largest free range in two, and programs that reserve tens of TiB, as
 * ZGC does, got less). Its pages cost nothing until touched. Only what outgrows it (more
 * than ASF_ARENA_THREADS threads, fds past the first fd-table page) is mapped later. */
#ifndef ASF_OWNMEM_H
#define ASF_OWNMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Thread states the arena holds room for. */
#define ASF_ARENA_THREADS 128

/* The constructor: maps the arena (`extra` bytes beyond the thread states and the first
 * fd-table page: the proof buffers). */
void asf_mem_init(size_t extra);
/* len bytes of zeroed, page-aligned memory: from the arena while it lasts, else a new
 * mapping; NULL on failure. Never returned to the arena. */
void *asf_mem_alloc(size_t len);
/* Gives back what asf_mem_alloc returned outside the arena (arena memory stays). */
void asf_mem_free(void *p, size_t len);
/* mmap anywhere the kernel likes (a file: the live counters); MAP_FAILED on failure. */
void *asf_mem_map(size_t len, int prot, int flags, int fd, off_t off);
int asf_mem_unmap(void *p, size_t len);

#endif
