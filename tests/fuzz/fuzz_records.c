/* libFuzzer target: the redirect engine's source side (records.c, proof.c and source.c
 * with the fault guard of signals.c, fdtable.c, sendwin.c's generations, and the read glue
 * asf_after_file_read in redirect.c) against a reference model.
 *
 * The input drives a model process: three files, backed by real temp files (the proof reads
 * them, so they must be real: TMPDIR, else /tmp; any page-cache file system the classifier
 * accepts), real fds at fixed numbers FD_BASE.. on shared open file descriptions (the model
 * keeps their offsets), and an arena of memory in which the program's buffers live anywhere
 * (so they overlap freely). The arena straddles a page boundary, so one half of it can be
 * made unreadable. Reads pread the real file into the arena (the model checks the bytes are
 * the ones it expects) and tell the engine exactly as the wrappers in wrap_read.c would
 * (generation loaded before, classification on first use, asf_after_file_read after, each
 * readv segment on its own); close/dup/dup2/open/fcntl update the fd table as
 * wrap_fd.c/wrap_open.c do, around the real calls.
 *
 * At every write(buf+k, n) the engine is asked what it would send: asf_source_open. When it
 * says yes (through program fd D, offset O: the file F that D names now), the reference
 * model checks that its copy of
 * the arena holds exactly F's current bytes [O, O+n) (what sendfile sends; bytes past F's
 * end are sent from the buffer by the fallback, so only those up to the end count), and
 * that no byte of the range is unreadable; otherwise abort(). With AUTOSENDFILE_VERIFY
 * sample or none (FUZZ_VERIFY), wrong or unreadable bytes are allowed only where the model
 * says the buffer does not hold bytes of a tracked read that nothing changed since (the
 * program wrote them, or the file changed after the read): those modes skip comparing,
 * not tracking.
 *
 * Operations besides reads and writes: the program changing its buffer (memset, memcpy,
 * memmove, and a "signal handler" that changes bytes of the last read's range between the
 * read and its write), another process rewriting a file in place (a few bytes, or all of
 * it) or truncating it (the file then reads short), re-pointing an fd number between a read and its write (dup2 of another file over
 * it), and mprotect(PROT_NONE) of half the arena and back. Mappings: the program mmaps
 * one or two pages of a file read-only (MAP_SHARED or MAP_PRIVATE, through a program fd)
 * into one of two slots with MAP_FIXED, as wrap_mmap.c's bookkeeping does around the real
 * call (asf_mapping_remove, then asf_mapping_add), or behind the library's back (raw: its
 * entry goes on claiming the old file), munmaps (told or raw), and writes from a slot: the
 * bytes the engine claims must be the ones the mapping shows now (the file's current
 * bytes; zeros up to the end of the page holding the file's end; unreadable past it). And
 * content: the program copies mapped bytes or the last read's bytes (from its start, from
 * anywhere inside it, or continuing the previous copy into the same place, as a framing
 * daemon does) elsewhere in the arena and writes the copy, maybe after a header of its own
 * (a content match must be byte-exact, like any redirect). Writes are asked as the engines
 * ask: a single buffer may be split (a header of the program's, then file bytes: the bytes
 * from the split on must be the file's), a vectored part may not. AUTOSENDFILE_MIN_BYTES is
 * FUZZ_MIN_BYTES (default 256), so that writes of the arena's size reach the content search
 * (probes, the continuation, the search inside recent reads).
 *
 * Invariants checked after every operation: live records lie in the arena, never overlap,
 * 0 < len <= ASF_RECORD_MAX_BYTES, name a file and an fd, even seq; the fd table agrees
 * with the model (a FILE entry names the file that fd has, a closed fd is UNKNOWN,
 * generations even); the process holds no descriptor but the program's and the harness's;
 * the arena equals the model's copy where readable. And one liveness check, so that an
 * engine that never redirects cannot pass: in full mode, a write of exactly the range the
 * last tracked read filled, with only writes, re-pointing and protection changes in
 * between, must be redirected when that range is readable and still in the file.
 *
 * Also: the fuzz thread blocking SIGSEGV and SIGBUS (a sigwait-style thread: the guard
 * cannot run, the proof reads the buffer through the kernel), and, with ASF_FUZZ_RAW=1, a
 * raw close_range over the program's upper fds.
 *
 * ASF_FUZZ_RAW=1 in the environment adds an operation that re-points an fd number behind
 * the library's back (a raw close + open, as libuv does): the table then names the wrong
 * file, records claim the wrong file, and the byte verdict must still hold (the proof
 * reads through the fd, whatever it names now); the liveness check and
 * the table invariants are off from then on. FUZZ_TRACE=1 prints every
 * operation (to replay a crash input). Built with -DFUZZ_ONLY_BYTES
 * (FUZZ_CFLAGS=-DFUZZ_ONLY_BYTES tests/fuzz/run.sh) the invariant and liveness checks are
 * off and only the reference model's "wrong bytes" verdict remains: to show that the model
 * alone catches a broken engine (FUZZ_SRC=a mutated copy of src). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include "config.h"
#include "fdclass.h"
#include "fdtable.h"
#include "mappings.h"
#include "real.h"
#include "records.h"
#include "redirect.h"
#include "signals.h"
#include "source.h"
#include <signal.h>
#include <dirent.h>
#include <sys/syscall.h>

#define NFILES 3
#define FILE_MAX 8192 /* two pages: a truncation leaves the second one faulting */
#define NFD 8
#define FD_BASE 1000 /* program fds FD_BASE..FD_BASE+NFD-1 */
#define RFD_BASE 1100 /* the harness's own fds to change the files with */
#define NOFD 16
#define PAGE 4096
#define ARENA 2048 /* [0, 1024) ends page 0, [1024, 2048) starts page 1 */
#define HALF (ARENA / 2)

struct mfile {
	uint64_t dev, ino;
	uint32_t ver; /* bumped by every change of its bytes or size */
	size_t size;
	unsigned char data[FILE_MAX];
	char path[4096];
};

struct ofd {
	int file; /* -1: free */
	off_t off;
	int refs;
};

/* Where an arena byte came from. The verdict is on bytes; `tracked` (a read the engine was
 * told about put it here, and the program did not touch it since) with `ver` (the file had
 * not changed since) decides which wrong bytes the weaker verify modes may send. */
struct prov {
	int8_t file; /* -1: written by the program */
	bool tracked;
	uint32_t ver;
	off_t off;
};

static struct mfile files[NFILES];
static struct ofd ofds[NOFD];
static int fdmap[NFD]; /* ofd index or -1 */
static unsigned char *arena;         /* the program's memory (real, may be protected) */
static unsigned char marena[ARENA];  /* the model's copy of it */
static bool prot[2];                 /* arena halves made PROT_NONE */
static struct prov prov[ARENA];
static struct asf_thread *T;
static bool raw_mode, trace, table_trustworthy, armed;

/* the program's mappings of its files (see op_map) */
#define NMAPS 2
#define MAP_PAGES 2 /* FILE_MAX: a window maps one or two pages of a file */

static unsigned char *mapzone; /* NMAPS slots of MAP_PAGES pages, PROT_NONE when unmapped */
static struct {
	bool live;
	int file;    /* the file the memory maps now (whatever the library was told) */
	size_t moff; /* its file offset (a page multiple) */
	size_t len;  /* bytes mapped (<= MAP_PAGES pages) */
	bool shared;
} maps[NMAPS];

static struct {
	size_t k, n;
	int fd;
	off_t off;
	bool valid, must;
} last_read;
static size_t read_end; /* where the last read into the arena ended: the next read may
			 * continue there (programs filling one buffer with several reads) */
static struct {
	bool valid;
	size_t read_k, read_n; /* the last read it copied from */
	size_t end;            /* where in that read the copy ended */
	size_t dest;           /* where it was copied to (the protocol buffer) */
} last_copy;

static struct {
	unsigned long long iters, ops, writes, redirects, by_content, splits, no_record, changed,
		unreadable, gone, refused, coincidental, liveness, unverified, past_eof,
		protected_writes, draining, vouched;
} stats;

static const uint8_t *in_p;
static size_t in_n;

static uint8_t u8(void)
{
	if (!in_n)
		return 0;
	in_n--;
	return *in_p++;
}

static unsigned u16(void)
{
	unsigned a = u8();
	return a | (unsigned)u8() << 8;
}

#define TRACE(...)                                    \
	do {                                          \
		if (trace)                            \
			fprintf(stderr, __VA_ARGS__); \
	} while (0)

static void cleanup_files(void)
{
	for (int f = 0; f < NFILES; f++)
		if (files[f].path[0])
			unlink(files[f].path);
}

static void dump_state(void)
{
	fprintf(stderr, "arena=%p..%p protected: %d %d\n", (void *)arena, (void *)(arena + ARENA),
		prot[0], prot[1]);
	for (int f = 0; f < NFILES; f++)
		fprintf(stderr, "file %d dev=%" PRIu64 " ino=%" PRIu64 " ver=%u size=%zu\n", f,
			files[f].dev, files[f].ino, files[f].ver, files[f].size);
	for (int s = 0; s < NFD; s++)
		if (fdmap[s] >= 0)
			fprintf(stderr, "fd %d -> ofd %d (file %d, off %lld); table word=%u\n",
				FD_BASE + s, fdmap[s], ofds[fdmap[s]].file, (long long)ofds[fdmap[s]].off,
				asf_fd_word(FD_BASE + s));
	for (int i = 0; i < ASF_RECORDS_PER_THREAD; i++) {
		const struct asf_record *r = &T->rec[i];
		if (r->start)
			fprintf(stderr, "rec %d: arena+%td len=%zu fd=%d ino=%" PRIu64 " off=%lld born=%" PRIu64 "%s\n",
				i, (const unsigned char *)r->start - arena, r->len, r->fd, r->ino,
				(long long)r->off, r->born, r->copy ? " copy" : "");
	}
}

#define FAIL(...)                                           \
	do {                                                \
		fprintf(stderr, "fuzz_records: FINDING: "); \
		fprintf(stderr, __VA_ARGS__);               \
		fprintf(stderr, "\n");                      \
		dump_state();                               \
		cleanup_files();                            \
		abort();                                    \
	} while (0)

#define HARNESS(...)                                               \
	do {                                                       \
		fprintf(stderr, "fuzz_records: harness error: ");  \
		fprintf(stderr, __VA_ARGS__);                      \
		fprintf(stderr, " (errno %d)\n", errno);           \
		cleanup_files();                                   \
		abort();                                           \
	} while (0)

static void print_stats(void)
{
	if (!getenv("FUZZ_STATS"))
		return;
	fprintf(stderr,
		"fuzz_records: iterations=%llu ops=%llu writes=%llu redirects=%llu by_content=%llu "
		"splits=%llu no_record=%llu "
		"changed=%llu unreadable=%llu gone=%llu refused=%llu coincidental=%llu "
		"liveness_checks=%llu past_eof=%llu protected_writes=%llu draining=%llu "
		"vouched_on_draining=%llu verify=%s sent_unverified=%llu\n",
		stats.iters, stats.ops, stats.writes, stats.redirects, stats.by_content, stats.splits,
		stats.no_record, stats.changed,
		stats.unreadable, stats.gone, stats.refused, stats.coincidental, stats.liveness,
		stats.past_eof, stats.protected_writes, stats.draining, stats.vouched,
		asf_cfg.verify == ASF_VERIFY_FULL ? "full" : asf_cfg.verify == ASF_VERIFY_SAMPLE ? "sample" : "none",
		stats.unverified);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (!asf_real_bind())
		HARNESS("cannot bind libc");
	T = asf_thread_get(true);
	if (!T)
		HARNESS("no thread state");
	const char *raw = getenv("ASF_FUZZ_RAW");
	raw_mode = raw && *raw == '1';
	trace = getenv("FUZZ_TRACE") != NULL;
	const char *mb = getenv("FUZZ_MIN_BYTES");
	asf_cfg.min_bytes = mb && atoi(mb) > 0 ? (size_t)atoi(mb) : 256;
	/* AUTOSENDFILE_VERIFY as the library would parse it (default full) */
	const char *v = getenv("FUZZ_VERIFY");
	asf_cfg.verify = !v || !strcmp(v, "full") ? ASF_VERIFY_FULL
			 : !strcmp(v, "sample")   ? ASF_VERIFY_SAMPLE
						  : ASF_VERIFY_NONE;
	/* the fixed fd numbers must be below the soft limit */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < RFD_BASE + NFILES + 1) {
		rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	const char *dir = getenv("TMPDIR");
	for (int f = 0; f < NFILES; f++) {
		snprintf(files[f].path, sizeof files[f].path, "%s/asf-fuzz-%d-XXXXXX",
			 dir && *dir ? dir : "/tmp", f);
		int fd = mkstemp(files[f].path);
		if (fd < 0 || dup2(fd, RFD_BASE + f) != RFD_BASE + f)
			HARNESS("cannot make %s", files[f].path);
		close(fd);
		fd = open(files[f].path, O_RDONLY);
		if (fd < 0 || (asf_fd_classify(fd) & ASF_FD_KIND_MASK) != ASF_FD_FILE)
			HARNESS("%s is not on a file system the library tracks", files[f].path);
		asf_fd_forget(fd);
		close(fd);
		struct stat st;
		if (fstat(RFD_BASE + f, &st) != 0)
			HARNESS("fstat");
		files[f].dev = st.st_dev;
		files[f].ino = st.st_ino;
	}
	atexit(cleanup_files);
	/* page 0 | page 1, the arena across their boundary */
	void *m = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		HARNESS("mmap");
	arena = (unsigned char *)m + PAGE - HALF;
	mapzone = mmap(NULL, NMAPS * MAP_PAGES * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mapzone == MAP_FAILED)
		HARNESS("mmap");
	atexit(print_stats);
	return 0;
}

/* ---- the arena: the program's memory and the model's copy ---- */

static bool touches_protected(size_t k, size_t n)
{
	if (n == 0)
		return false;
	return (prot[0] && k < HALF) || (prot[1] && k + n > HALF);
}

static void set_protection(int half, bool on)
{
	if (prot[half] == on)
		return;
	void *page = half == 0 ? arena + HALF - PAGE : arena + HALF;
	if (mprotect(page, PAGE, on ? PROT_NONE : PROT_READ | PROT_WRITE) != 0)
		HARNESS("mprotect");
	prot[half] = on;
}

/* The program stores bytes into its buffer. */
static void program_store(size_t k, const unsigned char *src, size_t n)
{
	memmove(arena + k, src, n);
	memmove(marena + k, src, n);
	for (size_t i = 0; i < n; i++) {
		prov[k + i].file = -1;
		prov[k + i].tracked = false;
	}
}

/* ---- the model's files: every change goes to the real file too ---- */

static void file_sync(struct mfile *f, size_t from, size_t n)
{
	int rfd = RFD_BASE + (int)(f - files);
	if (n && pwrite(rfd, f->data + from, n, (off_t)from) != (ssize_t)n)
		HARNESS("pwrite");
	if (ftruncate(rfd, (off_t)f->size) != 0)
		HARNESS("ftruncate");
}

static struct mfile *file_by_id(uint64_t dev, uint64_t ino)
{
	for (int f = 0; f < NFILES; f++)
		if (files[f].dev == dev && files[f].ino == ino)
			return &files[f];
	return NULL;
}

/* ---- fds: the real calls and what the wrappers do to the fd table ---- */

static int fd_slot(int fd)
{
	return fd - FD_BASE;
}

static struct ofd *ofd_of(int fd)
{
	int s = fd_slot(fd);
	if (s < 0 || s >= NFD || fdmap[s] < 0)
		return NULL;
	return &ofds[fdmap[s]];
}

static int lowest_free_fd(void)
{
	for (int s = 0; s < NFD; s++)
		if (fdmap[s] < 0)
			return FD_BASE + s;
	return -1;
}

static void ofd_unref(int o)
{
	if (--ofds[o].refs == 0)
		ofds[o].file = -1;
}

static int ofd_new(int file)
{
	for (int o = 0; o < NOFD; o++)
		if (ofds[o].file < 0) {
			ofds[o].file = file;
			ofds[o].off = 0;
			ofds[o].refs = 0;
			return o;
		}
	return -1;
}

/* A real open of file at exactly number fd (nothing told to the table). */
static void real_open_at(int file, int fd)
{
	int t = open(files[file].path, O_RDWR);
	if (t < 0 || dup2(t, fd) != fd)
		HARNESS("open %s at %d", files[file].path, fd);
	close(t);
}

static void op_open(void)
{
	int file = u8() % NFILES;
	int fd = lowest_free_fd();
	if (fd < 0)
		return;
	int o = ofd_new(file);
	if (o < 0)
		return;
	real_open_at(file, fd);
	ofds[o].refs = 1;
	fdmap[fd_slot(fd)] = o;
	asf_fd_forget(fd); /* wrap_open.c: opened() */
	TRACE("open(file %d) = %d\n", file, fd);
}

static void do_close(int fd)
{
	uint32_t token = asf_fd_change_begin(fd);
	asf_fd_forget(fd);
	if (fdmap[fd_slot(fd)] >= 0) {
		close(fd);
		ofd_unref(fdmap[fd_slot(fd)]);
		fdmap[fd_slot(fd)] = -1;
	}
	asf_fd_change_end(fd, token);
}

static void op_close(void)
{
	int fd = FD_BASE + u8() % NFD;
	TRACE("close(%d)\n", fd);
	do_close(fd);
}

static void op_dup(void)
{
	int old = FD_BASE + u8() % NFD;
	if (!ofd_of(old))
		return;
	int fd = lowest_free_fd();
	if (fd < 0)
		return;
	if (dup2(old, fd) != fd) /* dup() would give the lowest free number: this one */
		HARNESS("dup");
	fdmap[fd_slot(fd)] = fdmap[fd_slot(old)];
	ofds[fdmap[fd_slot(old)]].refs++;
	asf_fd_copy(old, fd);
	TRACE("dup(%d) = %d\n", old, fd);
}

static void do_dup2(int old, int nfd)
{
	uint32_t token = asf_fd_change_begin(nfd);
	if (ofd_of(old)) {
		if (dup2(old, nfd) != nfd)
			HARNESS("dup2");
		if (old != nfd) {
			if (fdmap[fd_slot(nfd)] >= 0)
				ofd_unref(fdmap[fd_slot(nfd)]);
			fdmap[fd_slot(nfd)] = fdmap[fd_slot(old)];
			ofds[fdmap[fd_slot(old)]].refs++;
		}
		asf_fd_copy(old, nfd);
	}
	asf_fd_change_end(nfd, token);
}

static void op_dup2(void)
{
	int old = FD_BASE + u8() % NFD, nfd = FD_BASE + u8() % NFD;
	TRACE("dup2(%d, %d)\n", old, nfd);
	do_dup2(old, nfd);
}

/* Between a read and its write: the read's fd number now names another file (dup2 of an
 * fd of another file over it, or of a fresh open when there is none). */
static void op_repoint(void)
{
	uint8_t sel = u8();
	if (!last_read.valid)
		return;
	int target = last_read.fd;
	struct ofd *t = ofd_of(target);
	int src = -1;
	for (int i = 0; i < NFD && src < 0; i++) {
		int fd = FD_BASE + (sel + i) % NFD;
		if (fd != target && ofd_of(fd) && (!t || ofd_of(fd)->file != t->file))
			src = fd;
	}
	if (src < 0) {
		int file = t ? (t->file + 1 + sel % (NFILES - 1)) % NFILES : sel % NFILES;
		int fd = lowest_free_fd();
		int o = fd >= 0 ? ofd_new(file) : -1;
		if (o < 0)
			return;
		real_open_at(file, fd);
		ofds[o].refs = 1;
		fdmap[fd_slot(fd)] = o;
		asf_fd_forget(fd);
		src = fd;
	}
	TRACE("repoint: dup2(%d, %d) between the read and its write\n", src, target);
	do_dup2(src, target);
	/* The library holds a file only while the program has it open through the fd it was
	 * read from (records.h): after this re-point the write is the program's to send. */
	if (target == last_read.fd)
		last_read.must = false;
}

/* fcntl(F_SETFL) forgets the classification: the next read classifies afresh. */
static void op_setfl(void)
{
	int fd = FD_BASE + u8() % NFD;
	if (!ofd_of(fd))
		return;
	TRACE("fcntl(%d, F_SETFL)\n", fd);
	asf_fd_forget(fd);
	if (fd == last_read.fd) /* (the record's fd no longer vouches for its file) */
		last_read.must = false;
}

/* A raw close + open behind the library's back (only with ASF_FUZZ_RAW=1). */
static void op_raw_reopen(void)
{
	int fd = FD_BASE + u8() % NFD;
	int file = u8() % NFILES;
	if (!raw_mode)
		return;
	TRACE("raw reopen(%d -> file %d)\n", fd, file);
	int o = ofd_new(file);
	if (o < 0)
		return;
	if (fdmap[fd_slot(fd)] >= 0)
		ofd_unref(fdmap[fd_slot(fd)]);
	real_open_at(file, fd);
	ofds[o].refs = 1;
	fdmap[fd_slot(fd)] = o;
	table_trustworthy = false;
}

static void op_lseek(void)
{
	int fd = FD_BASE + u8() % NFD;
	uint8_t how = u8();
	int delta = (int16_t)u16();
	struct ofd *o = ofd_of(fd);
	if (!o)
		return;
	off_t base = how % 3 == 0 ? 0 : how % 3 == 1 ? o->off : (off_t)files[o->file].size;
	off_t to = base + delta % (FILE_MAX + 64);
	if (to < 0)
		return; /* EINVAL */
	o->off = to;
	TRACE("lseek(%d) = %lld\n", fd, (long long)to);
}

/* ---- reads ---- */

/* The kernel copies n bytes of file `file` at off into the arena at k: the real pread, and
 * the model's copy, which must agree. */
static void copy_in(int fd, int file, size_t k, off_t off, size_t n, bool tracked)
{
	if (n == 0)
		return;
	struct mfile *f = &files[file];
	ssize_t r = fd >= 0 ? pread(fd, arena + k, n, off) : pread(RFD_BASE + file, arena + k, n, off);
	if (r != (ssize_t)n || memcmp(arena + k, f->data + off, n) != 0)
		HARNESS("the real file %d disagrees with the model at [%lld, +%zu): got %zd", file,
			(long long)off, n, r);
	memcpy(marena + k, f->data + off, n);
	for (size_t i = 0; i < n; i++)
		prov[k + i] = (struct prov){ (int8_t)file, tracked, f->ver, off + (off_t)i };
}

static size_t file_read(struct mfile *f, off_t off, size_t want, uint8_t shortsel)
{
	size_t avail = off < (off_t)f->size ? f->size - (size_t)off : 0;
	size_t r = want < avail ? want : avail;
	/* Now and then a short read (a signal): any count from 1 up. */
	if (r > 1 && (shortsel & 0xc0) == 0xc0)
		r = 1 + shortsel % r;
	return r;
}

/* What wrap_read.c does before a read: the generation, then classification on first use. */
static bool read_prologue(int fd, uint64_t *gen)
{
	*gen = asf_fd_gen(fd);
	uint32_t w = asf_fd_word(fd);
	if ((w & ASF_FD_KIND_MASK) == ASF_FD_UNKNOWN)
		w = asf_fd_classify(fd);
	return (w & ASF_FD_KIND_MASK) == ASF_FD_FILE;
}

static void note_last_read(int fd, size_t k, size_t n, off_t off)
{
	last_read.k = k;
	last_read.n = n;
	last_read.fd = fd;
	last_read.off = off;
	last_read.valid = true;
	last_read.must = true;
}

/* read()/pread(): tracked as wrap_read.c's read_slow/pread_slow. pos < 0: at the fd's
 * offset. */
static void do_read(int fd, size_t k, size_t want, off_t pos, uint8_t flags)
{
	struct ofd *o = ofd_of(fd);
	if (!o)
		return; /* EBADF */
	if (touches_protected(k, want)) {
		TRACE("read(%d, arena+%zu, %zu) = EFAULT\n", fd, k, want);
		return;
	}
	uint64_t gen;
	bool tracked = read_prologue(fd, &gen);
	struct mfile *f = &files[o->file];
	off_t off = pos < 0 ? o->off : pos;
	size_t r = file_read(f, off, want, flags);
	copy_in(fd, o->file, k, off, r, tracked);
	read_end = k + r;
	if (pos < 0)
		o->off += (off_t)r;
	TRACE("%s(%d, arena+%zu, %zu%s) = %zu from file %d at %lld%s\n", pos < 0 ? "read" : "pread",
	      fd, k, want, pos < 0 ? "" : ", off", r, o->file, (long long)off,
	      (flags & 1) ? " (offset unknown)" : "");
	if (r == 0 || !tracked)
		return;
	/* flags bit 0: another thread moved the shared offset meanwhile, so the offset is
	 * unknown (wrap_read.c's proof fails) */
	off_t known = (pos < 0 && (flags & 1)) ? -1 : off;
	asf_after_file_read(fd, arena + k, r, known, gen);
	if (known >= 0)
		note_last_read(fd, k, r, off);
}

static void pick_range(size_t *k, size_t *n, unsigned maxn)
{
	*k = u16() % ARENA;
	size_t room = ARENA - *k;
	size_t m = maxn < room ? maxn : room;
	*n = 1 + u16() % m;
}

static void op_read(bool positional)
{
	int fd = FD_BASE + u8() % NFD;
	uint8_t flags = u8();
	size_t k, n;
	pick_range(&k, &n, 600);
	/* flags bit 1: continue the previous read in memory */
	if ((flags & 2) && read_end < ARENA) {
		k = read_end;
		if (n > ARENA - k)
			n = ARENA - k;
	}
	off_t pos = positional ? (off_t)(u16() % (FILE_MAX + 32)) : -1;
	do_read(fd, k, n, pos, flags);
}

/* readv/preadv into 2-3 buffers: each filled segment recorded on its own
 * (wrap_read.c: record_vector). */
static void op_readv(void)
{
	int fd = FD_BASE + u8() % NFD;
	uint8_t sel = u8();
	int cnt = 2 + sel % 2;
	bool positional = sel & 4, unknown = sel & 8;
	size_t ks[3] = { 0 }, ns[3] = { 0 }, total = 0;
	for (int i = 0; i < cnt; i++) {
		ks[i] = u16() % ARENA;
		size_t room = ARENA - ks[i];
		size_t m = 300 < room ? 300 : room;
		ns[i] = u16() % (m + 1); /* a zero-length segment too */
		total += ns[i];
	}
	off_t pos = positional ? (off_t)(u16() % (FILE_MAX + 32)) : -1;
	struct ofd *o = ofd_of(fd);
	if (!o)
		return;
	for (int i = 0; i < cnt; i++)
		if (touches_protected(ks[i], ns[i]))
			return; /* EFAULT */
	uint64_t gen;
	bool tracked = read_prologue(fd, &gen);
	struct mfile *f = &files[o->file];
	off_t off = pos < 0 ? o->off : pos;
	size_t r = file_read(f, off, total, 0);
	/* the kernel fills the segments in order (later ones may overwrite earlier ones
	 * when they overlap in memory) */
	size_t left = r;
	off_t at = off;
	for (int i = 0; i < cnt && left > 0; i++) {
		size_t take = ns[i] < left ? ns[i] : left;
		copy_in(fd, o->file, ks[i], at, take, tracked);
		at += (off_t)take;
		left -= take;
	}
	if (pos < 0)
		o->off += (off_t)r;
	TRACE("%s(%d, %d segs: arena+%zu/%zu arena+%zu/%zu arena+%zu/%zu) = %zu from file %d at %lld\n",
	      positional ? "preadv" : "readv", fd, cnt, ks[0], ns[0], ks[1], ns[1], ks[2], ns[2], r,
	      o->file, (long long)off);
	if (r == 0 || !tracked)
		return;
	off_t start = (!positional && unknown) ? -1 : off;
	left = r;
	at = start;
	for (int i = 0; i < cnt && left > 0; i++) {
		size_t take = ns[i] < left ? ns[i] : left;
		if (take > 0) {
			asf_after_file_read(fd, arena + ks[i], take, at < 0 ? -1 : at, gen);
			if (start >= 0)
				note_last_read(fd, ks[i], take, at);
		}
		if (at >= 0)
			at += (off_t)take;
		left -= take;
	}
}

/* A read the engine is not told about (a small read under AUTOSENDFILE_MIN_BYTES, stdio,
 * a pipe): file bytes land in the arena behind the records' back. */
static void op_untracked_read(void)
{
	int file = u8() % NFILES;
	size_t k, n;
	pick_range(&k, &n, 600);
	off_t off = u16() % FILE_MAX;
	if (touches_protected(k, n))
		return;
	struct mfile *f = &files[file];
	size_t r = file_read(f, off, n, 0);
	copy_in(-1, file, k, off, r, false);
	TRACE("untracked read file %d at %lld -> arena+%zu, %zu\n", file, (long long)off, k, r);
}

/* ---- the program changing its buffers ---- */

static void op_memset(void)
{
	size_t k, n;
	pick_range(&k, &n, 64);
	uint8_t v = u8();
	if (touches_protected(k, n))
		return;
	unsigned char tmp[64];
	memset(tmp, v, n);
	program_store(k, tmp, n);
	TRACE("memset(arena+%zu, %u, %zu)\n", k, v, n);
}

static void op_memcpy_input(void)
{
	size_t k, n;
	pick_range(&k, &n, 16);
	unsigned char tmp[16];
	for (size_t i = 0; i < n; i++)
		tmp[i] = u8();
	if (touches_protected(k, n))
		return;
	program_store(k, tmp, n);
	TRACE("memcpy(arena+%zu, <input>, %zu)\n", k, n);
}

/* memmove inside the arena: file bytes moved to another place (provenance moves along, but
 * no read put them there). */
static void op_memmove(void)
{
	size_t from, to, n;
	pick_range(&from, &n, 512);
	to = u16() % ARENA;
	if (n > ARENA - to)
		n = ARENA - to;
	if (touches_protected(from, n) || touches_protected(to, n))
		return;
	memmove(arena + to, arena + from, n);
	memmove(marena + to, marena + from, n);
	memmove(prov + to, prov + from, n * sizeof prov[0]);
	for (size_t i = 0; i < n; i++)
		prov[to + i].tracked = false;
	TRACE("memmove(arena+%zu, arena+%zu, %zu)\n", to, from, n);
}

/* A signal handler (or another thread) changes bytes of the buffer the last read filled,
 * after the read and before its write. */
static void op_signal_handler(void)
{
	unsigned at = u16(), len = 1 + u8() % 8;
	uint8_t x = u8() | 1; /* non-zero: every byte changes */
	if (!last_read.valid)
		return;
	size_t k = last_read.k + at % last_read.n;
	if (len > last_read.k + last_read.n - k)
		len = (unsigned)(last_read.k + last_read.n - k);
	if (touches_protected(k, len))
		return;
	unsigned char tmp[8];
	for (unsigned i = 0; i < len; i++)
		tmp[i] = marena[k + i] ^ x;
	program_store(k, tmp, len);
	last_read.must = false;
	TRACE("signal handler: arena+%zu, %u bytes ^= 0x%02x\n", k, len, x);
}

static void op_protect(void)
{
	uint8_t sel = u8();
	int half = sel & 1;
	bool on = !(sel & 2);
	set_protection(half, on);
	TRACE("mprotect(arena half %d, %s)\n", half, on ? "PROT_NONE" : "PROT_READ|PROT_WRITE");
}

/* ---- other processes changing files ---- */

static void op_modify_file(void)
{
	int file = u8() % NFILES;
	size_t off = u16() % FILE_MAX;
	size_t n = 1 + u8() % 32;
	uint8_t v = u8(), mode = u8();
	struct mfile *f = &files[file];
	if (off + n > FILE_MAX)
		n = FILE_MAX - off;
	if (off > f->size)
		memset(f->data + f->size, 0, off - f->size); /* a hole reads as zeros */
	for (size_t i = 0; i < n; i++)
		/* mode bit 0: write the bytes it has already (a change that changes nothing) */
		f->data[off + i] = (mode & 1) && off + i < f->size ? f->data[off + i]
								   : (uint8_t)(v + i * (mode >> 1));
	size_t from = off > f->size ? f->size : off;
	if (off + n > f->size)
		f->size = off + n;
	f->ver++;
	file_sync(f, from, off + n - from);
	TRACE("pwrite(file %d, off %zu, %zu) size=%zu\n", file, off, n, f->size);
}

/* The whole file rewritten in place (same size), e.g. a build step or an editor. */
static void op_rewrite_file(void)
{
	int file = u8() % NFILES;
	uint8_t seed = u8(), mask = u8() | 1;
	struct mfile *f = &files[file];
	for (size_t i = 0; i < f->size; i++)
		f->data[i] = (uint8_t)((i * 5u + seed + (i >> 4)) & mask);
	f->ver++;
	file_sync(f, 0, f->size);
	TRACE("rewrite(file %d, seed %u, mask %#x)\n", file, seed, mask);
}

static void op_truncate(void)
{
	int file = u8() % NFILES;
	size_t size = u16() % (FILE_MAX + 1);
	struct mfile *f = &files[file];
	size_t old = f->size;
	if (size > f->size)
		memset(f->data + f->size, 0, size - f->size);
	f->size = size;
	f->ver++;
	file_sync(f, old < size ? old : size, 0);
	TRACE("ftruncate(file %d, %zu)\n", file, size);
}

/* ---- writes: what would the engine send? ---- */

/* The engine would sendfile n bytes of file f from o for write(arena+k, n): the buffer must
 * hold exactly those bytes now, and be readable. */
static void reference_check(struct mfile *f, off_t o, size_t k, size_t n)
{
	bool full = asf_cfg.verify == ASF_VERIFY_FULL;
	if (o < 0)
		FAIL("redirect from offset %lld", (long long)o);
	/* sendfile sends what the file has up to its end; the fallback the rest (from the
	 * buffer, as the program asked) */
	size_t upto = (uint64_t)o >= f->size ? 0 : f->size - (size_t)o < n ? f->size - (size_t)o : n;
	if (upto < n)
		stats.past_eof++;
	if (touches_protected(k, n)) {
		stats.protected_writes++;
		if (full)
			FAIL("write(arena+%zu, %zu) redirected though the buffer is unreadable (the real "
			     "write fails with EFAULT)", k, n);
	}
	bool unverified = false;
	for (size_t i = 0; i < upto; i++) {
		if (marena[k + i] == f->data[o + (off_t)i])
			continue;
		const struct prov *p = &prov[k + i];
		/* sample/none compare less than every byte by design: wrong bytes are allowed
		 * only where the buffer no longer holds an unchanged tracked read */
		bool held = p->tracked && p->file >= 0 && files[p->file].ver == p->ver;
		if (!full && !held) {
			unverified = true;
			continue;
		}
		FAIL("WRONG BYTES: write(arena+%zu, %zu) would be sent from file %td at %lld, but byte %zu "
		     "differs (buffer 0x%02x, file 0x%02x); the buffer byte came from %s %d offset %lld "
		     "(ver %u, file now ver %u)%s", k, n, f - files, (long long)o, i, marena[k + i],
		     f->data[o + (off_t)i], p->file < 0 ? "the program, last file" : "file", p->file,
		     (long long)p->off, p->ver, p->file >= 0 ? files[p->file].ver : 0,
		     prot[0] || prot[1] ? " [arena partly protected]" : "");
	}
	if (unverified)
		stats.unverified++;
	/* how the bytes got there: by a tracked read of this file at these offsets since its
	 * last change, or by coincidence (the program wrote equal bytes) */
	for (size_t i = 0; i < upto; i++) {
		const struct prov *p = &prov[k + i];
		if (p->file != f - files || p->off != o + (off_t)i || p->ver != f->ver) {
			stats.coincidental++;
			break;
		}
	}
}

/* What the socket allows (src/pressure.h): mostly a backlog (compare), sometimes a queue
 * that drains, where only what the kernel vouches for may open. */
static unsigned draw_how(void)
{
	return ASF_SRC_CONTENT | (u8() % 4 ? ASF_SRC_COMPARE : 0);
}

/* An opened source on a draining socket compared nothing: the kernel vouched for it all. */
static void check_how(unsigned how, const struct asf_source *s)
{
	if (how & ASF_SRC_COMPARE)
		return;
	if (!s->confirmed || s->proven < 1 || s->skip != 0)
		FAIL("a source opened on a draining socket without the kernel's word (confirmed %d)",
		     s->confirmed);
	stats.vouched++;
}

/* `split`: as the single-buffer engine asks (a header of the program's may come first: only
 * the bytes from s.skip on are sent from the file); else as a vectored part. */
static void do_write(size_t k, size_t n, bool must_redirect, bool split)
{
	stats.writes++;
	TRACE("write(arena+%zu, %zu)%s%s\n", k, n, split ? " [split]" : "",
	      must_redirect ? " [must redirect]" : "");
	struct asf_source s;
	asf_activation_enter(T); /* as asf_try_redirect */
	unsigned how = draw_how() | (split ? ASF_SRC_SPLIT : 0);
	bool ok = asf_source_open_as(T, arena + k, n, how, &s);
	if (ok) {
		if (s.skip >= n || (s.skip && !split))
			FAIL("asf_source_open split %zu bytes off a %zu-byte write%s", s.skip, n,
			     split ? "" : " it may not split");
		if (s.skip)
			stats.splits++;
		if (s.full)
			stats.by_content++;
		k += s.skip;
		n -= s.skip;
		if (s.buf != (const char *)arena + k || !s.open || T->open_src != &s)
			FAIL("asf_source_open said yes but the source is not what was asked for");
		check_how(how, &s);
		/* what a sendfile through the source's descriptor would read: its file now */
		struct stat st;
		if (fstat(s.gen.fd, &st) != 0)
			FAIL("the source's descriptor %d is not open", s.gen.fd);
		struct mfile *f = file_by_id(st.st_dev, st.st_ino);
		if (!f)
			FAIL("redirect from a file (dev %" PRIu64 ", ino %" PRIu64 ") that is none of the model's",
			     (uint64_t)st.st_dev, (uint64_t)st.st_ino);
		if (ofd_of(s.gen.fd) == NULL || &files[ofd_of(s.gen.fd)->file] != f)
			FAIL("the source's descriptor %d is not the program's fd of that file", s.gen.fd);
		if (!asf_sendwin_same(&s.gen))
			FAIL("the source's generation is already stale");
		if (table_trustworthy && (s.dev != f->dev || s.ino != f->ino))
			FAIL("the source's identity is not its descriptor's file");
		TRACE("  -> redirected from file %td at %lld (after %zu bytes of the program's)\n",
		      f - files, (long long)s.off, s.skip);
		reference_check(f, s.off, k, n);
		stats.redirects++;
		asf_source_close(&s);
		if (T->open_src)
			FAIL("asf_source_close left the source registered");
	} else {
		TRACE("  -> passed through (miss %d)\n", s.miss);
		switch (s.miss) {
		case ASF_MISS_NO_RECORD: stats.no_record++; break;
		case ASF_MISS_CHANGED: stats.changed++; break;
		case ASF_MISS_UNREADABLE: stats.unreadable++; break;
		case ASF_MISS_FILE_GONE: stats.gone++; break;
		case ASF_MISS_REFUSED: stats.refused++; break;
		case ASF_MISS_DRAINING:
			if (how & ASF_SRC_COMPARE)
				FAIL("asf_source_open said no for a draining socket, but comparing was allowed");
			stats.draining++;
			break;
		default: FAIL("asf_source_open said no with miss %d", s.miss);
		}
	}
	asf_activation_leave(T);
#ifdef FUZZ_ONLY_BYTES
	must_redirect = false;
#endif
	if (must_redirect && (how & ASF_SRC_COMPARE)) {
		stats.liveness++;
		if (!ok)
			FAIL("write(arena+%zu, %zu) right after the read that filled it was not redirected "
			     "(miss %d)", k, n, s.miss);
	}
}

static void op_write(void)
{
	size_t k, n;
	pick_range(&k, &n, ARENA);
	do_write(k, n, false, u8() & 1);
}

/* The write of exactly what the last tracked read filled: it must go out by sendfile in
 * full mode if nothing but writes, re-pointing or protection came in between, the buffer
 * is readable, and the file still holds the range. */
static void op_write_last_read(void)
{
	if (!last_read.valid) {
		op_write();
		return;
	}
	/* (after a raw re-point the table names the wrong file: the redirect is then refused
	 * by the proof, rightly, so there is nothing to demand) */
	bool must = last_read.must && asf_cfg.verify == ASF_VERIFY_FULL && table_trustworthy &&
		    !touches_protected(last_read.k, last_read.n);
	if (must) { /* still in the file (a file truncated since reads short) */
		struct ofd *o = ofd_of(last_read.fd);
		must = o && (uint64_t)last_read.off + last_read.n <= files[o->file].size;
	}
	do_write(last_read.k, last_read.n, must, u8() & 1);
}

/* ---- mappings: the program mmaps its files (wrap_mmap.c's bookkeeping around real calls) ---- */


static unsigned char *slot_addr(int m)
{
	return mapzone + (size_t)m * MAP_PAGES * PAGE;
}

/* The slot's memory back to a PROT_NONE reservation (raw: the library is not told). */
static void slot_clear(int m, bool tell)
{
	if (mmap(slot_addr(m), MAP_PAGES * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) ==
	    MAP_FAILED)
		HARNESS("mmap reservation");
	if (tell)
		asf_mapping_remove(slot_addr(m), MAP_PAGES * PAGE); /* munmap / MAP_FIXED over it */
	maps[m].live = false;
}

/* Byte j of slot m as the program sees it: 1 readable (*b set), 0 unreadable (SIGBUS past
 * the page holding the file's end, or unmapped). */
static int slot_byte(int m, size_t j, unsigned char *b)
{
	if (!maps[m].live || j >= (maps[m].len + PAGE - 1) / PAGE * PAGE)
		return 0;
	const struct mfile *f = &files[maps[m].file];
	size_t pos = maps[m].moff + j;
	if (pos < f->size) {
		*b = f->data[pos];
		return 1;
	}
	if (pos < (f->size + PAGE - 1) / PAGE * PAGE) {
		*b = 0;
		return 1;
	}
	return 0;
}

/* mmap(slot, len, PROT_READ, MAP_SHARED or MAP_PRIVATE | MAP_FIXED, fd, moff): through a
 * program fd (the wrapper's bookkeeping unless raw: then the library's entry, if any, goes
 * on claiming what was there before). */
static void do_map(int m, int fd, size_t moff, size_t len, bool shared, bool raw)
{
	struct ofd *o = ofd_of(fd);
	if (!o)
		return;
	if (!raw)
		asf_mapping_remove(slot_addr(m), len); /* MAP_FIXED: whatever was there is replaced */
	void *r = mmap(slot_addr(m), len, PROT_READ, (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_FIXED, fd,
		       (off_t)moff);
	if (r == MAP_FAILED) { /* a write-only fd (EACCES): nothing changed but the forgetting */
		TRACE("mmap(slot %d, fd %d) failed: %s\n", m, fd, strerror(errno));
		return;
	}
	if (r != slot_addr(m))
		HARNESS("mmap of fd %d moved", fd);
	/* the rest of the slot, if the new mapping is shorter, keeps whatever was there: make
	 * it the reservation again (and the model never looks past len) */
	size_t plen = (len + PAGE - 1) / PAGE * PAGE;
	if (plen < MAP_PAGES * PAGE &&
	    mmap(slot_addr(m) + plen, MAP_PAGES * PAGE - plen, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
		 0) == MAP_FAILED)
		HARNESS("mmap reservation");
	if (!raw && plen < MAP_PAGES * PAGE)
		asf_mapping_remove(slot_addr(m) + plen, MAP_PAGES * PAGE - plen);
	maps[m] = (__typeof__(maps[m])){ true, o->file, moff, len, shared };
	TRACE("mmap(slot %d, %zu, %s, fd %d = file %d, %zu)%s\n", m, len, shared ? "SHARED" : "PRIVATE", fd,
	      o->file, moff, raw ? " [raw]" : "");
	if (raw)
		return;
	uint32_t w = asf_fd_word(fd);
	if ((w & ASF_FD_KIND_MASK) == ASF_FD_UNKNOWN)
		w = asf_fd_classify(fd);
	if ((w & ASF_FD_KIND_MASK) == ASF_FD_FILE && !(w & ASF_FDF_NO_SENDFILE))
		asf_mapping_add(r, len, shared, false, fd, (off_t)moff);
}

static void op_map(void)
{
	int m = u8() % NMAPS;
	int fd = FD_BASE + u8() % NFD;
	uint8_t sel = u8();
	size_t moff = (sel & 1) ? PAGE : 0;
	size_t len = (sel & 2) && !moff ? 2 * PAGE : (sel & 4) ? PAGE : 1 + u16() % PAGE;
	do_map(m, fd, moff, len, sel & 8, sel & 16 ? (raw_mode || (sel & 32)) : false);
}

static void op_unmap(void)
{
	int m = u8() % NMAPS;
	bool raw = u8() & 1;
	TRACE("munmap(slot %d)%s\n", m, raw ? " [raw]" : "");
	slot_clear(m, !raw);
}

/* write(slot + j, n): whatever asf_source_open claims must be the bytes the mapping shows. */
static void op_map_write(void)
{
	int m = u8() % NMAPS;
	size_t j = u16() % (MAP_PAGES * PAGE), n = 1 + u16() % 3000;
	if (j + n > MAP_PAGES * PAGE)
		n = MAP_PAGES * PAGE - j;
	unsigned char *buf = slot_addr(m) + j;
	stats.writes++;
	TRACE("write(slot %d + %zu, %zu)\n", m, j, n);
	struct asf_source s;
	asf_activation_enter(T);
	unsigned how = draw_how();
	bool ok = asf_source_open_as(T, buf, n, how, &s);
	if (ok) {
		struct stat st;
		if (s.buf != (const char *)buf || fstat(s.gen.fd, &st) != 0)
			FAIL("asf_source_open said yes but the source is not what was asked for");
		check_how(how, &s);
		struct mfile *f = file_by_id(st.st_dev, st.st_ino);
		if (!f)
			FAIL("redirect from a file that is none of the model's");
		off_t o = s.off;
		size_t upto = o < 0 || (uint64_t)o >= f->size ? 0 : f->size - (size_t)o < n ? f->size - (size_t)o : n;
		TRACE("  -> redirected from file %td at %lld (%zu bytes of the file)\n", f - files, (long long)o, upto);
		if (o < 0)
			FAIL("redirect from offset %lld", (long long)o);
		for (size_t i = 0; i < upto; i++) {
			unsigned char b;
			if (!slot_byte(m, j + i, &b))
				FAIL("WRONG BYTES: write(slot %d + %zu, %zu) sent from file %td at %lld, but byte %zu "
				     "of the buffer is unreadable (the real write stops there)",
				     m, j, n, f - files, (long long)o, i);
			if (b != f->data[o + (off_t)i])
				FAIL("WRONG BYTES: write(slot %d + %zu, %zu) sent from file %td at %lld, but byte %zu "
				     "differs (memory 0x%02x: file %d at %zu%s; file 0x%02x)",
				     m, j, n, f - files, (long long)o, i, b, maps[m].file, maps[m].moff + j + i,
				     maps[m].shared ? " shared" : " private", f->data[o + (off_t)i]);
		}
		stats.redirects++;
		asf_source_close(&s);
	} else {
		TRACE("  -> passed through (miss %d)\n", s.miss);
	}
	asf_activation_leave(T);
}

/* The program copies mapped bytes (or the last read's) elsewhere in its buffer and writes
 * the copy (PHP, runtimes), maybe after a header of its own (a framing daemon: the copy
 * from anywhere inside the read, the next copy continuing where this one ended, into the
 * same place): a content match, if any, must be byte-exact (do_write checks). sel: bit 0
 * from a mapping, else from the last read; bit 1 write it; bit 2 from inside the read, bit
 * 3 continuing the last copy; bit 4 a header of 1-64 bytes before it; bit 5 split allowed
 * without one. */
static void op_copy_write(void)
{
	uint8_t sel = u8();
	size_t k = u16() % ARENA, n = 1 + u16() % 1200, j = u16(), h = (sel & 16) ? 1 + u8() % 64 : 0;
	unsigned char tmp[ARENA];
	if (sel & 1) {
		if (n > ARENA - k)
			n = ARENA - k;
		if (touches_protected(k, n))
			return;
		int m = u8() % NMAPS;
		j %= MAP_PAGES * PAGE;
		for (size_t i = 0; i < n; i++)
			if (!slot_byte(m, j + i, &tmp[i]))
				n = i; /* stops at the first unreadable byte */
		if (!n)
			return;
		TRACE("memcpy(arena+%zu, slot %d + %zu, %zu)\n", k, m, j, n);
	} else {
		if (!last_read.valid || touches_protected(last_read.k, last_read.n))
			return;
		bool cont = (sel & 8) && last_copy.valid && last_copy.read_k == last_read.k &&
			    last_copy.read_n == last_read.n && last_copy.end < last_read.n;
		j = cont ? last_copy.end : (sel & 4) ? j % last_read.n : 0;
		if (cont)
			k = last_copy.dest;
		if (n > last_read.n - j)
			n = last_read.n - j;
		if (n > ARENA - k)
			n = ARENA - k;
		if (touches_protected(k, n))
			return;
		memcpy(tmp, marena + last_read.k + j, n);
		last_copy.valid = true;
		last_copy.read_k = last_read.k;
		last_copy.read_n = last_read.n;
		last_copy.end = j + n;
		last_copy.dest = k;
		TRACE("memcpy(arena+%zu, last read at arena+%zu + %zu, %zu)%s\n", k, last_read.k, j, n,
		      cont ? " [continues the last copy]" : "");
	}
	program_store(k, tmp, n);
	if (last_read.valid && k < last_read.k + last_read.n && last_read.k < k + n)
		last_read.must = false; /* its bytes changed (maybe to equal ones) */
	if (h > k)
		h = k;
	if (h && !touches_protected(k - h, h)) {
		unsigned char hdr[64];
		for (size_t i = 0; i < h; i++)
			hdr[i] = u8();
		program_store(k - h, hdr, h);
		if (last_read.valid && k - h < last_read.k + last_read.n && last_read.k < k)
			last_read.must = false;
		TRACE("memcpy(arena+%zu, <header>, %zu)\n", k - h, h);
	} else {
		h = 0;
	}
	if (sel & 2)
		do_write(k - h, n + h, false, h || (sel & 32));
}

/* ---- blocked signals, raw close_range ---- */

/* The fuzz thread blocks SIGSEGV and SIGBUS, or stops blocking them. */
static void op_block_faults(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGSEGV);
	sigaddset(&set, SIGBUS);
	bool block = u8() & 1;
	TRACE("%s SIGSEGV and SIGBUS\n", block ? "block" : "unblock");
	pthread_sigmask(block ? SIG_BLOCK : SIG_UNBLOCK, &set, NULL);
}

/* close_range(fd, ~0U) by the raw system call (only with ASF_FUZZ_RAW=1): the program's
 * fds from fd up close behind the library's back. */
static void op_raw_close_range(void)
{
	int fd = FD_BASE + u8() % NFD;
	if (!raw_mode)
		return;
	TRACE("raw close_range(%d, %d)\n", fd, FD_BASE + NFD - 1);
	if (syscall(SYS_close_range, (unsigned)fd, (unsigned)(FD_BASE + NFD - 1), 0) != 0)
		HARNESS("close_range");
	for (int s = fd_slot(fd); s < NFD; s++)
		if (fdmap[s] >= 0) {
			ofd_unref(fdmap[s]);
			fdmap[s] = -1;
		}
	table_trustworthy = false;
}

/* Does the process hold a descriptor outside [0, 2], the program's FD_BASE.. and the
 * harness's RFD_BASE.. (and whatever libFuzzer holds below FD_BASE)? The library keeps
 * none of its own. */
static bool foreign_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return false;
	bool foreign = false;
	struct dirent *e;
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);
		if (fd >= FD_BASE + NFD && fd != dirfd(d) && !(fd >= RFD_BASE && fd < RFD_BASE + NFILES))
			foreign = true;
	}
	closedir(d);
	return foreign;
}

/* ---- invariants after every operation ---- */

static void check_invariants(void)
{
#ifdef FUZZ_ONLY_BYTES
	return;
#endif
	for (int i = 0; i < ASF_RECORDS_PER_THREAD; i++) {
		const struct asf_record *a = &T->rec[i];
		if (a->seq & 1)
			FAIL("record %d left with an odd seq", i);
		if (!a->start)
			continue;
		/* (a content match from a mapping leaves a copy record there) */
		if ((a->start < (uintptr_t)arena || a->start + a->len > (uintptr_t)(arena + ARENA)) &&
		    (a->start < (uintptr_t)mapzone || a->start + a->len > (uintptr_t)(mapzone + NMAPS * MAP_PAGES * PAGE)))
			FAIL("record %d outside the arena and the mappings", i);
		if (a->len == 0 || a->len > ASF_RECORD_MAX_BYTES)
			FAIL("record %d has length %zu", i, a->len);
		if (a->off < 0)
			FAIL("record %d has offset %lld", i, (long long)a->off);
		if (a->ino == 0 || a->fd < 0)
			FAIL("record %d names no file (dev/ino and the fd to reach it through)", i);
		for (int j = i + 1; j < ASF_RECORDS_PER_THREAD; j++) {
			const struct asf_record *b = &T->rec[j];
			if (b->start && a->start < b->start + b->len && b->start < a->start + a->len)
				FAIL("records %d [arena+%td, +%zu) and %d [arena+%td, +%zu) overlap", i,
				     (const unsigned char *)a->start - arena, a->len, j,
				     (const unsigned char *)b->start - arena, b->len);
		}
	}
	if (T->open_src || T->busy || T->slot)
		FAIL("the thread state still holds an activation (or its proof buffer)");
	for (size_t h = 0; h < 2; h++)
		if (!prot[h] && memcmp(arena + h * HALF, marena + h * HALF, HALF) != 0)
			HARNESS("the arena and the model's copy differ in half %zu", h);
	if (foreign_fds())
		FAIL("the process holds a descriptor that is neither the program's nor the harness's");
	if (!table_trustworthy)
		return;
	for (int s = 0; s < NFD; s++) {
		int fd = FD_BASE + s;
		uint32_t w = asf_fd_word(fd);
		struct ofd *o = ofd_of(fd);
		if (asf_fd_gen(fd) & 1)
			FAIL("fd %d generation left odd", fd);
		if (!o) {
			if (w != ASF_FD_UNKNOWN)
				FAIL("closed fd %d has table word %u", fd, w);
			continue;
		}
		if ((w & ASF_FD_KIND_MASK) == ASF_FD_UNKNOWN)
			continue;
		uint64_t dev, ino;
		struct mfile *f = &files[o->file];
		if (!asf_fd_identity(fd, &dev, &ino) || dev != f->dev || ino != f->ino)
			FAIL("fd table names the wrong file for fd %d", fd);
	}
}

/* ---- one run ---- */

static void reset(uint8_t mode)
{
	if (!armed) {
		/* after libFuzzer and the sanitizers put their handlers in place: ours goes on top
		 * and forwards every fault outside a guarded compare to them */
		asf_signals_init();
		armed = true;
	}
	for (int i = 0; i < ASF_RECORDS_PER_THREAD; i++)
		asf_record_drop(&T->rec[i]);
	for (int m = 0; m < NMAPS; m++)
		slot_clear(m, true);
	for (int s = 0; s < NFD; s++) {
		if (fdmap[s] >= 0)
			close(FD_BASE + s);
		asf_fd_forget(FD_BASE + s);
		fdmap[s] = -1;
	}
	for (int o = 0; o < NOFD; o++)
		ofds[o] = (struct ofd){ -1, 0, 0 };
	set_protection(0, false);
	set_protection(1, false);
	last_read.valid = false;
	last_copy.valid = false;
	read_end = 0;
	table_trustworthy = true;
	asf_content_clear(T); /* the probes, the continuation, the backoff: each input afresh */
	/* mode: the byte alphabet of the contents; a small one makes equal bytes at different
	 * offsets and in different files common. The sizes: the high bits. */
	static const uint8_t masks[4] = { 0xff, 0x03, 0x01, 0x0f };
	uint8_t mask = masks[mode & 3];
	for (int f = 0; f < NFILES; f++) {
		files[f].ver = 0;
		files[f].size = FILE_MAX - (size_t)(mode >> 2) * 61 * (size_t)f;
		for (size_t i = 0; i < FILE_MAX; i++)
			files[f].data[i] = (uint8_t)((i * 7u + (i >> 3) * 13u + (unsigned)f * 101u +
						      (mode >> 2)) & mask);
		file_sync(&files[f], 0, files[f].size);
	}
	memset(arena, 0, ARENA);
	memset(marena, 0, ARENA);
	for (size_t i = 0; i < ARENA; i++)
		prov[i] = (struct prov){ -1, false, 0, 0 };
	/* Two files open from the start, so that short inputs do something. */
	for (int s = 0; s < 2; s++) {
		real_open_at(s, FD_BASE + s);
		fdmap[s] = s;
		ofds[s] = (struct ofd){ s, 0, 1 };
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	in_p = data;
	in_n = size;
	stats.iters++;
	reset(u8());
	while (in_n > 0) {
		uint8_t op = u8();
		stats.ops++;
		/* "right after the read": only writes, re-pointing, protection and the signal
		 * handler (which cancels the "must") may come in between */
		switch (op % 32) {
		case 17: case 18: case 20: case 21: case 22: case 23: case 27: case 28: case 29:
		case 30: break;
		default: last_read.valid = false;
		}
		switch (op % 32) {
		case 0: op_open(); break;
		case 1: case 2: op_read(false); break;
		case 3: op_read(true); break;
		case 4: op_readv(); break;
		case 5: op_memset(); break;
		case 6: op_memcpy_input(); break;
		case 7: op_memmove(); break;
		case 8: op_modify_file(); break;
		case 9: op_truncate(); break;
		case 10: op_rewrite_file(); break;
		case 11: op_lseek(); break;
		case 12: op_close(); break;
		case 13: op_dup(); break;
		case 14: op_dup2(); break;
		case 15: op_setfl(); break;
		case 16: op_untracked_read(); break;
		case 17: op_write(); break;
		case 18: op_write_last_read(); break;
		case 19: op_raw_reopen(); break;
		case 20: op_signal_handler(); break;
		case 21: op_repoint(); break;
		case 22: case 23: op_protect(); break;
		case 24: op_map(); break;
		case 25: op_unmap(); break;
		case 26: case 27: op_map_write(); break;
		case 28: case 29: op_copy_write(); break;
		case 30: op_block_faults(); break;
		case 31: op_raw_close_range(); break;
		}
		check_invariants();
	}
	return 0;
}
