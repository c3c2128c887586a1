/* review2: the second adversarial review of the library (issue 18), one scenario per
 * difference it found, written from its description. Each is a program that copies file
 * bytes to a socket (or uses what the library touches: signals, descriptors, limits,
 * memory) and prints `obs` lines: what it observed, deterministic without the library.
 * test_review2.sh runs each plain and under the library and compares the lines.
 *
 *   review2 CASE     CASE: 1 .. 17, 100files or 1000files
 *
 * `info` lines carry details that are not compared. Exit 0 unless the scenario could not
 * be set up (exit 2). Files are made in $TMPDIR and removed at exit. */
#define _GNU_SOURCE
#include <dirent.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>

#include "testutil.h"

__attribute__((noreturn, format(printf, 1, 2))) static void die(const char *fmt, ...)
{
	int e = errno;
	va_list ap;
	va_start(ap, fmt);
	vdie(e, "review2: ", 2, fmt, ap);
}

static const char *new_file(const char *name, unsigned seed, size_t size)
{
	char p[sizeof made[0]];
	snprintf(p, sizeof p, "%s/asf-review2-%d-%d-%s", tmpdir, (int)getpid(), n_made, name);
	return make_file(p, seed, size);
}

static int open_ro(const char *path)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		die("open %s", path);
	return fd;
}

static void *xmap(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		die("mmap");
	return p;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- a receiver: a child reading the connection to its end, reporting length and a digest
 * of the stream on a pipe ---- */

struct rx {
	int s;      /* the program's end */
	pid_t pid;
	int res;    /* pipe: "LEN HASH" */
};

static uint64_t digest_step(uint64_t h, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}
#define DIGEST0 0xcbf29ce484222325ull

static void rx_start(struct rx *x, int sndbuf)
{
	int r, pfd[2];
	if (loopback_pair(&x->s, &r, sndbuf, 0) != 0 || pipe(pfd) != 0)
		die("loopback pair: %s", failmsg);
	fflush(stdout);
	x->pid = fork();
	if (x->pid < 0)
		die("fork");
	if (x->pid == 0) {
		close(x->s);
		close(pfd[0]);
		unsigned char *b = xmalloc(256 * KiB);
		uint64_t h = DIGEST0, len = 0;
		for (;;) {
			ssize_t k = recv(r, b, 256 * KiB, 0);
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0)
				break;
			h = digest_step(h, b, (size_t)k);
			len += (uint64_t)k;
		}
		dprintf(pfd[1], "%llu %llx\n", (unsigned long long)len, (unsigned long long)h);
		_exit(0);
	}
	close(r);
	close(pfd[1]);
	x->res = pfd[0];
}

/* Closes the program's end, waits for the receiver: its length and digest. */
static void rx_end(struct rx *x, uint64_t *len, uint64_t *h)
{
	close(x->s);
	char b[128] = { 0 };
	ssize_t k = read(x->res, b, sizeof b - 1);
	unsigned long long l = 0, d = 0;
	if (k <= 0 || sscanf(b, "%llu %llx", &l, &d) != 2)
		die("receiver result");
	close(x->res);
	waitpid(x->pid, NULL, 0);
	*len = l;
	*h = d;
}

/* write() it all (looping on partial counts), adding what each call took to the expected
 * stream's digest. */
static void write_all(int s, const unsigned char *p, size_t n, uint64_t *h, uint64_t *len)
{
	size_t done = 0;
	while (done < n) {
		ssize_t w = write(s, p + done, n - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			die("write");
		*h = digest_step(*h, p + done, (size_t)w);
		*len += (uint64_t)w;
		done += (size_t)w;
	}
}

static void read_full_or_die(int fd, void *b, size_t n)
{
	if (read_full(fd, b, n) != (ssize_t)n)
		die("read");
}

/* ---- 1: a raw close_range over the numbers above the program's ---- */

static void case1(void)
{
	for (int limits = 0; limits < 2; limits++) {
		struct rlimit rl;
		getrlimit(RLIMIT_NOFILE, &rl);
		if (limits) { /* soft = hard, as in many containers */
			rl.rlim_cur = rl.rlim_max;
			if (rl.rlim_cur > 65536)
				rl.rlim_cur = rl.rlim_max = 65536;
			setrlimit(RLIMIT_NOFILE, &rl);
		}
		const char *fa = new_file("a", 11, 256 * KiB), *fb = new_file("b", 12, 256 * KiB);
		struct rx x;
		rx_start(&x, 0);
		uint64_t h = DIGEST0, len = 0;
		unsigned char *a = xmap(64 * KiB), *b = xmap(64 * KiB);
		int fda = open_ro(fa);
		read_full_or_die(fda, a, 64 * KiB);
		write_all(x.s, a, 64 * KiB, &h, &len);
		int top = fda > x.s ? fda : x.s;
		syscall(SYS_close_range, (unsigned)top + 1, ~0u, 0); /* nothing of the program's */
		int fdb = open_ro(fb);
		read_full_or_die(fdb, b, 64 * KiB);
		write_all(x.s, b, 64 * KiB, &h, &len);
		write_all(x.s, a, 64 * KiB, &h, &len); /* A's bytes again, from A's buffer */
		uint64_t gl, gh;
		rx_end(&x, &gl, &gh);
		printf("obs 1%s wire=%s\n", limits ? "-soft=hard" : "", gl == len && gh == h ? "A,B,A" : "WRONG");
		close(fda);
		close(fdb);
	}
}

/* ---- 2: a handler the library never saw being installed (raw rt_sigaction, as one
 * installed before its constructor), storing into the buffer while writes go ---- */

static unsigned char *c2_buf;
static size_t c2_len;
static volatile unsigned c2_hits;

/* Stores near both ends of the buffer: a write that sent some bytes from before it ran and
 * some from after shows one store and not the other. */
static void c2_handler(int sig)
{
	(void)sig;
	c2_hits++;
	memset(c2_buf + 100, 'H', 64);
	memset(c2_buf + c2_len - 1000, 'H', 64);
}

struct ksigaction { /* the kernel's struct for rt_sigaction */
	void (*handler)(int);
	unsigned long flags;
	void (*restorer)(void);
	uint64_t mask;
};

/* Installs h for sig with the raw system call (glibc's restorer, as glibc would). */
static void raw_install(int sig, void (*h)(int), unsigned long flags)
{
	struct sigaction probe, old;
	memset(&probe, 0, sizeof probe);
	probe.sa_handler = SIG_IGN;
	sigaction(SIGWINCH, &probe, &old); /* learn glibc's restorer from a readback */
	sigaction(SIGWINCH, &old, &probe);
	struct ksigaction k = { h, flags | 0x04000000 /* SA_RESTORER */, probe.sa_restorer, 0 };
	if (syscall(SYS_rt_sigaction, sig, &k, NULL, 8) != 0)
		die("rt_sigaction");
}

/* What a write sends is what its buffer holds at one moment: before the handler ran, or
 * after (a full count: the handler ran after the call, or, the call late, before it; a
 * partial count stops where the handler ran). Never some of each. The receiver keeps every
 * byte; each call's bytes must equal the buffer before the one-shot timer's handler
 * (`pre`) or after it (`post`). */
static void case2(void)
{
	c2_len = 1 * MiB;
	enum { WRITES = 48 };
	const char *f = new_file("c2", 21, c2_len);
	int fd = open_ro(f);
	c2_buf = xmap(c2_len);
	unsigned char *pre = xmap(c2_len);
	size_t cap = (size_t)WRITES * c2_len + MiB;
	unsigned char *wire = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	volatile size_t *got = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (wire == MAP_FAILED || got == MAP_FAILED)
		die("mmap shared");
	int s, r;
	if (loopback_pair(&s, &r, 0, 0) != 0)
		die("loopback pair: %s", failmsg);
	fflush(stdout);
	pid_t kid = fork();
	if (kid == 0) {
		close(s);
		for (;;) {
			ssize_t k = recv(r, wire + *got, cap - *got, 0);
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0)
				_exit(0);
			*got += (size_t)k;
		}
	}
	close(r);
	raw_install(SIGALRM, c2_handler, 0x10000000 /* SA_RESTART */);
	size_t at = 0;
	int mixed = 0, calls = 0;
	for (int i = 0; i < WRITES; i++) {
		if (pread_full(fd, c2_buf, c2_len, 0) != (ssize_t)c2_len)
			die("pread");
		size_t done = 0;
		struct itimerval it = { { 0, 0 }, { 0, 40 + (i % 8) * 20 } }; /* one shot, in the write */
		while (done < c2_len) {
			memcpy(pre, c2_buf + done, c2_len - done);
			if (done == 0)
				setitimer(ITIMER_REAL, &it, NULL);
			ssize_t w = write(s, c2_buf + done, c2_len - done);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				die("write");
			calls++;
			/* the receiver must have this call's bytes before they are looked at */
			while (*got < at + (size_t)w)
				sleep_us(100);
			if (memcmp(wire + at, pre, (size_t)w) != 0 &&
			    memcmp(wire + at, c2_buf + done, (size_t)w) != 0)
				mixed++;
			at += (size_t)w;
			done += (size_t)w;
		}
	}
	close(s);
	waitpid(kid, NULL, 0);
	printf("obs 2 writes_of_mixed_bytes=%d\n", mixed);
	printf("info 2 %d calls, handler ran %u times\n", calls, c2_hits);
}

/* ---- 3: a thread that blocks every signal: the file truncated (copytruncate), or the buffer
 * unmapped by a raw system call, between read and write ---- */

static void case3(void)
{
	for (int v = 0; v < 2; v++) {
		const char *f = new_file(v ? "c3b" : "c3a", 31, 64 * KiB);
		fflush(stdout);
		pid_t kid = fork();
		if (kid == 0) {
			sigset_t all;
			sigfillset(&all);
			pthread_sigmask(SIG_BLOCK, &all, NULL);
			struct rx x;
			rx_start(&x, 0);
			int fd = open_ro(f);
			unsigned char *buf = xmap(64 * KiB);
			read_full_or_die(fd, buf, 64 * KiB);
			if (v == 0) {
				if (truncate(f, 0) != 0)
					die("truncate");
			} else {
				syscall(SYS_munmap, buf, 64 * KiB);
			}
			errno = 0;
			ssize_t w = write(x.s, buf, 64 * KiB);
			printf("obs 3%c write=%zd errno=%s\n", v ? 'b' : 'a', w, w < 0 ? strerror(errno) : "0");
			fflush(stdout);
			_exit(0);
		}
		int st;
		waitpid(kid, &st, 0);
		printf("obs 3%c child=%s\n", v ? 'b' : 'a',
		       WIFEXITED(st) ? "exit" : strsignal(WTERMSIG(st)));
	}
}

/* ---- 4: an SS_AUTODISARM alternate stack: a guarded fault, then a stack overflow that the
 * program's handler must catch on that stack ---- */

static void c4_overflow_handler(int sig)
{
	(void)sig;
	static const char m[] = "obs 4 overflow=caught\n";
	(void)!write(1, m, sizeof m - 1);
	_exit(0);
}

static int (*volatile c4_next)(int); /* through a pointer: the compiler sees no recursion */
static int c4_recurse(int n)
{
	volatile char pad[4096];
	pad[0] = (char)n;
	return c4_next(n + 1) + pad[0];
}

#ifndef SS_AUTODISARM
#define SS_AUTODISARM (1U << 31)
#endif
static void case4(void)
{
	const char *f = new_file("c4", 41, 64 * KiB);
	fflush(stdout);
	pid_t kid = fork();
	if (kid == 0) {
		static char alt[64 * 1024];
		stack_t ss = { .ss_sp = alt, .ss_size = sizeof alt, .ss_flags = SS_AUTODISARM };
		sigaltstack(&ss, NULL);
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = c4_overflow_handler;
		sa.sa_flags = SA_ONSTACK;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGSEGV, &sa, NULL);
		struct rx x;
		rx_start(&x, 0);
		int fd = open_ro(f);
		unsigned char *buf = xmap(64 * KiB);
		read_full_or_die(fd, buf, 64 * KiB);
		syscall(SYS_munmap, buf, 64 * KiB); /* behind the library's back: its compare faults */
		errno = 0;
		ssize_t w = write(x.s, buf, 64 * KiB);
		printf("obs 4 write=%zd errno=%s\n", w, w < 0 ? strerror(errno) : "0");
		fflush(stdout);
		struct rlimit rl = { 8 * MiB, 8 * MiB };
		setrlimit(RLIMIT_STACK, &rl);
		c4_next = c4_recurse;
		c4_recurse(0);
		_exit(3);
	}
	int st;
	waitpid(kid, &st, 0);
	printf("obs 4 child=%s\n", WIFEXITED(st) ? "exit" : strsignal(WTERMSIG(st)));
}

/* ---- 5: siginterrupt(): an alarm() ends a blocking read with EINTR ---- */

static void c5_alarm(int sig)
{
	(void)sig;
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations" /* siginterrupt: what programs call */
static void case5(void)
{
	int p[2];
	if (pipe(p) != 0)
		die("pipe");
	/* siginterrupt() first: signal() must keep its word (glibc remembers it) */
	siginterrupt(SIGALRM, 1);
	signal(SIGALRM, c5_alarm);
	alarm(1);
	char c;
	errno = 0;
	ssize_t r = read(p[0], &c, 1); /* nothing ever comes */
	printf("obs 5 read=%zd errno=%s\n", r, r < 0 ? strerror(errno) : "0");
	/* and back to restarting: signal() again after siginterrupt(sig, 0) */
	siginterrupt(SIGALRM, 0);
	struct sigaction cur;
	sigaction(SIGALRM, NULL, &cur);
	printf("obs 5 restart_after=%s\n", cur.sa_flags & SA_RESTART ? "yes" : "no");
}
#pragma GCC diagnostic pop

/* ---- 6: RLIMIT_NOFILE as another thread, F_DUPFD, a forked child see it ---- */

static volatile int c6_stop;
static struct rlimit c6_first;
static long c6_seen_other;

static void *c6_poll(void *arg)
{
	(void)arg;
	while (!c6_stop) {
		struct rlimit r;
		getrlimit(RLIMIT_NOFILE, &r);
		if (r.rlim_cur != c6_first.rlim_cur || r.rlim_max != c6_first.rlim_max)
			c6_seen_other++;
	}
	return NULL;
}

static void case6(void)
{
	getrlimit(RLIMIT_NOFILE, &c6_first);
	struct rlimit rl = c6_first;
	if (rl.rlim_max > 4096 || rl.rlim_max == RLIM_INFINITY)
		rl.rlim_max = 4096;
	rl.rlim_cur = 1024; /* systemd's default: soft below hard */
	setrlimit(RLIMIT_NOFILE, &rl);
	getrlimit(RLIMIT_NOFILE, &c6_first);
	pthread_t th;
	pthread_create(&th, NULL, c6_poll, NULL);
	struct rx x;
	rx_start(&x, 0);
	unsigned char *buf = xmap(64 * KiB);
	uint64_t h = DIGEST0, len = 0;
	for (int i = 0; i < 40; i++) {
		const char *f = new_file("c6", 60 + (unsigned)i, 64 * KiB);
		int fd = open_ro(f);
		read_full_or_die(fd, buf, 64 * KiB);
		write_all(x.s, buf, 64 * KiB, &h, &len);
		if (i % 8 == 7) { /* a child forked now keeps the limit it sees for life */
			fflush(stdout);
			pid_t k = fork();
			if (k == 0) {
				struct rlimit c;
				getrlimit(RLIMIT_NOFILE, &c);
				_exit(c.rlim_cur == c6_first.rlim_cur ? 0 : 1);
			}
			int st;
			waitpid(k, &st, 0);
			if (!WIFEXITED(st) || WEXITSTATUS(st))
				c6_seen_other++;
		}
		close(fd);
		unlink(f);
	}
	c6_stop = 1;
	pthread_join(th, NULL);
	uint64_t gl, gh;
	rx_end(&x, &gl, &gh);
	errno = 0;
	int d = fcntl(0, F_DUPFD, (int)c6_first.rlim_cur);
	printf("obs 6 limit_seen_changed=%s dupfd_at_limit=%d errno=%s wire=%s\n",
	       c6_seen_other ? "yes" : "no", d, d < 0 ? strerror(errno) : "0",
	       gl == len && gh == h ? "ok" : "WRONG");
}

/* ---- 7: memfd seals after the program sent its bytes ---- */

static void case7(void)
{
	int m = (int)syscall(SYS_memfd_create, "c7", 2 /* MFD_ALLOW_SEALING */);
	if (m < 0)
		die("memfd_create");
	fill(m, 71, 0, 256 * KiB);
	lseek(m, 0, SEEK_SET);
	struct rx x;
	rx_start(&x, 0);
	unsigned char *buf = xmap(64 * KiB);
	uint64_t h = DIGEST0, len = 0;
	for (int i = 0; i < 4; i++) {
		read_full_or_die(m, buf, 64 * KiB);
		write_all(x.s, buf, 64 * KiB, &h, &len);
	}
	uint64_t gl, gh;
	rx_end(&x, &gl, &gh);
	errno = 0;
	int r = fcntl(m, 1033 /* F_ADD_SEALS */, 8 /* F_SEAL_WRITE */);
	printf("obs 7 seal_write=%d errno=%s wire=%s\n", r, r < 0 ? strerror(errno) : "0",
	       gl == len && gh == h ? "ok" : "WRONG");
}

/* ---- 8: closefrom() where close_range is refused (seccomp, kernels before 5.9) ---- */

static void case8(void)
{
	fflush(stdout);
	pid_t kid = fork();
	if (kid == 0) {
		int base = 100;
		for (int i = 0; i < 5; i++)
			dup2(1, base + i);
		struct sock_filter prog[] = {
			BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_close_range, 0, 1),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		};
		struct sock_fprog fp = { sizeof prog / sizeof prog[0], prog };
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
		    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fp) != 0)
			_exit(2);
		closefrom(base);
		int open_after = 0;
		for (int i = 0; i < 5; i++)
			open_after += fcntl(base + i, F_GETFD) >= 0;
		printf("obs 8 open_after_closefrom=%d\n", open_after);
		fflush(stdout);
		_exit(0);
	}
	int st;
	waitpid(kid, &st, 0);
	printf("obs 8 child=%s\n", WIFEXITED(st) ? "exit" : "signal");
}

/* ---- 9: write() of more than MAX_RW_COUNT from a file mapping ---- */

static void case9(void)
{
	size_t n = 0x80000000ul + 64 * KiB;
	char p[sizeof made[0]];
	snprintf(p, sizeof p, "%s/asf-review2-%d-c9", tmpdir, (int)getpid());
	int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)n) != 0)
		die("sparse file");
	snprintf(made[n_made++], sizeof made[0], "%s", p);
	unsigned char *m = mmap(NULL, n, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		die("mmap");
	struct rx x;
	rx_start(&x, 0);
	ssize_t w = write(x.s, m, n);
	uint64_t gl, gh;
	rx_end(&x, &gl, &gh);
	printf("obs 9 write=%zd received=%llu\n", w, (unsigned long long)gl);
	munmap(m, n);
	close(fd);
}

/* ---- 10: a deleted file's space and mappings, 3 s after it was sent, closed and unlinked,
 * in a process that makes no further call ---- */

static long vm_kb(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;
	size_t kl = strlen(key);
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, key, kl) && line[kl] == ':')
			v = atol(line + kl + 1);
	if (f)
		fclose(f);
	return v;
}

static bool maps_has(const char *needle)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[1024];
	bool found = false;
	while (f && fgets(line, sizeof line, f))
		if (strstr(line, needle))
			found = true;
	if (f)
		fclose(f);
	return found;
}

static void case10(void)
{
	const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : tmpdir;
	char p[600];
	snprintf(p, sizeof p, "%s/asf-review2-%d-c10", dir, (int)getpid());
	struct statfs before, after;
	statfs(dir, &before);
	int wfd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (wfd < 0)
		die("create %s", p);
	fill(wfd, 101, 0, 64 * MiB);
	close(wfd);
	struct rx x;
	rx_start(&x, 0);
	int fd = open_ro(p);
	unsigned char *buf = xmap(256 * KiB);
	uint64_t h = DIGEST0, len = 0;
	for (size_t done = 0; done < 64 * MiB; done += 256 * KiB) {
		read_full_or_die(fd, buf, 256 * KiB);
		write_all(x.s, buf, 256 * KiB, &h, &len);
	}
	uint64_t gl, gh;
	rx_end(&x, &gl, &gh);
	close(fd);
	unlink(p);
	sleep(3); /* nothing the library sees in between */
	statfs(dir, &after);
	bool space_back = after.f_bfree + (2 * MiB) / after.f_bsize >= before.f_bfree;
	printf("obs 10 deleted_still_mapped=%s space_given_back=%s wire=%s\n",
	       maps_has("c10 (deleted)") ? "yes" : "no", space_back ? "yes" : "no",
	       gl == len && gh == h ? "ok" : "WRONG");
}

/* ---- 11: RSS after sending 256 MiB of distinct files (or more: REVIEW2_C11_FILES) ---- */

static void case11(void)
{
	/* REVIEW2_C11_FILES: 16 MiB files to send (default 16: 256 MiB; 128: 2 GiB) */
	const char *nf = getenv("REVIEW2_C11_FILES");
	int files = nf && atoi(nf) > 0 ? atoi(nf) : 16;
	long rss0 = vm_kb("VmRSS");
	struct rx x;
	rx_start(&x, 0);
	unsigned char *buf = xmap(256 * KiB);
	uint64_t h = DIGEST0, len = 0;
	for (int i = 0; i < files; i++) {
		const char *f = new_file("c11", 110 + (unsigned)i, 16 * MiB);
		int fd = open_ro(f);
		for (size_t done = 0; done < 16 * MiB; done += 256 * KiB) {
			read_full_or_die(fd, buf, 256 * KiB);
			write_all(x.s, buf, 256 * KiB, &h, &len);
		}
		close(fd);
		unlink(f);
		n_made--; /* (it was the last one made: its slot for the next) */
	}
	uint64_t gl, gh;
	rx_end(&x, &gl, &gh);
	long rss1 = vm_kb("VmRSS");
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("obs 11 rss_growth_under_16MiB=%s maxrss_under_32MiB=%s wire=%s\n",
	       rss1 - rss0 < 16 * 1024 ? "yes" : "no", ru.ru_maxrss < 32 * 1024 ? "yes" : "no",
	       gl == len && gh == h ? "ok" : "WRONG");
	printf("info 11 VmRSS %ld -> %ld kB, ru_maxrss %ld kB\n", rss0, rss1, ru.ru_maxrss);
}

/* ---- 12: POSIX_FADV_DONTNEED after the file was sent ---- */

static long cached_pages(int fd, size_t n)
{
	void *m = mmap(NULL, n, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		return -1;
	size_t pages = n / 4096;
	unsigned char *vec = xmalloc(pages);
	long c = 0;
	if (mincore(m, n, vec) == 0)
		for (size_t i = 0; i < pages; i++)
			c += vec[i] & 1;
	free(vec);
	munmap(m, n);
	return c;
}

static void case12(void)
{
	size_t n = 128 * MiB;
	const char *f = new_file("c12", 121, n);
	int fd = open_ro(f);
	fdatasync(fd); /* clean pages: DONTNEED drops no dirty ones, with or without the library */
	struct rx x;
	rx_start(&x, 0);
	unsigned char *buf = xmap(256 * KiB);
	uint64_t h = DIGEST0, len = 0;
	for (size_t done = 0; done < n; done += 256 * KiB) {
		read_full_or_die(fd, buf, 256 * KiB);
		write_all(x.s, buf, 256 * KiB, &h, &len);
	}
	uint64_t gl, gh;
	rx_end(&x, &gl, &gh); /* the receiver has it all: nothing is queued any more */
	posix_fadvise(fd, 0, (off_t)n, POSIX_FADV_DONTNEED);
	long c = cached_pages(fd, n);
	printf("obs 12 most_dropped_by_dontneed=%s wire=%s\n", c >= 0 && c < 16384 ? "yes" : "no",
	       gl == len && gh == h ? "ok" : "WRONG");
	printf("info 12 %ld pages still cached\n", c);
	close(fd);
}

/* ---- 13: the address space: a fixed mapping where the library once reserved a region, and
 * the largest reservation a program can make ---- */

static void case13(void)
{
	/* make the library do its work first */
	const char *f = new_file("c13", 131, 256 * KiB);
	int fd = open_ro(f);
	struct rx x;
	rx_start(&x, 0);
	unsigned char *buf = xmap(256 * KiB);
	uint64_t h = DIGEST0, len = 0;
	read_full_or_die(fd, buf, 256 * KiB);
	write_all(x.s, buf, 256 * KiB, &h, &len);
	uint64_t gl, gh;
	rx_end(&x, &gl, &gh);
	void *want = (void *)0x290000000000ull;
	void *p = mmap(want, 1 * MiB, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	printf("obs 13 fixed_noreplace_at_0x290000000000=%s\n", p == want ? "ok" : "refused");
	if (p != MAP_FAILED)
		munmap(p, 1 * MiB);
	size_t big = (size_t)64 << 40; /* 64 TiB, as a ZGC heap reservation */
	void *r = mmap(NULL, big, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	printf("obs 13 reserve_64TiB=%s\n", r != MAP_FAILED ? "ok" : "ENOMEM");
	if (r != MAP_FAILED)
		munmap(r, big);
	printf("obs 13 wire=%s\n", gl == len && gh == h ? "ok" : "WRONG");
	close(fd);
}

/* ---- 14: a SIGSEGV handler put in place behind libc (a library bound to libc directly):
 * sigaction reports it ---- */

static void c14_handler(int sig)
{
	(void)sig;
}

static void case14(void)
{
	struct sigaction cur;
	raw_install(SIGSEGV, c14_handler, 0);
	sigaction(SIGSEGV, NULL, &cur);
	printf("obs 14 sigsegv_reported=%s\n", cur.sa_handler == c14_handler ? "the new handler" : "another");
	raw_install(SIGBUS, c14_handler, 0);
	sigaction(SIGBUS, NULL, &cur);
	printf("obs 14 sigbus_reported=%s\n", cur.sa_handler == c14_handler ? "the new handler" : "another");
}

/* ---- 15: reading back SIGSEGV/SIGBUS as the kernel reports them ---- */

#ifndef SA_UNSUPPORTED
#define SA_UNSUPPORTED 0x00000400
#endif
static void case15(void)
{
	for (int sig = SIGSEGV; sig; sig = sig == SIGSEGV ? SIGBUS : 0) {
		struct sigaction sa, got;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = c14_handler;
		sa.sa_flags = SA_RESTART | SA_UNSUPPORTED | SA_NODEFER;
		sigemptyset(&sa.sa_mask);
		sigaddset(&sa.sa_mask, SIGKILL);
		sigaddset(&sa.sa_mask, SIGUSR1);
		sigaction(sig, &sa, NULL);
		memset(&got, 0, sizeof got);
		sigaction(sig, NULL, &got);
		printf("obs 15 %s flags=%#lx kill_in_mask=%d usr1_in_mask=%d restorer_set=%d\n",
		       sig == SIGSEGV ? "SIGSEGV" : "SIGBUS", (unsigned long)got.sa_flags,
		       sigismember(&got.sa_mask, SIGKILL), sigismember(&got.sa_mask, SIGUSR1),
		       got.sa_restorer != NULL);
	}
}

/* ---- 16: pthread keys the program can create ---- */

static void case16(void)
{
	/* the library at work first (a thread state, a proof) */
	const char *f = new_file("c16", 161, 64 * KiB);
	int fd = open_ro(f);
	struct rx x;
	rx_start(&x, 0);
	unsigned char *buf = xmap(64 * KiB);
	uint64_t h = DIGEST0, len = 0;
	read_full_or_die(fd, buf, 64 * KiB);
	write_all(x.s, buf, 64 * KiB, &h, &len);
	uint64_t gl, gh;
	rx_end(&x, &gl, &gh);
	int n = 0;
	pthread_key_t k;
	while (pthread_key_create(&k, NULL) == 0)
		n++;
	printf("obs 16 keys_created=%d\n", n);
	close(fd);
}

/* ---- 17: files a program can open at soft = hard = 1024 while it holds 300 it sent ---- */

static void case17(void)
{
	struct rlimit rl = { 1024, 1024 };
	setrlimit(RLIMIT_NOFILE, &rl);
	const char *f = new_file("c17", 171, 64 * KiB);
	struct rx x;
	rx_start(&x, 0);
	unsigned char *buf = xmap(64 * KiB);
	uint64_t h = DIGEST0, len = 0;
	for (int i = 0; i < 300; i++) {
		int fd = open_ro(f);
		read_full_or_die(fd, buf, 64 * KiB);
		write_all(x.s, buf, 64 * KiB, &h, &len);
		/* kept open */
	}
	uint64_t gl, gh;
	rx_end(&x, &gl, &gh);
	int more = 0, last = -1, fd;
	while ((fd = open(f, O_RDONLY)) >= 0) {
		more++;
		last = fd;
	}
	int e = errno;
	if (last >= 0) /* room again (the stats line at exit opens its file) */
		closefrom(last - more + 1);
	int listed = 0;
	DIR *d = opendir("/proc/self/fd");
	if (d) {
		struct dirent *de;
		while ((de = readdir(d)))
			listed += de->d_name[0] != '.';
		closedir(d);
	}
	printf("obs 17 opened_more=%d then=%s wire=%s\n", more, strerror(e), gl == len && gh == h ? "ok" : "WRONG");
	printf("info 17 /proc/self/fd lists %d\n", listed);
}

/* ---- 1000 files open at once, each read and sent ---- */

/* NF files open at once (NF: 100 or 1000), each read and sent, four passes. */
static void many_files(int NF, const char *label)
{
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < 1100) {
		rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	enum { SZ = 64 * 1024 };
	int *fds = xmalloc(sizeof(int) * (size_t)NF);
	const char *f[8];
	for (int i = 0; i < 8; i++)
		f[i] = new_file("c1000", 1000 + (unsigned)i, 4 * SZ);
	for (int i = 0; i < NF; i++)
		fds[i] = open_ro(f[i % 8]);
	struct rx x;
	rx_start(&x, 0);
	unsigned char *buf = xmap(SZ);
	uint64_t h = DIGEST0, len = 0;
	struct rusage r0, ru;
	getrusage(RUSAGE_SELF, &r0);
	double t0 = now_s();
	/* 4000 writes of 64 KiB whatever NF: each file's 4 pieces in turn */
	for (int pass = 0; pass < 4000 / NF; pass++)
		for (int i = 0; i < NF; i++) {
			if (pread_full(fds[i], buf, SZ, (off_t)(pass % 4) * SZ) != SZ)
				die("pread");
			write_all(x.s, buf, SZ, &h, &len);
		}
	double t = now_s() - t0;
	getrusage(RUSAGE_SELF, &ru);
	uint64_t gl, gh;
	rx_end(&x, &gl, &gh);
	double cpu = (double)(ru.ru_utime.tv_sec - r0.ru_utime.tv_sec) +
		     (double)(ru.ru_stime.tv_sec - r0.ru_stime.tv_sec) +
		     ((double)(ru.ru_utime.tv_usec - r0.ru_utime.tv_usec) +
		      (double)(ru.ru_stime.tv_usec - r0.ru_stime.tv_usec)) / 1e6;
	printf("obs %s wire=%s\n", label, gl == len && gh == h ? "ok" : "WRONG");
	printf("info %s %.1f MB in %.2f s, process CPU %.3f s/GB\n", label, (double)len / 1e6, t,
	       cpu / ((double)len / 1e9));
	for (int i = 0; i < NF; i++)
		close(fds[i]);
	free(fds);
}

static void case1000(void)
{
	many_files(1000, "1000files");
}

static void case100(void)
{
	many_files(100, "100files");
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: review2 1..17|1000files\n");
		return 2;
	}
	files_init();
	signal(SIGPIPE, SIG_IGN);
	static const struct {
		const char *name;
		void (*fn)(void);
	} cases[] = { { "1", case1 },	{ "2", case2 },	  { "3", case3 },   { "4", case4 },
		      { "5", case5 },	{ "6", case6 },	  { "7", case7 },   { "8", case8 },
		      { "9", case9 },	{ "10", case10 }, { "11", case11 }, { "12", case12 },
		      { "13", case13 }, { "14", case14 }, { "15", case15 }, { "16", case16 },
		      { "17", case17 }, { "1000files", case1000 }, { "100files", case100 } };
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		if (!strcmp(argv[1], cases[i].name)) {
			cases[i].fn();
			fflush(stdout);
			return 0;
		}
	fprintf(stderr, "review2: no case %s\n", argv[1]);
	return 2;
}
