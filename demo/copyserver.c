/* copyserver - a small HTTP/1.0-ish static file server, the kind of program autosendfile
 * exists for. It serves regular files from one directory with a poll() event loop and
 * non-blocking sockets, and sends each body in one of three ways:
 *
 *   --mode rw             read(file, buf, bufsize) + write(sock, buf, n), keeping the unsent
 *                         tail of a partial write and resuming it on POLLOUT (the copy loop;
 *                         every connection has its own buffer)
 *   --mode read-sendfile  read(file, buf, n), then sendfile(sock, file, &off, n) for that same
 *                         range (what an interposer does at best: it still reads)
 *   --mode sendfile       sendfile only, in 64 KiB calls (native, like nginx "sendfile on")
 *
 * Usage: copyserver --root DIR [--port-file F] [--mode rw|read-sendfile|sendfile]
 *                   [--bufsize N (default 64K)] [--threads N (default 1)]
 *
 * Listens on 127.0.0.1, port 0 (the port is printed to --port-file via tmp + rename, else
 * to stdout). Requests: "GET /name HTTP/1.x", headers ignored up to the blank line; a name
 * containing '/' or ".." (or one that is not a regular file) gets a 404. The answer is
 * "HTTP/1.0 200 OK\r\nContent-Length: N\r\n\r\n" (written with write()) then the body; the
 * connection is closed after the body. One loop (the default) runs in the main thread: the
 * process is single-threaded, like the classic poll() servers autosendfile is for (the
 * library then needs no per-write pin of the file). --threads N > 1 runs N poll loops, each accepting
 * from the one shared non-blocking listener. SIGTERM/SIGINT: exit(0), so that atexit
 * handlers and an LD_PRELOADed library's destructors run. Nothing is printed per request.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

enum mode { M_RW, M_RSF, M_SF };
enum state { S_REQ, S_HDR, S_BODY };

#define REQ_MAX 8192
#define SF_CHUNK (64 * 1024)
#define MAX_STEPS 16 /* body steps per wake-up, so one fast connection cannot starve others */

struct conn {
	int fd, file;
	enum state st;
	char req[REQ_MAX + 1];
	size_t req_len;
	char hdr[128];
	size_t hdr_len, hdr_sent;
	bool close_after_hdr; /* error answers: header only */
	off_t size, off;      /* body: file size, next file offset to read (rw, rsf) or send (sf) */
	char *buf;            /* rw, rsf: this connection's buffer */
	size_t buf_pos, buf_len; /* rw: unsent bytes are buf[buf_pos, buf_len) */
	off_t sf_off;         /* rsf: range still to sendfile: [sf_off, sf_off + sf_left) */
	size_t sf_left;
};

static enum mode g_mode = M_RW;
static size_t g_bufsize = 64 * 1024;
static int g_rootfd = -1;
static int g_listen = -1;

static void die(const char *what)
{
	fprintf(stderr, "copyserver: %s: %s\n", what, strerror(errno));
	exit(1);
}

static size_t parse_size(const char *s)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s)
		goto bad;
	if (*end == 'k' || *end == 'K')
		v <<= 10, end++;
	else if (*end == 'm' || *end == 'M')
		v <<= 20, end++;
	if (*end || v == 0 || v > (1ull << 30))
		goto bad;
	return (size_t)v;
bad:
	fprintf(stderr, "copyserver: bad size \"%s\"\n", s);
	exit(2);
}

static void conn_free(struct conn *c)
{
	close(c->fd);
	if (c->file >= 0)
		close(c->file);
	free(c->buf);
	free(c);
}

static void set_answer(struct conn *c, int code)
{
	if (code == 200)
		c->hdr_len = (size_t)snprintf(c->hdr, sizeof c->hdr,
					      "HTTP/1.0 200 OK\r\nContent-Length: %lld\r\n\r\n",
					      (long long)c->size);
	else
		c->hdr_len = (size_t)snprintf(c->hdr, sizeof c->hdr,
					      "HTTP/1.0 %d %s\r\nContent-Length: 0\r\n\r\n", code,
					      code == 404 ? "Not Found" : "Bad Request");
	c->close_after_hdr = code != 200;
	c->hdr_sent = 0;
	c->st = S_HDR;
}

/* A complete request is in c->req: pick the file and prepare the header. */
static void handle_request(struct conn *c)
{
	char *p = c->req;
	if (strncmp(p, "GET /", 5) != 0) {
		set_answer(c, 400);
		return;
	}
	p += 5;
	char *sp = strpbrk(p, " \r\n");
	if (!sp || *sp != ' ' || strncmp(sp + 1, "HTTP/1.", 7) != 0) {
		set_answer(c, 400);
		return;
	}
	*sp = '\0';
	if (*p == '\0' || strchr(p, '/') || strstr(p, "..")) {
		set_answer(c, 404);
		return;
	}
	int f = openat(g_rootfd, p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	if (f < 0 || fstat(f, &st) != 0 || !S_ISREG(st.st_mode)) {
		if (f >= 0)
			close(f);
		set_answer(c, 404);
		return;
	}
	c->file = f;
	c->size = st.st_size;
	c->off = 0;
	if (g_mode != M_SF) {
		c->buf = malloc(g_bufsize);
		if (!c->buf) {
			close(f);
			c->file = -1;
			set_answer(c, 400);
			return;
		}
	}
	set_answer(c, 200);
}

/* Reads request bytes. Returns false when the connection is to be closed. */
static bool do_req(struct conn *c)
{
	for (;;) {
		ssize_t n = read(c->fd, c->req + c->req_len, REQ_MAX - c->req_len);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR;
		if (n == 0)
			return false;
		c->req_len += (size_t)n;
		c->req[c->req_len] = '\0';
		if (strstr(c->req, "\r\n\r\n") || strstr(c->req, "\n\n")) {
			handle_request(c);
			return true;
		}
		if (c->req_len == REQ_MAX)
			return false;
	}
}

/* One step of body sending. Returns 1: progress (call again), 0: wait for POLLOUT,
 * -1: done or failed (close). */
static int body_step(struct conn *c)
{
	switch (g_mode) {
	case M_RW:
		if (c->buf_pos < c->buf_len) {
			ssize_t w = write(c->fd, c->buf + c->buf_pos, c->buf_len - c->buf_pos);
			if (w < 0)
				return errno == EAGAIN || errno == EINTR ? 0 : -1;
			c->buf_pos += (size_t)w;
			return 1;
		} else {
			ssize_t n = read(c->file, c->buf, g_bufsize);
			if (n < 0)
				return errno == EINTR ? 1 : -1;
			if (n == 0)
				return -1;
			c->off += n;
			c->buf_pos = 0;
			c->buf_len = (size_t)n;
			return 1;
		}
	case M_RSF:
		if (c->sf_left > 0) {
			ssize_t w = sendfile(c->fd, c->file, &c->sf_off, c->sf_left);
			if (w < 0)
				return errno == EAGAIN || errno == EINTR ? 0 : -1;
			if (w == 0)
				return -1; /* the file shrank */
			c->sf_left -= (size_t)w;
			return 1;
		} else {
			ssize_t n = read(c->file, c->buf, g_bufsize);
			if (n < 0)
				return errno == EINTR ? 1 : -1;
			if (n == 0)
				return -1;
			c->sf_off = c->off;
			c->sf_left = (size_t)n;
			c->off += n;
			return 1;
		}
	case M_SF: {
		if (c->off >= c->size)
			return -1;
		off_t left = c->size - c->off;
		ssize_t w = sendfile(c->fd, c->file, &c->off, left < SF_CHUNK ? (size_t)left : SF_CHUNK);
		if (w < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		return w == 0 ? -1 : 1;
	}
	}
	return -1;
}

/* Advances a connection as far as it goes now. Returns the poll events to wait for,
 * or -1 to close it. */
static int conn_run(struct conn *c)
{
	if (c->st == S_REQ) {
		if (!do_req(c))
			return -1;
		if (c->st == S_REQ)
			return POLLIN;
	}
	if (c->st == S_HDR) {
		while (c->hdr_sent < c->hdr_len) {
			ssize_t w = write(c->fd, c->hdr + c->hdr_sent, c->hdr_len - c->hdr_sent);
			if (w < 0) {
				if (errno == EAGAIN || errno == EINTR)
					return POLLOUT;
				return -1;
			}
			c->hdr_sent += (size_t)w;
		}
		if (c->close_after_hdr)
			return -1;
		c->st = S_BODY;
	}
	for (int i = 0; i < MAX_STEPS; i++) {
		int r = body_step(c);
		if (r < 0)
			return -1;
		if (r == 0)
			return POLLOUT;
	}
	return POLLOUT; /* more to send; the socket was writable a moment ago */
}

/* One poll loop. arg: a signalfd to watch (exit(0) when it fires), or NULL. */
static void *loop(void *arg)
{
	int sigfd = arg ? *(int *)arg : -1;
	size_t cap = 64, n = 0;
	struct conn **conns = calloc(cap, sizeof *conns);
	short *want = calloc(cap, sizeof *want);
	struct pollfd *pfd = calloc(cap + 2, sizeof *pfd);
	if (!conns || !want || !pfd)
		die("calloc");
	for (;;) {
		pfd[0].fd = g_listen;
		pfd[0].events = POLLIN;
		for (size_t i = 0; i < n; i++) {
			pfd[i + 1].fd = conns[i]->fd;
			pfd[i + 1].events = want[i];
			pfd[i + 1].revents = 0;
		}
		pfd[n + 1].fd = sigfd; /* ignored by poll when -1 */
		pfd[n + 1].events = POLLIN;
		pfd[n + 1].revents = 0;
		int pr = poll(pfd, n + 2, -1);
		if (pr < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		if (pfd[n + 1].revents & POLLIN)
			exit(0);
		size_t old_n = n;
		/* Existing connections first (the array is compacted in place). */
		size_t keep = 0;
		for (size_t i = 0; i < old_n; i++) {
			struct conn *c = conns[i];
			short w = want[i];
			if (pfd[i + 1].revents) {
				int r = conn_run(c);
				if (r < 0) {
					conn_free(c);
					continue;
				}
				w = (short)r;
			}
			conns[keep] = c;
			want[keep] = w;
			keep++;
		}
		n = keep;
		if (pfd[0].revents & POLLIN) {
			for (;;) {
				int fd = accept4(g_listen, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
				if (fd < 0) {
					if (errno == EINTR || errno == ECONNABORTED)
						continue;
					break; /* EAGAIN (another loop took it), EMFILE, ... */
				}
				struct conn *c = calloc(1, sizeof *c);
				if (!c) {
					close(fd);
					continue;
				}
				c->fd = fd;
				c->file = -1;
				c->st = S_REQ;
				if (n == cap) {
					cap *= 2;
					conns = realloc(conns, cap * sizeof *conns);
					want = realloc(want, cap * sizeof *want);
					pfd = realloc(pfd, (cap + 2) * sizeof *pfd);
					if (!conns || !want || !pfd)
						die("realloc");
				}
				int r = conn_run(c); /* the request is usually there already */
				if (r < 0) {
					conn_free(c);
					continue;
				}
				conns[n] = c;
				want[n] = (short)r;
				n++;
			}
		}
	}
	return NULL;
}

static void usage(void)
{
	fprintf(stderr, "usage: copyserver --root DIR [--port-file F] [--mode rw|read-sendfile|sendfile]\n"
			"                  [--bufsize N (default 64K)] [--threads N (default 1)]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *root = NULL, *port_file = NULL;
	int threads = 1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (i + 1 >= argc)
			usage();
		const char *v = argv[++i];
		if (!strcmp(a, "--root"))
			root = v;
		else if (!strcmp(a, "--port-file"))
			port_file = v;
		else if (!strcmp(a, "--mode")) {
			if (!strcmp(v, "rw"))
				g_mode = M_RW;
			else if (!strcmp(v, "read-sendfile"))
				g_mode = M_RSF;
			else if (!strcmp(v, "sendfile"))
				g_mode = M_SF;
			else
				usage();
		} else if (!strcmp(a, "--bufsize"))
			g_bufsize = parse_size(v);
		else if (!strcmp(a, "--threads")) {
			threads = atoi(v);
			if (threads < 1 || threads > 256)
				usage();
		} else
			usage();
	}
	if (!root)
		usage();
	g_rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (g_rootfd < 0)
		die(root);

	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);

	g_listen = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (g_listen < 0)
		die("socket");
	int one = 1;
	setsockopt(g_listen, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (bind(g_listen, (struct sockaddr *)&sa, sizeof sa) != 0)
		die("bind");
	if (listen(g_listen, 4096) != 0)
		die("listen");
	socklen_t sl = sizeof sa;
	if (getsockname(g_listen, (struct sockaddr *)&sa, &sl) != 0)
		die("getsockname");
	int port = ntohs(sa.sin_port);

	/* SIGTERM/SIGINT end the server with exit(0). One loop (the default) runs in the main
	 * thread and sees them on a signalfd: the process stays single-threaded, as a classic
	 * poll() server is. With --threads N, the loops run in their own threads and the main
	 * thread waits for the signals. */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	int sigfd = -1;
	if (threads == 1) {
		sigfd = signalfd(-1, &sigs, SFD_CLOEXEC);
		if (sigfd < 0)
			die("signalfd");
	}
	for (int i = 0; threads > 1 && i < threads; i++) {
		pthread_t t;
		errno = pthread_create(&t, NULL, loop, NULL);
		if (errno)
			die("pthread_create");
		pthread_detach(t);
	}

	if (port_file) {
		char tmp[4096];
		snprintf(tmp, sizeof tmp, "%s.tmp.%d", port_file, (int)getpid());
		FILE *f = fopen(tmp, "w");
		if (!f || fprintf(f, "%d\n", port) < 0 || fclose(f) != 0 || rename(tmp, port_file) != 0)
			die(port_file);
	} else {
		printf("%d\n", port);
		fflush(stdout);
	}

	if (threads == 1)
		loop(&sigfd); /* exits */
	int sig;
	while (sigwait(&sigs, &sig) != 0)
		;
	exit(0);
}
