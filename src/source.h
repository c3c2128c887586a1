/* The one answer to "which file and offset hold these bytes, and what proves it", for the
 * redirect engines. Claims come from read records (records.h) and from the program's file
 * mappings (mappings.h). Whatever claims the bytes, the proof is one of two: the program's
 * buffer equals the file's current bytes in its view (views.h), compared just before sending
 * under the fault guard (signals.h); or, for a shared mapping, the kernel confirms that the
 * buffer is that file's page cache at that offset right now (PROCMAP_QUERY). */
#ifndef ASF_SOURCE_H
#define ASF_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "records.h"
#include "views.h"

/* Why a range could not be sent from a file. */
enum asf_miss {
	ASF_MISS_NONE = 0,
	ASF_MISS_NO_RECORD,   /* no read (of a tracked file) put these bytes here */
	ASF_MISS_CHANGED,     /* the buffer no longer equals the file there */
	ASF_MISS_UNREADABLE,  /* the buffer faulted: the real call reports it */
	ASF_MISS_FILE_GONE,   /* the file is shorter than the range, or faulted (truncated) */
	ASF_MISS_REFUSED,     /* the file refused sendfile before */
	ASF_MISS_ALIAS,       /* the buffer is the file's own page cache, writable (mappings.h) */
};

struct asf_source {
	struct asf_thread *t;
	struct asf_view *view; /* a reference, held until asf_source_close */
	const char *buf;       /* the file part's first byte in the program's memory ... */
	off_t off;             /* ... is the file's byte at off */
	size_t proven;         /* bytes from buf on shown equal to the file so far */
	bool confirmed;        /* the kernel vouched for the whole range: nothing to compare */
	bool full;             /* compared in full whatever AUTOSENDFILE_VERIFY says (a copy) */
	size_t skip;           /* bytes before it that are the program's own (ASF_SRC_SPLIT) */
	enum asf_miss miss;    /* why asf_source_open said no */
};

/* What asf_source_open_as may look for beyond the records and mappings at the address. */
enum {
	ASF_SRC_CONTENT = 1, /* the bytes of a read or mapping copied here (content.h) */
	ASF_SRC_SPLIT = 2,   /* ... after a prefix of the program's own (a header) */
};

/* True with *s open when buf[0..n) can be sent from a file: a claim names the file and
 * offset, and the buffer equals the file's bytes there (per AUTOSENDFILE_VERIFY) over its
 * first AUTOSENDFILE_CHUNK bytes (s->proven). The rest is proven chunk by chunk just before
 * each is sent (asf_source_prove), so what is compared is what sendfile sends next, and
 * nothing is compared twice. False with s->miss set: the real call must send the program's
 * bytes. t must be this thread's state, marked busy. With ASF_SRC_CONTENT, a range no claim
 * at its address proves and of at least AUTOSENDFILE_MIN_BYTES may be found by its bytes
 * (compared in full at once); with ASF_SRC_SPLIT only buf[s->skip..n) may be the file's. */
bool asf_source_open_as(struct asf_thread *t, const void *buf, size_t n, unsigned how,
			struct asf_source *s);
/* The same, never split: content matches of the whole range included. */
static inline bool asf_source_open(struct asf_thread *t, const void *buf, size_t n,
				   struct asf_source *s)
{
	return asf_source_open_as(t, buf, n, ASF_SRC_CONTENT, s);
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

#endif
