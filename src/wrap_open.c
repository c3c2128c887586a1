/* Calls that open files hand out fd numbers: whatever the fd table said of a number they
 * return is forgotten, so a number closed behind our back (libuv closes with a raw
 * syscall) is classified afresh instead of being taken for the file it named before.
 * (Correctness never depended on this: the redirect engine checks a file's identity
 * before it sends. This keeps such reuse from costing redirects.) */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "config.h"
#include "fdtable.h"
#include "real.h"
#include "sendwin.h"

/* open's third argument exists only with O_CREAT or O_TMPFILE; read it, in the variadic
 * wrapper itself, into `mode`. */
#define MODE_ARG(flags, mode)                                                               \
	mode_t mode = 0;                                                                    \
	if (((flags) & O_CREAT) || ((flags) & O_TMPFILE) == O_TMPFILE) {                    \
		va_list ap_;                                                                \
		va_start(ap_, flags);                                                       \
		mode = (mode_t)va_arg(ap_, int);                                            \
		va_end(ap_);                                                                \
	}

/* A file opened for reading without O_DIRECT starts at offset 0 with flags we know: its
 * first read needs no lseek to prove where it started, nor an fcntl to classify it
 * (ASF_FDF_FRESH; a seek, an F_SETFL or a dup before that read takes the flag away). */
static int opened(int fd, int flags)
{
	if (fd < 0 || asf_vfork_child)
		return fd;
	/* (Disabled, or before the constructor: only forget, which never allocates.) */
	if (asf_active() && (flags & O_ACCMODE) != O_WRONLY && !(flags & (O_PATH | O_DIRECT)))
		asf_fd_set(fd, ASF_FD_UNKNOWN | ASF_FDF_FRESH, 0, 0);
	else
		asf_fd_forget(fd);
	asf_fd_fresh_number(fd);
	return fd;
}

static int do_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	int (*fn)(int, const char *, int, ...) = ASF_REAL_FN(openat);
	return opened(fn ? fn(dirfd, path, flags, mode)
			 : (int)syscall(SYS_openat, dirfd, path, flags | O_LARGEFILE, mode),
		      flags);
}

ASF_EXPORT int open(const char *path, int flags, ...)
{
	MODE_ARG(flags, mode);
	return do_openat(AT_FDCWD, path, flags, mode);
}

ASF_EXPORT int open64(const char *path, int flags, ...)
{
	MODE_ARG(flags, mode);
	return do_openat(AT_FDCWD, path, flags, mode);
}

ASF_EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
	MODE_ARG(flags, mode);
	return do_openat(dirfd, path, flags, mode);
}

ASF_EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
	MODE_ARG(flags, mode);
	return do_openat(dirfd, path, flags, mode);
}

/* The fortified forms (called when the mode argument is provably absent). */
ASF_EXPORT int __open_2(const char *path, int flags)
{
	if (ASF_REAL_FN(open_2))
		return opened(asf_real.open_2(path, flags), flags); /* reports a missing mode as glibc does */
	return do_openat(AT_FDCWD, path, flags, 0);
}

ASF_EXPORT int __open64_2(const char *path, int flags)
{
	return __open_2(path, flags);
}

ASF_EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
	if (ASF_REAL_FN(openat_2))
		return opened(asf_real.openat_2(dirfd, path, flags), flags);
	return do_openat(dirfd, path, flags, 0);
}

ASF_EXPORT int __openat64_2(int dirfd, const char *path, int flags)
{
	return __openat_2(dirfd, path, flags);
}

ASF_EXPORT int creat(const char *path, mode_t mode)
{
	return do_openat(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

ASF_EXPORT int creat64(const char *path, mode_t mode)
{
	return do_openat(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

/* stdio opens with glibc's internal __open, which no preload sees (and may seek: "a+"). */
static FILE *opened_stream(FILE *fp)
{
	if (fp && !asf_vfork_child) {
		asf_fd_forget(fileno(fp));
		asf_fd_fresh_number(fileno(fp));
	}
	return fp;
}

ASF_EXPORT FILE *fopen(const char *path, const char *mode)
{
	return opened_stream(ASF_REAL_FN(fopen) ? asf_real.fopen(path, mode) : NULL);
}

ASF_EXPORT FILE *fopen64(const char *path, const char *mode)
{
	return fopen(path, mode);
}

ASF_EXPORT FILE *freopen(const char *path, const char *mode, FILE *stream)
{
	int old = stream && !asf_vfork_child ? fileno(stream) : -1;
	uint32_t token = 0;
	if (old >= 0) {
		token = asf_fd_change_begin(old);
		asf_sendwin_wait(old);
		asf_fd_forget(old);
	}
	FILE *fp = ASF_REAL_FN(freopen) ? asf_real.freopen(path, mode, stream) : NULL;
	if (old >= 0)
		asf_fd_change_end(old, token);
	return opened_stream(fp);
}

ASF_EXPORT FILE *freopen64(const char *path, const char *mode, FILE *stream)
{
	return freopen(path, mode, stream);
}
