/* The end of a process that leaves by _exit or _Exit, from any thread. No exit code runs
 * then (atexit handlers, destructors): h2o ends so, from a worker thread, once its last
 * connection closed. The stats line and the live slot are seen to here (livestats.h), then
 * the process ends as glibc's _exit ends it. A raw exit_group system call runs no user code
 * at all: its counters stay in the live file (autosendfile --stat), and its line is written
 * by the next process of its family that exits. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "export.h"
#include "livestats.h"

static __attribute__((noreturn)) void end(int status)
{
	asf_live_quick_exit();
	for (;;) {
		syscall(SYS_exit_group, status);
		syscall(SYS_exit, status);
	}
}

ASF_EXPORT void _exit(int status)
{
	end(status);
}

ASF_EXPORT void _Exit(int status)
{
	end(status);
}
