/* oldkernel - run a command as if on a kernel before 6.8 / 6.11 (Debian 12's 6.1, Ubuntu
 * 22.04's 5.15, RHEL 9's 5.14), for the library's probes: a seccomp filter, inherited by the
 * command and everything it forks and execs, refuses
 *   - ioctl(PROCMAP_QUERY) (Linux 6.11) with ENOTTY, what an older kernel's /proc/PID/maps
 *     answers to an ioctl it does not know (src/mappings.c then stops asking, for good, and
 *     compares every mapped write instead);
 *   - statx whose mask asks for STATX_MNT_ID_UNIQUE (Linux 6.8) with EINVAL (src/fdclass.c
 *     then uses fstat for good and has no unique mount id: every file is classified by
 *     asking, as there). A real old kernel answers such a statx without the bit in
 *     stx_mask instead; a filter cannot rewrite the answer, and the library's result is the
 *     same (no mount id), at the price of one fstat instead of one statx per file.
 * Every other system call, and statx without that bit, passes.
 *
 * Usage: oldkernel CMD [ARG...]   installs the filter, then execvp(CMD)
 *        oldkernel --check        prints what this kernel answers to both calls without and
 *                                 with the filter; exit 0 if both refusals took
 * Needs no privilege (PR_SET_NO_NEW_PRIVS first: set-user-ID programs the command execs then
 * keep their caller's ids, which a server started as root does not need).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* as in src/mappings.c (Debian 12's headers predate PROCMAP_QUERY) */
struct procmap_query {
	uint64_t size, query_flags, query_addr;
	uint64_t vma_start, vma_end, vma_flags, vma_page_size, vma_offset, inode;
	uint32_t dev_major, dev_minor, vma_name_size, build_id_size;
	uint64_t vma_name_addr, build_id_addr;
};
#define PROCMAP_QUERY_NR _IOWR(0x66, 17, struct procmap_query)
#ifndef STATX_MNT_ID_UNIQUE
#define STATX_MNT_ID_UNIQUE 0x4000U
#endif

/* the low 32 bits of argument I (x86-64 and the other little-endian ABIs) */
#define ARG_LO(i) (offsetof(struct seccomp_data, args) + 8 * (i))

static int install(void)
{
	struct sock_filter prog[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW), /* other ABIs: left alone */
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_ioctl, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(1)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)PROCMAP_QUERY_NR, 0, 5),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOTTY),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_statx, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(3)), /* statx(dirfd, path, flags, MASK, buf) */
		BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, STATX_MNT_ID_UNIQUE, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EINVAL),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog fp = { sizeof prog / sizeof prog[0], prog };
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		perror("oldkernel: PR_SET_NO_NEW_PRIVS");
		return -1;
	}
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fp) != 0) {
		perror("oldkernel: PR_SET_SECCOMP");
		return -1;
	}
	return 0;
}

/* 0 or the errno of each call, as the library makes them */
static int try_procmap(void)
{
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	struct procmap_query q = { .size = sizeof q, .query_addr = (uintptr_t)&try_procmap };
	int e = ioctl(fd, PROCMAP_QUERY_NR, &q) == 0 ? 0 : errno;
	close(fd);
	return e;
}

static int try_statx(unsigned mask, unsigned *got)
{
	struct statx sx;
	memset(&sx, 0, sizeof sx);
	int e = syscall(SYS_statx, 0, "", AT_EMPTY_PATH | AT_STATX_SYNC_AS_STAT, mask, &sx) == 0 ? 0 : errno;
	*got = sx.stx_mask;
	return e;
}

static const char *say(int e)
{
	return e ? strerrorname_np(e) : "ok";
}

static int check(void)
{
	unsigned got = 0, got2 = 0;
	int p0 = try_procmap(), s0 = try_statx(STATX_INO | STATX_MNT_ID_UNIQUE, &got);
	printf("this kernel: PROCMAP_QUERY %s; statx(STATX_MNT_ID_UNIQUE) %s, unique mount id %s\n", say(p0),
	       say(s0), !s0 && (got & STATX_MNT_ID_UNIQUE) ? "given" : "not given");
	if (install() != 0)
		return 2;
	int p1 = try_procmap(), s1 = try_statx(STATX_INO | STATX_MNT_ID_UNIQUE, &got);
	int s2 = try_statx(STATX_INO, &got2);
	printf("under the filter: PROCMAP_QUERY %s; statx(STATX_MNT_ID_UNIQUE) %s; statx(STATX_INO) %s\n",
	       say(p1), say(s1), say(s2));
	int ok = p1 == ENOTTY && s1 == EINVAL && s2 == 0;
	printf("refusals %s\n", ok ? "took" : "did NOT take");
	return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fprintf(stderr, "usage: oldkernel CMD [ARG...] | oldkernel --check\n");
		return 2;
	}
	if (!strcmp(argv[1], "--check"))
		return check();
	int i = !strcmp(argv[1], "--") ? 2 : 1;
	if (i >= argc || install() != 0)
		return 2;
	execvp(argv[i], argv + i);
	fprintf(stderr, "oldkernel: %s: %s\n", argv[i], strerror(errno));
	return 127;
}
