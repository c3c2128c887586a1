/* The file side of a redirect: for a buffer range a write is about to send, find the read
 * record holding it (this thread's, or another thread's), prove the buffer still holds the
 * file's bytes, and pin the file so that what is checked is what is sent. */
#ifndef ASF_SOURCE_H
#define ASF_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "records.h"

struct asf_source {
	struct asf_record rec;  /* the record as found (a copy; no shadow) */
	struct asf_record *own; /* this thread's record, dropped when found stale; or NULL */
	int fd;                 /* what to sendfile from: rec.fd or our private duplicate */
	bool pinned;            /* fd is our duplicate, to close */
};

/* True with *s ready when buf[0..n) can be sent from a file: a record holds it, the bytes
 * are equal to the shadow, the file is the same and unchanged since the read. False means
 * the real call must send the program's bytes (counted in the stats as a reject when the
 * buffer or the file changed). t must be this thread's state, marked busy. */
bool asf_source_open(struct asf_thread *t, const void *buf, size_t n, struct asf_source *s);
void asf_source_close(struct asf_source *s);
/* File offset of the byte at buf. */
static inline off_t asf_source_offset(const struct asf_source *s, const void *buf)
{
	return asf_record_offset(&s->rec, buf);
}

#endif
