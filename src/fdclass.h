/* Deciding what an fd is (once per fd number; the answer is cached in the fd table), and
 * recognising TLS from the first bytes seen on a socket. */
#ifndef ASF_FDCLASS_H
#define ASF_FDCLASS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fdtable.h"

/* Classifies fd with fstat/fstatfs/getsockopt, stores and returns its word. */
uint32_t asf_fd_classify(int fd);

/* The cached word, classifying on first sight. */
static inline uint32_t asf_fd_word_classified(int fd)
{
	uint32_t w = asf_fd_word(fd);
	return ASF_LIKELY(w != ASF_FD_UNKNOWN) ? w : asf_fd_classify(fd);
}

/* True if these are, or could be the start of, a TLS (or SSLv2-compatible) record header. */
bool asf_looks_like_tls(const unsigned char *p, size_t n);

/* True if a file system type (statfs f_type) keeps file data in the page cache in a way
 * that sendfile reads back exactly what read() returned. */
bool asf_fs_is_eligible(int64_t f_type);

/* Inspects the first bytes seen in one direction (flag: ASF_FDF_OUT_SEEN or ASF_FDF_IN_SEEN)
 * of a stream socket; marks it TLS for good if they look like TLS. Returns the new word. */
uint32_t asf_fd_sniff(int fd, uint32_t flag, const void *buf, size_t n);

/* Set once any stream socket has been seen: until then reads are not tracked at all. */
extern int asf_sockets_seen;

#endif
