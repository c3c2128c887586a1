/* autosendfile --stat [--format text|prometheus] [--watch SECONDS [--count N]] [PID...]: the
 * counters of processes under the library, read from their live counters files
 * (livefile.h), one line per pid: the stats line followed by state= and comm=, or the
 * Prometheus text format (launcher_prom.c). The format is documented in asf_stat_usage()
 * and is meant for scripts: keys are only ever added at the end. */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "autosendfile.h"
#include "launcher_stat.h"
#include "livefile.h"

struct list {
	struct asf_stat_entry *v;
	size_t n, cap;
};

static void add(struct list *l, const struct asf_stat_entry *e)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct asf_stat_entry *v = realloc(l->v, cap * sizeof *v);
		if (!v)
			return;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = *e;
}

/* Reads one counters file into the list (a file that is not one is skipped). */
static void read_file(int dirfd, const char *name, unsigned uid, struct list *l)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	struct stat st;
	char *buf = NULL;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == uid &&
	    st.st_size >= (off_t)sizeof(struct asf_live_header) && st.st_size <= (16 << 20))
		buf = malloc((size_t)st.st_size);
	ssize_t got = buf ? pread(fd, buf, (size_t)st.st_size, 0) : -1;
	close(fd);
	const struct asf_live_header *h = (const void *)buf;
	if (got > 0 && asf_live_header_ok(h, (size_t)got)) {
		for (uint32_t i = 0; i < h->nslots; i++) {
			const struct asf_live_slot *s = asf_live_slot_at(buf, i);
			if (s->pid == 0 || (s->seq & 1) || s->state == ASF_SLOT_FREE)
				continue;
			struct asf_stat_entry e = { .pid = s->pid, .state = s->state, .start = s->start,
					   .born = s->born_ns, .exact = s->start_exact != 0 };
			memcpy(e.comm, s->comm, sizeof e.comm);
			e.comm[sizeof e.comm - 1] = '\0';
			e.ncounters = h->ncounters < ASF_STATS_COUNTERS ? h->ncounters : ASF_STATS_COUNTERS;
			memcpy(&e.c, &s->c, e.ncounters * sizeof(uint64_t));
			add(l, &e);
		}
	}
	free(buf);
}

static void read_dir(const char *path, unsigned uid, struct list *l)
{
	int dirfd = asf_live_dir_open(path, uid, false);
	if (dirfd < 0)
		return;
	DIR *d = fdopendir(dirfd);
	if (!d) {
		close(dirfd);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			read_file(dirfd, de->d_name, uid, l);
	closedir(d);
}

/* Every per-user directory under base (root asking for given pids: workers of other users). */
static void read_all_users(const char *base, struct list *l)
{
	DIR *d = opendir(base);
	if (!d)
		return;
	struct dirent *de;
	size_t plen = strlen(AUTOSENDFILE_LIVE_PREFIX);
	while ((de = readdir(d)) != NULL) {
		char *end;
		if (strncmp(de->d_name, AUTOSENDFILE_LIVE_PREFIX, plen) != 0 || !isdigit((unsigned char)de->d_name[plen]))
			continue;
		unsigned long uid = strtoul(de->d_name + plen, &end, 10);
		if (*end || uid == (unsigned long)geteuid())
			continue;
		char path[PATH_MAX];
		if (asf_live_dir_path(path, sizeof path, base, (unsigned)uid))
			read_dir(path, (unsigned)uid, l);
	}
	closedir(d);
}

static int by_pid(const void *a, const void *b)
{
	const struct asf_stat_entry *x = a, *y = b;
	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return x->born < y->born ? -1 : x->born > y->born;
}

static bool all_zero(const struct asf_stat_entry *e)
{
	const uint64_t *v = (const uint64_t *)&e->c;
	for (size_t i = 0; i < e->ncounters; i++)
		if (v[i])
			return false;
	return true;
}

/* The directories to read: AUTOSENDFILE_LIVE=/dir, or the defaults. A directory the user
 * named that does not exist is said once: every --watch round would find it missing. */
static size_t live_bases(const char **bases)
{
	static const char *const defaults[] = { AUTOSENDFILE_LIVE_DIRS };
	static bool warned;
	const char *env = getenv(AUTOSENDFILE_ENV_LIVE);
	if (env && env[0] == '/') {
		struct stat st;
		bool exists = stat(env, &st) == 0;
		if (!warned && (!exists || !S_ISDIR(st.st_mode)))
			fprintf(stderr, "autosendfile: warning: %s=\"%s\" %s; no live counters there\n",
				AUTOSENDFILE_ENV_LIVE, env, exists ? "is not a directory" : "does not exist");
		warned = true;
		bases[0] = env;
		return 1;
	}
	size_t n = sizeof defaults / sizeof defaults[0];
	memcpy(bases, defaults, sizeof defaults);
	return n;
}

/* Every slot of the live files, then one entry per pid: the process running now with that
 * pid, or else the last one that had it (pids are reused, and an exec leaves the earlier
 * image's slot behind). */
static void collect(struct list *l, bool other_users)
{
	l->n = 0;
	const char *bases[8];
	size_t nbases = live_bases(bases);
	for (size_t i = 0; i < nbases; i++) {
		char path[PATH_MAX];
		if (asf_live_dir_path(path, sizeof path, bases[i], (unsigned)geteuid()))
			read_dir(path, (unsigned)geteuid(), l);
		if (other_users)
			read_all_users(bases[i], l);
	}
	qsort(l->v, l->n, sizeof *l->v, by_pid);
	for (size_t i = 0; i < l->n; i++) {
		struct asf_stat_entry *e = &l->v[i];
		e->running = e->state == ASF_SLOT_RUNNING && asf_live_running(e->pid, e->start, e->exact);
	}
	size_t out = 0;
	for (size_t i = 0; i < l->n;) {
		size_t pick = i, j = i;
		for (; j < l->n && l->v[j].pid == l->v[i].pid; j++) /* oldest first */
			if (l->v[j].running || !l->v[pick].running)
				pick = j;
		l->v[out++] = l->v[pick];
		i = j;
	}
	l->n = out;
}

/* A pid asked for is shown however idle it was; without pids, an ended process is shown
 * only if it did something (a shell, env or readlink under the library did not). */
static bool wanted(const struct asf_stat_entry *e, const long *pids, int npids)
{
	if (npids == 0)
		return e->running || !all_zero(e);
	for (int i = 0; i < npids; i++)
		if (pids[i] == (long)e->pid)
			return true;
	return false;
}

void asf_stat_comm(char out[16], const struct asf_stat_entry *e)
{
	for (size_t i = 0; i < sizeof e->comm; i++) /* one word, whatever the program named itself */
		out[i] = e->comm[i] && !isgraph((unsigned char)e->comm[i]) ? '_' : e->comm[i];
	out[15] = '\0';
	if (!out[0])
		strcpy(out, "?");
}

static void print_entry(const struct asf_stat_entry *e, const struct asf_stat_entry *prev, double secs, bool rates)
{
	char line[1024], comm[16];
	asf_statline_format(line, sizeof line, (int)e->pid, &e->c, e->ncounters);
	asf_stat_comm(comm, e);
	printf("%s state=%s comm=%s", line, e->running ? "running" : "ended", comm);
	if (rates) {
		double r = 0, p = 0;
		if (prev && secs > 0) {
			r = (double)(e->c.redirected_bytes - prev->c.redirected_bytes) / secs;
			p = (double)(e->c.passthrough_bytes - prev->c.passthrough_bytes) / secs;
		}
		printf(" redirected_per_s=%.0f passthrough_per_s=%.0f", r < 0 ? 0 : r, p < 0 ? 0 : p);
	}
	putchar('\n');
}

static const struct asf_stat_entry *find(const struct list *l, const struct asf_stat_entry *e)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].pid == e->pid && l->v[i].born == e->born)
			return &l->v[i];
	return NULL;
}

void asf_stat_usage(FILE *out)
{
	fprintf(out,
		"usage: autosendfile --stat [--format text|prometheus] [--watch SECONDS [--count N]]\n"
		"                           [PID...]\n"
		"Prints the counters of processes running, or that ran, under the library,\n"
		"read from their live counters files (in /dev/shm/" AUTOSENDFILE_LIVE_PREFIX "UID,\n"
		"else /tmp/" AUTOSENDFILE_LIVE_PREFIX "UID; " AUTOSENDFILE_ENV_LIVE "=/dir: /dir/" AUTOSENDFILE_LIVE_PREFIX "UID).\n"
		"One process per pid: the one running now, else the last one that had the pid.\n"
		"No PID: every process of this user that runs, or that ended having sent\n"
		"socket bytes; a PID given is shown however little it did. A process has\n"
		"counters from its first stream socket on: one that has touched none has none.\n\n"
		"One line per process, sorted by pid:\n"
		"  autosendfile: pid=P redirected_bytes=N ... why_other=N state=running|ended comm=NAME\n"
		"The keys up to why_other are those of the AUTOSENDFILE_STATS line, in the same\n"
		"order (see autosendfile(1)). state: running, or ended (exited, _exit, killed\n"
		"by a signal, or replaced by exec). comm: the program name, blanks as '_'.\n"
		"With --watch, every SECONDS: a line '--- time=UNIX processes=N', then the\n"
		"lines with redirected_per_s=N passthrough_per_s=N (bytes per second) added;\n"
		"--count N stops after N refreshes.\n"
		"This format is stable, for scripts: keys are only ever added at the end.\n\n"
		"--format prometheus: the same processes in Prometheus' text exposition format\n"
		"(for node_exporter's textfile collector): counters autosendfile_KEY_total for\n"
		"each key above but the why_* ones, autosendfile_passthrough_why_bytes_total\n"
		"with a reason label for those (why_small: reason=\"small\"), and the gauge\n"
		"autosendfile_running; labels pid and comm.\n"
		"Exit status: 0; 1 if a PID given has no counters; 2 on a usage error.\n");
}

int asf_stat_main(int argc, char **argv)
{
	double watch = 0;
	bool prom = false;
	long count = 0, *pids = calloc((size_t)argc + 1, sizeof *pids);
	int npids = 0;
	for (int i = 0; i < argc; i++) {
		char *end;
		if (strcmp(argv[i], "--watch") == 0 && i + 1 < argc) {
			watch = strtod(argv[++i], &end);
			if (*end || !(watch > 0 && watch <= 86400)) {
				fprintf(stderr, "autosendfile: --watch needs seconds (0 < s <= 86400)\n");
				return 2;
			}
		} else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc) {
			count = strtol(argv[++i], &end, 10);
			if (*end || count <= 0) {
				fprintf(stderr, "autosendfile: --count needs a positive number\n");
				return 2;
			}
		} else if (strcmp(argv[i], "--format") == 0 && i + 1 < argc) {
			const char *f = argv[++i];
			if (strcmp(f, "prometheus") != 0 && strcmp(f, "text") != 0) {
				fprintf(stderr, "autosendfile: --format: text or prometheus, not %s\n", f);
				return 2;
			}
			prom = f[0] == 'p';
		} else if (strcmp(argv[i], "--help") == 0) {
			asf_stat_usage(stdout);
			return 0;
		} else {
			long p = strtol(argv[i], &end, 10);
			if (!isdigit((unsigned char)argv[i][0]) || *end || p <= 0 || p > INT_MAX) {
				fprintf(stderr, "autosendfile: --stat: not a pid: %s (try --stat --help)\n",
					argv[i]);
				return 2;
			}
			pids[npids++] = p;
		}
	}
	if (prom && watch > 0) {
		fprintf(stderr, "autosendfile: --format prometheus is read once: no --watch "
				"(let the scraper or a timer repeat it)\n");
		return 2;
	}
	bool other_users = npids > 0 && geteuid() == 0;
	struct list now = { 0 }, before = { 0 };
	collect(&now, other_users);
	if (watch <= 0) {
		int rc = 0;
		const struct asf_stat_entry **shown = calloc(now.n + 1, sizeof *shown);
		size_t nshown = 0;
		for (size_t i = 0; i < now.n && shown; i++)
			if (wanted(&now.v[i], pids, npids))
				shown[nshown++] = &now.v[i];
		if (prom)
			asf_stat_prometheus(stdout, shown, nshown);
		else
			for (size_t i = 0; i < nshown; i++)
				print_entry(shown[i], NULL, 0, false);
		for (int k = 0; k < npids; k++) {
			bool seen = false;
			for (size_t i = 0; i < now.n && !seen; i++)
				seen = now.v[i].pid == (uint32_t)pids[k];
			if (!seen) {
				fprintf(stderr, "autosendfile: pid %ld: no live counters\n", pids[k]);
				rc = 1;
			}
		}
		if (fflush(stdout) != 0 || ferror(stdout)) {
			fprintf(stderr, "autosendfile: --stat: cannot write the output\n");
			rc = 1;
		}
		return rc;
	}
	for (long round = 0; count == 0 || round < count; round++) {
		struct timespec ts = { (time_t)watch, (long)((watch - (double)(time_t)watch) * 1e9) };
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
		struct list t = before;
		before = now;
		now = t;
		collect(&now, other_users);
		size_t shown = 0;
		for (size_t i = 0; i < now.n; i++)
			shown += wanted(&now.v[i], pids, npids);
		printf("--- time=%lld processes=%zu\n", (long long)time(NULL), shown);
		for (size_t i = 0; i < now.n; i++)
			if (wanted(&now.v[i], pids, npids))
				print_entry(&now.v[i], find(&before, &now.v[i]), watch, true);
		fflush(stdout);
	}
	return 0;
}
