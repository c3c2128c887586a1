/* The real libc functions behind our wrappers, found with dlsym(RTLD_NEXT).
 *
 * Binding happens once (in the constructor, or at the first wrapped call if that comes
 * earlier). If a call arrives while binding is in progress on the same thread (dlsym may
 * allocate, and an allocator may read files), the real_* helpers issue the raw system call
 * instead, so there is no recursion and no deadlock. */
#ifndef ASF_REAL_H
#define ASF_REAL_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include "export.h"

struct asf_real_fns {
	ssize_t (*read)(int, void *, size_t);
	ssize_t (*read_chk)(int, void *, size_t, size_t);
	ssize_t (*pread)(int, void *, size_t, off_t);
	ssize_t (*pread_chk)(int, void *, size_t, off_t, size_t);
	ssize_t (*write)(int, const void *, size_t);
	ssize_t (*send)(int, const void *, size_t, int);
	ssize_t (*sendto)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
	ssize_t (*recv)(int, void *, size_t, int);
	ssize_t (*recv_chk)(int, void *, size_t, size_t, int);
	ssize_t (*recvfrom)(int, void *, size_t, int, struct sockaddr *, socklen_t *);
	ssize_t (*recvfrom_chk)(int, void *, size_t, size_t, int, struct sockaddr *, socklen_t *);
	ssize_t (*readv)(int, const struct iovec *, int);
	ssize_t (*writev)(int, const struct iovec *, int);
	ssize_t (*recvmsg)(int, struct msghdr *, int);
	ssize_t (*sendmsg)(int, const struct msghdr *, int);
	int (*close)(int);
	int (*dup)(int);
	int (*dup2)(int, int);
	int (*dup3)(int, int, int);
	int (*fcntl)(int, int, ...);
	int (*fcntl64)(int, int, ...);
	int (*close_range)(unsigned, unsigned, int);
	void (*closefrom)(int);
	int (*fclose)(FILE *);
	int (*socket)(int, int, int);
	int (*socketpair)(int, int, int, int[2]);
	int (*accept)(int, struct sockaddr *, socklen_t *);
	int (*accept4)(int, struct sockaddr *, socklen_t *, int);
	ssize_t (*preadv)(int, const struct iovec *, int, off_t);
	ssize_t (*preadv2)(int, const struct iovec *, int, off_t, int);
	int (*open)(const char *, int, ...);
	int (*openat)(int, const char *, int, ...);
	int (*open_2)(const char *, int);
	int (*openat_2)(int, const char *, int);
	FILE *(*fopen)(const char *, const char *);
	FILE *(*freopen)(const char *, const char *, FILE *);
	size_t (*fread_unl)(void *, size_t, size_t, FILE *);
	size_t (*fwrite_unl)(const void *, size_t, size_t, FILE *);
	size_t (*fread_chk)(void *, size_t, size_t, size_t, FILE *);
	size_t (*fread_unlocked_chk)(void *, size_t, size_t, size_t, FILE *);
	int (*sigaction)(int, const struct sigaction *, struct sigaction *);
	/* glibc's own, for every signal but SIGSEGV and SIGBUS (wrap_signal.c) */
	sighandler_t (*signal)(int, sighandler_t);
	sighandler_t (*bsd_signal)(int, sighandler_t);
	sighandler_t (*ssignal)(int, sighandler_t);
	sighandler_t (*sysv_signal)(int, sighandler_t);
	sighandler_t (*sigset)(int, sighandler_t);
	int (*siginterrupt)(int, int);
	void *siglongjmp, *longjmp, *longjmp_chk; /* noreturn; called through a cast */
	int (*setsockopt)(int, int, int, const void *, socklen_t);
	void *(*mmap)(void *, size_t, int, int, int, off_t);
	int (*munmap)(void *, size_t);
	void *(*mremap)(void *, size_t, size_t, int, ...);
	int (*mprotect)(void *, size_t, int);
};

extern struct asf_real_fns asf_real;

/* Binds every symbol; true once the mandatory ones are known. Safe to call repeatedly. */
bool asf_real_bind(void);

/* Loads a bound pointer, binding first if needed; NULL means "use the raw syscall". */
#define ASF_REAL_FN(name)                                                                  \
	(ASF_LIKELY(__atomic_load_n(&asf_real.name, __ATOMIC_RELAXED) != NULL) ||           \
			 asf_real_bind()                                                     \
		 ? __atomic_load_n(&asf_real.name, __ATOMIC_RELAXED)                         \
		 : NULL)

/* The hot trampolines: one load and an indirect tail call once bound; the binding and
 * the raw-syscall fallback live out of line in real.c, off the fast path. */
ssize_t asf_unbound_read(int fd, void *buf, size_t n);
ssize_t asf_unbound_pread(int fd, void *buf, size_t n, off_t off);
ssize_t asf_unbound_write(int fd, const void *buf, size_t n);
ssize_t asf_unbound_sendto(int fd, const void *buf, size_t n, int flags,
			   const struct sockaddr *addr, socklen_t alen);
ssize_t asf_unbound_send(int fd, const void *buf, size_t n, int flags);
ssize_t asf_unbound_recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *addr,
			     socklen_t *alen);
int asf_unbound_close(int fd);

#define ASF_BOUND(name) __atomic_load_n(&asf_real.name, __ATOMIC_RELAXED)

static inline ssize_t real_read(int fd, void *buf, size_t n)
{
	ssize_t (*fn)(int, void *, size_t) = ASF_BOUND(read);
	return ASF_LIKELY(fn != NULL) ? fn(fd, buf, n) : asf_unbound_read(fd, buf, n);
}

static inline ssize_t real_pread(int fd, void *buf, size_t n, off_t off)
{
	ssize_t (*fn)(int, void *, size_t, off_t) = ASF_BOUND(pread);
	return ASF_LIKELY(fn != NULL) ? fn(fd, buf, n, off) : asf_unbound_pread(fd, buf, n, off);
}

static inline ssize_t real_write(int fd, const void *buf, size_t n)
{
	ssize_t (*fn)(int, const void *, size_t) = ASF_BOUND(write);
	return ASF_LIKELY(fn != NULL) ? fn(fd, buf, n) : asf_unbound_write(fd, buf, n);
}

static inline ssize_t real_sendto(int fd, const void *buf, size_t n, int flags,
				  const struct sockaddr *addr, socklen_t alen)
{
	ssize_t (*fn)(int, const void *, size_t, int, const struct sockaddr *, socklen_t) =
		ASF_BOUND(sendto);
	return ASF_LIKELY(fn != NULL) ? fn(fd, buf, n, flags, addr, alen)
				      : asf_unbound_sendto(fd, buf, n, flags, addr, alen);
}

static inline ssize_t real_send(int fd, const void *buf, size_t n, int flags)
{
	ssize_t (*fn)(int, const void *, size_t, int) = ASF_BOUND(send);
	return ASF_LIKELY(fn != NULL) ? fn(fd, buf, n, flags) : asf_unbound_send(fd, buf, n, flags);
}

static inline ssize_t real_recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *addr,
				    socklen_t *alen)
{
	ssize_t (*fn)(int, void *, size_t, int, struct sockaddr *, socklen_t *) = ASF_BOUND(recvfrom);
	return ASF_LIKELY(fn != NULL) ? fn(fd, buf, n, flags, addr, alen)
				      : asf_unbound_recvfrom(fd, buf, n, flags, addr, alen);
}

/* glibc's lseek is the bare system call; ours (wrap_fd.c) only watches it, and our own
 * position checks skip it. */
static inline off_t real_lseek(int fd, off_t off, int whence)
{
	return (off_t)syscall(SYS_lseek, fd, off, whence);
}

static inline int real_close(int fd)
{
	int (*fn)(int) = ASF_BOUND(close);
	return ASF_LIKELY(fn != NULL) ? fn(fd) : asf_unbound_close(fd);
}

#endif
