/* Read records: which buffer range holds which bytes of which file.
 *
 * Each thread keeps a few records (so alternating buffers still match), each with a shadow
 * copy of the bytes read. The shadow is what makes redirection exact: a write is sent with
 * sendfile only if the program's buffer still equals the shadow, byte for byte (memcmp over
 * a hot buffer is cheap; a hash is not, see README). Memory comes from mmap, never malloc,
 * because read() and write() may be called from signal handlers.
 *
 * Records are written only by the thread that owns them, and read by it without a lock.
 * Other threads may look too (a read in a thread pool, the write from the main thread:
 * node), so every change is published seqlock-style: the record's seq is odd while its
 * owner changes it, and a foreign reader keeps what it read only if seq was even and
 * unchanged around its reading. For that to be safe, the memory a foreign reader touches is
 * never unmapped: thread states are recycled rather than freed, and each shadow is a fixed
 * reservation that never moves (its pages are given back at thread exit). */
#ifndef ASF_RECORDS_H
#define ASF_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ASF_RECORDS_PER_THREAD 8
#define ASF_RECORD_MAX_BYTES (1u * 1024u * 1024u) /* larger reads are not tracked */
#define ASF_THREADS_MAX 1024u /* threads beyond this many at once are not tracked */

struct asf_record {
	uint64_t seq;            /* even: stable; odd: the owner is changing it */
	uintptr_t start;         /* buffer address of the first byte; 0 = slot free */
	size_t len;
	int fd;
	uint64_t dev, ino;       /* the file's identity when it was read */
	off_t off;               /* file offset of the byte at start */
	uint64_t ctime_ns;       /* the file's change baseline (fd table) taken before the read */
	unsigned char *shadow;   /* copy of the bytes read; ASF_RECORD_MAX_BYTES reserved */
	uint64_t last_use;
	uint64_t born;           /* process-wide order of reads: a newer record is the truer one */
};

/* The change baseline in force when a stdio stream last read (wrap_stdio.c): bytes still
 * in its buffer were read under it, not under a newer one. */
struct asf_stream_base {
	const void *stream;
	uint64_t ctime_ns;
};
#define ASF_STREAMS_PER_THREAD 4

struct asf_thread {
	struct asf_record rec[ASF_RECORDS_PER_THREAD];
	struct asf_stream_base streams[ASF_STREAMS_PER_THREAD];
	uint64_t clock;
	int busy;   /* set while the library works for this thread: re-entry passes through */
	int in_use; /* 0: free for the next thread that needs a state */
};

/* This thread's state; NULL until it has recorded something (create=true makes it). */
struct asf_thread *asf_thread_get(bool create);
/* Gives a thread's state back for reuse (the thread-exit destructor). */
void asf_thread_free(struct asf_thread *t);
/* Makes the pthread key whose destructor frees a thread's state at thread exit. */
void asf_records_init(void);

/* Records that buf[0..len) now holds the file's bytes at off. Drops any record that
 * overlapped buf (those bytes were overwritten), extends a record the read continues. */
void asf_record_add(struct asf_thread *t, int fd, uint64_t dev, uint64_t ino, off_t off,
		    uint64_t ctime_ns, const void *buf, size_t len);
/* Drops every record overlapping [buf, buf+len). */
void asf_record_forget_range(struct asf_thread *t, const void *buf, size_t len);
/* The record of this thread holding all of [buf, buf+len), or NULL. */
struct asf_record *asf_record_find(struct asf_thread *t, const void *buf, size_t len);
/* True if buf[0..len) still equals what the record's read put there. */
bool asf_record_verify(const struct asf_record *r, const void *buf, size_t len);
/* Looks in the other threads' records for one holding all of [buf, buf+len) whose shadow
 * equals buf there; on success copies it to *out (shadow not included) and returns true.
 * `self` (may be NULL) is skipped. With full verification any such record names the right
 * bytes; with sample or none, which cannot tell a stale record (a later read by another
 * thread put other bytes in the same memory) from a current one, the newest is taken. */
bool asf_record_find_foreign(const struct asf_thread *self, const void *buf, size_t len,
			     struct asf_record *out);
/* File offset of the byte at buf (which must lie inside r). */
static inline off_t asf_record_offset(const struct asf_record *r, const void *buf)
{
	return r->off + (off_t)((uintptr_t)buf - r->start);
}
void asf_record_drop(struct asf_record *r);

#endif
