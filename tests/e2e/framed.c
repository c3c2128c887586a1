/*
 * framed: the "daemon that frames data" of issue 19. It reads a file 256 KiB at a time
 * (read(file, 262144)) and, for each piece of that read (32 KiB by default), builds a frame
 * in a separate protocol buffer: a header (8 bytes by default: 4-byte big-endian payload
 * length, 4-byte big-endian sequence number, then filler bytes up to --header) and then the
 * piece's bytes copied (memcpy) from the middle of the read buffer; it writes the frame with
 * one write() of header + payload (or, with --writev, one writev([header, payload]) of the
 * protocol buffer's two parts; with --two-writes, a write of the header then a write of the
 * payload). A piece that straddles two reads is copied from the end of one and the start of
 * the next.
 *
 * Server:
 *   framed serve --file F [--port-file P] [--connections K] [--start S] [--header H]
 *                [--piece N] [--writev|--two-writes]
 *   Binds 127.0.0.1:0, publishes the port in P (P.tmp renamed to P; printed on stdout
 *   without --port-file), accepts K connections (default 1) one after another and sends F
 *   from offset S on (default 0), framed, on each, then exits 0 (so the library writes its
 *   stats line).
 *
 * Client:
 *   framed client --port PORT --out FILE [--header H] [--piece N]
 *   Connects, reads frames until EOF, checks every header (length 1..N, sequence 0, 1,
 *   2, ... with no gap, the filler) and stores the payloads in FILE. Exit 1 on a bad frame.
 *
 * Exit 0 on success, 1 with a message on any unexpected error, 2 on usage errors.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "testutil.h"

#define READ_SIZE (256u * 1024u)
#define PIECE_MAX (1u << 20)
#define HDR_MIN 8u
#define HDR_MAX 65536u

/* The frame layout, the same on both sides. */
static size_t hdr = HDR_MIN, piece = 32u * 1024u;

/* The header's filler after length and sequence: not a file's bytes. */
static unsigned char filler(size_t i, uint32_t seq)
{
	return (unsigned char)('a' + (i + seq) % 26);
}

static void die(const char *fmt, ...)
{
	va_list ap;
	int e = errno;
	va_start(ap, fmt);
	vdie(e, "framed: ", 1, fmt, ap);
}

static void usage(void)
{
	fprintf(stderr, "usage: framed serve --file F [--port-file P] [--connections K] "
			"[--start S] [--header H] [--piece N] [--writev|--two-writes]\n"
			"       framed client --port PORT --out FILE [--header H] [--piece N]\n");
	exit(2);
}

enum how { ONE_WRITE, WRITEV, TWO_WRITES };

/* Writes all of buf (retrying partial counts) */
static void write_all(int fd, const char *buf, size_t n)
{
	while (n > 0) {
		ssize_t k = write(fd, buf, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			die("write");
		buf += k;
		n -= (size_t)k;
	}
}

static void writev_all(int fd, struct iovec *iov, int cnt)
{
	while (cnt > 0) {
		ssize_t k = writev(fd, iov, cnt);
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

static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint32_t get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* One frame of `len` payload bytes (already in proto + hdr): header, then the write(s). */
static void emit(int sock, enum how how, unsigned char *proto, size_t len, uint32_t *seq)
{
	put_be32(proto, (uint32_t)len);
	put_be32(proto + 4, *seq);
	for (size_t i = HDR_MIN; i < hdr; i++)
		proto[i] = filler(i, *seq);
	(*seq)++;
	if (how == ONE_WRITE) {
		write_all(sock, (const char *)proto, hdr + len);
	} else if (how == TWO_WRITES) {
		write_all(sock, (const char *)proto, hdr);
		write_all(sock, (const char *)proto + hdr, len);
	} else {
		struct iovec iov[2] = { { proto, hdr }, { proto + hdr, len } };
		writev_all(sock, iov, 2);
	}
}

/* Sends the file's bytes from offset `start` on, framed. The file is read from its start, 256
 * KiB per read (the bytes before `start`, a header the protocol does not carry, are read and
 * dropped); each frame's payload is copied from the read buffer, and one that straddles two
 * reads gets its first part from the end of one and the rest from the start of the next. */
static void send_file(int sock, const char *path, enum how how, uint64_t start, char *rbuf,
		      unsigned char *proto)
{
	int f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		die("open %s", path);
	uint32_t seq = 0;
	uint64_t pos = 0; /* file offset of rbuf[0] */
	size_t fill = 0;  /* payload bytes in proto */
	for (;;) {
		/* one read of up to 256 KiB (a short one at the end of the file) */
		size_t got = 0;
		while (got < READ_SIZE) {
			ssize_t k = read(f, rbuf + got, READ_SIZE - got);
			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0)
				die("read %s", path);
			if (k == 0)
				break;
			got += (size_t)k;
		}
		if (got == 0)
			break;
		size_t at = 0;
		if (pos < start)
			at = start - pos < got ? (size_t)(start - pos) : got;
		while (at < got) {
			size_t take = got - at < piece - fill ? got - at : piece - fill;
			memcpy(proto + hdr + fill, rbuf + at, take); /* copied from the read */
			fill += take;
			at += take;
			if (fill == piece) {
				emit(sock, how, proto, fill, &seq);
				fill = 0;
			}
		}
		pos += got;
		if (got < READ_SIZE)
			break;
	}
	if (fill > 0)
		emit(sock, how, proto, fill, &seq);
	close(f);
}

/* --header H, --piece N at argv[*i] (both sides): 0 when taken (*i moved past the value),
 * 1 when argv[*i] is something else. */
static int layout_arg(int argc, char **argv, int *i)
{
	bool is_hdr = !strcmp(argv[*i], "--header");
	if ((!is_hdr && strcmp(argv[*i], "--piece")) || *i + 1 >= argc)
		return 1;
	unsigned long v = strtoul(argv[++*i], NULL, 0);
	if (is_hdr ? v < HDR_MIN || v > HDR_MAX : v < 1 || v > PIECE_MAX)
		usage();
	*(is_hdr ? &hdr : &piece) = v;
	return 0;
}

static int serve(int argc, char **argv)
{
	const char *file = NULL, *port_file = NULL;
	int conns = 1;
	uint64_t start = 0;
	enum how how = ONE_WRITE;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--file") && i + 1 < argc)
			file = argv[++i];
		else if (!strcmp(argv[i], "--port-file") && i + 1 < argc)
			port_file = argv[++i];
		else if (!strcmp(argv[i], "--connections") && i + 1 < argc)
			conns = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--start") && i + 1 < argc)
			start = strtoull(argv[++i], NULL, 0);
		else if (!layout_arg(argc, argv, &i))
			continue;
		else if (!strcmp(argv[i], "--writev"))
			how = WRITEV;
		else if (!strcmp(argv[i], "--two-writes"))
			how = TWO_WRITES;
		else
			usage();
	}
	if (!file || conns < 1)
		usage();
	signal(SIGPIPE, SIG_IGN);
	int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ls < 0)
		die("socket");
	int one = 1;
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof a;
	if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 16) ||
	    getsockname(ls, (struct sockaddr *)&a, &alen))
		die("bind/listen");
	if (port_file) {
		char tmp[4096];
		snprintf(tmp, sizeof tmp, "%s.tmp", port_file);
		FILE *pf = fopen(tmp, "w");
		if (!pf || fprintf(pf, "%d\n", ntohs(a.sin_port)) < 0 || fclose(pf) ||
		    rename(tmp, port_file))
			die("port file %s", port_file);
	} else {
		printf("%d\n", ntohs(a.sin_port));
		fflush(stdout);
	}
	/* The read buffer and the protocol buffer are separate allocations (the frames'
	 * bytes are copies, as a daemon's protocol layer makes them). */
	char *rbuf = malloc(READ_SIZE);
	unsigned char *proto = malloc(hdr + piece);
	if (!rbuf || !proto)
		die("malloc");
	for (int c = 0; c < conns; c++) {
		int s = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
		if (s < 0 && errno == EINTR) {
			c--;
			continue;
		}
		if (s < 0)
			die("accept");
		send_file(s, file, how, start, rbuf, proto);
		close(s);
	}
	close(ls);
	free(rbuf);
	free(proto);
	return 0;
}

/* Reads exactly n bytes; 0 at a clean EOF before the first byte, 1 when all came. */
static int read_exact(int fd, unsigned char *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t k = read(fd, buf + got, n - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			die("read from the server");
		if (k == 0) {
			if (got == 0)
				return 0;
			die("EOF inside a frame (%zu of %zu bytes)", got, n);
		}
		got += (size_t)k;
	}
	return 1;
}

static int client(int argc, char **argv)
{
	const char *out = NULL;
	int port = 0;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--port") && i + 1 < argc)
			port = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--out") && i + 1 < argc)
			out = argv[++i];
		else if (layout_arg(argc, argv, &i))
			usage();
	}
	if (!out || port <= 0)
		usage();
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a))
		die("connect to port %d", port);
	int o = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (o < 0)
		die("open %s", out);
	unsigned char *h = malloc(hdr), *payload = malloc(piece);
	if (!h || !payload)
		die("malloc");
	uint32_t want_seq = 0;
	while (read_exact(s, h, hdr)) {
		uint32_t len = get_be32(h), seq = get_be32(h + 4);
		if (len == 0 || len > piece)
			die("frame %u: bad length %u", want_seq, len);
		if (seq != want_seq)
			die("frame %u: sequence number %u", want_seq, seq);
		for (size_t i = HDR_MIN; i < hdr; i++)
			if (h[i] != filler(i, seq))
				die("frame %u: header byte %zu is 0x%02x", seq, i, h[i]);
		want_seq++;
		read_exact(s, payload, len);
		write_all(o, (const char *)payload, len);
	}
	if (close(o))
		die("close %s", out);
	printf("%u frames\n", want_seq);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	if (!strcmp(argv[1], "serve"))
		return serve(argc - 2, argv + 2);
	if (!strcmp(argv[1], "client"))
		return client(argc - 2, argv + 2);
	usage();
}
