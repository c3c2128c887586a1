/*
 * bench-chunk.c - measure the sender-side cost of the ways autosendfile could move
 * file bytes to a TCP socket, to pick the library defaults (AUTOSENDFILE_CHUNK and
 * AUTOSENDFILE_MIN_BYTES).
 *
 * Build: cc -O2 -std=gnu11 -Wall -Wextra -Werror -pthread -o build/demo/bench-chunk demo/bench-chunk.c
 *
 * One invocation = one timed run. It forks a receiver process that accepts one TCP
 * connection on 127.0.0.1 and discards everything with recv(..., MSG_TRUNC) (a stand-in
 * for a NIC), then the parent (the sender) loops over a page-cache-hot file in one mode:
 *
 *   rw          read(file, buf, B) + write(sock, buf, n)
 *   rsf         read(file, buf, B) + sendfile(sock, file, &off, n) in sub-calls <= C
 *   rsf-verify  like rsf, plus memcpy(shadow, buf, n) after the read, memcmp(buf, shadow, n)
 *               before the sendfile, and fstat(file) + fstat(sock) per write (the
 *               exactness checks the library does on a redirected write)
 *   sf          pure sendfile(sock, file, &off, C) over the file
 *
 * The run ends after -p passes over the file or after -t seconds, whichever comes first
 * (the time check is done every few operations, so a run may stop mid-pass; the byte
 * count is exact). Output is one line of key=value pairs:
 *   mode=.. B=.. C=.. file=.. bytes=.. passes=.. secs=.. GBps=.. cpu_s_per_GB=.. user=.. sys=..
 * GB = 1e9 bytes. CPU = getrusage(RUSAGE_SELF) of the sender (user+sys) over the timed loop.
 * The receiver reports the byte count it got; a mismatch is an error (exit 1).
 *
 * Options:
 *   -m MODE   rw | rsf | rsf-verify | sf           (default rsf)
 *   -B SIZE   read size B                          (default 64K)
 *   -C SIZE   sendfile cap C                       (default 64K)
 *   -f PATH   data file                            (default $TMPDIR/bench-chunk.dat or /tmp/..)
 *   -s SIZE   create/resize PATH to SIZE bytes if its size differs (default 256M)
 *   -p N      max passes over the file             (default 1000000)
 *   -t SECS   time bound in seconds, 0 = none      (default 1.5)
 *   -w SECS   untimed warm-up of the connection    (default 0.2)
 *   -M MSS    setsockopt(TCP_MAXSEG, MSS) on the sender socket before connect (default:
 *             none, i.e. loopback's MSS of ~65483 from its 65536 MTU; 1448 mimics Ethernet)
 *   -N        set TCP_NODELAY on the sender socket
 * SIZE accepts suffixes K, M, G (powers of 1024).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"

enum mode { M_RW, M_RSF, M_RSF_VERIFY, M_SF };
static const char *mode_names[] = { "rw", "rsf", "rsf-verify", "sf" };

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double tv2s(struct timeval tv)
{
	return tv.tv_sec + tv.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
	enum mode mode = M_RSF;
	size_t B = 64 << 10, C = 64 << 10, fsize = (size_t)256 << 20;
	unsigned long passes = 1000000;
	double tbound = 1.5, warm = 0.2;
	int mss = 0, nodelay = 0;
	const char *path = NULL;
	char defpath[4096];
	int opt;

	while ((opt = getopt(argc, argv, "m:B:C:f:s:p:t:w:M:Nh")) != -1) {
		switch (opt) {
		case 'm': {
			int ok = 0;
			for (int i = 0; i < 4; i++)
				if (!strcmp(optarg, mode_names[i])) {
					mode = (enum mode)i;
					ok = 1;
				}
			if (!ok) {
				fprintf(stderr, "bad mode %s\n", optarg);
				return 2;
			}
			break;
		}
		case 'B': B = parse_size(optarg, NULL); break;
		case 'C': C = parse_size(optarg, NULL); break;
		case 'f': path = optarg; break;
		case 's': fsize = parse_size(optarg, NULL); break;
		case 'p': passes = strtoul(optarg, NULL, 10); break;
		case 't': tbound = atof(optarg); break;
		case 'w': warm = atof(optarg); break;
		case 'M': mss = atoi(optarg); break;
		case 'N': nodelay = 1; break;
		default:
			fprintf(stderr, "usage: %s [-m rw|rsf|rsf-verify|sf] [-B size] [-C cap] "
					"[-f file] [-s filesize] [-p passes] [-t secs] [-w secs] [-M mss] [-N]\n",
				argv[0]);
			return 2;
		}
	}
	if (B == 0 || C == 0 || fsize == 0 || passes == 0) {
		fprintf(stderr, "B, C, file size and passes must be > 0\n");
		return 2;
	}
	if (!path) {
		const char *td = getenv("TMPDIR");
		snprintf(defpath, sizeof defpath, "%s/bench-chunk.dat", td && *td ? td : "/tmp");
		path = defpath;
	}
	ensure_file(path, fsize);
	signal(SIGPIPE, SIG_IGN);

	int file = open(path, O_RDONLY);
	if (file < 0)
		die("open");
	char *buf = aligned_alloc(4096, (B + 4095) & ~(size_t)4095);
	char *shadow = aligned_alloc(4096, (B + 4095) & ~(size_t)4095);
	if (!buf || !shadow)
		die("malloc");

	/* make the file hot in the page cache */
	{
		char *tmp = malloc(1 << 20);
		while (read(file, tmp, 1 << 20) > 0)
			;
		free(tmp);
	}

	pid_t kid;
	int report;
	int sock = discard_peer(mss, nodelay, file, &kid, &report);

	/* untimed warm-up of the connection (sendfile 64K pieces), counted separately */
	unsigned long long warm_bytes = 0;
	if (warm > 0) {
		double end = now() + warm;
		off_t off = 0;
		while (now() < end) {
			size_t n = (size_t)fsize - (size_t)off < (64u << 10) ? (size_t)fsize - (size_t)off : (64u << 10);
			sendfile_all(sock, file, off, n, n);
			warm_bytes += n;
			off += (off_t)n;
			if ((size_t)off >= fsize)
				off = 0;
		}
	}
	struct rusage ru0, ru1;
	unsigned long long bytes = 0;
	unsigned long done_passes = 0;
	double t0 = now(), deadline = tbound > 0 ? t0 + tbound : 1e300;
	getrusage(RUSAGE_SELF, &ru0);
	int stop = 0;
	unsigned iter = 0; /* across passes: a file of fewer than 32 blocks still checks -t */
	for (unsigned long p = 0; p < passes && !stop; p++) {
		off_t off = 0;
		if (lseek(file, 0, SEEK_SET) < 0)
			die("lseek");
		for (;;) {
			if ((++iter & 31) == 0 && now() >= deadline) {
				stop = 1;
				break;
			}
			if (mode == M_SF) {
				size_t n = (size_t)fsize - (size_t)off < C ? (size_t)fsize - (size_t)off : C;
				if (n == 0)
					break;
				ssize_t s = sendfile(sock, file, &off, n); /* advances off */
				if (s < 0) {
					if (errno == EINTR)
						continue;
					die("sendfile");
				}
				if (s == 0)
					break;
				bytes += (unsigned long long)s;
				continue;
			}
			ssize_t n = read(file, buf, B);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				die("read");
			}
			if (n == 0)
				break;
			switch (mode) {
			case M_RW:
				write_all(sock, buf, (size_t)n);
				break;
			case M_RSF:
				sendfile_all(sock, file, off, (size_t)n, C);
				break;
			case M_RSF_VERIFY: {
				struct stat st;
				memcpy(shadow, buf, (size_t)n);
				/* ... the application would run here; then its write() arrives ... */
				if (fstat(file, &st))
					die("fstat(file)");
				if (fstat(sock, &st))
					die("fstat(sock)");
				if (memcmp(buf, shadow, (size_t)n)) {
					fprintf(stderr, "verify mismatch\n");
					exit(1);
				}
				sendfile_all(sock, file, off, (size_t)n, C);
				break;
			}
			case M_SF:
				break;
			}
			off += n;
			bytes += (unsigned long long)n;
		}
		if (!stop)
			done_passes++;
	}
	getrusage(RUSAGE_SELF, &ru1);
	double t1 = now();

	if (shutdown(sock, SHUT_WR))
		die("shutdown");
	unsigned long long got = 0;
	if (read(report, &got, sizeof got) != sizeof got)
		die("read(report)");
	int status;
	waitpid(kid, &status, 0);
	close(sock);

	double secs = t1 - t0;
	double cpu = tv2s(ru1.ru_utime) - tv2s(ru0.ru_utime) + tv2s(ru1.ru_stime) - tv2s(ru0.ru_stime);
	double gb = bytes / 1e9;
	printf("mss=%d nodelay=%d mode=%s B=%zu C=%zu file=%zu bytes=%llu passes=%lu secs=%.3f GBps=%.3f "
	       "cpu_s_per_GB=%.4f user=%.3f sys=%.3f recv_total=%llu\n",
	       mss, nodelay, mode_names[mode], B, C, fsize, bytes, done_passes, secs, gb / secs,
	       gb > 0 ? cpu / gb : 0.0,
	       tv2s(ru1.ru_utime) - tv2s(ru0.ru_utime), tv2s(ru1.ru_stime) - tv2s(ru0.ru_stime),
	       got - warm_bytes);
	if (got != bytes + warm_bytes) {
		fprintf(stderr, "receiver got %llu bytes, sender sent %llu\n", got, bytes + warm_bytes);
		return 1;
	}
	return 0;
}
