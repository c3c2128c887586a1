/*
 * difftest: randomized, self-checking differential test for autosendfile.
 *
 *   difftest --seed S --cases N [--verbose] [--first I] [--only KIND]
 *            [--skip-kind KIND]... [--mutate-file[=before|after]]
 *            [--no-mmap-alias-stores] [--no-adv ADVERSITY]... [--nofile M]
 *
 * Every case (fully determined by seed and case index) writes a random file,
 * opens a loopback TCP connection and copies the file to the socket with one of
 * several nasty copy loops (a "kind", picked per case):
 *
 *   write   read()/pread() -> write()/send()/sendto(): odd buffer sizes,
 *           unaligned buffers, two buffers, sub-range and out-of-order writes,
 *           repeated writes, in-place mutation of the buffer before writing,
 *           lseek() of the file between read and write, non-blocking sockets
 *           with a tiny SO_SNDBUF, and (in some cases) mutation of the unsent
 *           tail between partial-write retries.
 *   vec     read()/pread() into 1-4 buffers -> writev()/sendmsg() (flags 0 or
 *           MSG_NOSIGNAL) of mixed iovecs: [header, file buf, trailer],
 *           [file part A, program bytes, file part B], several file buffers,
 *           sub-ranges, headers in the same allocation right before the file
 *           bytes, iovecs reaching past the bytes read, zero-length iovecs.
 *           Partial results are retried with advanced iovecs, either advanced in
 *           place (libuv) or rebuilt from the unsent rest with adjacent memory
 *           merged into one iovec (nginx), with POLLOUT waits.
 *   readv   readv()/preadv()/preadv2(flags 0, offset or -1) into 2-4 buffers
 *           (separate, back to back, or each overlapping the one before), then
 *           the buffers written one by one in any order, as iovecs, or (back to
 *           back) as one write spanning them.
 *   thread  a helper thread reads (read/pread/preadv) and hands the buffer to
 *           the main thread (node's pattern) through a pipe or a condition
 *           variable; or two helpers take turns on the same buffers; or a helper
 *           reads a batch and exits before the main thread writes (and the main
 *           thread sometimes reads a chunk itself into a pool buffer).
 *   stdio   fread()/fread_unlocked()/__fread_chk() from a FILE (setvbuf: default,
 *           _IOFBF small/large, _IONBF; fread sizes below and above the stream
 *           buffer) -> fwrite()/fwrite_unlocked()/fputs() to a FILE from
 *           fdopen(sock) (or of a dup), mixed with plain write()/send() on the
 *           socket after an fflush(); fgetc()+ungetc() of the same or a changed
 *           byte between freads; fseek(); blocking sockets only.
 *   signal  read()/pread() -> write()/send()/sendto() (whole or 2-3 pieces) while a
 *           SIGALRM handler (setitimer: first expiry 1-300 us, then every 20-500 us;
 *           SA_RESTART or not) overwrites bytes of the buffer, dup2()s another file
 *           onto the source fd number (and later the source back), or writes a
 *           marker record on the socket. SIGALRM is blocked except in windows: between
 *           read and write (the loop spins until the armed actions ran, so the
 *           outcome is fixed), during a write call (dup2 or a touch of a later piece:
 *           fixed outcome; a touch of the piece being written or a marker: timing),
 *           during the read (timing). Cases with timing actions print digest=timing;
 *           their check accepts, per write call, its bytes as of one instant (before
 *           or after any prefix of the touches logged during it) and each marker only
 *           at a boundary between two of the loop's own calls, around the moment the
 *           handler ran (every call records where its returned bytes lie).
 *   fault   (in a forked child) chunks read into an anonymous or a MAP_SHARED file
 *           mapping, then made unreadable before the write: mprotect(PROT_NONE) of
 *           all, the first or the last pages, munmap() of all or the last pages, or
 *           ftruncate() of the mapped file under the last pages; written alone or as
 *           [header, chunk, trailer] by writev/sendmsg. The call must give -1 EFAULT or
 *           a count in 1..R (R: readable bytes before the first unreadable one);
 *           then the pages come back (unmapped ones with other bytes, truncated ones
 *           as zeros) and the rest is sent. Also reads into a read-only page (-1
 *           EFAULT). The case line adds child=exitN|sigN|hung, so a crash under the
 *           library makes the lines differ; the digest is "timing" (where a faulting
 *           call stops varies from run to run, plain runs too), the bytes are checked.
 *   copy    the chunk memcpy()d to another buffer and that written: whole, in pieces
 *           (a later piece of the copy changed between them), two reads joined into
 *           one write, behind a header in the same buffer, with bytes changed, as
 *           writev/sendmsg iovecs next to original or program bytes, a sub-range at
 *           another alignment, memmove()d within the read buffer, or framed: pieces
 *           from anywhere inside the chunk on, each copied behind a header into one
 *           protocol buffer and written (one call or [header, piece]), the next piece
 *           continuing the last (a stream), a frame's bytes sometimes changed.
 *   mmap    the file mapped in windows (16-1024 pages; MAP_SHARED or MAP_PRIVATE,
 *           read-only, or writable and stored into) and written from the mapping in
 *           pieces by write/send/sendto or writev/sendmsg behind a header, partial
 *           counts continued, then munmap()ed. Events before the write: another file
 *           mapped over the window with MAP_FIXED (wrapped mmap, or raw syscalls behind
 *           the library's back, or the same file at another offset), mremap() away (the
 *           old address reused), mprotect(PROT_WRITE) and a store, the window copied
 *           into a heap buffer written whole (PHP), and (cases with trunc=1, run in a
 *           forked child like fault: child=... in the line, digest "timing") the file
 *           truncated under the window: -1 EFAULT or 1..R, then extended back (zeros)
 *           and the rest sent. Writable windows are stored into again after a piece's
 *           write returned: the wire must carry the bytes at the write. Stores into a
 *           writable shared window the library cannot know as one (a raw mprotect, or a
 *           read-only "shadow" mapping of the same bytes beside it: a content match)
 *           too, unless --no-mmap-alias-stores.
 *
 * On top of its kind, a case may meet adversities (any kind; picked per case from stream 8,
 * so the rest of the case is the same with or without them, and digests do not change; each
 * is named in the case line when the case has it):
 *
 *   close_range=P%  before P% of the copy loop's write calls (write/send/sendto,
 *           writev/sendmsg, fwrite), syscall(SYS_close_range, maxfd+1, ~0U, 0) behind the
 *           library's back, maxfd the highest descriptor the program holds (difftest keeps
 *           the set: 0-2, the listener, every descriptor of the case from its open to its
 *           close). Nothing of the program's is closed, so the outcome is fixed; a
 *           descriptor the library kept for itself above the program's would be, and the
 *           case fails: /proc/self/fd is listed around each call, and a descriptor above
 *           maxfd that the call closed was not the program's (difftest closes what it
 *           inherited at start; what the call cannot close, valgrind's own, does not
 *           count). After half of the calls (up to 8 a case) the program takes the first
 *           number freed again: fcntl(F_DUPFD, maxfd+1) of one of three other files, held
 *           until the case ends, so a library that kept a descriptor there would find
 *           another file behind it. 15% of the cases, P in 5..50; in fault children too.
 *   rawsig  (signal kind) the SIGALRM handler is installed by the raw rt_sigaction system
 *           call instead of sigaction(), as one put in place before the library's
 *           constructor: a handler the library never saw. x86-64: SA_RESTORER with glibc's
 *           restorer, learned at start from a sigaction() readback of SIGPIPE; the
 *           installation is read back with sigaction(). The kind's checking rules are
 *           unchanged. Half of the signal cases.
 *   blocked=thread|main|child  the copy loop runs where every signal is blocked
 *           (pthread_sigmask SIG_BLOCK of sigfillset, checked in the kernel's mask): in a
 *           thread of its own, in the main thread, or (fault and mmap trunc=1 cases) in the
 *           forked child, which blocks them right after fork. The library's fault guard
 *           cannot run there: it must read the program's buffers through the kernel
 *           (process_vm_readv). The fault kind's rules hold as they are (-1 EFAULT or 1..R,
 *           and the child must end with exit0). Threads the loop starts inherit the mask; the
 *           signal kind's windows unblock SIGALRM alone (its handler runs in the loop's
 *           thread). 15% of the cases, 35% of the fault and mmap trunc=1 cases.
 *   fds=N/file|other|mixed  once the case's file is written, before the case opens its own
 *           descriptors, N extra ones: of the case's file, of three other files, or a mix of
 *           those, dup()s of them and /dev/null; held during the case (its own descriptors
 *           are numbered above them), closed after. N is picked in 100..900 (8% of the
 *           cases) and capped to leave 48 free below the soft RLIMIT_NOFILE, which difftest
 *           never raises (--nofile M lowers it for the run): cases work at whatever limit
 *           the test gets. After every case RLIMIT_NOFILE must be what it was (the library
 *           raises nothing).
 *
 * --no-adv NAME (repeatable; close_range, rawsig, blocked, fds or all) leaves an adversity
 * out (the draws are made all the same). Before its last line the run prints what the
 * adversities did, "difftest: adversities close_range_cases=N close_range_calls=N
 * close_range_reuse=N rawsig_cases=N rawsig_ran=N blocked_cases=N blocked_thread=N
 * blocked_main=N blocked_child=N blocked_faults=N fds_cases=N fds_held=N fds_top=N nofile=N"
 * (blocked_faults: writes from unreadable buffers in blocked children; fds_top: the
 * highest descriptor a case with extra descriptors held); test_difftest.sh asserts they
 * happened.
 *
 * The sender records the exact bytes every successful write call accepted
 * ("expected": what the buffer / the iovecs held at the call, for the count
 * returned); a receiver thread stores everything it gets.  Any difference is
 * a failure.  One line per case on stdout:
 *     case I size=S buf=B kind=K [ADVERSITIES] digest=HEX
 * where HEX is 64-bit FNV-1a of the received stream, or "timing" for cases
 * whose content legitimately depends on timing (tail mutation between
 * retries, or signal cases with timing actions); fault cases add the child's
 * outcome.  These lines must be identical with and without the library.
 * The kind of a case comes from its own random streams, and everything else of
 * the case does not depend on how the kind was chosen, so case I of a mixed run
 * is the same as case I with --only KIND when its kind is KIND. Stream 4 picks
 * among write/vec/readv/thread/stdio as it always did; stream 6 then turns about
 * 30% of the cases into signal, fault, copy or mmap cases (PCT_*), so every case
 * that keeps its original kind is the same case (config, file, digest) it was before
 * those kinds existed; only the converted cases' lines changed.
 *
 * --only KIND: every case is of that kind (write, vec, readv, thread, stdio,
 * signal, fault, copy, mmap).  --skip-kind KIND (repeatable): cases of that kind are
 * not run (their line says "skipped"); valgrind.sh skips fault, whose unreadable
 * buffers memcheck reports by design.
 *
 * --nofile M: the soft RLIMIT_NOFILE of the run (only lower than the one difftest gets).
 *
 * --mutate-file[=before|after] (off by default, outside the library's stated
 * contract; write kind only): also pwrite() a random byte into the region of
 * the file just read, before or after (default: randomly either) the write
 * call that sends the buffer.  "after" probes the inherent sendfile hazard:
 * the socket may still reference page-cache pages when the file changes.
 *
 * Ends with "difftest: N cases, M failures"; exit status 1 if M > 0.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

/* ---------------------------------------------------------------- utils -- */

static int g_verbose;
static int g_filemut_when = 3; /* --mutate-file: 1 before the write call, 2 after, 3 either */

static void die(const char *fmt, ...)
{
    va_list ap;
    int e = errno;
    fflush(stdout);
    va_start(ap, fmt);
    vdie(e, "difftest: fatal: ", 2, fmt, ap);
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

/* ----------------------------------------------------------- descriptors -- */

/* Every descriptor difftest holds: 0-2, the listener, and each one a case opens, from its
 * open to its close (fd_hold / fd_close). The close_range adversity closes the numbers above
 * the highest of them behind the library's back: nothing of the program's, so the outcome is
 * fixed, but any descriptor the library kept for itself up there. Threads other than the copy
 * loop's open nothing while it runs; the bits are atomic anyway. */
#define FD_BITS 65536
static uint64_t g_held[FD_BITS / 64];
static int g_held_words; /* words in use: 1 + the highest word index ever set */

static int fd_hold(int fd)
{
    if (fd < 0)
        return fd;
    if (fd >= FD_BITS)
        die("descriptor %d beyond difftest's table of %d", fd, FD_BITS);
    __atomic_fetch_or(&g_held[fd / 64], 1ull << (fd % 64), __ATOMIC_RELAXED);
    int w = fd / 64 + 1, cur = __atomic_load_n(&g_held_words, __ATOMIC_RELAXED);
    while (w > cur && !__atomic_compare_exchange_n(&g_held_words, &cur, w, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        ;
    return fd;
}

static void fd_unhold(int fd)
{
    if (fd >= 0 && fd < FD_BITS)
        __atomic_fetch_and(&g_held[fd / 64], ~(1ull << (fd % 64)), __ATOMIC_RELAXED);
}

static int fd_close(int fd)
{
    fd_unhold(fd);
    return close(fd);
}

/* The highest descriptor difftest holds (2 at least: stdio's). */
static int fd_top(void)
{
    for (int w = __atomic_load_n(&g_held_words, __ATOMIC_RELAXED) - 1; w >= 0; w--) {
        uint64_t b = __atomic_load_n(&g_held[w], __ATOMIC_RELAXED);
        if (b)
            return w * 64 + 63 - __builtin_clzll(b);
    }
    return 2;
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
enum { KIND_WRITE, KIND_VEC, KIND_READV, KIND_THREAD, KIND_STDIO, KIND_SIGNAL, KIND_FAULT, KIND_COPY, KIND_MMAP, KIND_N };
static const char *kind_names[] = { "write", "vec", "readv", "thread", "stdio", "signal", "fault", "copy", "mmap" };
enum { VC_WRITEV, VC_SENDMSG, VC_SENDMSG_NOSIGNAL, VC_MIXED };
static const char *vc_names[] = { "writev", "sendmsg", "sendmsg-nosignal", "mixed" };
enum { RETRY_ADVANCE, RETRY_REBUILD };
static const char *retry_names[] = { "advance", "rebuild" };
enum { RV_READV, RV_PREADV, RV_PREADV2, RV_PREADV2_CUR, RV_MIXED };
static const char *rv_names[] = { "readv", "preadv", "preadv2", "preadv2-cur", "mixed" };
enum { HO_PIPE, HO_COND, HO_JOIN, HO_TWO };
static const char *ho_names[] = { "pipe", "cond", "join", "two" };
enum { VB_DEFAULT, VB_FULL_SMALL, VB_FULL_LARGE, VB_NONE, VB_LINE };
static const char *vb_names[] = { "default", "full-small", "full-large", "none", "line" };
enum { FR_FREAD, FR_UNLOCKED, FR_CHK, FR_UNLOCKED_CHK, FR_MIXED };
static const char *fr_names[] = { "fread", "fread_unlocked", "__fread_chk", "__fread_unlocked_chk", "mixed" };
enum { TR_READ, TR_PREAD, TR_PREADV, TR_MIXED };
static const char *tr_names[] = { "read", "pread", "preadv", "mixed" };
enum { BL_NONE, BL_THREAD, BL_MAIN, BL_CHILD };
static const char *bl_names[] = { "none", "thread", "main", "child" };
enum { FO_FILE, FO_OTHER, FO_MIXED };
static const char *fo_names[] = { "file", "other", "mixed" };

typedef struct {
    size_t size, bufsize, bufoff;
    int rdmode, call, bufmode;
    int nonblock, tiny_sndbuf, slow_reader;
    unsigned mut_pct, split_pct, seek_pct, tail_pct, filemut_pct;
    int timing; /* tail mutation enabled -> digest is timing dependent */
    /* kinds other than write (see pick_extra) */
    int kind;
    int vcall;         /* VC_*: writev / sendmsg flavour */
    int retry;         /* RETRY_*: how partial vectored writes are continued */
    unsigned zero_pct; /* zero-length iovecs */
    int nbufs;         /* vec: file buffers (1-4); readv: iovecs per read (2-4); thread: pool */
    int rvmode;        /* RV_*: readv flavour (readv kind, thread helper) */
    int contig;        /* readv: buffers back to back in one allocation */
    int handover;      /* HO_*: thread kind */
    int in_vmode, out_vmode; /* VB_*: setvbuf of the file FILE / socket FILE */
    size_t in_vsize, out_vsize;
    int in_vown, out_vown; /* setvbuf with our own buffer (else NULL: stdio allocates) */
    int dupsock;       /* stdio: fdopen(dup(sock)) rather than fdopen(sock) */
    int frd;           /* FR_*: fread flavour */
    int trd;           /* TR_*: how the thread kind's helper reads */
    /* signal kind */
    int sig_timing;    /* also actions whose outcome depends on timing (digest "timing") */
    int sig_restart;   /* SA_RESTART on the SIGALRM handler */
    unsigned sig_pct;  /* chance of a handler window at each point of the loop */
    long sig_first_max, sig_interval; /* setitimer: first expiry 1..max us, then every interval us */
    /* fault kind */
    unsigned fault_pct; /* chunks whose buffer is made unreadable before the write */
    /* mmap kind */
    int mm_trunc;       /* also truncation under a mapping (run in a child, digest "timing") */
    unsigned mm_ev_pct; /* windows with an event (remap, mremap, mprotect, copy, truncate) */
    size_t mm_window;   /* mapping window (page multiple) */
    /* adversities, any kind (stream 8: see pick_adv) */
    unsigned cr_pct;    /* raw close_range above the program's descriptors before this share of writes */
    int rawsig;         /* signal kind: the SIGALRM handler installed by the raw rt_sigaction */
    int blocked;        /* BL_*: the copy loop runs with every signal blocked */
    int nfds;           /* extra descriptors asked for (0: none; fewer where RLIMIT_NOFILE is low) */
    int fds_of;         /* FO_*: of the case's file, of other files, or a mix */
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

static void adv_before_write(void);

static ssize_t do_call(int call, int fd, const void *p, size_t n)
{
    adv_before_write();
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

static void write_file_at(const char *path, rng_t *r, size_t size)
{
    int fd = fd_hold(open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600));
    if (fd < 0)
        die("create %s", path);
    static uint64_t blk[8192];
    size_t left = size;
    while (left) {
        size_t n = left < sizeof blk ? left : sizeof blk;
        for (size_t i = 0; i < (n + 7) / 8; i++)
            blk[i] = rnext(r);
        if (write(fd, blk, n) != (ssize_t)n)
            die("write %s", path);
        left -= n;
    }
    if (fd_close(fd) != 0)
        die("close %s", path);
}

static void write_file(rng_t *r, size_t size) { write_file_at(g_path, r, size); }

static void connect_pair(const config_t *c, int *snd, int *rcv)
{
    int s = fd_hold(socket(AF_INET, SOCK_STREAM, 0));
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
    fd_hold(a);
    if (c->nonblock) {
        int fl = fcntl(s, F_GETFL);
        if (fl < 0 || fcntl(s, F_SETFL, fl | O_NONBLOCK) != 0)
            die("O_NONBLOCK");
    }
    *snd = s;
    *rcv = a;
}

/* ---------------------------------------------------------- other kinds -- */

static int g_only = -1; /* --only KIND */
static int g_mm_alias = 1; /* --no-mmap-alias-stores clears it (see mmap_body) */
static unsigned g_skip;  /* --skip-kind KIND (repeatable): bit per kind not run */

/* share of the cases (percent) turned into the later kinds (see pick_kind) */
#define PCT_SIGNAL 7
#define PCT_FAULT 7
#define PCT_COPY 8
#define PCT_MMAP 8

/* The kind of a case, from its own streams: the rest of the case does not depend on it.
 * Stream 4 picks among the original five kinds exactly as before; stream 6 then turns
 * some cases into one of the later kinds, so a case that keeps its original kind is the
 * same case it was before those kinds existed (same config, file and digest). */
static int pick_kind(uint64_t seed, uint64_t idx)
{
    if (g_only >= 0)
        return g_only;
    rng_t k = rng_for(seed, idx, 4);
    unsigned x = (unsigned)rbelow(&k, 100);
    int kind;
    if (x < 40)
        kind = KIND_WRITE;
    else if (x < 60)
        kind = KIND_VEC;
    else if (x < 73)
        kind = KIND_READV;
    else if (x < 86)
        kind = KIND_THREAD;
    else
        kind = KIND_STDIO;
    rng_t k2 = rng_for(seed, idx, 6);
    int y = (int)rbelow(&k2, 100);
    if (y < PCT_SIGNAL)
        return KIND_SIGNAL;
    if (y < PCT_SIGNAL + PCT_FAULT)
        return KIND_FAULT;
    if (y < PCT_SIGNAL + PCT_FAULT + PCT_COPY)
        return KIND_COPY;
    if (y < PCT_SIGNAL + PCT_FAULT + PCT_COPY + PCT_MMAP)
        return KIND_MMAP;
    return kind;
}

static void pick_extra(rng_t *r, config_t *c, int kind)
{
    c->kind = kind;
    if (kind == KIND_WRITE)
        return; /* exactly the original write-kind configuration */
    c->filemut_pct = 0; /* --mutate-file applies to the write kind only */
    c->vcall = (int)rbelow(r, 4);
    c->retry = (int)rbelow(r, 2);
    c->zero_pct = rpct(r, 30) ? (unsigned)rrange(r, 5, 30) : 0;
    switch (kind) {
    case KIND_VEC:
        c->nbufs = (int)rrange(r, 1, 4);
        c->rdmode = (int)rbelow(r, 2); /* read or pread */
        break;
    case KIND_READV:
        c->nbufs = (int)rrange(r, 2, 4);
        c->rvmode = (int)rbelow(r, 5);
        { /* 0: separate buffers, 1: back to back, 2: each overlapping the one before */
            unsigned x = (unsigned)rbelow(r, 100);
            c->contig = x < 35 ? 1 : x < 50 ? 2 : 0;
        }
        break;
    case KIND_THREAD:
        c->nbufs = (int)rrange(r, 2, 4);
        c->handover = (int)rbelow(r, 4);
        c->trd = (int)rbelow(r, 4);
        break;
    case KIND_SIGNAL:
        c->rdmode = (int)rbelow(r, 2); /* read or pread */
        c->sig_timing = rpct(r, 40);
        c->sig_restart = rpct(r, 50);
        c->sig_pct = (unsigned)rrange(r, 10, 60);
        c->sig_first_max = (long)rrange(r, 1, 300);
        c->sig_interval = (long)rrange(r, 20, 500);
        c->tail_pct = 0; /* the handler is the only thing changing bytes behind the loop */
        c->timing = c->sig_timing;
        /* long blocking calls give the handler more chances to land inside one */
        c->tiny_sndbuf = rpct(r, 50);
        c->slow_reader = rpct(r, 40);
        break;
    case KIND_FAULT:
        c->rdmode = (int)rbelow(r, 2);
        c->fault_pct = (unsigned)rrange(r, 10, 60);
        c->tail_pct = 0;
        /* where a faulting call stops depends on how TCP took the bytes before it, and
         * the rest of the case follows from it: the stream is checked, the digest is not
         * repeatable (seen: plain runs of one case differ) */
        c->timing = 1;
        break;
    case KIND_COPY:
        c->rdmode = (int)rbelow(r, 2);
        break;
    case KIND_MMAP:
        c->tail_pct = 0;
        c->mm_trunc = rpct(r, 25);
        c->mm_ev_pct = (unsigned)rrange(r, 10, 70);
        c->mm_window = 4096 * (size_t)(rpct(r, 50) ? rrange(r, 16, 64) : rrange(r, 16, 1024));
        /* a truncation's faulting call stops where TCP lets it (see KIND_FAULT) */
        c->timing = c->mm_trunc;
        break;
    case KIND_STDIO: {
        static const size_t none = 0;
        (void)none;
        c->in_vmode = (int)rbelow(r, 4);
        c->out_vmode = (int)rbelow(r, 5);
        c->in_vown = rpct(r, 50);
        c->out_vown = rpct(r, 50);
        c->dupsock = rpct(r, 30);
        c->frd = (int)rbelow(r, 5);
        c->nonblock = 0; /* stdio on a non-blocking socket is not meaningful */
        break;
    }
    }
    /* stream buffer sizes (0: stdio's choice) */
    if (kind == KIND_STDIO) {
        int *modes[2] = { &c->in_vmode, &c->out_vmode };
        size_t *sizes[2] = { &c->in_vsize, &c->out_vsize };
        for (int i = 0; i < 2; i++) {
            switch (*modes[i]) {
            case VB_FULL_SMALL: *sizes[i] = (size_t)rrange(r, 1, 4096); break;
            case VB_FULL_LARGE: *sizes[i] = (size_t)rrange(r, 16384, 262144); break;
            case VB_LINE: *sizes[i] = (size_t)rrange(r, 64, 8192); break;
            default: *sizes[i] = 0; break;
            }
        }
    }
}

/* ----------------------------------------------------------- adversities -- */

#define PCT_ADV_CLOSE_RANGE 15   /* cases with a raw close_range before some writes */
#define PCT_ADV_RAWSIG 50        /* signal cases whose handler the raw rt_sigaction installs */
#define PCT_ADV_BLOCKED 15       /* cases whose copy loop blocks every signal ... */
#define PCT_ADV_BLOCKED_CHILD 35 /* ... of those run in a child (fault, mmap with trunc=1) */
#define PCT_ADV_FDS 8            /* cases holding several hundred extra descriptors */
#define FDS_MAX 900
#define FDS_HEADROOM 48          /* descriptors left free below RLIMIT_NOFILE for the case itself */

#ifndef SYS_close_range
#define SYS_close_range 436
#endif

enum { ADV_CLOSE_RANGE = 1, ADV_RAWSIG = 2, ADV_BLOCKED = 4, ADV_FDS = 8 };
static const char *adv_names[] = { "close_range", "rawsig", "blocked", "fds" };
#define ADV_N (int)(sizeof adv_names / sizeof adv_names[0])
static unsigned g_adv_off; /* --no-adv NAME (repeatable): bit per adversity left out */

#if defined(__x86_64__)
/* The kernel's struct for rt_sigaction (x86-64), and glibc's restorer, learned at start from
 * a sigaction() readback of SIGPIPE (NULL: the signal kind uses sigaction() only). */
struct ksigaction {
    void (*handler)(int);
    unsigned long flags;
    void (*restorer)(void);
    uint64_t mask;
};
#ifndef SA_RESTORER
#define SA_RESTORER 0x04000000
#endif
static void (*g_restorer)(void);
#else
static void *g_restorer;
#endif

/* What the adversities did, over the run (the copy loop's thread, or a fault child's counts
 * handed back through run_child). */
static struct {
    unsigned long cr_cases, cr_calls;     /* cases with raw close_range calls, the calls */
    unsigned long cr_reuse;               /* numbers it freed that the program took again */
    unsigned long raw_cases, raw_ran;     /* handlers installed by the raw call, of which ran */
    unsigned long bl_cases, bl_by[4];     /* copy loops with every signal blocked, by BL_* */
    unsigned long bl_faults;              /* writes from unreadable buffers in those */
    unsigned long fds_cases, fds_held;    /* cases with extra descriptors, how many in all */
    int fds_top;                          /* the highest descriptor held in such a case */
} g_adv;

static unsigned g_cr_pct;        /* this case's close_range share (0: none) */
static rng_t g_cr_rng;           /* stream 9: which write calls get one */
static unsigned long g_cr_calls; /* calls made in this case (by this process) */
static unsigned long g_cr_reuse; /* numbers they freed taken again in this case (this process) */
static unsigned long g_cr_foreign; /* descriptors they closed that the program never opened */
static int g_cr_foreign_fd = -1, g_cr_foreign_from; /* the first of those, and the call's maxfd+1 */
static struct rlimit g_nofile;   /* RLIMIT_NOFILE at start: no case may change it */
static char g_pool[3][sizeof g_path + 16]; /* other files: extra descriptors, close_range reuse */
static int g_extra[FDS_MAX], g_nextra;
#define CR_REUSE_MAX 8
static int g_reuse[CR_REUSE_MAX], g_nreuse; /* numbers close_range freed, taken again (see below) */

/* The adversities of a case, from stream 8: drawn the same whatever the kind (so a case is the
 * same with --only), and nothing else of the case depends on them (every case is the case it
 * was before they existed, with these added). */
static void pick_adv(uint64_t seed, uint64_t idx, config_t *c)
{
    rng_t a = rng_for(seed, idx, 8);
    unsigned cr = rpct(&a, PCT_ADV_CLOSE_RANGE) ? (unsigned)rrange(&a, 5, 50) : 0;
    int raw = rpct(&a, PCT_ADV_RAWSIG);
    int child = c->kind == KIND_FAULT || (c->kind == KIND_MMAP && c->mm_trunc);
    int bl = rpct(&a, child ? PCT_ADV_BLOCKED_CHILD : PCT_ADV_BLOCKED);
    int blmain = rpct(&a, 50);
    int nf = rpct(&a, PCT_ADV_FDS) ? (int)rrange(&a, 100, FDS_MAX) : 0;
    int fo = (int)rbelow(&a, 3);
    c->cr_pct = g_adv_off & ADV_CLOSE_RANGE ? 0 : cr;
    c->rawsig = !(g_adv_off & ADV_RAWSIG) && raw && c->kind == KIND_SIGNAL && g_restorer;
    c->blocked = (g_adv_off & ADV_BLOCKED) || !bl ? BL_NONE : child ? BL_CHILD : blmain ? BL_MAIN : BL_THREAD;
    c->nfds = g_adv_off & ADV_FDS ? 0 : nf;
    c->fds_of = fo;
}

#define FOREIGN_MAX 64

/* The descriptors open at or above from (up to max of them, into fds), as /proc/self/fd lists
 * them, the listing's own left out; -1 without /proc. */
static int open_above(int from, int *fds, int max)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0, dfd = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d)) && n < max) {
        int fd = e->d_name[0] >= '0' && e->d_name[0] <= '9' ? atoi(e->d_name) : -1;
        if (fd >= from && fd != dfd)
            fds[n++] = fd;
    }
    closedir(d);
    return n;
}

/* Before a write call of the copy loop (write/send/sendto, writev/sendmsg, fwrite): with the
 * case's share, close every descriptor above the program's highest one by the raw system call.
 * Nothing of the program's is closed; a descriptor the library kept for itself would be (and
 * is counted, to fail the case); then, sometimes, the program takes the first number again. */
static void adv_before_write(void)
{
    if (!g_cr_pct || !rpct(&g_cr_rng, g_cr_pct))
        return;
    unsigned from = (unsigned)fd_top() + 1;
    /* what is open up there: nothing, as the program holds nothing above maxfd (it closed what
     * it inherited at start), but what close_range cannot close (valgrind's own) */
    int before[FOREIGN_MAX], after[FOREIGN_MAX];
    int nb = open_above((int)from, before, FOREIGN_MAX);
    if (syscall(SYS_close_range, from, ~0U, 0) != 0)
        die("close_range(%u, ~0U, 0)", from);
    g_cr_calls++;
    int na = nb > 0 ? open_above((int)from, after, FOREIGN_MAX) : 0;
    for (int i = 0; i < nb; i++) {
        int j = 0;
        while (j < na && after[j] != before[i])
            j++;
        if (j < na)
            continue; /* still open: not closable by the program */
        if (!g_cr_foreign++) {
            g_cr_foreign_fd = before[i];
            g_cr_foreign_from = (int)from;
        }
    }
    if (g_nreuse < CR_REUSE_MAX && rpct(&g_cr_rng, 50)) {
        /* the first number it freed, now the program's (another file): what a library that
         * kept a descriptor there would find behind it */
        int o = open(g_pool[rbelow(&g_cr_rng, 3)], O_RDONLY | O_CLOEXEC);
        int fd = o < 0 || o >= (int)from ? o : fcntl(o, F_DUPFD, (int)from);
        if (o >= 0 && o != fd)
            close(o);
        if (fd >= 0) { /* else (RLIMIT_NOFILE reached) no reuse this time */
            g_reuse[g_nreuse++] = fd_hold(fd);
            g_cr_reuse++;
        }
    }
}

/* After the case: the descriptors close_range's reuse took. */
static void reuse_close(void)
{
    while (g_nreuse)
        fd_close(g_reuse[--g_nreuse]);
}

/* Blocks every signal in the calling thread (its children inherit the mask); 1 if the kernel's
 * mask then holds every standard signal it can (all but SIGKILL and SIGSTOP), SIGSEGV and
 * SIGBUS among them: the library's fault guard cannot run there. */
static int block_all(sigset_t *old)
{
    sigset_t all;
    sigfillset(&all);
    if (pthread_sigmask(SIG_BLOCK, &all, old) != 0)
        die("pthread_sigmask");
    uint64_t k = 0;
    if (syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &k, sizeof k) != 0)
        die("rt_sigprocmask");
    for (int sig = 1; sig < 32; sig++)
        if (sig != SIGKILL && sig != SIGSTOP && !(k & (1ull << (sig - 1))))
            return 0;
    return 1;
}

/* The extra descriptors of a case: c->nfds, or as many as leave FDS_HEADROOM below the soft
 * RLIMIT_NOFILE (which nothing raises), of the case's file, of other files, or a mix of those,
 * dup()s of them and /dev/null. Held until extras_close after the case. Returns how many. */
static int extras_open(const config_t *c, uint64_t seed, uint64_t idx)
{
    g_nextra = 0;
    if (!c->nfds)
        return 0;
    rng_t r = rng_for(seed, idx, 10);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        die("getrlimit");
    long long room = (long long)(rl.rlim_cur > (rlim_t)1 << 30 ? (rlim_t)1 << 30 : rl.rlim_cur) - 1 - fd_top() -
                     FDS_HEADROOM;
    int want = room < c->nfds ? (room > 0 ? (int)room : 0) : c->nfds;
    while (g_nextra < want) {
        int how = c->fds_of == FO_FILE ? 0 : c->fds_of == FO_OTHER ? 1 : (int)rbelow(&r, 4);
        int fd;
        if (how == 0)
            fd = open(g_path, O_RDONLY | (rpct(&r, 30) ? O_CLOEXEC : 0));
        else if (how == 1)
            fd = open(g_pool[rbelow(&r, 3)], O_RDONLY | (rpct(&r, 30) ? O_CLOEXEC : 0));
        else if (how == 2 && g_nextra)
            fd = dup(g_extra[rbelow(&r, (uint64_t)g_nextra)]);
        else
            fd = open("/dev/null", O_RDONLY);
        if (fd < 0 && (errno == EMFILE || errno == ENFILE)) {
            /* fewer free than RLIMIT_NOFILE says: leave room for the case */
            for (int i = 0; i < FDS_HEADROOM && g_nextra; i++)
                fd_close(g_extra[--g_nextra]);
            break;
        }
        if (fd < 0)
            die("extra descriptor %d of %d", g_nextra, want);
        g_extra[g_nextra++] = fd_hold(fd);
    }
    return g_nextra;
}

static void extras_close(void)
{
    while (g_nextra)
        fd_close(g_extra[--g_nextra]);
}

/* The adversities a case line shows (those that change what the case does). */
static void adv_text(const config_t *c, int nfds, char *out, size_t n)
{
    int k = 0;
    out[0] = 0;
    if (c->cr_pct)
        k += snprintf(out + k, n - (size_t)k, " close_range=%u%%", c->cr_pct);
    if (c->rawsig && (size_t)k < n)
        k += snprintf(out + k, n - (size_t)k, " rawsig");
    if (c->blocked && (size_t)k < n)
        k += snprintf(out + k, n - (size_t)k, " blocked=%s", bl_names[c->blocked]);
    if (nfds && (size_t)k < n)
        snprintf(out + k, n - (size_t)k, " fds=%d/%s", nfds, fo_names[c->fds_of]);
}

static void describe(const config_t *c, char *out, size_t n)
{
    int k = snprintf(out, n, "kind=%s size=%zu buf=%zu off=%zu nonblock=%d tiny=%d slow=%d mut=%u split=%u seek=%u tail=%u",
                     kind_names[c->kind], c->size, c->bufsize, c->bufoff, c->nonblock, c->tiny_sndbuf,
                     c->slow_reader, c->mut_pct, c->split_pct, c->seek_pct, c->tail_pct);
    if (k < 0 || (size_t)k >= n)
        return;
    out += k;
    n -= (size_t)k;
    switch (c->kind) {
    case KIND_WRITE:
        snprintf(out, n, " rd=%s call=%s bufs=%s filemut=%u", rd_names[c->rdmode], call_names[c->call],
                 bufmode_names[c->bufmode], c->filemut_pct);
        break;
    case KIND_VEC:
        snprintf(out, n, " rd=%s nbufs=%d vcall=%s retry=%s zero=%u", rd_names[c->rdmode], c->nbufs,
                 vc_names[c->vcall], retry_names[c->retry], c->zero_pct);
        break;
    case KIND_READV:
        snprintf(out, n, " rv=%s nbufs=%d contig=%d call=%s vcall=%s retry=%s zero=%u", rv_names[c->rvmode],
                 c->nbufs, c->contig, call_names[c->call], vc_names[c->vcall], retry_names[c->retry], c->zero_pct);
        break;
    case KIND_THREAD:
        snprintf(out, n, " handover=%s trd=%s pool=%d call=%s vcall=%s retry=%s zero=%u", ho_names[c->handover],
                 tr_names[c->trd], c->nbufs, call_names[c->call], vc_names[c->vcall], retry_names[c->retry],
                 c->zero_pct);
        break;
    case KIND_STDIO:
        snprintf(out, n, " in=%s/%zu%s out=%s/%zu%s dup=%d fread=%s call=%s", vb_names[c->in_vmode], c->in_vsize,
                 c->in_vown ? "/own" : "", vb_names[c->out_vmode], c->out_vsize, c->out_vown ? "/own" : "",
                 c->dupsock, fr_names[c->frd], call_names[c->call]);
        break;
    case KIND_SIGNAL:
        snprintf(out, n, " rd=%s call=%s timing=%d restart=%d sigpct=%u first<=%ldus every=%ldus",
                 rd_names[c->rdmode], call_names[c->call], c->sig_timing, c->sig_restart, c->sig_pct,
                 c->sig_first_max, c->sig_interval);
        break;
    case KIND_FAULT:
        snprintf(out, n, " rd=%s call=%s vcall=%s faultpct=%u", rd_names[c->rdmode], call_names[c->call],
                 vc_names[c->vcall], c->fault_pct);
        break;
    case KIND_COPY:
        snprintf(out, n, " rd=%s call=%s vcall=%s retry=%s zero=%u", rd_names[c->rdmode], call_names[c->call],
                 vc_names[c->vcall], retry_names[c->retry], c->zero_pct);
        break;
    case KIND_MMAP:
        snprintf(out, n, " call=%s vcall=%s window=%zu evpct=%u trunc=%d", call_names[c->call], vc_names[c->vcall],
                 c->mm_window, c->mm_ev_pct, c->mm_trunc);
        break;
    }
    k = (int)strlen(out);
    if ((size_t)k + 1 < n)
        snprintf(out + k, n - (size_t)k, " close_range=%u%% rawsig=%d blocked=%s nfds=%d/%s", c->cr_pct, c->rawsig,
                 bl_names[c->blocked], c->nfds, fo_names[c->fds_of]);
}

/* ------------------------------------------------------- vectored writes -- */

#define MAXSEG 48

typedef struct {
    unsigned char *p;
    size_t n;
} seg_t;

typedef struct {
    seg_t s[MAXSEG];
    int n;
} segs_t;

/* Adds an iovec (silently dropped when full: deterministic either way). */
static void seg_add(segs_t *v, unsigned char *p, size_t n)
{
    if (v->n >= MAXSEG)
        return;
    v->s[v->n].p = p;
    v->s[v->n].n = n;
    v->n++;
}

static ssize_t do_vcall(int vc, int fd, struct iovec *iov, int cnt)
{
    adv_before_write();
    if (vc == VC_WRITEV)
        return writev(fd, iov, cnt);
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = iov;
    m.msg_iovlen = (size_t)cnt;
    return sendmsg(fd, &m, vc == VC_SENDMSG_NOSIGNAL ? MSG_NOSIGNAL : 0);
}

static void append_iov(bytes_t *b, const struct iovec *iov, int cnt, size_t w)
{
    for (int i = 0; i < cnt && w; i++) {
        size_t k = iov[i].iov_len < w ? iov[i].iov_len : w;
        if (k)
            bytes_append(b, iov[i].iov_base, k);
        w -= k;
    }
}

/* nginx (ngx_output_chain_to_iovec): the iovecs of the unsent rest, from byte skip of
 * segment si on; empty parts left out, parts adjacent in memory merged into one iovec. */
static int build_merged(const segs_t *v, int si, size_t skip, struct iovec *iov)
{
    int cnt = 0;
    for (int i = si; i < v->n; i++) {
        size_t o = i == si ? skip : 0;
        if (v->s[i].n <= o)
            continue;
        unsigned char *p = v->s[i].p + o;
        size_t n = v->s[i].n - o;
        if (cnt && (unsigned char *)iov[cnt - 1].iov_base + iov[cnt - 1].iov_len == p) {
            iov[cnt - 1].iov_len += n;
            continue;
        }
        iov[cnt].iov_base = p;
        iov[cnt].iov_len = n;
        cnt++;
    }
    return cnt;
}

static void mutate_iov_tail(rng_t *r, struct iovec *iov, int cnt)
{
    int nz = 0;
    for (int i = 0; i < cnt; i++)
        nz += iov[i].iov_len > 0;
    if (!nz)
        return;
    int k = (int)rbelow(r, (uint64_t)nz);
    for (int i = 0; i < cnt; i++) {
        if (iov[i].iov_len == 0)
            continue;
        if (k-- == 0) {
            mutate(r, iov[i].iov_base, iov[i].iov_len);
            return;
        }
    }
}

/* Sends the bytes of all segments with writev/sendmsg, continuing partial results with
 * advanced iovecs; records what the iovecs held at each call for the count returned. */
static void send_vec_all(sender_t *s, const segs_t *v)
{
    const config_t *c = s->cfg;
    int vc = c->vcall == VC_MIXED ? (int)rbelow(s->r, 3) : c->vcall;
    struct iovec iovbuf[MAXSEG], *iov = iovbuf;
    int cnt, si = 0;
    size_t skip = 0, left = 0;
    for (int i = 0; i < v->n; i++)
        left += v->s[i].n;
    if (c->retry == RETRY_REBUILD) {
        cnt = build_merged(v, 0, 0, iovbuf);
    } else {
        for (int i = 0; i < v->n; i++) {
            iovbuf[i].iov_base = v->s[i].p;
            iovbuf[i].iov_len = v->s[i].n;
        }
        cnt = v->n;
    }
    if (left == 0) {
        ssize_t w = do_vcall(vc, s->sock, iov, cnt);
        if (w != 0 && !(w < 0 && (errno == EINTR || errno == EAGAIN)))
            die("zero-length %s (%d iovecs) returned %zd", vc_names[vc], cnt, w);
        return;
    }
    while (left) {
        ssize_t w = do_vcall(vc, s->sock, iov, cnt);
        s->calls++;
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                s->eagains++;
                if (c->tail_pct && rpct(s->rtail, c->tail_pct)) {
                    mutate_iov_tail(s->rtail, iov, cnt);
                    s->tail_mutations++;
                }
                wait_writable(s->sock);
                continue;
            }
            die("%s of %zu bytes in %d iovecs failed", vc_names[vc], left, cnt);
        }
        if (w == 0 || (size_t)w > left) {
            errno = 0;
            die("%s of %zu bytes in %d iovecs returned %zd", vc_names[vc], left, cnt, w);
        }
        /* the iovecs cannot have changed during the call: record what they held */
        append_iov(s->expected, iov, cnt, (size_t)w);
        left -= (size_t)w;
        if (!left)
            break;
        s->partials++;
        size_t k = (size_t)w;
        if (c->retry == RETRY_REBUILD) {
            while (k) {
                size_t avail = v->s[si].n - skip;
                if (k < avail) {
                    skip += k;
                    k = 0;
                } else {
                    k -= avail;
                    si++;
                    skip = 0;
                }
            }
            iov = iovbuf;
            cnt = build_merged(v, si, skip, iovbuf);
        } else { /* libuv / classic: advance in place, keep the unsent tail */
            while (cnt > 0 && k >= iov->iov_len) {
                k -= iov->iov_len;
                iov++;
                cnt--;
            }
            iov->iov_base = (char *)iov->iov_base + k;
            iov->iov_len -= k;
        }
        if (c->tail_pct && rpct(s->rtail, c->tail_pct)) {
            mutate_iov_tail(s->rtail, iov, cnt);
            s->tail_mutations++;
        }
    }
}

#define PROG_N 24576

static unsigned char *make_prog(rng_t *r)
{
    unsigned char *p = malloc(PROG_N);
    if (!p)
        die("malloc");
    for (size_t i = 0; i < PROG_N; i += 8) {
        uint64_t x = rnext(r);
        memcpy(p + i, &x, 8);
    }
    return p;
}

/* header length: mostly small, sometimes above the library's default minimum */
static size_t pick_hlen(rng_t *r)
{
    unsigned x = (unsigned)rbelow(r, 100);
    if (x < 15)
        return 0;
    if (x < 80)
        return (size_t)rrange(r, 1, 300);
    if (x < 90)
        return (size_t)rrange(r, 301, 8191);
    return (size_t)rrange(r, 8192, PROG_N);
}

static unsigned char *prog_slice(rng_t *r, unsigned char *prog, size_t n)
{
    return prog + rbelow(r, PROG_N - n + 1);
}

/* Inserts zero-length iovecs (NULL or pointing into real buffers) at random places,
 * changes one part in place (header or file bytes) with mut_pct, then sends. */
static void prep_and_send(sender_t *s, segs_t *v, unsigned char *prog)
{
    const config_t *c = s->cfg;
    rng_t *r = s->r;
    if (c->zero_pct) {
        segs_t z;
        z.n = 0;
        for (int i = 0; i <= v->n; i++) {
            if (rpct(r, c->zero_pct)) {
                unsigned char *zp = NULL;
                unsigned h = (unsigned)rbelow(r, 3);
                if (h == 1)
                    zp = prog + rbelow(r, PROG_N);
                else if (h == 2 && i < v->n)
                    zp = v->s[i].p;
                seg_add(&z, zp, 0);
            }
            if (i < v->n)
                seg_add(&z, v->s[i].p, v->s[i].n);
        }
        *v = z;
    }
    if (v->n && rpct(r, c->mut_pct)) {
        int i = (int)rbelow(r, (uint64_t)v->n);
        if (v->s[i].n)
            mutate(r, v->s[i].p, v->s[i].n);
    }
    send_vec_all(s, v);
    v->n = 0;
}

/* a random sub-range [*a, *b) of [0, n) (n > 0), often touching an end */
static void pick_sub(rng_t *r, size_t n, size_t *a, size_t *b)
{
    *a = rpct(r, 30) ? 0 : (size_t)rbelow(r, n);
    *b = rpct(r, 30) ? n : (size_t)rrange(r, *a + 1, n);
}

#define VEC_HROOM 512 /* room before the file bytes: a header in the same allocation */
#define VEC_TROOM 256 /* room after the buffer */

static size_t read_at(const config_t *c, int fd, unsigned char *p, size_t len, off_t at)
{
    if (c->rdmode == RD_READ && lseek(fd, 0, SEEK_CUR) != at && lseek(fd, at, SEEK_SET) != at)
        die("lseek back");
    return get_chunk(c, fd, p, len, at);
}

static void run_vec(sender_t *s, int fd)
{
    const config_t *c = s->cfg;
    rng_t *r = s->r;
    int K = c->nbufs;
    size_t alloc = VEC_HROOM + c->bufoff + c->bufsize + VEC_TROOM;
    unsigned char *base[4], *d[4];
    for (int j = 0; j < K; j++) {
        base[j] = malloc(alloc);
        if (!base[j])
            die("malloc %zu", alloc);
        memset(base[j], 0xA5, alloc);
        d[j] = base[j] + VEC_HROOM + c->bufoff;
    }
    unsigned char *prog = make_prog(r);
    unsigned char *copy = malloc(c->bufsize);
    if (!copy)
        die("malloc");
    segs_t v;
    v.n = 0;
    off_t off = 0;
    for (;;) {
        int want_n = (int)rrange(r, 1, (uint64_t)K);
        size_t got[4];
        int nch = 0, eof = 0;
        for (int j = 0; j < want_n; j++) {
            size_t want = rpct(r, 70) ? c->bufsize : (size_t)rrange(r, 1, c->bufsize);
            size_t n = read_at(c, fd, d[j], want, off);
            if (n == 0) {
                eof = 1;
                break;
            }
            got[j] = n;
            off += (off_t)n;
            nch++;
            if (rpct(r, c->mut_pct)) {
                if (rpct(r, 80))
                    mutate(r, d[j], n);
                else
                    mutate(r, base[j], alloc);
            }
        }
        if (nch == 0)
            break;
        int pat = (int)rbelow(r, 6);
        vlog("    vec pat=%d chunks=%d\n", pat, nch);
        switch (pat) {
        case 0: { /* [header, file buf or a sub-range, trailer], one call or one per chunk */
            int percall = rpct(r, 50);
            for (int j = 0; j < nch; j++) {
                size_t hl = pick_hlen(r);
                seg_add(&v, prog_slice(r, prog, hl), hl);
                if (rpct(r, 25)) {
                    size_t a, b;
                    pick_sub(r, got[j], &a, &b);
                    seg_add(&v, d[j] + a, b - a);
                } else {
                    seg_add(&v, d[j], got[j]);
                }
                size_t tl = (size_t)rbelow(r, 41);
                seg_add(&v, prog_slice(r, prog, tl), tl);
                if (percall)
                    prep_and_send(s, &v, prog);
            }
            break;
        }
        case 1: /* [file part A, program bytes, file part B] */
            for (int j = 0; j < nch; j++) {
                size_t x = (size_t)rbelow(r, got[j] + 1);
                seg_add(&v, d[j], x);
                if (rpct(r, 50)) {
                    size_t hl = pick_hlen(r);
                    seg_add(&v, prog_slice(r, prog, hl), hl);
                } else { /* program memory holding a copy of file bytes */
                    memcpy(copy, d[j], got[j]);
                    size_t a, b;
                    pick_sub(r, got[j], &a, &b);
                    seg_add(&v, copy + a, b - a);
                }
                seg_add(&v, d[j] + x, got[j] - x);
            }
            break;
        case 2: { /* several file buffers in one call, in order or reversed */
            int rev = rpct(r, 30);
            for (int j = 0; j < nch; j++) {
                int q = rev ? nch - 1 - j : j;
                seg_add(&v, d[q], got[q]);
            }
            break;
        }
        case 3: { /* random sub-ranges of the buffers, any order, repeats, program bytes */
            int m = (int)rrange(r, 1, 6);
            for (int i = 0; i < m; i++) {
                if (rpct(r, 25)) {
                    size_t hl = pick_hlen(r);
                    seg_add(&v, prog_slice(r, prog, hl), hl);
                } else {
                    int j = (int)rbelow(r, (uint64_t)nch);
                    size_t a, b;
                    pick_sub(r, got[j], &a, &b);
                    seg_add(&v, d[j] + a, b - a);
                }
                if (i + 1 < m && rpct(r, 20))
                    prep_and_send(s, &v, prog);
            }
            break;
        }
        case 4: /* header (and trailer) in the same allocation, right next to the file bytes */
            for (int j = 0; j < nch; j++) {
                size_t hl = (size_t)rrange(r, 1, VEC_HROOM);
                size_t tl = (size_t)rbelow(r, VEC_TROOM + 1);
                memcpy(d[j] - hl, prog_slice(r, prog, hl), hl);
                memcpy(d[j] + got[j], prog_slice(r, prog, tl), tl);
                if (rpct(r, 50)) {
                    seg_add(&v, d[j] - hl, hl + got[j] + tl);
                } else {
                    seg_add(&v, d[j] - hl, hl);
                    seg_add(&v, d[j], got[j]);
                    seg_add(&v, d[j] + got[j], tl);
                }
            }
            break;
        case 5: /* iovecs reaching before/after the bytes read (stale allocation bytes) */
            for (int j = 0; j < nch; j++) {
                size_t a = (size_t)rbelow(r, VEC_HROOM + 1);
                size_t b = (size_t)rbelow(r, VEC_TROOM + 1);
                seg_add(&v, d[j] - a, a + got[j] + b);
            }
            break;
        }
        if (v.n)
            prep_and_send(s, &v, prog);
        if (eof)
            break;
    }
    for (int j = 0; j < K; j++)
        free(base[j]);
    free(prog);
    free(copy);
}

/* ---------------------------------------------------------------- readv -- */

static ssize_t do_readv_call(int mode, int fd, struct iovec *iov, int cnt, off_t off)
{
    switch (mode) {
    case RV_READV: return readv(fd, iov, cnt);
    case RV_PREADV: return preadv(fd, iov, cnt, off);
    case RV_PREADV2: return preadv2(fd, iov, cnt, off, 0);
    case RV_PREADV2_CUR: return preadv2(fd, iov, cnt, -1, 0);
    }
    errno = EINVAL;
    return -1;
}

static int rv_uses_pos(int mode) { return mode == RV_READV || mode == RV_PREADV2_CUR; }

static size_t read_vec(int mode, int fd, struct iovec *iov, int cnt, off_t off)
{
    if (rv_uses_pos(mode) && lseek(fd, 0, SEEK_CUR) != off && lseek(fd, off, SEEK_SET) != off)
        die("lseek back");
    for (;;) {
        ssize_t n = do_readv_call(mode, fd, iov, cnt, off);
        if (n >= 0)
            return (size_t)n;
        if (errno != EINTR)
            die("%s", rv_names[mode]);
    }
}

static void shuffle(rng_t *r, int *order, int n)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)rbelow(r, (uint64_t)i + 1);
        int t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

static void run_readv(sender_t *s, int fd)
{
    const config_t *c = s->cfg;
    rng_t *r = s->r;
    int nb = c->nbufs;
    unsigned char *sep[4] = { 0 }, *cbase = NULL;
    size_t calloc_n = c->bufoff + (size_t)nb * c->bufsize + 64;
    if (c->contig) {
        cbase = malloc(calloc_n);
        if (!cbase)
            die("malloc %zu", calloc_n);
        memset(cbase, 0xA5, calloc_n);
    } else {
        for (int j = 0; j < nb; j++) {
            sep[j] = malloc(c->bufoff + c->bufsize);
            if (!sep[j])
                die("malloc");
            memset(sep[j], 0xA5, c->bufoff + c->bufsize);
        }
    }
    unsigned char *prog = make_prog(r);
    segs_t v;
    v.n = 0;
    off_t off = 0;
    for (;;) {
        int mode = c->rvmode == RV_MIXED ? (int)rbelow(r, 4) : c->rvmode;
        size_t len[4], got[4], sum = 0;
        unsigned char *p[4];
        struct iovec iov[4];
        for (int j = 0; j < nb; j++) {
            unsigned x = (unsigned)rbelow(r, 100);
            len[j] = x < 8    ? 0
                     : x < 20 ? (size_t)rrange(r, 1, c->bufsize < 64 ? c->bufsize : 64)
                     : x < 60 ? c->bufsize
                              : (size_t)rrange(r, 1, c->bufsize);
            sum += len[j];
        }
        if (sum == 0)
            len[nb - 1] = c->bufsize;
        for (int j = 0; j < nb; j++) {
            if (!c->contig)
                p[j] = sep[j] + c->bufoff;
            else if (j == 0)
                p[j] = cbase + c->bufoff;
            else if (c->contig == 1)
                p[j] = p[j - 1] + len[j - 1];
            else /* overlapping: readv fills iovecs in order, later ones win */
                p[j] = p[j - 1] + len[j - 1] - (size_t)rbelow(r, len[j - 1] + 1);
            iov[j].iov_base = p[j];
            iov[j].iov_len = len[j];
        }
        size_t n = read_vec(mode, fd, iov, nb, off);
        if (n == 0)
            break;
        size_t rest = n;
        for (int j = 0; j < nb; j++) {
            got[j] = rest < len[j] ? rest : len[j];
            rest -= got[j];
        }
        off += (off_t)n;
        if (rv_uses_pos(mode) && rpct(r, c->seek_pct)) {
            off_t away = (off_t)rbelow(r, (uint64_t)c->size + 1);
            if (lseek(fd, away, SEEK_SET) != away)
                die("lseek away");
        }
        if (rpct(r, c->mut_pct)) {
            int j = (int)rbelow(r, (uint64_t)nb);
            if (got[j])
                mutate(r, p[j], got[j]);
        }
        int order[4] = { 0, 1, 2, 3 };
        int wmode = (int)rbelow(r, c->contig ? 5 : 4);
        vlog("    readv %s n=%zu got=%zu,%zu,%zu,%zu wmode=%d\n", rv_names[mode], n, got[0], got[1],
             nb > 2 ? got[2] : 0, nb > 3 ? got[3] : 0, wmode);
        switch (wmode) {
        case 1: /* each buffer by itself, shuffled */
            shuffle(r, order, nb);
            /* fall through */
        case 0: /* each buffer by itself, in order */
            for (int i = 0; i < nb; i++)
                if (got[order[i]] || rpct(r, 20))
                    write_chunk(s, p[order[i]], got[order[i]], 0);
            break;
        case 2: /* as iovecs in order, headers between */
            for (int j = 0; j < nb; j++) {
                if (rpct(r, 30)) {
                    size_t hl = pick_hlen(r);
                    seg_add(&v, prog_slice(r, prog, hl), hl);
                }
                seg_add(&v, p[j], got[j]);
            }
            prep_and_send(s, &v, prog);
            break;
        case 3: /* as iovecs, shuffled, sub-ranges */
            shuffle(r, order, nb);
            for (int i = 0; i < nb; i++) {
                int j = order[i];
                if (got[j] && rpct(r, 30)) {
                    size_t a, b;
                    pick_sub(r, got[j], &a, &b);
                    seg_add(&v, p[j] + a, b - a);
                } else {
                    seg_add(&v, p[j], got[j]);
                }
            }
            prep_and_send(s, &v, prog);
            break;
        case 4: { /* back to back: one write spanning the buffers (or a sub-range of them) */
            size_t span = 0;
            for (int j = 0; j < nb; j++)
                if (got[j] && (size_t)(p[j] + got[j] - p[0]) > span)
                    span = (size_t)(p[j] + got[j] - p[0]);
            if (rpct(r, 30) && span > 1) {
                size_t a, b;
                pick_sub(r, span, &a, &b);
                write_chunk(s, p[0] + a, b - a, 0);
            } else {
                write_chunk(s, p[0], span, 0);
            }
            break;
        }
        }
    }
    free(cbase);
    for (int j = 0; j < nb; j++)
        free(sep[j]);
    free(prog);
}

/* --------------------------------------------------------------- thread -- */

typedef struct {
    int idx;
    size_t len; /* 0: end of file */
    off_t at;
} item_t;

typedef struct {
    const config_t *c;
    int fd;
    rng_t rh; /* the helper's own decisions */
    unsigned char *buf[4];
    int pool;
    off_t off;
    int ipipe[2], fpipe[2]; /* HO_PIPE: items to main, free buffers to helper */
    pthread_mutex_t mu;     /* HO_COND */
    pthread_cond_t cv;
    item_t q[8];
    int qh, qn;
    int fq[8];
    int fh, fn;
    item_t batch[4]; /* HO_JOIN */
    int nbatch, eof;
    unsigned long turn; /* HO_TWO: chunk i is read by helper i % 2 */
    int done;
} helper_t;

typedef struct {
    helper_t *h;
    int k;
} helper_arg_t;

static void pipe_io(int wr, int fd, void *p, size_t n)
{
    unsigned char *b = p;
    while (n) {
        ssize_t k = wr ? write(fd, b, n) : read(fd, b, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            die("pipe %s", wr ? "write" : "read");
        b += k;
        n -= (size_t)k;
    }
}

static size_t helper_read(helper_t *h, unsigned char *p, size_t want)
{
    int m = h->c->trd == TR_MIXED ? (int)rbelow(&h->rh, 3) : h->c->trd;
    for (;;) {
        ssize_t n;
        if (m == TR_READ) {
            if (lseek(h->fd, 0, SEEK_CUR) != h->off && lseek(h->fd, h->off, SEEK_SET) != h->off)
                die("lseek back");
            n = read(h->fd, p, want);
        } else if (m == TR_PREAD) {
            n = pread(h->fd, p, want, h->off);
        } else { /* two iovecs back to back in the buffer */
            size_t x = (size_t)rbelow(&h->rh, want + 1);
            struct iovec iov[2] = { { p, x }, { p + x, want - x } };
            n = preadv(h->fd, iov, 2, h->off);
        }
        if (n >= 0)
            return (size_t)n;
        if (errno != EINTR)
            die("helper %s", tr_names[m]);
    }
}

static size_t helper_want(helper_t *h)
{
    return rpct(&h->rh, 70) ? h->c->bufsize : (size_t)rrange(&h->rh, 1, h->c->bufsize);
}

static int get_free(helper_t *h)
{
    int idx;
    if (h->c->handover == HO_PIPE) {
        pipe_io(0, h->fpipe[0], &idx, sizeof idx);
        return idx;
    }
    pthread_mutex_lock(&h->mu);
    while (h->fn == 0)
        pthread_cond_wait(&h->cv, &h->mu);
    idx = h->fq[h->fh];
    h->fh = (h->fh + 1) % 8;
    h->fn--;
    pthread_mutex_unlock(&h->mu);
    return idx;
}

static void put_free(helper_t *h, int idx)
{
    if (h->c->handover == HO_PIPE) {
        pipe_io(1, h->fpipe[1], &idx, sizeof idx);
        return;
    }
    pthread_mutex_lock(&h->mu);
    h->fq[(h->fh + h->fn) % 8] = idx;
    h->fn++;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

static void put_item(helper_t *h, item_t it)
{
    if (h->c->handover == HO_PIPE) {
        pipe_io(1, h->ipipe[1], &it, sizeof it);
        return;
    }
    pthread_mutex_lock(&h->mu);
    h->q[(h->qh + h->qn) % 8] = it;
    h->qn++;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

static item_t get_item(helper_t *h)
{
    item_t it;
    if (h->c->handover == HO_PIPE) {
        pipe_io(0, h->ipipe[0], &it, sizeof it);
        return it;
    }
    pthread_mutex_lock(&h->mu);
    while (h->qn == 0)
        pthread_cond_wait(&h->cv, &h->mu);
    it = h->q[h->qh];
    h->qh = (h->qh + 1) % 8;
    h->qn--;
    pthread_mutex_unlock(&h->mu);
    return it;
}

static void helper_fill(helper_t *h, int idx, item_t *it)
{
    size_t n = helper_read(h, h->buf[idx], helper_want(h));
    memset(it, 0, sizeof *it); /* no uninitialised padding through the pipe */
    it->idx = idx;
    it->len = n;
    it->at = h->off;
    if (n && rpct(&h->rh, h->c->mut_pct / 2))
        mutate(&h->rh, h->buf[idx], n);
    h->off += (off_t)n;
}

static void *helper_stream(void *arg)
{
    helper_t *h = arg;
    for (;;) {
        item_t it;
        helper_fill(h, get_free(h), &it);
        put_item(h, it);
        if (it.len == 0)
            return NULL;
    }
}

/* HO_TWO: two helpers take turns (strictly one after the other, so the run stays
 * deterministic); a buffer read by one is later read again by the other, which
 * leaves a stale record of it in a live thread. */
static void *helper_two(void *arg)
{
    helper_arg_t *a = arg;
    helper_t *h = a->h;
    for (;;) {
        pthread_mutex_lock(&h->mu);
        while (!h->done && h->turn % 2 != (unsigned long)a->k)
            pthread_cond_wait(&h->cv, &h->mu);
        int done = h->done;
        pthread_mutex_unlock(&h->mu);
        if (done)
            return NULL;
        item_t it;
        helper_fill(h, get_free(h), &it);
        put_item(h, it);
        pthread_mutex_lock(&h->mu);
        h->turn++;
        if (it.len == 0)
            h->done = 1;
        pthread_cond_broadcast(&h->cv);
        pthread_mutex_unlock(&h->mu);
    }
}

static void *helper_batch(void *arg)
{
    helper_t *h = arg;
    int want_n = (int)rrange(&h->rh, 1, (uint64_t)h->pool);
    h->nbatch = 0;
    for (int j = 0; j < want_n; j++) {
        item_t it;
        helper_fill(h, j, &it);
        if (it.len == 0) {
            h->eof = 1;
            break;
        }
        h->batch[h->nbatch++] = it;
    }
    return NULL;
}

/* The main thread writes a buffer another thread read: as it is, or node's chunked
 * encoding [size CRLF, body, CRLF] by writev. */
static void thread_write(sender_t *s, unsigned char *p, size_t n, off_t at, unsigned char *prog)
{
    const config_t *c = s->cfg;
    rng_t *r = s->r;
    if (n && rpct(r, c->mut_pct))
        mutate(r, p, n);
    if (rpct(r, 55)) {
        write_chunk(s, p, n, at);
        return;
    }
    char hdr[32];
    unsigned char crlf[2] = { '\r', '\n' };
    size_t a = 0, b = n;
    if (n && rpct(r, 20))
        pick_sub(r, n, &a, &b);
    int hl = snprintf(hdr, sizeof hdr, "%zx\r\n", b - a);
    segs_t v;
    v.n = 0;
    seg_add(&v, (unsigned char *)hdr, (size_t)hl);
    seg_add(&v, p + a, b - a);
    seg_add(&v, crlf, 2);
    prep_and_send(s, &v, prog);
}

static void run_thread(sender_t *s, int fd, uint64_t hseed)
{
    const config_t *c = s->cfg;
    helper_t h;
    memset(&h, 0, sizeof h);
    h.c = c;
    h.fd = fd;
    h.rh.s = hseed;
    h.pool = c->nbufs;
    size_t alloc = c->bufoff + c->bufsize;
    for (int j = 0; j < h.pool; j++) {
        unsigned char *b = malloc(alloc);
        if (!b)
            die("malloc");
        memset(b, 0xA5, alloc);
        h.buf[j] = b + c->bufoff;
    }
    unsigned char *prog = make_prog(s->r);
    pthread_t th;
    if (c->handover == HO_JOIN) {
        /* the reading thread is gone (joined) before the main thread writes */
        for (;;) {
            if (pthread_create(&th, NULL, helper_batch, &h) != 0 || pthread_join(th, NULL) != 0)
                die("helper thread");
            for (int i = 0; i < h.nbatch; i++)
                thread_write(s, h.buf[h.batch[i].idx], h.batch[i].len, h.batch[i].at, prog);
            if (h.eof)
                break;
            if (rpct(s->r, 30)) {
                /* the main thread reads one chunk itself into a pool buffer: its own record
                 * goes stale when the next helper reads into that buffer */
                int j = (int)rbelow(s->r, (uint64_t)h.pool);
                size_t want = rpct(s->r, 70) ? c->bufsize : (size_t)rrange(s->r, 1, c->bufsize);
                ssize_t n;
                do
                    n = pread(fd, h.buf[j], want, h.off);
                while (n < 0 && errno == EINTR);
                if (n < 0)
                    die("pread");
                if (n == 0)
                    break;
                thread_write(s, h.buf[j], (size_t)n, h.off, prog);
                h.off += n;
            }
        }
    } else {
        if (c->handover == HO_PIPE) {
            if (pipe(h.ipipe) != 0 || pipe(h.fpipe) != 0)
                die("pipe");
            for (int j = 0; j < 2; j++) {
                fd_hold(h.ipipe[j]);
                fd_hold(h.fpipe[j]);
            }
        } else {
            pthread_mutex_init(&h.mu, NULL);
            pthread_cond_init(&h.cv, NULL);
        }
        for (int j = 0; j < h.pool; j++)
            put_free(&h, j);
        pthread_t th2;
        helper_arg_t ha[2] = { { &h, 0 }, { &h, 1 } };
        if (c->handover == HO_TWO) {
            if (pthread_create(&th, NULL, helper_two, &ha[0]) != 0 ||
                pthread_create(&th2, NULL, helper_two, &ha[1]) != 0)
                die("pthread_create");
        } else if (pthread_create(&th, NULL, helper_stream, &h) != 0) {
            die("pthread_create");
        }
        for (;;) {
            item_t it = get_item(&h);
            if (it.len == 0)
                break;
            thread_write(s, h.buf[it.idx], it.len, it.at, prog);
            put_free(&h, it.idx);
        }
        if (pthread_join(th, NULL) != 0 || (c->handover == HO_TWO && pthread_join(th2, NULL) != 0))
            die("pthread_join");
        if (c->handover == HO_PIPE) {
            fd_close(h.ipipe[0]);
            fd_close(h.ipipe[1]);
            fd_close(h.fpipe[0]);
            fd_close(h.fpipe[1]);
        } else {
            pthread_mutex_destroy(&h.mu);
            pthread_cond_destroy(&h.cv);
        }
    }
    for (int j = 0; j < h.pool; j++)
        free(h.buf[j] - c->bufoff);
    free(prog);
}

/* ---------------------------------------------------------------- stdio -- */

extern size_t __fread_chk(void *ptr, size_t ptrlen, size_t size, size_t n, FILE *fp);
extern size_t __fread_unlocked_chk(void *ptr, size_t ptrlen, size_t size, size_t n, FILE *fp);

static size_t do_fread(int fr, unsigned char *p, size_t room, size_t isz, size_t cnt, FILE *f)
{
    switch (fr) {
    case FR_FREAD: return fread(p, isz, cnt, f);
    case FR_UNLOCKED: return fread_unlocked(p, isz, cnt, f);
    case FR_CHK: return __fread_chk(p, room, isz, cnt, f);
    case FR_UNLOCKED_CHK: return __fread_unlocked_chk(p, room, isz, cnt, f);
    }
    return 0;
}

static void set_vbuf(FILE *f, int mode, size_t size, int own, char **ownbuf)
{
    *ownbuf = NULL;
    int m;
    switch (mode) {
    case VB_DEFAULT: return;
    case VB_NONE: m = _IONBF; size = 0; break;
    case VB_LINE: m = _IOLBF; break;
    default: m = _IOFBF; break;
    }
    if (own && size) {
        *ownbuf = malloc(size);
        if (!*ownbuf)
            die("malloc");
    }
    if (setvbuf(f, *ownbuf, m, size) != 0)
        die("setvbuf");
}

/* fwrite (or fwrite_unlocked) all of p[0..n), as 1-byte items, n-byte items or k-byte
 * items plus a rest; records what was accepted. */
static void sfwrite(sender_t *s, FILE *out, const unsigned char *p, size_t n, int unlocked)
{
    rng_t *r = s->r;
    size_t isz = 1;
    unsigned x = (unsigned)rbelow(r, 100);
    if (n && x < 15)
        isz = n;
    else if (x < 35)
        isz = (size_t)rrange(r, 2, 16);
    size_t cnt = n / isz, rest = n - cnt * isz;
    adv_before_write();
    if (cnt) {
        size_t k = unlocked ? fwrite_unlocked(p, isz, cnt, out) : fwrite(p, isz, cnt, out);
        s->calls++;
        if (k != cnt)
            die("fwrite of %zu x %zu returned %zu", cnt, isz, k);
        bytes_append(s->expected, p, cnt * isz);
    }
    if (rest) {
        size_t k = unlocked ? fwrite_unlocked(p + cnt * isz, 1, rest, out) : fwrite(p + cnt * isz, 1, rest, out);
        s->calls++;
        if (k != rest)
            die("fwrite of %zu returned %zu", rest, k);
        bytes_append(s->expected, p + cnt * isz, rest);
    }
}

static void sflush(FILE *out)
{
    if (fflush(out) != 0)
        die("fflush");
}

/* Returns 1 if the socket was closed (fclose of fdopen(sock)). */
static int run_stdio(sender_t *s)
{
    const config_t *c = s->cfg;
    rng_t *r = s->r;
    FILE *in = fopen(g_path, "r");
    if (!in)
        die("fopen %s", g_path);
    fd_hold(fileno(in));
    char *invb, *outvb;
    set_vbuf(in, c->in_vmode, c->in_vsize, c->in_vown, &invb);
    int ofd = c->dupsock ? fd_hold(dup(s->sock)) : s->sock;
    if (ofd < 0)
        die("dup");
    FILE *out = fdopen(ofd, "w");
    if (!out)
        die("fdopen");
    set_vbuf(out, c->out_vmode, c->out_vsize, c->out_vown, &outvb);

    /* effective stream buffer of the file FILE (glibc: st_blksize by default) */
    size_t vs = c->in_vmode == VB_NONE ? 1 : c->in_vmode == VB_DEFAULT ? 4096 : c->in_vsize;
    size_t cap = c->bufsize > 2 * vs + 16 ? c->bufsize : 2 * vs + 16;
    size_t lo = c->size / 2048 + 1; /* keep the call count bounded */
    unsigned char *base = malloc(cap + c->bufoff);
    if (!base)
        die("malloc");
    memset(base, 0xA5, cap + c->bufoff);
    unsigned char *p = base + c->bufoff;
    unsigned char *prog = make_prog(r);
    int seeks = 0;
    for (;;) {
        unsigned x = (unsigned)rbelow(r, 100);
        size_t want;
        if (x < 35)
            want = vs > 1 ? (size_t)rrange(r, 1, vs - 1) : 1;
        else if (x < 70)
            want = (size_t)rrange(r, vs + 1, cap);
        else if (x < 80)
            want = vs;
        else
            want = (size_t)rrange(r, 1, cap);
        if (want < lo)
            want = lo;
        if (want > cap)
            want = cap;
        size_t isz = rpct(r, 80) ? 1 : (size_t)rrange(r, 2, 16);
        size_t cnt = want / isz ? want / isz : 1;
        int fr = c->frd == FR_MIXED ? (int)rbelow(r, 4) : c->frd;
        size_t items = do_fread(fr, p, cap, isz, cnt, in);
        size_t got = items * isz;
        if (items < cnt && ferror(in))
            die("%s", fr_names[fr]);
        int eof = items < cnt;
        vlog("    stdio %s want=%zu isz=%zu got=%zu\n", fr_names[fr], want, isz, got);
        if (got && rpct(r, c->mut_pct))
            mutate(r, p, got);
        if (got) {
            unsigned o = (unsigned)rbelow(r, 100);
            if (o < 30) {
                sfwrite(s, out, p, got, 0);
            } else if (o < 45) {
                sfwrite(s, out, p, got, 1);
            } else if (o < 60) { /* header by fputs/fprintf (or a big one by fwrite), body, CRLF */
                if (rpct(r, 20)) {
                    size_t hl = pick_hlen(r);
                    sfwrite(s, out, prog_slice(r, prog, hl), hl, 0);
                } else {
                    char hdr[64];
                    int hl = snprintf(hdr, sizeof hdr, "%zx;ext=%08x\r\n", got, (unsigned)rnext(r));
                    if ((rpct(r, 50) ? fputs(hdr, out) : fprintf(out, "%s", hdr)) < 0)
                        die("fputs");
                    bytes_append(s->expected, hdr, (size_t)hl);
                }
                sfwrite(s, out, p, got, rpct(r, 30));
                if (fputs("\r\n", out) < 0)
                    die("fputs");
                bytes_append(s->expected, "\r\n", 2);
            } else if (o < 78) { /* plain write()/send() on the same socket after fflush */
                sflush(out);
                send_all(s, p, got);
            } else if (o < 90) { /* 2-3 pieces, each by fwrite or (after fflush) write() */
                size_t cut1 = (size_t)rbelow(r, got + 1), cut2 = (size_t)rrange(r, cut1, got);
                size_t cuts[4] = { 0, cut1, cut2, got };
                for (int i = 0; i < 3; i++) {
                    size_t a = cuts[i], b = cuts[i + 1];
                    if (a == b)
                        continue;
                    if (rpct(r, 50)) {
                        sfwrite(s, out, p + a, b - a, rpct(r, 30));
                    } else {
                        sflush(out);
                        send_all(s, p + a, b - a);
                    }
                }
            } else { /* fwrite, then change the buffer before anything is flushed */
                sfwrite(s, out, p, got, 0);
                mutate(r, p, got);
            }
        }
        if (!eof && rpct(r, 10)) {
            /* push back the next byte, changed or not: the next fread returns it first */
            int ch = fgetc(in), back = ch;
            if (ch != EOF && rpct(r, 50))
                back = ch ^ 0x5A;
            vlog("    stdio fgetc+ungetc %s byte\n", back == ch ? "the same" : "a changed");
            if (ch != EOF && ungetc(back, in) == EOF)
                die("ungetc");
        }
        if (eof) {
            if (seeks < 4 && rpct(r, c->seek_pct)) {
                /* back to somewhere in the file (clears EOF) */
                seeks++;
                long pos = (long)rbelow(r, (uint64_t)c->size + 1);
                if (fseek(in, pos, SEEK_SET) != 0)
                    die("fseek");
                continue;
            }
            break;
        }
        if (seeks < 4 && rpct(r, c->seek_pct / 4)) {
            seeks++;
            long pos = (long)rbelow(r, (uint64_t)c->size + 1);
            if (fseek(in, pos, SEEK_SET) != 0)
                die("fseek");
        }
    }
    sflush(out);
    int closed = !c->dupsock;
    fd_unhold(fileno(out));
    if (fclose(out) != 0)
        die("fclose socket FILE");
    fd_unhold(fileno(in));
    if (fclose(in) != 0)
        die("fclose");
    free(invb);
    free(outvb);
    free(base);
    free(prog);
    return closed;
}

/* The original copy loop: read()/pread() -> write()/send()/sendto(). */
static void run_write(sender_t *s, int fd)
{
    const config_t *c = s->cfg;
    rng_t *r = s->r;
    size_t alloc = c->bufsize + c->bufoff;
    unsigned char *base[2], *buf[2];
    for (int i = 0; i < 2; i++) {
        base[i] = malloc(alloc);
        if (!base[i])
            die("malloc %zu", alloc);
        memset(base[i], 0xA5, alloc);
        buf[i] = base[i] + c->bufoff;
    }
    unsigned char *copybuf = malloc(c->bufsize);
    if (!copybuf)
        die("malloc");

    /* chunk offsets for pread-reverse */
    size_t nchunks = c->size / c->bufsize + 1;
    off_t off = 0;      /* logical offset of the next sequential read */
    size_t rev_i = nchunks; /* for pread-reverse: next chunk index + 1 */
    int which = 0;
    for (;;) {
        off_t at;
        if (c->rdmode == RD_PREAD_REVERSE) {
            if (rev_i == 0)
                break;
            rev_i--;
            at = (off_t)(rev_i * c->bufsize);
        } else {
            at = off;
        }
        if (c->rdmode == RD_READ && lseek(fd, 0, SEEK_CUR) != at) {
            if (lseek(fd, at, SEEK_SET) != at) /* undo a previous "seek away" */
                die("lseek back");
        }
        unsigned char *p = buf[which];
        unsigned char *pb = base[which];
        size_t n = get_chunk(c, fd, p, c->bufsize, at);
        if (n == 0 && c->rdmode != RD_PREAD_REVERSE)
            break;
        after_read(s, fd, pb, alloc, p, n);
        off = at + (off_t)n;

        switch (c->bufmode) {
        case BUF_ONE:
            write_chunk(s, p, n, at);
            break;
        case BUF_ALTERNATE:
            write_chunk(s, p, n, at);
            which ^= 1;
            break;
        case BUF_COPY:
            memcpy(copybuf, p, n);
            if (rpct(r, 50))
                write_chunk(s, copybuf, n, at);
            else
                write_chunk(s, p, n, at);
            break;
        case BUF_READAHEAD: {
            /* read the following chunk into the other buffer before writing this one */
            unsigned char *q = buf[which ^ 1];
            size_t m = 0;
            off_t at2 = off;
            if (c->rdmode == RD_PREAD_REVERSE) {
                if (rev_i > 0) {
                    rev_i--;
                    at2 = (off_t)(rev_i * c->bufsize);
                    m = get_chunk(c, fd, q, c->bufsize, at2);
                    after_read(s, fd, base[which ^ 1], alloc, q, m);
                }
            } else {
                if (c->rdmode == RD_READ && lseek(fd, 0, SEEK_CUR) != at2 &&
                    lseek(fd, at2, SEEK_SET) != at2)
                    die("lseek back");
                m = get_chunk(c, fd, q, c->bufsize, at2);
                after_read(s, fd, base[which ^ 1], alloc, q, m);
                off = at2 + (off_t)m;
            }
            write_chunk(s, p, n, at);
            if (m)
                write_chunk(s, q, m, at2);
            else if (c->rdmode != RD_PREAD_REVERSE)
                goto done;
            break;
        }
        }
    }
done:
    free(base[0]);
    free(base[1]);
    free(copybuf);
}

/* ----------------------------------------------------------------- copy -- */

/* Changes 1-4 bytes of p[0..n) (first, last or anywhere): the changed bytes must reach the wire. */
static void change_bytes(rng_t *r, unsigned char *p, size_t n)
{
    if (n == 0)
        return;
    unsigned k = (unsigned)rrange(r, 1, 4);
    for (unsigned i = 0; i < k; i++) {
        unsigned w = (unsigned)rbelow(r, 4);
        size_t pos = w == 0 ? 0 : w == 1 ? n - 1 : (size_t)rbelow(r, n);
        p[pos] ^= (unsigned char)rrange(r, 1, 255);
    }
}

#define COPY_HROOM 8192 /* room before the copy: header + chunk in one buffer */
#define COPY_SLACK 320  /* room after it: alignment shift and trailer */

/* The chunk read is memcpy()d to another buffer and that one is written: whole, in pieces,
 * two chunks joined, behind a header in the same buffer, with bytes changed, as iovecs next
 * to original bytes; or moved within the read buffer itself. Today the library passes these
 * through (the copy has no record); one that matches writes by content must still send the
 * changed bytes. */
static void run_copy(sender_t *s, int fd)
{
    const config_t *c = s->cfg;
    rng_t *r = s->r;
    size_t B = c->bufsize;
    size_t salloc = c->bufoff + B + 64;
    unsigned char *sbase = malloc(salloc), *sbase2 = malloc(B + 1);
    size_t calloc_n = COPY_HROOM + 2 * B + COPY_SLACK;
    unsigned char *cbase = malloc(calloc_n);
    if (!sbase || !sbase2 || !cbase)
        die("malloc");
    memset(sbase, 0xA5, salloc);
    memset(cbase, 0x5A, calloc_n);
    unsigned char *src = sbase + c->bufoff, *src2 = sbase2;
    unsigned char *prog = make_prog(r);
    segs_t v;
    v.n = 0;
    off_t off = 0;
    for (;;) {
        size_t want = rpct(r, 70) ? B : (size_t)rrange(r, 1, B);
        size_t n = read_at(c, fd, src, want, off);
        if (n == 0)
            break;
        off += (off_t)n;
        if (rpct(r, c->mut_pct))
            mutate(r, src, n); /* the original changed before it is copied */
        size_t align = rpct(r, 50) ? 0 : (size_t)rbelow(r, 64);
        unsigned char *cp = cbase + COPY_HROOM + align;
        int pat = (int)rbelow(r, 9);
        vlog("    copy pat=%d n=%zu align=%zu\n", pat, n, align);
        switch (pat) {
        case 0: /* the copy, whole (or split by write_chunk); sometimes the original changes after the copy */
            memcpy(cp, src, n);
            if (rpct(r, 30))
                change_bytes(r, src, n);
            write_chunk(s, cp, n, 0);
            break;
        case 1: { /* the copy in 2-4 pieces, in order; a later piece of it changed between the writes */
            memcpy(cp, src, n);
            int pieces = (int)rrange(r, 2, 4);
            size_t a = 0;
            for (int i = 0; i < pieces && a < n; i++) {
                size_t len = i == pieces - 1 ? n - a : (size_t)rrange(r, 1, n - a);
                send_all(s, cp + a, len);
                a += len;
                if (a < n && rpct(r, 30))
                    change_bytes(r, cp + a, n - a);
            }
            break;
        }
        case 2: { /* two reads -> one write from a third buffer (first bytes of chunk 1 sometimes dropped) */
            size_t want2 = rpct(r, 70) ? B : (size_t)rrange(r, 1, B);
            size_t m = read_at(c, fd, src2, want2, off);
            off += (off_t)m;
            size_t skip = (n > 1 && rpct(r, 20)) ? (size_t)rbelow(r, n) : 0;
            memcpy(cp, src + skip, n - skip);
            memcpy(cp + n - skip, src2, m);
            size_t tot = n - skip + m;
            if (rpct(r, c->mut_pct))
                change_bytes(r, cp, tot);
            write_chunk(s, cp, tot, 0);
            break;
        }
        case 3: { /* header + chunk + trailer in one buffer, one write */
            size_t hl = pick_hlen(r);
            if (hl > COPY_HROOM)
                hl = COPY_HROOM;
            size_t tl = (size_t)rbelow(r, COPY_SLACK - 64 + 1);
            memcpy(cp - hl, prog_slice(r, prog, hl), hl);
            memcpy(cp, src, n);
            memcpy(cp + n, prog_slice(r, prog, tl), tl);
            if (rpct(r, c->mut_pct))
                change_bytes(r, cp - hl, hl + n + tl);
            send_all(s, cp - hl, hl + n + tl);
            break;
        }
        case 4: /* the copy with some bytes changed */
            memcpy(cp, src, n);
            change_bytes(r, cp, n);
            write_chunk(s, cp, n, 0);
            break;
        case 5: { /* writev/sendmsg of copies */
            memcpy(cp, src, n);
            if (rpct(r, 30))
                change_bytes(r, cp, n);
            unsigned h = (unsigned)rbelow(r, 4);
            if (h == 0) { /* [header, copy] */
                size_t hl = pick_hlen(r);
                seg_add(&v, prog_slice(r, prog, hl), hl);
                seg_add(&v, cp, n);
            } else if (h == 1) { /* [copy part A, original part B] */
                size_t x = (size_t)rbelow(r, n + 1);
                seg_add(&v, cp, x);
                seg_add(&v, src + x, n - x);
            } else if (h == 2) { /* [sub-range of the copy, the original] */
                size_t a, b;
                pick_sub(r, n, &a, &b);
                seg_add(&v, cp + a, b - a);
                seg_add(&v, src, n);
            } else { /* the copy as three adjacent iovecs */
                size_t x = (size_t)rbelow(r, n + 1), y = (size_t)rrange(r, x, n);
                seg_add(&v, cp, x);
                seg_add(&v, cp + x, y - x);
                seg_add(&v, cp + y, n - y);
            }
            prep_and_send(s, &v, prog);
            break;
        }
        case 6: { /* a sub-range of the copy */
            memcpy(cp, src, n);
            size_t a, b;
            pick_sub(r, n, &a, &b);
            write_chunk(s, cp + a, b - a, 0);
            break;
        }
        case 8: { /* framed: pieces from inside the chunk on, each behind a header in one
                   * protocol buffer, one frame after another (the content search's streams) */
            size_t hl = pick_hlen(r), at = rpct(r, 50) ? (size_t)rbelow(r, n) : 0;
            size_t piece = (size_t)rrange(r, n / 16 + 1, n);
            if (hl > COPY_HROOM)
                hl = COPY_HROOM;
            for (size_t a = at; a < n; a += piece) {
                size_t len = n - a < piece ? n - a : piece;
                memcpy(cp - hl, prog_slice(r, prog, hl), hl);
                memcpy(cp, src + a, len);
                if (rpct(r, c->mut_pct))
                    change_bytes(r, cp - hl, hl + len);
                if (rpct(r, 50)) {
                    send_all(s, cp - hl, hl + len);
                } else {
                    seg_add(&v, cp - hl, hl);
                    seg_add(&v, cp, len);
                    prep_and_send(s, &v, prog);
                }
            }
            break;
        }
        case 7: /* moved within the read buffer itself (memmove), then written from there */
            if (rpct(r, 50)) {
                size_t d = (size_t)rrange(r, 1, 64);
                memmove(src + d, src, n);
                send_all(s, src + d, n);
            } else {
                size_t d = (size_t)rbelow(r, n);
                memmove(src, src + d, n - d);
                send_all(s, src, n - d);
            }
            break;
        }
    }
    free(sbase);
    free(sbase2);
    free(cbase);
    free(prog);
}

/* ---------------------------------------------------------------- fault -- */

enum { FM_PROT_ALL, FM_PROT_HEAD, FM_PROT_TAIL, FM_UNMAP_ALL, FM_UNMAP_TAIL, FM_TRUNC };
static const char *fm_names[] = { "mprotect-all", "mprotect-head", "mprotect-tail", "munmap-all", "munmap-tail",
                                  "truncate" };

typedef struct {
    unsigned long faults;     /* writes from a buffer made (partly) unreadable */
    unsigned long readfaults; /* reads into a read-only page */
    unsigned long bad;        /* results outside what the kernel may return */
    char msg[256];            /* the first of those */
    unsigned long cr_calls;   /* raw close_range calls of the child (adversity) */
    unsigned long cr_reuse;   /* numbers they freed that the child took again */
    unsigned long cr_foreign; /* descriptors they closed that the program never opened */
    int cr_foreign_fd, cr_foreign_from;
    int blocked;              /* the child blocked every signal (adversity BL_CHILD) */
} fault_status_t;

#define PG 4096
#define FAULT_BUDGET 64 /* faults per case: keeps the mprotect/munmap count bounded */

static unsigned char *pg_down(unsigned char *p) { return (unsigned char *)((uintptr_t)p & ~(uintptr_t)(PG - 1)); }
static unsigned char *pg_up(unsigned char *p) { return pg_down(p + PG - 1); }

__attribute__((format(printf, 2, 3))) static void fault_bad(fault_status_t *st, const char *fmt, ...)
{
    st->bad++;
    if (st->msg[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->msg, sizeof st->msg, fmt, ap);
    va_end(ap);
}

/* One write/send/sendto or writev/sendmsg, repeated only after EINTR or EAGAIN (and a poll). */
static ssize_t fault_call(sender_t *s, int vec, int call, int vc, struct iovec *iov, int cnt, int *err)
{
    for (;;) {
        ssize_t w = vec ? do_vcall(vc, s->sock, iov, cnt) : do_call(call, s->sock, iov[0].iov_base, iov[0].iov_len);
        s->calls++;
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            s->eagains++;
            wait_writable(s->sock);
            continue;
        }
        *err = w < 0 ? errno : 0;
        return w;
    }
}

/* The fault kind's copy loop (run in a child). Chunks are read into an anonymous mapping or a
 * MAP_SHARED mapping of another file; some are then made unreadable (mprotect PROT_NONE of all,
 * the first or the last pages, munmap of all or the last pages, or truncation of the mapped
 * file under the last pages) and written alone or as [header, chunk, trailer] by writev/sendmsg.
 * With R readable bytes before the first unreadable one, the kernel returns -1 EFAULT or a count
 * in 1..R (where it stops depends on how it groups the copy, so no exact count is asked for);
 * anything else is counted as bad. Then the pages are made readable again (munmap'ed ones come
 * back with other bytes, truncated ones as zeros) and the rest is sent from there, so the stream,
 * and the digest, do not depend on where the faulting call stopped. Some reads go into a
 * read-only page first: -1 EFAULT (or 0 at the end of the file). */
static void fault_body(sender_t *s, int fd, fault_status_t *st)
{
    const config_t *c = s->cfg;
    rng_t *r = s->r;
    size_t B = c->bufsize;
    size_t rlen = ((c->bufoff + B + PG - 1) / PG + 1) * PG;
    unsigned char *anon = mmap(NULL, rlen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (anon == MAP_FAILED)
        die("mmap %zu", rlen);
    char mpath[sizeof g_path + 8];
    snprintf(mpath, sizeof mpath, "%s.map", g_path);
    int mfd = fd_hold(open(mpath, O_RDWR | O_CREAT | O_TRUNC, 0600));
    if (mfd < 0)
        die("create %s", mpath);
    unlink(mpath);
    if (ftruncate(mfd, (off_t)rlen) != 0)
        die("ftruncate");
    unsigned char *shr = mmap(NULL, rlen, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
    if (shr == MAP_FAILED)
        die("mmap shared %zu", rlen);
    unsigned char *snap = malloc(8192 + B);
    if (!snap)
        die("malloc");
    unsigned char *prog = make_prog(r);
    off_t off = 0;
    unsigned budget = FAULT_BUDGET;
    for (;;) {
        int shared = rpct(r, 30);
        unsigned char *region = shared ? shr : anon;
        unsigned char *p = region + c->bufoff;
        size_t want = rpct(r, 70) ? B : (size_t)rrange(r, 1, B);
        if (budget && rpct(r, 10)) { /* into a read-only page: nothing is read */
            budget--;
            if (c->rdmode == RD_READ && lseek(fd, off, SEEK_SET) != off)
                die("lseek");
            if (mprotect(pg_down(p), PG, PROT_READ) != 0)
                die("mprotect");
            ssize_t n = c->rdmode == RD_READ ? read(fd, p, want) : pread(fd, p, want, off);
            int e = errno;
            if (mprotect(pg_down(p), PG, PROT_READ | PROT_WRITE) != 0)
                die("mprotect");
            st->readfaults++;
            if (!(n < 0 && e == EFAULT) && !(n == 0 && off >= (off_t)c->size))
                fault_bad(st, "%s of %zu at %lld into a read-only page returned %zd (errno %d), not -1 EFAULT",
                          rd_names[c->rdmode], want, (long long)off, n, n < 0 ? e : 0);
        }
        size_t n = read_at(c, fd, p, want, off);
        if (n == 0)
            break;
        off += (off_t)n;
        if (rpct(r, c->mut_pct))
            mutate(r, p, n);
        if (!budget || !rpct(r, c->fault_pct)) {
            write_chunk(s, p, n, 0);
            continue;
        }
        budget--;
        int fm = shared ? (rpct(r, 60) ? FM_TRUNC : (int)rbelow(r, 3)) : (int)rbelow(r, FM_TRUNC);
        unsigned char *first = pg_down(p), *end = pg_up(p + n), *cut = first;
        size_t pages = (size_t)(end - first) / PG;
        if (fm == FM_PROT_HEAD)
            end = first + PG;
        else if ((fm == FM_PROT_TAIL || fm == FM_UNMAP_TAIL || fm == FM_TRUNC) && pages > 1 &&
                 !(fm == FM_TRUNC && rpct(r, 30)))
            cut = first + PG * rrange(r, 1, pages - 1);
        size_t R = cut > p ? (size_t)(cut - p) : 0;
        int vec = rpct(r, 40);
        int vc = c->vcall == VC_MIXED ? (int)rbelow(r, 3) : c->vcall;
        int call = c->call == CALL_MIXED ? (int)rbelow(r, 4) : c->call;
        size_t hl = vec ? pick_hlen(r) : 0;
        if (hl > 8192)
            hl = 8192;
        size_t tl = vec && rpct(r, 50) ? (size_t)rrange(r, 1, 40) : 0;
        unsigned char *hp = prog_slice(r, prog, hl), *tp = prog_slice(r, prog, tl);
        memcpy(snap, hp, hl); /* what the call may send */
        memcpy(snap + hl, p, n);
        vlog("    fault %s%s n=%zu pages=%zu readable=%zu hdr=%zu trl=%zu\n", fm_names[fm], vec ? " vec" : "", n,
             pages, R, hl, tl);
        int rc = 0;
        if (fm <= FM_PROT_TAIL)
            rc = mprotect(cut, (size_t)(end - cut), PROT_NONE);
        else if (fm <= FM_UNMAP_TAIL)
            rc = munmap(cut, (size_t)(end - cut));
        else
            rc = ftruncate(mfd, cut - shr);
        if (rc != 0)
            die("%s", fm_names[fm]);
        struct iovec iov[3] = { { hp, hl }, { p, n }, { tp, tl } };
        int e;
        ssize_t w = vec ? fault_call(s, 1, call, vc, iov, tl ? 3 : 2, &e) : fault_call(s, 0, call, vc, iov + 1, 1, &e);
        st->faults++;
        if (!((w < 0 && e == EFAULT) || (w > 0 && (size_t)w <= hl + R)))
            fault_bad(st, "%s of %zu bytes (%zu readable, %s) returned %zd (errno %d), not -1 EFAULT or 1..%zu",
                      vec ? vc_names[vc] : call_names[call], hl + n + tl, hl + R, fm_names[fm], w, w < 0 ? e : 0,
                      hl + R);
        /* readable again; munmap'ed pages come back with other bytes, truncated ones as zeros */
        if (fm <= FM_PROT_TAIL) {
            rc = mprotect(cut, (size_t)(end - cut), PROT_READ | PROT_WRITE);
        } else if (fm <= FM_UNMAP_TAIL) {
            rc = mmap(cut, (size_t)(end - cut), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
                      0) == MAP_FAILED;
            if (!rc && rpct(r, 50)) {
                for (unsigned char *q = cut; q < end; q += 1024)
                    memcpy(q, prog_slice(r, prog, 1024), 1024);
            } else if (!rc) {
                if (pread(fd, cut, (size_t)(end - cut), (off_t)rbelow(r, (uint64_t)c->size + 1)) < 0)
                    die("pread");
            }
        } else {
            rc = ftruncate(mfd, (off_t)rlen);
        }
        if (rc != 0)
            die("restoring after %s", fm_names[fm]);
        size_t k = w > 0 ? (size_t)w : 0;
        if (k > hl + n + tl)
            k = hl + n + tl;
        bytes_append(s->expected, snap, k < hl + n ? k : hl + n);
        if (k > hl + n)
            bytes_append(s->expected, tp, k - hl - n);
        if (k < hl)
            send_all(s, hp + k, hl - k);
        if (k < hl + n)
            send_all(s, p + (k > hl ? k - hl : 0), n - (k > hl ? k - hl : 0));
        if (tl && k < hl + n + tl)
            send_all(s, tp + (k > hl + n ? k - hl - n : 0), tl - (k > hl + n ? k - hl - n : 0));
    }
    munmap(anon, rlen);
    munmap(shr, rlen);
    fd_close(mfd);
    free(snap);
    free(prog);
}

/* Reads up to n bytes, waiting at most timeout_ms for each piece; the count read. */
static size_t read_some(int fd, void *p, size_t n, int timeout_ms, int *timedout)
{
    size_t k = 0;
    while (k < n) {
        struct pollfd pf = { .fd = fd, .events = POLLIN };
        int pr = poll(&pf, 1, timeout_ms);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr == 0) {
            *timedout = 1;
            break;
        }
        ssize_t m = read(fd, (unsigned char *)p + k, n - k);
        if (m < 0 && errno == EINTR)
            continue;
        if (m <= 0)
            break;
        k += (size_t)m;
    }
    return k;
}

/* Runs fault_body in a forked child, so that a crash (of the library, on an unreadable
 * buffer) ends only the child; the child hands back what it sent through a pipe. The outcome
 * goes into the case line: "child=exit0" unless it crashed, hung or failed. Returns 1 if the
 * case failed already (no usable record of what was sent). */
static int run_child(sender_t *s, int fd, uint64_t idx, char *extra, size_t extran,
                     void (*body)(sender_t *, int, fault_status_t *))
{
    int pp[2];
    if (pipe(pp) != 0)
        die("pipe");
    fd_hold(pp[0]);
    fd_hold(pp[1]);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        fd_close(pp[0]);
        fault_status_t st;
        memset(&st, 0, sizeof st);
        if (s->cfg->blocked == BL_CHILD) {
            sigset_t old;
            if (!block_all(&old))
                die("the child could not block every signal");
            st.blocked = 1;
        }
        g_cr_calls = 0;
        body(s, fd, &st);
        st.cr_calls = g_cr_calls;
        st.cr_reuse = g_cr_reuse;
        st.cr_foreign = g_cr_foreign;
        st.cr_foreign_fd = g_cr_foreign_fd;
        st.cr_foreign_from = g_cr_foreign_from;
        uint64_t len = s->expected->len;
        pipe_io(1, pp[1], &len, sizeof len);
        if (len)
            pipe_io(1, pp[1], s->expected->p, len);
        pipe_io(1, pp[1], &st, sizeof st);
        _exit(0);
    }
    fd_close(pp[1]);
    int timedout = 0, fail = 0;
    uint64_t len = 0;
    fault_status_t st;
    memset(&st, 0, sizeof st);
    int got_all = 0;
    if (read_some(pp[0], &len, sizeof len, 30000, &timedout) == sizeof len && len < ((uint64_t)1 << 34)) {
        unsigned char *b = malloc(len ? len : 1);
        if (!b)
            die("malloc");
        if (read_some(pp[0], b, len, 30000, &timedout) == len &&
            read_some(pp[0], &st, sizeof st, 30000, &timedout) == sizeof st) {
            bytes_append(s->expected, b, len);
            got_all = 1;
        }
        free(b);
    }
    if (timedout)
        kill(pid, SIGKILL);
    fd_close(pp[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            die("waitpid");
    char how[64];
    if (timedout)
        snprintf(how, sizeof how, "hung");
    else if (WIFSIGNALED(status))
        snprintf(how, sizeof how, "sig%d", WTERMSIG(status));
    else
        snprintf(how, sizeof how, "exit%d", WEXITSTATUS(status));
    if (!got_all || timedout || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        printf("FAIL case %" PRIu64 ": sender child %s%s\n", idx,
               timedout ? "hung (30 s), killed" : WIFSIGNALED(status) ? "killed by " : "ended with ",
               timedout ? "" : WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : how);
        fail = 1;
    } else if (st.bad) {
        printf("FAIL case %" PRIu64 ": %lu results outside what the kernel may return, first: %s\n", idx, st.bad,
               st.msg);
        fail = 2; /* the record of what was sent is still good */
    }
    snprintf(extra, extran, " child=%s", how); /* (counts vary with timing: see pick_extra) */
    vlog("    faults=%lu readfaults=%lu close_range=%lu blocked=%d\n", st.faults, st.readfaults, st.cr_calls,
         st.blocked);
    if (got_all) {
        g_cr_calls += st.cr_calls;
        g_cr_reuse += st.cr_reuse;
        if (st.cr_foreign && !g_cr_foreign) {
            g_cr_foreign_fd = st.cr_foreign_fd;
            g_cr_foreign_from = st.cr_foreign_from;
        }
        g_cr_foreign += st.cr_foreign;
        if (st.blocked) {
            g_adv.bl_cases++;
            g_adv.bl_by[BL_CHILD]++;
            g_adv.bl_faults += st.faults;
        }
    }
    return fail;
}

/* ----------------------------------------------------------------- mmap -- */

enum { MT_SHARED_RO, MT_PRIVATE_RO, MT_PRIVATE_RW, MT_SHARED_RW };
static const char *mt_names[] = { "shared-ro", "private-ro", "private-rw", "shared-rw" };
enum { ME_NONE, ME_REMAP, ME_REMAP_RAW, ME_REMAP_RAW_SELF, ME_MREMAP, ME_MPROTECT, ME_MPROTECT_RAW, ME_COPY,
       ME_SHADOW, ME_TRUNC };
static const char *me_names[] = { "none", "remap", "remap-raw", "remap-raw-self", "mremap", "mprotect",
                                  "mprotect-raw", "copy", "shadow", "truncate" };

/* Sends hp[0..hl) then p[0..n) completely (hl only with vec): one writev/sendmsg of
 * [header, mapped bytes] or write/send/sendto of the bytes, continued after partial counts,
 * recording what each call accepted as the memory held it at the call. */
static void mm_send(sender_t *s, unsigned char *hp, size_t hl, unsigned char *p, size_t n, int vec, int call, int vc)
{
    size_t k = 0, tot = hl + n;
    while (k < tot) {
        struct iovec iov[2];
        int cnt = 0;
        if (k < hl)
            iov[cnt++] = (struct iovec){ hp + k, hl - k };
        size_t pk = k > hl ? k - hl : 0;
        iov[cnt++] = (struct iovec){ p + pk, n - pk };
        ssize_t w = vec ? do_vcall(vc, s->sock, iov, cnt) : do_call(call, s->sock, iov[0].iov_base, iov[0].iov_len);
        s->calls++;
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            s->eagains++;
            wait_writable(s->sock);
            continue;
        }
        if (w <= 0 || (size_t)w > tot - k)
            die("mmap kind: %s of %zu bytes returned %zd", vec ? vc_names[vc] : call_names[call], tot - k, w);
        append_iov(s->expected, iov, cnt, (size_t)w);
        k += (size_t)w;
        if (k < tot)
            s->partials++;
    }
}

/* The mmap kind's loop: the file mapped in windows (MAP_SHARED or MAP_PRIVATE, read-only, or
 * writable and stored into: a MAP_SHARED store changes the file), written from the mapping in
 * pieces (write/send/sendto, or writev/sendmsg behind a header), then munmap'ed. Events before
 * the write: another file mapped over the window with MAP_FIXED by the (wrapped) mmap, or by raw
 * syscalls behind the library's back (or the same file at another offset); mremap to another
 * address; mprotect(PROT_WRITE) and a store (wrapped, or a raw mprotect of a shared mapping made
 * writable behind the library's back); a copy of the window into a heap buffer written whole
 * (PHP); a read-only "shadow" mapping of the same window next to a writable shared one (its bytes
 * are then a content match); and (st != NULL: in a child) truncation of the file under the
 * window: the call gives -1 EFAULT or 1..R like the fault kind, the file is extended back (zeros)
 * and the rest sent. Writable mappings are stored into again after a piece's write returned
 * (before the next write): the wire must carry the bytes as they were at the write. */
static void mmap_body(sender_t *s, int fd, fault_status_t *st)
{
    const config_t *c = s->cfg;
    rng_t *r = s->r;
    size_t size = c->size;
    if (size == 0)
        return;
    int rwfd = fd_hold(open(g_path, O_RDWR));
    if (rwfd < 0)
        die("open %s rw", g_path);
    char opath[sizeof g_path + 8];
    snprintf(opath, sizeof opath, "%s.mo", g_path);
    size_t osize = (size + PG - 1) / PG * PG + PG * (size_t)rbelow(r, 3);
    write_file_at(opath, r, osize);
    int ofd = fd_hold(open(opath, O_RDONLY));
    if (ofd < 0)
        die("open %s", opath);
    unlink(opath);
    unsigned char *prog = make_prog(r);
    unsigned budget = FAULT_BUDGET;
    size_t off = 0;
    while (off < size) {
        size_t wl = size - off < c->mm_window ? size - off : c->mm_window;
        int mt = (int)rbelow(r, 4);
        int rw = mt == MT_PRIVATE_RW || mt == MT_SHARED_RW;
        int shared = mt == MT_SHARED_RO || mt == MT_SHARED_RW;
        int ev = rpct(r, c->mm_ev_pct) ? (int)rrange(r, ME_REMAP, ME_TRUNC) : ME_NONE;
        if (ev == ME_TRUNC && (!st || !budget))
            ev = ME_NONE;
        if ((ev == ME_MPROTECT_RAW && mt != MT_SHARED_RO) || (ev == ME_MPROTECT && rw) ||
            (ev == ME_SHADOW && mt != MT_SHARED_RW) || (ev == ME_REMAP_RAW_SELF && wl > size))
            ev = ME_NONE;
        /* shared-ro through the O_RDWR fd sometimes: a raw mprotect can then make it writable */
        int mfd = mt == MT_SHARED_RW || ev == ME_MPROTECT_RAW || ev == ME_MPROTECT || rpct(r, 20) ? rwfd : fd;
        unsigned char *p = mmap(NULL, wl, PROT_READ | (rw ? PROT_WRITE : 0), shared ? MAP_SHARED : MAP_PRIVATE,
                                mfd, (off_t)off);
        if (p == MAP_FAILED)
            die("mmap window %zu at %zu", wl, off);
        unsigned char *mapped = p; /* what to munmap at the end */
        unsigned char *shadow = NULL;
        vlog("    window off=%zu len=%zu %s %s\n", off, wl, mt_names[mt], me_names[ev]);
        if (rw && rpct(r, 60))
            mutate(r, p, wl); /* a store before the write (MAP_SHARED: into the file) */
        switch (ev) {
        case ME_REMAP: /* the wrapped mmap: the library forgets the window */
            if (mmap(p, wl, PROT_READ, (rpct(r, 50) ? MAP_SHARED : MAP_PRIVATE) | MAP_FIXED, ofd, 0) != p)
                die("mmap MAP_FIXED");
            rw = 0;
            break;
        case ME_REMAP_RAW: /* behind the library's back: its entry still claims the window */
            if (rpct(r, 50) && syscall(SYS_munmap, p, wl) != 0)
                die("raw munmap");
            if ((void *)syscall(SYS_mmap, p, wl, PROT_READ, (rpct(r, 50) ? MAP_SHARED : MAP_PRIVATE) | MAP_FIXED, ofd,
                                0) != p)
                die("raw mmap MAP_FIXED");
            rw = 0;
            break;
        case ME_REMAP_RAW_SELF: { /* the same file at another offset, behind the library's back */
            size_t o2 = PG * (size_t)rbelow(r, (size - wl) / PG + 1);
            if (o2 == off)
                o2 = off ? 0 : ((size - wl) / PG >= 1 ? PG : 0);
            if ((void *)syscall(SYS_mmap, p, wl, PROT_READ, (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_FIXED, fd,
                                (off_t)o2) != p)
                die("raw mmap self");
            rw = 0;
            break;
        }
        case ME_MREMAP: {
            unsigned char *to = mmap(NULL, wl, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (to == MAP_FAILED)
                die("mmap reserve");
            unsigned char *np = mremap(p, wl, wl, MREMAP_MAYMOVE | MREMAP_FIXED, to);
            if (np != to)
                die("mremap");
            if (rpct(r, 50)) { /* and the old address reused for the other file */
                if (mmap(p, wl, PROT_READ, MAP_PRIVATE | MAP_FIXED, ofd, 0) == MAP_FAILED)
                    die("mmap at the old address");
                mm_send(s, NULL, 0, p, wl < 4096 ? wl : 4096, 0, CALL_WRITE, 0);
                munmap(p, wl);
            }
            p = mapped = np;
            break;
        }
        case ME_MPROTECT: /* the wrapped mprotect: the library forgets the window */
            if (mprotect(p, wl, PROT_READ | PROT_WRITE) != 0)
                die("mprotect");
            rw = 1;
            if (rpct(r, 70))
                mutate(r, p, wl);
            break;
        case ME_MPROTECT_RAW: /* a read-only shared window made writable behind the library's back */
            if (syscall(SYS_mprotect, p, wl, PROT_READ | PROT_WRITE) != 0)
                die("raw mprotect");
            rw = 1;
            if (rpct(r, 50))
                mutate(r, p, wl);
            break;
        case ME_SHADOW: /* a read-only mapping of the same bytes: the writable one's are a content match */
            shadow = mmap(NULL, wl, PROT_READ, rpct(r, 50) ? MAP_SHARED : MAP_PRIVATE, fd, (off_t)off);
            if (shadow == MAP_FAILED)
                die("mmap shadow");
            break;
        }
        int call = c->call == CALL_MIXED ? (int)rbelow(r, 4) : c->call;
        int vc = c->vcall == VC_MIXED ? (int)rbelow(r, 3) : c->vcall;
        if (ev == ME_COPY) { /* PHP: the window copied into the output buffer, written whole */
            size_t hl = rpct(r, 40) ? pick_hlen(r) : 0;
            unsigned char *hb = malloc(hl + wl);
            if (!hb)
                die("malloc");
            memcpy(hb, prog_slice(r, prog, hl), hl);
            memcpy(hb + hl, p, wl);
            if (rpct(r, 20))
                mutate(r, hb + hl, wl);
            mm_send(s, NULL, 0, hb, hl + wl, 0, call, vc);
            free(hb);
        } else if (ev == ME_TRUNC) { /* in the child: the file cut under the window's tail */
            budget--;
            /* what goes before the cut page-aligned: truncating pages sendfile may still have
             * queued is the file changing after a write (outside the library's contract: a
             * large folio cut in the middle is zeroed in place), not a fault at the write */
            size_t pos = rpct(r, 50) ? 0 : PG * (size_t)rbelow(r, (wl + PG - 1) / PG);
            size_t n = wl - pos;
            unsigned char *first = pg_down(p + pos), *end = pg_up(p + wl);
            size_t pages = (size_t)(end - first) / PG;
            unsigned char *cut = pages > 1 && rpct(r, 70) ? first + PG * rrange(r, 1, pages - 1) : first;
            size_t R = cut > p + pos ? (size_t)(cut - (p + pos)) : 0;
            int vec = rpct(r, 40);
            size_t hl = vec ? pick_hlen(r) : 0;
            unsigned char *hp = prog_slice(r, prog, hl);
            if (pos)
                mm_send(s, NULL, 0, p, pos, 0, call, vc);
            unsigned char *snap = malloc(hl + n);
            if (!snap)
                die("malloc");
            memcpy(snap, hp, hl);
            memcpy(snap + hl, p + pos, n);
            if (ftruncate(rwfd, (off_t)(off + (size_t)(cut - p))) != 0)
                die("ftruncate");
            struct iovec iov[2] = { { hp, hl }, { p + pos, n } };
            int e;
            ssize_t w = fault_call(s, vec, call, vc, vec ? iov : iov + 1, vec ? 2 : 1, &e);
            st->faults++;
            if (!((w < 0 && e == EFAULT) || (w > 0 && (size_t)w <= hl + R)))
                fault_bad(st, "%s of %zu bytes from a %s window truncated at %zu (%zu readable) returned %zd (errno %d)",
                          vec ? vc_names[vc] : call_names[call], hl + n, mt_names[mt], off + (size_t)(cut - p), hl + R,
                          w, w < 0 ? e : 0);
            if (ftruncate(rwfd, (off_t)size) != 0) /* back: the cut pages read as zeros now */
                die("ftruncate back");
            size_t k = w > 0 ? (size_t)w : 0;
            bytes_append(s->expected, snap, k);
            free(snap);
            if (k < hl)
                mm_send(s, NULL, 0, hp + k, hl - k, 0, call, vc);
            size_t pk = k > hl ? k - hl : 0;
            mm_send(s, NULL, 0, p + pos + pk, n - pk, 0, call, vc);
        } else { /* pieces from the start of the window */
            size_t pos = 0;
            while (pos < wl) {
                size_t n = rpct(r, 40) ? wl - pos : (size_t)rrange(r, 1, wl - pos);
                int vec = rpct(r, 30);
                size_t hl = vec ? pick_hlen(r) : 0;
                mm_send(s, prog_slice(r, prog, hl), hl, p + pos, n, vec, call, vc);
                /* the write returned: a store into what it sent (it must have gone as it was),
                 * also into a writable shared mapping the library cannot see as one (a raw
                 * mprotect) or whose bytes match a read-only mapping's (shadow).
                 * --no-mmap-alias-stores leaves those two out. */
                int may_store = rw && (g_mm_alias || (ev != ME_SHADOW && ev != ME_MPROTECT_RAW));
                if (rpct(r, 70) && may_store)
                    mutate(r, p + pos, n);
                pos += n;
            }
        }
        if (shadow)
            munmap(shadow, wl);
        if (munmap(mapped, wl) != 0)
            die("munmap");
        off += wl;
    }
    free(prog);
    fd_close(ofd);
    fd_close(rwfd);
}

/* --------------------------------------------------------------- signal -- */

/* What the SIGALRM handler does, one action per signal, from a list the loop arms for a
 * window (the only times SIGALRM is unblocked). */
enum { SACT_TOUCH, SACT_DUP_AWAY, SACT_DUP_BACK, SACT_MARKER };
static const char *sact_names[] = { "touch", "dup-away", "dup-back", "marker" };

#define SIG_MAXACT 3
#define SIG_WINDOWS 40 /* handler windows per case */
#define SIG_LOGN 160   /* >= SIG_WINDOWS * SIG_MAXACT */
#define TOUCH_MAX 64
#define MARK_MIN 12
#define MARK_MAX 40

typedef struct {
    int type;
    unsigned char *p; /* touch: where */
    size_t len;       /* touch, marker */
    unsigned char bytes[TOUCH_MAX > MARK_MAX ? TOUCH_MAX : MARK_MAX];
} sigact_t;

typedef struct {
    unsigned char *p;
    size_t len;
    unsigned char bytes[TOUCH_MAX];
} touch_t;

typedef struct {
    size_t len;
    unsigned char bytes[MARK_MAX];
    unsigned long lo, hi; /* the marker lies after write call lo..hi (as counted by the loop) */
} mark_t;

/* one successful write call of the loop: where its bytes are in the expected record, where
 * they were in memory, and the touches logged while it could have been copying */
typedef struct {
    size_t eoff, len;
    unsigned char *base;
    int t0, t1;
} callrec_t;

static sigact_t g_act[SIG_MAXACT];
static volatile sig_atomic_t g_act_n, g_act_done;
static touch_t g_tlog[SIG_LOGN];
static volatile sig_atomic_t g_tlog_n;
static mark_t g_mlog[SIG_LOGN];
static volatile sig_atomic_t g_mlog_n;
static volatile unsigned long g_calls_done; /* write calls the loop has recorded */
static volatile sig_atomic_t g_in_call;     /* a call may have returned but not be recorded yet */
static int g_sig_sock = -1, g_sig_src = -1, g_sig_other = -1, g_sig_save = -1;
static volatile sig_atomic_t g_sig_err;
static pid_t g_main_tid;
static volatile unsigned long g_forwarded, g_ticks, g_incall; /* g_incall: actions run while a call was open */
static sigset_t g_alrm_set;
static callrec_t *g_recs;
static size_t g_nrec, g_caprec;

static void on_alarm(int sig)
{
    (void)sig;
    int e = errno;
    if (gettid() != g_main_tid) {
        /* every thread of ours blocks SIGALRM; one that does not (not ours) passes it on */
        g_forwarded++;
        tgkill(getpid(), g_main_tid, SIGALRM);
        errno = e;
        return;
    }
    g_ticks++;
    if (g_act_done < g_act_n) {
        sigact_t *a = &g_act[g_act_done];
        g_incall += g_in_call ? 1 : 0;
        switch (a->type) {
        case SACT_TOUCH:
            for (size_t i = 0; i < a->len; i++)
                ((volatile unsigned char *)a->p)[i] = a->bytes[i];
            if (g_tlog_n < SIG_LOGN) {
                touch_t *t = &g_tlog[g_tlog_n];
                t->p = a->p;
                t->len = a->len;
                memcpy(t->bytes, a->bytes, a->len);
                g_tlog_n++;
            }
            break;
        case SACT_DUP_AWAY:
        case SACT_DUP_BACK:
            if (dup2(a->type == SACT_DUP_AWAY ? g_sig_other : g_sig_save, g_sig_src) != g_sig_src)
                g_sig_err = errno;
            break;
        case SACT_MARKER: {
            unsigned long lo = g_calls_done, hi = g_calls_done + (g_in_call ? 1 : 0);
            size_t k = 0;
            while (k < a->len) {
                ssize_t w = write(g_sig_sock, a->bytes + k, a->len - k);
                if (w > 0) {
                    k += (size_t)w;
                } else if (w < 0 && errno == EINTR) {
                    continue;
                } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                    struct pollfd pf = { .fd = g_sig_sock, .events = POLLOUT };
                    poll(&pf, 1, 1000);
                } else {
                    g_sig_err = w < 0 ? errno : EIO;
                    break;
                }
            }
            if (g_mlog_n < SIG_LOGN) {
                mark_t *m = &g_mlog[g_mlog_n];
                m->len = a->len;
                memcpy(m->bytes, a->bytes, a->len);
                m->lo = lo;
                m->hi = hi;
                g_mlog_n++;
            }
            break;
        }
        }
        g_act_done++;
    }
    if (g_act_done >= g_act_n) {
        /* nothing left to do in this window: no more ticks (a tick every few tens of us
         * inside a long blocking write would only slow it down, or livelock valgrind) */
        struct itimerval zero;
        memset(&zero, 0, sizeof zero);
        setitimer(ITIMER_REAL, &zero, NULL);
    }
    errno = e;
}

typedef struct {
    int away;          /* the source fd number points at the other file now */
    unsigned windows;  /* windows left in this case */
    unsigned char *snap;
    unsigned long actions[4];
} sigplan_t;

static void act_touch(rng_t *r, unsigned char *p, size_t n)
{
    sigact_t *a = &g_act[g_act_n];
    size_t len = (size_t)rrange(r, 1, n < TOUCH_MAX ? n : TOUCH_MAX);
    a->type = SACT_TOUCH;
    a->p = p + rbelow(r, n - len + 1);
    a->len = len;
    for (size_t i = 0; i < len; i++)
        a->bytes[i] = (unsigned char)rnext(r);
    g_act_n++;
}

static void act_dup(sigplan_t *sp)
{
    g_act[g_act_n].type = sp->away ? SACT_DUP_BACK : SACT_DUP_AWAY;
    sp->away ^= 1;
    g_act_n++;
}

static void act_marker(rng_t *r)
{
    sigact_t *a = &g_act[g_act_n];
    a->type = SACT_MARKER;
    a->len = (size_t)rrange(r, MARK_MIN, MARK_MAX);
    a->bytes[0] = 0xFF;
    a->bytes[1] = 'M';
    a->bytes[2] = 'K';
    for (size_t i = 3; i < a->len; i++)
        a->bytes[i] = (unsigned char)rnext(r);
    g_act_n++;
}

/* Starts a window (SIGALRM blocked until now): the armed actions run one per signal, the
 * first one 1..sig_first_max us from now (a signal left pending from before is dropped). */
static void sig_open(sigplan_t *sp, rng_t *r, const config_t *c, const char *where)
{
    struct timespec z = { 0, 0 };
    while (sigtimedwait(&g_alrm_set, NULL, &z) > 0)
        ;
    /* around a call, often a first expiry short enough to land inside it */
    long first_max = c->sig_first_max;
    if (strcmp(where, "between") != 0 && first_max > 30 && rpct(r, 50))
        first_max = 30;
    struct itimerval it = { .it_interval = { 0, c->sig_interval },
                            .it_value = { 0, (long)rrange(r, 1, (uint64_t)first_max) } };
    if (setitimer(ITIMER_REAL, &it, NULL) != 0)
        die("setitimer");
    if (g_verbose) {
        char b[128];
        int k = 0;
        for (int i = 0; i < g_act_n && k < (int)sizeof b - 16; i++)
            k += snprintf(b + k, sizeof b - (size_t)k, " %s", sact_names[g_act[i].type]);
        b[k] = 0;
        vlog("    signal window %s:%s\n", where, b);
    }
    for (int i = 0; i < g_act_n; i++)
        sp->actions[g_act[i].type]++;
    sp->windows--;
    if (pthread_sigmask(SIG_UNBLOCK, &g_alrm_set, NULL) != 0)
        die("pthread_sigmask");
}

/* Ends a window: spins until every armed action ran, then blocks SIGALRM again. */
static void sig_close(void)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (unsigned long spins = 1; g_act_done < g_act_n; spins++) {
        __asm__ volatile("" ::: "memory");
        if (spins % 16 == 0)
            sched_yield(); /* a syscall now and then: valgrind delivers signals only at those */
        if (spins % 4096 == 0) {
            clock_gettime(CLOCK_MONOTONIC, &t1);
            if (t1.tv_sec - t0.tv_sec > 10) {
                errno = 0;
                die("SIGALRM handler ran %d of %d actions in 10 s", (int)g_act_done, (int)g_act_n);
            }
        }
    }
    if (pthread_sigmask(SIG_BLOCK, &g_alrm_set, NULL) != 0)
        die("pthread_sigmask");
    g_act_n = g_act_done = 0;
}

static void rec_call(size_t eoff, size_t len, unsigned char *base, int t0, int t1)
{
    if (g_nrec == g_caprec) {
        g_caprec = g_caprec ? 2 * g_caprec : 1024;
        g_recs = realloc(g_recs, g_caprec * sizeof *g_recs);
        if (!g_recs)
            die("out of memory");
    }
    g_recs[g_nrec++] = (callrec_t){ eoff, len, base, t0, t1 };
    g_calls_done++;
}

/* Sends p[0..n) completely (write/send/sendto). In a window (open), the handler may run at
 * any time: each call is recorded as the bytes p held just before it, plus the touches
 * logged from then until it was recorded (the receiver-side check accepts the state after
 * any prefix of those touches: one instant). */
static void sig_send(sender_t *s, sigplan_t *sp, unsigned char *p, size_t n, int open)
{
    const config_t *c = s->cfg;
    int call = c->call == CALL_MIXED ? (int)rbelow(s->r, 4) : c->call;
    size_t k = 0;
    while (k < n) {
        int t0 = g_tlog_n;
        if (open)
            memcpy(sp->snap, p + k, n - k);
        g_in_call = 1;
        ssize_t w = do_call(call, s->sock, p + k, n - k);
        int e = errno;
        s->calls++;
        if (w < 0) {
            g_in_call = 0;
            if (e == EINTR)
                continue;
            if (e == EAGAIN || e == EWOULDBLOCK) {
                s->eagains++;
                wait_writable(s->sock);
                continue;
            }
            errno = e;
            die("%s of %zu bytes failed", call_names[call], n - k);
        }
        if (w == 0 || (size_t)w > n - k) {
            errno = 0;
            die("%s of %zu bytes returned %zd", call_names[call], n - k, w);
        }
        size_t eoff = s->expected->len;
        bytes_append(s->expected, open ? sp->snap : p + k, (size_t)w);
        rec_call(eoff, (size_t)w, p + k, t0, g_tlog_n);
        g_in_call = 0;
        k += (size_t)w;
        if (k < n)
            s->partials++;
    }
}

static size_t sig_get(const config_t *c, int fd, unsigned char *p, size_t len, off_t off)
{
    for (;;) {
        ssize_t n = c->rdmode == RD_READ ? read(fd, p, len) : pread(fd, p, len, off);
        if (n >= 0)
            return (size_t)n;
        if (errno != EINTR)
            die("%s", rd_names[c->rdmode]);
    }
}

/* The signal kind's copy loop: read()/pread() a chunk, write it (whole or in 2-3 pieces in
 * order) with write/send/sendto, while a SIGALRM handler (setitimer) acts in windows:
 *   between read and write: touch the chunk, dup2 the other file onto the source fd (or the
 *     source back), write a marker on the socket; the loop spins until the actions ran, so
 *     what the write sends is fixed (deterministic digest);
 *   during a write call: touch a later piece, dup2 (deterministic), or (sig_timing only)
 *     touch the piece being written or write a marker: these may land before, inside or after
 *     the call, so the stream depends on timing (digest "timing"), and the check accepts, per
 *     call, the bytes before or after any prefix of the touches, and a marker only at a
 *     boundary between two of the loop's calls around the moment the handler ran;
 *   during the read (sig_timing only): touch the buffer being read into, or dup2.
 * Outside windows SIGALRM is blocked, so the loop's bookkeeping cannot be interrupted. */
static void run_signal(sender_t *s, int fd, const char *other_path)
{
    const config_t *c = s->cfg;
    rng_t *r = s->r;
    size_t alloc = c->bufoff + c->bufsize;
    unsigned char *base = malloc(alloc);
    sigplan_t sp;
    memset(&sp, 0, sizeof sp);
    sp.snap = malloc(c->bufsize);
    if (!base || !sp.snap)
        die("malloc");
    memset(base, 0xA5, alloc);
    unsigned char *p = base + c->bufoff;
    sp.windows = SIG_WINDOWS;

    g_sig_sock = s->sock;
    g_sig_src = fd;
    g_sig_save = fd_hold(dup(fd));
    g_sig_other = fd_hold(open(other_path, O_RDONLY));
    if (g_sig_save < 0 || g_sig_other < 0)
        die("dup / open %s", other_path);
    g_act_n = g_act_done = 0;
    g_tlog_n = g_mlog_n = 0;
    g_calls_done = 0;
    g_in_call = 0;
    g_sig_err = 0;
    g_nrec = 0;
    g_incall = 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = c->sig_restart ? SA_RESTART : 0;
    sigemptyset(&sa.sa_mask);
    unsigned long ticks0 = g_ticks;
    if (c->rawsig) {
#if defined(__x86_64__)
        /* a handler the library never saw installed (as one put in place before its
         * constructor): the raw system call, with glibc's restorer as glibc would pass it */
        struct ksigaction k = { on_alarm, (unsigned long)sa.sa_flags | SA_RESTORER, g_restorer, 0 };
        if (syscall(SYS_rt_sigaction, SIGALRM, &k, NULL, sizeof k.mask) != 0)
            die("rt_sigaction");
        struct sigaction rb;
        if (sigaction(SIGALRM, NULL, &rb) != 0 || rb.sa_handler != on_alarm ||
            !(rb.sa_flags & SA_RESTART) != !c->sig_restart) {
            errno = 0;
            die("the SIGALRM handler installed by rt_sigaction does not read back");
        }
        g_adv.raw_cases++;
#endif
    } else if (sigaction(SIGALRM, &sa, NULL) != 0) {
        die("sigaction");
    }

    off_t off = 0;
    for (;;) {
        size_t want = rpct(r, 70) ? c->bufsize : (size_t)rrange(r, 1, c->bufsize);
        size_t n;
        if (c->sig_timing && sp.windows && rpct(r, c->sig_pct / 2)) {
            if (rpct(r, 60))
                act_touch(r, p, want);
            else
                act_dup(&sp);
            sig_open(&sp, r, c, "read");
            n = sig_get(c, fd, p, want, off);
            sig_close();
        } else {
            n = sig_get(c, fd, p, want, off);
        }
        if (n == 0)
            break;
        off += (off_t)n;
        if (sp.windows && rpct(r, c->sig_pct)) {
            int k = (int)rrange(r, 1, SIG_MAXACT);
            for (int i = 0; i < k; i++) {
                unsigned x = (unsigned)rbelow(r, 100);
                if (x < 55)
                    act_touch(r, p, n);
                else if (x < 75)
                    act_dup(&sp);
                else
                    act_marker(r);
            }
            sig_open(&sp, r, c, "between");
            sig_close();
        }
        size_t cut[4] = { 0, n, n, n };
        int pieces = 1;
        if (n >= 3 && rpct(r, 40)) {
            pieces = (int)rrange(r, 2, 3);
            cut[1] = (size_t)rrange(r, 1, n - 2);
            cut[2] = pieces == 3 ? (size_t)rrange(r, cut[1] + 1, n - 1) : n;
            cut[pieces] = n;
        }
        for (int i = 0; i < pieces; i++) {
            unsigned char *q = p + cut[i];
            size_t len = cut[i + 1] - cut[i];
            if (sp.windows && rpct(r, c->sig_pct)) {
                int k = (int)rrange(r, 1, 2);
                for (int j = 0; j < k; j++) {
                    unsigned x = (unsigned)rbelow(r, 100);
                    if (c->sig_timing && x < 35)
                        act_touch(r, q, len); /* the piece being written */
                    else if (c->sig_timing && x < 55)
                        act_marker(r);
                    else if (cut[i + 1] < n && x < 80)
                        act_touch(r, p + cut[i + 1], n - cut[i + 1]); /* a later piece */
                    else
                        act_dup(&sp);
                }
                sig_open(&sp, r, c, "write");
                sig_send(s, &sp, q, len, 1);
                sig_close();
            } else {
                sig_send(s, &sp, q, len, 0);
            }
        }
    }
    struct itimerval zero;
    memset(&zero, 0, sizeof zero);
    setitimer(ITIMER_REAL, &zero, NULL);
    struct timespec z = { 0, 0 };
    while (sigtimedwait(&g_alrm_set, NULL, &z) > 0)
        ;
    if (sp.away && dup2(g_sig_save, fd) != fd)
        die("dup2 back");
    fd_close(g_sig_save);
    fd_close(g_sig_other);
    if (g_sig_err) {
        errno = g_sig_err;
        die("an action of the SIGALRM handler failed");
    }
    if (c->rawsig && g_ticks != ticks0)
        g_adv.raw_ran++;
    vlog("    signal: touches=%lu dups=%lu markers=%lu in-call=%lu ticks=%lu forwarded=%lu windows-left=%u\n",
         sp.actions[SACT_TOUCH], sp.actions[SACT_DUP_AWAY] + sp.actions[SACT_DUP_BACK], sp.actions[SACT_MARKER],
         g_incall, g_ticks, g_forwarded, sp.windows);
    free(base);
    free(sp.snap);
}

/* Checks the received stream of a signal case: the loop's calls in order, each as recorded or
 * as after a prefix of the touches logged during it, with the handler's markers in order, each
 * at a boundary between calls within its lo..hi. Returns 1 (and says why) on a mismatch. */
static int sig_check(uint64_t idx, const bytes_t *got, const bytes_t *exp, const char *desc)
{
    size_t pos = 0;
    int mi = 0, M = g_mlog_n;
    unsigned char *tmp = NULL;
    int fail = 0;
    for (size_t b = 0;; b++) {
        while (mi < M && g_mlog[mi].lo <= b) {
            mark_t *m = &g_mlog[mi];
            if (pos + m->len <= got->len && !memcmp(got->p + pos, m->bytes, m->len)) {
                pos += m->len;
                mi++;
                continue;
            }
            if (m->hi <= b) {
                printf("FAIL case %" PRIu64 ": handler marker %d (%zu bytes, written with %lu..%lu calls done) "
                       "not at stream offset %zu after call %zu [%s]\n",
                       idx, mi, m->len, m->lo, m->hi, pos, b, desc);
                fail = 1;
                goto out;
            }
            break;
        }
        if (b == g_nrec)
            break;
        callrec_t *rc = &g_recs[b];
        const unsigned char *want = exp->p + rc->eoff;
        if (pos + rc->len > got->len) {
            printf("FAIL case %" PRIu64 ": stream ends at %zu, inside call %zu (%zu bytes) [%s]\n", idx, got->len, b,
                   rc->len, desc);
            fail = 1;
            goto out;
        }
        const unsigned char *g = got->p + pos;
        if (memcmp(g, want, rc->len) != 0) {
            int ok = 0;
            free(tmp);
            tmp = malloc(rc->len);
            if (!tmp)
                die("malloc");
            memcpy(tmp, want, rc->len);
            for (int t = rc->t0; t < rc->t1 && !ok; t++) {
                touch_t *tt = &g_tlog[t];
                for (size_t i = 0; i < tt->len; i++)
                    if (tt->p + i >= rc->base && tt->p + i < rc->base + rc->len)
                        tmp[tt->p + i - rc->base] = tt->bytes[i];
                ok = !memcmp(g, tmp, rc->len);
            }
            if (!ok) {
                size_t o = 0;
                while (o < rc->len && g[o] == want[o])
                    o++;
                /* is every byte old or new (some touch), just not all from one instant? */
                int mixed = rc->t1 > rc->t0;
                for (size_t i = 0; i < rc->len && mixed; i++) {
                    int byte_ok = g[i] == want[i];
                    for (int t = rc->t0; t < rc->t1 && !byte_ok; t++) {
                        touch_t *tt = &g_tlog[t];
                        if (rc->base + i >= tt->p && rc->base + i < tt->p + tt->len)
                            byte_ok = g[i] == tt->bytes[rc->base + i - tt->p];
                    }
                    mixed = byte_ok;
                }
                printf("FAIL case %" PRIu64 ": write call %zu (%zu bytes at stream offset %zu, %d touches during it): "
                       "first difference at +%zu (got 0x%02x, expected 0x%02x)%s [%s]\n",
                       idx, b, rc->len, pos, rc->t1 - rc->t0, o, g[o], want[o],
                       mixed ? "; each byte is old or new, but not as of one instant" : "", desc);
                fail = 1;
                goto out;
            }
        }
        pos += rc->len;
    }
    if (mi < M) {
        printf("FAIL case %" PRIu64 ": handler marker %d of %d not in the stream (at %zu) [%s]\n", idx, mi, M, pos,
               desc);
        fail = 1;
    } else if (pos != got->len) {
        printf("FAIL case %" PRIu64 ": received %zu bytes, %zu more than the calls and markers [%s]\n", idx,
               got->len, got->len - pos, desc);
        fail = 1;
    }
out:
    free(tmp);
    return fail;
}

/* The copy loop of a case, whichever thread runs it. */
typedef struct {
    sender_t *s;
    int fd;
    uint64_t seed, idx;
    char *extra;
    size_t extran;
    int sock_closed, prefail;
} body_t;

static void run_body(body_t *b)
{
    sender_t *s = b->s;
    const config_t *c = s->cfg;
    int fd = b->fd;
    switch (c->kind) {
    case KIND_WRITE: run_write(s, fd); break;
    case KIND_VEC: run_vec(s, fd); break;
    case KIND_READV: run_readv(s, fd); break;
    case KIND_THREAD: run_thread(s, fd, rng_for(b->seed, b->idx, 5).s); break;
    case KIND_STDIO: b->sock_closed = run_stdio(s); break;
    case KIND_COPY: run_copy(s, fd); break;
    case KIND_FAULT: b->prefail = run_child(s, fd, b->idx, b->extra, b->extran, fault_body); break;
    case KIND_MMAP:
        if (c->mm_trunc)
            b->prefail = run_child(s, fd, b->idx, b->extra, b->extran, mmap_body);
        else
            mmap_body(s, fd, NULL);
        break;
    case KIND_SIGNAL: {
        /* the other file, that the handler dup2()s onto the source fd */
        char other[sizeof g_path + 8];
        snprintf(other, sizeof other, "%s.other", g_path);
        rng_t ro = rng_for(b->seed, b->idx, 7);
        write_file_at(other, &ro, (size_t)rbelow(&ro, 2 * (uint64_t)c->size + 4097));
        run_signal(s, fd, other);
        unlink(other);
        break;
    }
    }
}

/* BL_THREAD: the copy loop in a thread of its own that blocks every signal (the signal kind's
 * windows unblock SIGALRM alone, and its handler works on this thread). */
static void *body_thread(void *arg)
{
    body_t *b = arg;
    sigset_t old;
    if (!block_all(&old)) {
        errno = 0;
        die("could not block every signal in the copy loop's thread");
    }
    g_main_tid = gettid();
    run_body(b);
    return NULL;
}

/* Runs one case; returns 1 on failure. */
static int run_case(uint64_t seed, uint64_t idx, int mutate_file)
{
    rng_t r = rng_for(seed, idx, 1);
    rng_t rfile = rng_for(seed, idx, 2);
    rng_t rtail = rng_for(seed, idx, 3);
    config_t c;
    pick_config(&r, &c, mutate_file);
    pick_extra(&r, &c, pick_kind(seed, idx));
    pick_adv(seed, idx, &c);
    if (g_skip & (1u << c.kind)) {
        printf("case %" PRIu64 " size=%zu buf=%zu kind=%s skipped\n", idx, c.size, c.bufsize, kind_names[c.kind]);
        return 0;
    }
    char desc[512];
    describe(&c, desc, sizeof desc);
    vlog("case %" PRIu64 ": %s\n", idx, desc);

    write_file(&rfile, c.size);
    int nfds = extras_open(&c, seed, idx);
    int fd = fd_hold(open(g_path, O_RDONLY));
    if (fd < 0)
        die("open %s", g_path);
    int wfd = -1;
    if (c.filemut_pct) {
        wfd = fd_hold(open(g_path, O_WRONLY));
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

    char extra[160] = "";
    body_t b = { &s, fd, seed, idx, extra, sizeof extra, 0, 0 };
    g_cr_pct = c.cr_pct;
    g_cr_rng = rng_for(seed, idx, 9);
    g_cr_calls = 0;
    g_cr_reuse = 0;
    g_cr_foreign = 0;
    g_cr_foreign_fd = -1;
    int top = fd_top();
    if (c.blocked == BL_THREAD) {
        pthread_t bt;
        if (pthread_create(&bt, NULL, body_thread, &b) != 0 || pthread_join(bt, NULL) != 0)
            die("the copy loop's thread");
        g_main_tid = gettid();
    } else if (c.blocked == BL_MAIN) {
        sigset_t old;
        if (!block_all(&old)) {
            errno = 0;
            die("could not block every signal in the main thread");
        }
        run_body(&b);
        if (pthread_sigmask(SIG_SETMASK, &old, NULL) != 0)
            die("pthread_sigmask");
    } else {
        run_body(&b); /* BL_CHILD: run_child blocks them in the child */
    }
    if (c.blocked == BL_THREAD || c.blocked == BL_MAIN) {
        g_adv.bl_cases++;
        g_adv.bl_by[c.blocked]++;
    }
    g_cr_pct = 0;
    if (g_cr_calls) {
        g_adv.cr_cases++;
        g_adv.cr_calls += g_cr_calls;
        g_adv.cr_reuse += g_cr_reuse;
    }
    if (nfds) {
        g_adv.fds_cases++;
        g_adv.fds_held += (unsigned long)nfds;
        if (top > g_adv.fds_top)
            g_adv.fds_top = top;
    }
    int sock_closed = b.sock_closed, prefail = b.prefail;
    if (!sock_closed && shutdown(snd, SHUT_WR) != 0)
        die("shutdown");
    if (pthread_join(th, NULL) != 0)
        die("pthread_join");
    if (!sock_closed)
        fd_close(snd);
    fd_close(rcv);
    fd_close(fd);
    if (wfd >= 0)
        fd_close(wfd);
    extras_close();
    reuse_close();

    int fail = prefail != 0;
    if (prefail == 1) {
        /* the child crashed or hung: what it sent is not known (reported above) */
    } else if (rv.err) {
        printf("FAIL case %" PRIu64 ": receiver read error: %s\n", idx, strerror(rv.err));
        fail = 1;
    } else if (c.kind == KIND_SIGNAL) {
        fail = sig_check(idx, &rv.got, &expected, desc);
    } else if (rv.got.len != expected.len || (expected.len && memcmp(rv.got.p, expected.p, expected.len))) {
        size_t lim = rv.got.len < expected.len ? rv.got.len : expected.len, o = 0;
        while (o < lim && rv.got.p[o] == expected.p[o])
            o++;
        printf("FAIL case %" PRIu64 ": received %zu bytes, expected %zu, first difference at offset %zu",
               idx, rv.got.len, expected.len, o);
        if (o < lim)
            printf(" (got 0x%02x, expected 0x%02x)", rv.got.p[o], expected.p[o]);
        printf(" [%s]\n", desc);
        fail = 1;
    }
    if (g_cr_foreign) {
        printf("FAIL case %" PRIu64 ": the raw close_range(%d, ~0U) closed %lu descriptor(s) the program never "
               "opened (the first: %d): a descriptor of the library's own [%s]\n",
               idx, g_cr_foreign_from, g_cr_foreign, g_cr_foreign_fd, desc);
        fail = 1;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        die("getrlimit");
    if (rl.rlim_cur != g_nofile.rlim_cur || rl.rlim_max != g_nofile.rlim_max) {
        printf("FAIL case %" PRIu64 ": RLIMIT_NOFILE is %llu/%llu after the case, was %llu/%llu [%s]\n", idx,
               (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max,
               (unsigned long long)g_nofile.rlim_cur, (unsigned long long)g_nofile.rlim_max, desc);
        fail = 1;
        g_nofile = rl; /* reported once */
    }
    char adv[128];
    adv_text(&c, nfds, adv, sizeof adv);
    if (c.timing)
        printf("case %" PRIu64 " size=%zu buf=%zu kind=%s%s digest=timing%s\n", idx, c.size, c.bufsize,
               kind_names[c.kind], adv, extra);
    else
        printf("case %" PRIu64 " size=%zu buf=%zu kind=%s%s digest=%016" PRIx64 "%s\n", idx, c.size, c.bufsize,
               kind_names[c.kind], adv, fnv1a(rv.got.p, rv.got.len), extra);
    vlog("    sent=%zu calls=%lu partials=%lu eagain=%lu tailmut=%lu\n", expected.len, s.calls,
         s.partials, s.eagains, s.tail_mutations);

    free(rv.got.p);
    free(expected.p);
    return fail;
}

int main(int argc, char **argv)
{
    /* Nothing above stderr is the program's at start: what it inherited (a harness's pipes)
     * is closed, so that the close_range adversity knows every descriptor above the ones it
     * holds for not the program's. (A library descriptor made before main goes too.) */
    syscall(SYS_close_range, 3U, ~0U, 0);
    uint64_t seed = 1, cases = 100, first = 0;
    int mutate_file = 0;
    long nofile = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            seed = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--cases") && i + 1 < argc)
            cases = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--first") && i + 1 < argc)
            first = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--verbose"))
            g_verbose = 1;
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) {
            const char *k = argv[++i];
            g_only = -1;
            for (int j = 0; j < KIND_N; j++)
                if (!strcmp(k, kind_names[j]))
                    g_only = j;
            if (g_only < 0) {
                fprintf(stderr, "difftest: unknown kind %s (write, vec, readv, thread, stdio, signal, fault, copy, mmap)\n", k);
                return 2;
            }
        } else if (!strcmp(argv[i], "--skip-kind") && i + 1 < argc) {
            const char *k = argv[++i];
            int j;
            for (j = 0; j < KIND_N && strcmp(k, kind_names[j]); j++)
                ;
            if (j == KIND_N) {
                fprintf(stderr, "difftest: unknown kind %s\n", k);
                return 2;
            }
            g_skip |= 1u << j;
        } else if (!strcmp(argv[i], "--no-adv") && i + 1 < argc) {
            const char *k = argv[++i];
            int j;
            for (j = 0; j < ADV_N && strcmp(k, adv_names[j]); j++)
                ;
            if (j == ADV_N && strcmp(k, "all")) {
                fprintf(stderr, "difftest: unknown adversity %s (", k);
                for (j = 0; j < ADV_N; j++)
                    fprintf(stderr, "%s, ", adv_names[j]);
                fprintf(stderr, "all)\n");
                return 2;
            }
            g_adv_off |= j == ADV_N ? (1u << ADV_N) - 1 : 1u << j;
        } else if (!strcmp(argv[i], "--nofile") && i + 1 < argc) {
            nofile = strtol(argv[++i], NULL, 0);
        } else if (!strcmp(argv[i], "--no-mmap-alias-stores"))
            g_mm_alias = 0;
        else if (!strcmp(argv[i], "--mutate-file"))
            mutate_file = 1;
        else if (!strcmp(argv[i], "--mutate-file=before"))
            mutate_file = 1, g_filemut_when = 1;
        else if (!strcmp(argv[i], "--mutate-file=after"))
            mutate_file = 1, g_filemut_when = 2;
        else {
            fprintf(stderr, "usage: difftest --seed S --cases N [--first I] [--verbose] [--only KIND] [--skip-kind KIND]... [--mutate-file[=before|after]] [--no-mmap-alias-stores] [--no-adv ADVERSITY]... [--nofile N]\n");
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
#if defined(__x86_64__)
    {
        /* glibc's restorer, for the raw rt_sigaction of the signal kind: what sigaction()
         * reads back of a signal it set */
        struct sigaction rb;
        if (sigaction(SIGPIPE, NULL, &rb) == 0 && (rb.sa_flags & SA_RESTORER) && rb.sa_restorer)
            g_restorer = rb.sa_restorer;
    }
#endif
    if (getrlimit(RLIMIT_NOFILE, &g_nofile) != 0)
        die("getrlimit");
    if (nofile > 0) {
        /* a lower soft limit for the whole run; nothing is ever raised */
        if ((rlim_t)nofile > g_nofile.rlim_cur) {
            fprintf(stderr, "difftest: --nofile %ld is above the soft RLIMIT_NOFILE %llu, which difftest never raises\n",
                    nofile, (unsigned long long)g_nofile.rlim_cur);
            return 2;
        }
        g_nofile.rlim_cur = (rlim_t)nofile;
        if (setrlimit(RLIMIT_NOFILE, &g_nofile) != 0)
            die("setrlimit");
    }
    /* SIGALRM (the signal kind's handler) is blocked in every thread but in the handler
     * windows of the main thread; threads made from here on inherit the blocked mask */
    sigemptyset(&g_alrm_set);
    sigaddset(&g_alrm_set, SIGALRM);
    if (pthread_sigmask(SIG_BLOCK, &g_alrm_set, NULL) != 0)
        die("pthread_sigmask");
    g_main_tid = gettid();

    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp)
        tmp = "/tmp";
    snprintf(g_path, sizeof g_path, "%s/difftest.%d.dat", tmp, (int)getpid());
    for (int i = 0; i < 3; i++) { /* the other files of the extra descriptors */
        snprintf(g_pool[i], sizeof g_pool[i], "%s.pool%d", g_path, i);
        rng_t pr = rng_for(seed, (uint64_t)i, 11);
        write_file_at(g_pool[i], &pr, (size_t)(i == 0 ? 0 : i == 1 ? 4097 : 70000));
    }

    for (int i = 0; i <= 2; i++)
        fd_hold(i);
    g_lfd = fd_hold(socket(AF_INET, SOCK_STREAM, 0));
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
    for (int i = 0; i < 3; i++)
        unlink(g_pool[i]);
    fd_close(g_lfd);
    printf("difftest: adversities close_range_cases=%lu close_range_calls=%lu close_range_reuse=%lu "
           "rawsig_cases=%lu rawsig_ran=%lu blocked_cases=%lu blocked_thread=%lu blocked_main=%lu blocked_child=%lu blocked_faults=%lu "
           "fds_cases=%lu fds_held=%lu fds_top=%d nofile=%llu\n",
           g_adv.cr_cases, g_adv.cr_calls, g_adv.cr_reuse, g_adv.raw_cases, g_adv.raw_ran, g_adv.bl_cases, g_adv.bl_by[BL_THREAD],
           g_adv.bl_by[BL_MAIN], g_adv.bl_by[BL_CHILD], g_adv.bl_faults, g_adv.fds_cases, g_adv.fds_held,
           g_adv.fds_top, (unsigned long long)g_nofile.rlim_cur);
    printf("difftest: %" PRIu64 " cases, %" PRIu64 " failures\n", cases, failures);
    return failures ? 1 : 0;
}
