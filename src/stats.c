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

struct asf_stats asf_stats;

static uint64_t get(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

size_t asf_stats_format(char *buf, size_t size, int pid)
{
	int n = snprintf(buf, size,
			 "autosendfile: pid=%d " AUTOSENDFILE_STAT_REDIRECTED_BYTES "=%llu "
			 AUTOSENDFILE_STAT_REDIRECTED_CALLS "=%llu " AUTOSENDFILE_STAT_PASSTHROUGH_BYTES
			 "=%llu " AUTOSENDFILE_STAT_FALLBACKS "=%llu " AUTOSENDFILE_STAT_VERIFY_REJECTS
			 "=%llu " AUTOSENDFILE_STAT_TLS_SKIPPED "=%llu " AUTOSENDFILE_STAT_SOURCE_CHANGED
			 "=%llu\n",
			 pid, (unsigned long long)get(&asf_stats.redirected_bytes),
			 (unsigned long long)get(&asf_stats.redirected_calls),
			 (unsigned long long)get(&asf_stats.passthrough_bytes),
			 (unsigned long long)get(&asf_stats.fallbacks),
			 (unsigned long long)get(&asf_stats.verify_rejects),
			 (unsigned long long)get(&asf_stats.tls_skipped),
			 (unsigned long long)get(&asf_stats.source_changed));
	if (n < 0 || size == 0)
		return 0;
	return (size_t)n < size ? (size_t)n : size - 1;
}

void asf_stats_emit(void)
{
	if (!asf_cfg.stats_stderr && asf_cfg.stats_path[0] == '\0')
		return;
	int saved_errno = errno;
	char line[512]; /* the longest possible line is under 300 bytes */
	size_t len = asf_stats_format(line, sizeof line, (int)getpid());
	if (asf_cfg.stats_stderr) {
		if (asf_stderr_unchanged())
			(void)syscall(SYS_write, 2, line, len);
	} else {
		/* Append only, never follow a symlink, private when we create it. */
		int fd = (int)syscall(SYS_openat, AT_FDCWD, asf_cfg.stats_path,
				      O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0) {
			asf_log(ASF_LOG_WARN, "cannot open %s=%s: %s", AUTOSENDFILE_ENV_STATS,
				asf_cfg.stats_path, strerror(errno));
		} else {
			(void)syscall(SYS_write, fd, line, len);
			(void)syscall(SYS_close, fd);
		}
	}
	errno = saved_errno;
}

void asf_stats_reset(void)
{
	memset(&asf_stats, 0, sizeof asf_stats);
}
