/* autosendfile: the launcher. Runs a command with the library preloaded:
 *   autosendfile [--stats FILE] [--log LEVEL] [--] COMMAND [ARGS...]
 * or prints the live counters of processes under it (launcher_stat.c):
 *   autosendfile --stat [--format text|prometheus] [--watch SECONDS [--count N]] [PID...]
 * It finds the library next to itself (the build tree), in ../lib or ../lib/MULTIARCH (an
 * install), in ../lib/MULTIARCH/autosendfile (the Debian package: a preload library has no
 * SONAME, so it stays out of the linker's path; found there even when unpacked under another
 * root), or at the path compiled in, prepends it to LD_PRELOAD, sets the options and execs
 * the command. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "autosendfile.h"
#include "launcher_stat.h"

#ifndef ASF_LIBDIR
#define ASF_LIBDIR "/usr/local/lib"
#endif
#define LIBNAME "libautosendfile.so"
#ifndef ASF_MULTIARCH
#define ASF_MULTIARCH "" /* the compiler knew no triplet: ../lib/ is tried twice */
#endif

static void usage(FILE *out)
{
	fprintf(out,
		"usage: autosendfile [--stats FILE] [--log LEVEL] [--] COMMAND [ARGS...]\n"
		"       autosendfile --stat [--format text|prometheus] [--watch SECONDS [--count N]]\n"
		"                           [PID...]\n"
		"Runs COMMAND with libautosendfile preloaded: its file-to-socket copy loops\n"
		"are sent with sendfile(2), byte for byte as the program wrote them.\n\n"
		"  --stats FILE   append a statistics line per process at exit to FILE\n"
		"                 (or 'stderr'); sets " AUTOSENDFILE_ENV_STATS "\n"
		"  --log LEVEL    error|warn|info|debug; sets " AUTOSENDFILE_ENV_LOG "\n"
		"  --stat         print the live counters of processes under the library\n"
		"                 (see autosendfile --stat --help for the format)\n"
		"  --help         this text\n"
		"  --version      the version\n\n"
		"Other settings come from the environment: " AUTOSENDFILE_ENV_ENABLE "=0, "
		AUTOSENDFILE_ENV_MIN_BYTES ", " AUTOSENDFILE_ENV_CHUNK ". See autosendfile(1).\n\n");
	asf_stat_usage(out);
}

/* Looks for the library; fills path and returns 0, or -1. */
static int find_library(char *path, size_t size)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n > 0) {
		self[n] = '\0';
		char *slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			const char *rel[] = { "/" LIBNAME, "/../lib/" LIBNAME,
					      "/../lib/" ASF_MULTIARCH "/" LIBNAME,
					      "/../lib/" ASF_MULTIARCH "/autosendfile/" LIBNAME };
			for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
				char cand[PATH_MAX];
				if ((size_t)snprintf(cand, sizeof cand, "%s%s", self, rel[i]) >= sizeof cand)
					continue;
				if (access(cand, R_OK) == 0 && realpath(cand, path) != NULL)
					return 0;
			}
		}
	}
	if ((size_t)snprintf(path, size, "%s/%s", ASF_LIBDIR, LIBNAME) < size &&
	    access(path, R_OK) == 0)
		return 0;
	return -1;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--stat") == 0)
		return asf_stat_main(argc - 2, argv + 2);
	int i = 1;
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		} else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(a, "--version") == 0) {
			printf("autosendfile %s\n", AUTOSENDFILE_VERSION);
			return 0;
		} else if (strcmp(a, "--stats") == 0 || strcmp(a, "--log") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "autosendfile: %s needs a value\n", a);
				return 2;
			}
			const char *var = a[2] == 's' ? AUTOSENDFILE_ENV_STATS : AUTOSENDFILE_ENV_LOG;
			setenv(var, argv[++i], 1);
		} else if (a[0] == '-' && a[1] != '\0') {
			fprintf(stderr, "autosendfile: unknown option %s (try --help)\n", a);
			return 2;
		} else {
			break;
		}
	}
	if (i >= argc) {
		fprintf(stderr, "autosendfile: no command given (try --help)\n");
		return 127;
	}

	char lib[PATH_MAX];
	if (find_library(lib, sizeof lib) != 0) {
		fprintf(stderr, "autosendfile: cannot find %s next to the launcher or in %s\n",
			LIBNAME, ASF_LIBDIR);
		return 127;
	}
	const char *old = getenv("LD_PRELOAD");
	char *preload;
	if (asprintf(&preload, "%s%s%s", lib, old && *old ? ":" : "", old ? old : "") < 0) {
		fprintf(stderr, "autosendfile: out of memory\n");
		return 127;
	}
	setenv("LD_PRELOAD", preload, 1);
	free(preload);

	execvp(argv[i], &argv[i]);
	int err = errno;
	fprintf(stderr, "autosendfile: %s: %s\n", argv[i],
		err == ENOENT ? "command not found" : strerror(err));
	return err == ENOENT ? 127 : 126;
}
