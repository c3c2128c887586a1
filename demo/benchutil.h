/* benchutil.h - what the demo's micro-benchmarks (bench-chunk.c, bench-proof.c) share: error
 * exit, size parsing, whole writes and sendfiles, the test file, and the receiver that
 * discards with recv(MSG_TRUNC) (a stand-in for a remote client that costs the sender
 * nothing). Static functions, one program each; unused ones are fine. */
#ifndef ASF_DEMO_BENCHUTIL_H
#define ASF_DEMO_BENCHUTIL_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/stat.h>
#include <unistd.h>

#define BENCH_UNUSED __attribute__((unused))

static BENCH_UNUSED void die(const char *what)
{
	perror(what);
	exit(1);
}

/* "64K", "1M", "2GiB"...; with endp, where the size ends (else the whole string must be one) */
static BENCH_UNUSED size_t parse_size(const char *s, char **endp)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s) {
		fprintf(stderr, "bad size: %s\n", s);
		exit(2);
	}
	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	default: break;
	}
	if (*end == 'i')
		end++;
	if (*end == 'B')
		end++;
	if (endp)
		*endp = end;
	else if (*end) {
		fprintf(stderr, "bad size: %s\n", s);
		exit(2);
	}
	return (size_t)v;
}

static BENCH_UNUSED void write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			die("write(sock)");
		}
		p += w;
		n -= (size_t)w;
	}
}

/* sendfile [off, off+n) in sub-calls of at most cap bytes */
static BENCH_UNUSED void sendfile_all(int sock, int file, off_t off, size_t n, size_t cap)
{
	while (n > 0) {
		size_t want = n < cap ? n : cap;
		ssize_t s = sendfile(sock, file, &off, want);
		if (s < 0) {
			if (errno == EINTR)
				continue;
			die("sendfile");
		}
		if (s == 0) {
			fprintf(stderr, "sendfile returned 0 (file shrank?)\n");
			exit(1);
		}
		n -= (size_t)s;
	}
}

static BENCH_UNUSED void ensure_file(const char *path, size_t size)
{
	struct stat st;
	if (stat(path, &st) == 0 && (size_t)st.st_size == size)
		return;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		die("open(create)");
	size_t bl = 1 << 20;
	unsigned char *b = malloc(bl);
	if (!b)
		die("malloc");
	uint32_t x = 2463534242u;
	for (size_t i = 0; i < bl; i++) {
		x ^= x << 13; x ^= x >> 17; x ^= x << 5;
		b[i] = (unsigned char)x;
	}
	for (size_t done = 0; done < size;) {
		size_t n = size - done < bl ? size - done : bl;
		b[0] = (unsigned char)(done >> 20); /* make blocks differ */
		write_all(fd, (char *)b, n);
		done += n;
	}
	free(b);
	if (close(fd))
		die("close");
}

/* receiver: accept one connection, discard everything, report the byte count on rep */
static BENCH_UNUSED void receiver(int lfd, int rep)
{
	int c = accept(lfd, NULL, NULL);
	if (c < 0)
		die("accept");
	size_t big = 4 << 20;
	char *sink = malloc(big);
	unsigned long long total = 0;
	for (;;) {
		ssize_t r = recv(c, sink, big, MSG_TRUNC);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			die("recv");
		}
		if (r == 0)
			break;
		total += (unsigned long long)r;
	}
	if (write(rep, &total, sizeof total) != sizeof total)
		die("write(report)");
	_exit(0);
}

/* A TCP connection on 127.0.0.1 to a forked receiver() that discards what arrives. mss > 0:
 * TCP_MAXSEG before connect; nodelay: TCP_NODELAY. *kid: the receiver's pid; *report: where
 * it writes its byte count when the connection closes. child_close: an fd the child closes
 * first (-1: none). */
static BENCH_UNUSED int discard_peer(int mss, int nodelay, int child_close, pid_t *kid, int *report)
{
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0)
		die("socket");
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0 };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) || listen(lfd, 1))
		die("bind/listen");
	socklen_t sl = sizeof sa;
	if (getsockname(lfd, (struct sockaddr *)&sa, &sl))
		die("getsockname");
	int rep[2];
	if (pipe(rep))
		die("pipe");
	*kid = fork();
	if (*kid < 0)
		die("fork");
	if (*kid == 0) {
		close(rep[0]);
		if (child_close >= 0)
			close(child_close);
		receiver(lfd, rep[1]);
	}
	close(rep[1]);
	close(lfd);
	*report = rep[0];
	int sock = socket(AF_INET, SOCK_STREAM, 0);
	if (sock < 0)
		die("socket");
	if (mss > 0 && setsockopt(sock, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof mss))
		die("setsockopt(TCP_MAXSEG)");
	if (nodelay && setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &nodelay, sizeof nodelay))
		die("setsockopt(TCP_NODELAY)");
	if (connect(sock, (struct sockaddr *)&sa, sizeof sa))
		die("connect");
	return sock;
}

#endif
