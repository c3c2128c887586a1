/* What we know about each fd number, readable without a lock or a syscall.
 *
 * A two-level table (pages of entries allocated with mmap on first use, never freed)
 * indexed by fd. Each entry holds a kind, a few flags, the inode identity seen when the fd
 * was classified and, for a file, its view (views.h). An fd we have not classified yet reads
 * as ASF_FD_UNKNOWN; close, the dup family and the open family keep entries current. What
 * the table says of a file is only ever a claim: a number re-pointed behind our back (raw
 * system calls) makes a read's record name the wrong file, and the proof (source.c), which
 * compares the buffer with that file's bytes, then refuses it. */
#ifndef ASF_FDTABLE_H
#define ASF_FDTABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "export.h"

enum asf_fd_kind {
	ASF_FD_UNKNOWN = 0, /* not classified yet                                  */
	ASF_FD_OTHER = 1,   /* of no interest: pipe, tty, device, datagram socket... */
	ASF_FD_FILE = 2,    /* regular file on a page-cache file system: a source  */
	ASF_FD_STREAM = 3,  /* stream socket: a possible destination               */
	ASF_FD_TLS = 4,     /* stream socket that carries TLS: never touched       */
};

/* Flag bits above the kind. */
#define ASF_FD_KIND_MASK 0xfu
#define ASF_FDF_OUT_SEEN 0x10u /* the first bytes written were inspected */
#define ASF_FDF_IN_SEEN 0x20u  /* the first bytes read were inspected    */
#define ASF_FDF_NO_SENDFILE 0x40u /* sendfile from this source failed: don't retry */
#define ASF_FDF_PENDING_ERR 0x80u /* a socket error we consumed is owed to the next call */
#define ASF_FDF_SNDTIMEO 0x100u   /* a stream socket with a send timeout (redirect.c keeps it) */
#define ASF_FDF_RESYNC 0x200u     /* a file whose offset guess failed: the next read proves it */
#define ASF_FDF_BACKLOG 0x800u /* a stream socket whose send queue held a backlog when last
				* looked at (pressure.c) */
#define ASF_FDF_FRESH 0x400u /* not classified yet, but a wrapped open made it for reading,
			      * without O_DIRECT: its offset is 0 and its flags are known */

#define ASF_FD_PAGE_BITS 12
#define ASF_FD_PAGE_SIZE (1u << ASF_FD_PAGE_BITS)
#define ASF_FD_PAGES 1024u /* covers fds below 4M; higher ones are passed through */
#define ASF_FD_MAX (ASF_FD_PAGES * ASF_FD_PAGE_SIZE)

struct asf_fd_entry {
	uint32_t word; /* kind | flags, accessed atomically */
	uint32_t gen;  /* odd while a wrapped call re-points this number (close, dup2...) */
	uint64_t dev; /* st_dev / st_ino when classified */
	uint64_t ino;
	uint64_t ctime_ns; /* a file's st_ctim when classified (informational); for a stream
			    * socket, the error owed (ASF_FDF_PENDING_ERR): token << 16 | errno */
	union {
		int64_t next_off;   /* a file's offset after the last read or lseek we saw: only
				     * a guess of where the next read starts (see wrap_read.c);
				     * 0 when classified */
		uint64_t out_bytes; /* a stream socket: bytes its writes moved (pressure.c) */
	};
	uint64_t sample_at;   /* a stream socket: out_bytes at which its send queue is looked
			       * at next, and the step to the one after (pressure.c); 0 when
			       * classified */
	uint64_t sample_step;
};

extern struct asf_fd_entry *asf_fd_pages[ASF_FD_PAGES];

/* Hot path: the kind and flags of fd, ASF_FD_OTHER for numbers we do not track. */
static inline uint32_t asf_fd_word(int fd)
{
	if (ASF_UNLIKELY((unsigned)fd >= ASF_FD_MAX))
		return ASF_FD_OTHER;
	struct asf_fd_entry *page =
		__atomic_load_n(&asf_fd_pages[(unsigned)fd >> ASF_FD_PAGE_BITS], __ATOMIC_ACQUIRE);
	if (!page)
		return ASF_FD_UNKNOWN;
	return __atomic_load_n(&page[(unsigned)fd & (ASF_FD_PAGE_SIZE - 1)].word, __ATOMIC_ACQUIRE);
}

/* The entry for fd, allocating its page; NULL if fd is out of range or memory is short. */
struct asf_fd_entry *asf_fd_entry(int fd, bool create);
/* Publishes a classification. */
void asf_fd_set(int fd, uint32_t word, uint64_t dev, uint64_t ino);
/* Sets flag bits; returns the word as it was before. */
uint32_t asf_fd_or_flags(int fd, uint32_t flags);
/* Clears flag bits. */
void asf_fd_clear_flags(int fd, uint32_t flags);
/* Forgets fd (after close), or every fd in [first, last]. */
void asf_fd_forget(int fd);
void asf_fd_forget_range(unsigned first, unsigned last);
/* newfd now names what oldfd names (dup family). */
void asf_fd_copy(int oldfd, int newfd);
/* The entry's extra word (ctime_ns above): a file's ctime when classified, or a socket's
 * owed error; copied with the entry by the dup family. */
uint64_t asf_fd_ctime(int fd);
void asf_fd_set_ctime(int fd, uint64_t ctime_ns);
/* Re-pointing an fd number (close, dup2, dup3, close_range...) is bracketed by
 * asf_fd_change_begin/end, which bump a generation: a read that sees the same even
 * generation before and after itself knows the number named one file all along (as far as
 * calls through libc go), so what it read can be attributed to the classified file. begin
 * returns the bracket's token (0: no entry) for its end. A wrapped call the kernel has just
 * handed the number to (open, socket, accept...) ends a bracket still open on it
 * (asf_fd_fresh_number): the kernel part of any re-pointing is over once the number is
 * free, and a closer preempted after its close must not leave the new file untracked. */
uint32_t asf_fd_change_begin(int fd);
void asf_fd_change_end(int fd, uint32_t token);
void asf_fd_fresh_number(int fd);
void asf_fd_range_change_begin(void);
void asf_fd_range_change_end(void);
/* The generation of fd combined with that of range changes; odd = change in progress. */
uint64_t asf_fd_gen(int fd);
/* The two words asf_fd_gen combines, for a check made with nothing in between but the
 * system call it guards (sendwin.c): fd's own (NULL: no entry) and the range changes'. */
const uint32_t *asf_fd_gen_word(int fd);
extern uint32_t asf_fd_range_gen;
/* A socket error (ECONNRESET...) that a sendfile call consumed after bytes had moved: the
 * real write would have returned the partial count and left the error for the next call.
 * asf_fd_owe_error stores it; asf_fd_take_error, called before the next read or write on
 * the fd, returns it once (false when nothing is owed). */
void asf_fd_owe_error(int fd, int err);
bool asf_fd_take_error(int fd, int *err);
/* The guessed offset of the next read of a file fd, and its update. */
static inline int64_t asf_fd_next_off(int fd)
{
	struct asf_fd_entry *e = asf_fd_entry(fd, false);
	return e ? __atomic_load_n(&e->next_off, __ATOMIC_RELAXED) : -1;
}
void asf_fd_set_next_off(int fd, int64_t off);
/* Reads dev/ino of a classified fd. */
bool asf_fd_identity(int fd, uint64_t *dev, uint64_t *ino);

#endif
