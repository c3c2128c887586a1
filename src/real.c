/* Binding of the real libc functions (see real.h). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>

#include "export.h"
#include "real.h"

ASF_START_DATA struct asf_real_fns asf_real;
/* libc's vfork, for the entry point in wrap_jmp.c (assembly: a plain data symbol). */
ASF_START_DATA void *asf_real_vfork_fn;

/* Set while this thread is inside dlsym(), so re-entrant wrapped calls use raw syscalls. */
static ASF_TLS int binding;

static void bind_one(void *slot, const char *name)
{
	void *fn = dlsym(RTLD_NEXT, name);
	__atomic_store_n((void **)slot, fn, __ATOMIC_RELAXED);
}

bool asf_real_bind(void)
{
	if (binding)
		return false;
	int saved_errno = errno; /* dlsym may set errno; wrappers must not leak that */
	binding = 1;
	bind_one(&asf_real.read_chk, "__read_chk");
	bind_one(&asf_real.pread, "pread64");
	bind_one(&asf_real.pread_chk, "__pread64_chk");
	bind_one(&asf_real.send, "send");
	bind_one(&asf_real.sendto, "sendto");
	bind_one(&asf_real.recv, "recv");
	bind_one(&asf_real.recv_chk, "__recv_chk");
	bind_one(&asf_real.recvfrom, "recvfrom");
	bind_one(&asf_real.recvfrom_chk, "__recvfrom_chk");
	bind_one(&asf_real.readv, "readv");
	bind_one(&asf_real.writev, "writev");
	bind_one(&asf_real.recvmsg, "recvmsg");
	bind_one(&asf_real.sendmsg, "sendmsg");
	bind_one(&asf_real.close, "close");
	bind_one(&asf_real.dup, "dup");
	bind_one(&asf_real.dup2, "dup2");
	bind_one(&asf_real.dup3, "dup3");
	bind_one(&asf_real.fcntl, "fcntl");
	bind_one(&asf_real.fcntl64, "fcntl64");
	bind_one(&asf_real.close_range, "close_range");
	bind_one(&asf_real.closefrom, "closefrom");
	bind_one(&asf_real.fclose, "fclose");
	bind_one(&asf_real.socket, "socket");
	bind_one(&asf_real.socketpair, "socketpair");
	bind_one(&asf_real.accept, "accept");
	bind_one(&asf_real.accept4, "accept4");
	bind_one(&asf_real.preadv, "preadv64");
	bind_one(&asf_real.preadv2, "preadv64v2");
	bind_one(&asf_real.fread_unl, "fread_unlocked");
	bind_one(&asf_real.fwrite_unl, "fwrite_unlocked");
	bind_one(&asf_real.fread_chk, "__fread_chk");
	bind_one(&asf_real.fread_unlocked_chk, "__fread_unlocked_chk");
	bind_one(&asf_real.open, "open64");
	bind_one(&asf_real.openat, "openat64");
	bind_one(&asf_real.open_2, "__open64_2");
	bind_one(&asf_real.openat_2, "__openat64_2");
	bind_one(&asf_real.fopen, "fopen64");
	bind_one(&asf_real.freopen, "freopen64");
	bind_one(&asf_real.sigaction, "sigaction");
	bind_one(&asf_real.signal, "signal");
	bind_one(&asf_real.bsd_signal, "bsd_signal");
	bind_one(&asf_real.ssignal, "ssignal");
	bind_one(&asf_real.sysv_signal, "sysv_signal");
	bind_one(&asf_real.sigset, "sigset");
	bind_one(&asf_real.siginterrupt, "siginterrupt");
	bind_one(&asf_real.siglongjmp, "siglongjmp");
	bind_one(&asf_real.longjmp, "longjmp");
	bind_one(&asf_real.longjmp_chk, "__longjmp_chk");
	bind_one(&asf_real.setsockopt, "setsockopt");
	bind_one(&asf_real.mmap, "mmap64");
	bind_one(&asf_real.munmap, "munmap");
	bind_one(&asf_real.mremap, "mremap");
	bind_one(&asf_real.mprotect, "mprotect");
	bind_one(&asf_real_vfork_fn, "vfork");
	bind_one(&asf_real.write, "write");
	/* read last: it is the pointer ASF_REAL_FN users test first */
	bind_one(&asf_real.read, "read");
	binding = 0;
	errno = saved_errno;
	return __atomic_load_n(&asf_real.read, __ATOMIC_RELAXED) != NULL;
}

/* Out-of-line halves of the hot trampolines in real.h: bind, then call the real function,
 * or, while binding is under way on this thread, the raw system call. */
ssize_t asf_unbound_read(int fd, void *buf, size_t n)
{
	return asf_real_bind() ? asf_real.read(fd, buf, n) : syscall(SYS_read, fd, buf, n);
}

ssize_t asf_unbound_pread(int fd, void *buf, size_t n, off_t off)
{
	return asf_real_bind() && asf_real.pread ? asf_real.pread(fd, buf, n, off)
						 : syscall(SYS_pread64, fd, buf, n, off);
}

ssize_t asf_unbound_write(int fd, const void *buf, size_t n)
{
	return asf_real_bind() && asf_real.write ? asf_real.write(fd, buf, n)
						 : syscall(SYS_write, fd, buf, n);
}

ssize_t asf_unbound_sendto(int fd, const void *buf, size_t n, int flags,
			   const struct sockaddr *addr, socklen_t alen)
{
	return asf_real_bind() && asf_real.sendto ? asf_real.sendto(fd, buf, n, flags, addr, alen)
						  : syscall(SYS_sendto, fd, buf, n, flags, addr, alen);
}

ssize_t asf_unbound_send(int fd, const void *buf, size_t n, int flags)
{
	return asf_real_bind() && asf_real.send ? asf_real.send(fd, buf, n, flags)
						: syscall(SYS_sendto, fd, buf, n, flags, NULL, 0);
}

ssize_t asf_unbound_recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *addr,
			     socklen_t *alen)
{
	return asf_real_bind() && asf_real.recvfrom
		       ? asf_real.recvfrom(fd, buf, n, flags, addr, alen)
		       : syscall(SYS_recvfrom, fd, buf, n, flags, addr, alen);
}

int asf_unbound_close(int fd)
{
	return asf_real_bind() && asf_real.close ? asf_real.close(fd) : (int)syscall(SYS_close, fd);
}
