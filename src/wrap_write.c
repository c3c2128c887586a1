/* Write side: write, send, sendto, writev and sendmsg to a stream socket go to the redirect
 * engine when their buffers hold recorded file bytes; everything else is the real call. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "config.h"
#include "fdclass.h"
#include "pressure.h"
#include "real.h"
#include "redirect.h"
#include "stats.h"
#include "wrap.h"

/* After a write to fd (whichever path made it): its queue's account (pressure.h). */
static ssize_t moved(int fd, uint32_t w, size_t want, ssize_t r)
{
	if ((w & ASF_FD_KIND_MASK) == ASF_FD_STREAM)
		asf_pressure_moved(fd, want, r, errno);
	return r;
}

static void count_passthrough(uint32_t w, ssize_t r)
{
	uint32_t kind = w & ASF_FD_KIND_MASK;
	if (r > 0 && (kind == ASF_FD_STREAM || kind == ASF_FD_TLS)) {
		if (kind == ASF_FD_TLS)
			asf_why(ASF_WHY_TLS);
		asf_stat_pass((uint64_t)r); /* under the reason the engine declined for */
	}
}

/* Classifies fd if needed. A stream socket's first bytes out are inspected for TLS: by the
 * redirect engine when it may send them, else after the real call (which has shown that
 * the bytes were readable). */
static uint32_t out_word(int fd, uint32_t w)
{
	if ((w & ASF_FD_KIND_MASK) == ASF_FD_UNKNOWN) {
		int saved_errno = errno;
		w = asf_fd_classify(fd);
		errno = saved_errno;
	}
	/* Its bytes are counted: the live counters file must be there (a socket classified
	 * before the file could be made: in a vfork child, or by a fork's parent). */
	uint32_t kind = w & ASF_FD_KIND_MASK;
	if (kind == ASF_FD_STREAM || kind == ASF_FD_TLS)
		asf_live_touch();
	return w;
}

static bool first_write(uint32_t w)
{
	return (w & ASF_FD_KIND_MASK) == ASF_FD_STREAM && !(w & ASF_FDF_OUT_SEEN);
}

static void after_first_write(int fd, const void *head, ssize_t r)
{
	if (r <= 0)
		return;
	int saved_errno = errno;
	asf_fd_sniff(fd, ASF_FDF_OUT_SEEN, head, (size_t)r);
	errno = saved_errno;
}

static ssize_t write_slow(int fd, const void *buf, size_t n, uint32_t w)
{
	if (asf_owed_error(fd, w))
		return -1;
	w = out_word(fd, w);
	ssize_t r;
	asf_why(ASF_WHY_OTHER);
	if (asf_try_redirect(fd, w, buf, n, 0, ASF_CALL_WRITE, &r))
		return moved(fd, w, n, r);
	r = moved(fd, w, n, real_write(fd, buf, n));
	count_passthrough(w, r);
	if (first_write(w))
		after_first_write(fd, buf, r);
	return r;
}

static ssize_t sendto_slow(int fd, const void *buf, size_t n, int flags,
			   const struct sockaddr *addr, socklen_t alen, uint32_t w)
{
	if (asf_owed_error(fd, w))
		return -1;
	w = out_word(fd, w);
	ssize_t r;
	asf_why(addr ? ASF_WHY_FLAGS : ASF_WHY_OTHER);
	if (addr == NULL && asf_try_redirect(fd, w, buf, n, flags, ASF_CALL_SEND, &r))
		return moved(fd, w, n, r);
	r = moved(fd, w, n, real_sendto(fd, buf, n, flags, addr, alen));
	count_passthrough(w, r);
	if (first_write(w))
		after_first_write(fd, buf, r);
	return r;
}

static inline ssize_t do_write(int fd, const void *buf, size_t n)
{
	uint32_t w = asf_fd_word(fd);
	if (ASF_LIKELY(w == ASF_FD_OTHER) || !asf_active())
		return real_write(fd, buf, n);
	return write_slow(fd, buf, n, w);
}

ASF_EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
	return do_write(fd, buf, n);
}

ASF_EXPORT ssize_t __write(int fd, const void *buf, size_t n)
{
	return do_write(fd, buf, n);
}

ASF_EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags,
			  const struct sockaddr *addr, socklen_t alen)
{
	uint32_t w = asf_fd_word(fd);
	if (ASF_LIKELY(w == ASF_FD_OTHER) || !asf_active())
		return real_sendto(fd, buf, n, flags, addr, alen);
	return sendto_slow(fd, buf, n, flags, addr, alen, w);
}

ASF_EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags)
{
	uint32_t w = asf_fd_word(fd);
	if (ASF_LIKELY(w == ASF_FD_OTHER) || !asf_active())
		return real_send(fd, buf, n, flags);
	return sendto_slow(fd, buf, n, flags, NULL, 0, w);
}

/* Vectored writes: the iovecs that records hold go by sendfile (redirect_vec.c). */
/* moved() for a vectored write: the iovecs are summed only once the call has shown them
 * readable (r > 0); a refused call (EAGAIN) needs no size. */
static ssize_t moved_vec(int fd, uint32_t w, const struct iovec *iov, int cnt, ssize_t r)
{
	size_t want = 0;
	for (int i = 0; r > 0 && i < cnt; i++)
		want += iov[i].iov_len;
	return moved(fd, w, want, r);
}

static void after_vector_write(int fd, uint32_t w, const struct iovec *iov, int cnt, ssize_t r)
{
	if (r <= 0)
		return;
	count_passthrough(w, r);
	if (first_write(w)) {
		unsigned char head[3];
		after_first_write(fd, head, (ssize_t)asf_iov_head(iov, cnt, (size_t)r, head, sizeof head));
	}
}

static ssize_t real_writev(int fd, const struct iovec *iov, int cnt)
{
	return ASF_REAL_FN(writev) ? asf_real.writev(fd, iov, cnt) : syscall(SYS_writev, fd, iov, cnt);
}

static ssize_t real_sendmsg(int fd, const struct msghdr *msg, int flags)
{
	return ASF_REAL_FN(sendmsg) ? asf_real.sendmsg(fd, msg, flags)
				    : syscall(SYS_sendmsg, fd, msg, flags);
}

ASF_EXPORT ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	uint32_t w = asf_fd_word(fd);
	if (ASF_LIKELY(w == ASF_FD_OTHER) || !asf_active())
		return real_writev(fd, iov, cnt);
	if (asf_owed_error(fd, w))
		return -1;
	w = out_word(fd, w);
	ssize_t r;
	asf_why(ASF_WHY_OTHER);
	if (asf_try_redirect_vec(fd, w, iov, cnt, 0, &r))
		return moved_vec(fd, w, iov, cnt, r);
	r = moved_vec(fd, w, iov, cnt, real_writev(fd, iov, cnt));
	after_vector_write(fd, w, iov, cnt, r);
	return r;
}

ASF_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	uint32_t w = asf_fd_word(fd);
	if (ASF_LIKELY(w == ASF_FD_OTHER) || !asf_active() || !msg)
		return real_sendmsg(fd, msg, flags);
	if (asf_owed_error(fd, w))
		return -1;
	w = out_word(fd, w);
	ssize_t r;
	/* The msghdr may be unreadable (the call fails with EFAULT): it is read here only once
	 * the kernel has read it, r > 0. */
	if (!asf_try_redirect_msg(fd, w, msg, flags, &r))
		r = real_sendmsg(fd, msg, flags);
	if (r <= 0)
		return moved_vec(fd, w, NULL, 0, r);
	r = moved_vec(fd, w, msg->msg_iov, (int)msg->msg_iovlen, r);
	after_vector_write(fd, w, msg->msg_iov, (int)msg->msg_iovlen, r);
	return r;
}
