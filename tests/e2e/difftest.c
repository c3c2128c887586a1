/*
 * difftest: randomized, self-checking differential test for autosendfile.
 *
 *   difftest --seed S --cases N [--verbose] [--first I] [--mutate-file[=before|after]]
 *
 * Every case (fully determined by seed and case index) writes a random file,
 * opens a loopback TCP connection and copies the file to the socket with a
 * nasty read()/pread() -> write()/send()/sendto() loop: odd buffer sizes,
 * unaligned buffers, two buffers, sub-range and out-of-order writes, repeated
 * writes, in-place mutation of the buffer before writing, lseek() of the file
 * between read and write, non-blocking sockets with a tiny SO_SNDBUF, and (in
 * some cases) mutation of the unsent tail between partial-write retries.
 *
 * The sender records the exact bytes every successful write call accepted
 * ("expected"); a receiver thread stores everything it gets.  Any difference is
 * a failure.  One line per case on stdout:
 *     case I size=S buf=B digest=HEX
 * where HEX is 64-bit FNV-1a of the received stream, or "timing" for cases
 * whose content legitimately depends on timing (tail mutation between
 * retries).  These lines must be identical with and without the library.
 *
 * --mutate-file[=before|after] (off by default, outside the library's stated
 * contract): also pwrite() a random byte into the region of the file just
 * read, before or after (default: randomly either) the write call that sends
 * the buffer.  "after" probes the inherent sendfile hazard: the socket may
 * still reference page-cache pages when the file changes.
 *
 * Ends with "difftest: N cases, M failures"; exit status 1 if M > 0.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------- utils -- */

static int g_verbose;
static int g_filemut_when = 3; /* --mutate-file: 1 before the write call, 2 after, 3 either */

static void die(const char *fmt, ...)
{
    va_list ap;
    int e = errno;
    fflush(stdout);
    fprintf(stderr, "difftest: fatal: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (e)
        fprintf(stderr, " (errno %d: %s)", e, strerror(e));
    fputc('\n', stderr);
    exit(2);
}

static void vlog(const char *fmt, ...)
{
    if (!g_verbose)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

typedef struct { uint64_t s; } rng_t;

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static uint64_t rnext(rng_t *r) { return splitmix64(&r->s); }
/* uniform in [0, n) (n > 0); the tiny modulo bias is irrelevant here */
static uint64_t rbelow(rng_t *r, uint64_t n) { return rnext(r) % n; }
/* uniform in [lo, hi] */
static uint64_t rrange(rng_t *r, uint64_t lo, uint64_t hi) { return lo + rbelow(r, hi - lo + 1); }
/* true with probability pct/100 */
static int rpct(rng_t *r, unsigned pct) { return rbelow(r, 100) < pct; }

static rng_t rng_for(uint64_t seed, uint64_t case_idx, uint64_t stream)
{
    uint64_t x = seed * 0xD1B54A32D192ED03ULL ^ (case_idx + 1) * 0x9E3779B97F4A7C15ULL ^ stream * 0xABCDEF1234567ULL;
    rng_t r;
    r.s = splitmix64(&x);
    r.s ^= splitmix64(&x);
    return r;
}

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

typedef struct {
    unsigned char *p;
    size_t len, cap;
} bytes_t;

static void bytes_append(bytes_t *b, const void *src, size_t n)
{
    if (b->len + n > b->cap) {
        size_t nc = b->cap ? b->cap : 65536;
        while (nc < b->len + n)
            nc *= 2;
        unsigned char *np = realloc(b->p, nc);
        if (!np)
            die("out of memory (%zu bytes)", nc);
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

static void sleep_us(long us)
{
    struct timespec ts = { .tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000 };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ------------------------------------------------------------- receiver -- */

typedef struct {
    int fd;
    int slow;
    uint64_t rseed;
    bytes_t got;
    int err; /* errno of a failed read, 0 if fine */
} receiver_t;

static void *receiver_main(void *arg)
{
    receiver_t *rv = arg;
    rng_t r = { rv->rseed };
    unsigned char buf[65536];
    unsigned long reads = 0;
    for (;;) {
        size_t want = sizeof buf;
        if (rv->slow)
            want = (size_t)rrange(&r, 1, 4096);
        ssize_t n = read(rv->fd, buf, want);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rv->err = errno;
            break;
        }
        if (n == 0)
            break;
        bytes_append(&rv->got, buf, (size_t)n);
        reads++;
        if (rv->slow && reads % 16 == 0)
            sleep_us((long)rrange(&r, 20, 200));
    }
    return NULL;
}

/* ---------------------------------------------------------------- sender -- */

enum { CALL_WRITE, CALL_SEND, CALL_SENDTO, CALL_SEND_NOSIGNAL, CALL_MIXED };
static const char *call_names[] = { "write", "send", "sendto", "send-nosignal", "mixed" };
enum { RD_READ, RD_PREAD, RD_PREAD_REVERSE };
static const char *rd_names[] = { "read", "pread", "pread-reverse" };
enum { BUF_ONE, BUF_ALTERNATE, BUF_READAHEAD, BUF_COPY };
static const char *bufmode_names[] = { "one", "alternate", "readahead", "copy" };

typedef struct {
    size_t size, bufsize, bufoff;
    int rdmode, call, bufmode;
    int nonblock, tiny_sndbuf, slow_reader;
    unsigned mut_pct, split_pct, seek_pct, tail_pct, filemut_pct;
    int timing; /* tail mutation enabled -> digest is timing dependent */
} config_t;

typedef struct {
    int sock;
    int file_wfd; /* for --mutate-file */
    const config_t *cfg;
    rng_t *r;      /* deterministic decisions */
    rng_t *rtail;  /* timing-dependent decisions (tail mutation) */
    bytes_t *expected;
    unsigned long calls, partials, eagains, tail_mutations;
} sender_t;

static void wait_writable(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLOUT };
    for (;;) {
        int n = poll(&p, 1, 30000);
        if (n > 0)
            return;
        if (n == 0) {
            errno = 0;
            die("socket not writable for 30 s");
        }
        if (errno != EINTR)
            die("poll");
    }
}

static ssize_t do_call(int call, int fd, const void *p, size_t n)
{
    switch (call) {
    case CALL_WRITE: return write(fd, p, n);
    case CALL_SEND: return send(fd, p, n, 0);
    case CALL_SENDTO: return sendto(fd, p, n, 0, NULL, 0);
    case CALL_SEND_NOSIGNAL: return send(fd, p, n, MSG_NOSIGNAL);
    }
    errno = EINVAL;
    return -1;
}

/* Flip a few bytes of region[0..len) (deterministically from r); sometimes
 * the flip is undone again, leaving the bytes unchanged. */
static void mutate(rng_t *r, unsigned char *region, size_t len)
{
    if (len == 0)
        return;
    unsigned k = (unsigned)rrange(r, 1, 4);
    for (unsigned i = 0; i < k; i++) {
        size_t pos = (size_t)rbelow(r, len);
        unsigned char old = region[pos];
        region[pos] ^= (unsigned char)rrange(r, 1, 255);
        if (rpct(r, 20))
            region[pos] = old; /* mutate-and-restore */
    }
}

/* Send p[0..n) completely; records accepted bytes in expected. */
static void send_all(sender_t *s, unsigned char *p, size_t n)
{
    const config_t *c = s->cfg;
    size_t k = 0;
    int call = c->call;
    if (call == CALL_MIXED)
        call = (int)rbelow(s->r, 4);
    if (n == 0) {
        /* a zero-length write is legal and must stay a no-op */
        ssize_t w = do_call(call, s->sock, p, 0);
        if (w != 0 && !(w < 0 && (errno == EINTR || errno == EAGAIN)))
            die("zero-length %s returned %zd", call_names[call], w);
        return;
    }
    while (k < n) {
        ssize_t w = do_call(call, s->sock, p + k, n - k);
        s->calls++;
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                s->eagains++;
                if (c->tail_pct && rpct(s->rtail, c->tail_pct)) {
                    mutate(s->rtail, p + k, n - k);
                    s->tail_mutations++;
                }
                wait_writable(s->sock);
                continue;
            }
            die("%s of %zu bytes failed", call_names[call], n - k);
        }
        if (w == 0 || (size_t)w > n - k) {
            errno = 0;
            die("%s of %zu bytes returned %zd", call_names[call], n - k, w);
        }
        /* the buffer cannot have changed during the call: record what it held */
        bytes_append(s->expected, p + k, (size_t)w);
        k += (size_t)w;
        if (k < n) {
            s->partials++;
            if (c->tail_pct && rpct(s->rtail, c->tail_pct)) {
                mutate(s->rtail, p + k, n - k);
                s->tail_mutations++;
            }
        }
    }
}

static void maybe_mutate_file(sender_t *s, off_t off, size_t n)
{
    if (!s->cfg->filemut_pct || n == 0 || !rpct(s->r, s->cfg->filemut_pct))
        return;
    unsigned char b = (unsigned char)rnext(s->r);
    off_t pos = off + (off_t)rbelow(s->r, n);
    if (pwrite(s->file_wfd, &b, 1, pos) != 1)
        die("pwrite into data file");
}

/* Write chunk p[0..n) (read from file offset off): all at once, or as 2-3
 * sub-ranges, possibly out of order or with one piece repeated. */
static void write_chunk(sender_t *s, unsigned char *p, size_t n, off_t off)
{
    const config_t *c = s->cfg;
    int filemut_after = c->filemut_pct && (g_filemut_when == 3 ? rpct(s->r, 50) : g_filemut_when == 2);
    if (!filemut_after)
        maybe_mutate_file(s, off, n);
    if (n >= 3 && rpct(s->r, c->split_pct)) {
        size_t cut[4];
        int pieces = (int)rrange(s->r, 2, 3);
        cut[0] = 0;
        cut[pieces] = n;
        cut[1] = (size_t)rrange(s->r, 1, n - 1);
        if (pieces == 3) {
            size_t a = (size_t)rrange(s->r, 1, n - 1);
            while (a == cut[1])
                a = (size_t)rrange(s->r, 1, n - 1);
            if (a < cut[1]) { cut[2] = cut[1]; cut[1] = a; } else cut[2] = a;
        }
        int order[4] = { 0, 1, 2, 3 };
        int norder = pieces;
        unsigned how = (unsigned)rbelow(s->r, 100);
        if (how < 15) { /* shuffle */
            for (int i = pieces - 1; i > 0; i--) {
                int j = (int)rbelow(s->r, (uint64_t)i + 1);
                int t = order[i]; order[i] = order[j]; order[j] = t;
            }
        } else if (how < 25) { /* repeat one piece */
            order[norder++] = (int)rbelow(s->r, (uint64_t)pieces);
        }
        vlog("    split n=%zu pieces=%d order=%d,%d,%d%s\n", n, pieces, order[0], order[1],
             pieces > 2 ? order[2] : -1, norder > pieces ? " +repeat" : "");
        for (int i = 0; i < norder; i++) {
            int q = order[i];
            send_all(s, p + cut[q], cut[q + 1] - cut[q]);
        }
    } else {
        send_all(s, p, n);
    }
    if (filemut_after)
        maybe_mutate_file(s, off, n);
}

/* Read up to len bytes at the current position (read) or at off (pread).
 * Returns the byte count (never an error). */
static size_t get_chunk(const config_t *c, int fd, unsigned char *p, size_t len, off_t off)
{
    for (;;) {
        ssize_t n = (c->rdmode == RD_READ) ? read(fd, p, len) : pread(fd, p, len, off);
        if (n >= 0)
            return (size_t)n;
        if (errno != EINTR)
            die("%s", rd_names[c->rdmode]);
    }
}

/* Prepare the chunk in place: maybe mutate, maybe move the file offset away. */
static void after_read(sender_t *s, int fd, unsigned char *base, size_t alloc, unsigned char *p, size_t n)
{
    const config_t *c = s->cfg;
    if (n && rpct(s->r, c->mut_pct)) {
        /* mostly inside the chunk, sometimes anywhere in the allocation */
        if (rpct(s->r, 80))
            mutate(s->r, p, n);
        else
            mutate(s->r, base, alloc);
    }
    if (c->rdmode == RD_READ && rpct(s->r, c->seek_pct)) {
        off_t size = (off_t)c->size;
        off_t away = (off_t)rbelow(s->r, (uint64_t)size + 1);
        if (lseek(fd, away, SEEK_SET) != away)
            die("lseek away");
    }
}

/* ------------------------------------------------------------------ case -- */

static size_t special_sizes[] = { 0, 1, 4095, 4096, 4097, 65535, 65536, 65537 };

static void pick_config(rng_t *r, config_t *c, int mutate_file)
{
    memset(c, 0, sizeof *c);
    unsigned s = (unsigned)rbelow(r, 100);
    if (s < 25)
        c->size = special_sizes[rbelow(r, sizeof special_sizes / sizeof special_sizes[0])];
    else if (s < 65)
        c->size = (size_t)rbelow(r, 8192);
    else if (s < 90)
        c->size = (size_t)rbelow(r, 131072);
    else
        c->size = (size_t)rbelow(r, 1100000);

    unsigned b = (unsigned)rbelow(r, 100);
    if (b < 20)
        c->bufsize = 4096 * (size_t)rrange(r, 1, 64);
    else if (b < 30) {
        static const size_t sp[] = { 1, 4096, 8192, 65536, 131072, 262144 };
        c->bufsize = sp[rbelow(r, sizeof sp / sizeof sp[0])];
    } else if (b < 65)
        c->bufsize = (size_t)rrange(r, 1, 16384);
    else
        c->bufsize = (size_t)rrange(r, 1, 262144);
    /* keep the syscall count bounded: at most ~2048 chunks per case */
    if (c->size / c->bufsize > 2048)
        c->bufsize = c->size / 2048 + 1;
    c->bufoff = rpct(r, 20) ? (size_t)rrange(r, 1, 4095) : 0;

    c->rdmode = (int)rbelow(r, 3);
    c->call = (int)rbelow(r, 5);
    c->bufmode = (int)rbelow(r, 4);
    c->nonblock = rpct(r, 30);
    c->tiny_sndbuf = rpct(r, 30);
    c->slow_reader = rpct(r, 15);
    static const unsigned mp[] = { 0, 0, 10, 50 };
    c->mut_pct = mp[rbelow(r, 4)];
    c->split_pct = rpct(r, 40) ? (unsigned)rrange(r, 10, 60) : 0;
    c->seek_pct = rpct(r, 20) ? (unsigned)rrange(r, 10, 50) : 0;
    c->tail_pct = rpct(r, 10) ? (unsigned)rrange(r, 30, 100) : 0;
    c->timing = c->tail_pct != 0;
    if (c->timing && rpct(r, 70)) {
        /* tail mutation needs partial writes: make them likely */
        c->nonblock = 1;
        c->tiny_sndbuf = 1;
    }
    if (mutate_file)
        c->filemut_pct = rpct(r, 50) ? (unsigned)rrange(r, 20, 100) : 0;
}

static int g_lfd;
static struct sockaddr_in g_laddr;
static char g_path[4096];

static void write_file(rng_t *r, size_t size)
{
    int fd = open(g_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        die("create %s", g_path);
    static uint64_t blk[8192];
    size_t left = size;
    while (left) {
        size_t n = left < sizeof blk ? left : sizeof blk;
        for (size_t i = 0; i < (n + 7) / 8; i++)
            blk[i] = rnext(r);
        if (write(fd, blk, n) != (ssize_t)n)
            die("write %s", g_path);
        left -= n;
    }
    if (close(fd) != 0)
        die("close %s", g_path);
}

static void connect_pair(const config_t *c, int *snd, int *rcv)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0)
        die("socket");
    if (c->tiny_sndbuf) {
        int v = 4096;
        if (setsockopt(s, SOL_SOCKET, SO_SNDBUF, &v, sizeof v) != 0)
            die("SO_SNDBUF");
    }
    if (connect(s, (struct sockaddr *)&g_laddr, sizeof g_laddr) != 0)
        die("connect");
    int a;
    do {
        a = accept(g_lfd, NULL, NULL);
    } while (a < 0 && errno == EINTR);
    if (a < 0)
        die("accept");
    if (c->nonblock) {
        int fl = fcntl(s, F_GETFL);
        if (fl < 0 || fcntl(s, F_SETFL, fl | O_NONBLOCK) != 0)
            die("O_NONBLOCK");
    }
    *snd = s;
    *rcv = a;
}

/* Runs one case; returns 1 on failure. */
static int run_case(uint64_t seed, uint64_t idx, int mutate_file)
{
    rng_t r = rng_for(seed, idx, 1);
    rng_t rfile = rng_for(seed, idx, 2);
    rng_t rtail = rng_for(seed, idx, 3);
    config_t c;
    pick_config(&r, &c, mutate_file);
    vlog("case %" PRIu64 ": size=%zu buf=%zu off=%zu rd=%s call=%s bufs=%s nonblock=%d tiny=%d slow=%d "
         "mut=%u split=%u seek=%u tail=%u filemut=%u\n",
         idx, c.size, c.bufsize, c.bufoff, rd_names[c.rdmode], call_names[c.call],
         bufmode_names[c.bufmode], c.nonblock, c.tiny_sndbuf, c.slow_reader, c.mut_pct,
         c.split_pct, c.seek_pct, c.tail_pct, c.filemut_pct);

    write_file(&rfile, c.size);
    int fd = open(g_path, O_RDONLY);
    if (fd < 0)
        die("open %s", g_path);
    int wfd = -1;
    if (c.filemut_pct) {
        wfd = open(g_path, O_WRONLY);
        if (wfd < 0)
            die("open %s for writing", g_path);
    }

    int snd, rcv;
    connect_pair(&c, &snd, &rcv);
    receiver_t rv = { .fd = rcv, .slow = c.slow_reader, .rseed = rnext(&r) };
    pthread_t th;
    if (pthread_create(&th, NULL, receiver_main, &rv) != 0)
        die("pthread_create");

    bytes_t expected = { 0 };
    sender_t s = { .sock = snd, .file_wfd = wfd, .cfg = &c, .r = &r, .rtail = &rtail,
                   .expected = &expected };

    size_t alloc = c.bufsize + c.bufoff;
    unsigned char *base[2], *buf[2];
    for (int i = 0; i < 2; i++) {
        base[i] = malloc(alloc);
        if (!base[i])
            die("malloc %zu", alloc);
        memset(base[i], 0xA5, alloc);
        buf[i] = base[i] + c.bufoff;
    }
    unsigned char *copybuf = malloc(c.bufsize);
    if (!copybuf)
        die("malloc");

    /* chunk offsets for pread-reverse */
    size_t nchunks = c.size / c.bufsize + 1;
    off_t off = 0;      /* logical offset of the next sequential read */
    size_t rev_i = nchunks; /* for pread-reverse: next chunk index + 1 */
    int which = 0;
    for (;;) {
        off_t at;
        if (c.rdmode == RD_PREAD_REVERSE) {
            if (rev_i == 0)
                break;
            rev_i--;
            at = (off_t)(rev_i * c.bufsize);
        } else {
            at = off;
        }
        if (c.rdmode == RD_READ && lseek(fd, 0, SEEK_CUR) != at) {
            if (lseek(fd, at, SEEK_SET) != at) /* undo a previous "seek away" */
                die("lseek back");
        }
        unsigned char *p = buf[which];
        unsigned char *pb = base[which];
        size_t n = get_chunk(&c, fd, p, c.bufsize, at);
        if (n == 0 && c.rdmode != RD_PREAD_REVERSE)
            break;
        after_read(&s, fd, pb, alloc, p, n);
        off = at + (off_t)n;

        switch (c.bufmode) {
        case BUF_ONE:
            write_chunk(&s, p, n, at);
            break;
        case BUF_ALTERNATE:
            write_chunk(&s, p, n, at);
            which ^= 1;
            break;
        case BUF_COPY:
            memcpy(copybuf, p, n);
            if (rpct(&r, 50))
                write_chunk(&s, copybuf, n, at);
            else
                write_chunk(&s, p, n, at);
            break;
        case BUF_READAHEAD: {
            /* read the following chunk into the other buffer before writing this one */
            unsigned char *q = buf[which ^ 1];
            size_t m = 0;
            off_t at2 = off;
            if (c.rdmode == RD_PREAD_REVERSE) {
                if (rev_i > 0) {
                    rev_i--;
                    at2 = (off_t)(rev_i * c.bufsize);
                    m = get_chunk(&c, fd, q, c.bufsize, at2);
                    after_read(&s, fd, base[which ^ 1], alloc, q, m);
                }
            } else {
                if (c.rdmode == RD_READ && lseek(fd, 0, SEEK_CUR) != at2 &&
                    lseek(fd, at2, SEEK_SET) != at2)
                    die("lseek back");
                m = get_chunk(&c, fd, q, c.bufsize, at2);
                after_read(&s, fd, base[which ^ 1], alloc, q, m);
                off = at2 + (off_t)m;
            }
            write_chunk(&s, p, n, at);
            if (m)
                write_chunk(&s, q, m, at2);
            else if (c.rdmode != RD_PREAD_REVERSE)
                goto done;
            break;
        }
        }
    }
done:
    if (shutdown(snd, SHUT_WR) != 0)
        die("shutdown");
    if (pthread_join(th, NULL) != 0)
        die("pthread_join");
    close(snd);
    close(rcv);
    close(fd);
    if (wfd >= 0)
        close(wfd);

    int fail = 0;
    if (rv.err) {
        printf("FAIL case %" PRIu64 ": receiver read error: %s\n", idx, strerror(rv.err));
        fail = 1;
    } else if (rv.got.len != expected.len || (expected.len && memcmp(rv.got.p, expected.p, expected.len))) {
        size_t lim = rv.got.len < expected.len ? rv.got.len : expected.len, o = 0;
        while (o < lim && rv.got.p[o] == expected.p[o])
            o++;
        printf("FAIL case %" PRIu64 ": received %zu bytes, expected %zu, first difference at offset %zu",
               idx, rv.got.len, expected.len, o);
        if (o < lim)
            printf(" (got 0x%02x, expected 0x%02x)", rv.got.p[o], expected.p[o]);
        printf(" [size=%zu buf=%zu off=%zu rd=%s call=%s bufs=%s nonblock=%d tiny=%d slow=%d mut=%u split=%u seek=%u tail=%u filemut=%u]\n",
               c.size, c.bufsize, c.bufoff, rd_names[c.rdmode], call_names[c.call],
               bufmode_names[c.bufmode], c.nonblock, c.tiny_sndbuf, c.slow_reader, c.mut_pct,
               c.split_pct, c.seek_pct, c.tail_pct, c.filemut_pct);
        fail = 1;
    }
    if (c.timing)
        printf("case %" PRIu64 " size=%zu buf=%zu digest=timing\n", idx, c.size, c.bufsize);
    else
        printf("case %" PRIu64 " size=%zu buf=%zu digest=%016" PRIx64 "\n", idx, c.size, c.bufsize,
               fnv1a(rv.got.p, rv.got.len));
    vlog("    sent=%zu calls=%lu partials=%lu eagain=%lu tailmut=%lu\n", expected.len, s.calls,
         s.partials, s.eagains, s.tail_mutations);

    free(rv.got.p);
    free(expected.p);
    free(base[0]);
    free(base[1]);
    free(copybuf);
    return fail;
}

int main(int argc, char **argv)
{
    uint64_t seed = 1, cases = 100, first = 0;
    int mutate_file = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            seed = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--cases") && i + 1 < argc)
            cases = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--first") && i + 1 < argc)
            first = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--verbose"))
            g_verbose = 1;
        else if (!strcmp(argv[i], "--mutate-file"))
            mutate_file = 1;
        else if (!strcmp(argv[i], "--mutate-file=before"))
            mutate_file = 1, g_filemut_when = 1;
        else if (!strcmp(argv[i], "--mutate-file=after"))
            mutate_file = 1, g_filemut_when = 2;
        else {
            fprintf(stderr, "usage: difftest --seed S --cases N [--first I] [--verbose] [--mutate-file[=before|after]]\n");
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);

    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp)
        tmp = "/tmp";
    snprintf(g_path, sizeof g_path, "%s/difftest.%d.dat", tmp, (int)getpid());

    g_lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (g_lfd < 0)
        die("socket");
    g_laddr.sin_family = AF_INET;
    g_laddr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    g_laddr.sin_port = 0;
    if (bind(g_lfd, (struct sockaddr *)&g_laddr, sizeof g_laddr) != 0)
        die("bind");
    if (listen(g_lfd, 8) != 0)
        die("listen");
    socklen_t sl = sizeof g_laddr;
    if (getsockname(g_lfd, (struct sockaddr *)&g_laddr, &sl) != 0)
        die("getsockname");

    uint64_t failures = 0;
    for (uint64_t i = first; i < first + cases; i++) {
        failures += (uint64_t)run_case(seed, i, mutate_file);
        if (g_verbose)
            fflush(stdout);
    }
    unlink(g_path);
    close(g_lfd);
    printf("difftest: %" PRIu64 " cases, %" PRIu64 " failures\n", cases, failures);
    return failures ? 1 : 0;
}
