/* The one answer to "which file and offset hold these bytes, and what proves it", for the
 * redirect engines. Claims come from read records (records.h), the program's file mappings
 * (mappings.h) and copies found by content (content.h); each names a file, the descriptor
 * to reach it through (the program's own) and an offset. Whatever claims the bytes, the
 * proof is one of two: the program's buffer equals what that descriptor reads there now
 * (proof.h); or, for a shared mapping, the kernel confirms that the buffer is that file's
 * page cache at that offset (PROCMAP_QUERY) and that the descriptor is that file. The send
 * goes through the same descriptor, at the generation the proof was made at (sendwin.h). */
#ifndef ASF_SOURCE_H
#define ASF_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "records.h"
#include "sendwin.h"

/* Why a range could not be sent from a file. */
enum asf_miss {
	ASF_MISS_NONE = 0,
	ASF_MISS_NO_RECORD,   /* no read (of a tracked file) put these bytes here */
	ASF_MISS_CHANGED,     /* the buffer no longer equals the file there */
	ASF_MISS_UNREADABLE,  /* the buffer faulted: the real call reports it */
	ASF_MISS_FILE_GONE,   /* the file is shorter than the range (truncated) */
	ASF_MISS_REFUSED,     /* the file refused sendfile before */
	ASF_MISS_ALIAS,       /* the buffer is the file's own page cache, writable (mappings.h) */
	ASF_MISS_NO_MEANS,    /* no proof buffer free, or no safe way to read the buffer */
	ASF_MISS_DRAINING,    /* only a comparison would prove it, and none is wanted
			       * (no ASF_SRC_COMPARE: the socket drains, pressure.h) */
};

struct asf_source {
	struct asf_thread *t;
	struct asf_fdgen gen;  /* the descriptor proven through and sent from, and its generation */
	uint64_t dev, ino;     /* the file the claim names */
	const char *buf;       /* the file part's first byte in the program's memory ... */
	off_t off;             /* ... is the file's byte at off */
	size_t proven;         /* bytes from buf on shown equal to the file so far */
	bool confirmed;        /* the kernel vouched for the whole range: nothing to compare */
	bool full;             /* compared in full whatever AUTOSENDFILE_VERIFY says (a copy) */
	bool open;
	size_t skip;           /* bytes before it that are the program's own (ASF_SRC_SPLIT) */
	unsigned how;          /* what asf_source_open_as was allowed */
	enum asf_miss miss;    /* why asf_source_open said no */
};

/* What asf_source_open_as may do beyond taking a claim the kernel vouches for. */
enum {
	ASF_SRC_CONTENT = 1, /* look for the bytes of a read or mapping copied here (content.h) */
	ASF_SRC_SPLIT = 2,   /* ... after a prefix of the program's own (a header) */
	ASF_SRC_COMPARE = 4, /* prove a claim by comparing the buffer with the file: without
			      * it, only claims the kernel vouches for open (pressure.h) */
};

/* True with *s open when buf[0..n) can be sent from a file: a claim names the file and
 * offset, and the buffer equals the file's bytes there (per AUTOSENDFILE_VERIFY) over its
 * first AUTOSENDFILE_CHUNK bytes (s->proven); the rest is proven by asf_source_prove before
 * it is sent. False with s->miss set: the real call must send the program's bytes. t must
 * be this thread's state, busy. With ASF_SRC_CONTENT, a range no claim at its address
 * proves and of at least AUTOSENDFILE_MIN_BYTES may be found by its bytes (compared in full
 * at once); with ASF_SRC_SPLIT only buf[s->skip..n) may be the file's. */
bool asf_source_open_as(struct asf_thread *t, const void *buf, size_t n, unsigned how,
			struct asf_source *s);
/* The same, never split: content matches of the whole range included. */
static inline bool asf_source_open(struct asf_thread *t, const void *buf, size_t n,
				   struct asf_source *s)
{
	return asf_source_open_as(t, buf, n, ASF_SRC_CONTENT | ASF_SRC_COMPARE, s);
}
/* Proves [p, p+len) of the opened range (p inside it) if not proven yet; false when the
 * bytes differ from the file now or cannot be read: the rest goes by the real call. */
bool asf_source_prove(struct asf_source *s, const void *p, size_t len);
void asf_source_close(struct asf_source *s);
/* File offset of the byte at p (inside the opened range). */
static inline off_t asf_source_offset(const struct asf_source *s, const void *p)
{
	return s->off + ((const char *)p - s->buf);
}
/* Do a and b send from the same file through the same descriptor? */
static inline bool asf_source_same_file(const struct asf_source *a, const struct asf_source *b)
{
	return a->gen.fd == b->gen.fd && a->dev == b->dev && a->ino == b->ino;
}

#endif
