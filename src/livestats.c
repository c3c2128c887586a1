/* Live counters of this process and its forked children (livestats.h, livefile.h).
 * Only the making of the file (at the first stream socket), fork and exit make system
 * calls here; counting is ASF_STAT_ADD on the slot. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "export.h"
#include "ownmem.h"
#include "autosendfile.h"
#include "config.h"
#include "fdclass.h"
#include "liveclean.h"
#include "livefile.h"
#include "livestats.h"
#include "log.h"
#include "stats.h"

static void *live_file;                 /* our mapping; a forked child inherits it */
static struct asf_live_slot *live_slot; /* where asf_statp points, or NULL */
static char live_dir[PATH_MAX];
static char live_name[48];              /* the file's name in live_dir */
static bool live_made;                  /* this process made it (not inherited by fork) */
static unsigned live_uid;
static uint32_t ended_pid;              /* the pid whose end ran here: once per process */

static uint32_t load32(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

/* Takes over a slot this process has claimed (its pid is stored): counters from zero. */
static void slot_setup(struct asf_live_slot *s, uint64_t start, bool exact, uint64_t born,
		       const char *comm)
{
	uint32_t seq = load32(&s->seq);
	__atomic_store_n(&s->seq, seq | 1u, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	memset(&s->c, 0, sizeof s->c);
	s->start = start;
	s->born_ns = born;
	s->start_exact = exact;
	char name[sizeof s->comm];
	strncpy(name, comm, sizeof name - 1); /* comm may be our own slot's: copy first */
	name[sizeof name - 1] = '\0';
	memcpy(s->comm, name, sizeof name);
	__atomic_store_n(&s->line, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&s->state, ASF_SLOT_RUNNING, __ATOMIC_RELAXED);
	__atomic_store_n(&s->seq, (seq | 1u) + 1u, __ATOMIC_RELEASE);
}

/* Can a slot whose process is gone be given to another? Not while its line is owed. */
static bool slot_reusable(struct asf_live_slot *s, uint32_t pid)
{
	if (asf_cfg.stats_path[0] && !load32(&s->line))
		return false;
	return load32(&s->state) == ASF_SLOT_EXITED ||
	       !asf_live_running(pid, s->start, s->start_exact);
}

/* A free slot of the file, else (with reuse) one of an ended process; claimed for pid. */
static struct asf_live_slot *claim(void *file, uint32_t pid, bool reuse)
{
	const struct asf_live_header *h = file;
	for (uint32_t i = 0; i < h->nslots; i++) {
		struct asf_live_slot *s = asf_live_slot_at(file, i);
		uint32_t old = load32(&s->pid);
		if (old != 0 && (!reuse || !slot_reusable(s, old)))
			continue;
		if (__atomic_compare_exchange_n(&s->pid, &old, pid, false, __ATOMIC_ACQ_REL,
						__ATOMIC_RELAXED))
			return s;
	}
	return NULL;
}

/* Where this image's file is mapped: arena pages set aside at start (ownmem.h: a mapping
 * made while the program runs could land where it just unmapped a buffer, and a write
 * from that stale pointer would send the counters instead of failing with EFAULT). The
 * file is mapped over them with MAP_FIXED; NULL once used (a fork child that must make a
 * file of its own lets the kernel place it, as it always did). */
#define LIVE_MAP_BYTES ((ASF_LIVE_FILE_SIZE + 4095u) & ~(size_t)4095u)
ASF_START_DATA static void *live_reserve;

size_t asf_live_arena_bytes(void)
{
	return asf_cfg.live ? LIVE_MAP_BYTES : 0;
}

/* Maps fd's file at the reserve if there is one (restoring the arena's pages on failure),
 * else where the kernel likes. */
static void *map_live(int fd)
{
	void *at = live_reserve;
	if (!at)
		return asf_mem_map(ASF_LIVE_FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	void *m = (void *)syscall(SYS_mmap, at, LIVE_MAP_BYTES, PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_FIXED, fd, 0);
	if (m == MAP_FAILED)
		(void)syscall(SYS_mmap, at, LIVE_MAP_BYTES, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	else
		live_reserve = NULL;
	return m;
}

/* Makes and maps a new file in live_dir, claims its first slot; NULL if it cannot. */
static struct asf_live_slot *new_file(uint32_t pid, uint64_t start, bool exact, uint64_t born,
				      const char *comm)
{
	int dirfd = asf_live_dir_open(live_dir, live_uid, true);
	if (dirfd < 0)
		return NULL;
	char name[48];
	snprintf(name, sizeof name, "%u-%llu", pid, (unsigned long long)born);
	int fd = (int)syscall(SYS_openat, dirfd, name,
			      O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	void *m = MAP_FAILED;
	if (fd >= 0) {
		if (ftruncate(fd, (off_t)ASF_LIVE_FILE_SIZE) == 0)
			m = map_live(fd);
		(void)syscall(SYS_close, fd); /* the program never sees an fd it did not open */
		if (m == MAP_FAILED)
			(void)syscall(SYS_unlinkat, dirfd, name, 0);
	}
	if (m == MAP_FAILED) {
		(void)syscall(SYS_close, dirfd);
		return NULL;
	}
	struct asf_live_header *h = m;
	h->version = ASF_LIVE_VERSION;
	h->header_size = sizeof *h;
	h->slot_size = sizeof(struct asf_live_slot);
	h->nslots = AUTOSENDFILE_LIVE_SLOTS;
	h->ncounters = ASF_STATS_COUNTERS;
	h->uid = live_uid;
	h->created_ns = born;
	struct asf_live_slot *s = asf_live_slot_at(m, 0);
	s->pid = pid;
	slot_setup(s, start, exact, born, comm);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	memcpy(h->magic, ASF_LIVE_MAGIC, 8); /* last: readers and prune skip a file being made */
	live_file = m;
	live_made = true;
	memcpy(live_name, name, sizeof live_name);
	asf_live_prune(dirfd, live_uid, name, pid, start);
	(void)syscall(SYS_close, dirfd);
	return s;
}

static void count_in(struct asf_live_slot *s)
{
	live_slot = s;
	__atomic_store_n(&asf_statp, &s->c, __ATOMIC_RELEASE);
}

ASF_START_DATA int asf_live_state; /* ASF_LIVE_OFF until the constructor says otherwise */
/* The program's name as it was at start: the file is made later, and by then a program
 * may have written its status over argv[0] (nginx's and postgres's process titles), where
 * program_invocation_short_name points. */
ASF_START_DATA static char start_comm[sizeof ((struct asf_live_slot *)0)->comm];

void asf_live_init(bool enabled)
{
	if (!enabled || !asf_cfg.live)
		return;
	strncpy(start_comm, program_invocation_short_name, sizeof start_comm - 1);
	live_reserve = asf_mem_alloc(LIVE_MAP_BYTES); /* in the arena: no system call */
	struct stat st;
	if (asf_cfg.live_base[0]) {
		/* One stat, and only when the user named a directory: a mistake to say once, at
		 * start, whether or not the process ever touches a socket. */
		int saved_errno = errno;
		bool exists = stat(asf_cfg.live_base, &st) == 0;
		errno = saved_errno;
		if (!exists || !S_ISDIR(st.st_mode)) {
			asf_log(ASF_LOG_WARN, "%s=\"%.64s\" %s; no live counters for autosendfile --stat",
				AUTOSENDFILE_ENV_LIVE, asf_cfg.live_base,
				!exists ? "does not exist" : "is not a directory");
			return;
		}
	}
	__atomic_store_n(&asf_live_state, ASF_LIVE_WANTED, __ATOMIC_RELEASE);
}

/* Makes the file and points asf_statp at its first slot; false if it cannot. */
static bool make_file(void)
{
	live_uid = (unsigned)geteuid();
	const char *bases[] = { AUTOSENDFILE_LIVE_DIRS };
	size_t nbases = sizeof bases / sizeof bases[0];
	if (asf_cfg.live_base[0]) {
		bases[0] = asf_cfg.live_base;
		nbases = 1;
	}
	uint64_t born, start = asf_live_now_ticks(&born);
	bool exact = asf_live_proc_start(0, &start);
	struct asf_live_slot *s = NULL;
	for (size_t i = 0; i < nbases && !s; i++)
		if (asf_live_dir_path(live_dir, sizeof live_dir, bases[i], live_uid))
			s = new_file((uint32_t)getpid(), start, exact, born, start_comm);
	if (!s) {
		/* A directory the user named is a mistake to say once; the default ones are
		 * missing for good reasons (a chroot). */
		int e = errno;
		struct stat st;
		if (asf_cfg.live_base[0])
			asf_log(ASF_LOG_WARN, "%s=\"%.64s\" %s; no live counters for autosendfile --stat",
				AUTOSENDFILE_ENV_LIVE, asf_cfg.live_base,
				stat(asf_cfg.live_base, &st) != 0 ? "does not exist" :
				!S_ISDIR(st.st_mode) ? "is not a directory" :
				e == EPERM ? "holds an unsafe autosendfile-UID (not a 0700 directory of this user)" :
				"cannot hold a private directory");
		else
			asf_log(ASF_LOG_INFO, "no live counters: no private directory could be made in %s",
				"/dev/shm or /tmp");
		live_dir[0] = '\0';
		return false;
	}
	count_in(s);
	/* What was counted before (in the fallback: before the constructor, or on the way
	 * here) moves to the slot. */
	asf_stats_move_fallback(&s->c);
	asf_log(ASF_LOG_DEBUG, "live counters in %s", live_dir);
	return true;
}

void asf_live_start(void)
{
	int want = ASF_LIVE_WANTED;
	if (!asf_active() ||
	    !__atomic_compare_exchange_n(&asf_live_state, &want, ASF_LIVE_BUSY, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
		return;
	int saved_errno = errno;
	bool made = make_file();
	__atomic_store_n(&asf_live_state, made ? ASF_LIVE_DONE : ASF_LIVE_OFF, __ATOMIC_RELEASE);
	errno = saved_errno;
}

/* Does the process hold a stream socket it never made, accepted or wrote to through the
 * wrappers: one inherited at exec (systemd's socket activation, nginx's binary upgrade)?
 * One pass over /proc/self/fd, a getsockopt per fd; false without /proc. */
static bool holds_stream_socket(void)
{
	int dirfd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/fd",
				 O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (dirfd < 0)
		return false;
	bool found = false;
	char buf[1024] __attribute__((aligned(8)));
	long n;
	while (!found && (n = syscall(SYS_getdents64, dirfd, buf, sizeof buf)) > 0) {
		for (long off = 0; off < n && !found;) {
			struct { uint64_t ino; int64_t off; unsigned short reclen; unsigned char type;
				 char name[]; } *d = (void *)(buf + off);
			off += d->reclen;
			int fd = 0;
			const char *c = d->name;
			for (; *c >= '0' && *c <= '9' && fd < 1 << 24; c++)
				fd = fd * 10 + (*c - '0');
			if (*c || c == d->name || fd == dirfd)
				continue;
			int type = 0, domain = 0;
			socklen_t len = sizeof type;
			if (syscall(SYS_getsockopt, fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 ||
			    type != SOCK_STREAM)
				continue;
			len = sizeof domain;
			found = syscall(SYS_getsockopt, fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 &&
				(domain == AF_INET || domain == AF_INET6 || domain == AF_UNIX);
		}
	}
	(void)syscall(SYS_close, dirfd);
	return found;
}

void asf_live_before_fork(void)
{
	static int scanned; /* once per image: later sockets go through the wrappers */
	if (__atomic_load_n(&asf_live_state, __ATOMIC_RELAXED) != ASF_LIVE_WANTED || !asf_active())
		return;
	if (!__atomic_load_n(&asf_sockets_seen, __ATOMIC_RELAXED)) {
		if (__atomic_exchange_n(&scanned, 1, __ATOMIC_RELAXED))
			return;
		int saved_errno = errno;
		bool held = holds_stream_socket();
		errno = saved_errno;
		if (!held)
			return;
		asf_note_stream_socket(); /* reads of files are tracked from now on too */
	}
	asf_live_start();
}

void asf_live_fork_child(void)
{
	int state = __atomic_load_n(&asf_live_state, __ATOMIC_ACQUIRE);
	if (state != ASF_LIVE_DONE) {
		/* No file in the parent, or one that a thread of the parent (not in this child)
		 * was making: the child makes its own when it touches a stream socket. */
		live_file = NULL;
		live_slot = NULL;
		live_made = false;
		asf_stats_use_fallback();
		if (state == ASF_LIVE_BUSY)
			__atomic_store_n(&asf_live_state, ASF_LIVE_WANTED, __ATOMIC_RELEASE);
		return;
	}
	int saved_errno = errno;
	asf_stats_move_fallback(NULL); /* the parent's, if any: not this child's */
	live_made = false; /* counts in the parent's file, unless it makes one below */
	uint32_t pid = (uint32_t)getpid();
	uint64_t born, start = asf_live_now_ticks(&born);
	const char *comm = live_slot ? live_slot->comm : start_comm;
	/* A free slot costs no system call; reusing one costs a kill() per slot looked at;
	 * a new file, a few calls (the file is full of live processes). */
	struct asf_live_slot *s = claim(live_file, pid, false);
	if (!s)
		s = claim(live_file, pid, true);
	if (s)
		slot_setup(s, start, false, born, comm);
	else
		s = new_file(pid, start, false, born, comm);
	if (s) {
		count_in(s);
	} else {
		live_slot = NULL;
		asf_stats_use_fallback();
		__atomic_store_n(&asf_live_state, ASF_LIVE_OFF, __ATOMIC_RELEASE);
	}
	errno = saved_errno;
}

/* The lines of this file's processes that ended without writing theirs. Each line is
 * written once: the writer takes it with a CAS on `line`. */
static void write_owed_lines(void)
{
	const struct asf_live_header *h = live_file;
	for (uint32_t i = 0; i < h->nslots; i++) {
		struct asf_live_slot *s = asf_live_slot_at(live_file, i);
		uint32_t pid = load32(&s->pid), seq = load32(&s->seq), free_line = 0;
		if (s == live_slot || pid == 0 || (seq & 1) || load32(&s->line) ||
		    asf_live_counters_zero(&s->c, ASF_STATS_COUNTERS))
			continue;
		if (load32(&s->state) != ASF_SLOT_EXITED &&
		    asf_live_running(pid, s->start, s->start_exact))
			continue;
		if (!__atomic_compare_exchange_n(&s->line, &free_line, 1, false, __ATOMIC_ACQ_REL,
						 __ATOMIC_RELAXED))
			continue;
		if (!asf_stats_emit_for((int)pid, &s->c))
			__atomic_store_n(&s->line, 0, __ATOMIC_RELEASE);
	}
}

/* The end of this process: its line (if quiet, only when it counted something), its slot
 * marked ended, the lines owed by ended processes of its file, and its own file deleted if
 * nobody in it counted anything. Once per process. */
static void end(bool quiet)
{
	struct asf_live_slot *slot =
		__atomic_load_n(&asf_live_state, __ATOMIC_ACQUIRE) == ASF_LIVE_DONE ? live_slot : NULL;
	if (!slot && !asf_cfg.stats_stderr && !asf_cfg.stats_path[0])
		return; /* no file, no line: nothing to do (not even a getpid) */
	uint32_t me = (uint32_t)getpid();
	/* A vfork child, or a child made by a raw clone() (vsftpd's sessions), counts in its
	 * parent's slot: the end of the process is not its parent's. */
	if (asf_vfork_child || (slot && load32(&slot->pid) != me))
		return;
	if (__atomic_exchange_n(&ended_pid, me, __ATOMIC_ACQ_REL) == me)
		return;
	int saved_errno = errno;
	if (slot) /* a count another thread added to the fallback as the file was made */
		asf_stats_move_fallback(&slot->c);
	bool zero = asf_live_counters_zero(asf_statp, ASF_STATS_COUNTERS);
	bool written = quiet && zero ? false : asf_stats_emit(slot != NULL);
	if (slot) {
		if (written)
			__atomic_store_n(&slot->line, 1, __ATOMIC_RELEASE);
		__atomic_store_n(&slot->state, ASF_SLOT_EXITED, __ATOMIC_RELEASE);
		if (asf_cfg.stats_path[0])
			write_owed_lines();
		if (live_made && zero)
			asf_live_drop_if_idle(live_dir, live_uid, live_name, live_file, me,
					      slot->start);
	}
	errno = saved_errno;
}

void asf_live_exit(void)
{
	end(false);
}

void asf_live_quick_exit(void)
{
	end(true);
}
