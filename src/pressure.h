/* When a redirect pays. sendfile saves the copy of the bytes into the socket's send queue,
 * and a queue that holds copies for long (a slow or stalled client, a long round trip)
 * holds memory; a queue that drains at once holds nothing for long, and there the proof
 * that compares the program's buffer with the file costs about what the copy it saves did.
 * So a write whose proof compares is redirected only on a socket with a backlog: at least
 * AUTOSENDFILE_PRESSURE bytes waiting in its send queue (SIOCOUTQ) when last looked at, or
 * a write the queue did not take whole (EAGAIN, a partial count). The queue is looked at
 * after every doubling of what the socket has sent (from 2 x PRESSURE up to every
 * 16 x PRESSURE), and every 4 x PRESSURE while it holds a backlog: a handful of system
 * calls per connection, none for a response shorter than 2 x PRESSURE. Before that, one
 * write of 2 x PRESSURE or more is a backlog if the queue cannot take it whole (what it
 * holds plus the write reaches SO_SNDBUF): the rest of it would wait there, and a client
 * that stalls leaves it there (Apache's first 4 MiB writev from a mapping filled the queue
 * with copies before any backlog was seen, on kernels where mappings are compared).
 * Writes the kernel vouches for (a shared mapping of the file) compare nothing and are
 * redirected anyway (source.c); AUTOSENDFILE_PRESSURE=0 redirects every write worth it. */
#ifndef ASF_PRESSURE_H
#define ASF_PRESSURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Before a write of n bytes to the stream socket fd (word: its fdtable word): does its
 * queue hold a backlog, or will it once the write is in, so that a redirect that compares
 * pays? Looks at the queue when due. */
bool asf_pressure_backlog(int fd, uint32_t word, size_t n);

/* After a write of `want` bytes to the stream socket fd, by whatever path, that returned r
 * (errno err when r < 0): counts the bytes, and a queue that refused some is a backlog. */
void asf_pressure_moved(int fd, size_t want, ssize_t r, int err);

#endif
