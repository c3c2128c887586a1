/* The mmap family: mappings of tracked files are noted (mappings.h) so that writes from
 * them can be sent from the file; unmapping or replacing a range forgets what it mapped. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "config.h"
#include "fdclass.h"
#include "mappings.h"
#include "real.h"

static void *real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	void *(*fn)(void *, size_t, int, int, int, off_t) = ASF_REAL_FN(mmap);
	return fn ? fn(addr, len, prot, flags, fd, off)
		  : (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

/* libc's mmap without any instrumented code: before the library is enabled. */
ASF_EARLY_SAFE static void *early_mmap(void *addr, size_t len, int prot, int flags, int fd,
				       off_t off)
{
	void *(*fn)(void *, size_t, int, int, int, off_t) = ASF_BOUND(mmap);
	return fn ? fn(addr, len, prot, flags, fd, off)
		  : (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

static void *mmap_seen(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	if ((flags & MAP_FIXED) && !asf_vfork_child)
		asf_mapping_remove(addr, len); /* whatever was there is replaced */
	void *r = real_mmap(addr, len, prot, flags, fd, off);
	if (r == MAP_FAILED || fd < 0 || (flags & MAP_ANONYMOUS) || !(prot & PROT_READ) ||
	    !asf_active())
		return r;
	int saved_errno = errno;
	uint32_t w = asf_fd_word_classified(fd);
	bool shared = (flags & MAP_TYPE) == MAP_SHARED || (flags & MAP_TYPE) == MAP_SHARED_VALIDATE;
	/* A writable shared mapping is no claim, only a guard: the program may store into it
	 * once its write has returned, and sendfile from that file would send those stores
	 * (the queued pages are the same pages); a real write sent what was there at the call. */
	if ((w & ASF_FD_KIND_MASK) == ASF_FD_FILE && !(w & ASF_FDF_NO_SENDFILE) &&
	    __atomic_load_n(&asf_sockets_seen, __ATOMIC_RELAXED))
		asf_mapping_add(r, len, shared, shared && (prot & PROT_WRITE), fd, off);
	errno = saved_errno;
	return r;
}

ASF_EARLY_SAFE ASF_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd,
				     off_t off)
{
	if (!__atomic_load_n(&asf_cfg.enabled, __ATOMIC_RELAXED))
		return early_mmap(addr, len, prot, flags, fd, off);
	return mmap_seen(addr, len, prot, flags, fd, off);
}

ASF_EARLY_SAFE ASF_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd,
				       off_t off)
{
	if (!__atomic_load_n(&asf_cfg.enabled, __ATOMIC_RELAXED))
		return early_mmap(addr, len, prot, flags, fd, off);
	return mmap_seen(addr, len, prot, flags, fd, off);
}

ASF_EARLY_SAFE ASF_EXPORT int munmap(void *addr, size_t len)
{
	if (!__atomic_load_n(&asf_cfg.enabled, __ATOMIC_RELAXED)) {
		int (*early)(void *, size_t) = ASF_BOUND(munmap);
		return early ? early(addr, len) : (int)syscall(SYS_munmap, addr, len);
	}
	int (*fn)(void *, size_t) = ASF_REAL_FN(munmap);
	int r = fn ? fn(addr, len) : (int)syscall(SYS_munmap, addr, len);
	if (r == 0 && !asf_vfork_child)
		asf_mapping_made_writable(addr, len);
	return r;
}

/* mremap's fifth argument (the new address) exists only with MREMAP_FIXED. */
ASF_EARLY_SAFE ASF_EXPORT void *mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
	void *new_addr = NULL;
	if (flags & MREMAP_FIXED) {
		va_list ap;
		va_start(ap, flags);
		new_addr = va_arg(ap, void *);
		va_end(ap);
	}
	void *(*fn)(void *, size_t, size_t, int, ...) = ASF_REAL_FN(mremap);
	void *r = fn ? fn(old, old_len, new_len, flags, new_addr)
		     : (void *)syscall(SYS_mremap, old, old_len, new_len, flags, new_addr);
	if (r != MAP_FAILED && !asf_vfork_child) {
		asf_mapping_remove(old, old_len);
		if (flags & MREMAP_FIXED)
			asf_mapping_remove(new_addr, new_len);
	}
	return r;
}

/* A range made writable may have been a read-only mapping of a file: it becomes a guard
 * (see above). */
ASF_EARLY_SAFE ASF_EXPORT int mprotect(void *addr, size_t len, int prot)
{
	int (*fn)(void *, size_t, int) = ASF_BOUND(mprotect);
	int r = fn ? fn(addr, len, prot) : (int)syscall(SYS_mprotect, addr, len, prot);
	if (r == 0 && (prot & PROT_WRITE) && !asf_vfork_child &&
	    __atomic_load_n(&asf_cfg.enabled, __ATOMIC_RELAXED))
		asf_mapping_made_writable(addr, len);
	return r;
}
