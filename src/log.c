/* Leveled logging to stderr (see log.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "export.h"
#include "log.h"

static int current_level = ASF_LOG_WARN;
ASF_START_DATA static struct stat stderr_at_start;
ASF_START_DATA static bool stderr_known;

void asf_log_note_stderr(void)
{
	int saved_errno = errno;
	stderr_known = fstat(2, &stderr_at_start) == 0;
	errno = saved_errno;
}

bool asf_stderr_unchanged(void)
{
	struct stat now;
	int saved_errno = errno;
	bool same = stderr_known && fstat(2, &now) == 0 && now.st_dev == stderr_at_start.st_dev &&
		    now.st_ino == stderr_at_start.st_ino;
	errno = saved_errno;
	return same;
}
static const char *const tags[] = { "error", "warning", "info", "debug" };

void asf_log_set_level(int level)
{
	current_level = level;
}

void asf_log(int level, const char *fmt, ...)
{
	if (level > current_level)
		return;
	int saved_errno = errno;
	char line[512];
	int n = snprintf(line, sizeof line, "autosendfile[%d] %s: %s: ", (int)getpid(),
			 program_invocation_short_name, tags[level]);
	if (n < 0 || (size_t)n >= sizeof line)
		n = 0;
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	size_t len = (size_t)n + (size_t)m;
	if (len > sizeof line - 2)
		len = sizeof line - 2;
	line[len++] = '\n';
	if (asf_stderr_unchanged())
		(void)syscall(SYS_write, 2, line, len);
	errno = saved_errno;
}
