/* Process-wide counters: live in a shared file for autosendfile --stat (livestats.c), and
 * written as the stats line at exit (keys in autosendfile.h). */
#ifndef ASF_STATS_H
#define ASF_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "export.h"
#include "statline.h"

/* Where this process counts: its slot in its live file, or a static fallback until the
 * file is made (livestats.h: at the first stream socket), or when there is none. Never
 * NULL. */
extern struct asf_counters *asf_statp;
#define asf_stats (*asf_statp)

/* Relaxed atomics: counters need no ordering, only no lost updates. One more load than a
 * fixed address (the pointer), and only on paths that already do real work. */
#define ASF_STAT_ADD(field, n) __atomic_fetch_add(&asf_statp->field, (uint64_t)(n), __ATOMIC_RELAXED)

/* Why the library is about to leave a write to the real call: set at each decline site of
 * the engine, read by whoever counts the bytes the real call sent. A thread-local, so a
 * store costs what a global store costs. */
extern ASF_TLS unsigned char asf_why_now;
/* The reason the thread's last file read was not tracked (0: tracked, or none yet); a
 * write no record holds is "untracked" rather than "not_file" after one. */
extern ASF_TLS unsigned char asf_why_last_read;

static inline void asf_why(enum asf_why_reason r)
{
	asf_why_now = (unsigned char)r;
}
static inline void asf_why_read(enum asf_why_reason r)
{
	asf_why_last_read = (unsigned char)r;
}
/* In a vectored write, a run of declined iovecs is counted under its most specific
 * reason: r only replaces "other". Returns ok. */
static inline bool asf_why_unless(bool ok, enum asf_why_reason r)
{
	if (!ok && asf_why_now == ASF_WHY_OTHER)
		asf_why_now = (unsigned char)r;
	return ok;
}
/* For a write no record holds. */
static inline void asf_why_no_record(void)
{
	asf_why_now = asf_why_last_read ? asf_why_last_read : (unsigned char)ASF_WHY_NOT_FILE;
}
/* Counts n bytes the real call sent to a stream socket, under the current reason. */
static inline void asf_stat_pass(uint64_t n)
{
	ASF_STAT_ADD(passthrough_bytes, n);
	ASF_STAT_ADD(why[asf_why_now < ASF_WHY_N ? asf_why_now : ASF_WHY_OTHER], n);
}

/* Formats the stats line (with '\n') into buf; returns its length. */
size_t asf_stats_format(char *buf, size_t size, int pid);
/* Appends the line to AUTOSENDFILE_STATS, if set; false if it could not be written to the
 * file. can_defer: another process will write it (the warning becomes info if denied). */
bool asf_stats_emit(bool can_defer);
/* Appends a line for counters of another process (one that ended without writing its own)
 * to the AUTOSENDFILE_STATS file; false if it could not. Silent. */
bool asf_stats_emit_for(int pid, const struct asf_counters *s);
void asf_stats_reset(void);
/* Counts from zero in the static counters (a fork child that found no slot). */
void asf_stats_use_fallback(void);
/* Moves what the static counters hold into `to` (NULL: drops it), leaving them zero: the
 * live file was just made (its slot gets what was counted before). Relaxed atomics. */
void asf_stats_move_fallback(struct asf_counters *to);

#endif
