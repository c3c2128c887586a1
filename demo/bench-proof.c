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
 *   lib-pread   the library's proof since issue 18 (src/proof.c): one rt_sigprocmask (can the
 *               fault guard run), then per 64 KiB piece a pread into a 64 KiB buffer and a
 *               guarded memcmp; no mapping of the file at all
 *   lib-pread-16k  the same in 16 KiB pieces
 *   lib-pvr     the library's proof in a thread that blocks SIGSEGV/SIGBUS: per 64 KiB piece,
 *               process_vm_readv of the buffer into a second buffer, pread, memcmp
 *   sample      NOT EXACT: memcmp of the first 64 bytes of each 4 KiB of the file range and
 *               its last 64 bytes, against the kept mapping (AUTOSENDFILE_VERIFY=sample)
 *   wp-track    BUFFER SIDE ONLY: proves buf was not written since the read without reading
 *               its bytes. Its own buffer (also at a page + 16) is registered once with a
 *               userfaultfd in asynchronous write-protect mode (UFFD_FEATURE_WP_ASYNC, Linux
 *               6.7+). After each read, one PAGEMAP_SCAN ioctl on /proc/self/pagemap with
 *               PM_SCAN_WP_MATCHING write-protects the buffer's pages again (clearing their
 *               "written" state); at the write, one PAGEMAP_SCAN asks whether any page of the
 *               range is written. Both scans are counted in the proof. The next read's copy
 *               into the buffer then takes a write-protect fault on every page: that cost
 *               lands in the read, so it shows in loop CPU / dCPU, NOT in proof ns; dCPU vs
 *               none is this candidate's real cost. Page granular: a write anywhere in a page
 *               of the range (also outside it) fails the proof. The file side of such a proof
 *               (that the file's bytes did not change since the read, e.g. a change cookie)
 *               is not part of it, where map-* and pread check both sides. Each pass checks
 *               once that the read marked the pages written and that a one-byte write after
 *               a proof is seen (it exits if not). Where the kernel refuses userfaultfd or
 *               PAGEMAP_SCAN the row says n/a and why.
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
 *               read+sendfile loop's CPU; for wp-track also dCPU / rsf CPU, which includes
 *               the faults its proof moves into the next read
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
#include <linux/fs.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* Linux 6.7+ uapi, absent from older headers (the values of linux/userfaultfd.h, linux/fs.h) */
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif
#ifndef PAGEMAP_SCAN
struct page_region {
	uint64_t start, end, categories;
};
struct pm_scan_arg {
	uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages, category_inverted,
		category_mask, category_anyof_mask, return_mask;
};
#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#endif
#ifndef PAGE_IS_WRITTEN
#define PAGE_IS_WRITTEN (1 << 1)
#endif
#ifndef PM_SCAN_WP_MATCHING
#define PM_SCAN_WP_MATCHING (1 << 0)
#endif
#ifndef PM_SCAN_CHECK_WPASYNC
#define PM_SCAN_CHECK_WPASYNC (1 << 1)
#endif

#include "autosendfile.h" /* AUTOSENDFILE_SAMPLE_SPAN, AUTOSENDFILE_SAMPLE_STRIDE */
#include "benchutil.h"

enum cand { K_NONE, K_SHADOW, K_SHADOW_4K, K_MAP_FILE, K_MAP_KEPT, K_PREAD, K_SAMPLE, K_WP,
	    K_LIB, K_LIB16, K_PVR, K_RSF, K_RW, NCAND };
static const char *cand_names[NCAND] = { "none", "shadow", "shadow-4k", "map-file", "map-kept",
					 "pread", "sample", "wp-track", "lib-pread", "lib-pread-16k",
					 "lib-pvr", "rsf", "rw" };
static const char *cand_exact[NCAND] = { "-", "yes", "yes", "yes", "yes", "yes", "NO",
					 "buf only", "yes", "yes", "yes", "", "" };

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

/* ---- wp-track: userfaultfd asynchronous write-protect + PAGEMAP_SCAN -------------------- */

#define PAGE 4096u /* chunk sizes are checked to be multiples of it */

/* One PAGEMAP_SCAN over the pages holding [p, p + n), for pages written since they were last
 * write-protected. wp: write-protect them again (and report nothing); else: the number of
 * written regions found, stopping at the first. */
static long wp_scan(int pagemap, const unsigned char *p, size_t n, int wp)
{
	struct page_region vec[1];
	uintptr_t a = (uintptr_t)p & ~(uintptr_t)(PAGE - 1);
	uintptr_t e = ((uintptr_t)p + n + PAGE - 1) & ~(uintptr_t)(PAGE - 1);
	struct pm_scan_arg arg = {
		.size = sizeof arg,
		.flags = wp ? PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC : 0,
		.start = a,
		.end = e,
		.vec = wp ? 0 : (uintptr_t)vec,
		.vec_len = wp ? 0 : 1,
		.max_pages = wp ? 0 : 1,
		.category_mask = PAGE_IS_WRITTEN,
		.return_mask = PAGE_IS_WRITTEN,
	};
	long r = ioctl(pagemap, PAGEMAP_SCAN, &arg);
	if (r < 0)
		die("ioctl(PAGEMAP_SCAN)");
	if (wp && arg.walk_end != e) {
		fprintf(stderr, "wp-track: write-protect scan stopped at %#llx of %#llx\n",
			(unsigned long long)arg.walk_end, (unsigned long long)e);
		exit(1);
	}
	return r;
}

/* The number of written pages among those holding [p, p + n) (a full report, for the checks) */
static uint64_t wp_written_pages(int pagemap, const unsigned char *p, size_t n)
{
	struct page_region vec[64];
	uintptr_t a = (uintptr_t)p & ~(uintptr_t)(PAGE - 1);
	uintptr_t e = ((uintptr_t)p + n + PAGE - 1) & ~(uintptr_t)(PAGE - 1);
	struct pm_scan_arg arg = {
		.size = sizeof arg, .start = a, .end = e, .vec = (uintptr_t)vec, .vec_len = 64,
		.category_mask = PAGE_IS_WRITTEN, .return_mask = PAGE_IS_WRITTEN,
	};
	long r = ioctl(pagemap, PAGEMAP_SCAN, &arg);
	if (r < 0)
		die("ioctl(PAGEMAP_SCAN)");
	uint64_t pages = 0;
	for (long i = 0; i < r; i++)
		pages += (vec[i].end - vec[i].start) / PAGE;
	return pages;
}

/* Registers [base, base + len) (page-aligned) for asynchronous write-protect tracking and
 * opens /proc/self/pagemap. Returns the pagemap fd, or -1 with the reason in why. */
static int wp_setup(unsigned char *base, size_t len, char *why, size_t whylen)
{
	int uffd = -1, user_only = 1;
	struct uffdio_api api;
	for (;;) {
		uffd = (int)syscall(SYS_userfaultfd,
				    O_CLOEXEC | O_NONBLOCK | (user_only ? UFFD_USER_MODE_ONLY : 0));
		if (uffd < 0) {
			if (user_only) { /* root may be allowed kernel-mode faults instead */
				user_only = 0;
				continue;
			}
			snprintf(why, whylen, "userfaultfd: %s", strerror(errno));
			return -1;
		}
		api = (struct uffdio_api){ .api = UFFD_API,
					   .features = UFFD_FEATURE_WP_ASYNC |
						       UFFD_FEATURE_WP_UNPOPULATED };
		if (ioctl(uffd, UFFDIO_API, &api) == 0)
			break;
		int e = errno;
		close(uffd); /* UFFDIO_API is once per fd: retry on a new one */
		uffd = (int)syscall(SYS_userfaultfd,
				    O_CLOEXEC | O_NONBLOCK | (user_only ? UFFD_USER_MODE_ONLY : 0));
		if (uffd < 0) {
			snprintf(why, whylen, "userfaultfd: %s", strerror(errno));
			return -1;
		}
		api = (struct uffdio_api){ .api = UFFD_API, .features = UFFD_FEATURE_WP_ASYNC };
		if (ioctl(uffd, UFFDIO_API, &api) == 0)
			break;
		snprintf(why, whylen, "UFFDIO_API(WP_ASYNC): %s (with WP_UNPOPULATED: %s)",
			 strerror(errno), strerror(e));
		close(uffd);
		return -1;
	}
	if (!(api.features & UFFD_FEATURE_WP_ASYNC)) {
		snprintf(why, whylen, "UFFDIO_API: no UFFD_FEATURE_WP_ASYNC");
		close(uffd);
		return -1;
	}
	struct uffdio_register reg = { .range = { .start = (uintptr_t)base, .len = len },
				       .mode = UFFDIO_REGISTER_MODE_WP };
	if (ioctl(uffd, UFFDIO_REGISTER, &reg)) {
		snprintf(why, whylen, "UFFDIO_REGISTER(WP): %s", strerror(errno));
		close(uffd);
		return -1;
	}
	int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (pm < 0) {
		snprintf(why, whylen, "open(/proc/self/pagemap): %s", strerror(errno));
		close(uffd);
		return -1;
	}
	/* PAGEMAP_SCAN itself (6.7+): write-protect the region once */
	struct pm_scan_arg arg = { .size = sizeof arg,
				   .flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC,
				   .start = (uintptr_t)base, .end = (uintptr_t)base + len,
				   .category_mask = PAGE_IS_WRITTEN, .return_mask = PAGE_IS_WRITTEN };
	if (ioctl(pm, PAGEMAP_SCAN, &arg) < 0) {
		snprintf(why, whylen, "PAGEMAP_SCAN: %s", strerror(errno));
		close(pm);
		close(uffd);
		return -1;
	}
	snprintf(why, whylen, "%s, features %#llx", user_only ? "UFFD_USER_MODE_ONLY" : "kernel-mode faults",
		 (unsigned long long)api.features);
	return pm; /* the uffd stays open (and registered) for the process's life */
}

/* ---- one run ---------------------------------------------------------------------------- */

struct ctx {
	const char *path;
	size_t fsize;
	unsigned passes;
	unsigned char *buf, *shadow, *shadow4k, *scratch;
	unsigned char *wbuf; /* wp-track's buffer, in the registered region */
	int pagemap;         /* /proc/self/pagemap, -1 when wp-track is n/a */
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
		unsigned char *buf = k == K_WP ? x->wbuf : x->buf;
		for (;;) {
			ssize_t n = read(fd, buf, C);
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
			case K_LIB:
			case K_LIB16:
			case K_PVR: {
				t0 = now_ns();
				uint64_t mask;
				if (k != K_PVR &&
				    syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &mask, sizeof mask) != 0)
					die("rt_sigprocmask");
				size_t piece = k == K_LIB16 ? 16384 : 65536;
				for (size_t p = 0; p < (size_t)n; p += piece) {
					size_t m = (size_t)n - p < piece ? (size_t)n - p : piece;
					if (pread(fd, x->scratch, m, off + (off_t)p) != (ssize_t)m)
						die("pread");
					struct cmp pc = { buf + p, x->scratch, m, off + (off_t)p };
					if (k == K_PVR) {
						struct iovec l = { x->shadow, m }, r = { buf + p, m };
						if (process_vm_readv(getpid(), &l, 1, &r, 1, 0) != (ssize_t)m)
							die("process_vm_readv");
						pc.a = x->shadow;
						if (!equal_full(&pc))
							die("lib-pvr: proof failed");
					} else {
						prove_or_die(equal_full, &pc, k);
					}
				}
				t1 = now_ns();
				f.proof_ns += t1 - t0;
				break;
			}
			case K_WP: {
				int check = off == 0; /* once per pass, outside the proof's time */
				if (check && wp_written_pages(x->pagemap, buf, (size_t)n) !=
						     ((uintptr_t)buf + (size_t)n + PAGE - 1) / PAGE -
							     (uintptr_t)buf / PAGE) {
					fprintf(stderr, "wp-track: the read's copy was not seen as "
							"written on every page\n");
					exit(1);
				}
				t0 = now_ns();
				wp_scan(x->pagemap, buf, (size_t)n, 1); /* at the read */
				/* ... the program runs here, then its write arrives ... */
				if (wp_scan(x->pagemap, buf, (size_t)n, 0) != 0) {
					fprintf(stderr, "wp-track: proof failed at offset %lld\n",
						(long long)off);
					exit(1);
				}
				t1 = now_ns();
				f.proof_ns += t1 - t0;
				if (check) { /* a one-byte write after the proof must be seen */
					volatile unsigned char *v = buf + (size_t)n / 2;
					*v = (unsigned char)(*v + 1);
					if (wp_scan(x->pagemap, buf, (size_t)n, 0) != 1 ||
					    wp_written_pages(x->pagemap, buf, (size_t)n) != 1) {
						fprintf(stderr, "wp-track: a write into the buffer "
								"was not seen\n");
						exit(1);
					}
				}
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
	struct ctx x = { .path = path, .fsize = fsize, .passes = passes, .sock = -1, .pagemap = -1 };
	size_t r4len = maxc + 2 * 4096; /* wp-track's own region, registered below */
	unsigned char *r1 = region(2 * maxc + 3 * 4096), *r2 = region(maxc + 2 * 4096),
		      *r3 = region(maxc + 2 * 4096), *r4 = region(r4len);
	x.buf = r1 + 16;
	x.wbuf = r4 + 16;
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
	/* after the fork: the peer has nothing to do with the registration */
	char wp_why[256];
	x.pagemap = wp_setup(r4, r4len, wp_why, sizeof wp_why);

	int ncand = nosock ? K_RSF : NCAND;
	static double proof[MAXC][NCAND][MAXREP], wall[MAXC][NCAND][MAXREP], cpu[MAXC][NCAND][MAXREP];
	unsigned long long sent = 0;
	printf("# file=%s size=%zu passes/run=%u reps=%d (+1 untimed) chunks=%s\n", path, fsize,
	       passes, reps, clist);
	printf("# wp-track: %s%s\n", x.pagemap < 0 ? "n/a: " : "", wp_why);
	for (int r = -1; r < reps; r++) {
		for (int ci = 0; ci < nchunk; ci++) {
			size_t C = chunk[ci];
			x.shadow4k = x.buf + C + 16;
			for (int j = 0; j < ncand; j++) {
				enum cand k = (enum cand)((j + (r < 0 ? 0 : r)) % ncand);
				if (k == K_WP && x.pagemap < 0)
					continue;
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
			if (k == K_WP && x.pagemap < 0) {
				printf("| %s | %s | %s | n/a (%s) | | | | | |\n", cs, cand_names[k],
				       cand_exact[k], wp_why);
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
			if (!nosock && k == K_WP) /* its faults land in the read: dCPU too */
				snprintf(frac, sizeof frac, "%.1f%% (dCPU %.1f%%)", 100.0 * p / cpu_rsf,
					 100.0 * (c - cpu_none) / cpu_rsf);
			else if (!nosock)
				snprintf(frac, sizeof frac, "%.1f%%", 100.0 * p / cpu_rsf);
			printf("| %s | %s | %s | %.0f (%.0f-%.0f) | %.1f | %.0f | %+.0f | %.0f | %s |\n",
			       cs, cand_names[k], cand_exact[k], p, lo, hi, (double)C / p, c,
			       c - cpu_none, w, frac);
		}
	}
	return 0;
}
