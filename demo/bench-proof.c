/*
 * bench-proof.c - what it costs to prove, just before a sendfile, that a program's buffer
 * holds the file's bytes: the candidates of issue 13 side by side, per chunk.
 *
 * Build: make build/demo/bench-proof   (every demo C file is built so)
 * Run:   flock /tmp/asf-bench.lock build/demo/bench-proof [options]
 *
 * A loop of read(fd, buf, C) over a page-cache-hot file, then one of these proofs of buf:
 *
 *   none        nothing (the baseline; its "proof" time is the cost of the two clock reads)
 *   shadow      at the read memcpy(shadow, buf, n), at the write memcmp(buf, shadow, n): the
 *               library's previous engine. The shadow sits at 2048 (mod 4096) from buf.
 *   shadow-4k   the same with shadow = buf + C + 16, where two plain malloc(C) would put it:
 *               a 4 KiB multiple + 16 from buf (the 4K-aliasing case of shared/FINDINGS.md)
 *   map-file    memcmp(buf, map + off, n) against a PROT_READ MAP_SHARED mapping of the whole
 *               file, under a fault guard (sigsetjmp), mapped at each open of the file and
 *               unmapped at its close: the mmap, the page faults and the munmap are counted
 *               in the proof (the current engine, src/source.c + src/views.c, on a file
 *               opened once)
 *   map-kept    the same, the mapping made once and kept (the library keeps a view 2 s and
 *               reuses it for the next open of the same file): no faults in the loop
 *   pread       pread(fd, scratch, n, off) + memcmp(buf, scratch, n): a syscall-based proof
 *   sample      NOT EXACT: memcmp of the first 64 bytes of each 4 KiB of the file range and
 *               its last 64 bytes, against the kept mapping (AUTOSENDFILE_VERIFY=sample)
 *
 * and, for context, the same read loop followed by the write it stands before:
 *
 *   rsf         read(fd, buf, C) + sendfile(sock, fd, &off, n)
 *   rw          read(fd, buf, C) + write(sock, buf, n)   (the plain copy loop)
 *
 * to a TCP connection over 127.0.0.1 whose peer (a forked process) discards with
 * recv(MSG_TRUNC). On loopback the sender's CPU includes the receive-side softirq work.
 *
 * Each run = -p passes over the file (one open per pass). Per rep, every (C, candidate)
 * runs once, in an order rotated from rep to rep; one untimed rep warms everything. For each
 * run: the proof's wall time summed inside the loop (CLOCK_MONOTONIC around each proof), the
 * loop's wall time (CLOCK_MONOTONIC) and its CPU time (getrusage RUSAGE_SELF, user + sys).
 * Figures are medians over the reps, per chunk:
 *   proof ns    in-loop proof time minus the same C's "none" (the clock reads' own cost);
 *               (min-max) over the reps
 *   proof GB/s  C / proof ns (GB = 1e9 bytes)
 *   CPU ns      the loop's CPU time per chunk (read + proof, or read + write)
 *   dCPU        CPU ns minus the same C's "none" CPU ns
 *   %rsf        proof ns / the CPU ns of rsf at the same C: what the proof adds to a
 *               read+sendfile loop's CPU
 *
 * Options:
 *   -f PATH   data file (default $TMPDIR/bench-proof.dat or /tmp/bench-proof.dat)
 *   -s SIZE   create/resize PATH to SIZE bytes if its size differs   (default 64M)
 *   -c LIST   chunk sizes, comma-separated                           (default 16K,64K,1M)
 *   -r N      timed reps                                             (default 7)
 *   -p N      passes over the file per run                           (default 2)
 *   -x        no socket: skip rsf and rw
 *   -v        print every run's raw figures too
 * SIZE accepts suffixes K, M, G (powers of 1024).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "autosendfile.h" /* AUTOSENDFILE_SAMPLE_SPAN, AUTOSENDFILE_SAMPLE_STRIDE */
#include "benchutil.h"

enum cand { K_NONE, K_SHADOW, K_SHADOW_4K, K_MAP_FILE, K_MAP_KEPT, K_PREAD, K_SAMPLE, K_RSF,
	    K_RW, NCAND };
static const char *cand_names[NCAND] = { "none", "shadow", "shadow-4k", "map-file", "map-kept",
					 "pread", "sample", "rsf", "rw" };
static const char *cand_exact[NCAND] = { "-", "yes", "yes", "yes", "yes", "yes", "NO", "", "" };

#define MAXC 8
#define MAXREP 64

static inline uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t cpu_ns(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru))
		die("getrusage");
	return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000u +
	       ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000u;
}

/* ---- a fault guard like the library's (src/signals.c): a compare that faults returns ---- */

static sigjmp_buf guard_env;
static volatile sig_atomic_t guard_armed;

static void on_fault(int sig, siginfo_t *info, void *ctx)
{
	(void)info;
	(void)ctx;
	if (guard_armed) {
		guard_armed = 0;
		siglongjmp(guard_env, 1);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

struct cmp {
	const unsigned char *a, *b;
	size_t n;
	off_t off;
};

static int equal_full(const struct cmp *c)
{
	return memcmp(c->a, c->b, c->n) == 0;
}

/* the library's equal_sampled (src/source.c): file offsets o with o % STRIDE < SPAN, and the
 * range's last SPAN bytes */
static int equal_sampled(const struct cmp *c)
{
	uint64_t from = (uint64_t)c->off, to = from + c->n;
	for (uint64_t p = from - from % AUTOSENDFILE_SAMPLE_STRIDE; p < to;
	     p += AUTOSENDFILE_SAMPLE_STRIDE) {
		uint64_t lo = p > from ? p : from;
		uint64_t hi = p + AUTOSENDFILE_SAMPLE_SPAN < to ? p + AUTOSENDFILE_SAMPLE_SPAN : to;
		if (lo < hi && memcmp(c->a + (lo - from), c->b + (lo - from), hi - lo) != 0)
			return 0;
	}
	size_t tail = c->n > AUTOSENDFILE_SAMPLE_SPAN ? c->n - AUTOSENDFILE_SAMPLE_SPAN : 0;
	return memcmp(c->a + tail, c->b + tail, c->n - tail) == 0;
}

static __attribute__((noinline)) int guarded(int (*fn)(const struct cmp *), const struct cmp *c)
{
	if (sigsetjmp(guard_env, 0))
		return -1;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	guard_armed = 1;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	int r = fn(c);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	guard_armed = 0;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	return r;
}

static void prove_or_die(int (*fn)(const struct cmp *), const struct cmp *c, enum cand k)
{
	if (guarded(fn, c) != 1) {
		fprintf(stderr, "%s: proof failed at offset %lld\n", cand_names[k], (long long)c->off);
		exit(1);
	}
}

/* ---- one run ---------------------------------------------------------------------------- */

struct ctx {
	const char *path;
	size_t fsize;
	unsigned passes;
	unsigned char *buf, *shadow, *shadow4k, *scratch;
	const unsigned char *kept; /* the kept mapping (map-kept, sample) */
	int sock;
};

struct fig {
	uint64_t chunks, proof_ns, wall_ns, cpu_ns;
};

static struct fig run(const struct ctx *x, enum cand k, size_t C)
{
	struct fig f = { 0, 0, 0, 0 };
	uint64_t c0 = cpu_ns(), w0 = now_ns();
	for (unsigned p = 0; p < x->passes; p++) {
		int fd = open(x->path, O_RDONLY);
		if (fd < 0)
			die("open");
		const unsigned char *map = x->kept;
		if (k == K_MAP_FILE) {
			uint64_t t0 = now_ns();
			void *m = mmap(NULL, x->fsize, PROT_READ, MAP_SHARED, fd, 0);
			if (m == MAP_FAILED)
				die("mmap");
			map = m;
			f.proof_ns += now_ns() - t0;
		}
		off_t off = 0;
		for (;;) {
			ssize_t n = read(fd, x->buf, C);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				die("read");
			}
			if (n == 0)
				break;
			struct cmp c = { x->buf, NULL, (size_t)n, off };
			uint64_t t0, t1;
			switch (k) {
			case K_NONE:
				t0 = now_ns();
				__atomic_signal_fence(__ATOMIC_SEQ_CST);
				t1 = now_ns();
				f.proof_ns += t1 - t0;
				break;
			case K_SHADOW:
			case K_SHADOW_4K: {
				unsigned char *sh = k == K_SHADOW ? x->shadow : x->shadow4k;
				t0 = now_ns();
				memcpy(sh, x->buf, (size_t)n); /* at the read */
				/* ... the program runs here, then its write arrives ... */
				c.b = sh;
				prove_or_die(equal_full, &c, k);
				t1 = now_ns();
				f.proof_ns += t1 - t0;
				break;
			}
			case K_MAP_FILE:
			case K_MAP_KEPT:
			case K_SAMPLE:
				t0 = now_ns();
				c.b = map + off;
				prove_or_die(k == K_SAMPLE ? equal_sampled : equal_full, &c, k);
				t1 = now_ns();
				f.proof_ns += t1 - t0;
				break;
			case K_PREAD: {
				t0 = now_ns();
				size_t got = 0;
				while (got < (size_t)n) {
					ssize_t r = pread(fd, x->scratch + got, (size_t)n - got,
							  off + (off_t)got);
					if (r < 0 && errno == EINTR)
						continue;
					if (r <= 0)
						die("pread");
					got += (size_t)r;
				}
				c.b = x->scratch;
				prove_or_die(equal_full, &c, k);
				t1 = now_ns();
				f.proof_ns += t1 - t0;
				break;
			}
			case K_RSF:
				sendfile_all(x->sock, fd, off, (size_t)n, SIZE_MAX);
				break;
			case K_RW:
				write_all(x->sock, (char *)x->buf, (size_t)n);
				break;
			case NCAND:
				break;
			}
			off += n;
			f.chunks++;
		}
		if (k == K_MAP_FILE) {
			uint64_t t0 = now_ns();
			if (munmap((void *)map, x->fsize))
				die("munmap");
			f.proof_ns += now_ns() - t0;
		}
		if (close(fd))
			die("close");
	}
	f.wall_ns = now_ns() - w0;
	f.cpu_ns = cpu_ns() - c0;
	return f;
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* sorts v */
static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_dbl);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static unsigned char *region(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		die("mmap(anon)");
	memset(p, 1, len); /* no first-touch faults in the timed loops */
	return p;
}

int main(int argc, char **argv)
{
	size_t fsize = (size_t)64 << 20, chunk[MAXC];
	int nchunk = 0, reps = 7, nosock = 0, verbose = 0;
	unsigned passes = 2;
	const char *path = NULL, *clist = "16K,64K,1M";
	char defpath[4096];
	int opt;

	while ((opt = getopt(argc, argv, "f:s:c:r:p:xvh")) != -1) {
		switch (opt) {
		case 'f': path = optarg; break;
		case 's': fsize = parse_size(optarg, NULL); break;
		case 'c': clist = optarg; break;
		case 'r': reps = atoi(optarg); break;
		case 'p': passes = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'x': nosock = 1; break;
		case 'v': verbose = 1; break;
		default:
			fprintf(stderr, "usage: %s [-f file] [-s filesize] [-c 16K,64K,1M] [-r reps] "
					"[-p passes] [-x] [-v]\n", argv[0]);
			return 2;
		}
	}
	for (const char *s = clist; *s;) {
		char *end;
		if (nchunk == MAXC) {
			fprintf(stderr, "at most %d chunk sizes\n", MAXC);
			return 2;
		}
		chunk[nchunk++] = parse_size(s, &end);
		if (*end == ',')
			end++;
		else if (*end) {
			fprintf(stderr, "bad chunk list: %s\n", clist);
			return 2;
		}
		s = end;
	}
	if (reps < 1 || reps > MAXREP || passes == 0 || fsize == 0) {
		fprintf(stderr, "reps must be 1..%d, passes and file size > 0\n", MAXREP);
		return 2;
	}
	size_t maxc = 0;
	for (int i = 0; i < nchunk; i++) {
		if (chunk[i] == 0 || chunk[i] % 4096) {
			fprintf(stderr, "chunk sizes must be multiples of 4 KiB\n");
			return 2;
		}
		if (chunk[i] > maxc)
			maxc = chunk[i];
	}
	if (!path) {
		const char *td = getenv("TMPDIR");
		snprintf(defpath, sizeof defpath, "%s/bench-proof.dat", td && *td ? td : "/tmp");
		path = defpath;
	}
	ensure_file(path, fsize);
	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa = { .sa_sigaction = on_fault, .sa_flags = SA_SIGINFO | SA_NODEFER };
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, NULL) || sigaction(SIGSEGV, &sa, NULL))
		die("sigaction");

	/* Buffers. buf at a page + 16, where glibc's malloc puts a large block; shadow and
	 * scratch at 2048 (mod 4096) from buf; shadow4k at buf + C + 16 (set per C below). */
	struct ctx x = { .path = path, .fsize = fsize, .passes = passes, .sock = -1 };
	unsigned char *r1 = region(2 * maxc + 3 * 4096), *r2 = region(maxc + 2 * 4096),
		      *r3 = region(maxc + 2 * 4096);
	x.buf = r1 + 16;
	x.shadow = r2 + 16 + 2048;
	x.scratch = r3 + 16 + 2048;

	int file = open(path, O_RDONLY);
	if (file < 0)
		die("open");
	{ /* hot in the page cache */
		unsigned char *tmp = malloc(1 << 20);
		if (!tmp)
			die("malloc");
		while (read(file, tmp, 1 << 20) > 0)
			;
		free(tmp);
	}
	void *kept = mmap(NULL, fsize, PROT_READ, MAP_SHARED, file, 0);
	if (kept == MAP_FAILED)
		die("mmap(kept)");
	x.kept = kept;

	pid_t kid = -1;
	int report = -1;
	if (!nosock)
		x.sock = discard_peer(0, 0, -1, &kid, &report);

	int ncand = nosock ? K_RSF : NCAND;
	static double proof[MAXC][NCAND][MAXREP], wall[MAXC][NCAND][MAXREP], cpu[MAXC][NCAND][MAXREP];
	unsigned long long sent = 0;
	printf("# file=%s size=%zu passes/run=%u reps=%d (+1 untimed) chunks=%s\n", path, fsize,
	       passes, reps, clist);
	for (int r = -1; r < reps; r++) {
		for (int ci = 0; ci < nchunk; ci++) {
			size_t C = chunk[ci];
			x.shadow4k = x.buf + C + 16;
			for (int j = 0; j < ncand; j++) {
				enum cand k = (enum cand)((j + (r < 0 ? 0 : r)) % ncand);
				struct fig f = run(&x, k, C);
				if (k == K_RSF || k == K_RW)
					sent += (unsigned long long)fsize * passes;
				if (verbose)
					printf("# rep=%d C=%zu cand=%s chunks=%llu proof_ns=%llu wall_ns=%llu "
					       "cpu_ns=%llu\n", r, C, cand_names[k],
					       (unsigned long long)f.chunks, (unsigned long long)f.proof_ns,
					       (unsigned long long)f.wall_ns, (unsigned long long)f.cpu_ns);
				if (r < 0)
					continue;
				proof[ci][k][r] = (double)f.proof_ns / (double)f.chunks;
				wall[ci][k][r] = (double)f.wall_ns / (double)f.chunks;
				cpu[ci][k][r] = (double)f.cpu_ns / (double)f.chunks;
			}
		}
	}
	if (!nosock) {
		if (shutdown(x.sock, SHUT_WR))
			die("shutdown");
		unsigned long long got = 0;
		if (read(report, &got, sizeof got) != sizeof got)
			die("read(report)");
		waitpid(kid, NULL, 0);
		if (got != sent) {
			fprintf(stderr, "receiver got %llu bytes, sent %llu\n", got, sent);
			return 1;
		}
	}

	printf("| C | candidate | exact | proof ns/chunk (min-max) | proof GB/s | loop CPU ns/chunk | "
	       "dCPU vs none | loop wall ns/chunk | proof / rsf CPU |\n");
	printf("|---|---|---|---|---|---|---|---|---|\n");
	for (int ci = 0; ci < nchunk; ci++) {
		size_t C = chunk[ci];
		char cs[32];
		if (C % (1 << 20) == 0)
			snprintf(cs, sizeof cs, "%zu MiB", C >> 20);
		else
			snprintf(cs, sizeof cs, "%zu KiB", C >> 10);
		double timer = median(proof[ci][K_NONE], reps);
		double cpu_none = median(cpu[ci][K_NONE], reps);
		double cpu_rsf = nosock ? 0 : median(cpu[ci][K_RSF], reps);
		for (int k = 0; k < ncand; k++) {
			double c = median(cpu[ci][k], reps), w = median(wall[ci][k], reps);
			if (k == K_RSF || k == K_RW) {
				printf("| %s | %s (context) | | | | %.0f | %+.0f | %.0f | |\n", cs,
				       k == K_RSF ? "read+sendfile" : "read+write", c, c - cpu_none, w);
				continue;
			}
			double p = median(proof[ci][k], reps);
			double lo = proof[ci][k][0] - timer, hi = proof[ci][k][reps - 1] - timer;
			if (k == K_NONE) {
				printf("| %s | none (read only) | - | (timer %.0f) | | %.0f | | %.0f | |\n",
				       cs, timer, c, w);
				continue;
			}
			p -= timer;
			char frac[32] = "";
			if (!nosock)
				snprintf(frac, sizeof frac, "%.1f%%", 100.0 * p / cpu_rsf);
			printf("| %s | %s | %s | %.0f (%.0f-%.0f) | %.1f | %.0f | %+.0f | %.0f | %s |\n",
			       cs, cand_names[k], cand_exact[k], p, lo, hi, (double)C / p, c,
			       c - cpu_none, w, frac);
		}
	}
	return 0;
}
