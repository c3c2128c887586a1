/* stdio: fread and fwrite (and their unlocked and fortified forms). glibc's stdio calls its
 * internal __read/__write, which no preload sees, so the streams are wrapped themselves.
 *
 * fread of a file: the bytes returned start at ftello() taken before the call (the stream's
 * logical position, not the fd's), confirmed by ftello() after; each becomes a record like
 * a read(). (Bytes served from the stream's buffer may be older than the file: the write's
 * comparison with the file, source.c, is what decides.)
 *
 * fwrite to a stream socket: the bytes leave in the order glibc's _IO_new_file_xsputn
 * would send them, relative to the program's other writes too: what the buffer held is
 * flushed, the part of this call glibc would write now goes by sendfile (looping like
 * glibc's write loop, setting the error indicator where it would), the remainder is
 * buffered. Line-buffered, wide, appending or positioned streams pass through. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "fdclass.h"
#include "pressure.h"
#include "real.h"
#include "records.h"
#include "redirect.h"
#include "source.h"

/* <stdio.h> may define these as macros (inline fast paths); we define the functions. */
#undef fread_unlocked
#undef fwrite_unlocked

/* Flag bits of glibc's FILE._flags (libio.h; stable ABI). */
#define GLIBC_IO_NO_WRITES 0x0008
#define GLIBC_IO_ERR_SEEN 0x0020
#define GLIBC_IO_IN_BACKUP 0x0100 /* reading ungetc()'s pushed-back bytes, not the file's */
#define GLIBC_IO_LINE_BUF 0x0200
#define GLIBC_IO_IS_APPENDING 0x1000

static size_t real_fread_unlocked(void *p, size_t size, size_t n, FILE *fp)
{
	return ASF_REAL_FN(fread_unl) ? asf_real.fread_unl(p, size, n, fp) : 0;
}

static size_t real_fwrite_unlocked(const void *p, size_t size, size_t n, FILE *fp)
{
	return ASF_REAL_FN(fwrite_unl) ? asf_real.fwrite_unl(p, size, n, fp) : 0;
}

static bool bytes_of(size_t size, size_t n, size_t *out)
{
	return !__builtin_mul_overflow(size, n, out);
}

/* ---- fread ---------------------------------------------------------------------------- */

/* fread with the stream locked by the caller. */
static size_t fread_tracked(void *ptr, size_t size, size_t n, FILE *fp)
{
	size_t want;
	int fd = fp->_fileno;
	uint32_t w = asf_fd_word(fd);
	if (ASF_LIKELY(w == ASF_FD_OTHER) || !asf_active() || !bytes_of(size, n, &want) ||
	    want < asf_track_min() || !__atomic_load_n(&asf_sockets_seen, __ATOMIC_RELAXED))
		return real_fread_unlocked(ptr, size, n, fp);
	int saved_errno = errno;
	uint64_t gen = asf_fd_gen(fd);
	if ((w & ASF_FD_KIND_MASK) == ASF_FD_UNKNOWN)
		w = asf_fd_classify(fd);
	struct asf_thread *t = asf_thread_get(true);
	if ((w & ASF_FD_KIND_MASK) != ASF_FD_FILE || (w & ASF_FDF_NO_SENDFILE) || !t || t->busy ||
	    (fp->_flags & GLIBC_IO_IN_BACKUP)) {
		errno = saved_errno;
		return real_fread_unlocked(ptr, size, n, fp);
	}
	off_t before = ftello(fp);
	errno = saved_errno;
	size_t got = real_fread_unlocked(ptr, size, n, fp);
	if (got > 0) {
		int err = errno;
		off_t after = ftello(fp);
		off_t off = (before >= 0 && after == before + (off_t)(got * size)) ? before : -1;
		asf_after_file_read(fd, ptr, got * size, off, gen);
		errno = err;
	}
	return got;
}

ASF_EXPORT size_t fread_unlocked(void *ptr, size_t size, size_t n, FILE *fp)
{
	return fread_tracked(ptr, size, n, fp);
}

ASF_EXPORT size_t fread(void *ptr, size_t size, size_t n, FILE *fp)
{
	flockfile(fp);
	size_t r = fread_tracked(ptr, size, n, fp);
	funlockfile(fp);
	return r;
}

ASF_EXPORT size_t __fread_chk(void *ptr, size_t ptrlen, size_t size, size_t n, FILE *fp)
{
	size_t want;
	if ((!bytes_of(size, n, &want) || want > ptrlen) && ASF_REAL_FN(fread_chk))
		return asf_real.fread_chk(ptr, ptrlen, size, n, fp); /* reports the overflow */
	return fread(ptr, size, n, fp);
}

ASF_EXPORT size_t __fread_unlocked_chk(void *ptr, size_t ptrlen, size_t size, size_t n, FILE *fp)
{
	size_t want;
	if ((!bytes_of(size, n, &want) || want > ptrlen) && ASF_REAL_FN(fread_unlocked_chk))
		return asf_real.fread_unlocked_chk(ptr, ptrlen, size, n, fp);
	return fread_tracked(ptr, size, n, fp);
}

/* ---- fwrite --------------------------------------------------------------------------- */

/* How glibc would handle an n-byte fwrite: the first *fill bytes fill the buffer, which is
 * then flushed; *direct more bytes are written straight from the caller's memory (whole
 * blocks); the rest is buffered. False when it would only buffer, or the stream is of a
 * kind whose path we do not reproduce. */
static bool write_plan(const FILE *fp, size_t n, size_t *fill, size_t *direct)
{
	if ((fp->_flags & (GLIBC_IO_LINE_BUF | GLIBC_IO_IS_APPENDING | GLIBC_IO_NO_WRITES)) ||
	    fp->_mode > 0 || fp->_offset >= 0 || !fp->_IO_buf_base)
		return false;
	size_t space = fp->_IO_write_end > fp->_IO_write_ptr
			       ? (size_t)(fp->_IO_write_end - fp->_IO_write_ptr)
			       : 0;
	if (n <= space)
		return false; /* it all fits in the buffer */
	size_t to_do = n - space;
	size_t block = (size_t)(fp->_IO_buf_end - fp->_IO_buf_base);
	*fill = space;
	*direct = to_do - (block >= 128 ? to_do % block : 0);
	return true;
}

/* The part of fwrite_tracked that holds a source: true with *done set (fwrite's return
 * value) when it did the call; false when the real fwrite must. */
static bool fwrite_redirect(struct asf_thread *t, const void *ptr, size_t size, size_t n,
			    FILE *fp, size_t fill, size_t direct, size_t total, size_t *done)
{
	int fd = fp->_fileno, saved_errno = errno;
	struct asf_source src;
	const char *p = ptr;
	size_t now = fill + direct;
	if (!asf_source_open_as(t, p, now, ASF_SRC_CONTENT | asf_redirect_how(fd, asf_fd_word(fd), now),
				&src))
		return false;
	/* glibc would fill the buffer and flush it; a failed flush loses both, and it reports
	 * the fill bytes as written. */
	if (fflush_unlocked(fp) == EOF) {
		asf_source_close(&src);
		*done = fill / size;
		return true;
	}
	/* This call's part, looping as glibc's write loop does. */
	size_t sent = 0;
	bool fb_any = false;
	while (sent < now) {
		bool fb = false;
		ssize_t k = asf_send_file_range(fd, &src, p + sent, now - sent, 0, ASF_CALL_WRITE, 0,
						&fb);
		fb_any |= fb;
		if (k < 0) {
			fp->_flags |= GLIBC_IO_ERR_SEEN;
			break;
		}
		sent += (size_t)k;
	}
	asf_source_close(&src);
	asf_note_redirect(fb_any, sent > 0);
	asf_pressure_moved(fd, now, (ssize_t)sent, errno);
	if (sent < now) { /* glibc counts the fill bytes even when their flush failed */
		*done = (sent > fill ? sent : fill) / size;
		return true;
	}
	/* The rest into the (now empty) buffer. */
	size_t out = now, tail = total - now;
	if (tail > 0)
		out += real_fwrite_unlocked(p + now, 1, tail, fp);
	errno = saved_errno;
	*done = out == total ? n : out / size;
	return true;
}

/* fwrite with the stream locked by the caller. The bytes glibc would put on the wire now
 * (what the buffer held, then fill + direct bytes of this call) leave in the same order:
 * the buffer by fflush, this call's part by sendfile; the rest is buffered as glibc would.
 * Return values and the error indicator follow glibc's, failures included. */
static size_t fwrite_tracked(const void *ptr, size_t size, size_t n, FILE *fp)
{
	size_t total, fill, direct;
	int fd = fp->_fileno;
	uint32_t w = asf_fd_word(fd);
	if (ASF_LIKELY(w == ASF_FD_OTHER) || !asf_active() || !bytes_of(size, n, &total) ||
	    total < asf_cfg.min_bytes)
		return real_fwrite_unlocked(ptr, size, n, fp);
	int saved_errno = errno;
	if ((w & ASF_FD_KIND_MASK) == ASF_FD_UNKNOWN)
		w = asf_fd_classify(fd);
	/* The socket's first bytes, if we have not seen them: stdio writes through glibc's
	 * internal __write, so they are what the buffer holds now, else this call's bytes
	 * (which fwrite reads anyway). */
	if ((w & ASF_FD_KIND_MASK) == ASF_FD_STREAM && !(w & ASF_FDF_OUT_SEEN)) {
		bool pending = fp->_IO_write_ptr > fp->_IO_write_base;
		w = asf_fd_sniff(fd, ASF_FDF_OUT_SEEN, pending ? fp->_IO_write_base : ptr,
				 pending ? (size_t)(fp->_IO_write_ptr - fp->_IO_write_base) : total);
	}
	struct asf_thread *t = NULL;
	if ((w & ASF_FD_KIND_MASK) != ASF_FD_STREAM ||
	    !write_plan(fp, total, &fill, &direct) ||
	    fill + direct < asf_cfg.min_bytes || !(t = asf_thread_get(true)) || t->busy) {
		errno = saved_errno;
		return real_fwrite_unlocked(ptr, size, n, fp);
	}
	asf_activation_enter(t);
	t->act_frame = (uintptr_t)__builtin_frame_address(0);
	size_t done = 0;
	bool handled;
	pthread_cleanup_push(asf_activation_abandon_cb, t);
	handled = fwrite_redirect(t, ptr, size, n, fp, fill, direct, total, &done);
	pthread_cleanup_pop(0);
	asf_activation_leave(t);
	if (!handled) {
		errno = saved_errno;
		return real_fwrite_unlocked(ptr, size, n, fp);
	}
	return done;
}

ASF_EXPORT size_t fwrite_unlocked(const void *ptr, size_t size, size_t n, FILE *fp)
{
	return fwrite_tracked(ptr, size, n, fp);
}

ASF_EXPORT size_t fwrite(const void *ptr, size_t size, size_t n, FILE *fp)
{
	flockfile(fp);
	size_t r = fwrite_tracked(ptr, size, n, fp);
	funlockfile(fp);
	return r;
}
