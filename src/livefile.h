/* The live counters file (see autosendfile.h, "Live counters"): its layout, and the helpers
 * the library (livestats.c) and the launcher's --stat (launcher_stat.c) share.
 *
 * A file is a header and AUTOSENDFILE_LIVE_SLOTS slots, mapped MAP_SHARED by the process
 * that made it, and inherited by its forked children: each child claims a slot (a CAS on its
 * pid) and counts there from zero. So a worker that setuid()s or chroot()s after the fork
 * still counts, with no file of its own to open. Readers map or read the file; every field
 * is loaded with relaxed atomics, and a slot's seq is odd while it is (re)initialised. */
#ifndef ASF_LIVEFILE_H
#define ASF_LIVEFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "statline.h"

#define ASF_LIVE_MAGIC   "ASFLIVE"  /* with its NUL: 8 bytes */
#define ASF_LIVE_VERSION 1u

enum asf_slot_state { ASF_SLOT_FREE = 0, ASF_SLOT_RUNNING = 1, ASF_SLOT_EXITED = 2 };

/* 64-byte aligned: processes counting in neighbouring slots do not share a cache line. */
struct asf_live_slot {
	uint32_t pid;         /* the process counting here; 0: free. Claimed by CAS */
	uint32_t state;       /* enum asf_slot_state; EXITED: it ran its exit (destructor) */
	uint32_t line;        /* 1: its stats line is written (by itself or for it) */
	uint32_t seq;         /* odd while the slot is being (re)initialised */
	uint64_t start;       /* process start, clock ticks after boot (/proc/PID/stat field 22) */
	uint64_t born_ns;     /* CLOCK_BOOTTIME when claimed: after an exec, the newer slot wins */
	uint32_t start_exact; /* 1: start read from /proc; 0: from the clock in the fork child */
	uint32_t reserved;
	char comm[16];        /* program name, NUL-terminated */
	struct asf_counters c;
} __attribute__((aligned(64)));

struct asf_live_header {
	char magic[8];        /* ASF_LIVE_MAGIC, stored last when the file is made */
	uint32_t version;
	uint32_t header_size; /* offset of slot 0 */
	uint32_t slot_size;
	uint32_t nslots;
	uint32_t ncounters;   /* uint64_t counters per slot (ASF_STATS_COUNTERS when written) */
	uint32_t uid;
	uint64_t created_ns;  /* CLOCK_BOOTTIME: oldest files are deleted first */
} __attribute__((aligned(64)));

static inline struct asf_live_slot *asf_live_slot_at(void *file, uint32_t i)
{
	const struct asf_live_header *h = file;
	return (struct asf_live_slot *)((char *)file + h->header_size + (size_t)i * h->slot_size);
}

/* Are the first n counters all zero (the process counted nothing)? Relaxed loads. */
static inline bool asf_live_counters_zero(const struct asf_counters *c, uint32_t n)
{
	const uint64_t *v = (const uint64_t *)c;
	for (uint32_t i = 0; i < n && i < ASF_STATS_COUNTERS; i++)
		if (__atomic_load_n(&v[i], __ATOMIC_RELAXED))
			return false;
	return true;
}

#define ASF_LIVE_FILE_SIZE \
	(sizeof(struct asf_live_header) + AUTOSENDFILE_LIVE_SLOTS * sizeof(struct asf_live_slot))

/* Fills path with BASE/autosendfile-UID; false if it does not fit. */
bool asf_live_dir_path(char *path, size_t size, const char *base, unsigned uid);
/* Opens (and with create, makes) the per-user directory, and returns an O_DIRECTORY fd only
 * if it is a real directory (not a symlink), owned by uid, mode 0700: /tmp is shared, and
 * anyone could have made the name first. -1 otherwise. */
int asf_live_dir_open(const char *path, unsigned uid, bool create);
/* True if the header is one this code can read, for a file of `size` bytes. */
bool asf_live_header_ok(const struct asf_live_header *h, size_t size);
/* Is the process a slot names still the one that counted there? kill(pid, 0) (EPERM counts
 * as alive: a worker that changed user), then its start time, against pid reuse. */
bool asf_live_running(uint32_t pid, uint64_t start, bool exact);
/* Clock ticks since boot now (CLOCK_BOOTTIME, the clock of /proc/PID/stat's start time;
 * from the vDSO: no system call). */
uint64_t asf_live_now_ticks(uint64_t *ns);
/* /proc/PID/stat field 22 (0 for pid 0: this process); false without /proc. */
bool asf_live_proc_start(int pid, uint64_t *ticks);

#endif
