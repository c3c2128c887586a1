/* The launcher's --stat command (launcher_stat.c) and its Prometheus output
 * (launcher_prom.c). */
#ifndef ASF_LAUNCHER_STAT_H
#define ASF_LAUNCHER_STAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "statline.h"

/* One process, as read from its slot of a live counters file. */
struct asf_stat_entry {
	uint32_t pid;
	uint32_t state;
	uint64_t start, born;
	bool exact, running;
	char comm[16];
	size_t ncounters; /* counters the file holds (an older version holds fewer) */
	struct asf_counters c;
};

/* argv: the arguments after --stat. Returns the exit status. */
int asf_stat_main(int argc, char **argv);
void asf_stat_usage(FILE *out);
/* The program name as one word of printable ASCII: others become '_'. */
void asf_stat_comm(char out[16], const struct asf_stat_entry *e);
/* The entries in the Prometheus text exposition format (version 0.0.4). */
void asf_stat_prometheus(FILE *out, const struct asf_stat_entry *const *v, size_t n);

#endif
