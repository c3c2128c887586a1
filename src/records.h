/* Read records: which buffer range of this thread holds which bytes of which file.
 *
 * Each thread keeps a few records (so alternating buffers still match), each with a shadow
 * copy of the bytes read. The shadow is what makes redirection exact: a write is sent with
 * sendfile only if the program's buffer still equals the shadow, byte for byte (memcmp over
 * a hot buffer is cheap; a hash is not, see README). Memory comes from mmap, never malloc,
 * because read() and write() may be called from signal handlers. */
#ifndef ASF_RECORDS_H
#define ASF_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ASF_RECORDS_PER_THREAD 8
#define ASF_RECORD_MAX_BYTES (4u * 1024u * 1024u) /* larger reads are not tracked */

struct asf_record {
	uintptr_t start; /* buffer address of the first byte; 0 = slot free */
	size_t len;
	int fd;
	uint64_t dev, ino;       /* the file's identity when it was read */
	off_t off;               /* file offset of the byte at start */
	uint64_t ctime_ns;       /* the file's change baseline (fd table) taken before the read */
	unsigned char *shadow;   /* copy of the bytes read */
	size_t shadow_cap;
	uint64_t last_use;
};

struct asf_thread {
	struct asf_record rec[ASF_RECORDS_PER_THREAD];
	uint64_t clock;
	int busy; /* set while the library works for this thread: re-entry passes through */
};

/* This thread's state; NULL until it has recorded something (create=true makes it). */
struct asf_thread *asf_thread_get(bool create);
/* Frees a thread's state (the thread-exit destructor). */
void asf_thread_free(struct asf_thread *t);
/* Makes the pthread key whose destructor frees a thread's state at thread exit. */
void asf_records_init(void);

/* Records that buf[0..len) now holds the file's bytes at off. Drops any record that
 * overlapped buf (those bytes were overwritten), extends a record the read continues. */
void asf_record_add(struct asf_thread *t, int fd, uint64_t dev, uint64_t ino, off_t off,
		    uint64_t ctime_ns, const void *buf, size_t len);
/* Drops every record overlapping [buf, buf+len). */
void asf_record_forget_range(struct asf_thread *t, const void *buf, size_t len);
/* The record holding all of [buf, buf+len), or NULL. */
struct asf_record *asf_record_find(struct asf_thread *t, const void *buf, size_t len);
/* True if buf[0..len) still equals what the record's read put there. */
bool asf_record_verify(const struct asf_record *r, const void *buf, size_t len);
/* File offset of the byte at buf (which must lie inside r). */
static inline off_t asf_record_offset(const struct asf_record *r, const void *buf)
{
	return r->off + (off_t)((uintptr_t)buf - r->start);
}
void asf_record_drop(struct asf_record *r);

#endif
