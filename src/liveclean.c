/* Deleting live counters files nobody needs (liveclean.h). Raw system calls and static
 * buffers: this runs inside the program (when its file is made, possibly in a signal
 * handler; in a fork child; at exit). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "autosendfile.h"
#include "livefile.h"
#include "liveclean.h"

static uint32_t load32(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

/* Reads a file of the directory into file_buf if it is a regular file of uid with room for
 * a header and no bigger than a file this code makes; NULL otherwise. Read, not mapped: this
 * runs while the program does (the file is made at its first stream socket), and a
 * mapping made then could land where the program just unmapped a buffer (ownmem.h). */
static unsigned char file_buf[ASF_LIVE_FILE_SIZE] __attribute__((aligned(64)));

static void *read_file(int dirfd, const char *name, unsigned uid, size_t *size, time_t *mtime)
{
	int fd = (int)syscall(SYS_openat, dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	struct stat st;
	void *m = NULL;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == uid &&
	    st.st_size >= (off_t)sizeof(struct asf_live_header) &&
	    st.st_size <= (off_t)sizeof file_buf &&
	    syscall(SYS_pread64, fd, file_buf, (size_t)st.st_size, 0) == (long)st.st_size) {
		*size = (size_t)st.st_size;
		*mtime = st.st_mtime;
		m = file_buf;
	}
	(void)syscall(SYS_close, fd);
	return m;
}

bool asf_live_file_idle(void *file, uint32_t pid, uint64_t start)
{
	const struct asf_live_header *h = file;
	for (uint32_t i = 0; i < h->nslots; i++) {
		const struct asf_live_slot *s = asf_live_slot_at(file, i);
		uint32_t p = load32(&s->pid);
		if (p == 0)
			continue;
		if ((load32(&s->seq) & 1) || !asf_live_counters_zero(&s->c, h->ncounters))
			return false;
		if (p == pid && s->start == start)
			continue; /* the caller, or its own image before an exec */
		if (load32(&s->state) == ASF_SLOT_RUNNING &&
		    asf_live_running(p, s->start, s->start_exact))
			return false;
	}
	return true;
}

/* Deletes dirfd/name if it is an idle file (see asf_live_file_idle); true if it did. */
static bool drop_idle(int dirfd, unsigned uid, const char *name, uint32_t pid, uint64_t start)
{
	size_t size = 0;
	time_t mtime;
	void *m = read_file(dirfd, name, uid, &size, &mtime);
	if (!m)
		return false;
	bool idle = asf_live_header_ok(m, size) && asf_live_file_idle(m, pid, start);
	return idle && syscall(SYS_unlinkat, dirfd, name, 0) == 0;
}

void asf_live_drop_if_idle(const char *dir, unsigned uid, const char *name, void *file,
			   uint32_t pid, uint64_t start)
{
	if (!asf_live_file_idle(file, pid, start))
		return;
	int dirfd = asf_live_dir_open(dir, uid, false);
	if (dirfd < 0)
		return; /* a process that changed user cannot: the file waits for the pruning */
	(void)syscall(SYS_unlinkat, dirfd, name, 0);
	(void)syscall(SYS_close, dirfd);
}

/* Files of ended processes beyond AUTOSENDFILE_LIVE_KEEP, oldest first. */
struct cand {
	uint64_t created;
	char name[48];
};
/* Used by one caller at a time: the maker of the file (livestats.c's BUSY state) or a fork
 * child. Static, not on the stack: the maker may be a signal handler on a small stack. */
static struct cand cands[1024];
static char dents[4096] __attribute__((aligned(8)));

/* Oldest first. By hand: qsort may malloc, and the maker may be a signal handler. */
static void sort_cands(size_t n)
{
	for (size_t i = 1; i < n; i++) {
		struct cand c = cands[i];
		size_t j = i;
		for (; j > 0 && cands[j - 1].created > c.created; j--)
			cands[j] = cands[j - 1];
		cands[j] = c;
	}
}

/* Is every process of this file gone? Sets *created. A file still being made (no magic yet)
 * counts as gone only after a minute. */
static bool file_gone(int dirfd, unsigned uid, const char *name, uint64_t *created)
{
	size_t size = 0;
	time_t mtime = 0;
	void *m = read_file(dirfd, name, uid, &size, &mtime);
	if (!m)
		return false;
	bool gone = true;
	const struct asf_live_header *h = m;
	if (!asf_live_header_ok(h, size)) {
		*created = 0;
		gone = mtime + 60 < time(NULL);
	} else {
		*created = h->created_ns;
		for (uint32_t i = 0; i < h->nslots && gone; i++) {
			struct asf_live_slot *s = asf_live_slot_at(m, i);
			uint32_t pid = load32(&s->pid);
			if (pid && load32(&s->state) == ASF_SLOT_RUNNING &&
			    asf_live_running(pid, s->start, s->start_exact))
				gone = false;
		}
	}
	return gone;
}

void asf_live_prune(int dirfd, unsigned uid, const char *own, uint32_t pid, uint64_t start)
{
	char *buf = dents, mine[24];
	int minelen = snprintf(mine, sizeof mine, "%u-", pid);
	size_t total = 0, ncand = 0;
	(void)syscall(SYS_lseek, dirfd, 0, SEEK_SET);
	for (;;) {
		long n = syscall(SYS_getdents64, dirfd, buf, sizeof dents);
		if (n <= 0)
			break;
		for (long off = 0; off < n;) {
			struct { uint64_t ino; int64_t off; unsigned short reclen; unsigned char type;
				 char name[]; } *d = (void *)(buf + off);
			off += d->reclen;
			if (d->name[0] == '.' || strlen(d->name) >= sizeof cands[0].name)
				continue;
			/* An earlier image of this process (it exec'd) that counted nothing: an
			 * `env` or a shell before the program it started. */
			if (strncmp(d->name, mine, (size_t)minelen) == 0 && strcmp(d->name, own) != 0 &&
			    drop_idle(dirfd, uid, d->name, pid, start))
				continue;
			total++;
			if (ncand < sizeof cands / sizeof cands[0]) {
				strcpy(cands[ncand].name, d->name);
				ncand++;
			}
		}
	}
	if (total <= AUTOSENDFILE_LIVE_KEEP)
		return;
	size_t gone = 0;
	for (size_t i = 0; i < ncand; i++)
		if (strcmp(cands[i].name, own) != 0 &&
		    file_gone(dirfd, uid, cands[i].name, &cands[i].created))
			cands[gone++] = cands[i];
	sort_cands(gone);
	/* Down to half the limit, so that the next starts do not scan again. */
	for (size_t i = 0; i < gone && total > AUTOSENDFILE_LIVE_KEEP / 2; i++)
		if (syscall(SYS_unlinkat, dirfd, cands[i].name, 0) == 0)
			total--;
}
