/* The interior of recent reads: a copy of file bytes that starts in the middle of a read.
 *
 * A framing daemon reads 256 KiB of a file, then copies 32 KiB pieces of it into a protocol
 * buffer behind a header of its own and writes each frame: the payload's first bytes are
 * neither where a read started (the probes, content.h) nor where the last match ended (the
 * continuation). Every file offset that is a multiple of the grid (2 KiB by default) inside
 * a read is an anchor, and a run of at least grid + 7 file bytes holds one within its
 * first grid + 7 bytes. So, at the search (never at the read: reads stay as cheap as
 * before), the words at the anchors of this thread's newest reads are read from their
 * buffers (under the fault guard; a buffer changed since merely yields no candidate) into a
 * small hash table, and each of the write's first positions is looked up in it: at most
 * ASF_CONTENT_SCAN positions of header, then a grid's worth. A hit at position k, anchor A,
 * says the write may hold the file's byte A - k + j at position j; where that run starts
 * (after the header) is found by comparing backward with the file (one pread of at most k
 * bytes), and the claim is then proven in full like any content claim (source.c). */
#ifndef ASF_INTERIOR_H
#define ASF_INTERIOR_H

#include <stdbool.h>
#include <stddef.h>

#include "content.h"

struct asf_thread;
/* How many of the write's first bytes the search looks at (n bytes written). */
size_t asf_interior_span(size_t n, bool split);
/* A claim on buf[0..n) whose file bytes lie inside one of t's newest reads, into out[0]
 * (max >= 1): 1 if the backward comparison bore one out, else 0. head holds the write's first asf_interior_span bytes (a
 * copy); work is scratch memory of work_len bytes (the proof buffer past head). `split`: the
 * file's bytes may start after a header of the program's own, leaving at least the
 * tracked-read floor; else they must start at buf[0]. */
int asf_interior_claims(struct asf_thread *t, const void *buf, size_t n, bool split,
			const unsigned char *head, unsigned char *work, size_t work_len,
			struct asf_content_claim *out, int max);

#endif
