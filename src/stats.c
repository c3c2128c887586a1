/* The counters and the stats line written at exit (see stats.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "autosendfile.h"
#include "config.h"
#include "log.h"
#include "stats.h"

/* Counts until the live file is made (livestats.h), and for good if none is. */
static struct asf_counters fallback;
struct asf_counters *asf_statp = &fallback;
ASF_TLS unsigned char asf_why_now;
ASF_TLS unsigned char asf_why_last_read;

/* The line and its '\n'; a line cut short by size has none. */
static size_t format_for(char *buf, size_t size, int pid, const struct asf_counters *s)
{
	size_t n = asf_statline_format(buf, size, pid, s, ASF_STATS_COUNTERS);
	if (n + 1 < size) {
		buf[n++] = '\n';
		buf[n] = '\0';
	}
	return n;
}

size_t asf_stats_format(char *buf, size_t size, int pid)
{
	return format_for(buf, size, pid, asf_statp);
}

/* Append only, never follow a symlink, private when we create it. */
static int open_stats_file(void)
{
	return (int)syscall(SYS_openat, AT_FDCWD, asf_cfg.stats_path,
			    O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
}

bool asf_stats_emit_for(int pid, const struct asf_counters *s)
{
	if (asf_cfg.stats_path[0] == '\0')
		return false;
	int saved_errno = errno;
	char line[ASF_STATLINE_MAX];
	size_t len = format_for(line, sizeof line, pid, s);
	int fd = open_stats_file();
	bool ok = fd >= 0 && syscall(SYS_write, fd, line, len) == (long)len;
	if (fd >= 0)
		(void)syscall(SYS_close, fd);
	errno = saved_errno;
	return ok;
}

bool asf_stats_emit(bool can_defer)
{
	if (!asf_cfg.stats_stderr && asf_cfg.stats_path[0] == '\0')
		return true;
	int saved_errno = errno;
	bool done = true;
	char line[ASF_STATLINE_MAX];
	size_t len = asf_stats_format(line, sizeof line, (int)getpid());
	if (asf_cfg.stats_stderr) {
		if (asf_stderr_unchanged())
			(void)syscall(SYS_write, 2, line, len);
	} else {
		int fd = open_stats_file();
		if (fd < 0) {
			done = false;
			/* A worker that dropped privileges cannot append to its root parent's
			 * file: a process that can writes the line later (livestats.c). */
			bool denied = errno == EACCES || errno == EPERM;
			asf_log(can_defer && denied ? ASF_LOG_INFO : ASF_LOG_WARN,
				"cannot open %s=%s: %s%s", AUTOSENDFILE_ENV_STATS, asf_cfg.stats_path,
				strerror(errno), can_defer && denied ? "; left to the parent" : "");
		} else {
			(void)syscall(SYS_write, fd, line, len);
			(void)syscall(SYS_close, fd);
		}
	}
	errno = saved_errno;
	return done;
}

void asf_stats_reset(void)
{
	memset(asf_statp, 0, sizeof *asf_statp);
}

void asf_stats_move_fallback(struct asf_counters *to)
{
	uint64_t *from = (uint64_t *)&fallback, *t = (uint64_t *)to;
	if (to == &fallback)
		return;
	for (size_t i = 0; i < ASF_STATS_COUNTERS; i++) {
		uint64_t v = __atomic_exchange_n(&from[i], 0, __ATOMIC_RELAXED);
		if (v && t)
			__atomic_fetch_add(&t[i], v, __ATOMIC_RELAXED);
	}
}

void asf_stats_use_fallback(void)
{
	__atomic_store_n(&asf_statp, &fallback, __ATOMIC_RELEASE);
	asf_stats_reset();
}
