/* Mappings: which ranges of the program's memory are mmap()s of which file.
 *
 * The mmap family is wrapped (wrap_mmap.c): a mapping of a tracked file (ASF_FD_FILE) is
 * noted here with the descriptor it was made from and the file's identity. A write whose
 * bytes lie in such a mapping can then be sent from the file at the mapping's offset plus
 * the distance into it, through that descriptor while it still names the file (source.c
 * decides, and proves it). Like a read record, an entry is only a claim: a mapping replaced or removed
 * by raw system calls, which the wrappers never see, is caught by the proof, never sent on
 * the entry's word.
 *
 * A fixed table, written under a try-lock (a mapping not noted is only a redirect missed),
 * read lock-free by any thread (seqlock per entry). */
#ifndef ASF_MAPPINGS_H
#define ASF_MAPPINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ASF_MAPPINGS_MAX 1024 /* Apache: a window per connection in flight */

struct asf_mapping {
	uint64_t seq;     /* even: stable; odd: being changed */
	uintptr_t start;  /* 0: free */
	size_t len;
	int fd;           /* the descriptor mmap was given (the file is reached through it) */
	off_t off;        /* file offset of the byte at start */
	bool shared;      /* MAP_SHARED: the bytes are the page cache's */
	bool writable;    /* MAP_SHARED and writable: no claim, a guard (asf_mapping_alias) */
	uint64_t dev, ino;
};

/* After a successful mmap of fd (a classified file) at addr. */
void asf_mapping_add(void *addr, size_t len, bool shared, bool writable, int fd, off_t off);
/* [addr, addr+len) was made writable (mprotect): a shared entry there becomes a guard, a
 * private one goes. */
void asf_mapping_made_writable(const void *addr, size_t len);
/* Does [buf, buf+n) overlap a writable shared mapping of the file (dev, ino)? Then the
 * program's buffer is that file's page cache, and stores it makes after its write returned
 * would change the pages sendfile queued: such a write is never sent from that file. */
bool asf_mapping_alias(const void *buf, size_t n, uint64_t dev, uint64_t ino);
/* [addr, addr+len) no longer maps what it did (munmap, mremap, MAP_FIXED over it). */
void asf_mapping_remove(const void *addr, size_t len);
/* A copy of the entry holding all of [buf, buf+n); false if none. */
bool asf_mapping_find(const void *buf, size_t n, struct asf_mapping *out);
/* Copies of up to max live entries (content.h probes a copy against their first words). */
int asf_mapping_list(struct asf_mapping *out, int max);
/* Does the kernel confirm that [buf, buf+n) is, right now, a read-only shared mapping of
 * the file (dev, ino) whose byte at buf is the file's byte at off? (PROCMAP_QUERY, Linux
 * 6.11+.) 1 yes; 2 it is a writable shared mapping of that file (never send from it:
 * asf_mapping_alias); 0 no; -1 cannot tell (older kernel, no /proc). */
int asf_mapping_confirm(const void *buf, size_t n, uint64_t dev, uint64_t ino, off_t off);
/* In a forked child: the table's lock may have been held by a thread of the parent. */
void asf_mappings_after_fork_child(void);

#endif
