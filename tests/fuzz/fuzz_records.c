/* libFuzzer target: the tracking/matching engine (records.c, fdtable.c, the read glue
 * asf_after_file_read in redirect.c) against a reference model.
 *
 * The input drives a model process: three fake files (bytes, dev/ino, ctime), fake fd
 * numbers on shared open file descriptions (offsets), and one arena of memory in which the
 * program's buffers live anywhere (so they overlap freely). Reads copy file bytes into the
 * arena and tell the engine exactly as the wrappers in wrap_read.c would (generation and
 * baseline loaded before, asf_after_file_read after, each readv segment on its own);
 * close/dup/dup2/open update the fd table as wrap_fd.c/wrap_open.c do. Nothing here makes a
 * real syscall for a fake fd: classification and source.c's fstat check are modelled.
 *
 * At every write(buf+k, n) the engine is asked what it would send: asf_record_find +
 * asf_record_verify + the check_file() of source.c (same file identity, record ctime equal
 * to the file's current ctime, range inside the file), and, independently, the seqlock
 * reader asf_record_find_foreign. Whenever it would send "file F from offset O, n bytes",
 * the reference model checks that the arena holds exactly F's current bytes [O, O+n)
 * (what sendfile would send) and that the record's shadow does too; otherwise abort().
 * Invariants checked after every operation: live records lie in the arena, never overlap,
 * 0 < len <= ASF_RECORD_MAX_BYTES; a found record holds the whole range; offsets map
 * linearly; the fd table agrees with the model (a FILE entry names the file that fd has,
 * its baseline is never newer than the file's ctime; a closed fd is UNKNOWN). And one
 * liveness check, so that an engine that never redirects cannot pass: a write of exactly
 * the range the last tracked read filled, with nothing in between and a current baseline,
 * must be redirected.
 *
 * ASF_FUZZ_RAW=1 in the environment adds an operation that re-points an fd number behind
 * the library's back (a raw close + open, as libuv does): see the report in run.sh.
 * FUZZ_VERIFY=sample|none runs the engine in that AUTOSENDFILE_VERIFY mode: wrong bytes are
 * then a finding only where the buffer holds bytes of a read the engine was told about
 * that nothing changed since (the modes skip comparing, not tracking).
 * FUZZ_TRACE=1 prints every operation (to replay a crash input). Built with
 * -DFUZZ_ONLY_BYTES (FUZZ_CFLAGS=-DFUZZ_ONLY_BYTES tests/fuzz/run.sh) the invariant checks
 * (and the own/foreign consistency and liveness checks) are off and only the reference
 * model's "wrong bytes" verdict remains: to show that the model alone catches a broken
 * engine. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "config.h"
#include "fdtable.h"
#include "records.h"
#include "redirect.h"

#define NFILES 3
#define FILE_MAX 512
#define NFD 8
#define FD_BASE 1000 /* fake fd numbers FD_BASE..FD_BASE+NFD-1; nothing real uses them */
#define NOFD 16
#define ARENA 1024
#define MAXVER 256

struct mfile {
	uint64_t dev, ino, ctime;
	size_t size;
	unsigned char data[FILE_MAX];
};

struct ofd {
	int file; /* -1: free */
	off_t off;
	int refs;
};

/* Where an arena byte came from. The verdict is on bytes; `tracked` (the byte was put here
 * by a read the engine was told about, and nothing touched it since) decides which wrong
 * bytes the weaker verify modes may send: only bytes the program changed behind the
 * engine's back. */
struct prov {
	int8_t file; /* -1: written by the program */
	bool tracked;
	uint64_t ctime;
	off_t off;
};

static struct mfile files[NFILES];
static struct ofd ofds[NOFD];
static int fdmap[NFD]; /* ofd index or -1 */
static unsigned char arena[ARENA] __attribute__((aligned(64)));
static struct prov prov[ARENA];
static uint64_t ctime_clock;
static unsigned nmods;
static struct asf_thread *T;
static bool raw_mode, trace, table_trustworthy;

static struct {
	size_t k, n;
	bool valid;
} last_read;
static size_t read_end; /* where the last read into the arena ended: the next read may
			 * continue there (programs filling one buffer with several reads) */

static struct {
	unsigned long long iters, ops, writes, redirects, foreign, verify_rejects, gone, changed,
		coincidental, liveness, unverified;
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

#define TRACE(...)                                   \
	do {                                         \
		if (trace)                           \
			fprintf(stderr, __VA_ARGS__); \
	} while (0)

static void dump_state(void)
{
	fprintf(stderr, "arena=%p..%p\n", (void *)arena, (void *)(arena + ARENA));
	for (int f = 0; f < NFILES; f++)
		fprintf(stderr, "file %d dev=%" PRIu64 " ino=%" PRIu64 " ctime=%" PRIu64 " size=%zu\n", f,
			files[f].dev, files[f].ino, files[f].ctime, files[f].size);
	for (int s = 0; s < NFD; s++)
		if (fdmap[s] >= 0)
			fprintf(stderr, "fd %d -> ofd %d (file %d, off %lld); table word=%u ctime=%" PRIu64 "\n",
				FD_BASE + s, fdmap[s], ofds[fdmap[s]].file, (long long)ofds[fdmap[s]].off,
				asf_fd_word(FD_BASE + s), asf_fd_ctime(FD_BASE + s));
	for (int i = 0; i < ASF_RECORDS_PER_THREAD; i++) {
		const struct asf_record *r = &T->rec[i];
		if (r->start)
			fprintf(stderr, "rec %d: arena+%td len=%zu fd=%d dev=%" PRIu64 " ino=%" PRIu64
				" off=%lld ctime=%" PRIu64 "\n", i, (const unsigned char *)r->start - arena,
				r->len, r->fd, r->dev, r->ino, (long long)r->off, r->ctime_ns);
	}
}

#define FAIL(...)                                              \
	do {                                                   \
		fprintf(stderr, "fuzz_records: FINDING: ");    \
		fprintf(stderr, __VA_ARGS__);                  \
		fprintf(stderr, "\n");                         \
		dump_state();                                  \
		abort();                                       \
	} while (0)

static void print_stats(void)
{
	if (!getenv("FUZZ_STATS"))
		return;
	fprintf(stderr,
		"fuzz_records: iterations=%llu ops=%llu writes=%llu redirects=%llu foreign_redirects=%llu "
		"verify_rejects=%llu gone=%llu changed=%llu coincidental=%llu liveness_checks=%llu "
		"verify=%s sent_program_changed=%llu\n",
		stats.iters, stats.ops, stats.writes, stats.redirects, stats.foreign,
		stats.verify_rejects, stats.gone, stats.changed, stats.coincidental, stats.liveness,
		asf_cfg.verify == ASF_VERIFY_FULL ? "full" : asf_cfg.verify == ASF_VERIFY_SAMPLE ? "sample" : "none",
		stats.unverified);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	asf_records_init();
	T = asf_thread_get(true);
	if (!T) {
		fprintf(stderr, "fuzz_records: no thread state\n");
		exit(1);
	}
	const char *raw = getenv("ASF_FUZZ_RAW");
	raw_mode = raw && *raw == '1';
	trace = getenv("FUZZ_TRACE") != NULL;
	/* AUTOSENDFILE_VERIFY as the library would parse it (default full) */
	const char *v = getenv("FUZZ_VERIFY");
	asf_cfg.verify = !v || !strcmp(v, "full") ? ASF_VERIFY_FULL
			 : !strcmp(v, "sample")   ? ASF_VERIFY_SAMPLE
						  : ASF_VERIFY_NONE;
	atexit(print_stats);
	return 0;
}

/* ---- the model's files ---- */

static struct mfile *file_by_id(uint64_t dev, uint64_t ino)
{
	for (int f = 0; f < NFILES; f++)
		if (files[f].dev == dev && files[f].ino == ino)
			return &files[f];
	return NULL;
}

/* Every change of a file gets a new ctime (multigrain timestamps: the assumption source.c
 * relies on). */
static void file_changed(struct mfile *f)
{
	f->ctime = ++ctime_clock;
	nmods++;
}

/* ---- fds: what the wrappers do to the fd table ---- */

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

/* asf_fd_classify on a regular file: the first baseline, then the word. */
static void model_classify(int fd)
{
	struct mfile *f = &files[ofd_of(fd)->file];
	asf_fd_set_ctime(fd, f->ctime);
	asf_fd_set(fd, ASF_FD_FILE, f->dev, f->ino);
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
	ofds[o].refs = 1;
	fdmap[fd_slot(fd)] = o;
	asf_fd_forget(fd); /* wrap_open.c: opened() */
	TRACE("open(file %d) = %d\n", file, fd);
}

static void op_close(void)
{
	int fd = FD_BASE + u8() % NFD;
	TRACE("close(%d)\n", fd);
	asf_fd_change_begin(fd);
	if (fdmap[fd_slot(fd)] >= 0) {
		ofd_unref(fdmap[fd_slot(fd)]);
		fdmap[fd_slot(fd)] = -1;
	}
	asf_fd_forget(fd);
	asf_fd_change_end(fd);
}

static void op_dup(void)
{
	int old = FD_BASE + u8() % NFD;
	if (!ofd_of(old))
		return;
	int fd = lowest_free_fd();
	if (fd < 0)
		return;
	fdmap[fd_slot(fd)] = fdmap[fd_slot(old)];
	ofds[fdmap[fd_slot(old)]].refs++;
	asf_fd_copy(old, fd);
	TRACE("dup(%d) = %d\n", old, fd);
}

static void op_dup2(void)
{
	int old = FD_BASE + u8() % NFD, nfd = FD_BASE + u8() % NFD;
	TRACE("dup2(%d, %d)\n", old, nfd);
	asf_fd_change_begin(nfd);
	if (ofd_of(old)) {
		if (old != nfd) {
			if (fdmap[fd_slot(nfd)] >= 0)
				ofd_unref(fdmap[fd_slot(nfd)]);
			fdmap[fd_slot(nfd)] = fdmap[fd_slot(old)];
			ofds[fdmap[fd_slot(old)]].refs++;
		}
		asf_fd_copy(old, nfd);
	}
	asf_fd_change_end(nfd);
}

/* fcntl(F_SETFL) forgets the classification: the next read classifies afresh. */
static void op_setfl(void)
{
	int fd = FD_BASE + u8() % NFD;
	if (!ofd_of(fd))
		return;
	TRACE("fcntl(%d, F_SETFL)\n", fd);
	asf_fd_forget(fd);
}

/* A raw close + open behind the library's back (only with ASF_FUZZ_RAW=1). */
static void op_raw_reopen(void)
{
	int fd = FD_BASE + u8() % NFD;
	int file = u8() % NFILES;
	if (!raw_mode)
		return;
	TRACE("raw reopen(%d -> file %d)\n", fd, file);
	if (fdmap[fd_slot(fd)] >= 0) {
		ofd_unref(fdmap[fd_slot(fd)]);
		fdmap[fd_slot(fd)] = -1;
	}
	int o = ofd_new(file);
	if (o < 0)
		return;
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

static void copy_in(struct mfile *f, int file, size_t k, off_t off, size_t n, bool tracked)
{
	if (n == 0)
		return;
	memcpy(arena + k, f->data + off, n);
	for (size_t i = 0; i < n; i++)
		prov[k + i] = (struct prov){ (int8_t)file, tracked, f->ctime, off + (off_t)i };
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

/* read()/pread(): tracked as wrap_read.c's read_slow/pread_slow. pos < 0: at the fd's
 * offset. */
static void do_read(int fd, size_t k, size_t want, off_t pos, uint8_t flags)
{
	struct ofd *o = ofd_of(fd);
	if (!o)
		return; /* EBADF */
	uint64_t gen = asf_fd_gen(fd);
	uint32_t w = asf_fd_word(fd);
	if ((w & ASF_FD_KIND_MASK) == ASF_FD_UNKNOWN) {
		model_classify(fd);
		w = asf_fd_word(fd);
	}
	bool tracked = (w & ASF_FD_KIND_MASK) == ASF_FD_FILE;
	uint64_t base = asf_fd_ctime(fd);
	struct mfile *f = &files[o->file];
	off_t off = pos < 0 ? o->off : pos;
	size_t r = file_read(f, off, want, flags);
	copy_in(f, o->file, k, off, r, tracked);
	read_end = k + r;
	if (pos < 0)
		o->off += (off_t)r;
	TRACE("%s(%d, arena+%zu, %zu%s) = %zu from file %d at %lld%s\n", pos < 0 ? "read" : "pread",
	      fd, k, want, pos < 0 ? "" : ", off", r, o->file, (long long)off,
	      (flags & 1) ? " (offset unknown)" : "");
	if (r == 0 || !tracked)
		return;
	/* flags bit 0: another thread moved the shared offset meanwhile (lseek after != before
	 * + r), so the offset is unknown */
	off_t known = (pos < 0 && (flags & 1)) ? -1 : off;
	asf_after_file_read(fd, arena + k, r, known, base, gen);
	if (known >= 0 && base == f->ctime) {
		last_read.k = k;
		last_read.n = r;
		last_read.valid = true;
	}
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
	pick_range(&k, &n, FILE_MAX + 16);
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
	size_t ks[3], ns[3], total = 0;
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
	uint64_t gen = asf_fd_gen(fd);
	uint32_t w = asf_fd_word(fd);
	if ((w & ASF_FD_KIND_MASK) == ASF_FD_UNKNOWN) {
		model_classify(fd);
		w = asf_fd_word(fd);
	}
	bool tracked = (w & ASF_FD_KIND_MASK) == ASF_FD_FILE;
	uint64_t base = asf_fd_ctime(fd);
	struct mfile *f = &files[o->file];
	off_t off = pos < 0 ? o->off : pos;
	size_t r = file_read(f, off, total, 0);
	/* the kernel fills the segments in order (later ones may overwrite earlier ones
	 * when they overlap in memory) */
	size_t left = r;
	off_t at = off;
	for (int i = 0; i < cnt && left > 0; i++) {
		size_t take = ns[i] < left ? ns[i] : left;
		copy_in(f, o->file, ks[i], at, take, tracked);
		at += (off_t)take;
		left -= take;
	}
	if (pos < 0)
		o->off += (off_t)r;
	TRACE("%s(%d, %d segs: arena+%zu/%zu arena+%zu/%zu arena+%zu/%zu) = %zu from file %d at %lld\n",
	      positional ? "preadv" : "readv", fd, cnt, ks[0], ns[0], ks[1], ns[1],
	      cnt > 2 ? ks[2] : 0, cnt > 2 ? ns[2] : 0, r, o->file, (long long)off);
	if (r == 0 || !tracked)
		return;
	off_t start = (!positional && unknown) ? -1 : off;
	left = r;
	at = start;
	for (int i = 0; i < cnt && left > 0; i++) {
		size_t take = ns[i] < left ? ns[i] : left;
		if (take > 0) {
			asf_after_file_read(fd, arena + ks[i], take, at < 0 ? -1 : at, base, gen);
			if (start >= 0 && base == f->ctime) {
				last_read.k = ks[i];
				last_read.n = take;
				last_read.valid = true;
			}
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
	pick_range(&k, &n, FILE_MAX);
	off_t off = u16() % FILE_MAX;
	struct mfile *f = &files[file];
	size_t r = file_read(f, off, n, 0);
	copy_in(f, file, k, off, r, false);
	TRACE("untracked read file %d at %lld -> arena+%zu, %zu\n", file, (long long)off, k, r);
}

/* ---- the program changing its buffers ---- */

static void program_wrote(size_t k, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		prov[k + i].file = -1;
		prov[k + i].tracked = false;
	}
}

static void op_memset(void)
{
	size_t k, n;
	pick_range(&k, &n, 64);
	uint8_t v = u8();
	memset(arena + k, v, n);
	program_wrote(k, n);
	TRACE("memset(arena+%zu, %u, %zu)\n", k, v, n);
}

static void op_memcpy_input(void)
{
	size_t k, n;
	pick_range(&k, &n, 16);
	for (size_t i = 0; i < n; i++)
		arena[k + i] = u8();
	program_wrote(k, n);
	TRACE("memcpy(arena+%zu, <input>, %zu)\n", k, n);
}

/* memmove inside the arena: file bytes moved to another place (provenance moves along). */
static void op_memmove(void)
{
	size_t from, to, n;
	pick_range(&from, &n, 512);
	to = u16() % ARENA;
	if (n > ARENA - to)
		n = ARENA - to;
	memmove(arena + to, arena + from, n);
	memmove(prov + to, prov + from, n * sizeof prov[0]);
	for (size_t i = 0; i < n; i++)
		prov[to + i].tracked = false;
	TRACE("memmove(arena+%zu, arena+%zu, %zu)\n", to, from, n);
}

/* ---- other processes changing files ---- */

static void op_modify_file(void)
{
	int file = u8() % NFILES;
	size_t off = u16() % FILE_MAX;
	size_t n = 1 + u8() % 32;
	uint8_t v = u8(), mode = u8();
	struct mfile *f = &files[file];
	if (nmods >= MAXVER)
		return;
	if (off + n > FILE_MAX)
		n = FILE_MAX - off;
	if (off > f->size)
		memset(f->data + f->size, 0, off - f->size); /* a hole reads as zeros */
	for (size_t i = 0; i < n; i++)
		/* mode bit 0: write the bytes it has already (a change that changes nothing) */
		f->data[off + i] = (mode & 1) && off + i < f->size ? f->data[off + i]
								   : (uint8_t)(v + i * (mode >> 1));
	if (off + n > f->size)
		f->size = off + n;
	file_changed(f);
	TRACE("pwrite(file %d, off %zu, %zu) ctime=%" PRIu64 " size=%zu\n", file, off, n, f->ctime,
	      f->size);
}

static void op_truncate(void)
{
	int file = u8() % NFILES;
	size_t size = u16() % (FILE_MAX + 1);
	struct mfile *f = &files[file];
	if (nmods >= MAXVER)
		return;
	if (size > f->size)
		memset(f->data + f->size, 0, size - f->size);
	f->size = size;
	file_changed(f);
	TRACE("ftruncate(file %d, %zu) ctime=%" PRIu64 "\n", file, size, f->ctime);
}

static void op_touch(void)
{
	int file = u8() % NFILES;
	if (nmods >= MAXVER)
		return;
	file_changed(&files[file]); /* chmod/utimes: ctime moves, bytes do not */
	TRACE("chmod(file %d) ctime=%" PRIu64 "\n", file, files[file].ctime);
}

/* ---- writes: what would the engine send? ---- */

enum source_state { SOURCE_OK, SOURCE_GONE, SOURCE_CHANGED };

/* source.c check_file(), with the model's fstat of the record's fd; side effects as there
 * when `effects`. */
static enum source_state model_check_file(const struct asf_record *r, off_t off, size_t n,
					  bool effects)
{
	struct ofd *o = ofd_of(r->fd);
	if (!o || files[o->file].dev != r->dev || files[o->file].ino != r->ino) {
		if (effects)
			asf_fd_forget(r->fd);
		return SOURCE_GONE;
	}
	struct mfile *f = &files[o->file];
	if (f->ctime != r->ctime_ns) {
		if (effects)
			asf_fd_set_ctime(r->fd, f->ctime);
		return SOURCE_CHANGED;
	}
	return off >= 0 && (uint64_t)off + n <= f->size ? SOURCE_OK : SOURCE_CHANGED;
}

static void check_holds(const struct asf_record *r, const unsigned char *buf, size_t n,
			const char *path)
{
#ifdef FUZZ_ONLY_BYTES /* harness self-test: only the reference model's byte verdict */
	(void)r, (void)buf, (void)n, (void)path;
	return;
#endif
	uintptr_t lo = (uintptr_t)buf;
	if (!(r->start <= lo && lo + n <= r->start + r->len))
		FAIL("%s: record [arena+%td, +%zu) found for a range [arena+%zu, +%zu) it does not hold",
		     path, (const unsigned char *)r->start - arena, r->len, (size_t)(buf - arena), n);
	off_t o = asf_record_offset(r, buf);
	if (o != r->off + (off_t)(lo - r->start))
		FAIL("%s: asf_record_offset = %lld, the record maps arena+%zu to %lld", path,
		     (long long)o, (size_t)(buf - arena), (long long)(r->off + (off_t)(lo - r->start)));
	size_t js[3] = { 0, n / 2, n - 1 };
	for (int i = 0; i < 3; i++)
		if (asf_record_offset(r, buf + js[i]) != o + (off_t)js[i])
			FAIL("%s: offsets not linear: buf+%zu -> %lld, buf -> %lld", path, js[i],
			     (long long)asf_record_offset(r, buf + js[i]), (long long)o);
}

/* The engine would sendfile n bytes of the file r names from asf_record_offset(r, buf):
 * the arena must hold exactly those bytes now. */
static void reference_check(const struct asf_record *r, const unsigned char *buf, size_t n,
			    const char *path)
{
	size_t k = (size_t)(buf - arena);
	struct mfile *f = file_by_id(r->dev, r->ino);
	if (!f)
		FAIL("%s: redirect from a file (dev %" PRIu64 ", ino %" PRIu64 ") that does not exist",
		     path, r->dev, r->ino);
	/* model_check_file passed: the record's fd names this file now */
	off_t o = asf_record_offset(r, buf);
	if (o < 0 || (uint64_t)o + n > f->size)
		FAIL("%s: redirect of [%lld, +%zu) past the end of file %td (size %zu)", path,
		     (long long)o, n, f - files, f->size);
	if (memcmp(arena + k, f->data + o, n) != 0) {
		size_t i = 0;
		if (asf_cfg.verify != ASF_VERIFY_FULL) {
			/* sample/none compare less than every byte by design: wrong bytes are
			 * allowed only where the program changed the buffer behind the engine */
			while (i < n && (arena[k + i] == f->data[o + (off_t)i] || !prov[k + i].tracked))
				i++;
			if (i == n) {
				stats.unverified++;
				return;
			}
		}
		while (arena[k + i] == f->data[o + (off_t)i])
			i++;
		const struct prov *p = &prov[k + i];
		FAIL("%s: WRONG BYTES: write(arena+%zu, %zu) would be sent from file %td at %lld, "
		     "but byte %zu differs (buffer 0x%02x, file 0x%02x); the buffer byte came from %s "
		     "%d offset %lld (ctime %" PRIu64 ")", path, k, n, f - files, (long long)o, i,
		     arena[k + i], f->data[o + (off_t)i], p->file < 0 ? "the program, last file" : "file",
		     p->file, (long long)p->off, p->ctime);
	}
	if (asf_cfg.verify == ASF_VERIFY_FULL && r->shadow && memcmp(r->shadow + (buf - (const unsigned char *)r->start), f->data + o, n))
		FAIL("%s: the shadow does not hold the file's bytes the record claims", path);
	/* how the bytes got there: by a read of this file at these offsets since its last
	 * change, or by coincidence (the program wrote equal bytes) */
	for (size_t i = 0; i < n; i++) {
		const struct prov *p = &prov[k + i];
		if (p->file != f - files || p->off != o + (off_t)i || p->ctime != f->ctime) {
			stats.coincidental++;
			break;
		}
	}
}

static void do_write(size_t k, size_t n, bool must_redirect)
{
	const unsigned char *buf = arena + k;
	stats.writes++;
	TRACE("write(arena+%zu, %zu)%s\n", k, n, must_redirect ? " [must redirect]" : "");

	/* The seqlock reader, which scans our own records when self is NULL: the same answer as
	 * find + verify (records do not overlap, so at most one holds a non-empty range). */
	struct asf_record fr;
	bool foreign = asf_record_find_foreign(NULL, buf, n, &fr);
	if (foreign) {
		check_holds(&fr, buf, n, "foreign");
		if (model_check_file(&fr, asf_record_offset(&fr, buf), n, false) == SOURCE_OK) {
			reference_check(&fr, buf, n, "foreign");
			stats.foreign++;
		}
	}

	/* asf_source_open, own records */
	bool sent = false, consistency = true;
#ifdef FUZZ_ONLY_BYTES
	consistency = false;
#endif
	struct asf_record *r = asf_record_find(T, buf, n);
	if (r) {
		check_holds(r, buf, n, "own");
		if (!asf_record_verify(r, buf, n)) {
			stats.verify_rejects++;
			if (foreign && consistency)
				FAIL("find_foreign matched a range whose own record fails verify");
		} else {
			if (!foreign && consistency)
				FAIL("own record verifies, find_foreign found nothing");
			if (consistency && foreign &&
			    (fr.start != r->start || fr.len != r->len || fr.off != r->off ||
			     fr.dev != r->dev || fr.ino != r->ino || fr.fd != r->fd ||
			     fr.ctime_ns != r->ctime_ns))
				FAIL("find_foreign copied a different record");
			struct asf_record copy = *r;
			enum source_state s = model_check_file(&copy, asf_record_offset(&copy, buf), n, true);
			if (s == SOURCE_OK) {
				reference_check(&copy, buf, n, "own");
				sent = true;
				stats.redirects++;
			} else {
				s == SOURCE_GONE ? stats.gone++ : stats.changed++;
				asf_record_drop(r);
			}
		}
	} else if (foreign && consistency) {
		FAIL("find_foreign found a record asf_record_find does not");
	}
	TRACE("  -> %s\n", sent ? "redirected" : "passed through");
#ifdef FUZZ_ONLY_BYTES
	must_redirect = false;
#endif
	if (must_redirect) {
		stats.liveness++;
		if (!sent)
			FAIL("write(arena+%zu, %zu) right after the read that filled it was not redirected",
			     k, n);
	}
}

static void op_write(void)
{
	size_t k, n;
	pick_range(&k, &n, ARENA);
	do_write(k, n, false);
}

static void op_write_last_read(void)
{
	if (!last_read.valid) {
		op_write();
		return;
	}
	do_write(last_read.k, last_read.n, true);
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
		if (a->start < (uintptr_t)arena || a->start + a->len > (uintptr_t)(arena + ARENA))
			FAIL("record %d outside the arena", i);
		if (a->len == 0 || a->len > ASF_RECORD_MAX_BYTES)
			FAIL("record %d has length %zu", i, a->len);
		if (a->off < 0)
			FAIL("record %d has offset %lld", i, (long long)a->off);
		if (a->ctime_ns == 0)
			FAIL("record %d has no change baseline", i);
		for (int j = i + 1; j < ASF_RECORDS_PER_THREAD; j++) {
			const struct asf_record *b = &T->rec[j];
			if (b->start && a->start < b->start + b->len && b->start < a->start + a->len)
				FAIL("records %d [arena+%td, +%zu) and %d [arena+%td, +%zu) overlap", i,
				     (const unsigned char *)a->start - arena, a->len, j,
				     (const unsigned char *)b->start - arena, b->len);
		}
	}
	if (!table_trustworthy)
		return;
	for (int s = 0; s < NFD; s++) {
		int fd = FD_BASE + s;
		uint32_t w = asf_fd_word(fd);
		struct ofd *o = ofd_of(fd);
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
		if (asf_fd_ctime(fd) == 0 || asf_fd_ctime(fd) > f->ctime)
			FAIL("fd %d baseline %" PRIu64 " vs file ctime %" PRIu64, fd, asf_fd_ctime(fd),
			     f->ctime);
		if (asf_fd_gen(fd) & 1)
			FAIL("fd %d generation left odd", fd);
	}
}

/* ---- one run ---- */

static void reset(uint8_t mode)
{
	for (int i = 0; i < ASF_RECORDS_PER_THREAD; i++)
		asf_record_drop(&T->rec[i]);
	for (int s = 0; s < NFD; s++) {
		asf_fd_forget(FD_BASE + s);
		asf_fd_set_ctime(FD_BASE + s, 0);
		fdmap[s] = -1;
	}
	for (int o = 0; o < NOFD; o++)
		ofds[o] = (struct ofd){ -1, 0, 0 };
	ctime_clock = 1000000;
	nmods = 0;
	last_read.valid = false;
	read_end = 0;
	table_trustworthy = true;
	/* Identities: two files on one device, a third with the first's inode number on
	 * another device (dev must be compared too). */
	static const uint64_t dev[NFILES] = { 0x801, 0x801, 0x802 };
	static const uint64_t ino[NFILES] = { 11, 12, 11 };
	/* mode: the byte alphabet of the contents; a small one makes equal bytes at different
	 * offsets and in different files common. */
	static const uint8_t masks[4] = { 0xff, 0x03, 0x01, 0x0f };
	uint8_t mask = masks[mode & 3];
	for (int f = 0; f < NFILES; f++) {
		files[f].dev = dev[f];
		files[f].ino = ino[f];
		files[f].ctime = ++ctime_clock;
		files[f].size = FILE_MAX - (size_t)(mode >> 2) * 3 * (size_t)f;
		for (size_t i = 0; i < FILE_MAX; i++)
			files[f].data[i] = (uint8_t)((i * 7u + (i >> 3) * 13u + (unsigned)f * 101u +
						      (mode >> 2)) & mask);
	}
	memset(arena, 0, sizeof arena);
	for (size_t i = 0; i < ARENA; i++)
		prov[i] = (struct prov){ -1, false, 0, 0 };
	/* Two files open from the start, so that short inputs do something. */
	fdmap[0] = 0;
	ofds[0] = (struct ofd){ 0, 0, 1 };
	fdmap[1] = 1;
	ofds[1] = (struct ofd){ 1, 0, 1 };
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
		/* "right after the read": only writes may come in between */
		if (op % 20 != 17 && op % 20 != 18)
			last_read.valid = false;
		switch (op % 20) {
		case 0: op_open(); break;
		case 1: case 2: op_read(false); break;
		case 3: op_read(true); break;
		case 4: op_readv(); break;
		case 5: op_memset(); break;
		case 6: op_memcpy_input(); break;
		case 7: op_memmove(); break;
		case 8: op_modify_file(); break;
		case 9: op_truncate(); break;
		case 10: op_touch(); break;
		case 11: op_lseek(); break;
		case 12: op_close(); break;
		case 13: op_dup(); break;
		case 14: op_dup2(); break;
		case 15: op_setfl(); break;
		case 16: op_untracked_read(); break;
		case 17: op_write(); break;
		case 18: op_write_last_read(); break;
		case 19: op_raw_reopen(); break;
		}
		check_invariants();
	}
	return 0;
}
