/* Vectored writes (writev, sendmsg) whose iovecs mix program memory and recorded file
 * bytes: nginx with `sendfile off` writes [header, body], node writes [chunk size, CRLF,
 * body, CRLF]. The parts go out in order: each run of plain iovecs by the real sendmsg
 * (with MSG_MORE when file bytes follow, so the header still leaves with the body), each
 * run of iovecs holding a file's bytes at consecutive offsets by one sendfile range (Apache
 * without mmap: nine 8000-byte blocks). The call returns the total the real call
 * would have: a partial count stops at the exact byte, and the program's retry with
 * advanced iovecs continues from there (a sub-range of a record maps to its offset). */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "config.h"
#include "fdclass.h"
#include "real.h"
#include "redirect.h"
#include "proof.h"
#include "source.h"
#include "stats.h"
#include "wrap.h"

static ssize_t real_sendmsg_iov(int fd, const struct iovec *iov, int cnt, int flags)
{
	struct msghdr m = { .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)cnt };
	return ASF_REAL_FN(sendmsg) ? asf_real.sendmsg(fd, &m, flags)
				    : syscall(SYS_sendmsg, fd, &m, flags);
}

/* Iovecs shorter than this are not looked at: too short to be worth a comparison alone
 * (a header, a chunk-size line). */
#define PART_MIN 512u

/* An iovec may be found by its bytes (a copy, content.h) when it is worth a sendfile on
 * its own; never split: an iovec with a header inside is rare, and the engine's parts are
 * whole iovecs. */
static unsigned content_how(unsigned how, size_t len)
{
	return len >= asf_cfg.min_bytes ? how | ASF_SRC_CONTENT : how;
}

/* From iov[f] on, how many iovecs continue the file run that src (opened for iov[f]) starts:
 * each proven on its own, of the same file, at the next offset. */
static int run_length(struct asf_thread *t, const struct iovec *iov, int cnt, int f,
		      unsigned how, struct asf_source *src, size_t *total)
{
	off_t next = src->off + (off_t)iov[f].iov_len;
	int g = f + 1;
	*total = iov[f].iov_len;
	while (g < cnt && g - f < ASF_RUN_MAX && iov[g].iov_len >= PART_MIN) {
		struct asf_source more;
		if (!asf_source_open_as(t, iov[g].iov_base, iov[g].iov_len,
					content_how(how, iov[g].iov_len), &more))
			break;
		if (!asf_source_prove(&more, iov[g].iov_base, iov[g].iov_len)) {
			asf_source_close(&more);
			break;
		}
		bool continues = asf_source_same_file(&more, src) && more.off == next;
		asf_source_close(&more);
		if (!continues)
			break;
		next += (off_t)iov[g].iov_len;
		*total += iov[g].iov_len;
		g++;
	}
	t->open_src = src; /* (the extra opens took and gave back the slot) */
	return g - f;
}

/* Opens the source of the first run of file iovecs at or after *i worth a sendfile: its
 * bytes together at least AUTOSENDFILE_MIN_BYTES (Apache without mmap reads 8000-byte blocks
 * and writes nine at once: one sendfile). True with *i at its first iovec and *len its
 * iovec count; false with *i == cnt if there is none. */
static bool next_file_run(struct asf_thread *t, const struct iovec *iov, int cnt, unsigned how,
			  int *i, int *len, struct asf_source *src)
{
	for (; *i < cnt; (*i)++) {
		if (!asf_why_unless(iov[*i].iov_len >= PART_MIN, ASF_WHY_SMALL) ||
		    !asf_source_open_as(t, iov[*i].iov_base, iov[*i].iov_len,
					content_how(how, iov[*i].iov_len), src))
			continue;
		if (!asf_source_prove(src, iov[*i].iov_base, iov[*i].iov_len)) {
			asf_source_close(src); /* a vectored run is proven whole before it is sent */
			continue;
		}
		size_t total;
		*len = run_length(t, iov, cnt, *i, how, src, &total);
		if (total >= asf_cfg.min_bytes)
			return true;
		asf_source_close(src);
		asf_why(ASF_WHY_SMALL);
		*i += *len - 1;
	}
	return false;
}

static size_t iov_sum(const struct iovec *iov, int from, int to)
{
	size_t n = 0;
	for (int i = from; i < to; i++)
		n += iov[i].iov_len;
	return n;
}

/* Inspects the first bytes the socket sent (this call's first k bytes) for TLS. */
static bool first_bytes_tls(int fd, const struct iovec *iov, int cnt, size_t k)
{
	unsigned char head[3];
	size_t got = asf_iov_head(iov, cnt, k, head, sizeof head);
	return (asf_fd_sniff(fd, ASF_FDF_OUT_SEEN, head, got) & ASF_FD_KIND_MASK) != ASF_FD_STREAM;
}

/* Sends iov[0..cnt) given the first file run: iovecs [f, f + run) that src (open) holds;
 * plain runs by the real sendmsg, file runs by sendfile, in order. */
static bool send_parts(struct asf_thread *t, int fd, uint32_t word, const struct iovec *iov,
		       int cnt, int flags, unsigned how, int f, int run, struct asf_source *src,
		       ssize_t *result)
{
	bool sniff = !(word & ASF_FDF_OUT_SEEN), redirected = false, fallback = false;
	size_t sent = 0;
	int i = 0, err = 0;
	while (i < cnt) {
		/* Plain run [i, f), then the file part f (f == cnt: plain to the end). */
		if (f > i) {
			size_t want = iov_sum(iov, i, f);
			int fl = flags | (f < cnt ? MSG_MORE : 0) | (sent > 0 ? MSG_NOSIGNAL : 0);
			/* The program's own bytes around the file's: counted as what they are, not
			 * under the reason the last iovec looked at was left for. */
			asf_why(f < cnt ? ASF_WHY_HEADER : ASF_WHY_TAIL);
			ssize_t k = real_sendmsg_iov(fd, &iov[i], f - i, fl);
			if (k < 0) {
				err = errno;
				break;
			}
			asf_stat_pass((uint64_t)k);
			if (sniff && k > 0) {
				sniff = false;
				if (first_bytes_tls(fd, &iov[i], f - i, (size_t)k)) {
					sent += (size_t)k;
					break; /* the rest goes by the real call on the program's retry */
				}
			}
			sent += (size_t)k;
			if ((size_t)k < want)
				break;
		}
		if (f >= cnt)
			break;
		if (sniff) {
			sniff = false; /* (read under the guard: see redirect.c) */
			unsigned char head[3];
			size_t hn = iov[f].iov_len < sizeof head ? iov[f].iov_len : sizeof head;
			if (!asf_read_prog(t, head, iov[f].iov_base, hn) ||
			    (asf_fd_sniff(fd, ASF_FDF_OUT_SEEN, head, hn) & ASF_FD_KIND_MASK) !=
				    ASF_FD_STREAM) {
				asf_why(ASF_WHY_TLS);
				asf_source_close(src);
				if (sent == 0) /* nothing moved yet: the real call does it all */
					return false;
				break;
			}
		}
		bool fb = false;
		ssize_t k = asf_send_file_iov(fd, src, &iov[f], run, flags, sent, &fb);
		err = errno;
		asf_source_close(src);
		fallback |= fb;
		if (k < 0)
			break;
		redirected |= !fb;
		sent += (size_t)k;
		if ((size_t)k < iov_sum(iov, f, f + run))
			break;
		i = f + run;
		f = i;
		if (!next_file_run(t, iov, cnt, how, &f, &run, src))
			f = cnt;
	}
	asf_source_close(src); /* one opened but not reached; a no-op if closed already */
	asf_note_redirect(fallback, redirected);
	*result = sent > 0 ? (ssize_t)sent : -1;
	errno = err;
	return true;
}

/* The body of asf_try_redirect_vec, with t busy and the cancellation cleanup in place. */
static bool redirect_vec(struct asf_thread *t, int fd, uint32_t word, const struct iovec *iov,
			 int cnt, size_t total, int flags, ssize_t *result)
{
	struct asf_source src = { .open = false };
	int f = 0, run = 0;
	unsigned how = asf_redirect_how(fd, word, total);
	if (!next_file_run(t, iov, cnt, how, &f, &run, &src))
		return false; /* nothing to redirect: the real call, untouched */
	return send_parts(t, fd, word, iov, cnt, flags, how, f, run, &src, result);
}

bool asf_redirect_split(struct asf_thread *t, int fd, uint32_t word, const void *buf, size_t n,
			int flags, unsigned how, struct asf_source *src, ssize_t *result)
{
	struct iovec iov[2] = { { (void *)buf, src->skip }, { (void *)src->buf, n - src->skip } };
	return send_parts(t, fd, word, iov, 2, flags, how, 1, 1, src, result);
}

/* The program's iovec array (and msghdr) are read into copies of the library's, the way
 * the kernel reads them: either may be unreadable, and the real call then fails with EFAULT
 * where an unguarded look would have killed the process. Read as this thread last found the
 * guard usable (no system call: a writev of a header alone must cost nothing more; what
 * that cannot see is in proof.h). Arrays longer than this pass through (nginx and Apache
 * write at most 64 iovecs). */
#define VEC_MAX 128

/* What a vectored call passed: its iovecs, or a msghdr holding them. */
struct vec_args {
	const struct iovec *iov;
	int cnt;
	const struct msghdr *msg;
};

/* The body of the redirect, with t busy and the cancellation cleanup in place. */
static bool redirect_copied(struct asf_thread *t, int fd, uint32_t word, const struct vec_args *a,
			    int flags, ssize_t *result)
{
	const struct iovec *piov = a->iov;
	int cnt = a->cnt;
	if (a->msg) {
		struct msghdr m;
		if (!asf_read_prog_cached(t, &m, a->msg, sizeof m))
			return false; /* the real call reports EFAULT */
		/* Only plain stream sends: an address or ancillary data (SCM_RIGHTS...) passes. */
		asf_why(m.msg_name || m.msg_controllen ? ASF_WHY_FLAGS : ASF_WHY_OTHER);
		if (m.msg_name || m.msg_controllen || !m.msg_iov || m.msg_iovlen == 0 ||
		    m.msg_iovlen > VEC_MAX)
			return false;
		piov = m.msg_iov;
		cnt = (int)m.msg_iovlen;
	}
	struct iovec iov[VEC_MAX];
	if (!asf_read_prog_cached(t, iov, piov, (size_t)cnt * sizeof *iov))
		return false;
	size_t total = 0;
	for (int i = 0; i < cnt; i++) {
		if (iov[i].iov_len > (size_t)SSIZE_MAX - total)
			return false; /* the real call reports EINVAL */
		total += iov[i].iov_len;
	}
	asf_why(ASF_WHY_SMALL);
	if (total < asf_cfg.min_bytes)
		return false;
	if (total > 0x7ffff000ul) /* the kernel's writev stops there (MAX_RW_COUNT) */
		return false;
	asf_why(ASF_WHY_OTHER);
	return redirect_vec(t, fd, word, iov, cnt, total, flags, result);
}

static bool try_redirect(int fd, uint32_t word, const struct vec_args *a, int flags,
			 ssize_t *result)
{
	if ((word & ASF_FD_KIND_MASK) != ASF_FD_STREAM || (flags & ~MSG_NOSIGNAL))
		return false;
	asf_why(ASF_WHY_OTHER);
	struct asf_thread *t = asf_thread_get(true);
	if (!t || t->busy)
		return false;
	asf_activation_enter(t);
	t->act_frame = (uintptr_t)__builtin_frame_address(0);
	int saved_errno = errno;
	bool done;
	pthread_cleanup_push(asf_activation_abandon_cb, t);
	done = redirect_copied(t, fd, word, a, flags, result);
	pthread_cleanup_pop(0);
	asf_activation_leave(t);
	if (!done || *result >= 0)
		errno = saved_errno;
	return done;
}

bool asf_try_redirect_vec(int fd, uint32_t word, const struct iovec *iov, int cnt, int flags,
			  ssize_t *result)
{
	asf_why(ASF_WHY_FLAGS); /* (a TLS socket: counted as such by the caller) */
	if (!iov || cnt <= 0 || cnt > VEC_MAX)
		return false;
	struct vec_args a = { iov, cnt, NULL };
	return try_redirect(fd, word, &a, flags, result);
}

bool asf_try_redirect_msg(int fd, uint32_t word, const struct msghdr *msg, int flags,
			  ssize_t *result)
{
	asf_why(ASF_WHY_FLAGS);
	if (!msg)
		return false;
	struct vec_args a = { NULL, 0, msg };
	return try_redirect(fd, word, &a, flags, result);
}
