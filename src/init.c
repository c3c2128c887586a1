/* Start and end of the process: bind the real functions, read the configuration, arrange
 * the live counters (made later, at the first stream socket) and fork handling, and write
 * the stats line at exit, _exit and _Exit. */
#define _GNU_SOURCE
#include <pthread.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "autosendfile.h"
#include "config.h"
#include "export.h"
#include "livestats.h"
#include "log.h"
#include "mappings.h"
#include "ownmem.h"
#include "proof.h"
#include "real.h"
#include "records.h"
#include "signals.h"
#include "stats.h"

static const char *lookup_env(const char *name)
{
	return secure_getenv(name);
}

/* A forked child counts only its own work, under its own pid; the parent's other threads
 * are gone in it. */
static void atfork_child(void)
{
	asf_live_fork_child();
	asf_mappings_after_fork_child();
	asf_threads_after_fork_child();
}

static void log_settings(const struct asf_config *c, bool enabled)
{
	if (!enabled) {
		asf_log(ASF_LOG_INFO, "disabled by %s=0: every call passes through", AUTOSENDFILE_ENV_ENABLE);
		return;
	}
	if (c->min_bytes != AUTOSENDFILE_DEFAULT_MIN_BYTES)
		asf_log(ASF_LOG_INFO, "%s=%zu", AUTOSENDFILE_ENV_MIN_BYTES, c->min_bytes);
	if (c->chunk != AUTOSENDFILE_DEFAULT_CHUNK)
		asf_log(ASF_LOG_INFO, "%s=%zu", AUTOSENDFILE_ENV_CHUNK, c->chunk);
	static const char *const verify_names[] = { AUTOSENDFILE_VERIFY_FULL,
						    AUTOSENDFILE_VERIFY_SAMPLE, AUTOSENDFILE_VERIFY_NONE };
	if (c->verify != ASF_VERIFY_FULL)
		asf_log(ASF_LOG_INFO, "%s=%s", AUTOSENDFILE_ENV_VERIFY, verify_names[c->verify]);
	const char *only = secure_getenv(AUTOSENDFILE_ENV_ONLY), *skip = secure_getenv(AUTOSENDFILE_ENV_SKIP);
	if (only)
		asf_log(ASF_LOG_INFO, "%s=%.200s", AUTOSENDFILE_ENV_ONLY, only);
	if (skip)
		asf_log(ASF_LOG_INFO, "%s=%.200s", AUTOSENDFILE_ENV_SKIP, skip);
	if (c->stats_stderr || c->stats_path[0])
		asf_log(ASF_LOG_INFO, "%s=%s", AUTOSENDFILE_ENV_STATS,
			c->stats_stderr ? "stderr" : c->stats_path);
}

__attribute__((constructor(101))) static void asf_init(void)
{
	asf_real_bind();
	asf_log_note_stderr();
	/* Straight into asf_cfg, whose enabled stays false until the end (config.h). */
	bool enabled;
	asf_config_parse_into(&asf_cfg, lookup_env, &enabled);
	int rejects = 0;
	if (enabled && !asf_config_selects(lookup_env, program_invocation_short_name, &rejects)) {
		enabled = false;
		asf_log(ASF_LOG_INFO, "not selected by %s/%s: every call passes through",
			AUTOSENDFILE_ENV_ONLY, AUTOSENDFILE_ENV_SKIP);
	}
	pthread_atfork(asf_live_before_fork, NULL, atfork_child);
	if (enabled)
		asf_signals_init();
	log_settings(&asf_cfg, enabled);
	/* Before the program has freed anything (ownmem.h). */
	if (enabled)
		asf_mem_init(asf_proof_arena_bytes() + asf_live_arena_bytes());
	/* Live counters only where the library acts: a program AUTOSENDFILE_ONLY leaves out,
	 * or AUTOSENDFILE=0, costs no file; and only once it touches a stream socket
	 * (livestats.h): a process that never does costs none either. */
	asf_live_init(enabled);
	/* Last: from here on the wrappers do their work. */
	__atomic_store_n(&asf_cfg.enabled, enabled, __ATOMIC_RELEASE);
}

__attribute__((destructor)) static void asf_fini(void)
{
	asf_live_exit();
}

/* _exit and _Exit run no exit code (atexit handlers, destructors), from whichever thread
 * calls them: h2o ends so, from a worker thread, once its last connection closed. The stats
 * line and the live slot are seen to (livestats.h), then the process ends as glibc's _exit
 * ends it. A raw exit_group system call runs no user code at all: its counters stay in the
 * live file, and its line is written by the next process of its family that exits. */
static __attribute__((noreturn)) void end_now(int status)
{
	asf_live_quick_exit();
	for (;;) {
		syscall(SYS_exit_group, status);
		syscall(SYS_exit, status);
	}
}

ASF_EXPORT void _exit(int status)
{
	end_now(status);
}

ASF_EXPORT void _Exit(int status)
{
	end_now(status);
}
