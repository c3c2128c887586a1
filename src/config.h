/* Configuration: parsed once from the environment (secure_getenv), immutable afterwards. */
#ifndef ASF_CONFIG_H
#define ASF_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

enum asf_log_level { ASF_LOG_ERROR = 0, ASF_LOG_WARN, ASF_LOG_INFO, ASF_LOG_DEBUG };
enum asf_verify { ASF_VERIFY_FULL = 0, ASF_VERIFY_SAMPLE, ASF_VERIFY_NONE };

struct asf_config {
	bool enabled;
	size_t min_bytes;
	size_t chunk;
	size_t pressure; /* AUTOSENDFILE_PRESSURE: 0 = every write worth it is redirected */
	int log_level;
	int verify; /* enum asf_verify */
	bool stats_stderr;
	char stats_path[PATH_MAX]; /* absolute; empty when stats are off or go to stderr */
	bool live;                 /* AUTOSENDFILE_LIVE: keep live counters (livestats.c) */
	char live_base[PATH_MAX];  /* its directory; empty: the default ones */
};

/* Where the parser looks values up: secure_getenv in the library, a table in tests. */
typedef const char *(*asf_getenv_fn)(const char *name);

/* Fills *cfg from the environment; returns how many values were rejected (each rejection
 * logs one warning naming the variable and the default used). */
int asf_config_parse(struct asf_config *cfg, asf_getenv_fn get);
/* The same, with AUTOSENDFILE's verdict in *enabled and cfg->enabled left alone: the
 * constructor parses straight into asf_cfg (no copy of its 8 KiB of paths: each page
 * written at start is a page fault a short process pays) and enables it last. */
int asf_config_parse_into(struct asf_config *cfg, asf_getenv_fn get, bool *enabled);

/* AUTOSENDFILE_ONLY / AUTOSENDFILE_SKIP: false if the program called progname must not be
 * touched (the library then passes everything through). Rejected lists warn once and are
 * ignored. */
bool asf_config_selects(asf_getenv_fn get, const char *progname, int *rejects);

/* Parses a byte count: decimal digits with an optional K or M suffix (powers of 1024).
 * Returns false for anything else (empty, negative, junk, overflow). */
bool asf_parse_size(const char *s, size_t *out);

extern struct asf_config asf_cfg;

/* Set in a vfork child (wrap_jmp.c): it shares the parent's memory, so the library must not
 * touch its tables; every wrapper passes through. */
extern __thread int asf_vfork_child __attribute__((tls_model("initial-exec")));

/* The smallest file read that is tracked: AUTOSENDFILE_MIN_BYTES applies to what one write
 * sends from a file, and one writev may send several smaller reads (Apache: 8000 bytes
 * each) as one range. A record costs no copy and no system call, so reads are tracked
 * from 4 KiB (or the threshold, if lower). */
#define ASF_TRACK_FLOOR 4096u
static inline size_t asf_track_min(void)
{
	return asf_cfg.min_bytes < ASF_TRACK_FLOOR ? asf_cfg.min_bytes : ASF_TRACK_FLOOR;
}

/* Does the library act on this call? */
static inline bool asf_active(void)
{
	return asf_cfg.enabled && !asf_vfork_child;
}

#endif
