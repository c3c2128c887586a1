/* testutil.h: helpers shared by the e2e test programs of tests/e2e. Header-only, because each
 * program is compiled alone from its one .c file; everything is static and marked unused, so a
 * program gets only what it calls. Include it after _GNU_SOURCE and the system headers.
 *
 * The scenario programs (faults, lifecycle) record the first failure reason of a scenario in
 * failmsg (setfail, CHECK). A program whose threads run scenarios of their own defines
 * TESTUTIL_FAILMSG_STORAGE as __thread before the include: each thread keeps its own reason.
 */
#ifndef ASF_TESTUTIL_H
#define ASF_TESTUTIL_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define TU_UNUSED __attribute__((unused))

#define KiB 1024u
#define MiB (1024u * 1024u)

/* ------------------------------------------------------------------ fatal errors */

/* The body of a program's die(): "PREFIX message (errno E: text)" on stderr, exit(status).
 * e is errno as the caller found it (saved before anything the caller did first). */
TU_UNUSED __attribute__((noreturn, format(printf, 4, 0))) static void
vdie(int e, const char *prefix, int status, const char *fmt, va_list ap)
{
	fputs(prefix, stderr);
	vfprintf(stderr, fmt, ap);
	if (e)
		fprintf(stderr, " (errno %d: %s)", e, strerror(e));
	fputc('\n', stderr);
	exit(status);
}

/* Sleeps us microseconds in full, even when a signal handler interrupts the sleep. */
TU_UNUSED static void sleep_us(long us)
{
	struct timespec ts = { .tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000 };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* ------------------------------------------------------------------ scenario failures */

#ifndef TESTUTIL_FAILMSG_STORAGE
#define TESTUTIL_FAILMSG_STORAGE
#endif
TU_UNUSED static TESTUTIL_FAILMSG_STORAGE char failmsg[512];

/* Records why the scenario failed; the first reason is the one reported. */
TU_UNUSED __attribute__((format(printf, 1, 2))) static void setfail(const char *fmt, ...)
{
	if (failmsg[0])
		return; /* keep the first reason */
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(failmsg, sizeof failmsg, fmt, ap);
	va_end(ap);
}

/* Puts "PREFIX: " before the recorded reason, to say which part of a scenario failed. */
TU_UNUSED __attribute__((format(printf, 1, 2))) static void fail_prefix(const char *fmt, ...)
{
	char old[512], pre[512];
	snprintf(old, sizeof old, "%s", failmsg);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(pre, sizeof pre, fmt, ap);
	va_end(ap);
	failmsg[0] = 0;
	setfail("%s: %s", pre, old);
}

#define CHECK(cond, ...)                                                                    \
	do {                                                                                \
		if (!(cond)) {                                                              \
			setfail(__VA_ARGS__);                                               \
			goto out;                                                           \
		}                                                                           \
	} while (0)

/* ------------------------------------------------------------------ memory */

/* malloc that never returns NULL (exit 2): the scenarios have no use for a failed one. */
TU_UNUSED static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p) {
		fprintf(stderr, "out of memory\n");
		_exit(2);
	}
	return p;
}

/* Appends n bytes at p to the growing buffer *b (*len used, *cap allocated); exit 2 on OOM. */
TU_UNUSED static void buf_append(unsigned char **b, size_t *len, size_t *cap, const void *p, size_t n)
{
	if (*len + n > *cap) {
		size_t c = *cap ? *cap : 65536;
		while (c < *len + n)
			c *= 2;
		unsigned char *nb = realloc(*b, c);
		if (!nb) {
			fprintf(stderr, "out of memory\n");
			_exit(2);
		}
		*b = nb;
		*cap = c;
	}
	memcpy(*b + *len, p, n);
	*len += n;
}

/* ------------------------------------------------------------------ file contents */

/* splitmix64's finaliser: the source of the file patterns (and of scenario randomness). */
TU_UNUSED static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* The bytes at off of the content made with seed: reproducible, so that what was sent can be
 * predicted (seeds give different bytes everywhere, or nearly). */
TU_UNUSED static void pattern(unsigned seed, uint64_t off, unsigned char *buf, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint64_t word = mix64(((uint64_t)seed << 48) ^ ((off + i) >> 3));
		unsigned sh = (unsigned)((off + i) & 7);
		for (; sh < 8 && i < n; sh++, i++)
			buf[i] = (unsigned char)(word >> (8 * sh));
	}
}

/* Writes the pattern (seed) over [off, off + n) of fd with pwrite; exit 2 on an error. */
TU_UNUSED static void fill(int fd, unsigned seed, off_t off, size_t n)
{
	unsigned char *chunk = xmalloc(MiB);
	for (size_t done = 0; done < n;) {
		size_t k = n - done < MiB ? n - done : MiB;
		pattern(seed, (uint64_t)off + done, chunk, k);
		for (size_t w = 0; w < k;) {
			ssize_t r = pwrite(fd, chunk + w, k - w, off + (off_t)(done + w));
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				fprintf(stderr, "pwrite: %s\n", strerror(errno));
				_exit(2);
			}
			w += (size_t)r;
		}
		done += k;
	}
	free(chunk);
}

/* Reads n bytes with pread at off, or with read at the file offset when off < 0 (one loop for
 * both); only EOF stops it early. The byte count, or -1. */
TU_UNUSED static ssize_t read_full_at(int fd, void *buf, size_t n, off_t off)
{
	size_t done = 0;
	while (done < n) {
		ssize_t r = off < 0 ? read(fd, (char *)buf + done, n - done)
				    : pread(fd, (char *)buf + done, n - done, off + (off_t)done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

/* read() until n bytes or EOF. */
TU_UNUSED static ssize_t read_full(int fd, void *buf, size_t n)
{
	return read_full_at(fd, buf, n, -1);
}

/* pread() at off (>= 0) until n bytes or EOF. */
TU_UNUSED static ssize_t pread_full(int fd, void *buf, size_t n, off_t off)
{
	return read_full_at(fd, buf, n, off);
}

/* ------------------------------------------------------------------ files made */

TU_UNUSED static char tmpdir[512];   /* $TMPDIR, default /tmp */
TU_UNUSED static char made[64][600]; /* the files made, removed at exit */
TU_UNUSED static int n_made;
TU_UNUSED static pid_t main_pid;     /* the process that removes them */

/* Removes the files made; a no-op in a forked child (its exit() runs this too). */
TU_UNUSED static void cleanup_files(void)
{
	if (getpid() != main_pid)
		return;
	for (int i = 0; i < n_made; i++)
		unlink(made[i]);
	n_made = 0;
}

/* Sets tmpdir from $TMPDIR, makes this process the owner of the files, removes them at exit. */
TU_UNUSED static void files_init(void)
{
	const char *t = getenv("TMPDIR");
	snprintf(tmpdir, sizeof tmpdir, "%s", t && t[0] ? t : "/tmp");
	main_pid = getpid();
	atexit(cleanup_files);
}

/* Creates path with size bytes of pattern seed and lists it in made[]; the listed path
 * (exit 2 on an error). */
TU_UNUSED static const char *make_file(const char *path, unsigned seed, size_t size)
{
	if (n_made >= 64) {
		fprintf(stderr, "too many files\n");
		_exit(2);
	}
	char *p = made[n_made];
	snprintf(p, sizeof made[0], "%s", path);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "cannot create %s: %s\n", p, strerror(errno));
		_exit(2);
	}
	n_made++;
	fill(fd, seed, 0, size);
	close(fd);
	return p;
}

/* ------------------------------------------------------------------ connections */

/* A connected TCP pair on 127.0.0.1: *snd connect()ed (SO_SNDBUF sndbuf if > 0), *rcv
 * accept()ed (SO_RCVBUF rcvbuf if > 0, set on the listener). 0, or -1 with failmsg set;
 * an end already made is left in *snd or *rcv for the caller. */
TU_UNUSED static int loopback_pair(int *snd, int *rcv, int sndbuf, int rcvbuf)
{
	int lfd = -1;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof a;
	*snd = *rcv = -1;
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(lfd >= 0, "socket: %s", strerror(errno));
	if (rcvbuf > 0)
		setsockopt(lfd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
	CHECK(bind(lfd, (struct sockaddr *)&a, sizeof a) == 0, "bind: %s", strerror(errno));
	CHECK(listen(lfd, 4) == 0, "listen: %s", strerror(errno));
	CHECK(getsockname(lfd, (struct sockaddr *)&a, &alen) == 0, "getsockname: %s", strerror(errno));
	*snd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(*snd >= 0, "socket: %s", strerror(errno));
	if (sndbuf > 0)
		setsockopt(*snd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
	CHECK(connect(*snd, (struct sockaddr *)&a, sizeof a) == 0, "connect: %s", strerror(errno));
	*rcv = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	CHECK(*rcv >= 0, "accept: %s", strerror(errno));
	close(lfd);
	return 0;
out:
	if (lfd >= 0)
		close(lfd);
	return -1;
}

/* write() (or send() with flags when use_send) all of buf to fd, appending what each call
 * took to the record *exp (*len, *cap: see buf_append). 0, or -1 with failmsg set. */
TU_UNUSED static int send_all_logged(int fd, const void *buf, size_t n, int use_send, int flags,
				     unsigned char **exp, size_t *len, size_t *cap)
{
	size_t done = 0;
	while (done < n) {
		ssize_t w = use_send ? send(fd, (const char *)buf + done, n - done, flags)
				     : write(fd, (const char *)buf + done, n - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			setfail("%s(%zu bytes) failed: %s (errno %d)", use_send ? "send" : "write",
				n - done, strerror(errno), errno);
			return -1;
		}
		if (w == 0) {
			setfail("write returned 0");
			return -1;
		}
		buf_append(exp, len, cap, (const char *)buf + done, (size_t)w);
		done += (size_t)w;
	}
	return 0;
}

/* The SIGPIPE handler of the scenarios that count SIGPIPEs (a write then fails with EPIPE). */
TU_UNUSED static volatile sig_atomic_t pipe_count;
TU_UNUSED static void on_pipe(int sig)
{
	(void)sig;
	pipe_count++;
}

/* ------------------------------------------------------------------ scenario tables */

struct scenario {
	const char *name;
	int (*fn)(void);
	int optional; /* run only when named */
};

/* --list: the default (not optional) scenarios, one a line. */
TU_UNUSED static void list_scenarios(const struct scenario *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!s[i].optional)
			printf("%s\n", s[i].name);
}

/* 0 if each of names[0..count) is a scenario; else says which is not (as prog) and is -1. */
TU_UNUSED static int check_scenario_names(const char *prog, const struct scenario *s, size_t n,
					  char **names, int count)
{
	for (int k = 0; k < count; k++) {
		size_t i;
		for (i = 0; i < n; i++)
			if (strcmp(names[k], s[i].name) == 0)
				break;
		if (i == n) {
			fprintf(stderr, "%s: unknown scenario %s (try --list)\n", prog, names[k]);
			return -1;
		}
	}
	return 0;
}

/* Does s run: when some are named (names[0..count)), if it is one; else if it is a default. */
TU_UNUSED static int scenario_wanted(const struct scenario *s, char **names, int count)
{
	if (count == 0)
		return !s->optional;
	int want = 0;
	for (int k = 0; k < count; k++)
		want |= strcmp(names[k], s->name) == 0;
	return want;
}

#endif
