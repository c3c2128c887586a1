/* fd lifecycle: every call that ends or re-points an fd number updates the fd table, so a
 * reused number is classified afresh. (A record naming a stale fd is also caught later:
 * the redirect engine checks the file's identity with fstat before it sends.) */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fdtable.h"
#include "real.h"

static void forget(int fd)
{
	asf_fd_forget(fd);
}

ASF_EXPORT int close(int fd)
{
	int r = real_close(fd);
	forget(fd); /* even on error: EINTR/EIO still close the fd on Linux */
	return r;
}

ASF_EXPORT int __close(int fd)
{
	int r = real_close(fd);
	forget(fd);
	return r;
}

ASF_EXPORT int fclose(FILE *stream)
{
	int fd = stream ? fileno(stream) : -1;
	int r = ASF_REAL_FN(fclose) ? asf_real.fclose(stream) : EOF;
	if (fd >= 0)
		forget(fd);
	return r;
}

ASF_EXPORT int dup(int oldfd)
{
	int r = ASF_REAL_FN(dup) ? asf_real.dup(oldfd) : (int)syscall(SYS_dup, oldfd);
	if (r >= 0)
		asf_fd_copy(oldfd, r);
	return r;
}

ASF_EXPORT int dup2(int oldfd, int newfd)
{
	int r = ASF_REAL_FN(dup2) ? asf_real.dup2(oldfd, newfd)
				  : (int)syscall(SYS_dup3, oldfd, newfd, 0);
	if (r >= 0)
		asf_fd_copy(oldfd, r);
	return r;
}

ASF_EXPORT int dup3(int oldfd, int newfd, int flags)
{
	int r = ASF_REAL_FN(dup3) ? asf_real.dup3(oldfd, newfd, flags)
				  : (int)syscall(SYS_dup3, oldfd, newfd, flags);
	if (r >= 0)
		asf_fd_copy(oldfd, r);
	return r;
}

/* fcntl is variadic; every command takes at most one argument, passed on as a word
 * (this is how glibc itself forwards it). */
static int after_fcntl(int fd, int cmd, int r)
{
	if (r < 0)
		return r;
	if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)
		asf_fd_copy(fd, r);
	else if (cmd == F_SETFL)
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

ASF_EXPORT int close_range(unsigned first, unsigned last, int flags)
{
	int r = ASF_REAL_FN(close_range) ? asf_real.close_range(first, last, flags)
					 : (int)syscall(SYS_close_range, first, last, flags);
	if (r == 0 && !(flags & CLOSE_RANGE_CLOEXEC))
		asf_fd_forget_range(first, last);
	return r;
}

ASF_EXPORT void closefrom(int lowfd)
{
	if (ASF_REAL_FN(closefrom))
		asf_real.closefrom(lowfd);
	else
		(void)syscall(SYS_close_range, (unsigned)lowfd, ~0u, 0);
	if (lowfd >= 0)
		asf_fd_forget_range((unsigned)lowfd, ~0u);
}
