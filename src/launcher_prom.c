/* autosendfile --stat --format prometheus: the counters in Prometheus' text exposition
 * format (0.0.4), as node_exporter's textfile collector reads them. Each family is written
 * whole (HELP, TYPE, then one sample per process), labels pid and comm: one series per
 * pid, as --stat keeps one process per pid. The names follow the stats line's keys
 * (autosendfile.h), so a key added there is exported without a change here. */
#include <stdio.h>
#include <string.h>

#include "autosendfile.h"
#include "launcher_stat.h"

/* HELP text per key; a key not listed gets a generic one. */
static const struct {
	const char *key, *help;
} helps[] = {
	{ AUTOSENDFILE_STAT_REDIRECTED_BYTES, "Bytes sent with sendfile(2) in place of the program's writes." },
	{ AUTOSENDFILE_STAT_REDIRECTED_CALLS, "Writes served entirely by sendfile(2)." },
	{ AUTOSENDFILE_STAT_PASSTHROUGH_BYTES, "Bytes written to stream sockets by the program's own call." },
	{ AUTOSENDFILE_STAT_FALLBACKS, "Writes sendfile(2) began and the program's own call finished." },
	{ AUTOSENDFILE_STAT_VERIFY_REJECTS, "Writes whose buffer did not equal the file's bytes when compared." },
	{ AUTOSENDFILE_STAT_TLS_SKIPPED, "Sockets recognised as TLS and left alone." },
	{ AUTOSENDFILE_STAT_SOURCE_CHANGED, "Writes refused because the file had become shorter than the range." },
};

static const char *help_of(const char *key)
{
	for (size_t i = 0; i < sizeof helps / sizeof helps[0]; i++)
		if (strcmp(helps[i].key, key) == 0)
			return helps[i].help;
	return NULL;
}

static bool is_why(const char *key)
{
	return strncmp(key, "why_", 4) == 0;
}

/* pid="P",comm="NAME": comm is printable ASCII (asf_stat_comm); '\' and '"' are escaped. */
static void labels(FILE *out, const struct asf_stat_entry *e)
{
	char comm[16];
	asf_stat_comm(comm, e);
	fprintf(out, "pid=\"%u\",comm=\"", e->pid);
	for (const char *p = comm; *p; p++) {
		if (*p == '\\' || *p == '"')
			fputc('\\', out);
		fputc(*p, out);
	}
	fputc('"', out);
}

static void header(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static unsigned long long value(const struct asf_stat_entry *e, size_t k)
{
	return (unsigned long long)((const uint64_t *)&e->c)[k];
}

/* The why_* keys as one family, the reason a label: they split passthrough bytes. */
static void why_family(FILE *out, const struct asf_stat_entry *const *v, size_t n)
{
	header(out, AUTOSENDFILE_PROM_WHY, "counter",
	       "Bytes written to stream sockets by the program's own call, by the reason the "
	       "library left them to it (the why_* keys of the stats line); they sum to "
	       AUTOSENDFILE_PROM_PREFIX AUTOSENDFILE_STAT_PASSTHROUGH_BYTES "_total.");
	for (size_t j = 0; j < n; j++)
		for (size_t i = 0; i < ASF_STATS_COUNTERS; i++) {
			size_t k = asf_statline_order(i);
			const char *key = asf_statline_key(k);
			if (!is_why(key) || k >= v[j]->ncounters)
				continue;
			fprintf(out, "%s{", AUTOSENDFILE_PROM_WHY);
			labels(out, v[j]);
			fprintf(out, ",reason=\"%s\"} %llu\n", key + 4, value(v[j], k));
		}
}

void asf_stat_prometheus(FILE *out, const struct asf_stat_entry *const *v, size_t n)
{
	bool why_done = false;
	for (size_t i = 0; i < ASF_STATS_COUNTERS; i++) {
		size_t k = asf_statline_order(i);
		const char *key = asf_statline_key(k);
		if (is_why(key)) {
			if (!why_done)
				why_family(out, v, n);
			why_done = true;
			continue;
		}
		char name[96], help[128];
		snprintf(name, sizeof name, AUTOSENDFILE_PROM_PREFIX "%s_total", key);
		const char *h = help_of(key);
		if (!h) {
			snprintf(help, sizeof help, "The stats line's %s counter.", key);
			h = help;
		}
		header(out, name, "counter", h);
		for (size_t j = 0; j < n; j++) {
			if (k >= v[j]->ncounters)
				continue;
			fprintf(out, "%s{", name);
			labels(out, v[j]);
			fprintf(out, "} %llu\n", value(v[j], k));
		}
	}
	header(out, AUTOSENDFILE_PROM_RUNNING, "gauge",
	       "1 while the process runs; 0 once it ended (exit, _exit, a signal, or exec).");
	for (size_t j = 0; j < n; j++) {
		fprintf(out, "%s{", AUTOSENDFILE_PROM_RUNNING);
		labels(out, v[j]);
		fprintf(out, "} %d\n", v[j]->running ? 1 : 0);
	}
}
