/*
 * copyloop: a deliberately nasty read()->write() copy-loop TCP server (and a
 * matching client), used to check that autosendfile keeps the bytes exact.
 *
 * Server:
 *   copyloop --file F [--port-file P] [--bufsize N] [--nonblock] [--sndbuf N]
 *            [--timer-us N] [--no-restart]
 *            [--call write|send|sendto|send-nosignal] [--pread] [--connections K]
 *            [--offset N [--seek-how libc|raw|dup]] [--direct]
 *   Binds 127.0.0.1:0, publishes the port in P (written to P.tmp then renamed;
 *   printed on stdout when --port-file is absent), accepts K connections one
 *   after another and, for each, copies F (from offset N with --offset) to the socket with a plain
 *   read(file, buf, N) / write-all loop. --seek-how: the offset is reached by lseek (libc,
 *   the default), by a raw lseek system call no wrapper sees (raw), or by lseek on a dup of
 *   the descriptor, which shares its offset (dup). --direct: F_SETFL O_DIRECT on the file
 *   before its first read (an aligned buffer; exit 77 when the file system refuses).
 *
 * Client:
 *   copyloop --client PORT --out FILE [--slow-reader]
 *   Connects to 127.0.0.1:PORT and stores every received byte in FILE.
 *
 * Exit 0 on success, 1 with a message on any unexpected error, 2 on usage errors.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

enum call_kind { CALL_WRITE, CALL_SEND, CALL_SENDTO, CALL_SEND_NOSIGNAL };

static volatile sig_atomic_t g_alarms;

static void die(const char *fmt, ...)
{
    va_list ap;
    int e = errno;
    va_start(ap, fmt);
    vdie(e, "copyloop: ", 1, fmt, ap);
}

static void usage(void)
{
    fprintf(stderr,
            "usage: copyloop --file F [--port-file P] [--bufsize N] [--nonblock] [--sndbuf N]\n"
            "                [--timer-us N] [--no-restart]\n"
            "                [--call write|send|sendto|send-nosignal] [--pread] [--connections K]\n"
            "                [--offset N [--seek-how libc|raw|dup]] [--direct]\n"
            "       copyloop --client PORT --out FILE [--slow-reader]\n");
    exit(2);
}

static long parse_num(const char *s, const char *what, long min, long max)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max) {
        fprintf(stderr, "copyloop: bad value for %s: '%s'\n", what, s);
        exit(2);
    }
    return v;
}

static void on_alarm(int sig)
{
    (void)sig;
    g_alarms++;
}

static void write_port_file(const char *path, int port)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof tmp)
        die("port file path too long");
    FILE *f = fopen(tmp, "w");
    if (!f)
        die("cannot create %s", tmp);
    fprintf(f, "%d\n", port);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0)
        die("cannot write %s", tmp);
    if (fclose(f) != 0)
        die("cannot close %s", tmp);
    if (rename(tmp, path) != 0)
        die("cannot rename %s to %s", tmp, path);
}

/* Wait until fd is writable; EINTR is just retried. */
static void wait_writable(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLOUT };
    for (;;) {
        int r = poll(&p, 1, 30000);
        if (r > 0) {
            if (p.revents & (POLLERR | POLLNVAL))
                die("poll: socket error (revents=0x%x)", p.revents);
            return; /* POLLOUT or POLLHUP: the next write reports the state */
        }
        if (r == 0) {
            errno = 0;
            die("poll: socket not writable for 30 s");
        }
        if (errno != EINTR)
            die("poll");
    }
}

static ssize_t do_call(enum call_kind call, int fd, const char *p, size_t n)
{
    switch (call) {
    case CALL_WRITE:
        return write(fd, p, n);
    case CALL_SEND:
        return send(fd, p, n, 0);
    case CALL_SENDTO:
        return sendto(fd, p, n, 0, NULL, 0);
    case CALL_SEND_NOSIGNAL:
        return send(fd, p, n, MSG_NOSIGNAL);
    }
    errno = EINVAL;
    return -1;
}

/* Write all of buf[0..n) to fd: partial writes continue with (buf+k, n-k). */
static void write_all(enum call_kind call, int fd, const char *buf, size_t n,
                      unsigned long long *partials, unsigned long long *eagains,
                      unsigned long long *eintrs)
{
    size_t k = 0;
    while (k < n) {
        ssize_t r = do_call(call, fd, buf + k, n - k);
        if (r < 0) {
            if (errno == EINTR) {
                (*eintrs)++;
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                (*eagains)++;
                wait_writable(fd);
                continue;
            }
            die("socket write failed at chunk offset %zu of %zu", k, n);
        }
        if (r == 0) {
            errno = 0;
            die("socket write returned 0 for %zu bytes", n - k);
        }
        if ((size_t)r > n - k) {
            errno = 0;
            die("socket write returned %zd > %zu requested", r, n - k);
        }
        if ((size_t)r < n - k)
            (*partials)++;
        k += (size_t)r;
    }
}

static int do_accept(int lfd)
{
    for (;;) {
        int c = accept(lfd, NULL, NULL);
        if (c >= 0)
            return c;
        if (errno != EINTR && errno != ECONNABORTED)
            die("accept");
    }
}

static int run_server(int argc, char **argv)
{
    const char *file = NULL, *port_file = NULL;
    long bufsize = 65536, sndbuf = 0, timer_us = 0, connections = 1;
    int nonblock = 0, restart = 1, use_pread = 0;
    long start_off = 0; /* --offset: lseek there first, like an FTP REST or a resumed download */
    const char *seek_how = "libc";
    int direct = 0;
    enum call_kind call = CALL_WRITE;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = (i + 1 < argc) ? argv[i + 1] : NULL;
#define NEEDV() do { if (!v) usage(); i++; } while (0)
        if (!strcmp(a, "--file")) { NEEDV(); file = v; }
        else if (!strcmp(a, "--port-file")) { NEEDV(); port_file = v; }
        else if (!strcmp(a, "--bufsize")) { NEEDV(); bufsize = parse_num(v, a, 1, 1L << 30); }
        else if (!strcmp(a, "--sndbuf")) { NEEDV(); sndbuf = parse_num(v, a, 1, 1L << 30); }
        else if (!strcmp(a, "--timer-us")) { NEEDV(); timer_us = parse_num(v, a, 1, 10000000); }
        else if (!strcmp(a, "--connections")) { NEEDV(); connections = parse_num(v, a, 1, 1000000); }
        else if (!strcmp(a, "--nonblock")) nonblock = 1;
        else if (!strcmp(a, "--no-restart")) restart = 0;
        else if (!strcmp(a, "--pread")) use_pread = 1;
        else if (!strcmp(a, "--offset")) { NEEDV(); start_off = parse_num(v, a, 0, 1L << 40); }
        else if (!strcmp(a, "--seek-how")) { NEEDV(); seek_how = v; }
        else if (!strcmp(a, "--direct")) direct = 1;
        else if (!strcmp(a, "--call")) {
            NEEDV();
            if (!strcmp(v, "write")) call = CALL_WRITE;
            else if (!strcmp(v, "send")) call = CALL_SEND;
            else if (!strcmp(v, "sendto")) call = CALL_SENDTO;
            else if (!strcmp(v, "send-nosignal")) call = CALL_SEND_NOSIGNAL;
            else usage();
        } else usage();
#undef NEEDV
    }
    if (!file)
        usage();

    /* A vanished client must give an error message, not a silent SIGPIPE death. */
    signal(SIGPIPE, SIG_IGN);

    char *buf = NULL;
    if (posix_memalign((void **)&buf, 4096, (size_t)bufsize) != 0) /* (O_DIRECT wants it) */
        die("posix_memalign(%ld)", bufsize);
    if (strcmp(seek_how, "libc") && strcmp(seek_how, "raw") && strcmp(seek_how, "dup"))
        usage();

    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0)
        die("socket");
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0 };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) != 0)
        die("bind 127.0.0.1:0");
    if (listen(lfd, 16) != 0)
        die("listen");
    socklen_t sl = sizeof sa;
    if (getsockname(lfd, (struct sockaddr *)&sa, &sl) != 0)
        die("getsockname");
    int port = ntohs(sa.sin_port);
    if (port_file) {
        write_port_file(port_file, port);
    } else {
        printf("%d\n", port);
        fflush(stdout);
    }

    if (timer_us) {
        struct sigaction act;
        memset(&act, 0, sizeof act);
        act.sa_handler = on_alarm;
        sigemptyset(&act.sa_mask);
        act.sa_flags = restart ? SA_RESTART : 0;
        if (sigaction(SIGALRM, &act, NULL) != 0)
            die("sigaction");
        struct itimerval it;
        it.it_interval.tv_sec = timer_us / 1000000;
        it.it_interval.tv_usec = timer_us % 1000000;
        it.it_value = it.it_interval;
        if (setitimer(ITIMER_REAL, &it, NULL) != 0)
            die("setitimer");
    }

    unsigned long long total = 0, partials = 0, eagains = 0, eintrs = 0;
    for (long c = 0; c < connections; c++) {
        int s = do_accept(lfd);
        if (sndbuf) {
            int v = (int)sndbuf;
            if (setsockopt(s, SOL_SOCKET, SO_SNDBUF, &v, sizeof v) != 0)
                die("setsockopt SO_SNDBUF");
        }
        if (nonblock) {
            int fl = fcntl(s, F_GETFL);
            if (fl < 0 || fcntl(s, F_SETFL, fl | O_NONBLOCK) != 0)
                die("fcntl O_NONBLOCK");
        }
        int fd;
        do {
            fd = open(file, O_RDONLY);
        } while (fd < 0 && errno == EINTR);
        if (fd < 0)
            die("open %s", file);

        off_t off = start_off;
        if (direct) {
            int fl = fcntl(fd, F_GETFL);
            if (fl < 0 || fcntl(fd, F_SETFL, fl | O_DIRECT) != 0) {
                fprintf(stderr, "copyloop: F_SETFL O_DIRECT refused here: %s\n", strerror(errno));
                exit(77);
            }
        }
        if (start_off && !use_pread) {
            off_t r;
            if (!strcmp(seek_how, "raw")) {
                r = (off_t)syscall(SYS_lseek, fd, off, SEEK_SET);
            } else if (!strcmp(seek_how, "dup")) {
                int d = dup(fd);
                r = d < 0 ? -1 : lseek(d, off, SEEK_SET);
                if (d >= 0)
                    close(d);
            } else {
                r = lseek(fd, off, SEEK_SET);
            }
            if (r != off)
                die("lseek %s", file);
        }
        for (;;) {
            ssize_t n = use_pread ? pread(fd, buf, (size_t)bufsize, off)
                                  : read(fd, buf, (size_t)bufsize);
            if (n < 0) {
                if (errno == EINTR) {
                    eintrs++;
                    continue;
                }
                die("%s %s at offset %lld", use_pread ? "pread" : "read", file, (long long)off);
            }
            if (n == 0)
                break;
            off += n;
            write_all(call, s, buf, (size_t)n, &partials, &eagains, &eintrs);
            total += (unsigned long long)n;
        }
        if (close(fd) != 0)
            die("close file");
        /* Orderly close: the client never sends, so close() delivers everything. */
        if (shutdown(s, SHUT_WR) != 0 && errno != ENOTCONN)
            die("shutdown");
        if (close(s) != 0 && errno != EINTR)
            die("close socket");
    }

    if (timer_us) {
        struct itimerval zero;
        memset(&zero, 0, sizeof zero);
        setitimer(ITIMER_REAL, &zero, NULL);
    }
    close(lfd);
    free(buf);
    fprintf(stderr,
            "copyloop: served %ld connection(s), %llu bytes, partial=%llu eagain=%llu eintr=%llu alarms=%ld\n",
            connections, total, partials, eagains, eintrs, (long)g_alarms);
    return 0;
}

static int run_client(int argc, char **argv)
{
    long port = -1;
    const char *out = NULL;
    int slow = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = (i + 1 < argc) ? argv[i + 1] : NULL;
        if (!strcmp(a, "--client")) { if (!v) usage(); port = parse_num(v, a, 1, 65535); i++; }
        else if (!strcmp(a, "--out")) { if (!v) usage(); out = v; i++; }
        else if (!strcmp(a, "--slow-reader")) slow = 1;
        else usage();
    }
    if (port < 0 || !out)
        usage();

    int ofd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (ofd < 0)
        die("open %s", out);

    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0)
        die("socket");
    if (slow) {
        /* A small receive window makes the server see partial writes / EAGAIN. */
        int v = 8192;
        if (setsockopt(s, SOL_SOCKET, SO_RCVBUF, &v, sizeof v) != 0)
            die("setsockopt SO_RCVBUF");
    }
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((unsigned short)port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(s, (struct sockaddr *)&sa, sizeof sa) != 0)
        die("connect 127.0.0.1:%ld", port);

    static char buf[1 << 16];
    unsigned long long total = 0, reads = 0;
    for (;;) {
        size_t want = slow ? 1 + (size_t)(reads * 7919 % 3000) : sizeof buf;
        ssize_t n = read(s, buf, want);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("read from socket after %llu bytes", total);
        }
        if (n == 0)
            break;
        reads++;
        for (ssize_t k = 0; k < n;) {
            ssize_t w = write(ofd, buf + k, (size_t)(n - k));
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                die("write %s", out);
            }
            k += w;
        }
        total += (unsigned long long)n;
        if (slow && reads % 4 == 0)
            sleep_us(100);
    }
    if (close(ofd) != 0)
        die("close %s", out);
    close(s);
    fprintf(stderr, "copyloop: client received %llu bytes in %llu reads\n", total, reads);
    return 0;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--client"))
            return run_client(argc, argv);
    return run_server(argc, argv);
}
