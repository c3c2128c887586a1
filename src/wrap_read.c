/* Read side: read, pread, readv, preadv, preadv2 and their aliases and fortified forms
 * record what a file read put into a buffer; recv and friends only look at the first bytes
 * a socket receives (TLS). */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "config.h"
#include "fdclass.h"
#include "real.h"
#include "redirect.h"
#include "stats.h"
#include "wrap.h"

/* Should a read of n bytes from an fd with this word be tracked? */
static bool track_file(uint32_t w, size_t n)
{
	return (w & ASF_FD_KIND_MASK) == ASF_FD_FILE && !(w & ASF_FDF_NO_SENDFILE) &&
	       n >= asf_track_min() && __atomic_load_n(&asf_sockets_seen, __ATOMIC_RELAXED);
}

void asf_sniff_in(int fd, uint32_t w, const void *buf, ssize_t r)
{
	if (r > 0 && (w & ASF_FD_KIND_MASK) == ASF_FD_STREAM && !(w & ASF_FDF_IN_SEEN))
		asf_fd_sniff(fd, ASF_FDF_IN_SEEN, buf, (size_t)r);
}

/* Where a read of fd at its current offset starts, without a syscall: the guess is where
 * the last read or lseek we saw left the offset. One lseek after the read proves it: a read
 * moves the offset by exactly what it returns, so an offset of guess + r afterwards means the
 * read started at the guess. Anything that moved the offset unseen (a raw syscall, fseek,
 * another thread) makes that one read untracked and sets the next guess right. What this
 * cannot see, exactly as an lseek before the read could not: another thread setting the
 * shared offset to precisely guess + r between the read and our lseek. */
static off_t proven_start(int fd, off_t guess, ssize_t r)
{
	off_t after = real_lseek(fd, 0, SEEK_CUR);
	if (after >= 0)
		asf_fd_set_next_off(fd, after);
	return guess >= 0 && after == guess + r ? guess : -1;
}

/* Where a read at the file position started. With full verification the guess alone will
 * do: a write on a wrong guess finds the bytes differ from the file and is passed through
 * (and where they do not differ, sending the file's bytes sends the buffer's), and it flags
 * the fd so that its next read is proven (ASF_FDF_RESYNC). The weaker modes trust the
 * record more, so they prove every read. */
static off_t read_start(int fd, uint32_t w, off_t guess, ssize_t r)
{
	bool full = asf_cfg.verify == ASF_VERIFY_FULL;
	if (full && guess >= 0 && !(w & ASF_FDF_RESYNC)) {
		asf_fd_set_next_off(fd, guess + r);
		return guess;
	}
	if (w & ASF_FDF_RESYNC)
		asf_fd_clear_flags(fd, ASF_FDF_RESYNC);
	off_t proven = proven_start(fd, guess, r);
	if (proven >= 0 || !full)
		return proven;
	/* The guess was wrong: the offset after the read, less what it read, is where it most
	 * likely started (a claim; the comparison at the write decides). */
	off_t after = asf_fd_next_off(fd);
	return after >= r ? after - r : -1;
}

/* A socket error the library owes (wrap.h) comes after the bytes already received, as the
 * kernel's would: the real read goes first, and only when it has nothing is the error due. */
static ssize_t owed_after(int fd, uint32_t w, ssize_t r)
{
	if (r > 0 || !asf_owed_error(fd, w))
		return r;
	return -1;
}

/* An untracked read (too small, no socket yet) of a file still moves the guess along. */
static void advance_guess(int fd, uint32_t w, ssize_t r)
{
	if (r > 0 && (w & ASF_FD_KIND_MASK) == ASF_FD_FILE) {
		asf_fd_set_next_off(fd, asf_fd_next_off(fd) + r);
		if ((size_t)r >= asf_cfg.min_bytes) /* big enough, yet not tracked: no socket yet */
			asf_why_read(w & ASF_FDF_NO_SENDFILE ? ASF_WHY_NOT_ELIGIBLE : ASF_WHY_UNTRACKED);
	}
}

/* read() of an fd that is not known to be uninteresting. */
static ssize_t read_slow(int fd, void *buf, size_t n, uint32_t w)
{
	if (ASF_UNLIKELY(w & ASF_FDF_PENDING_ERR))
		return owed_after(fd, w, real_read(fd, buf, n));
	int saved_errno = errno;
	uint64_t gen = asf_fd_gen(fd); /* before anything is learnt about fd */
	if ((w & ASF_FD_KIND_MASK) == ASF_FD_UNKNOWN) /* first sight: no guess to trust yet, */
		w = asf_fd_classify(fd) | (w & ASF_FDF_FRESH ? 0 : ASF_FDF_RESYNC); /* unless fresh */
	if (!track_file(w, n)) {
		ssize_t r = real_read(fd, buf, n);
		if (r > 0) {
			advance_guess(fd, w, r);
			asf_sniff_in(fd, w, buf, r);
			errno = saved_errno;
		}
		return r;
	}
	off_t guess = asf_fd_next_off(fd);
	ssize_t r = real_read(fd, buf, n);
	if (r > 0) {
		asf_after_file_read(fd, buf, (size_t)r, read_start(fd, w, guess, r), gen);
		errno = saved_errno;
	}
	return r;
}

static ssize_t pread_slow(int fd, void *buf, size_t n, off_t off, uint32_t w)
{
	int saved_errno = errno;
	uint64_t gen = asf_fd_gen(fd);
	if ((w & ASF_FD_KIND_MASK) == ASF_FD_UNKNOWN)
		w = asf_fd_classify(fd);
	bool track = track_file(w, n);
	ssize_t r = real_pread(fd, buf, n, off);
	if (r > 0 && track) {
		asf_after_file_read(fd, buf, (size_t)r, off, gen);
		errno = saved_errno;
	}
	return r;
}

static inline ssize_t do_read(int fd, void *buf, size_t n)
{
	uint32_t w = asf_fd_word(fd);
	if (ASF_LIKELY(w == ASF_FD_OTHER) || !asf_active())
		return real_read(fd, buf, n);
	return read_slow(fd, buf, n, w);
}

static inline ssize_t do_pread(int fd, void *buf, size_t n, off_t off)
{
	uint32_t w = asf_fd_word(fd);
	if (ASF_LIKELY(w == ASF_FD_OTHER) || !asf_active())
		return real_pread(fd, buf, n, off);
	return pread_slow(fd, buf, n, off, w);
}

ASF_EXPORT ssize_t read(int fd, void *buf, size_t n)
{
	return do_read(fd, buf, n);
}

ASF_EXPORT ssize_t __read(int fd, void *buf, size_t n)
{
	return do_read(fd, buf, n);
}

ASF_EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	if (n > buflen && ASF_REAL_FN(read_chk))
		return asf_real.read_chk(fd, buf, n, buflen); /* reports the overflow as glibc does */
	return do_read(fd, buf, n);
}

ASF_EXPORT ssize_t pread64(int fd, void *buf, size_t n, off_t off)
{
	return do_pread(fd, buf, n, off);
}

ASF_EXPORT ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
	return do_pread(fd, buf, n, off);
}

ASF_EXPORT ssize_t __pread64_chk(int fd, void *buf, size_t n, off_t off, size_t buflen)
{
	if (n > buflen && ASF_REAL_FN(pread_chk))
		return asf_real.pread_chk(fd, buf, n, off, buflen);
	return do_pread(fd, buf, n, off);
}

ASF_EXPORT ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen)
{
	if (n > buflen && ASF_REAL_FN(pread_chk))
		return asf_real.pread_chk(fd, buf, n, off, buflen);
	return do_pread(fd, buf, n, off);
}

/* Sockets: only the first bytes received matter to us. */
static ssize_t do_recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *addr,
			   socklen_t *alen)
{
	ssize_t r = real_recvfrom(fd, buf, n, flags, addr, alen);
	if (ASF_UNLIKELY(asf_fd_word(fd) & ASF_FDF_PENDING_ERR))
		return owed_after(fd, asf_fd_word(fd), r);
	uint32_t w = asf_fd_word(fd);
	if (ASF_UNLIKELY(w != ASF_FD_OTHER) && r > 0 && asf_active()) {
		int saved_errno = errno;
		if ((w & ASF_FD_KIND_MASK) == ASF_FD_UNKNOWN)
			w = asf_fd_classify(fd);
		asf_sniff_in(fd, w, buf, r);
		errno = saved_errno;
	}
	return r;
}

ASF_EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *addr,
			    socklen_t *alen)
{
	return do_recvfrom(fd, buf, n, flags, addr, alen);
}

ASF_EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags)
{
	return do_recvfrom(fd, buf, n, flags, NULL, NULL);
}

ASF_EXPORT ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags)
{
	if (n > buflen && ASF_REAL_FN(recv_chk))
		return asf_real.recv_chk(fd, buf, n, buflen, flags);
	return do_recvfrom(fd, buf, n, flags, NULL, NULL);
}

ASF_EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
				  struct sockaddr *addr, socklen_t *alen)
{
	if (n > buflen && ASF_REAL_FN(recvfrom_chk))
		return asf_real.recvfrom_chk(fd, buf, n, buflen, flags, addr, alen);
	return do_recvfrom(fd, buf, n, flags, addr, alen);
}

/* Vectored reads: each buffer a file read fills becomes its own record; on a socket, the
 * first bytes count for TLS detection. */
static void after_vector_read(int fd, const struct iovec *iov, int cnt, ssize_t r)
{
	if (r <= 0 || !asf_active())
		return;
	int saved_errno = errno;
	uint32_t w = asf_fd_word(fd);
	if ((w & ASF_FD_KIND_MASK) == ASF_FD_UNKNOWN)
		w = asf_fd_classify(fd);
	if ((w & ASF_FD_KIND_MASK) == ASF_FD_STREAM && !(w & ASF_FDF_IN_SEEN)) {
		unsigned char head[3];
		size_t got = asf_iov_head(iov, cnt, (size_t)r, head, sizeof head);
		asf_fd_sniff(fd, ASF_FDF_IN_SEEN, head, got);
	}
	errno = saved_errno;
}

/* Records each filled buffer of a vectored read that got r bytes from offset off. */
static void record_vector(int fd, const struct iovec *iov, int cnt, ssize_t r, off_t off,
			  uint64_t gen)
{
	size_t left = (size_t)r;
	for (int i = 0; i < cnt && left > 0; i++) {
		size_t take = iov[i].iov_len < left ? iov[i].iov_len : left;
		if (take > 0)
			asf_after_file_read(fd, iov[i].iov_base, take, off < 0 ? -1 : off, gen);
		if (off >= 0)
			off += (off_t)take;
		left -= take;
	}
}

static size_t iov_total(const struct iovec *iov, int cnt)
{
	size_t n = 0;
	for (int i = 0; iov && i < cnt && i < IOV_MAX; i++)
		n += iov[i].iov_len;
	return n;
}

/* One path for readv, preadv and preadv2: off < 0 means "at the file position". */
enum vread { VREAD_READV, VREAD_PREADV, VREAD_PREADV2 };

static ssize_t real_vread(enum vread kind, int fd, const struct iovec *iov, int cnt, off_t off,
			  int flags)
{
	switch (kind) {
	case VREAD_READV:
		return ASF_REAL_FN(readv) ? asf_real.readv(fd, iov, cnt) : syscall(SYS_readv, fd, iov, cnt);
	case VREAD_PREADV:
		return ASF_REAL_FN(preadv) ? asf_real.preadv(fd, iov, cnt, off)
					   : syscall(SYS_preadv, fd, iov, cnt, off, 0);
	default:
		return ASF_REAL_FN(preadv2) ? asf_real.preadv2(fd, iov, cnt, off, flags)
					    : syscall(SYS_preadv2, fd, iov, cnt, off, 0, flags);
	}
}

static ssize_t vread(enum vread kind, int fd, const struct iovec *iov, int cnt, off_t off,
		     int flags)
{
	uint32_t w = asf_fd_word(fd);
	if (ASF_LIKELY(w == ASF_FD_OTHER) || !asf_active())
		return real_vread(kind, fd, iov, cnt, off, flags);
	if (ASF_UNLIKELY(w & ASF_FDF_PENDING_ERR))
		return owed_after(fd, w, real_vread(kind, fd, iov, cnt, off, flags));
	int saved_errno = errno;
	uint64_t gen = asf_fd_gen(fd);
	if ((w & ASF_FD_KIND_MASK) == ASF_FD_UNKNOWN)
		w = asf_fd_classify(fd);
	bool at_position = kind == VREAD_READV || off < 0;
	if (!track_file(w, iov_total(iov, cnt))) {
		errno = saved_errno;
		ssize_t r = real_vread(kind, fd, iov, cnt, off, flags);
		if (at_position)
			advance_guess(fd, w, r);
		after_vector_read(fd, iov, cnt, r);
		return r;
	}
	off_t guess = at_position ? asf_fd_next_off(fd) : off;
	errno = saved_errno;
	ssize_t r = real_vread(kind, fd, iov, cnt, off, flags);
	if (r > 0) {
		record_vector(fd, iov, cnt, r, at_position ? read_start(fd, w, guess, r) : off, gen);
		errno = saved_errno;
	}
	return r;
}

ASF_EXPORT ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
	return vread(VREAD_READV, fd, iov, cnt, -1, 0);
}

ASF_EXPORT ssize_t preadv64(int fd, const struct iovec *iov, int cnt, off_t off)
{
	return vread(VREAD_PREADV, fd, iov, cnt, off, 0);
}

ASF_EXPORT ssize_t preadv(int fd, const struct iovec *iov, int cnt, off_t off)
{
	return vread(VREAD_PREADV, fd, iov, cnt, off, 0);
}

ASF_EXPORT ssize_t preadv64v2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
	return vread(VREAD_PREADV2, fd, iov, cnt, off, flags);
}

ASF_EXPORT ssize_t preadv2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
	return vread(VREAD_PREADV2, fd, iov, cnt, off, flags);
}

ASF_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	ssize_t r = ASF_REAL_FN(recvmsg) ? asf_real.recvmsg(fd, msg, flags)
					 : syscall(SYS_recvmsg, fd, msg, flags);
	if (ASF_UNLIKELY(asf_fd_word(fd) & ASF_FDF_PENDING_ERR))
		return owed_after(fd, asf_fd_word(fd), r);
	if (r >= 0 && msg && msg->msg_controllen > 0)
		asf_forget_passed_fds(msg);
	if (r > 0 && msg)
		after_vector_read(fd, msg->msg_iov, (int)msg->msg_iovlen, r);
	return r;
}
