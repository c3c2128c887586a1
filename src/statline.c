/* The stats line's text (see statline.h). */
#include <stddef.h>
#include <stdio.h>

#include "autosendfile.h"
#include "statline.h"

/* The keys in the order of the fields of struct asf_counters. */
static const char *const keys[ASF_STATS_COUNTERS] = {
	AUTOSENDFILE_STAT_REDIRECTED_BYTES, AUTOSENDFILE_STAT_REDIRECTED_CALLS,
	AUTOSENDFILE_STAT_PASSTHROUGH_BYTES, AUTOSENDFILE_STAT_FALLBACKS,
	AUTOSENDFILE_STAT_VERIFY_REJECTS, AUTOSENDFILE_STAT_TLS_SKIPPED,
	AUTOSENDFILE_STAT_SOURCE_CHANGED,
	/* why[]: the enum asf_why_reason order, OTHER (index 0) printed last */
	AUTOSENDFILE_STAT_WHY_OTHER, AUTOSENDFILE_STAT_WHY_SMALL, AUTOSENDFILE_STAT_WHY_NOT_FILE,
	AUTOSENDFILE_STAT_WHY_UNTRACKED, AUTOSENDFILE_STAT_WHY_TLS, AUTOSENDFILE_STAT_WHY_FLAGS,
	AUTOSENDFILE_STAT_WHY_BUF_CHANGED, AUTOSENDFILE_STAT_WHY_FILE_CHANGED,
	AUTOSENDFILE_STAT_WHY_NOT_ELIGIBLE, AUTOSENDFILE_STAT_WHY_HEADER, AUTOSENDFILE_STAT_WHY_TAIL,
	AUTOSENDFILE_STAT_WHY_DRAINING,
};

const char *asf_statline_key(size_t k)
{
	return k < ASF_STATS_COUNTERS ? keys[k] : "";
}

/* Printing order: the struct's order, except that why_other ends the line. */
size_t asf_statline_order(size_t i)
{
	const size_t why0 = offsetof(struct asf_counters, why) / sizeof(uint64_t);
	if (i < why0)
		return i;
	return i + 1 < ASF_STATS_COUNTERS ? i + 1 : why0;
}

size_t asf_statline_format(char *buf, size_t size, int pid, const struct asf_counters *s,
			   size_t ncounters)
{
	if (size == 0)
		return 0;
	const uint64_t *c = (const uint64_t *)s;
	int n = snprintf(buf, size, "autosendfile: pid=%d", pid);
	size_t len = n < 0 ? 0 : (size_t)n;
	for (size_t i = 0; i < ASF_STATS_COUNTERS && len < size; i++) {
		size_t k = asf_statline_order(i);
		if (k >= ncounters)
			continue;
		n = snprintf(buf + len, size - len, " %s=%llu", keys[k],
			     (unsigned long long)__atomic_load_n(&c[k], __ATOMIC_RELAXED));
		len += n < 0 ? 0 : (size_t)n;
	}
	return len < size ? len : size - 1;
}
