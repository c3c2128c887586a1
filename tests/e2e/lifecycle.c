/* lifecycle: fd-lifecycle, fork, thread and signal scenarios for autosendfile.
 *
 * Each scenario opens a TCP loopback connection (a receiver thread collects every byte),
 * does its thing, and checks that the receiver got exactly what the program wrote: the
 * buffer contents at the moment of each write (a copy is logged after every write that
 * moved bytes). The program checks itself; run it plain and under the library, both must
 * pass. `lifecycle [SCENARIO...]` runs all or some; prints `ok NAME` or `FAIL NAME: why`,
 * exits 1 on any failure. Files are made in $TMPDIR (default /tmp) and removed at exit.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TESTUTIL_FAILMSG_STORAGE __thread /* threads' scenarios keep their own reason */
#include "testutil.h"

/* ------------------------------------------------------------------ file contents */

/* The path of the file "name" (seed, size), creating it on first use. */
static const char *file_path(const char *name, unsigned seed, size_t size)
{
	static size_t sizes[64];
	char want[600];
	snprintf(want, sizeof want, "%s/asf-lifecycle-%d-%s", tmpdir, (int)getpid(), name);
	for (int i = 0; i < n_made; i++)
		if (strcmp(made[i], want) == 0 && sizes[i] == size)
			return made[i];
	if (n_made < 64)
		sizes[n_made] = size;
	return make_file(want, seed, size);
}

#define SEED_A 1
#define SEED_B 2
#define FILE_A() file_path("A", SEED_A, 1 * MiB)
#define FILE_B() file_path("B", SEED_B, 1 * MiB)

/* Does buf hold the bytes of file (seed) at off? -1 if yes, else the first bad index. */
static long pattern_mismatch(unsigned seed, uint64_t off, const unsigned char *buf, size_t n)
{
	unsigned char tmp[4096];
	for (size_t i = 0; i < n; i += sizeof tmp) {
		size_t k = n - i < sizeof tmp ? n - i : sizeof tmp;
		pattern(seed, off + i, tmp, k);
		for (size_t j = 0; j < k; j++)
			if (tmp[j] != buf[i + j])
				return (long)(i + j);
	}
	return -1;
}

/* ------------------------------------------------------------------ connections */

struct conn {
	int snd;        /* the program's end: connect()ed */
	int rcv;        /* the receiver's end: accept()ed */
	pthread_t th;
	int started;
	/* receiver behaviour */
	size_t rchunk;       /* recv size (default 64 KiB) */
	unsigned slow_us;    /* sleep after each recv */
	size_t close_after;  /* close after this many bytes (0: read to EOF) */
	int rst;             /* with close_after: SO_LINGER 0 -> RST */
	/* what arrived */
	unsigned char *got;
	size_t got_len, got_cap;
	int rerr;            /* receiver errno, 0 if none */
	/* what the program wrote */
	unsigned char *exp;
	size_t exp_len, exp_cap;
};

/* Grows the expectation buffer ahead of a fork: the child of a threaded process must not
 * allocate (an allocator lock may be held by a thread that does not exist in the child;
 * ASan's allocator deadlocks there). */
static void expect_reserve(struct conn *c, size_t n)
{
	if (c->exp_len + n <= c->exp_cap)
		return;
	unsigned char *nb = realloc(c->exp, c->exp_len + n);
	if (!nb) {
		fprintf(stderr, "out of memory\n");
		_exit(2);
	}
	c->exp = nb;
	c->exp_cap = c->exp_len + n;
}

static void expect(struct conn *c, const void *p, size_t n)
{
	buf_append(&c->exp, &c->exp_len, &c->exp_cap, p, n);
}

static void *receiver(void *arg)
{
	struct conn *c = arg;
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL); /* signals are for the sending thread */
	size_t chunk = c->rchunk ? c->rchunk : 64 * KiB;
	unsigned char *tmp = xmalloc(chunk);
	for (;;) {
		size_t want = chunk;
		if (c->close_after && c->close_after - c->got_len < want)
			want = c->close_after - c->got_len;
		ssize_t r = recv(c->rcv, tmp, want, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			c->rerr = errno;
			break;
		}
		if (r == 0)
			break;
		buf_append(&c->got, &c->got_len, &c->got_cap, tmp, (size_t)r);
		if (c->close_after && c->got_len >= c->close_after) {
			if (c->rst) {
				struct linger lg = { 1, 0 };
				setsockopt(c->rcv, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
			}
			close(c->rcv);
			c->rcv = -1;
			break;
		}
		if (c->slow_us)
			usleep(c->slow_us);
	}
	free(tmp);
	return NULL;
}

/* Loopback connection; sndbuf > 0 sets SO_SNDBUF of the sending end. */
static int conn_open(struct conn *c, int sndbuf)
{
	if (loopback_pair(&c->snd, &c->rcv, sndbuf, 0) != 0)
		return -1;
	if (pthread_create(&c->th, NULL, receiver, c) != 0) {
		setfail("pthread_create failed");
		return -1;
	}
	c->started = 1;
	return 0;
}

/* Ends the connection; with check, compares what arrived with what was written. */
static int conn_finish(struct conn *c, int check)
{
	int rc = 0;
	if (c->snd >= 0)
		close(c->snd);
	c->snd = -1;
	if (c->started)
		pthread_join(c->th, NULL);
	c->started = 0;
	if (c->rcv >= 0)
		close(c->rcv);
	c->rcv = -1;
	if (check == 2) { /* what arrived must be a prefix of what was written */
		if (c->got_len > c->exp_len || memcmp(c->got, c->exp, c->got_len) != 0) {
			setfail("the %zu bytes received before the close are not the first bytes written",
				c->got_len);
			rc = -1;
		}
	} else if (check) {
		if (c->rerr) {
			setfail("receiver: recv failed: %s", strerror(c->rerr));
			rc = -1;
		} else if (c->got_len != c->exp_len ||
			   (c->exp_len && memcmp(c->got, c->exp, c->exp_len) != 0)) {
			size_t i = 0, m = c->got_len < c->exp_len ? c->got_len : c->exp_len;
			while (i < m && c->got[i] == c->exp[i])
				i++;
			setfail("received %zu bytes, wrote %zu; first difference at byte %zu", c->got_len,
				c->exp_len, i);
			rc = -1;
		}
	}
	free(c->got);
	free(c->exp);
	c->got = c->exp = NULL;
	c->got_len = c->got_cap = c->exp_len = c->exp_cap = 0;
	return rc;
}

/* write() (or send() with flags when use_send) all of buf to the blocking sender,
 * logging what each call took. */
static int send_all(struct conn *c, const void *buf, size_t n, int use_send, int flags)
{
	return send_all_logged(c->snd, buf, n, use_send, flags, &c->exp, &c->exp_len, &c->exp_cap);
}

/* ------------------------------------------------------------------ scenarios */

/* read A into buf; close(A); open `reopen` (flags) at the same number; write buf. */
static int close_reuse(const char *reopen, int oflags)
{
	struct conn c = { 0 };
	int rc = -1, fa = -1, fb = -1;
	unsigned char *buf = xmalloc(64 * KiB);
	long bad;
	CHECK(conn_open(&c, 0) == 0, "setup");
	fa = open(FILE_A(), O_RDONLY);
	CHECK(fa >= 0, "open A: %s", strerror(errno));
	CHECK(read_full(fa, buf, 64 * KiB) == 64 * KiB, "read A");
	CHECK((bad = pattern_mismatch(SEED_A, 0, buf, 64 * KiB)) < 0, "read A: wrong byte %ld", bad);
	CHECK(close(fa) == 0, "close A: %s", strerror(errno));
	fb = open(reopen, oflags);
	CHECK(fb >= 0, "reopen: %s", strerror(errno));
	CHECK(fb == fa, "reopened file got fd %d, not the closed number %d", fb, fa);
	fa = -1;
	if (send_all(&c, buf, 64 * KiB, 0, 0) != 0)
		goto out;
	/* once more, from the middle of the buffer */
	if (send_all(&c, buf + 12345, 40000, 0, 0) != 0)
		goto out;
	rc = 0;
out:
	if (fa >= 0)
		close(fa);
	if (fb >= 0)
		close(fb);
	if (c.started && conn_finish(&c, rc == 0) != 0)
		rc = -1;
	free(buf);
	return rc;
}

static int close_reuse_other_file(void)
{
	FILE_A();
	return close_reuse(FILE_B(), O_RDONLY);
}

static int close_reuse_same_file(void)
{
	return close_reuse(FILE_A(), O_RDONLY);
}

/* The number comes back as the same file, but write-only: it cannot be a sendfile source. */
static int close_reuse_same_file_wronly(void)
{
	return close_reuse(FILE_A(), O_WRONLY);
}

/* ...or as an O_PATH descriptor of the same file (fstat works on it, read does not). */
static int close_reuse_same_file_opath(void)
{
	return close_reuse(FILE_A(), O_PATH);
}

static int dup2_over_source(void)
{
	struct conn c = { 0 };
	int rc = -1, fa = -1, fb = -1, fw = -1;
	unsigned char *buf = xmalloc(64 * KiB);
	CHECK(conn_open(&c, 0) == 0, "setup");
	fa = open(FILE_A(), O_RDONLY);
	fb = open(FILE_B(), O_RDONLY);
	CHECK(fa >= 0 && fb >= 0, "open: %s", strerror(errno));
	CHECK(read_full(fa, buf, 64 * KiB) == 64 * KiB, "read A");
	CHECK(dup2(fb, fa) == fa, "dup2: %s", strerror(errno));
	if (send_all(&c, buf, 64 * KiB, 0, 0) != 0)
		goto out;
	/* B read through the new number, then the number re-pointed at A opened write-only */
	CHECK(lseek(fa, 64 * KiB, SEEK_SET) == 64 * KiB, "lseek");
	CHECK(read_full(fa, buf, 64 * KiB) == 64 * KiB, "read B");
	fw = open(FILE_A(), O_WRONLY);
	CHECK(fw >= 0, "open A wronly: %s", strerror(errno));
	CHECK(dup2(fw, fa) == fa, "dup2: %s", strerror(errno));
	if (send_all(&c, buf, 64 * KiB, 0, 0) != 0)
		goto out;
	rc = 0;
out:
	if (fa >= 0)
		close(fa);
	if (fb >= 0)
		close(fb);
	if (fw >= 0)
		close(fw);
	if (c.started && conn_finish(&c, rc == 0) != 0)
		rc = -1;
	free(buf);
	return rc;
}

static int dup_common(int use_fcntl)
{
	struct conn c = { 0 };
	int rc = -1, fd = -1, d = -1;
	unsigned char *b1 = xmalloc(32 * KiB), *b2 = xmalloc(32 * KiB);
	long bad;
	CHECK(conn_open(&c, 0) == 0, "setup");
	fd = open(FILE_A(), O_RDONLY);
	CHECK(fd >= 0, "open: %s", strerror(errno));
	/* a read before the dup too, so the number is classified when it is copied */
	CHECK(read_full(fd, b1, 16 * KiB) == 16 * KiB, "read");
	CHECK(lseek(fd, 0, SEEK_SET) == 0, "lseek");
	d = use_fcntl ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : dup(fd);
	CHECK(d >= 0, "dup: %s", strerror(errno));
	CHECK(read_full(fd, b1, 32 * KiB) == 32 * KiB, "read fd");
	CHECK(read_full(d, b2, 32 * KiB) == 32 * KiB, "read dup");
	CHECK((bad = pattern_mismatch(SEED_A, 32 * KiB, b2, 32 * KiB)) < 0,
	      "shared offset: buf2 is not A[32K..64K) (byte %ld)", bad);
	if (send_all(&c, b2, 32 * KiB, 0, 0) != 0 || send_all(&c, b1, 32 * KiB, 0, 0) != 0)
		goto out;
	/* close the original: the duplicate still reads on */
	close(fd);
	fd = -1;
	CHECK(read_full(d, b1, 32 * KiB) == 32 * KiB, "read dup after close");
	if (send_all(&c, b1, 32 * KiB, 0, 0) != 0 || send_all(&c, b2, 32 * KiB, 0, 0) != 0)
		goto out;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (d >= 0)
		close(d);
	if (c.started && conn_finish(&c, rc == 0) != 0)
		rc = -1;
	free(b1);
	free(b2);
	return rc;
}

static int dup_shared_offset(void) { return dup_common(0); }
static int fcntl_dupfd(void) { return dup_common(1); }

static int close_range_reuse(void)
{
	struct conn c = { 0 };
	int rc = -1, fa = -1, fb = -1;
	unsigned char *buf = xmalloc(64 * KiB);
	CHECK(conn_open(&c, 0) == 0, "setup");
	fa = open(FILE_A(), O_RDONLY);
	CHECK(fa >= 0, "open A: %s", strerror(errno));
	CHECK(read_full(fa, buf, 64 * KiB) == 64 * KiB, "read A");
#ifdef CLOSE_RANGE_CLOEXEC
	CHECK(close_range((unsigned)fa, (unsigned)fa, 0) == 0, "close_range: %s", strerror(errno));
#else
	CHECK(syscall(SYS_close_range, (unsigned)fa, (unsigned)fa, 0) == 0, "close_range: %s",
	      strerror(errno));
#endif
	fb = open(FILE_B(), O_RDONLY);
	CHECK(fb == fa, "open B got fd %d, not the closed number %d", fb, fa);
	fa = -1;
	if (send_all(&c, buf, 64 * KiB, 0, 0) != 0)
		goto out;
	rc = 0;
out:
	if (fa >= 0)
		close(fa);
	if (fb >= 0)
		close(fb);
	if (c.started && conn_finish(&c, rc == 0) != 0)
		rc = -1;
	free(buf);
	return rc;
}

static int lseek_between(void)
{
	struct conn c = { 0 };
	int rc = -1, fd = -1;
	unsigned char *b1 = xmalloc(64 * KiB), *b2 = xmalloc(16 * KiB), *big = xmalloc(128 * KiB);
	CHECK(conn_open(&c, 0) == 0, "setup");
	fd = open(FILE_A(), O_RDONLY);
	CHECK(fd >= 0, "open: %s", strerror(errno));
	CHECK(lseek(fd, 100000, SEEK_SET) == 100000, "lseek");
	CHECK(read_full(fd, b1, 64 * KiB) == 64 * KiB, "read");
	CHECK(lseek(fd, 0, SEEK_SET) == 0, "lseek");
	CHECK(read_full(fd, b2, 16 * KiB) == 16 * KiB, "read 16K");
	if (send_all(&c, b1, 64 * KiB, 0, 0) != 0 || send_all(&c, b2, 16 * KiB, 0, 0) != 0)
		goto out;
	/* seek back into the range already read, read into the same buffer again */
	CHECK(lseek(fd, 100000 + 8 * KiB, SEEK_SET) == 100000 + 8 * KiB, "lseek");
	CHECK(read_full(fd, b1 + 32 * KiB, 32 * KiB) == 32 * KiB, "read");
	if (send_all(&c, b1, 64 * KiB, 0, 0) != 0 || send_all(&c, b1 + 32 * KiB, 32 * KiB, 0, 0) != 0)
		goto out;
	/* pread in reverse order into consecutive pieces of one buffer */
	for (int k = 7; k >= 0; k--)
		CHECK(pread(fd, big + k * 16 * KiB, 16 * KiB, (off_t)(k * 16 * KiB + 7)) == 16 * KiB,
		      "pread");
	for (int k = 0; k < 8; k++)
		if (send_all(&c, big + ((k * 5) % 8) * 16 * KiB, 16 * KiB, 0, 0) != 0)
			goto out;
	if (send_all(&c, big, 128 * KiB, 0, 0) != 0 || send_all(&c, big + 8 * KiB, 16 * KiB, 0, 0) != 0)
		goto out;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (c.started && conn_finish(&c, rc == 0) != 0)
		rc = -1;
	free(b1);
	free(b2);
	free(big);
	return rc;
}

static int fork_child_writes(void)
{
	int rc = -1;
	unsigned char *buf = xmalloc(64 * KiB), *b2 = xmalloc(64 * KiB);
	for (int how = 0; how < 2; how++) {
		struct conn c = { 0 };
		int fd = -1;
		CHECK(conn_open(&c, 0) == 0, "setup");
		fd = open(FILE_A(), O_RDONLY);
		CHECK(fd >= 0, "open: %s", strerror(errno));
		CHECK(read_full(fd, buf, 64 * KiB) == 64 * KiB, "read");
		expect_reserve(&c, 4 * 64 * KiB);
		fflush(stdout);
		fflush(stderr);
		pid_t pid = fork();
		CHECK(pid >= 0, "fork: %s", strerror(errno));
		if (pid == 0) {
			/* the child: the parent's buffer, then one read of its own */
			if (send_all(&c, buf, 64 * KiB, 0, 0) != 0)
				_exit(3);
			if (read_full(fd, b2, 64 * KiB) != 64 * KiB)
				_exit(4);
			if (send_all(&c, b2, 64 * KiB, 0, 0) != 0)
				_exit(5);
			if (how == 0)
				_exit(0);
			exit(0);
		}
		int st;
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child (%s) status 0x%x",
		      how ? "exit" : "_exit", st);
		expect(&c, buf, 64 * KiB);
		pattern(SEED_A, 64 * KiB, b2, 64 * KiB);
		expect(&c, b2, 64 * KiB);
		/* and the parent writes its buffer again after the child is gone */
		if (send_all(&c, buf, 64 * KiB, 0, 0) != 0)
			goto out;
		close(fd);
		fd = -1;
		if (conn_finish(&c, 1) != 0) {
			fail_prefix("child used %s", how ? "exit" : "_exit");
			goto out;
		}
		continue;
	out:
		if (fd >= 0)
			close(fd);
		if (c.started)
			conn_finish(&c, 0);
		goto end;
	}
	rc = 0;
end:
	free(buf);
	free(b2);
	return rc;
}

/* threads: each with its own connection and file */
struct tjob {
	int id;
	int shared_fd;     /* >= 0: pread from this fd at the thread's own offsets */
	off_t region;      /* shared: start of the region */
	size_t region_len;
	int rc;
	char msg[512];
};

static uint64_t rng_next(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return mix64(*s);
}

static void *thread_main(void *arg)
{
	struct tjob *j = arg;
	struct conn c = { 0 };
	int fd = -1;
	size_t fsize = 2 * MiB;
	unsigned char *buf = xmalloc(128 * KiB);
	uint64_t rs = 0x1234 + (uint64_t)j->id * 77;
	j->rc = -1;
	CHECK(conn_open(&c, 0) == 0, "setup");
	if (j->shared_fd < 0) {
		char name[16];
		snprintf(name, sizeof name, "T%d", j->id);
		/* file_path is not thread-safe: the files were made before the threads started */
		fd = open(file_path(name, 10 + (unsigned)j->id, fsize), O_RDONLY);
		CHECK(fd >= 0, "open: %s", strerror(errno));
	}
	off_t pos = 0;
	for (int it = 0; it < 200; it++) {
		size_t n = 1 + (size_t)(rng_next(&rs) % (128 * KiB));
		ssize_t r;
		if (j->shared_fd >= 0) {
			if ((size_t)pos + n > j->region_len)
				pos = 0;
			r = pread(j->shared_fd, buf, n, j->region + pos);
			CHECK(r > 0, "pread: %s", r < 0 ? strerror(errno) : "EOF");
			pos += r;
		} else {
			r = read(fd, buf, n);
			if (r == 0) {
				CHECK(lseek(fd, 0, SEEK_SET) == 0, "lseek");
				r = read(fd, buf, n);
			}
			CHECK(r > 0, "read: %s", r < 0 ? strerror(errno) : "EOF");
		}
		size_t len = (size_t)r;
		unsigned what = (unsigned)(rng_next(&rs) % 8);
		size_t at = (size_t)(rng_next(&rs) % len);
		if (what == 0) { /* changed in place */
			buf[at] ^= 0x5a;
		} else if (what == 1) { /* changed and put back */
			buf[at] ^= 0xa5;
			buf[at] ^= 0xa5;
		}
		if (what == 2 && len > 1) { /* only the tail */
			if (send_all(&c, buf + at, len - at, 0, 0) != 0)
				goto out;
		} else if (what == 3) { /* send(MSG_NOSIGNAL) */
			if (send_all(&c, buf, len, 1, MSG_NOSIGNAL) != 0)
				goto out;
		} else {
			if (send_all(&c, buf, len, 0, 0) != 0)
				goto out;
		}
		if (what == 4 && len > 16) /* changed after the write: next read overwrites */
			memset(buf, 0, len / 2);
	}
	j->rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (c.started && conn_finish(&c, j->rc == 0) != 0)
		j->rc = -1;
	if (j->rc != 0)
		snprintf(j->msg, sizeof j->msg, "thread %d%s: %.400s", j->id,
			 j->shared_fd >= 0 ? " (shared fd)" : "", failmsg);
	free(buf);
	return NULL;
}

static int threads(void)
{
	struct tjob jobs[12];
	pthread_t th[12];
	int rc = -1, shared = -1, nstarted = 0;
	for (int i = 0; i < 8; i++) {
		char name[16];
		snprintf(name, sizeof name, "T%d", i);
		file_path(name, 10 + (unsigned)i, 2 * MiB);
	}
	const char *sp = file_path("S", 30, 8 * MiB);
	shared = open(sp, O_RDONLY);
	CHECK(shared >= 0, "open: %s", strerror(errno));
	for (int i = 0; i < 12; i++) {
		memset(&jobs[i], 0, sizeof jobs[i]);
		jobs[i].id = i;
		jobs[i].shared_fd = i < 8 ? -1 : shared;
		jobs[i].region = (off_t)(i - 8) * 2 * MiB;
		jobs[i].region_len = 2 * MiB;
	}
	for (int i = 0; i < 12; i++) {
		CHECK(pthread_create(&th[i], NULL, thread_main, &jobs[i]) == 0, "pthread_create");
		nstarted++;
	}
	rc = 0;
out:
	for (int i = 0; i < nstarted; i++) {
		pthread_join(th[i], NULL);
		if (jobs[i].rc != 0) {
			setfail("%s", jobs[i].msg);
			rc = -1;
		}
	}
	if (shared >= 0)
		close(shared);
	return rc;
}

/* signals: SIGALRM every 200 us whose handler writes to a pipe and reads a small file */
static int sig_pipe[2] = { -1, -1 };
static const char *sig_small_path;
static volatile sig_atomic_t sig_count, sig_bad;
static unsigned char sig_buf[64 * KiB]; /* n >= the library's default minimum: tracked */

#define SMALL_SIZE 3000u
#define SEED_SMALL 4

static void on_alarm(int sig)
{
	(void)sig;
	int saved = errno;
	sig_count++;
	if (write(sig_pipe[1], "x", 1) != 1 && errno != EAGAIN)
		sig_bad = 1;
	int fd = open(sig_small_path, O_RDONLY);
	if (fd < 0) {
		sig_bad = 2;
	} else {
		ssize_t r = read(fd, sig_buf, sizeof sig_buf);
		if (r != (ssize_t)SMALL_SIZE)
			sig_bad = 3;
		else {
			unsigned char head[8];
			pattern(SEED_SMALL, 0, head, sizeof head);
			if (memcmp(head, sig_buf, sizeof head) != 0)
				sig_bad = 4;
		}
		close(fd);
	}
	errno = saved;
}

/* nonblock: poll on EAGAIN; else a blocking socket, where SA_RESTART must hide every EINTR
 * (the kernel restarts an interrupted blocking socket write; the library must too). */
static int signals_one(int restart, int nonblock, size_t total)
{
	struct conn c = { 0 };
	int rc = -1, fd = -1;
	unsigned char *buf = xmalloc(64 * KiB);
	unsigned char drain[256];
	struct sigaction sa = { 0 }, old;
	struct itimerval it = { { 0, 200 }, { 0, 200 } }, off = { { 0, 0 }, { 0, 0 } };
	int timer_on = 0, handler_on = 0;

	sig_count = sig_bad = 0;
	c.rchunk = 4 * KiB;
	c.slow_us = 20;
	CHECK(conn_open(&c, 4096) == 0, "setup");
	if (nonblock)
		CHECK(fcntl(c.snd, F_SETFL, fcntl(c.snd, F_GETFL) | O_NONBLOCK) == 0, "O_NONBLOCK");
	fd = open(file_path("BIG", 3, 16 * MiB), O_RDONLY);
	CHECK(fd >= 0, "open: %s", strerror(errno));
	sa.sa_handler = on_alarm;
	sa.sa_flags = restart ? SA_RESTART : 0;
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGALRM, &sa, &old) == 0, "sigaction");
	handler_on = 1;
	CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0, "setitimer");
	timer_on = 1;
	size_t sent = 0;
	long eagain = 0, eintr = 0;
	while (sent < total) {
		ssize_t r = read(fd, buf, 64 * KiB);
		if (r < 0 && errno == EINTR) {
			eintr++;
			continue;
		}
		CHECK(r > 0, "read: %s", r < 0 ? strerror(errno) : "EOF");
		size_t n = (size_t)r, done = 0;
		while (done < n) {
			ssize_t w = write(c.snd, buf + done, n - done);
			if (w < 0 && errno == EINTR) {
				eintr++;
				continue;
			}
			if (w < 0 && errno == EAGAIN) {
				eagain++;
				struct pollfd p = { .fd = c.snd, .events = POLLOUT };
				if (poll(&p, 1, 5000) < 0 && errno != EINTR)
					CHECK(0, "poll: %s", strerror(errno));
				continue;
			}
			CHECK(w > 0, "write: %s", w < 0 ? strerror(errno) : "returned 0");
			expect(&c, buf + done, (size_t)w);
			done += (size_t)w;
		}
		sent += n;
		while (read(sig_pipe[0], drain, sizeof drain) > 0)
			;
	}
	setitimer(ITIMER_REAL, &off, NULL);
	timer_on = 0;
	if (getenv("LIFECYCLE_VERBOSE"))
		fprintf(stderr, "signals(%s, %s): %d signals, %ld EAGAIN, %ld EINTR\n",
			restart ? "SA_RESTART" : "no SA_RESTART", nonblock ? "non-blocking" : "blocking",
			(int)sig_count, eagain, eintr);
	CHECK(!(restart && !nonblock && eintr), "%ld EINTR from a blocking socket under SA_RESTART",
	      eintr);
	CHECK(!sig_bad, "signal handler check %d failed", (int)sig_bad);
	CHECK(sig_count > 10, "only %d signals arrived", (int)sig_count);
	rc = 0;
out:
	if (timer_on)
		setitimer(ITIMER_REAL, &off, NULL);
	if (handler_on)
		sigaction(SIGALRM, &old, NULL);
	if (fd >= 0)
		close(fd);
	if (c.started && conn_finish(&c, rc == 0) != 0)
		rc = -1;
	if (rc != 0 && restart >= 0)
		fail_prefix("%s, %s socket", restart ? "SA_RESTART" : "no SA_RESTART",
			    nonblock ? "non-blocking" : "blocking");
	free(buf);
	return rc;
}

static int signals(void)
{
	sig_small_path = file_path("SMALL", SEED_SMALL, SMALL_SIZE);
	if (sig_pipe[0] < 0 && pipe2(sig_pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
		setfail("pipe: %s", strerror(errno));
		return -1;
	}
	size_t total = getenv("LIFECYCLE_SIG_MIB") ? (size_t)atoi(getenv("LIFECYCLE_SIG_MIB")) * MiB : 16 * MiB;
	if (signals_one(1, 1, total) != 0 || signals_one(0, 1, total) != 0)
		return -1;
	/* blocking sockets: 4 MiB each */
	if (signals_one(1, 0, total / 4) != 0)
		return -1;
	return signals_one(0, 0, total / 4);
}

/* sigpipe: the library must neither add nor lose a SIGPIPE (on_pipe counts them) */

static int sigpipe_one(int use_send, int rst, char *what, size_t whatlen)
{
	struct conn c = { 0 };
	int rc = -1, fd = -1;
	unsigned char *buf = xmalloc(64 * KiB);
	long epipe = 0, reset = 0, ok = 0;
	snprintf(what, whatlen, "%s, receiver %s", use_send ? "send(MSG_NOSIGNAL)" : "write",
		 rst ? "resets" : "closes");
	pipe_count = 0;
	c.close_after = 1000;
	c.rst = rst;
	CHECK(conn_open(&c, 0) == 0, "setup");
	fd = open(FILE_A(), O_RDONLY);
	CHECK(fd >= 0, "open: %s", strerror(errno));
	for (int i = 0; i < 2000 && epipe < 3; i++) {
		off_t o = (off_t)((i * 64 * KiB) % (1 * MiB - 64 * KiB));
		CHECK(pread(fd, buf, 64 * KiB, o) == 64 * KiB, "pread");
		ssize_t w = use_send ? send(c.snd, buf, 64 * KiB, MSG_NOSIGNAL)
				     : write(c.snd, buf, 64 * KiB);
		if (w >= 0) {
			ok++;
			if (c.exp_len < 1000)
				expect(&c, buf, (size_t)w);
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EPIPE)
			epipe++;
		else if (errno == ECONNRESET)
			reset++;
		else
			CHECK(0, "write failed with %s (errno %d), not EPIPE/ECONNRESET", strerror(errno),
			      errno);
		if (!rst && epipe + reset == 0)
			continue;
		usleep(1000); /* let the peer's RST arrive before the next try */
	}
	CHECK(epipe + reset > 0, "the writes never failed (%ld succeeded)", ok);
	CHECK(epipe > 0, "no EPIPE after %ld ECONNRESET", reset);
	if (use_send)
		CHECK(pipe_count == 0, "%d SIGPIPE with MSG_NOSIGNAL", (int)pipe_count);
	else
		CHECK((long)pipe_count == epipe, "%d SIGPIPE for %ld EPIPE results (%ld ECONNRESET)",
		      (int)pipe_count, epipe, reset);
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	/* the bytes the receiver took before it closed must be the first bytes written */
	if (c.started && conn_finish(&c, rc == 0 ? 2 : 0) != 0)
		rc = -1;
	free(buf);
	return rc;
}

static int sigpipe_write(void)
{
	struct sigaction sa = { 0 }, old;
	sa.sa_handler = on_pipe;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGPIPE, &sa, &old);
	int rc = 0;
	char what[128];
	for (int v = 0; v < 4 && rc == 0; v++) {
		if (sigpipe_one(v & 1, v >> 1, what, sizeof what) != 0) {
			fail_prefix("%s", what);
			rc = -1;
		}
	}
	sigaction(SIGPIPE, &old, NULL);
	return rc;
}

static int proc_source(void)
{
	struct conn c = { 0 };
	int rc = -1, fd = -1;
	unsigned char *buf = xmalloc(256 * KiB);
	const char *srcs[] = { "/proc/self/maps", "/proc/cpuinfo", "/proc/self/smaps" };
	CHECK(conn_open(&c, 0) == 0, "setup");
	for (int s = 0; s < 3; s++) {
		for (int rep = 0; rep < 3; rep++) {
			fd = open(srcs[s], O_RDONLY);
			CHECK(fd >= 0, "open %s: %s", srcs[s], strerror(errno));
			size_t len = 0;
			for (;;) { /* 16 KiB chunks, one after the other in buf */
				if (len + 16 * KiB > 256 * KiB)
					break;
				ssize_t r = read(fd, buf + len, 16 * KiB);
				if (r < 0 && errno == EINTR)
					continue;
				CHECK(r >= 0, "read %s: %s", srcs[s], strerror(errno));
				if (r == 0)
					break;
				/* each chunk on its own, right away */
				if (send_all(&c, buf + len, (size_t)r, rep == 1, 0) != 0)
					goto out;
				len += (size_t)r;
			}
			/* and the whole of it once more */
			if (len && send_all(&c, buf, len, 0, 0) != 0)
				goto out;
			close(fd);
			fd = -1;
		}
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (c.started && conn_finish(&c, rc == 0) != 0)
		rc = -1;
	free(buf);
	return rc;
}

/* dup2_race (opt-in, not in the default set): another thread keeps re-pointing the source
 * fd number between two files with dup2 while this thread preads from it and writes the
 * buffer. The bytes sent must still be the buffer's, whichever file it came from. */
static volatile int race_stop;
static int race_fd = 200, race_f, race_g;

static void *race_churn(void *arg)
{
	(void)arg;
	while (!race_stop) {
		dup2(race_f, race_fd);
		dup2(race_g, race_fd);
	}
	return NULL;
}

static int dup2_race(void)
{
	int rc = -1, started = 0;
	pthread_t th;
	unsigned char *buf = xmalloc(16 * KiB);
	race_stop = 0;
	race_f = open(FILE_A(), O_RDONLY);
	race_g = open(FILE_B(), O_RDONLY);
	CHECK(race_f >= 0 && race_g >= 0, "open: %s", strerror(errno));
	CHECK(dup2(race_f, race_fd) == race_fd, "dup2: %s", strerror(errno));
	CHECK(pthread_create(&th, NULL, race_churn, NULL) == 0, "pthread_create");
	started = 1;
	/* batches of 2000 writes (each compared and freed), until a mismatch or 10 batches */
	for (int batch = 0; batch < 10; batch++) {
		struct conn c = { 0 };
		int brc = -1;
		if (conn_open(&c, 0) != 0)
			goto out;
		for (int i = 0; i < 2000; i++) {
			if (pread(race_fd, buf, 16 * KiB, 0) != 16 * KiB) {
				setfail("pread: %s", strerror(errno));
				break;
			}
			if (send_all(&c, buf, 16 * KiB, 0, 0) != 0)
				break;
			brc = i == 1999 ? 0 : -1;
		}
		if (conn_finish(&c, brc == 0) != 0 || brc != 0) {
			fail_prefix("batch %d of 2000 writes", batch);
			goto out;
		}
	}
	rc = 0;
out:
	race_stop = 1;
	if (started)
		pthread_join(th, NULL);
	close(race_fd);
	close(race_f);
	close(race_g);
	free(buf);
	return rc;
}

/* ------------------------------------------------------------------ main */

static const struct scenario scenarios[] = {
	{ "close_reuse_other_file", close_reuse_other_file, 0 },
	{ "close_reuse_same_file", close_reuse_same_file, 0 },
	{ "close_reuse_same_file_wronly", close_reuse_same_file_wronly, 0 },
	{ "close_reuse_same_file_opath", close_reuse_same_file_opath, 0 },
	{ "dup2_over_source", dup2_over_source, 0 },
	{ "dup_shared_offset", dup_shared_offset, 0 },
	{ "fcntl_dupfd", fcntl_dupfd, 0 },
	{ "close_range_reuse", close_range_reuse, 0 },
	{ "lseek_between", lseek_between, 0 },
	{ "fork_child_writes", fork_child_writes, 0 },
	{ "threads", threads, 0 },
	{ "signals", signals, 0 },
	{ "sigpipe_write", sigpipe_write, 0 },
	{ "proc_source", proc_source, 0 },
	{ "dup2_race", dup2_race, 1 },
};
#define N_SCENARIOS (sizeof scenarios / sizeof scenarios[0])

static void *watchdog(void *arg)
{
	unsigned secs = (unsigned)(uintptr_t)arg;
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	sleep(secs);
	fprintf(stdout, "FAIL watchdog: still running after %u s\n", secs);
	fflush(stdout);
	cleanup_files();
	_exit(1);
}

int main(int argc, char **argv)
{
	files_init();
	setvbuf(stdout, NULL, _IOLBF, 0);
	const char *wd = getenv("LIFECYCLE_TIMEOUT");
	pthread_t wt;
	pthread_create(&wt, NULL, watchdog, (void *)(uintptr_t)(wd ? (unsigned)atoi(wd) : 120u));
	pthread_detach(wt);

	int failed = 0;
	if (argc > 1 && strcmp(argv[1], "--list") == 0) {
		list_scenarios(scenarios, N_SCENARIOS);
		return 0;
	}
	if (check_scenario_names("lifecycle", scenarios, N_SCENARIOS, argv + 1, argc - 1) != 0)
		return 2;
	for (size_t i = 0; i < N_SCENARIOS; i++) {
		if (!scenario_wanted(&scenarios[i], argv + 1, argc - 1))
			continue;
		failmsg[0] = 0;
		if (scenarios[i].fn() == 0) {
			printf("ok %s\n", scenarios[i].name);
		} else {
			printf("FAIL %s: %s\n", scenarios[i].name, failmsg[0] ? failmsg : "(no detail)");
			failed = 1;
		}
	}
	return failed;
}
