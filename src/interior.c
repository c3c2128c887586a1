/* Anchors in the interior of recent reads (see interior.h). */
#define _GNU_SOURCE
#include <string.h>

#include "config.h"
#include "fdtable.h"
#include "interior.h"
#include "proof.h"
#include "records.h"

#define RECORDS 4     /* this thread's newest reads looked into */
#define ANCHORS 256   /* words taken from them at most (512 KiB of reads at a 2 KiB grid) */
#define BACKWARD 4    /* backward comparisons (a pread each) per search at most */
#define GRID_MAX 2048u
#define GRID_MIN 64u

/* The grid: a power of two at most half the smallest file run a claim may have (the
 * tracked-read floor), so that every such run holds an anchor's whole word. */
static size_t grid(void)
{
	size_t g = GRID_MAX;
	while (g > GRID_MIN && 2 * g > asf_track_min())
		g /= 2;
	return g;
}


size_t asf_interior_span(size_t n, bool split)
{
	size_t span = (split ? ASF_CONTENT_SCAN : 0) + grid() + sizeof(uint64_t);
	return span < n ? span : n;
}

struct anchor {
	uint64_t word;
	off_t off;   /* the file offset the word was read for */
	int rec;     /* index into the records gathered; -1: slot free */
	int pad;
};

struct table {
	struct anchor *slot;
	size_t mask;
	int used;
};

static size_t slot_of(const struct table *tb, uint64_t w)
{
	return (size_t)((w * 0x9E3779B97F4A7C15ull) >> 40) & tb->mask;
}

/* A word with all bytes equal (zeros, spaces) says nothing about where it lies. */
static bool telling(uint64_t w)
{
	return w != (w & 0xff) * 0x0101010101010101ull;
}

static void put(struct table *tb, uint64_t w, off_t off, int rec)
{
	size_t i = slot_of(tb, w);
	while (tb->slot[i].rec >= 0) {
		if (tb->slot[i].word == w)
			return; /* the first (newest read) wins */
		i = (i + 1) & tb->mask;
	}
	tb->slot[i] = (struct anchor){ w, off, rec, 0 };
	tb->used++;
}

static const struct anchor *get(const struct table *tb, uint64_t w)
{
	for (size_t i = slot_of(tb, w); tb->slot[i].rec >= 0; i = (i + 1) & tb->mask)
		if (tb->slot[i].word == w)
			return &tb->slot[i];
	return NULL;
}

/* Does fd still name the record's file (as far as the fd table knows, no system call)? */
static bool still_open(const struct asf_record *r)
{
	uint64_t dev, ino;
	return (asf_fd_word(r->fd) & ASF_FD_KIND_MASK) == ASF_FD_FILE &&
	       asf_fd_identity(r->fd, &dev, &ino) && dev == r->dev && ino == r->ino;
}

/* The first anchor of r, and how many it has (at most `budget`). */
static size_t anchors_of(const struct asf_record *r, off_t *first, size_t budget)
{
	off_t g = (off_t)grid(), end = r->off + (off_t)r->len - (off_t)sizeof(uint64_t);
	*first = (r->off + g - 1) / g * g;
	size_t k = *first <= end ? (size_t)((end - *first) / g) + 1 : 0;
	return k < budget ? k : budget;
}

/* t's newest reads worth looking into (not copies, not the write's own buffer, still
 * open) into rec; returns how many, and their anchors' count in *anchors. */
static int pick(struct asf_thread *t, const void *buf, size_t n, struct asf_record *rec,
		size_t *anchors)
{
	struct asf_record all[RECORDS];
	int k = asf_record_recent(t, all, RECORDS), m = 0;
	uintptr_t lo = (uintptr_t)buf, hi = lo + n;
	*anchors = 0;
	for (int i = 0; i < k && *anchors < ANCHORS; i++) {
		const struct asf_record *r = &all[i];
		off_t first;
		if ((r->start < hi && lo < r->start + r->len) || !still_open(r))
			continue;
		rec[m++] = *r;
		*anchors += anchors_of(r, &first, ANCHORS - *anchors);
	}
	return m;
}

/* The anchors of rec[0..nrec) into tb (at most budget words). */
static void gather(struct asf_thread *t, const struct asf_record *rec, int nrec,
		   struct table *tb, size_t budget)
{
	size_t g = grid();
	uint64_t words[64];
	for (int ri = 0; ri < nrec && budget > 0; ri++) {
		const struct asf_record *r = &rec[ri];
		off_t a;
		size_t left = anchors_of(r, &a, budget);
		budget -= left;
		while (left > 0) {
			size_t cnt = left < sizeof words / sizeof words[0] ? left
								   : sizeof words / sizeof words[0];
			const char *at = (const char *)r->start + (a - r->off);
			if (!asf_read_prog_words(t, words, at, g, cnt))
				break; /* unmapped since: no anchors from it */
			for (size_t j = 0; j < cnt; j++)
				if (telling(words[j]))
					put(tb, words[j], a + (off_t)(j * g), ri);
			left -= cnt;
			a += (off_t)(cnt * g);
		}
	}
}

/* Where the file run through position k (the file's byte at) starts: the first position s
 * such that head[s..k+8) equals the file there (one pread through the record's fd). -1 if
 * the anchor's word is not the file's (the buffer changed since its read). */
static long run_start(const struct asf_record *r, const unsigned char *head, size_t k, off_t at,
		      unsigned char *file, size_t file_len)
{
	size_t back = (off_t)k < at ? k : (size_t)at;
	if (back + sizeof(uint64_t) > file_len)
		return -1;
	if (!asf_file_bytes(r->fd, at - (off_t)back, file, back + sizeof(uint64_t)) ||
	    memcmp(file + back, head + k, sizeof(uint64_t)) != 0)
		return -1;
	size_t s = k;
	while (s > k - back && head[s - 1] == file[back - (k - s) - 1])
		s--;
	return (long)s;
}

int asf_interior_claims(struct asf_thread *t, const void *buf, size_t n, bool split,
			const unsigned char *head, unsigned char *work, size_t work_len,
			struct asf_content_claim *out, int max)
{
	size_t span = asf_interior_span(n, split), floor = split ? asf_content_split_floor() : n;
	if (n < floor || span < sizeof(uint64_t))
		return 0;
	struct asf_record rec[RECORDS];
	size_t anchors;
	int nrec = pick(t, buf, n, rec, &anchors);
	if (anchors == 0)
		return 0;
	/* Scratch: the table (at most a quarter full), then the file's bytes before a hit. */
	size_t file_len = span, slots = 64;
	while (slots < 4 * anchors)
		slots *= 2;
	while (slots > 64 && slots * sizeof(struct anchor) + file_len > work_len)
		slots /= 2;
	if (slots * sizeof(struct anchor) + file_len > work_len)
		return 0;
	struct table tb = { (struct anchor *)work, slots - 1, 0 };
	for (size_t i = 0; i < slots; i++)
		tb.slot[i].rec = -1;
	unsigned char *file = work + slots * sizeof(struct anchor);
	gather(t, rec, nrec, &tb, slots / 4);
	if (tb.used == 0)
		return 0;
	/* Positions where a run of at least `floor` bytes may hold its first anchor. */
	size_t lim = span - sizeof(uint64_t) + 1, last = n - floor + grid();
	if (lim > last + 1)
		lim = last + 1;
	int tries = 0;
	for (size_t k = 0; k < lim && max > 0 && tries < BACKWARD; k++) {
		uint64_t w;
		memcpy(&w, head + k, sizeof w);
		const struct anchor *a = get(&tb, w);
		if (!a)
			continue;
		tries++;
		const struct asf_record *r = &rec[a->rec];
		long s = run_start(r, head, k, a->off, file, file_len);
		if (s < 0 || (!split && s != 0) || n - (size_t)s < floor)
			continue;
		/* A run the file bears out: the proof decides the rest. */
		out[0] = (struct asf_content_claim){ { r->fd, r->dev, r->ino },
						     a->off - (off_t)(k - (size_t)s), (size_t)s };
		return 1;
	}
	return 0;
}
