/* stallclient - opens N connections to 127.0.0.1:PORT, sends "GET PATH HTTP/1.0" on each,
 * reads only the first K bytes of each response, then stops reading and holds every
 * connection open for SECS seconds, so that the unread bytes pile up in the kernel (the
 * server's socket send queue and this side's small receive queue). Prints "stalled N" (and
 * flushes) once all N are connected and have delivered their K bytes, then closes them all.
 *
 * Usage: stallclient --port P --path /name --clients N [--hold SECS (5)] [--read-bytes K (1)]
 *                    [--rcvbuf BYTES (4096)]
 * Exit status: 0 ok, 1 a connection failed (connect, send, or fewer than K bytes within 10 s).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static void usage(void)
{
	fprintf(stderr, "usage: stallclient --port P --path /name --clients N [--hold SECS] "
			"[--read-bytes K] [--rcvbuf BYTES]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	int port = 0, clients = 0, rcvbuf = 4096;
	double hold = 5;
	long kbytes = 1;
	const char *path = NULL;
	for (int i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			usage();
		const char *a = argv[i], *v = argv[++i];
		if (!strcmp(a, "--port"))
			port = atoi(v);
		else if (!strcmp(a, "--path"))
			path = v;
		else if (!strcmp(a, "--clients"))
			clients = atoi(v);
		else if (!strcmp(a, "--hold"))
			hold = atof(v);
		else if (!strcmp(a, "--read-bytes"))
			kbytes = atol(v);
		else if (!strcmp(a, "--rcvbuf"))
			rcvbuf = atoi(v);
		else
			usage();
	}
	if (port <= 0 || port > 65535 || !path || path[0] != '/' || clients <= 0 || hold < 0 ||
	    kbytes < 0)
		usage();

	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}

	char req[4200];
	int rlen = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
	if (rlen <= 0 || (size_t)rlen >= sizeof req)
		usage();

	int *fds = calloc((size_t)clients, sizeof *fds);
	if (!fds) {
		perror("calloc");
		return 1;
	}
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tmo = { .tv_sec = 10 };
	for (int i = 0; i < clients; i++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			perror("stallclient: socket");
			return 1;
		}
		/* Before connect, so the advertised window stays small. */
		if (rcvbuf > 0)
			setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof tmo);
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tmo, sizeof tmo);
		if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
			fprintf(stderr, "stallclient: connect #%d: %s\n", i, strerror(errno));
			return 1;
		}
		if (send(fd, req, (size_t)rlen, MSG_NOSIGNAL) != rlen) {
			fprintf(stderr, "stallclient: send #%d: %s\n", i, strerror(errno));
			return 1;
		}
		fds[i] = fd;
	}
	char buf[65536];
	for (int i = 0; i < clients; i++) {
		long got = 0;
		while (got < kbytes) {
			size_t want = (size_t)(kbytes - got) < sizeof buf ? (size_t)(kbytes - got) : sizeof buf;
			ssize_t n = recv(fds[i], buf, want, 0);
			if (n <= 0) {
				fprintf(stderr, "stallclient: read #%d: %s after %ld bytes\n", i,
					n == 0 ? "EOF" : strerror(errno), got);
				return 1;
			}
			got += n;
		}
	}
	if (printf("stalled %d\n", clients) < 0 || fflush(stdout) != 0) {
		perror("stallclient: writing \"stalled\" to stdout");
		return 1;
	}
	struct timespec ts = { .tv_sec = (time_t)hold, .tv_nsec = (long)((hold - (double)(time_t)hold) * 1e9) };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
	for (int i = 0; i < clients; i++)
		close(fds[i]);
	free(fds);
	return 0;
}
