/* Read records: which buffer range holds which bytes of which file.
 *
 * A tracked read leaves a record: "buf[0..len) received the bytes of file (dev, ino), read
 * through fd, from file offset off". The file's view (views.h) is looked up or made only
 * when a write big enough to redirect claims the bytes, so files whose bytes never go out
 * in big writes cost nothing. A record is only a claim: before any byte is sent on its word the buffer
 * is compared with the file itself (source.c), so a stale or wrong record costs a redirect,
 * never a byte. Records hold no copy of the data: nothing is copied at read time.
 *
 * Each thread keeps a few records (so alternating buffers still match), written only by the
 * thread that owns them and read by it without a lock. Other threads may look too (a read in
 * a thread pool, the write from the main thread: node), so every change is published
 * seqlock-style: the record's seq is odd while its owner changes it, and a foreign reader
 * keeps what it read only if seq was even and unchanged around its reading. Thread states are
 * recycled rather than freed, so the memory a foreign reader touches is never unmapped. */
#ifndef ASF_RECORDS_H
#define ASF_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "content.h"

#define ASF_RECORDS_PER_THREAD 16 /* Apache: a writev of 9 reads, and a few spare */
#define ASF_RECORD_MAX_BYTES (1u << 30)
#define ASF_THREADS_MAX 1024u /* threads beyond this many at once are not tracked */
#define ASF_CANDIDATES_MAX 8   /* records tried for one range */

struct asf_record {
	uint64_t seq;            /* even: stable; odd: the owner is changing it */
	uintptr_t start;         /* buffer address of the first byte; 0 = slot free */
	size_t len;
	int fd;                  /* the fd read from (its offset guess is re-proven on a miss);
				  * a copy record: the fd its match was proven through */
	uint64_t dev, ino;       /* the file, as the fd table named it at the read */
	off_t off;               /* file offset of the byte at start */
	uint64_t last_use;
	uint64_t born;           /* process-wide order of reads: a newer record is the truer one */
	bool copy;               /* made by a content match (a buffer the program copies into):
				  * always compared in full, whatever AUTOSENDFILE_VERIFY says */
};

struct asf_source;
struct asf_thread {
	struct asf_record rec[ASF_RECORDS_PER_THREAD];
	uint64_t clock;
	int busy;   /* set while the library works for this thread: re-entry passes through */
	int in_use; /* 0: free for the next thread that needs a state */
	int tid;    /* the owner, while in_use: a state whose owner is gone is taken back */
	int has_records; /* set before this thread's first record is published, cleared when
			  * the state is freed: other threads' lookups skip states without
			  * (Apache's workers write mappings and never read a file: scanning
			  * their 16 empty slots each per writev was 1% of its CPU) */
	/* What an activation (busy) holds, for a signal handler that jumps out of it or a
	 * cancellation that ends the thread inside it (asf_activation_abandon). */
	uintptr_t act_frame;         /* an address in the activation's stack frame */
	struct asf_source *open_src; /* the source being sent from */
	void *open_guard;            /* a SIGPIPE guard (redirect.c) with the signal blocked */
	int guard;                   /* this activation: 0 not asked yet, 1 the fault guard can
				      * run, 2 it cannot (signals.h) */
	int guard_seen;              /* the same, as last asked (kept across activations) */
	int slot;                    /* this activation's proof buffer (proof.c), 0: none */
	int armed_fd;                /* a sendfile from this fd is under way (sendwin.h); -1 */
	struct asf_content_state content; /* probes of this thread's reads (content.h) */
};

/* This thread's state; NULL until it has recorded something (create=true makes it). States
 * of threads that ended are taken back lazily, when new ones are needed (no pthread key and
 * no thread-exit hook: the program keeps all of its keys). */
struct asf_thread *asf_thread_get(bool create);
/* Gives a thread's state back for reuse. */
void asf_thread_free(struct asf_thread *t);

/* An activation: the library at work for thread t inside one wrapped call. enter marks it
 * busy (a signal handler's wrapped call in between passes through); leave gives back what
 * the activation took (its proof buffer). The caller sets t->act_frame (its own frame). */
static inline void asf_activation_enter(struct asf_thread *t)
{
	t->busy = 1;
	t->guard = 0;
	t->slot = 0;
	/* (read by other threads' re-pointers, sendwin.c) */
	__atomic_store_n(&t->armed_fd, -1, __ATOMIC_RELAXED);
}
void asf_activation_leave(struct asf_thread *t);
/* In a forked child: the states of the parent's other threads are taken back. */
void asf_threads_after_fork_child(void);
/* Takes back the states of threads that have ended (done every few new states). */
void asf_threads_sweep(void);

/* Records that buf[0..len) now holds the bytes of file (dev, ino) at off (read through fd).
 * Drops any record that overlapped buf (those bytes were overwritten), extends a record the
 * read continues. */
void asf_record_add(struct asf_thread *t, int fd, uint64_t dev, uint64_t ino, off_t off,
		    const void *buf, size_t len);
/* After a content match (content.h): buf[0..len), a buffer the program copied file bytes
 * into, holds the bytes of the file (dev, ino) at off, proven through fd. Its retry of the
 * rest (buf + k after a partial write) is then found by address; the record never trusts
 * the copy without a full compare. */
void asf_record_add_copy(struct asf_thread *t, int fd, uint64_t dev, uint64_t ino, off_t off,
			 const void *buf, size_t len);
/* The registry of thread states, for lookups across threads: how many slots, and the
 * state in slot i if in use (else NULL). */
unsigned asf_threads_registered(void);
struct asf_thread *asf_thread_registered(unsigned i);
/* This thread's records of reads (not copies), newest first, at most max (t is the
 * caller's own state: no seqlock). */
int asf_record_recent(struct asf_thread *t, struct asf_record *out, int max);
/* Drops every record of this thread overlapping [buf, buf+len). */
void asf_record_forget_range(struct asf_thread *t, const void *buf, size_t len);
/* Up to max records (copies) holding all of [buf, buf+len): this thread's first, then other
 * threads', each group newest first. `newest_only`: just the newest of all. */
int asf_record_candidates(struct asf_thread *t, const void *buf, size_t len, bool newest_only,
			  struct asf_record *out, int max);
/* File offset of the byte at buf (which must lie inside r). */
static inline off_t asf_record_offset(const struct asf_record *r, const void *buf)
{
	return r->off + (off_t)((uintptr_t)buf - r->start);
}
void asf_record_drop(struct asf_record *r);

#endif
