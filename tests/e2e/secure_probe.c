/* secure_probe: a small program for the setuid / AT_SECURE and stats-file tests.
 *
 * `secure_probe [FILE]` copies FILE (if given) to stdout with read()/write(), then prints one
 * line to stderr describing how it runs:
 *   probe: ruid=R euid=E at_secure=0|1 lib_loaded=0|1 env_stats=set|unset
 * lib_loaded: a mapping whose path contains "autosendfile" is in /proc/self/maps (the
 * preloaded library is really in the process); env_stats: AUTOSENDFILE_STATS is in the
 * environment (plain getenv: the variable reached the program). Exits 0 normally (so
 * destructors run), 1 on an I/O error. Keeps stdout and stderr open until exit.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

static int copy(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		dprintf(2, "probe: open %s: %s\n", path, strerror(errno));
		return -1;
	}
	static char buf[65536];
	for (;;) {
		ssize_t r = read(fd, buf, sizeof buf);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			dprintf(2, "probe: read: %s\n", strerror(errno));
			close(fd);
			return -1;
		}
		if (r == 0)
			break;
		for (ssize_t off = 0; off < r;) {
			ssize_t w = write(1, buf + off, (size_t)(r - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				dprintf(2, "probe: write: %s\n", strerror(errno));
				close(fd);
				return -1;
			}
			off += w;
		}
	}
	close(fd);
	return 0;
}

static int lib_loaded(void)
{
	FILE *f = fopen("/proc/self/maps", "re");
	if (!f)
		return 0;
	char line[4096];
	int found = 0;
	while (fgets(line, sizeof line, f))
		if (strstr(line, "autosendfile"))
			found = 1;
	fclose(f);
	return found;
}

int main(int argc, char **argv)
{
	if (argc > 1 && copy(argv[1]) != 0)
		return 1;
	dprintf(2, "probe: ruid=%d euid=%d at_secure=%lu lib_loaded=%d env_stats=%s\n",
		(int)getuid(), (int)geteuid(), getauxval(AT_SECURE), lib_loaded(),
		getenv("AUTOSENDFILE_STATS") ? "set" : "unset");
	return 0;
}
