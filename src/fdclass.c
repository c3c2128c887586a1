/* What an fd is (regular file on a page-cache file system, stream socket, kernel TLS...),
 * decided once per fd number with fstat/fstatfs/getsockopt; and TLS recognition from the
 * first bytes a socket carries. See fdclass.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <sys/time.h>

#include "config.h"
#include "fdclass.h"
#include "log.h"
#include "real.h"
#include "stats.h"

int asf_sockets_seen;

bool asf_looks_like_tls(const unsigned char *p, size_t n)
{
	if (n == 0)
		return false;
	/* SSLv2-compatible ClientHello: 2-byte length with the high bit set, type 1, then
	 * version 3.x (or 0.2). Fewer than 3 bytes cannot tell, and are not taken as TLS. */
	if (p[0] & 0x80)
		return n >= 3 && p[2] == 0x01 && (n < 4 || p[3] == 0x03 || p[3] == 0x00);
	/* TLS record: content type 20..23 (change_cipher_spec, alert, handshake, data),
	 * then version 3.x with x <= 4. */
	if (p[0] < 0x14 || p[0] > 0x17)
		return false;
	if (n >= 2 && p[1] != 0x03)
		return false;
	return n < 3 || p[2] <= 0x04;
}

bool asf_fs_is_eligible(int64_t t)
{
	/* An allow-list: pseudo file systems (proc, sysfs...) generate content per read, and
	 * network or FUSE file systems may refuse sendfile or change under us. */
	switch ((uint32_t)t) {
	case EXT4_SUPER_MAGIC:  /* also ext2, ext3 */
	case XFS_SUPER_MAGIC:
	case BTRFS_SUPER_MAGIC:
	case TMPFS_MAGIC:
	case RAMFS_MAGIC:
	case OVERLAYFS_SUPER_MAGIC:
	case F2FS_SUPER_MAGIC:
	case SQUASHFS_MAGIC:
	case 0x2fc12fc1u:       /* zfs */
	case 0xe0f5e1e2u:       /* erofs */
	case 0xca451a4eu:       /* bcachefs */
		return true;
	default:
		return false;
	}
}

/* A TCP socket's word from its upper-layer protocol: "tls" is kernel TLS. */
static uint32_t tcp_word(int fd, const char *ulp)
{
	if (strcmp(ulp, "tls") != 0)
		return ASF_FD_STREAM;
	ASF_STAT_ADD(tls_skipped, 1);
	asf_log(ASF_LOG_INFO, "fd %d uses kernel TLS: passed through", fd);
	return ASF_FD_TLS;
}

static uint32_t classify_socket(int fd)
{
	int type = 0, domain = 0;
	socklen_t len = sizeof type;
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM)
		return ASF_FD_OTHER;
	len = sizeof domain;
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0)
		return ASF_FD_OTHER;
	if (domain != AF_INET && domain != AF_INET6 && domain != AF_UNIX)
		return ASF_FD_OTHER;
	uint32_t word = ASF_FD_STREAM;
	struct timeval tv = { 0, 0 };
	len = sizeof tv;
	if (getsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, &len) == 0 && (tv.tv_sec || tv.tv_usec))
		word |= ASF_FDF_SNDTIMEO;
	if (domain != AF_UNIX) {
		/* Kernel TLS: an upper-layer protocol named "tls" on the TCP socket. */
		char ulp[16] = { 0 };
		len = sizeof ulp - 1;
		if (getsockopt(fd, IPPROTO_TCP, TCP_ULP, ulp, &len) == 0)
			word = tcp_word(fd, ulp) | (word & ASF_FDF_SNDTIMEO);
	}
	asf_note_stream_socket();
	return word;
}

void asf_fd_classify_accepted(int fd)
{
	int saved_errno = errno;
	char ulp[16] = { 0 };
	socklen_t len = sizeof ulp - 1;
	/* Only a TCP socket answers at the IPPROTO_TCP level (UDP, raw and unix sockets say
	 * ENOPROTOOPT or EOPNOTSUPP): success means a TCP stream socket, and gives its ULP. */
	if (getsockopt(fd, IPPROTO_TCP, TCP_ULP, ulp, &len) == 0) {
		asf_fd_set(fd, tcp_word(fd, ulp), 0, 0);
		asf_note_stream_socket();
	} else {
		asf_fd_forget(fd); /* classified in full at its first use */
	}
	errno = saved_errno;
}

/* Whether a file system may be a source, by mount: one fstatfs per mount, not per file.
 * Keyed by the kernel's unique mount id (statx STATX_MNT_ID_UNIQUE, Linux 6.8+), which is
 * never handed to another mount while the system runs, so a cached answer cannot outlive
 * its mount's file system type (st_dev could: an unmount frees it for the next mount).
 * Each slot is one word, mount id << 1 | eligible, so a reader never sees half an entry. */
#ifndef STATX_MNT_ID_UNIQUE
#define STATX_MNT_ID_UNIQUE 0x4000U
#endif
#define MOUNT_SLOTS 16
static uint64_t mount_verdicts[MOUNT_SLOTS];

static int mount_cached(uint64_t mnt)
{
	if (!mnt || mnt >> 62)
		return -1;
	uint64_t e = __atomic_load_n(&mount_verdicts[mnt % MOUNT_SLOTS], __ATOMIC_RELAXED);
	return e >> 1 == mnt ? (int)(e & 1) : -1;
}

static void mount_remember(uint64_t mnt, bool eligible)
{
	if (mnt && !(mnt >> 62))
		__atomic_store_n(&mount_verdicts[mnt % MOUNT_SLOTS], mnt << 1 | eligible,
				 __ATOMIC_RELAXED);
}

static bool fs_eligible(int fd, uint64_t mnt)
{
	int known = mount_cached(mnt);
	if (known >= 0)
		return known;
	struct statfs sfs;
	if (fstatfs(fd, &sfs) != 0)
		return false;
	bool ok = asf_fs_is_eligible((int64_t)sfs.f_type);
	mount_remember(mnt, ok);
	return ok;
}

/* A file that can still be sealed (a memfd made with MFD_ALLOW_SEALING: unlinked, no
 * F_SEAL_SEAL yet). sendfile keeps references to its pages while they are queued, and
 * F_ADD_SEALS(F_SEAL_WRITE) fails with EBUSY while they are: the program's write would
 * not have held them, so such a file is not a source. Only unlinked files are asked. */
static bool sealable(int fd, nlink_t nlink)
{
	if (nlink != 0)
		return false;
	int seals = ASF_REAL_FN(fcntl) ? asf_real.fcntl(fd, F_GET_SEALS) : -1;
	return seals >= 0 && !(seals & F_SEAL_SEAL);
}

/* A regular file. fresh: opened by a wrapped open for reading without O_DIRECT, so the open
 * flags need not be asked for. mnt: its unique mount id, 0 if unknown. */
static uint32_t classify_file(int fd, off_t size, nlink_t nlink, bool fresh, uint64_t mnt)
{
	bool direct = false;
	if (!fresh) {
		int fl = ASF_REAL_FN(fcntl) ? asf_real.fcntl(fd, F_GETFL) : -1;
		if (fl < 0 || (fl & O_ACCMODE) == O_WRONLY)
			return ASF_FD_OTHER;
		direct = fl & O_DIRECT;
	}
	if (direct || !fs_eligible(fd, mnt) || sealable(fd, nlink)) {
		/* Its reads are never looked at again (zero cost): a write of its bytes is
		 * explained now, unless it is too small to matter (proc files say 0). */
		if ((uint64_t)size >= asf_cfg.min_bytes)
			asf_why_read(ASF_WHY_NOT_ELIGIBLE);
		return ASF_FD_OTHER;
	}
	return ASF_FD_FILE;
}

/* fstat, and the unique mount id where the kernel gives it: statx, falling back to fstat
 * for good when statx is missing or filtered (seccomp). */
static int statx_usable = 1;

static int stat_fd(int fd, struct stat *st, uint64_t *mnt)
{
	*mnt = 0;
#ifdef SYS_statx
	if (__atomic_load_n(&statx_usable, __ATOMIC_RELAXED)) {
		struct statx sx;
		if (syscall(SYS_statx, fd, "", AT_EMPTY_PATH | AT_STATX_SYNC_AS_STAT,
			    STATX_TYPE | STATX_MODE | STATX_INO | STATX_SIZE | STATX_CTIME |
				    STATX_MNT_ID_UNIQUE,
			    &sx) == 0) {
			memset(st, 0, sizeof *st);
			st->st_mode = sx.stx_mode;
			st->st_ino = sx.stx_ino;
			st->st_dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
			st->st_size = (off_t)sx.stx_size;
			st->st_nlink = sx.stx_nlink;
			st->st_ctim.tv_sec = sx.stx_ctime.tv_sec;
			st->st_ctim.tv_nsec = sx.stx_ctime.tv_nsec;
			if (sx.stx_mask & STATX_MNT_ID_UNIQUE)
				*mnt = sx.stx_mnt_id;
			return 0;
		}
		if (errno != ENOSYS && errno != EPERM && errno != EINVAL)
			return -1;
		__atomic_store_n(&statx_usable, 0, __ATOMIC_RELAXED);
	}
#endif
	return fstat(fd, st);
}

uint32_t asf_fd_classify(int fd)
{
	int saved_errno = errno;
	bool fresh = asf_fd_word(fd) & ASF_FDF_FRESH;
	struct stat st;
	uint64_t mnt;
	uint32_t word;
	if (stat_fd(fd, &st, &mnt) != 0) {
		errno = saved_errno;
		return ASF_FD_OTHER; /* not cached: a bad fd number now may be valid later */
	}
	if (S_ISREG(st.st_mode)) {
		word = classify_file(fd, st.st_size, st.st_nlink, fresh, mnt);
		asf_fd_set_ctime(fd, asf_ctime_ns(&st.st_ctim)); /* (informational) */
	}
	else if (S_ISSOCK(st.st_mode))
		word = classify_socket(fd);
	else
		word = ASF_FD_OTHER;
	asf_fd_set(fd, word, (uint64_t)st.st_dev, (uint64_t)st.st_ino);
	errno = saved_errno;
	return word;
}

void asf_fd_mark_tls(int fd)
{
	struct asf_fd_entry *e = asf_fd_entry(fd, false);
	if (!e)
		return;
	uint32_t old = __atomic_load_n(&e->word, __ATOMIC_ACQUIRE);
	while ((old & ASF_FD_KIND_MASK) == ASF_FD_STREAM)
		if (__atomic_compare_exchange_n(&e->word, &old, (old & ~ASF_FD_KIND_MASK) | ASF_FD_TLS,
						false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
			ASF_STAT_ADD(tls_skipped, 1);
			asf_log(ASF_LOG_INFO, "fd %d got kernel TLS (TCP_ULP): passed through for good", fd);
			return;
		}
}

uint32_t asf_fd_sniff(int fd, uint32_t flag, const void *buf, size_t n)
{
	uint32_t old = asf_fd_or_flags(fd, flag);
	if ((old & ASF_FD_KIND_MASK) != ASF_FD_STREAM || (old & flag))
		return old | flag; /* another thread saw the first bytes first */
	if (asf_looks_like_tls(buf, n)) {
		struct asf_fd_entry *e = asf_fd_entry(fd, false);
		uint32_t expect = old | flag;
		if (e && __atomic_compare_exchange_n(&e->word, &expect,
						     (expect & ~ASF_FD_KIND_MASK) | ASF_FD_TLS, false,
						     __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
			ASF_STAT_ADD(tls_skipped, 1);
			asf_log(ASF_LOG_INFO, "fd %d carries TLS: passed through for good", fd);
		}
		return ASF_FD_TLS | flag;
	}
	return old | flag;
}
