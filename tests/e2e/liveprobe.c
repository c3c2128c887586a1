/* liveprobe: the programs test_livestats.sh reads with `autosendfile --stat`.
 *
 *   liveprobe serve PORT FILE END      listen on 127.0.0.1:PORT, send FILE to one client with
 *                                      a read/write loop (64 KiB), then END: exit | _exit |
 *                                      wait (pause until a signal ends it)
 *   liveprobe worker PORT FILE UID     the parent (root) listens and forks; the child drops to
 *                                      UID (setgid, setuid), then serves FILE to one client
 *                                      and exits normally; the parent waits for it, prints
 *                                      "worker=PID" and exits normally
 *   liveprobe why KIND FILE            writes to a stream socketpair (a child drains it) the
 *                                      bytes of one case: copy (64 KiB read, then written:
 *                                      the control), small (2 KiB read and written), changed
 *                                      (64 KiB read, one byte changed, written), notfile
 *                                      (64 KiB generated), tls (a TLS record header first,
 *                                      then 64 KiB read and written)
 * Exit status 0, or 1 with a message. */
#define _GNU_SOURCE
#include <grp.h>
#include <sys/wait.h>

#include "testutil.h"

#define BUF (64u * 1024u)

static __attribute__((noreturn, format(printf, 1, 2))) void die(const char *fmt, ...)
{
	int e = errno;
	va_list ap;
	va_start(ap, fmt);
	vdie(e, "liveprobe: ", 1, fmt, ap);
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = write(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			die("write");
		p += k;
		n -= (size_t)k;
	}
}

static int listen_on(int port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 4) != 0)
		die("listen on port %d", port);
	return s;
}

/* The copy loop of the servers this library is for. */
static void serve_one(int ls, const char *file)
{
	int c = accept(ls, NULL, NULL);
	if (c < 0)
		die("accept");
	int f = open(file, O_RDONLY);
	if (f < 0)
		die("open %s", file);
	static char buf[BUF];
	ssize_t n;
	while ((n = read(f, buf, sizeof buf)) > 0)
		write_all(c, buf, (size_t)n);
	close(f);
	close(c);
}

static int why(const char *kind, const char *file)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		die("socketpair");
	pid_t drain = fork();
	if (drain == 0) {
		close(sv[0]);
		char b[4096];
		while (read(sv[1], b, sizeof b) > 0)
			;
		_exit(0);
	}
	close(sv[1]);
	int f = open(file, O_RDONLY);
	if (f < 0)
		die("open %s", file);
	static char buf[BUF];
	if (strcmp(kind, "tls") == 0) /* a TLS handshake record header: the socket is TLS now */
		write_all(sv[0], "\x16\x03\x01\x00\x40", 5);
	size_t want = strcmp(kind, "small") == 0 ? 2048 : BUF;
	if (strcmp(kind, "notfile") == 0) {
		for (size_t i = 0; i < want; i++)
			buf[i] = (char)(i * 7);
	} else if (read(f, buf, want) != (ssize_t)want) {
		die("read %s", file);
	}
	if (strcmp(kind, "changed") == 0)
		buf[100] ^= 1;
	else if (strcmp(kind, "copy") && strcmp(kind, "small") && strcmp(kind, "notfile") &&
		 strcmp(kind, "tls"))
		die("unknown case %s", kind);
	write_all(sv[0], buf, want);
	close(sv[0]);
	int st;
	waitpid(drain, &st, 0);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "serve") == 0) {
		int ls = listen_on(atoi(argv[2]));
		serve_one(ls, argv[3]);
		if (strcmp(argv[4], "_exit") == 0)
			_exit(0);
		if (strcmp(argv[4], "wait") == 0)
			for (;;)
				pause();
		return 0;
	}
	if (argc == 5 && strcmp(argv[1], "worker") == 0) {
		int ls = listen_on(atoi(argv[2]));
		pid_t pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0) {
			uid_t uid = (uid_t)atoi(argv[4]);
			if (setgroups(0, NULL) != 0 || setgid(uid) != 0 || setuid(uid) != 0)
				die("dropping to uid %u", (unsigned)uid);
			serve_one(ls, argv[3]);
			exit(0);
		}
		int st;
		if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			die("worker %d failed (status %d)", (int)pid, st);
		printf("worker=%d\n", (int)pid);
		return 0;
	}
	if (argc == 4 && strcmp(argv[1], "why") == 0)
		return why(argv[2], argv[3]);
	fprintf(stderr, "usage: liveprobe serve PORT FILE exit|_exit|wait | worker PORT FILE UID | "
			"why copy|small|changed|notfile|tls FILE\n");
	return 2;
}
