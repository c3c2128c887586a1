/* faults: the source file changing under a copy loop, fd limits, huge fd numbers and a peer
 * that resets, for autosendfile.
 *
 * Each scenario opens a TCP loopback connection whose receiving end is served by a forked
 * receiver process (it stores every byte in shared memory), does its thing, and checks that
 * the receiver got exactly what the program wrote: the buffer contents at the moment of each
 * write (a copy is logged after every write that moved bytes). A process, not a thread, so
 * that the program itself stays single-threaded (the library's unpinned path); --threaded
 * starts an idle thread first (the library then pins the source with a private dup for
 * every redirected write). Run it plain and under the library: both must pass.
 *
 *   faults [--threaded] [SCENARIO...]     all default scenarios, or the ones named
 *   faults --list                          the default scenarios
 *
 * Prints `ok NAME`, `skip NAME: why` or `FAIL NAME: why` per scenario, plus `info NAME: ...`
 * and `class NAME: ...` lines (the behaviour class of g, compared by test_faults.sh between
 * plain and library runs). Exit 1 on any failure. Files are made in $TMPDIR (default /tmp)
 * and removed at exit. FAULTS_TIMEOUT (s, default 50): the watchdog.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#define SKIP 77

/* A fresh file of size bytes (pattern seed), removed at exit. */
static const char *new_file(const char *name, unsigned seed, size_t size)
{
	char p[sizeof made[0]];
	snprintf(p, sizeof p, "%s/asf-faults-%d-%d-%s", tmpdir, (int)getpid(), n_made, name);
	return make_file(p, seed, size);
}

/* ------------------------------------------------------------------ connections */

#define RCV_CAP (40u * MiB)

struct rshm { /* shared with the receiver process */
	volatile size_t len;
	volatile int rerr;
	unsigned char data[];
};
static struct rshm *shm;

struct conn {
	int snd;
	pid_t rpid;
	/* receiver behaviour, set before conn_open */
	int sndbuf, rcvbuf;  /* SO_SNDBUF of the sender, SO_RCVBUF of the receiver (0: default) */
	size_t rchunk;       /* recv size (default 64 KiB) */
	unsigned slow_us;    /* sleep after each recv */
	size_t close_after;  /* close after this many bytes (0: read to EOF) */
	int rst;             /* with close_after: SO_LINGER 0 -> RST */
	/* what the program wrote */
	unsigned char *exp;
	size_t exp_len, exp_cap;
};

static volatile pid_t receiver_pid; /* for the watchdog */

static void receiver(int fd, const struct conn *c)
{
	size_t chunk = c->rchunk ? c->rchunk : 64 * KiB;
	for (;;) {
		size_t want = chunk;
		if (c->close_after && c->close_after - shm->len < want)
			want = c->close_after - shm->len;
		if (shm->len + want > RCV_CAP) {
			shm->rerr = EMSGSIZE;
			break;
		}
		ssize_t r = recv(fd, shm->data + shm->len, want, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			shm->rerr = errno;
			break;
		}
		if (r == 0)
			break;
		shm->len += (size_t)r;
		if (c->close_after && shm->len >= c->close_after) {
			if (c->rst) {
				struct linger lg = { 1, 0 };
				setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
			}
			break;
		}
		if (c->slow_us)
			usleep(c->slow_us);
	}
	close(fd);
	_exit(0);
}

static int conn_open(struct conn *c)
{
	int rfd = -1;
	c->rpid = -1;
	shm->len = 0;
	shm->rerr = 0;
	if (loopback_pair(&c->snd, &rfd, c->sndbuf, c->rcvbuf) != 0)
		return -1;
	fflush(stdout);
	c->rpid = fork();
	CHECK(c->rpid >= 0, "fork: %s", strerror(errno));
	if (c->rpid == 0) {
		close(c->snd);
		receiver(rfd, c);
	}
	receiver_pid = c->rpid;
	close(rfd);
	return 0;
out:
	close(rfd);
	return -1;
}

/* Waits until the receiver has every byte written so far (max ~10 s): nothing the program
 * wrote is still queued in a socket, so a change to the file cannot reach it any more. */
static int wait_drained(const struct conn *c)
{
	for (int i = 0; i < 10000; i++) {
		if (shm->len >= c->exp_len)
			return 0;
		usleep(1000);
	}
	setfail("the receiver did not get the %zu bytes written (has %zu)", c->exp_len, shm->len);
	return -1;
}

static void expect(struct conn *c, const void *p, size_t n)
{
	buf_append(&c->exp, &c->exp_len, &c->exp_cap, p, n);
}

enum check_mode { CK_NONE, CK_EXACT, CK_PREFIX, CK_COUNT };

/* Ends the connection (close, wait for the receiver) and compares. CK_COUNT: the lengths
 * must match; differing bytes are counted into *ndiff (first one at *first). */
static int conn_finish(struct conn *c, enum check_mode mode, size_t *ndiff, size_t *first)
{
	int rc = 0;
	if (c->snd >= 0)
		close(c->snd);
	c->snd = -1;
	if (c->rpid > 0) {
		int st;
		while (waitpid(c->rpid, &st, 0) < 0 && errno == EINTR)
			;
		receiver_pid = 0;
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			setfail("receiver process died (status 0x%x)", st);
			rc = -1;
		}
	}
	c->rpid = -1;
	size_t got = shm->len;
	if (rc == 0 && mode == CK_PREFIX) {
		if (got > c->exp_len || memcmp(shm->data, c->exp, got) != 0) {
			setfail("the %zu bytes received before the reset are not the first bytes written",
				got);
			rc = -1;
		}
	} else if (rc == 0 && mode == CK_EXACT) {
		if (shm->rerr) {
			setfail("receiver: recv failed: %s", strerror(shm->rerr));
			rc = -1;
		} else if (got != c->exp_len || (got && memcmp(shm->data, c->exp, got) != 0)) {
			size_t i = 0, m = got < c->exp_len ? got : c->exp_len;
			while (i < m && shm->data[i] == c->exp[i])
				i++;
			setfail("received %zu bytes, wrote %zu; first difference at byte %zu", got,
				c->exp_len, i);
			rc = -1;
		}
	} else if (rc == 0 && mode == CK_COUNT) {
		if (shm->rerr || got != c->exp_len) {
			setfail("received %zu bytes, write() reported %zu (receiver errno %d)", got,
				c->exp_len, shm->rerr);
			rc = -1;
		}
		size_t d = 0, f = (size_t)-1;
		for (size_t i = 0; i < got && i < c->exp_len; i++)
			if (shm->data[i] != c->exp[i]) {
				if (!d)
					f = i;
				d++;
			}
		*ndiff = d;
		*first = f;
	}
	free(c->exp);
	c->exp = NULL;
	c->exp_len = c->exp_cap = 0;
	return rc;
}

/* write() (or send() with flags) all of buf, logging what each call took. */
static int send_all(struct conn *c, const void *buf, size_t n, int use_send, int flags)
{
	return send_all_logged(c->snd, buf, n, use_send, flags, &c->exp, &c->exp_len, &c->exp_cap);
}

/* ------------------------------------------------------------------ threads */

static int threaded;
static void *idle_thread(void *arg)
{
	(void)arg;
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	for (;;)
		pause();
	return NULL;
}

static void ensure_thread(void)
{
	if (threaded)
		return;
	pthread_t th;
	if (pthread_create(&th, NULL, idle_thread, NULL) != 0) {
		fprintf(stderr, "pthread_create failed\n");
		_exit(2);
	}
	pthread_detach(th);
	threaded = 1;
}

/* ------------------------------------------------------------------ a, b, c: the file
 * changes between the read and the write */

enum change { CH_TRUNC0, CH_TRUNC_HALF, CH_APPEND, CH_PWRITE_RANGE, CH_PWRITE_ELSEWHERE,
	      CH_PWRITE_SAME, CH_REFILL, CH_PWRITE_ALL };

static void apply_change(int wfd, enum change ch, off_t off, size_t n, size_t fsize)
{
	unsigned char *tmp;
	switch (ch) {
	case CH_TRUNC0:
		if (ftruncate(wfd, 0) != 0)
			goto bad;
		break;
	case CH_TRUNC_HALF:
		if (ftruncate(wfd, (off_t)fsize / 2) != 0)
			goto bad;
		break;
	case CH_APPEND:
		fill(wfd, 9, (off_t)fsize, 64 * KiB);
		break;
	case CH_PWRITE_RANGE: /* other bytes over the middle of the range read */
		fill(wfd, 7, off + (off_t)n / 4, n / 2);
		break;
	case CH_PWRITE_ALL: /* other bytes over all of the range */
		fill(wfd, 7, off, n);
		break;
	case CH_PWRITE_ELSEWHERE:
		fill(wfd, 7, off >= (off_t)(64 * KiB) ? 0 : (off_t)(fsize - 4096), 4096);
		break;
	case CH_PWRITE_SAME: /* the same bytes again: the content does not change */
		tmp = xmalloc(n);
		if (pread_full(wfd, tmp, n, off) != (ssize_t)n || pwrite(wfd, tmp, n, off) != (ssize_t)n)
			goto bad;
		free(tmp);
		break;
	case CH_REFILL: /* truncate, then other bytes up to the old size */
		if (ftruncate(wfd, 0) != 0)
			goto bad;
		fill(wfd, 8, 0, fsize);
		break;
	}
	return;
bad:
	fprintf(stderr, "changing the file failed: %s\n", strerror(errno));
	_exit(2);
}

/* One case: read n bytes at off (read() after lseek, or pread), change the file, write the
 * buffer (whole, then a slice of it), then re-read and write 3 more times (the library must
 * pick up the new state: this is where it redirects again). */
static int change_case(enum change ch, off_t off, size_t n, int use_pread, int use_send,
		       const char *label)
{
	struct conn c = { 0 };
	int rc = -1, fd = -1, wfd = -1;
	size_t fsize = 1 * MiB;
	unsigned char *buf = xmalloc(n);
	const char *path = new_file(label, 1, fsize);
	CHECK(conn_open(&c) == 0, "%s: setup", label);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	wfd = open(path, O_RDWR | O_CLOEXEC);
	CHECK(fd >= 0 && wfd >= 0, "%s: open: %s", label, strerror(errno));
	/* a first untouched copy, so the fd is classified and the library has done a redirect */
	CHECK(pread_full(fd, buf, n, 0) == (ssize_t)n, "%s: pread", label);
	if (send_all(&c, buf, n, use_send, 0) != 0)
		goto out;
	ssize_t got;
	if (use_pread) {
		got = pread_full(fd, buf, n, off);
	} else {
		CHECK(lseek(fd, off, SEEK_SET) == off, "%s: lseek", label);
		got = read_full(fd, buf, n);
	}
	CHECK(got > 0, "%s: read at %lld: %s", label, (long long)off, strerror(errno));
	/* (the first copy is out of the socket queues: its pages may not see the change) */
	if (wait_drained(&c) != 0)
		goto out;
	apply_change(wfd, ch, off, (size_t)got, fsize);
	if (send_all(&c, buf, (size_t)got, use_send, 0) != 0)
		goto out;
	if (got > (ssize_t)(16 * KiB) && send_all(&c, buf + 1000, (size_t)got - 2000, use_send, 0) != 0)
		goto out;
	/* the new state of the file, copied as it is now */
	for (int i = 0; i < 3; i++) {
		struct stat st;
		CHECK(fstat(fd, &st) == 0, "fstat");
		if (st.st_size == 0 && wait_drained(&c) != 0)
			goto out;
		if (st.st_size == 0)
			apply_change(wfd, CH_REFILL, 0, 0, fsize); /* nothing left to copy: refill */
		got = pread_full(fd, buf, n, 0);
		CHECK(got > 0, "%s: re-read %d: %s", label, i, strerror(errno));
		if (send_all(&c, buf, (size_t)got, use_send, 0) != 0)
			goto out;
	}
	rc = 0;
out:
	if (rc != 0)
		fail_prefix("%s", label);
	if (fd >= 0)
		close(fd);
	if (wfd >= 0)
		close(wfd);
	if (c.rpid > 0 && conn_finish(&c, rc == 0 ? CK_EXACT : CK_NONE, NULL, NULL) != 0) {
		fail_prefix("%s", label);
		rc = -1;
	}
	free(buf);
	return rc;
}

static int a_trunc_zero(void)
{
	return change_case(CH_TRUNC0, 0, 64 * KiB, 0, 0, "read@0,trunc0,write") ||
	       change_case(CH_TRUNC0, 512 * KiB, 64 * KiB, 1, 0, "pread@512K,trunc0,write") ||
	       change_case(CH_TRUNC0, 64 * KiB, 256 * KiB, 1, 1, "pread@64K(256K),trunc0,send") ||
	       change_case(CH_REFILL, 128 * KiB, 64 * KiB, 0, 0, "read@128K,trunc0+refill,write");
}

static int a_trunc_half(void)
{
	return change_case(CH_TRUNC_HALF, 0, 64 * KiB, 0, 0, "read@0,trunc-half,write") ||
	       change_case(CH_TRUNC_HALF, 512 * KiB - 32 * KiB, 64 * KiB, 1, 0,
			   "pread@480K(straddles),trunc-half,write") ||
	       change_case(CH_TRUNC_HALF, 768 * KiB, 64 * KiB, 0, 0, "read@768K(beyond),trunc-half,write") ||
	       change_case(CH_TRUNC_HALF, 256 * KiB, 512 * KiB, 1, 1,
			   "pread@256K(512K),trunc-half,send");
}

static int b_append(void)
{
	return change_case(CH_APPEND, 0, 64 * KiB, 0, 0, "read@0,append,write") ||
	       change_case(CH_APPEND, 1 * MiB - 64 * KiB, 64 * KiB, 1, 0, "pread@tail,append,write") ||
	       change_case(CH_APPEND, 1 * MiB - 16 * KiB, 64 * KiB, 0, 1,
			   "read@1M-16K(short),append,send");
}

static int c_rewrite(void)
{
	return change_case(CH_PWRITE_RANGE, 0, 64 * KiB, 0, 0, "read@0,pwrite-in-range,write") ||
	       change_case(CH_PWRITE_RANGE, 300 * KiB, 256 * KiB, 1, 1,
			   "pread@300K(256K),pwrite-in-range,send") ||
	       change_case(CH_PWRITE_ELSEWHERE, 128 * KiB, 64 * KiB, 1, 0,
			   "pread@128K,pwrite-elsewhere,write") ||
	       change_case(CH_PWRITE_SAME, 64 * KiB, 64 * KiB, 0, 0, "read@64K,pwrite-same-bytes,write");
}

/* c_mmap (opt-in): the range is changed through a MAP_SHARED mapping whose page is already
 * dirty and writable, so the store takes no fault and the kernel does not touch the ctime. */
static int c_mmap(void)
{
	struct conn c = { 0 };
	int rc = -1, fd = -1, wfd = -1;
	size_t fsize = 1 * MiB, n = 64 * KiB;
	unsigned char *map = MAP_FAILED, *buf = xmalloc(n);
	const char *path = new_file("mmap", 1, fsize);
	CHECK(conn_open(&c) == 0, "setup");
	wfd = open(path, O_RDWR | O_CLOEXEC);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0 && wfd >= 0, "open: %s", strerror(errno));
	map = mmap(NULL, fsize, PROT_READ | PROT_WRITE, MAP_SHARED, wfd, 0);
	CHECK(map != MAP_FAILED, "mmap: %s", strerror(errno));
	for (size_t i = 0; i < n; i += 4096)
		map[i] ^= 0x5a; /* write faults now: pages dirty and writable */
	for (int rep = 0; rep < 4; rep++) {
		CHECK(pread_full(fd, buf, n, 0) == (ssize_t)n, "pread");
		if (wait_drained(&c) != 0)
			goto out;
		for (size_t i = 100; i < n; i += 97)
			map[i] ^= 0xff; /* no fault: no ctime change */
		if (send_all(&c, buf, n, 0, 0) != 0)
			goto out;
	}
	rc = 0;
out:
	if (map != MAP_FAILED)
		munmap(map, fsize);
	if (fd >= 0)
		close(fd);
	if (wfd >= 0)
		close(wfd);
	if (c.rpid > 0 && conn_finish(&c, rc == 0 ? CK_EXACT : CK_NONE, NULL, NULL) != 0)
		rc = -1;
	free(buf);
	return rc;
}

/* ------------------------------------------------------------------ d: the file changes
 * while written bytes are still queued */

static int d_common(enum change ch, const char *name)
{
	struct conn c = { 0 };
	int rc = -1, fd = -1, wfd = -1;
	size_t fsize = 2 * MiB, n = 512 * KiB;
	size_t ndiff = 0, first = 0;
	unsigned char *buf = xmalloc(n);
	const char *path = new_file(name, 1, fsize);
	c.sndbuf = 32 * KiB;
	c.rcvbuf = 32 * KiB;
	c.rchunk = 16 * KiB;
	c.slow_us = 2000;
	CHECK(conn_open(&c) == 0, "setup");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	wfd = open(path, O_RDWR | O_CLOEXEC);
	CHECK(fd >= 0 && wfd >= 0, "open: %s", strerror(errno));
	CHECK(read_full(fd, buf, n) == (ssize_t)n, "read");
	if (send_all(&c, buf, n, 0, 0) != 0)
		goto out;
	/* write() returned: change the file while the tail is still in the socket queues */
	apply_change(wfd, ch, 0, n, fsize);
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (wfd >= 0)
		close(wfd);
	size_t wrote = c.exp_len;
	if (c.rpid > 0 && conn_finish(&c, rc == 0 ? CK_COUNT : CK_NONE, &ndiff, &first) != 0)
		rc = -1;
	if (rc == 0) {
		if (ndiff)
			printf("info %s: wrote %zu bytes, received %zu; %zu bytes differ from the buffer "
			       "(first at %zu): sendfile-queued pages reflected the change (the "
			       "documented hazard)\n", name, wrote, shm->len, ndiff, first);
		else
			printf("info %s: wrote %zu bytes, received %zu; 0 bytes differ\n", name, wrote,
			       shm->len);
	}
	free(buf);
	return rc;
}

static int d_rewrite(void)
{
	return d_common(CH_PWRITE_ALL, "d_rewrite");
}

static int d_truncate(void)
{
	return d_common(CH_TRUNC0, "d_truncate");
}

/* ------------------------------------------------------------------ e: RLIMIT_NOFILE */

static int count_fds(int *maxfd)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	int n = 0, dfd = dirfd(d), mx = -1;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		int fd = atoi(e->d_name);
		if (fd == dfd)
			continue;
		n++;
		if (fd > mx)
			mx = fd;
	}
	closedir(d);
	if (maxfd)
		*maxfd = mx;
	return n;
}

/* free_fds = 1: all fd numbers but one are in use; 0: none is free. */
static int e_common(int free_fds)
{
	struct conn c = { 0 };
	int rc = -1, fd = -1, lowered = 0, nfill = 0;
	int *fillers = NULL;
	struct rlimit old;
	size_t n = 64 * KiB;
	unsigned char *buf = xmalloc(n);
	ensure_thread();
	const char *path = new_file(free_fds ? "e1" : "e0", 1, 1 * MiB);
	CHECK(getrlimit(RLIMIT_NOFILE, &old) == 0, "getrlimit");
	CHECK(conn_open(&c) == 0, "setup");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0, "open: %s", strerror(errno));
	/* one small copy before (4 KiB: below the default AUTOSENDFILE_MIN_BYTES, never
	 * redirected, so the stats count only what happens at the limit): the fd is classified
	 * and the library's per-thread state exists */
	CHECK(pread_full(fd, buf, 4096, 0) == 4096, "pread");
	if (send_all(&c, buf, 4096, 0, 0) != 0)
		goto out;
	int maxfd, open_now = count_fds(&maxfd);
	CHECK(open_now > 0, "cannot list /proc/self/fd");
	struct rlimit lim = old;
	lim.rlim_cur = (rlim_t)open_now + 2;
	if (lim.rlim_cur > old.rlim_max)
		lim.rlim_cur = old.rlim_max;
	CHECK(setrlimit(RLIMIT_NOFILE, &lim) == 0, "setrlimit(%lu): %s", (unsigned long)lim.rlim_cur,
	      strerror(errno));
	lowered = 1;
	/* use up every number below the limit, then give back what the case wants free */
	fillers = xmalloc(sizeof(int) * (lim.rlim_cur + 8));
	for (;;) {
		int f = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (f < 0) {
			CHECK(errno == EMFILE, "open /dev/null: %s, not EMFILE", strerror(errno));
			break;
		}
		CHECK(nfill < (int)lim.rlim_cur + 8, "open /dev/null never fails");
		fillers[nfill++] = f;
	}
	CHECK(nfill >= free_fds, "only %d fds to give back", nfill);
	for (int i = 0; i < free_fds; i++)
		close(fillers[--nfill]);
	printf("info e_fdlimit_%s: %d fds open (highest %d), soft limit %lu, %d filler fds, %d free\n",
	       free_fds ? "one_free" : "none_free", open_now, maxfd, (unsigned long)lim.rlim_cur,
	       nfill, free_fds);
	/* copy loops: pread and read(), each write followed by an open() of the program */
	CHECK(lseek(fd, 0, SEEK_SET) == 0, "lseek");
	for (int i = 0; i < 32; i++) {
		ssize_t got = (i & 1) ? pread_full(fd, buf, n, (off_t)((i * 40000) % (900 * KiB)))
				      : read_full(fd, buf, n);
		CHECK(got == (ssize_t)n, "read %d: %zd (%s)", i, got, strerror(errno));
		if (send_all(&c, buf, n, i % 4 == 3, 0) != 0)
			goto out;
		int o = open(path, O_RDONLY | O_CLOEXEC);
		if (free_fds) {
			CHECK(o >= 0, "after write %d: open() failed (%s) with one fd free: the library "
				      "kept an fd", i, strerror(errno));
			close(o);
		} else {
			CHECK(o < 0 && errno == EMFILE, "after write %d: open() with no fd free gave %d (%s), "
					"want EMFILE", i, o, o < 0 ? strerror(errno) : "success");
		}
	}
	/* exactly as many free as before: one open succeeds (if one was free), the next fails */
	int o1 = -1, o2 = -1;
	if (free_fds)
		o1 = open("/dev/null", O_RDONLY | O_CLOEXEC);
	o2 = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int e2 = errno;
	if (o1 >= 0)
		close(o1);
	if (o2 >= 0)
		close(o2);
	CHECK(!free_fds || o1 >= 0, "the free fd is gone after the loop");
	CHECK(o2 < 0 && e2 == EMFILE, "more fds free after the loop than before (an fd was closed?)");
	rc = 0;
out:
	while (nfill > 0)
		close(fillers[--nfill]);
	free(fillers);
	if (lowered)
		setrlimit(RLIMIT_NOFILE, &old);
	if (fd >= 0)
		close(fd);
	if (c.rpid > 0 && conn_finish(&c, rc == 0 ? CK_EXACT : CK_NONE, NULL, NULL) != 0)
		rc = -1;
	free(buf);
	return rc;
}

static int e_fdlimit_one_free(void)
{
	return e_common(1);
}

static int e_fdlimit_none_free(void)
{
	return e_common(0);
}

/* ------------------------------------------------------------------ f: huge fd numbers */

/* Copies a 1 MiB file through file number ffd and socket number sfd (the file by read()
 * in 64 KiB steps, then 8 preads of 96 KiB). */
static int high_pair(int ffd, int sfd)
{
	struct conn c = { 0 };
	int rc = -1, fd = -1;
	size_t n = 96 * KiB;
	unsigned char *buf = xmalloc(n);
	const char *path = new_file("high", 3, 1 * MiB);
	CHECK(conn_open(&c) == 0, "setup");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0, "open: %s", strerror(errno));
	if (ffd >= 0) {
		CHECK(dup2(fd, ffd) == ffd, "dup2(file, %d): %s", ffd, strerror(errno));
		close(fd);
		fd = ffd;
	}
	if (sfd >= 0) {
		CHECK(dup2(c.snd, sfd) == sfd, "dup2(socket, %d): %s", sfd, strerror(errno));
		close(c.snd);
		c.snd = sfd;
	}
	for (;;) {
		ssize_t r = read(fd, buf, 64 * KiB);
		if (r < 0 && errno == EINTR)
			continue;
		CHECK(r >= 0, "read(%d): %s", fd, strerror(errno));
		if (r == 0)
			break;
		if (send_all(&c, buf, (size_t)r, 0, 0) != 0)
			goto out;
	}
	for (int i = 0; i < 8; i++) {
		CHECK(pread_full(fd, buf, n, (off_t)i * 100000) == (ssize_t)n, "pread(%d)", fd);
		if (send_all(&c, buf, n, i & 1, 0) != 0)
			goto out;
	}
	rc = 0;
out:
	if (rc != 0)
		fail_prefix("file fd %d, socket fd %d", fd, c.snd);
	if (fd >= 0)
		close(fd);
	if (c.rpid > 0 && conn_finish(&c, rc == 0 ? CK_EXACT : CK_NONE, NULL, NULL) != 0)
		rc = -1;
	free(buf);
	return rc;
}

static long read_long(const char *path)
{
	FILE *f = fopen(path, "r");
	long v = -1;
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/* Raises RLIMIT_NOFILE so that fd numbers below want can be used. */
static int raise_nofile(rlim_t want, struct rlimit *old)
{
	getrlimit(RLIMIT_NOFILE, old);
	struct rlimit lim = *old;
	if (lim.rlim_cur >= want)
		return 0;
	lim.rlim_cur = want;
	if (lim.rlim_max < want)
		lim.rlim_max = want;
	return setrlimit(RLIMIT_NOFILE, &lim);
}

/* fd numbers around the library's table page edges (4096 entries a page), up to the
 * highest number the hard limit allows: runs everywhere. */
static int f_page_edges(void)
{
	struct rlimit old;
	getrlimit(RLIMIT_NOFILE, &old);
	rlim_t want = old.rlim_max < 20000 ? old.rlim_max : 20000;
	if (want < 8200 || raise_nofile(want, &old) != 0) {
		setfail("cannot raise RLIMIT_NOFILE to %lu (hard %lu)", (unsigned long)want,
			(unsigned long)old.rlim_max);
		return SKIP;
	}
	int top = (int)want - 1;
	int rc = high_pair(4095, 4096) || high_pair(8192, 8191) || high_pair(top, 4097) ||
		 high_pair(8193, top - 1);
	setrlimit(RLIMIT_NOFILE, &old);
	return rc ? -1 : 0;
}

static int f_high_fds(void)
{
	struct rlimit old;
	if (raise_nofile(200000, &old) != 0) {
		setfail("cannot raise RLIMIT_NOFILE to 200000 (hard limit %lu; raising it needs "
			"CAP_SYS_RESOURCE): %s", (unsigned long)old.rlim_max, strerror(errno));
		return SKIP;
	}
	int rc = high_pair(70000, 100000) || high_pair(150000, 100001) || high_pair(150001, -1) ||
		 high_pair(-1, 150002) || high_pair(65536, 65537) || high_pair(199999, 131072);
	setrlimit(RLIMIT_NOFILE, &old);
	return rc ? -1 : 0;
}

/* Up to nr_open (at most the table's end): the top of what this kernel allows. */
static int f_huge_fds(void)
{
	struct rlimit old;
	long nr_open = read_long("/proc/sys/fs/nr_open");
	if (nr_open > 4194304)
		nr_open = 4194304;
	if (nr_open < 1000010) {
		setfail("/proc/sys/fs/nr_open = %ld, want >= 1000010", nr_open);
		return SKIP;
	}
	if (raise_nofile((rlim_t)nr_open, &old) != 0) {
		setfail("cannot raise RLIMIT_NOFILE to %ld (hard limit %lu; raising it needs "
			"CAP_SYS_RESOURCE): %s", nr_open, (unsigned long)old.rlim_max, strerror(errno));
		return SKIP;
	}
	int top = (int)nr_open - 1;
	int rc = high_pair(1000000, top) || high_pair(top - 1, 1000001);
	setrlimit(RLIMIT_NOFILE, &old);
	return rc ? -1 : 0;
}

/* Above the library's table (fds >= 4194304): passed through, still exact. */
static int f_beyond_table(void)
{
	struct rlimit old;
	long nr_open = read_long("/proc/sys/fs/nr_open");
	if (nr_open <= 4194304 + 8) {
		setfail("/proc/sys/fs/nr_open = %ld: no fd above 4194304 possible", nr_open);
		return SKIP;
	}
	if (raise_nofile(4194304 + 8, &old) != 0) {
		setfail("cannot raise RLIMIT_NOFILE above 4194304: %s", strerror(errno));
		return SKIP;
	}
	int rc = high_pair(4194304, 4194305) || high_pair(4194306, 70000) || high_pair(70001, 4194307);
	setrlimit(RLIMIT_NOFILE, &old);
	return rc ? -1 : 0;
}

/* ------------------------------------------------------------------ g: peer resets while
 * the program is inside a large blocking write */

static const char *class_of(ssize_t w, int err, size_t n)
{
	if (w == (ssize_t)n)
		return "full";
	if (w > 0)
		return "partial";
	if (w == 0)
		return "zero";
	switch (err) {
	case EPIPE: return "EPIPE";
	case ECONNRESET: return "ECONNRESET";
	default: return "other-error";
	}
}

static int g_common(int use_send, const char *name)
{
	struct conn c = { 0 };
	int rc = -1, fd = -1;
	size_t n = 512 * KiB;
	long epipe = 0, reset = 0;
	char seq[256] = "";
	unsigned char *buf = xmalloc(n);
	const char *path = new_file(name, 4, 2 * MiB);
	pipe_count = 0;
	c.sndbuf = 32 * KiB;
	c.rcvbuf = 32 * KiB;
	c.rchunk = 16 * KiB;
	c.slow_us = 3000;
	c.close_after = 128 * KiB;
	c.rst = 1;
	CHECK(conn_open(&c) == 0, "setup");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0, "open: %s", strerror(errno));
	/* the first call blocks long before 512 KiB fit: the receiver resets at 128 KiB */
	for (int i = 0; i < 6 && epipe + reset < 3; i++) {
		CHECK(pread_full(fd, buf, n, (off_t)i * 256 * KiB) == (ssize_t)n, "pread");
		ssize_t w;
		do
			w = use_send ? send(c.snd, buf, n, MSG_NOSIGNAL) : write(c.snd, buf, n);
		while (w < 0 && errno == EINTR);
		int err = errno;
		const char *cl = class_of(w, err, n);
		CHECK(strcmp(cl, "other-error") != 0 && w != 0,
		      "call %d: %s (errno %d), not a count, EPIPE or ECONNRESET", i, strerror(err), err);
		if (w > 0)
			expect(&c, buf, (size_t)w);
		if (w < 0 && err == EPIPE)
			epipe++;
		if (w < 0 && err == ECONNRESET)
			reset++;
		snprintf(seq + strlen(seq), sizeof seq - strlen(seq), "%s%s", i ? "," : "", cl);
		if (i == 0)
			CHECK(w != (ssize_t)n, "the first 512 KiB write did not block (returned all of it)");
		usleep(20000); /* let the reset arrive */
	}
	CHECK(epipe + reset > 0, "the writes never failed: %s", seq);
	if (use_send)
		CHECK(pipe_count == 0, "%d SIGPIPE under MSG_NOSIGNAL (%s)", (int)pipe_count, seq);
	else
		CHECK((long)pipe_count == epipe, "%d SIGPIPE for %ld EPIPE results (%s)", (int)pipe_count,
		      epipe, seq);
	printf("info %s: results %s, SIGPIPE %d\n", name, seq, (int)pipe_count);
	/* The class: what the call that blocked did, the first error after it (a pending
	 * ECONNRESET is reported once, without SIGPIPE, then EPIPE), and the SIGPIPE rule. */
	{
		char first[32], firsterr[32] = "none";
		size_t k = strcspn(seq, ",");
		if (k >= sizeof first)
			k = sizeof first - 1;
		memcpy(first, seq, k);
		first[k] = 0;
		char *e = strstr(seq, "EPIPE"), *r = strstr(seq, "ECONNRESET");
		if (r && (!e || r < e))
			snprintf(firsterr, sizeof firsterr, "ECONNRESET");
		else if (e)
			snprintf(firsterr, sizeof firsterr, "EPIPE");
		printf("class %s: blocked-call=%s first-error=%s sigpipe=%s\n", name, first, firsterr,
		       use_send ? "none(MSG_NOSIGNAL)" : "one-per-EPIPE");
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (c.rpid > 0 && conn_finish(&c, rc == 0 ? CK_PREFIX : CK_NONE, NULL, NULL) != 0)
		rc = -1;
	free(buf);
	return rc;
}

static int g_rst_write(void)
{
	return g_common(0, "g_rst_write");
}

static int g_rst_send(void)
{
	return g_common(1, "g_rst_send");
}

/* ------------------------------------------------------------------ h: where a read starts
 * The library guesses where a read() starts (where the last read or lseek it saw left the
 * offset) and proves the guess with one lseek after the read. Here the offset moves in
 * every way it can: seen (lseek, small reads) and unseen (raw syscalls, a dup's reads). The
 * receiver checks every byte; test_faults.sh checks that the seen moves keep redirecting. */
static int h_offsets(void)
{
	struct conn c = { 0 };
	int rc = -1, fd = -1, fd2 = -1;
	const size_t n = 64 * KiB;
	unsigned char *buf = xmalloc(n), small[100];
	const char *path = new_file("h_offsets", 5, 2 * MiB);
	CHECK(conn_open(&c) == 0, "setup");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0, "open: %s", strerror(errno));
	fd2 = dup(fd);
	CHECK(fd2 >= 0, "dup: %s", strerror(errno));
	/* 1. from 0 (seen: redirected) */
	CHECK(read_full(fd, buf, n) == (ssize_t)n, "read 1");
	if (send_all(&c, buf, n, 0, 0) != 0)
		goto out;
	/* 2. a raw lseek: unseen, the next read starts elsewhere */
	CHECK(syscall(SYS_lseek, fd, (off_t)(300 * KiB + 7), SEEK_SET) == (off_t)(300 * KiB + 7),
	      "raw lseek");
	CHECK(read_full(fd, buf, n) == (ssize_t)n, "read 2");
	if (send_all(&c, buf, n, 0, 0) != 0)
		goto out;
	/* 3. lseek through libc (seen: redirected) */
	CHECK(lseek(fd, 100 * KiB, SEEK_SET) == (off_t)(100 * KiB), "lseek");
	CHECK(read_full(fd, buf, n) == (ssize_t)n, "read 3");
	if (send_all(&c, buf, n, 0, 0) != 0)
		goto out;
	/* 4. a small read, then a large one (seen: redirected) */
	CHECK(read(fd, small, sizeof small) == (ssize_t)sizeof small, "small read");
	if (send_all(&c, small, sizeof small, 0, 0) != 0)
		goto out;
	CHECK(read_full(fd, buf, n) == (ssize_t)n, "read 4");
	if (send_all(&c, buf, n, 0, 0) != 0)
		goto out;
	/* 5. a raw read moves the offset unseen */
	CHECK(syscall(SYS_read, fd, buf, (size_t)5000) == 5000, "raw read");
	CHECK(read_full(fd, buf, n) == (ssize_t)n, "read 5");
	if (send_all(&c, buf, n, 0, 0) != 0)
		goto out;
	/* 6. the dup shares the offset: reads through either number move it for both */
	CHECK(read_full(fd2, buf, n) == (ssize_t)n, "read 6 (dup)");
	if (send_all(&c, buf, n, 0, 0) != 0)
		goto out;
	CHECK(read_full(fd, buf, n) == (ssize_t)n, "read 7");
	if (send_all(&c, buf, n, 0, 0) != 0)
		goto out;
	CHECK(read_full(fd2, buf, n) == (ssize_t)n, "read 8 (dup)");
	if (send_all(&c, buf, n, 0, 0) != 0)
		goto out;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (fd2 >= 0)
		close(fd2);
	if (c.rpid > 0 && conn_finish(&c, rc == 0 ? CK_EXACT : CK_NONE, NULL, NULL) != 0)
		rc = -1;
	free(buf);
	return rc;
}

/* ------------------------------------------------------------------ i: unreadable vectors
 * writev/sendmsg whose iovec array or msghdr cannot be read: the kernel fails the call with
 * EFAULT before a byte moves. The library looks at the iovecs before the real call, so it
 * must read them as the kernel does (no crash), and then send the next good write as usual.
 * test_faults.sh asserts that one was redirected. */
static int i_bad_vectors(void)
{
	struct conn c = { 0 };
	int rc = -1, fd = -1;
	const size_t n = 64 * KiB;
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	unsigned char *buf = xmalloc(n);
	const char *path = new_file("i_bad_vectors", 6, 1 * MiB);
	/* two pages, the second unmapped: an iovec array that runs into it is unreadable */
	unsigned char *pages = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(pages != MAP_FAILED, "mmap: %s", strerror(errno));
	CHECK(munmap(pages + pg, pg) == 0, "munmap: %s", strerror(errno));
	void *hole = pages + pg;
	struct iovec *edge = (struct iovec *)(pages + pg - sizeof(struct iovec));
	CHECK(conn_open(&c) == 0, "setup");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0, "open: %s", strerror(errno));
	CHECK(read_full(fd, buf, n) == (ssize_t)n, "read 1");
	if (send_all(&c, buf, n, 0, 0) != 0)
		goto out;
	CHECK(read_full(fd, buf, n) == (ssize_t)n, "read 2");
	edge[0] = (struct iovec){ buf, n }; /* readable; the second iovec is in the hole */
	struct msghdr m = { .msg_iov = hole, .msg_iovlen = 2 };
	struct msghdr *mhole = (struct msghdr *)hole;
	ssize_t w;
	errno = 0;
	w = writev(c.snd, hole, 2);
	CHECK(w == -1 && errno == EFAULT, "writev(iov in the hole): %zd (%s), want EFAULT", w, strerror(errno));
	errno = 0;
	w = writev(c.snd, edge, 2);
	CHECK(w == -1 && errno == EFAULT, "writev(iov into the hole): %zd (%s), want EFAULT", w, strerror(errno));
	errno = 0;
	w = sendmsg(c.snd, mhole, MSG_NOSIGNAL);
	CHECK(w == -1 && errno == EFAULT, "sendmsg(msghdr in the hole): %zd (%s), want EFAULT", w, strerror(errno));
	errno = 0;
	w = sendmsg(c.snd, &m, MSG_NOSIGNAL);
	CHECK(w == -1 && errno == EFAULT, "sendmsg(msg_iov in the hole): %zd (%s), want EFAULT", w, strerror(errno));
	m.msg_iov = edge;
	errno = 0;
	w = sendmsg(c.snd, &m, MSG_NOSIGNAL);
	CHECK(w == -1 && errno == EFAULT, "sendmsg(msg_iov into the hole): %zd (%s), want EFAULT", w, strerror(errno));
	/* the same bytes by a readable vector: sent */
	struct iovec one = { buf, n };
	w = writev(c.snd, &one, 1);
	CHECK(w == (ssize_t)n, "writev of the read: %zd (%s)", w, strerror(errno));
	expect(&c, buf, n);
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (c.rpid > 0 && conn_finish(&c, rc == 0 ? CK_EXACT : CK_NONE, NULL, NULL) != 0)
		rc = -1;
	if (pages != MAP_FAILED)
		munmap(pages, pg);
	free(buf);
	return rc;
}

/* ------------------------------------------------------------------ main */

static const struct scenario scenarios[] = {
	{ "a_trunc_zero", a_trunc_zero, 0 },
	{ "a_trunc_half", a_trunc_half, 0 },
	{ "b_append", b_append, 0 },
	{ "c_rewrite", c_rewrite, 0 },
	{ "d_rewrite", d_rewrite, 0 },
	{ "d_truncate", d_truncate, 0 },
	{ "e_fdlimit_one_free", e_fdlimit_one_free, 0 },
	{ "e_fdlimit_none_free", e_fdlimit_none_free, 0 },
	{ "f_page_edges", f_page_edges, 0 },
	{ "f_high_fds", f_high_fds, 0 },
	{ "f_huge_fds", f_huge_fds, 0 },
	{ "f_beyond_table", f_beyond_table, 0 },
	{ "g_rst_write", g_rst_write, 0 },
	{ "g_rst_send", g_rst_send, 0 },
	{ "h_offsets", h_offsets, 0 },
	{ "i_bad_vectors", i_bad_vectors, 0 },
	{ "c_mmap", c_mmap, 1 },
};
#define N_SCENARIOS (sizeof scenarios / sizeof scenarios[0])

static unsigned watchdog_secs;
static void on_alarm(int sig)
{
	(void)sig;
	char msg[96];
	int len = snprintf(msg, sizeof msg, "FAIL watchdog: still running after %u s\n", watchdog_secs);
	if (write(1, msg, (size_t)len) < 0) {
	}
	if (receiver_pid > 0)
		kill(receiver_pid, SIGKILL);
	for (int i = 0; i < n_made; i++)
		unlink(made[i]);
	_exit(1);
}

int main(int argc, char **argv)
{
	files_init();
	setvbuf(stdout, NULL, _IOLBF, 0);
	const char *wd = getenv("FAULTS_TIMEOUT");
	watchdog_secs = wd ? (unsigned)atoi(wd) : 50u;
	signal(SIGALRM, on_alarm);
	alarm(watchdog_secs);
	struct sigaction sa = { 0 };
	sa.sa_handler = on_pipe;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGPIPE, &sa, NULL); /* counted; a write then fails with EPIPE */
	shm = mmap(NULL, sizeof *shm + RCV_CAP, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shm == MAP_FAILED) {
		fprintf(stderr, "mmap: %s\n", strerror(errno));
		return 2;
	}

	int a = 1;
	if (a < argc && strcmp(argv[a], "--list") == 0) {
		list_scenarios(scenarios, N_SCENARIOS);
		return 0;
	}
	if (a < argc && strcmp(argv[a], "--threaded") == 0) {
		ensure_thread();
		a++;
	}
	if (check_scenario_names("faults", scenarios, N_SCENARIOS, argv + a, argc - a) != 0)
		return 2;
	int failed = 0;
	for (size_t i = 0; i < N_SCENARIOS; i++) {
		if (!scenario_wanted(&scenarios[i], argv + a, argc - a))
			continue;
		failmsg[0] = 0;
		int r = scenarios[i].fn();
		if (r == 0) {
			printf("ok %s\n", scenarios[i].name);
		} else if (r == SKIP) {
			printf("skip %s: %s\n", scenarios[i].name, failmsg);
		} else {
			printf("FAIL %s: %s\n", scenarios[i].name, failmsg[0] ? failmsg : "(no detail)");
			failed = 1;
		}
		cleanup_files();
	}
	return failed;
}
