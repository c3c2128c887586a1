/* stalledslots - many threads blocked at once in writes to clients that stopped reading,
 * and then one more transfer (test_stalled_slots.sh).
 *
 * N threads each copy FILE to a loopback client that never reads (read 64 KiB, write it,
 * again), until their write blocks on the full queue. With every such write redirected,
 * each thread sits in a sendfile. Then the main thread copies FILE to a client that reads
 * everything, twice: from the read buffer, and from a copy of it (found by content). The
 * library's proof buffers are few (16 per process): a thread blocked in a send must not
 * hold one, or the 17th thread and every later write find none and go by the real call.
 *
 * Usage: stalledslots FILE N
 * Prints "ok BYTES" (the reader's count, after checking every byte against FILE); exit 1
 * on any failure.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (64 * 1024)
#define MAXN 64

static const char *path;
static int listener;

static void die(const char *what)
{
	fprintf(stderr, "stalledslots: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* A connected pair: *srv the accepted side (written to), *cli the client. */
static void pair(int *srv, int *cli, int rcvbuf)
{
	struct sockaddr_in a;
	socklen_t al = sizeof a;
	if (getsockname(listener, (struct sockaddr *)&a, &al) != 0)
		die("getsockname");
	*cli = socket(AF_INET, SOCK_STREAM, 0);
	if (rcvbuf)
		setsockopt(*cli, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
	if (connect(*cli, (struct sockaddr *)&a, sizeof a) != 0)
		die("connect");
	*srv = accept(listener, NULL, NULL);
	if (*srv < 0)
		die("accept");
}

/* A stalled client's server thread: copies FILE again and again until the write fails. */
static void *stalled(void *arg)
{
	int s = (int)(long)arg;
	static __thread char buf[CHUNK];
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		die("open");
	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n == 0) {
			lseek(fd, 0, SEEK_SET);
			continue;
		}
		if (n < 0 || write(s, buf, (size_t)n) != n)
			break;
	}
	close(fd);
	return NULL;
}

struct reader {
	int cli;
	unsigned char *file;
	size_t file_len, got;
	int bad;
};

/* The reading client: every byte must be FILE's, FILE after FILE. */
static void *reader(void *arg)
{
	struct reader *r = arg;
	static char buf[CHUNK];
	for (;;) {
		ssize_t n = recv(r->cli, buf, sizeof buf, 0);
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++)
			if ((unsigned char)buf[i] != r->file[(r->got + (size_t)i) % r->file_len])
				r->bad = 1;
		r->got += (size_t)n;
	}
	return NULL;
}

static long queued(int s)
{
	int q = 0;
	return ioctl(s, SIOCOUTQ, &q) == 0 ? q : -1;
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return fprintf(stderr, "usage: stalledslots FILE N\n"), 2;
	path = argv[1];
	int nthr = atoi(argv[2]);
	if (nthr < 1 || nthr > MAXN)
		return fprintf(stderr, "stalledslots: N in 1..%d\n", MAXN), 2;
	signal(SIGPIPE, SIG_IGN);
	listener = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (bind(listener, (struct sockaddr *)&a, sizeof a) != 0 || listen(listener, MAXN + 1) != 0)
		die("listen");
	int fd = open(path, O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0 || st.st_size < CHUNK)
		die("the file (64 KiB at least)");
	size_t len = (size_t)st.st_size;
	unsigned char *file = malloc(len);
	if (!file || pread(fd, file, len, 0) != (ssize_t)len)
		die("reading the file");

	/* The stalled clients, and their queues filled. */
	int srv[MAXN], cli[MAXN];
	pthread_t th[MAXN];
	for (int i = 0; i < nthr; i++) {
		pair(&srv[i], &cli[i], 4096);
		if (pthread_create(&th[i], NULL, stalled, (void *)(long)srv[i]) != 0)
			die("pthread_create");
	}
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < nthr; i++) {
		long q;
		while ((q = queued(srv[i])) < 256 * 1024) {
			struct timespec t;
			clock_gettime(CLOCK_MONOTONIC, &t);
			if (t.tv_sec - t0.tv_sec > 20) {
				fprintf(stderr, "stalledslots: queue %d holds %ld after 20 s\n", i, q);
				return 1;
			}
			usleep(10000);
		}
	}
	usleep(200000); /* every stalled thread is in its blocked write by now */

	/* One more transfer, to a client that reads: FILE from the read buffer, then from a copy. */
	int s, c;
	pair(&s, &c, 0);
	struct reader r = { c, file, len, 0, 0 };
	pthread_t rt;
	if (pthread_create(&rt, NULL, reader, &r) != 0)
		die("pthread_create");
	static char rbuf[CHUNK], copy[CHUNK];
	for (int pass = 0; pass < 2; pass++) {
		lseek(fd, 0, SEEK_SET);
		ssize_t n;
		while ((n = read(fd, rbuf, sizeof rbuf)) > 0) {
			const char *out = rbuf;
			if (pass == 1) {
				memcpy(copy, rbuf, (size_t)n);
				out = copy;
			}
			for (ssize_t w = 0; w < n;) {
				ssize_t k = write(s, out + w, (size_t)(n - w));
				if (k <= 0)
					die("write");
				w += k;
			}
		}
	}
	close(s);
	pthread_join(rt, NULL);
	close(c);

	/* The stalled clients go: their threads' writes fail and they end. */
	for (int i = 0; i < nthr; i++) {
		shutdown(srv[i], SHUT_RDWR);
		close(cli[i]);
	}
	for (int i = 0; i < nthr; i++)
		pthread_join(th[i], NULL);
	if (r.bad || r.got != 2 * len) {
		fprintf(stderr, "stalledslots: the reader got %zu bytes of %zu%s\n", r.got, 2 * len,
			r.bad ? ", some not the file's" : "");
		return 1;
	}
	printf("ok %zu\n", r.got);
	return 0;
}
