/* The redirect engine: sends a write whose buffer holds recorded file bytes with
 * sendfile(2) from the file, with the observable behaviour of the real call. */
#ifndef ASF_REDIRECT_H
#define ASF_REDIRECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

/* Which real call the program made, for fallbacks that must issue exactly that call. */
enum asf_call { ASF_CALL_WRITE, ASF_CALL_SEND };

/* Handles a write/send of buf[0..n) with send flags (0 for write) to fd, whose fd-table
 * word is `word`. Returns true with *result set (and errno, when *result is -1) if the
 * library performed the call; false if the caller must make the real call itself. */
bool asf_try_redirect(int fd, uint32_t word, const void *buf, size_t n, int flags,
		      enum asf_call call, ssize_t *result);

/* The sendfile loop for buf[0..n), which s (source.h) holds. `already` is what the
 * program's call has sent before this range (vectored writes): once bytes have moved, no
 * SIGPIPE may be raised. Returns bytes sent (> 0) or -1 with errno, never an error after
 * bytes have moved; *used_fallback tells whether the real call sent part of it. */
struct asf_source;
ssize_t asf_send_file_range(int sock, struct asf_source *s, const void *buf, size_t n,
			    int flags, enum asf_call call, size_t already, bool *used_fallback);

/* The same for iov[0..cnt) (at most ASF_RUN_MAX), whose bytes are the file's at consecutive
 * offsets from where s (opened for iov[0]) says: one run of a vectored write, sent with
 * sendfile as one range, its fallback by sendmsg. */
#define ASF_RUN_MAX 64
ssize_t asf_send_file_iov(int sock, struct asf_source *s, const struct iovec *iov, int cnt,
			  int flags, size_t already, bool *used_fallback);

/* The same for a writev/sendmsg: its iovecs that records hold go by sendfile, the rest by
 * the real sendmsg, in order. Same contract as asf_try_redirect. */
struct iovec;
bool asf_try_redirect_vec(int fd, uint32_t word, const struct iovec *iov, int cnt, int flags,
			  ssize_t *result);
/* The same for a sendmsg: its msghdr is read as the kernel would (it may be unreadable). */
struct msghdr;
bool asf_try_redirect_msg(int fd, uint32_t word, const struct msghdr *msg, int flags,
			  ssize_t *result);

struct asf_thread;
/* A single buffer whose first src->skip bytes are the program's own and whose rest src
 * (open, source.h) holds: sent as the two iovecs of a vectored write. Closes src. Same
 * contract as asf_try_redirect (t busy, by its caller); how as asf_redirect_how. */
bool asf_redirect_split(struct asf_thread *t, int fd, uint32_t word, const void *buf, size_t n,
			int flags, unsigned how, struct asf_source *src, ssize_t *result);

/* What a source for a write of n bytes to the stream socket fd may do (source.h's
 * ASF_SRC_*): compare only where the socket has a backlog (pressure.h). */
unsigned asf_redirect_how(int fd, uint32_t word, size_t n);

/* Counts a write the engine handled: whether the real call finished part of it, and
 * whether sendfile sent any of it. */
void asf_note_redirect(bool used_fallback, bool sent_any);

/* Tracking after a successful read-family call of a file: off where the bytes came from
 * (or -1 = unknown), gen the fd's generation (asf_fd_gen) loaded before the read. */
void asf_after_file_read(int fd, const void *buf, size_t n, off_t off, uint64_t gen);

/* Releases what an activation of the library in thread t holds and clears its busy flag:
 * a signal handler jumped out of it (wrap_jmp.c), or the thread was cancelled inside it. */
struct asf_thread;
void asf_activation_abandon(struct asf_thread *t);
/* pthread_cleanup_push routine for the same. */
void asf_activation_abandon_cb(void *t);

#endif
