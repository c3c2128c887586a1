/* Deciding what an fd is (once per fd number; the answer is cached in the fd table), and
 * recognising TLS from the first bytes seen on a socket. */
#ifndef ASF_FDCLASS_H
#define ASF_FDCLASS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "fdtable.h"
#include "livestats.h"

/* st_ctim as one number (ns since the epoch), the form kept in the fd table and records. */
static inline uint64_t asf_ctime_ns(const struct timespec *ts)
{
	return (uint64_t)ts->tv_sec * 1000000000u + (uint64_t)ts->tv_nsec;
}

/* Classifies fd with fstat/fstatfs/getsockopt, stores and returns its word. */
uint32_t asf_fd_classify(int fd);
/* Classifies a socket accept() just returned with one getsockopt when it is TCP (a fresh
 * connection has no ULP yet, but the call reads it anyway); other sockets are left to
 * asf_fd_classify at their first use. */
void asf_fd_classify_accepted(int fd);

/* The cached word, classifying on first sight. */
static inline uint32_t asf_fd_word_classified(int fd)
{
	uint32_t w = asf_fd_word(fd);
	return ASF_LIKELY((w & ASF_FD_KIND_MASK) != ASF_FD_UNKNOWN) ? w : asf_fd_classify(fd);
}

/* True if these are, or could be the start of, a TLS (or SSLv2-compatible) record header. */
bool asf_looks_like_tls(const unsigned char *p, size_t n);

/* True if a file system type (statfs f_type) keeps file data in the page cache in a way
 * that sendfile reads back exactly what read() returned. */
bool asf_fs_is_eligible(int64_t f_type);

/* Inspects the first bytes seen in one direction (flag: ASF_FDF_OUT_SEEN or ASF_FDF_IN_SEEN)
 * of a stream socket; marks it TLS for good if they look like TLS. Returns the new word. */
uint32_t asf_fd_sniff(int fd, uint32_t flag, const void *buf, size_t n);
/* The program put kernel TLS on stream socket fd (setsockopt TCP_ULP "tls"): it is passed
 * through for good, as a socket classified with that ULP is. */
void asf_fd_mark_tls(int fd);

/* Set once any stream socket has been seen (made, accepted or written to): until then reads
 * are not tracked at all, and no live counters file is made (livestats.h), so programs
 * that never talk over a stream socket pay nothing. */
extern int asf_sockets_seen;
static inline void asf_note_stream_socket(void)
{
	if (!__atomic_load_n(&asf_sockets_seen, __ATOMIC_RELAXED))
		__atomic_store_n(&asf_sockets_seen, 1, __ATOMIC_RELAXED);
	asf_live_touch();
}

#endif
