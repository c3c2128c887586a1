/* startcost.c - what a preloaded library adds to the start (and end) of a short process.
 *
 *   startcost ROUNDS RUNS LABEL=PRELOAD [LABEL=PRELOAD...] -- CMD [ARGS...]
 *
 * Runs CMD RUNS times in a row with LD_PRELOAD=PRELOAD (empty: unset) for each variant, in
 * ROUNDS interleaved rounds (the variant order rotates from round to round, so a drift of
 * the machine hits every variant alike). Each run is posix_spawn + wait4, timed with
 * CLOCK_MONOTONIC; wait4's rusage gives the child's minor page faults. Prints a line per
 * round and variant (demo/bench-start.sh takes the medians):
 *   ROUND LABEL MS_PER_RUN MINFLT
 * MS_PER_RUN: the round's mean wall time per run (spawn to reaped); MINFLT: the median of
 * the round's runs' minor faults. */
#define _GNU_SOURCE
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;
	return x < y ? -1 : x > y;
}

/* environ without LD_PRELOAD, plus LD_PRELOAD=preload unless it is empty. */
static char **make_env(const char *preload)
{
	size_t n = 0;
	while (environ[n])
		n++;
	char **env = calloc(n + 2, sizeof *env);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "LD_PRELOAD=", 11) != 0)
			env[k++] = environ[i];
	if (*preload) {
		char *v = malloc(strlen(preload) + 12);
		sprintf(v, "LD_PRELOAD=%s", preload);
		env[k++] = v;
	}
	env[k] = NULL;
	return env;
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: startcost ROUNDS RUNS LABEL=PRELOAD... -- CMD [ARGS...]\n");
		return 2;
	}
	int rounds = atoi(argv[1]), runs = atoi(argv[2]);
	int nv = 0, cmd = 0;
	for (int i = 3; i < argc; i++)
		if (strcmp(argv[i], "--") == 0) {
			cmd = i + 1;
			break;
		}
	nv = cmd - 4;
	if (rounds < 1 || runs < 1 || cmd == 0 || cmd >= argc || nv < 1) {
		fprintf(stderr, "startcost: bad arguments\n");
		return 2;
	}
	char *label[nv], **env[nv];
	long flt[runs];
	for (int v = 0; v < nv; v++) {
		char *eq = strchr(argv[3 + v], '=');
		if (!eq) {
			fprintf(stderr, "startcost: %s is not LABEL=PRELOAD\n", argv[3 + v]);
			return 2;
		}
		*eq = '\0';
		label[v] = argv[3 + v];
		env[v] = make_env(eq + 1);
	}
	for (int r = 0; r < rounds; r++)
		for (int k = 0; k < nv; k++) {
			int v = (r + k) % nv;
			double t0 = now_ms();
			for (int i = 0; i < runs; i++) {
				pid_t pid;
				if (posix_spawn(&pid, argv[cmd], NULL, NULL, argv + cmd, env[v]) != 0) {
					perror("posix_spawn");
					return 1;
				}
				int st;
				struct rusage ru;
				if (wait4(pid, &st, 0, &ru) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) {
					fprintf(stderr, "startcost: %s failed under %s\n", argv[cmd], label[v]);
					return 1;
				}
				flt[i] = ru.ru_minflt;
			}
			double ms = (now_ms() - t0) / runs;
			qsort(flt, (size_t)runs, sizeof(long), cmp_long);
			printf("%d %s %.4f %ld\n", r, label[v], ms, flt[runs / 2]);
		}
	return 0;
}
