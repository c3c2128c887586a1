/* Process-wide counters, written once as the stats line at exit (keys in autosendfile.h). */
#ifndef ASF_STATS_H
#define ASF_STATS_H

#include <stddef.h>
#include <stdint.h>

struct asf_stats {
	uint64_t redirected_bytes;
	uint64_t redirected_calls;
	uint64_t passthrough_bytes;
	uint64_t fallbacks;
	uint64_t verify_rejects;
	uint64_t tls_skipped;
	uint64_t source_changed;
};

extern struct asf_stats asf_stats;

/* Relaxed atomics: counters need no ordering, only no lost updates. */
#define ASF_STAT_ADD(field, n) __atomic_fetch_add(&asf_stats.field, (uint64_t)(n), __ATOMIC_RELAXED)

/* Formats the stats line (with '\n') into buf; returns its length. */
size_t asf_stats_format(char *buf, size_t size, int pid);
/* Appends the line to AUTOSENDFILE_STATS, if set. */
void asf_stats_emit(void);
void asf_stats_reset(void);

#endif
