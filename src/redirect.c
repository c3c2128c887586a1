/* The redirect engine for one buffer: the tracking entry point after a file read, and
 * the sendfile of a proven range, with partial writes, fallback to the real call and exact
 * SIGPIPE and socket-error behaviour (see redirect.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <time.h>
#include <sys/sendfile.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/stat.h>

#include "config.h"
#include "content.h"
#include "fdtable.h"
#include "fdclass.h"
#include "log.h"
#include "real.h"
#include "records.h"
#include "redirect.h"
#include "proof.h"
#include "pressure.h"
#include "refusals.h"
#include "sendwin.h"
#include "source.h"
#include "stats.h"

void asf_after_file_read(int fd, const void *buf, size_t n, off_t off, uint64_t gen)
{
	struct asf_thread *t = asf_thread_get(true);
	if (!t || t->busy)
		return;
	asf_activation_enter(t);
	t->act_frame = (uintptr_t)__builtin_frame_address(0);
	/* The identity is loaded between the two generation reads: if no close/dup2 re-pointed
	 * fd meanwhile, the bytes came from this file (a claim only: the write proves it). */
	uint64_t dev, ino;
	bool known = off >= 0 && !(gen & 1) && asf_fd_identity(fd, &dev, &ino) &&
		     asf_fd_gen(fd) == gen;
	if (!known)
		asf_record_forget_range(t, buf, n);
	else
		asf_record_add(t, fd, dev, ino, off, buf, n);
	/* A read big enough to be written alone may be written from a copy (runtimes): its
	 * probe (reads between 4 and 8 KiB are written together by writev, records.h). */
	if (known && n >= asf_cfg.min_bytes) {
		struct asf_file_ref f = { fd, dev, ino };
		asf_content_note(t, &f, off, buf, n);
	}
	asf_why_read(known ? ASF_WHY_OTHER : ASF_WHY_UNTRACKED);
	asf_activation_leave(t);
}

/* The real call the program made, for the part sendfile did not send. */
static ssize_t real_call(enum asf_call call, int fd, const void *buf, size_t n, int flags)
{
	return call == ASF_CALL_WRITE ? real_write(fd, buf, n) : real_send(fd, buf, n, flags);
}

/* Errors that mean "the socket said no": reported to the program as the real call would.
 * Not EBADF: it may mean the source fd is not open for reading (the number now names the
 * same file opened O_WRONLY or O_PATH); the real call then tells the truth either way. */
static bool socket_side_error(int err)
{
	switch (err) {
	case EAGAIN: case EINTR: case EPIPE: case ECONNRESET: case ENOTCONN: case ETIMEDOUT:
	case ECONNABORTED: case EHOSTUNREACH: case ENETUNREACH: case ENETDOWN: case ENETRESET:
	case ECONNREFUSED: case EHOSTDOWN: case EDESTADDRREQ: case ESHUTDOWN:
		return true;
	default:
		return false;
	}
}

/* After a short sendfile: did the file end before `off + left` (so the rest must come from
 * the buffer), rather than the socket taking less (signal, full non-blocking buffer)? */
static bool file_ended(int src, off_t off, size_t left)
{
	struct stat st;
	return fstat(src, &st) != 0 || (uint64_t)off + left > (uint64_t)st.st_size;
}

/* A sendfile cut short by a reset consumes the socket's error inside the kernel's splice
 * loop, where a plain write() would have left ECONNRESET for the program's next call. So
 * after a short sendfile, if the TCP connection is now closed: an error still pending
 * (reading SO_ERROR takes it: we owe it back), or none (we owe ECONNRESET). A connection
 * still open (the usual short sendfile: a full non-blocking socket) costs one getsockopt. */
static void owe_error_if_reset(int sock)
{
	int saved_errno = errno, soerr = 0;
	socklen_t len = sizeof soerr;
	struct tcp_info ti;
	socklen_t tlen = sizeof ti;
	if (getsockopt(sock, IPPROTO_TCP, TCP_INFO, &ti, &tlen) == 0 && ti.tcpi_state == TCP_CLOSE) {
		if (getsockopt(sock, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
			soerr = 0;
		asf_fd_owe_error(sock, soerr != 0 ? soerr : ECONNRESET);
	}
	errno = saved_errno;
}

/* SIGPIPE exactly as the real call: write() raises it only when it fails with EPIPE having
 * sent nothing; send(MSG_NOSIGNAL) never. sendfile has no flags, so SIGPIPE is blocked
 * around any sendfile call that must not raise it (every call under MSG_NOSIGNAL, every call
 * after bytes have moved otherwise) and one it raised is drained before the mask is
 * restored. */
struct pipe_guard {
	bool blocked, was_pending, raised;
	sigset_t set, old;
	struct asf_thread *t; /* whose open_guard this is while blocked */
};

static void guard_block(struct pipe_guard *g)
{
	if (g->blocked)
		return;
	if (g->t)
		g->t->open_guard = g;
	sigemptyset(&g->set);
	sigaddset(&g->set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &g->set, &g->old);
	sigset_t pending;
	g->was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE);
	g->blocked = true;
}

static void guard_release(struct pipe_guard *g)
{
	if (!g->blocked)
		return;
	int saved_errno = errno;
	if (g->raised && !g->was_pending) {
		struct timespec zero = { 0, 0 };
		(void)sigtimedwait(&g->set, NULL, &zero);
	}
	pthread_sigmask(SIG_SETMASK, &g->old, NULL);
	g->blocked = false;
	if (g->t && g->t->open_guard == g)
		g->t->open_guard = NULL;
	errno = saved_errno;
}

void asf_activation_abandon(struct asf_thread *t)
{
	int saved_errno = errno;
	if (t->open_src)
		asf_source_close(t->open_src);
	asf_sendwin_disarm(t);
	struct pipe_guard *g = t->open_guard;
	if (g && g->blocked)
		pthread_sigmask(SIG_SETMASK, &g->old, NULL);
	if (g)
		g->blocked = false;
	t->open_guard = NULL;
	asf_activation_leave(t);
	errno = saved_errno;
}

void asf_activation_abandon_cb(void *arg)
{
	asf_activation_abandon(arg);
}

/* What the loop below sends: n bytes of the program's memory, in iovecs (one for write and
 * send), which the view holds from file offset off on. */
struct range {
	const struct iovec *iov;
	int cnt;
	size_t n;
	enum asf_call call;
};

/* The real call for bytes [sent, n) of the range: the program's own bytes, by its own call
 * (a vectored range by sendmsg, as its writev/sendmsg would). */
static ssize_t real_rest(int sock, const struct range *r, size_t sent, int flags)
{
	if (r->cnt == 1)
		return real_call(r->call, sock, (const char *)r->iov[0].iov_base + sent, r->n - sent,
				 flags);
	struct iovec rest[ASF_RUN_MAX];
	int k = 0;
	for (int i = 0; i < r->cnt && k < ASF_RUN_MAX; i++) {
		size_t len = r->iov[i].iov_len;
		if (sent >= len) {
			sent -= len;
			continue;
		}
		rest[k].iov_base = (char *)r->iov[i].iov_base + sent;
		rest[k++].iov_len = len - sent;
		sent = 0;
	}
	struct msghdr m = { .msg_iov = rest, .msg_iovlen = (size_t)k };
	return ASF_REAL_FN(sendmsg) ? asf_real.sendmsg(sock, &m, flags)
				    : syscall(SYS_sendmsg, sock, &m, flags);
}

/* The most a single write moves on Linux (MAX_RW_COUNT): the program's call returns at most
 * this, and so does ours. */
#define RW_MAX 0x7ffff000ul

/* A socket's send timeout (SO_SNDTIMEO), if it has one (the fd table says so), in us. */
static uint64_t send_timeout_us(int sock)
{
	if (!(asf_fd_word(sock) & ASF_FDF_SNDTIMEO))
		return 0;
	struct timeval tv = { 0, 0 };
	socklen_t len = sizeof tv;
	int saved_errno = errno;
	if (getsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &tv, &len) != 0)
		tv.tv_sec = tv.tv_usec = 0;
	errno = saved_errno;
	return (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
}

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void set_send_timeout(int sock, uint64_t us)
{
	struct timeval tv = { (time_t)(us / 1000000u), (suseconds_t)(us % 1000000u) };
	if (us && tv.tv_sec == 0 && tv.tv_usec == 0)
		tv.tv_usec = 1;
	int saved_errno = errno;
	(void)(ASF_REAL_FN(setsockopt) ? asf_real.setsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv)
				       : (int)syscall(SYS_setsockopt, sock, SOL_SOCKET, SO_SNDTIMEO, &tv,
						      sizeof tv));
	errno = saved_errno;
}

/* sendfile gives the socket's send timeout anew to each 64 KiB it moves (one internal
 * pipe's worth), where write() gives it once to the whole call: on a socket with a timeout
 * the range goes in 64 KiB calls, each with the timeout set to what is left of the call's
 * (and put back after), so the call ends when the program's timeout says. */
#define TIMEOUT_PIECE (64u * 1024u)

static ssize_t send_range(int sock, struct asf_source *s, off_t off, const struct range *r,
			  int flags, size_t already, bool *used_fallback)
{
	struct pipe_guard g = { .t = s->t };
	size_t n = r->n, sent = 0;
	ssize_t result;
	uint64_t timeout = send_timeout_us(sock), deadline = timeout ? now_us() + timeout : 0;
	bool timeout_changed = false;
	asf_why(ASF_WHY_FILE_CHANGED); /* the reason of a fallback, unless sendfile refuses */
	/* The whole range is proven first, then sent: no program code (a signal handler that
	 * changes the buffer, say) can make two parts of one write differ, and the socket's
	 * own deadline (SO_SNDTIMEO) and signals end the call as they end write(). (A vectored
	 * run was proven whole when it was opened.) */
	if (r->cnt == 1 && !asf_source_prove(s, r->iov[0].iov_base, n))
		goto fallback;
	if ((flags & MSG_NOSIGNAL) || already > 0)
		guard_block(&g);
	while (sent < n) {
		size_t want = n - sent;
		if (timeout) {
			want = want < TIMEOUT_PIECE ? want : TIMEOUT_PIECE;
			if (sent > 0) {
				uint64_t t = now_us();
				if (t >= deadline) /* the program's timeout ended the call */
					break;
				set_send_timeout(sock, deadline - t);
				timeout_changed = true;
			}
		}
		if (sent > 0)
			guard_block(&g); /* no SIGPIPE once bytes have moved */
		bool changed;
		ssize_t k = asf_sendwin_sendfile(s->t, sock, &s->gen, &off, want, &changed);
		if (changed) {
			/* The program re-pointed the descriptor since the proof (another thread, a
			 * handler): nothing more is sent from it; the buffer goes as the program
			 * asked. */
			asf_why(ASF_WHY_OTHER);
			goto fallback;
		}
		if (k > 0) {
			sent += (size_t)k;
			ASF_STAT_ADD(redirected_bytes, k);
			if ((size_t)k == want)
				continue;
			if (file_ended(s->gen.fd, off, n - sent))
				goto fallback; /* the file ended under us */
			owe_error_if_reset(sock);
			break; /* the socket took less: a partial write */
		}
		if (k == 0)
			goto fallback; /* the file ended under us */
		int err = errno;
		if (err == EPIPE && g.blocked)
			g.raised = true;
		if (socket_side_error(err)) {
			/* After bytes moved, the real call would return that count and leave a
			 * socket error (ECONNRESET...) pending for the next call; this sendfile
			 * consumed it, so the library owes it. (EPIPE, EAGAIN, EINTR are states,
			 * not consumed errors.) */
			if (already + sent > 0 && err != EAGAIN && err != EINTR && err != EPIPE)
				asf_fd_owe_error(sock, err);
			if (sent > 0)
				break;
			result = -1;
			errno = err;
			goto out;
		}
		if (err == EINVAL || err == ENOSYS || err == EOPNOTSUPP) {
			asf_fd_or_flags(s->gen.fd, ASF_FDF_NO_SENDFILE);
			asf_refusal_add(s->dev, s->ino);
		}
		asf_why(ASF_WHY_NOT_ELIGIBLE);
		asf_log(ASF_LOG_DEBUG, "sendfile(%d <- %d) failed: errno %d; sending the buffer",
			sock, s->gen.fd, err);
		goto fallback;
	}
	result = (ssize_t)sent;
	goto out;

fallback:
	/* The rest goes out as the program asked: its own bytes, by its own call. */
	*used_fallback = true;
	if (asf_why_now == ASF_WHY_FILE_CHANGED) /* (the file ended under us) */
		ASF_STAT_ADD(source_changed, 1);
	if (sent > 0)
		guard_block(&g);
	{
		ssize_t k2 = real_rest(sock, r, sent, flags);
		if (k2 > 0)
			asf_stat_pass((uint64_t)k2);
		if (k2 < 0 && errno == EPIPE && g.blocked)
			g.raised = true;
		result = k2 >= 0 ? (ssize_t)sent + k2 : (sent > 0 ? (ssize_t)sent : -1);
	}
out:
	if (timeout_changed)
		set_send_timeout(sock, timeout);
	guard_release(&g);
	return result;
}

ssize_t asf_send_file_range(int sock, struct asf_source *s, const void *buf, size_t n,
			    int flags, enum asf_call call, size_t already, bool *used_fallback)
{
	if (n > RW_MAX)
		n = RW_MAX;
	struct iovec one = { (void *)buf, n };
	struct range r = { &one, 1, n, call };
	return send_range(sock, s, asf_source_offset(s, buf), &r, flags, already, used_fallback);
}

ssize_t asf_send_file_iov(int sock, struct asf_source *s, const struct iovec *iov, int cnt,
			  int flags, size_t already, bool *used_fallback)
{
	size_t n = 0;
	for (int i = 0; i < cnt; i++)
		n += iov[i].iov_len;
	if (n > RW_MAX) /* (the run's caller caps the whole call: this does not happen) */
		n = RW_MAX;
	struct range r = { iov, cnt, n, ASF_CALL_SEND };
	return send_range(sock, s, asf_source_offset(s, iov[0].iov_base), &r, flags, already,
			  used_fallback);
}

unsigned asf_redirect_how(int fd, uint32_t word, size_t n)
{
	return asf_pressure_backlog(fd, word, n) ? ASF_SRC_COMPARE : 0;
}

void asf_note_redirect(bool used_fallback, bool sent_any)
{
	if (used_fallback)
		ASF_STAT_ADD(fallbacks, 1);
	else if (sent_any)
		ASF_STAT_ADD(redirected_calls, 1);
}

/* The body of asf_try_redirect, with t busy and the cancellation cleanup in place. */
static bool redirect_one(struct asf_thread *t, int fd, uint32_t word, const void *buf, size_t n,
			 int flags, enum asf_call call, ssize_t *result)
{
	struct asf_source src;
	unsigned how = asf_redirect_how(fd, word, n) | ASF_SRC_CONTENT | ASF_SRC_SPLIT;
	if (!asf_source_open_as(t, buf, n, how, &src))
		return false;
	/* A header of the program's own, then the file's bytes: the two parts as a vectored
	 * write would send them (the plain part with MSG_MORE, exact partial counts). */
	if (src.skip > 0)
		return asf_redirect_split(t, fd, word, buf, n, flags, how, &src, result);
	/* The first bytes this socket sends: TLS? (Read under the guard: a shared mapping the
	 * kernel vouched for was not compared, and its file may shrink.) */
	unsigned char head[3];
	size_t hn = n < sizeof head ? n : sizeof head;
	if (!(word & ASF_FDF_OUT_SEEN) &&
	    (!asf_read_prog(t, head, buf, hn) ||
	     (asf_fd_sniff(fd, ASF_FDF_OUT_SEEN, head, hn) & ASF_FD_KIND_MASK) != ASF_FD_STREAM)) {
		asf_why(ASF_WHY_TLS);
		asf_source_close(&src);
		return false;
	}
	bool used_fallback = false;
	ssize_t k = asf_send_file_range(fd, &src, buf, n, flags, call, 0, &used_fallback);
	int err = errno;
	asf_source_close(&src);
	asf_note_redirect(used_fallback, k > 0);
	*result = k;
	errno = err;
	return true;
}

bool asf_try_redirect(int fd, uint32_t word, const void *buf, size_t n, int flags,
		      enum asf_call call, ssize_t *result)
{
	asf_why(ASF_WHY_SMALL);
	if ((word & ASF_FD_KIND_MASK) != ASF_FD_STREAM || n < asf_cfg.min_bytes || n == 0)
		return false;
	/* sendfile has no flags: only plain calls and MSG_NOSIGNAL (emulated below). */
	asf_why(ASF_WHY_FLAGS);
	if (flags & ~MSG_NOSIGNAL)
		return false;
	asf_why(ASF_WHY_OTHER);
	/* The writing thread needs a state even if it never read: its busy flag, and the
	 * records of the thread that did the read are found through the registry. */
	struct asf_thread *t = asf_thread_get(true);
	if (!t || t->busy)
		return false;
	asf_activation_enter(t); /* before touching the records: a signal handler may write too */
	t->act_frame = (uintptr_t)__builtin_frame_address(0);
	int saved_errno = errno;
	bool done;
	pthread_cleanup_push(asf_activation_abandon_cb, t);
	done = redirect_one(t, fd, word, buf, n, flags, call, result);
	pthread_cleanup_pop(0);
	asf_activation_leave(t);
	if (!done || *result >= 0)
		errno = saved_errno;
	return done;
}
