/* Writes whose bytes are a file's but whose buffer no read filled (runtimes copy): the
 * shapes of issue 11, each sent to a loopback receiver in this process that saves what it
 * gets. The script compares the output with the expected bytes and reads the stats.
 *
 * usage: copyshapes SHAPE FILE OUT
 *   copy     read 64 KiB into A, copy into B, write B (Java, SBCL, Perl)
 *   join     two 64 KiB reads into A, each copied into C, one 128 KiB write of C
 *   header   a 300-byte header and the first 64 KiB chunk copied into one buffer, then
 *            the remaining chunks copied and written (a header followed by the first chunk)
 *   tail     read 64 KiB, write the copy of its last 40 KiB only (and the first 24 KiB
 *            by themselves before)
 *   writev   writev of [header 100 B, copy of a 64 KiB read]
 *   chunked  writev of [header 100 B, copy of a 64 KiB read, "\r\n"] (node's chunks)
 *   partial  copy-write on a non-blocking socket: partial writes, the program polls and
 *            retries with buf + sent
 *   mmapcopy mmap the whole file, copy it, write the copy in one call (PHP small files)
 *   generated read the file once (probes exist), then write 64 KiB generated bodies: the
 *            receiver gets them, the library must send none of them from the file
 * Every shape writes the exact bytes OUT must hold; for header/writev the header is
 * "H" repeated. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define CHUNK (64u * 1024u)

static int out_fd, slow;

static void die(const char *what)
{
	fprintf(stderr, "copyshapes: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void *receiver(void *arg)
{
	int s = *(int *)arg;
	static char buf[1 << 16];
	for (;;) {
		ssize_t k = recv(s, buf, slow ? 1024 : sizeof buf, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			die("recv");
		if (k == 0)
			return NULL;
		if (write(out_fd, buf, (size_t)k) != k)
			die("write out");
	}
}

/* A connected loopback TCP pair: *w the writer's end; the receiver thread reads the other. */
static int connect_pair(pthread_t *th)
{
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof a;
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 1) ||
	    getsockname(l, (struct sockaddr *)&a, &al))
		die("listen");
	int w = socket(AF_INET, SOCK_STREAM, 0);
	if (w < 0 || connect(w, (struct sockaddr *)&a, sizeof a))
		die("connect");
	if (slow) { /* small buffers: the socket takes less than a write, often */
		int sz = 8192;
		setsockopt(w, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
		fcntl(w, F_SETFL, O_NONBLOCK);
	}
	static int r;
	r = accept(l, NULL, NULL);
	if (r < 0)
		die("accept");
	close(l);
	if (pthread_create(th, NULL, receiver, &r))
		die("pthread_create");
	return w;
}

/* The program's own loop: write until all is sent, retrying from where it stopped. */
static void write_all(int s, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = write(s, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && errno == EAGAIN) {
			struct pollfd pf = { s, POLLOUT, 0 };
			poll(&pf, 1, -1);
			continue;
		}
		if (k <= 0)
			die("write");
		p += k;
		n -= (size_t)k;
	}
}

static void writev_all(int s, struct iovec *iov, int cnt)
{
	while (cnt > 0) {
		ssize_t k = writev(s, iov, cnt);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			die("writev");
		while (cnt > 0 && (size_t)k >= iov->iov_len) {
			k -= (ssize_t)iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt > 0) {
			iov->iov_base = (char *)iov->iov_base + k;
			iov->iov_len -= (size_t)k;
		}
	}
}

static size_t read_some(int fd, char *buf, size_t n)
{
	ssize_t k = read(fd, buf, n);
	if (k < 0)
		die("read");
	return (size_t)k;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: copyshapes SHAPE FILE OUT\n");
		return 2;
	}
	const char *shape = argv[1];
	slow = strcmp(shape, "partial") == 0;
	int in = open(argv[2], O_RDONLY);
	out_fd = open(argv[3], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (in < 0 || out_fd < 0)
		die("open");
	pthread_t th;
	int s = connect_pair(&th);
	char *a = malloc(CHUNK), *b = malloc(2 * CHUNK + 512), *c = malloc(2 * CHUNK);
	char hdr[300];
	memset(hdr, 'H', sizeof hdr);
	size_t n;
	if (!strcmp(shape, "copy") || !strcmp(shape, "partial")) {
		while ((n = read_some(in, a, CHUNK)) > 0) {
			memcpy(b, a, n);
			write_all(s, b, n);
		}
	} else if (!strcmp(shape, "join")) {
		for (;;) {
			size_t n1 = read_some(in, a, CHUNK);
			memcpy(c, a, n1);
			size_t n2 = n1 ? read_some(in, a, CHUNK) : 0;
			memcpy(c + n1, a, n2);
			if (n1 + n2 == 0)
				break;
			write_all(s, c, n1 + n2);
		}
	} else if (!strcmp(shape, "header")) {
		memcpy(b, hdr, sizeof hdr);
		n = read_some(in, a, CHUNK);
		memcpy(b + sizeof hdr, a, n);
		write_all(s, b, sizeof hdr + n);
		while ((n = read_some(in, a, CHUNK)) > 0) {
			memcpy(b, a, n);
			write_all(s, b, n);
		}
	} else if (!strcmp(shape, "tail")) {
		while ((n = read_some(in, a, CHUNK)) > 0) {
			size_t head = n > 40 * 1024 ? n - 40 * 1024 : 0;
			memcpy(b, a, n);
			write_all(s, b, head);
			memcpy(c, a + head, n - head); /* the tail, from another buffer */
			write_all(s, c, n - head);
		}
	} else if (!strcmp(shape, "writev")) {
		while ((n = read_some(in, a, CHUNK)) > 0) {
			memcpy(b, a, n);
			struct iovec iov[2] = { { hdr, 100 }, { b, n } };
			writev_all(s, iov, 2);
		}
	} else if (!strcmp(shape, "chunked")) {
		while ((n = read_some(in, a, CHUNK)) > 0) {
			memcpy(b, a, n);
			struct iovec iov[3] = { { hdr, 100 }, { b, n }, { "\r\n", 2 } };
			writev_all(s, iov, 3);
		}
	} else if (!strcmp(shape, "mmapcopy")) {
		struct stat st;
		if (fstat(in, &st))
			die("fstat");
		char *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, in, 0);
		if (m == MAP_FAILED)
			die("mmap");
		char *copy = malloc((size_t)st.st_size);
		memcpy(copy, m, (size_t)st.st_size);
		write_all(s, copy, (size_t)st.st_size);
		munmap(m, (size_t)st.st_size);
	} else if (!strcmp(shape, "generated")) {
		n = read_some(in, a, CHUNK); /* a probe the generated bodies must not match */
		unsigned long long x = 88172645463325252ull;
		for (int i = 0; i < 400; i++) {
			for (size_t j = 0; j < CHUNK; j += 8) {
				x ^= x << 13, x ^= x >> 7, x ^= x << 17;
				memcpy(c + j, &x, 8);
			}
			if (i % 3 == 0) /* some bodies begin like the file: a probe hit, a compare miss */
				memcpy(c, a, 64);
			write_all(s, c, CHUNK);
		}
	} else {
		fprintf(stderr, "copyshapes: unknown shape %s\n", shape);
		return 2;
	}
	shutdown(s, SHUT_WR);
	pthread_join(th, NULL);
	close(s);
	return 0;
}
