/* hammer - many short HTTP/1.0 requests against a local server (test_rss.sh).
 *
 * Usage: hammer --port P --path /name --file F [--threads N (4)] [--count C (10000)]
 *               [--seconds S (30)]
 *
 * N threads each loop: connect to 127.0.0.1:P (from a source address 127.0.0.2-127.0.0.251
 * picked per thread and per round, so that 100,000 connections do not run out of 4-tuples
 * while the server's closed connections sit in TIME_WAIT), send "GET /name HTTP/1.0",
 * read the answer to EOF, check it is "200" with a body equal to the file F, close. Stops
 * when C connections were started or S seconds have passed (no new one starts; the ones in
 * progress finish). Prints one line:
 *
 *   hammer: connections=N ok=N errors=E seconds=S rate=R/s
 *
 * and the first error's reason on stderr. Exit 0 if all completed connections were ok,
 * 1 otherwise, 2 on usage errors.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

static int g_port;
static const char *g_path;
static unsigned char *g_body;
static size_t g_body_len;
static long g_count = 10000;
static double g_seconds = 30;
static double g_start;
static atomic_long started, ok, errors;
static atomic_int first_error_taken;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void error_once(const char *fmt, const char *detail)
{
	int expected = 0;
	if (atomic_compare_exchange_strong(&first_error_taken, &expected, 1)) {
		fprintf(stderr, "hammer: first error: ");
		fprintf(stderr, fmt, detail);
		fprintf(stderr, "\n");
	}
}

/* One request; 0 if the answer was right. */
static int one(unsigned src, char *buf, size_t cap)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		error_once("socket: %s", strerror(errno));
		return -1;
	}
	int one_ = 1;
	setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one_, sizeof one_);
	struct sockaddr_in sa = { .sin_family = AF_INET };
	sa.sin_addr.s_addr = htonl(0x7f000000u | (2 + src % 250));
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		error_once("bind: %s", strerror(errno));
		close(fd);
		return -1;
	}
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)g_port);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		error_once("connect: %s", strerror(errno));
		close(fd);
		return -1;
	}
	char req[600];
	int rl = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\n\r\n", g_path);
	if (send(fd, req, (size_t)rl, MSG_NOSIGNAL) != rl) {
		error_once("send: %s", strerror(errno));
		close(fd);
		return -1;
	}
	size_t len = 0;
	for (;;) {
		if (len == cap) {
			error_once("%s", "answer too long");
			close(fd);
			return -1;
		}
		ssize_t r = recv(fd, buf + len, cap - len, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			error_once("recv: %s", strerror(errno));
			close(fd);
			return -1;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	char *end = memmem(buf, len, "\r\n\r\n", 4);
	if (!end || len < 12 || memcmp(buf + 9, "200", 3) != 0) {
		error_once("%s", "no 200 answer");
		return -1;
	}
	size_t hl = (size_t)(end - buf) + 4;
	if (len - hl != g_body_len || memcmp(buf + hl, g_body, g_body_len) != 0) {
		error_once("%s", "the body is not the file");
		return -1;
	}
	return 0;
}

static void *worker(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg;
	size_t cap = g_body_len + 4096;
	char *buf = malloc(cap);
	if (!buf)
		return NULL;
	for (unsigned round = 0;; round++) {
		if (now() - g_start >= g_seconds)
			break;
		if (atomic_fetch_add(&started, 1) >= g_count) {
			atomic_fetch_sub(&started, 1);
			break;
		}
		if (one(id * 7919u + round, buf, cap) == 0)
			atomic_fetch_add(&ok, 1);
		else
			atomic_fetch_add(&errors, 1);
	}
	free(buf);
	return NULL;
}

int main(int argc, char **argv)
{
	int threads = 4;
	const char *file = NULL;
	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			goto usage;
		if (!strcmp(argv[i], "--port"))
			g_port = atoi(v);
		else if (!strcmp(argv[i], "--path"))
			g_path = v;
		else if (!strcmp(argv[i], "--file"))
			file = v;
		else if (!strcmp(argv[i], "--threads"))
			threads = atoi(v);
		else if (!strcmp(argv[i], "--count"))
			g_count = atol(v);
		else if (!strcmp(argv[i], "--seconds"))
			g_seconds = atof(v);
		else
			goto usage;
		i++;
	}
	if (!g_port || !g_path || !file || threads < 1 || threads > 256 || strlen(g_path) > 500)
		goto usage;
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		perror(file);
		return 2;
	}
	g_body_len = (size_t)st.st_size;
	g_body = malloc(g_body_len + 1);
	if (!g_body || read(fd, g_body, g_body_len) != (ssize_t)g_body_len) {
		fprintf(stderr, "hammer: cannot read %s\n", file);
		return 2;
	}
	close(fd);
	g_start = now();
	pthread_t th[256];
	int n = 0;
	for (; n < threads; n++)
		if (pthread_create(&th[n], NULL, worker, (void *)(uintptr_t)n) != 0)
			break;
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	double secs = now() - g_start;
	long c = atomic_load(&ok) + atomic_load(&errors);
	printf("hammer: connections=%ld ok=%ld errors=%ld seconds=%.2f rate=%.0f/s\n", c,
	       atomic_load(&ok), atomic_load(&errors), secs, secs > 0 ? (double)c / secs : 0.0);
	return atomic_load(&errors) || atomic_load(&ok) == 0 ? 1 : 0;
usage:
	fprintf(stderr, "usage: hammer --port P --path /name --file F [--threads N] [--count C] "
			"[--seconds S]\n");
	return 2;
}
