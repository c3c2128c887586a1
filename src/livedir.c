/* The live counters' directory, file header checks and process liveness (livefile.h).
 * Raw system calls: the library must not go through its own open/close wrappers. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "autosendfile.h"
#include "livefile.h"

bool asf_live_dir_path(char *path, size_t size, const char *base, unsigned uid)
{
	int n = snprintf(path, size, "%s/" AUTOSENDFILE_LIVE_PREFIX "%u", base, uid);
	return n > 0 && (size_t)n < size;
}

int asf_live_dir_open(const char *path, unsigned uid, bool create)
{
	if (create && syscall(SYS_mkdirat, AT_FDCWD, path, 0700) != 0 && errno != EEXIST)
		return -1;
	int fd = (int)syscall(SYS_openat, AT_FDCWD, path,
			      O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != uid ||
	    (st.st_mode & 07777) != 0700) {
		(void)syscall(SYS_close, fd);
		errno = EPERM;
		return -1;
	}
	return fd;
}

bool asf_live_header_ok(const struct asf_live_header *h, size_t size)
{
	return size >= sizeof *h && memcmp(h->magic, ASF_LIVE_MAGIC, 8) == 0 &&
	       h->version == ASF_LIVE_VERSION && h->slot_size >= offsetof(struct asf_live_slot, c) &&
	       h->header_size >= sizeof *h && h->nslots > 0 && h->nslots <= 65536 &&
	       h->ncounters <= (h->slot_size - offsetof(struct asf_live_slot, c)) / 8 &&
	       (uint64_t)h->header_size + (uint64_t)h->nslots * h->slot_size <= size;
}

uint64_t asf_live_now_ticks(uint64_t *ns)
{
	struct timespec ts = { 0, 0 };
	clock_gettime(CLOCK_BOOTTIME, &ts);
	uint64_t t = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	if (ns)
		*ns = t;
	long hz = sysconf(_SC_CLK_TCK);
	return t / (1000000000u / (uint64_t)(hz > 0 ? hz : 100));
}

bool asf_live_proc_start(int pid, uint64_t *ticks)
{
	char path[64], buf[1024];
	if (pid > 0)
		snprintf(path, sizeof path, "/proc/%d/stat", pid);
	else
		snprintf(path, sizeof path, "/proc/self/stat");
	int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return false;
	long n = syscall(SYS_read, fd, buf, sizeof buf - 1);
	(void)syscall(SYS_close, fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	/* The command name (field 2) may hold spaces and ')': count from the last ')'. */
	char *p = strrchr(buf, ')');
	if (!p)
		return false;
	p++;
	for (int field = 3; field < 22 && p; field++) /* p: the blank before field 3 */
		p = strchr(p + 1, ' ');
	if (!p)
		return false;
	unsigned long long v;
	if (sscanf(p + 1, "%llu", &v) != 1)
		return false;
	*ticks = v;
	return true;
}

bool asf_live_running(uint32_t pid, uint64_t start, bool exact)
{
	if (pid == 0 || (kill((pid_t)pid, 0) != 0 && errno != EPERM))
		return false;
	uint64_t now;
	if (!asf_live_proc_start((int)pid, &now))
		return true; /* no /proc here (a chroot): kill's answer is all there is */
	/* A fork child read the clock just after the kernel set its start: allow 2 s. */
	long hz = sysconf(_SC_CLK_TCK);
	return exact ? now == start : now <= start && start - now <= 2 * (uint64_t)(hz > 0 ? hz : 100);
}
