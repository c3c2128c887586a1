/* fd lifecycle: every call that ends or re-points an fd number updates the fd table, so a
 * reused number is classified afresh. Calls that make sockets forget what was known of the
 * numbers they return too: a number closed behind our back (a raw syscall) can then never
 * be taken for a stream socket when it is a datagram socket now. (Sources need no such
 * care: what is sent from a file is read through the number and compared with the buffer
 * first, proof.h.) A call that re-points a number first bumps its generation, then waits
 * for sends from it in other threads to reach the kernel (sendwin.h). The library holds no
 * descriptor of its own: close_range and closefrom are the program's, untouched. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "config.h"
#include "fdclass.h"
#include "fdtable.h"
#include "real.h"
#include "sendwin.h"
#include "wrap.h"

/* lseek only keeps the guess of where the next read of a file starts (see wrap_read.c),
 * so that the first read after a seek is tracked too. */
static off_t lseek_seen(int fd, off_t off, int whence)
{
	off_t r = real_lseek(fd, off, whence);
	if (r < 0 || asf_vfork_child)
		return r;
	uint32_t w = asf_fd_word(fd);
	if ((w & ASF_FD_KIND_MASK) == ASF_FD_FILE)
		asf_fd_set_next_off(fd, r);
	else if (w & ASF_FDF_FRESH)
		asf_fd_forget(fd); /* no longer at offset 0: its first read is proven */
	return r;
}

ASF_EXPORT off_t lseek(int fd, off_t off, int whence)
{
	return lseek_seen(fd, off, whence);
}

ASF_EXPORT off_t lseek64(int fd, off_t off, int whence)
{
	return lseek_seen(fd, off, whence);
}

static void forget(int fd)
{
	if (!asf_vfork_child)
		asf_fd_forget(fd);
}

/* Re-pointing a number: the generation bump (fdtable.h) opens the bracket, then sends from
 * it in other threads are let into the kernel before the real call. Returns the bracket's
 * token. */
static uint32_t repoint_begin(int fd)
{
	uint32_t token = asf_fd_change_begin(fd);
	asf_sendwin_wait(fd);
	return token;
}

/* Closing a number: bracketed by the generation bump (see fdtable.h). What was known of it
 * is forgotten before the close: once closed, the number may be another thread's new file
 * already, classified by its opener. */
static int close_tracked(int fd)
{
	if (ASF_UNLIKELY(asf_vfork_child))
		return real_close(fd);
	uint32_t token = repoint_begin(fd);
	asf_fd_forget(fd);
	int r = real_close(fd); /* (EINTR/EIO still close the fd on Linux) */
	asf_fd_change_end(fd, token);
	return r;
}

ASF_EXPORT int close(int fd)
{
	return close_tracked(fd);
}

ASF_EXPORT int __close(int fd)
{
	return close_tracked(fd);
}

ASF_EXPORT int fclose(FILE *stream)
{
	int fd = stream && !asf_vfork_child ? fileno(stream) : -1;
	uint32_t token = 0;
	if (fd >= 0) {
		token = repoint_begin(fd);
		asf_fd_forget(fd); /* before the close, as in close_tracked */
	}
	int r = ASF_REAL_FN(fclose) ? asf_real.fclose(stream) : EOF;
	if (fd >= 0)
		asf_fd_change_end(fd, token);
	return r;
}

ASF_EXPORT int dup(int oldfd)
{
	int r = ASF_REAL_FN(dup) ? asf_real.dup(oldfd) : (int)syscall(SYS_dup, oldfd);
	if (r >= 0 && !asf_vfork_child)
		asf_fd_copy(oldfd, r);
	return r;
}

ASF_EXPORT int dup2(int oldfd, int newfd)
{
	if (ASF_UNLIKELY(asf_vfork_child))
		return ASF_REAL_FN(dup2) ? asf_real.dup2(oldfd, newfd)
					 : (int)syscall(SYS_dup3, oldfd, newfd, 0);
	uint32_t token = repoint_begin(newfd);
	int r = ASF_REAL_FN(dup2) ? asf_real.dup2(oldfd, newfd)
				  : (int)syscall(SYS_dup3, oldfd, newfd, 0);
	if (r >= 0)
		asf_fd_copy(oldfd, r);
	asf_fd_change_end(newfd, token);
	return r;
}

ASF_EXPORT int dup3(int oldfd, int newfd, int flags)
{
	if (ASF_UNLIKELY(asf_vfork_child))
		return ASF_REAL_FN(dup3) ? asf_real.dup3(oldfd, newfd, flags)
					 : (int)syscall(SYS_dup3, oldfd, newfd, flags);
	uint32_t token = repoint_begin(newfd);
	int r = ASF_REAL_FN(dup3) ? asf_real.dup3(oldfd, newfd, flags)
				  : (int)syscall(SYS_dup3, oldfd, newfd, flags);
	if (r >= 0)
		asf_fd_copy(oldfd, r);
	asf_fd_change_end(newfd, token);
	return r;
}

/* fcntl is variadic; every command takes at most one argument, passed on as a word
 * (this is how glibc itself forwards it). */
static int after_fcntl(int fd, int cmd, int r)
{
	if (r < 0 || asf_vfork_child)
		return r;
	if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)
		asf_fd_copy(fd, r);
	else if (cmd == F_SETFL && ((asf_fd_word(fd) & ASF_FD_KIND_MASK) == ASF_FD_FILE ||
				    (asf_fd_word(fd) & ASF_FDF_FRESH)))
		forget(fd); /* O_DIRECT may have changed: classify again */
	return r;
}

ASF_EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	int r = ASF_REAL_FN(fcntl) ? asf_real.fcntl(fd, cmd, arg)
				   : (int)syscall(SYS_fcntl, fd, cmd, arg);
	return after_fcntl(fd, cmd, r);
}

ASF_EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	int (*fn)(int, int, ...) = ASF_REAL_FN(fcntl64);
	if (!fn)
		fn = ASF_REAL_FN(fcntl);
	int r = fn ? fn(fd, cmd, arg) : (int)syscall(SYS_fcntl, fd, cmd, arg);
	return after_fcntl(fd, cmd, r);
}

static int real_close_range(unsigned first, unsigned last, int flags)
{
	return ASF_REAL_FN(close_range) ? asf_real.close_range(first, last, flags)
					: (int)syscall(SYS_close_range, first, last, flags);
}

ASF_EXPORT int close_range(unsigned first, unsigned last, int flags)
{
	if (ASF_UNLIKELY(asf_vfork_child) || first > last)
		return real_close_range(first, last, flags);
	asf_fd_range_change_begin();
	asf_sendwin_wait_range(first, last);
	int r = real_close_range(first, last, flags);
	if (r == 0 && !(flags & CLOSE_RANGE_CLOEXEC))
		asf_fd_forget_range(first, last);
	asf_fd_range_change_end();
	return r;
}

/* glibc's closefrom falls back to closing one by one where close_range is refused (kernels
 * before 5.9, seccomp): it is the program's, run as is. */
ASF_EXPORT void closefrom(int lowfd)
{
	if (!ASF_REAL_FN(closefrom))
		return;
	if (ASF_UNLIKELY(asf_vfork_child) || lowfd < 0) {
		asf_real.closefrom(lowfd);
		return;
	}
	asf_fd_range_change_begin();
	asf_sendwin_wait_range((unsigned)lowfd, ~0u);
	asf_real.closefrom(lowfd);
	asf_fd_forget_range((unsigned)lowfd, ~0u);
	asf_fd_range_change_end();
}

/* A send timeout makes a socket's writes keep their real call (sendfile has no timeout
 * of its own: redirect.c). Kernel TLS put on a connection after it was classified (an
 * accepted one is classified at accept, before any handshake) makes it TLS for good: the
 * handshake's bytes may not have passed through a wrapped call (another process, raw system
 * calls), and a sendfile there would cut the TLS records differently from the real write. */
ASF_EXPORT int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	int r = ASF_REAL_FN(setsockopt) ? asf_real.setsockopt(fd, level, name, val, len)
					: (int)syscall(SYS_setsockopt, fd, level, name, val, len);
	if (r == 0 && level == IPPROTO_TCP && name == TCP_ULP && val && len >= 3 &&
	    !memcmp(val, "tls", 3) && asf_active()) {
		int saved_errno = errno;
		asf_fd_word_classified(fd);
		asf_fd_mark_tls(fd);
		errno = saved_errno;
	}
	if (r == 0 && level == SOL_SOCKET && (name == SO_SNDTIMEO_OLD || name == SO_SNDTIMEO_NEW) &&
	    asf_active()) {
		int saved_errno = errno;
		asf_fd_word_classified(fd);
		asf_fd_or_flags(fd, ASF_FDF_SNDTIMEO);
		errno = saved_errno;
	}
	return r;
}

/* Socket constructors: what they return is new, whatever the table said of that number. */
ASF_EXPORT int socket(int domain, int type, int protocol)
{
	int r = ASF_REAL_FN(socket) ? asf_real.socket(domain, type, protocol)
				    : (int)syscall(SYS_socket, domain, type, protocol);
	if (r >= 0) {
		forget(r);
		if (!asf_vfork_child)
			asf_fd_fresh_number(r);
		if ((type & 0xf) == SOCK_STREAM)
			asf_note_stream_socket();
	}
	return r;
}

ASF_EXPORT int socketpair(int domain, int type, int protocol, int sv[2])
{
	int r = ASF_REAL_FN(socketpair) ? asf_real.socketpair(domain, type, protocol, sv)
					: (int)syscall(SYS_socketpair, domain, type, protocol, sv);
	if (r == 0) {
		forget(sv[0]);
		forget(sv[1]);
		if ((type & 0xf) == SOCK_STREAM)
			asf_note_stream_socket();
	}
	return r;
}

/* A connection accept() returned: a number that may have been closed behind our back. It
 * inherits the listener's send timeout (the kernel copies it). A stream listener's
 * connections are stream sockets of its family, without kernel TLS (the "tls" upper layer
 * needs an established socket and is never cloned from a listener): no need to ask. */
static void accepted(int lfd, int fd)
{
	if (asf_vfork_child)
		return;
	asf_fd_fresh_number(fd);
	if (asf_active()) {
		uint32_t lw = asf_fd_word_classified(lfd);
		if ((lw & ASF_FD_KIND_MASK) == ASF_FD_STREAM) {
			asf_fd_set(fd, ASF_FD_STREAM | (lw & ASF_FDF_SNDTIMEO), 0, 0);
			asf_note_stream_socket();
			return;
		}
		asf_fd_classify_accepted(fd);
		if (lw & ASF_FDF_SNDTIMEO)
			asf_fd_or_flags(fd, ASF_FDF_SNDTIMEO);
	} else {
		forget(fd);
	}
	asf_note_stream_socket();
}

ASF_EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *alen)
{
	int r = ASF_REAL_FN(accept) ? asf_real.accept(fd, addr, alen)
				    : (int)syscall(SYS_accept, fd, addr, alen);
	if (r >= 0)
		accepted(fd, r);
	return r;
}

ASF_EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *alen, int flags)
{
	int r = ASF_REAL_FN(accept4) ? asf_real.accept4(fd, addr, alen, flags)
				     : (int)syscall(SYS_accept4, fd, addr, alen, flags);
	if (r >= 0)
		accepted(fd, r);
	return r;
}

void asf_forget_passed_fds(const struct msghdr *msg)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR((struct msghdr *)msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		const unsigned char *data = CMSG_DATA(c);
		for (size_t i = 0; i < n; i++) {
			int fd;
			memcpy(&fd, data + i * sizeof fd, sizeof fd);
			forget(fd);
		}
	}
}
