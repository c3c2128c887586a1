/* loadclient - the demo's HTTP load generator. N client threads each fetch
 * http://127.0.0.1:PORT/PATH again and again for SECS seconds: connect, send
 * "GET PATH HTTP/1.0", read the header, then read the whole body (Content-Length bytes, or
 * to EOF when there is none), close, repeat. When the time is up, no new request starts,
 * but every download in progress is finished, so the byte count is exactly the body bytes
 * the server sent. Then it prints one line:
 *
 *   loadclient: clients=N seconds=S bytes=B requests=R errors=E saved=K
 *
 * seconds is from the first connect to the end of the last download; bytes counts body
 * bytes only (no headers); errors counts failed connects, non-200 answers and bodies shorter
 * than their Content-Length.
 *
 * Usage: loadclient --port P --path /name [--clients N (4)] [--seconds SECS (3)]
 *                   [--save PREFIX] [--save-count K (2)] [--mss MSS] [--trunc]
 *   --save PREFIX  the first K clients each write the body of their first download to
 *                  PREFIX.<client> (for a byte-for-byte check with cmp).
 *   --mss MSS      setsockopt(TCP_MAXSEG, MSS) on each client socket before connect: the SYN
 *                  advertises MSS, so the server cuts its segments to that size, as for a
 *                  client on Ethernet (1448) instead of loopback's ~65483. (On loopback the
 *                  kernel still hands GSO batches of such segments across unsplit.)
 *   --trunc        read the body with recv(..., MSG_TRUNC): the kernel discards the bytes
 *                  and returns how many it discarded, so nothing is copied into user space
 *                  (a stand-in for a remote client, whose reading costs the server nothing).
 *                  The count stays exact: the header's read may carry the first body bytes
 *                  (copied, counted), and each discard asks for at most what Content-Length
 *                  leaves. A download being saved (--save) is copied, not discarded.
 * With --mss or --trunc the summary line gains " mss=MSS trunc=0|1".
 * Exit status: 0 ok, 1 some request failed (or none completed), 2 usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define BUFSZ (256 * 1024)

static int g_port;
static const char *g_path;
static const char *g_save;
static int g_save_count = 2;
static int g_mss;    /* --mss: 0 = the kernel's choice */
static bool g_trunc; /* --trunc: discard the body with MSG_TRUNC */
static double g_deadline; /* monotonic seconds */
static char g_req[4200];
static size_t g_req_len;

struct result {
	int idx; /* the client number */
	unsigned long long bytes, requests, errors;
	bool saved;
	char err[200];
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void note(struct result *r, const char *fmt, const char *what)
{
	r->errors++;
	if (!r->err[0])
		snprintf(r->err, sizeof r->err, fmt, what);
}

static bool write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return false;
		}
		p += w;
		n -= (size_t)w;
	}
	return true;
}

/* One request. Body bytes are added to r->bytes as they arrive. out >= 0: the body is also
 * written there. Returns true when the whole body arrived. */
static bool fetch(struct result *r, char *buf, int out)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		note(r, "socket: %s", strerror(errno));
		return false;
	}
	struct timeval tmo = { .tv_sec = 20 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof tmo);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tmo, sizeof tmo);
	if (g_mss > 0 && setsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &g_mss, sizeof g_mss) != 0) {
		note(r, "setsockopt(TCP_MAXSEG): %s", strerror(errno));
		close(fd);
		return false;
	}
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)g_port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	bool ok = false;
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		note(r, "connect: %s", strerror(errno));
		goto out;
	}
	if (send(fd, g_req, g_req_len, MSG_NOSIGNAL) != (ssize_t)g_req_len) {
		note(r, "send: %s", strerror(errno));
		goto out;
	}
	/* Header: read until the blank line; what follows it in buf is body. */
	size_t have = 0;
	char *end = NULL;
	while (!end) {
		if (have == 8192) {
			note(r, "%s", "header too long");
			goto out;
		}
		ssize_t n = recv(fd, buf + have, 8192 - have, 0);
		if (n <= 0) {
			note(r, "reading the header: %s", n == 0 ? "EOF" : strerror(errno));
			goto out;
		}
		have += (size_t)n;
		buf[have] = '\0';
		end = strstr(buf, "\r\n\r\n");
	}
	if (strncmp(buf, "HTTP/1.", 7) != 0 || strncmp(buf + 8, " 200", 4) != 0) {
		note(r, "answer: %.40s", buf);
		goto out;
	}
	long long clen = -1;
	for (char *h = strstr(buf, "\r\n"); h && h < end; h = strstr(h + 2, "\r\n"))
		if (strncasecmp(h + 2, "Content-Length:", 15) == 0)
			clen = atoll(h + 17);
	size_t body0 = (size_t)(end + 4 - buf);
	long long got = (long long)(have - body0);
	r->bytes += (unsigned long long)got;
	if (out >= 0 && !write_all(out, buf + body0, (size_t)got)) {
		note(r, "saving the body: %s", strerror(errno));
		goto out;
	}
	/* MSG_TRUNC on TCP: the bytes are dropped from the receive queue, not copied; the
	 * return value is the count dropped (at most want), so the accounting stays exact. */
	int rflags = g_trunc && out < 0 ? MSG_TRUNC : 0;
	while (clen < 0 || got < clen) {
		size_t want = BUFSZ;
		if (clen >= 0 && (long long)want > clen - got)
			want = (size_t)(clen - got);
		ssize_t n = recv(fd, buf, want, rflags);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0 && clen < 0) {
				ok = true;
				goto out;
			}
			note(r, "short body: %s", n == 0 ? "EOF" : strerror(errno));
			goto out;
		}
		got += n;
		r->bytes += (unsigned long long)n;
		if (out >= 0 && !write_all(out, buf, (size_t)n)) {
			note(r, "saving the body: %s", strerror(errno));
			goto out;
		}
	}
	if (got != clen) {
		note(r, "%s", "body longer than Content-Length");
		goto out;
	}
	ok = true;
out:
	close(fd);
	return ok;
}

static void *client(void *arg)
{
	struct result *r = arg;
	char *buf = malloc(BUFSZ + 1);
	if (!buf) {
		note(r, "%s", "out of memory");
		return NULL;
	}
	do {
		int out = -1;
		if (g_save && !r->saved && r->idx < g_save_count) {
			char name[4096];
			snprintf(name, sizeof name, "%s.%d", g_save, r->idx);
			out = open(name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
			if (out < 0) {
				note(r, "open the save file: %s", strerror(errno));
				break;
			}
		}
		bool ok = fetch(r, buf, out);
		if (out >= 0) {
			close(out);
			r->saved = ok;
		}
		if (ok)
			r->requests++;
		else if (r->errors > 50)
			break; /* the server is gone; stop hammering it */
	} while (now() < g_deadline);
	free(buf);
	return NULL;
}

static void usage(void)
{
	fprintf(stderr, "usage: loadclient --port P --path /name [--clients N] [--seconds SECS] "
			"[--save PREFIX] [--save-count K] [--mss MSS] [--trunc]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	int clients = 4;
	double secs = 3;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--trunc")) {
			g_trunc = true;
			continue;
		}
		if (i + 1 >= argc)
			usage();
		const char *a = argv[i], *v = argv[++i];
		if (!strcmp(a, "--port"))
			g_port = atoi(v);
		else if (!strcmp(a, "--path"))
			g_path = v;
		else if (!strcmp(a, "--clients"))
			clients = atoi(v);
		else if (!strcmp(a, "--seconds"))
			secs = atof(v);
		else if (!strcmp(a, "--save"))
			g_save = v;
		else if (!strcmp(a, "--save-count"))
			g_save_count = atoi(v);
		else if (!strcmp(a, "--mss"))
			g_mss = atoi(v);
		else
			usage();
	}
	if (g_port <= 0 || g_port > 65535 || !g_path || g_path[0] != '/' || clients <= 0 ||
	    clients > 1000 || !(secs > 0) || g_save_count < 0 || g_mss < 0 ||
	    g_mss > 65535)
		usage();
	int rl = snprintf(g_req, sizeof g_req, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", g_path);
	if (rl <= 0 || (size_t)rl >= sizeof g_req)
		usage();
	g_req_len = (size_t)rl;
	signal(SIGPIPE, SIG_IGN);

	struct result *res = calloc((size_t)clients, sizeof *res);
	pthread_t *th = calloc((size_t)clients, sizeof *th);
	if (!res || !th) {
		perror("loadclient: calloc");
		return 1;
	}
	double t0 = now();
	g_deadline = t0 + secs;
	for (int i = 0; i < clients; i++) {
		res[i].idx = i;
		errno = pthread_create(&th[i], NULL, client, &res[i]);
		if (errno) {
			perror("loadclient: pthread_create");
			return 1;
		}
	}
	unsigned long long bytes = 0, reqs = 0, errs = 0;
	int saved = 0;
	for (int i = 0; i < clients; i++) {
		pthread_join(th[i], NULL);
		bytes += res[i].bytes;
		reqs += res[i].requests;
		errs += res[i].errors;
		saved += res[i].saved;
		if (res[i].err[0])
			fprintf(stderr, "loadclient: client %d: %s (%llu errors)\n", i, res[i].err,
				res[i].errors);
	}
	double el = now() - t0;
	printf("loadclient: clients=%d seconds=%.3f bytes=%llu requests=%llu errors=%llu saved=%d",
	       clients, el, bytes, reqs, errs, saved);
	if (g_mss > 0 || g_trunc)
		printf(" mss=%d trunc=%d", g_mss, g_trunc);
	printf("\n");
	fflush(stdout);
	return errs == 0 && reqs > 0 ? 0 : 1;
}
