/* Content claims: file bytes a write copied from somewhere the records do not cover.
 *
 * Runtimes copy: SBCL reads into its stream buffer and writes from a Lisp vector, Java
 * reads into a malloc'd buffer and writes from a direct buffer, PHP copies its mmap of the
 * file into an output buffer. The write's address then says nothing, but its bytes are a
 * file's. Each tracked read leaves a probe here: the first 8-byte word of its bytes, with
 * the file (the descriptor it was read through, its identity) and offset they came from;
 * each mapping of a file is one too, its first word read at the search. A write no address
 * claim proves is probed against these words (a handful of candidates, a few words each);
 * a candidate becomes a claim that source.c proves like any other, always by comparing
 * every byte with the file, whatever AUTOSENDFILE_VERIFY says (the address gives no
 * evidence). Nothing here hashes or passes over the write's data: the prefix scan for a
 * header (below) looks at its first ASF_CONTENT_SCAN bytes only, the search inside recent
 * reads (interior.h) a grid's worth more, and a thread whose writes keep missing stops
 * looking for a while (backoff).
 *
 * Streams: a match of file F at offset O of length L predicts that the thread's next write
 * holds F at O + L, after a header as long as this one's (a framing daemon's next frame, a
 * runtime's next chunk). That prediction is checked first, before any claim by address (a
 * copy record left at the same buffer by the last match is stale by then), with one word
 * of the write compared with the file's word there, read with the last proof; it then
 * goes to the full proof like any content claim.
 *
 * The probes sit in each thread's state (records.h), written by their owner only and read
 * across threads seqlock-style, like the records. */
#ifndef ASF_CONTENT_H
#define ASF_CONTENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "config.h"

#define ASF_CONTENT_PER_THREAD 16 /* reads remembered by content per thread */
#define ASF_CONTENT_SCAN 2048     /* bytes of a write searched for a probe (a header before it) */
#define ASF_CONTENT_CLAIMS 8      /* candidates proven for one write at most */

/* The smallest file part a header split leaves: half a tracked read (FastCGI writes an
 * 8-byte record header and 8184 file bytes; CLISP's buffered socket stream a 63-byte header
 * and the first 4033 bytes of a 4 KiB read, then every write straddles two reads). */
static inline size_t asf_content_split_floor(void)
{
	size_t half = asf_track_min() / 2;
	return half > sizeof(uint64_t) ? half : sizeof(uint64_t);
}

/* A file as a claim names it: the descriptor to read it through, and its identity. */
struct asf_file_ref {
	int fd;
	uint64_t dev, ino;
};

struct asf_content {
	uint64_t seq;  /* even: stable; odd: the owner is changing it */
	uint64_t born; /* process-wide order of probes: other threads' newest are tried first */
	uint64_t word; /* the first 8 bytes the read returned */
	struct asf_file_ref file;
	bool used;     /* false: free */
	off_t off;     /* file offset of those bytes */
	size_t len;
};

/* Per thread (inside struct asf_thread). */
struct asf_content_state {
	struct asf_content ent[ASF_CONTENT_PER_THREAD];
	unsigned next; /* ring position of the next probe */
	/* Where the last content match ended, and the file's word there (read with the
	 * match's proof): a write that continues it (chunks of a copied mapping, a read
	 * written in pieces, the next frame) is probed there, first at cont_skip (the length
	 * of the header before that match's file bytes). */
	bool cont_used;
	struct asf_file_ref cont_file;
	off_t cont_off;
	uint64_t cont_word;
	size_t cont_skip;
	/* Backoff: misses in a row; writes still to skip; the current skip length. */
	uint32_t misses, skip, backoff;
};

/* A candidate: buf[skip..n) may be the bytes of file at off. */
struct asf_content_claim {
	struct asf_file_ref file;
	off_t off;
	size_t skip;
};

struct asf_thread;
/* After a tracked read of len bytes (>= 8) into buf: its probe (no system call: the
 * buffer's first word is read under the fault guard as this thread last found it usable,
 * proof.h). */
void asf_content_note(struct asf_thread *t, const struct asf_file_ref *f, off_t off,
		      const void *buf, size_t len);
/* Forgets t's probes (thread exit). */
void asf_content_clear(struct asf_thread *t);
/* Is a content search worth doing for the next write of t (backoff)? Counts the skip. */
bool asf_content_wanted(struct asf_thread *t);
/* Candidates for buf[0..n), most likely first, into out (at most ASF_CONTENT_CLAIMS).
 * `split`: the file bytes may start after a prefix of the program's own (a header).
 * *resume: 0 for a new search; after a call, where to go on if none of the candidates
 * held (a header's bytes may match some probe before the file's bytes begin), 0 when
 * there is nothing more to look at. */
int asf_content_claims(struct asf_thread *t, const void *buf, size_t n, bool split,
		       struct asf_content_claim *out, size_t *resume);
/* The prediction (above): true with *out set when buf[0..n) continues the thread's last
 * match, going by one word; `split` as for asf_content_claims. No system call. */
bool asf_content_predict(struct asf_thread *t, const void *buf, size_t n, bool split,
			 struct asf_content_claim *out);
/* The outcome of a search that had candidates: hit (then the match ended at file, end,
 * where the file's next 8 bytes are *next if has_next; skip bytes of the write came
 * before the file's). */
void asf_content_result(struct asf_thread *t, bool hit, const struct asf_file_ref *file,
			off_t end, size_t skip, bool has_next, uint64_t next);
/* Some probe exists (a read or a mapping noted one): until then searches cost nothing. */
void asf_content_mark_any(void);

#endif
