/* Content probes: which recorded file bytes a copied buffer may hold (see content.h). */
#define _GNU_SOURCE
#include <string.h>

#include "config.h"
#include "content.h"
#include "fdtable.h"
#include "interior.h"
#include "mappings.h"
#include "proof.h"
#include "records.h"

/* Set once anything left a probe: a process that never read a file pays one load. */
static int any;
/* Orders probes across threads (asf_content.born). */
static uint64_t probe_clock;

/* Candidates looked at for one write: the continuation, this thread's probes, the mappings,
 * then other threads' probes while room is left. Bounded so that a process with many
 * threads pays the same as one with a few. */
#define CANDS_MAX 48
#define TAIL_PROBES 2  /* this thread's newest reads also probed at "the write is their tail"
			* (a pread each: only after the cheaper probes missed) */
#define MISSES_BEFORE_BACKOFF 8
#define BACKOFF_FIRST 16
#define BACKOFF_MAX 1024

#define PUBLISH(field, value) __atomic_store_n(&(field), (value), __ATOMIC_RELAXED)

void asf_content_mark_any(void)
{
	if (!__atomic_load_n(&any, __ATOMIC_RELAXED))
		__atomic_store_n(&any, 1, __ATOMIC_RELAXED);
}

static void change_begin(struct asf_content *e)
{
	__atomic_store_n(&e->seq, e->seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

static void change_end(struct asf_content *e)
{
	__atomic_store_n(&e->seq, e->seq + 1, __ATOMIC_RELEASE);
}

static bool same_file(const struct asf_file_ref *a, const struct asf_file_ref *b)
{
	return a->fd == b->fd && a->dev == b->dev && a->ino == b->ino;
}

void asf_content_note(struct asf_thread *t, const struct asf_file_ref *f, off_t off,
		      const void *buf, size_t len)
{
	uint64_t w;
	/* Read back from the buffer the kernel just filled, safely: another thread may have
	 * unmapped it already. */
	if (len < sizeof w || !asf_read_prog_cached(t, &w, buf, sizeof w))
		return;
	struct asf_content_state *c = &t->content;
	struct asf_content *last = &c->ent[(c->next - 1) % ASF_CONTENT_PER_THREAD];
	if (last->used && same_file(&last->file, f) && last->off == off && last->word == w &&
	    last->len >= len)
		return; /* the same bytes read again */
	if (!last->used || last->file.dev != f->dev || last->file.ino != f->ino)
		c->misses = c->skip = c->backoff = 0; /* a new file: its copies get their chance */
	struct asf_content *e = &c->ent[c->next++ % ASF_CONTENT_PER_THREAD];
	change_begin(e);
	PUBLISH(e->born, __atomic_add_fetch(&probe_clock, 1, __ATOMIC_RELAXED));
	PUBLISH(e->word, w);
	PUBLISH(e->file.fd, f->fd);
	PUBLISH(e->file.dev, f->dev);
	PUBLISH(e->file.ino, f->ino);
	PUBLISH(e->off, off);
	PUBLISH(e->len, len);
	PUBLISH(e->used, true);
	change_end(e);
	asf_content_mark_any();
}

void asf_content_clear(struct asf_thread *t)
{
	struct asf_content_state *c = &t->content;
	for (int i = 0; i < ASF_CONTENT_PER_THREAD; i++) {
		struct asf_content *e = &c->ent[i];
		if (!e->used)
			continue;
		change_begin(e);
		PUBLISH(e->used, false);
		change_end(e);
	}
	c->cont_used = false;
	c->misses = c->skip = c->backoff = 0;
}

bool asf_content_wanted(struct asf_thread *t)
{
	if (!__atomic_load_n(&any, __ATOMIC_RELAXED))
		return false;
	if (t->content.skip) {
		t->content.skip--;
		return false;
	}
	return true;
}

void asf_content_result(struct asf_thread *t, bool hit, const struct asf_file_ref *file,
			off_t end, size_t skip, bool has_next, uint64_t next)
{
	struct asf_content_state *c = &t->content;
	if (hit) {
		c->misses = c->backoff = c->skip = 0;
		c->cont_used = has_next;
		if (has_next) {
			c->cont_file = *file;
			c->cont_off = end;
			c->cont_word = next;
			c->cont_skip = skip;
		}
		return;
	}
	/* After the first backoff one more miss is enough: a thread that never matches looks
	 * at 1 write in BACKOFF_MAX + 1 in the end. */
	if (++c->misses < (c->backoff ? 1u : MISSES_BEFORE_BACKOFF))
		return;
	c->backoff = !c->backoff ? BACKOFF_FIRST
		     : c->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : c->backoff * 2;
	c->skip = c->backoff;
	c->misses = 0;
}

/* ---- candidates ------------------------------------------------------------------------ */

struct cand {
	uint64_t born;
	uint64_t word;
	uintptr_t at; /* where the word is read from at the search; 0: word known */
	struct asf_file_ref file;
	off_t off;
	size_t len; /* 0: unknown (the continuation) */
};

/* Seqlock reader side (another thread's probe). */
static bool snapshot(struct asf_content *e, struct cand *out)
{
	uint64_t s1 = __atomic_load_n(&e->seq, __ATOMIC_ACQUIRE);
	if (s1 & 1)
		return false;
	bool used = __atomic_load_n(&e->used, __ATOMIC_RELAXED);
	out->born = __atomic_load_n(&e->born, __ATOMIC_RELAXED);
	out->word = __atomic_load_n(&e->word, __ATOMIC_RELAXED);
	out->at = 0;
	out->file.fd = __atomic_load_n(&e->file.fd, __ATOMIC_RELAXED);
	out->file.dev = __atomic_load_n(&e->file.dev, __ATOMIC_RELAXED);
	out->file.ino = __atomic_load_n(&e->file.ino, __ATOMIC_RELAXED);
	out->off = __atomic_load_n(&e->off, __ATOMIC_RELAXED);
	out->len = __atomic_load_n(&e->len, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return used && __atomic_load_n(&e->seq, __ATOMIC_RELAXED) == s1;
}

/* Is the probe's file still open under its descriptor (as far as the fd table knows, no
 * system call)? A probe of a file closed since is no candidate: a header's bytes may match
 * it first (tornado's Content-Type against /etc/mime.types). */
static bool still_open(const struct asf_file_ref *f)
{
	uint64_t dev, ino;
	return (asf_fd_word(f->fd) & ASF_FD_KIND_MASK) == ASF_FD_FILE &&
	       asf_fd_identity(f->fd, &dev, &ino) && dev == f->dev && ino == f->ino;
}


bool asf_content_predict(struct asf_thread *t, const void *buf, size_t n, bool split,
			 struct asf_content_claim *out)
{
	const struct asf_content_state *c = &t->content;
	if (!c->cont_used || n < sizeof(uint64_t) || !still_open(&c->cont_file))
		return false;
	/* After a header as long as the last one, else at the write's start. */
	size_t at[2] = { 0, 0 }, k = 0;
	if (split && c->cont_skip > 0 && n >= asf_content_split_floor() && c->cont_skip <= n - asf_content_split_floor())
		at[k++] = c->cont_skip;
	at[k++] = 0;
	for (size_t i = 0; i < k; i++) {
		uint64_t w;
		if (!asf_read_prog(t, &w, (const char *)buf + at[i], sizeof w))
			return false; /* unreadable: the real call reports it */
		if (w == c->cont_word) {
			*out = (struct asf_content_claim){ c->cont_file, c->cont_off, at[i] };
			return true;
		}
	}
	return false;
}

/* Other threads' probes, the newest first (node reads in four pool threads: in the order
 * threads were registered, the last thread's never got a look), into c[n..max). */
static int gather_foreign(struct asf_thread *t, struct cand *c, int n, int max)
{
	unsigned count = asf_threads_registered();
	int first = n;
	for (unsigned i = 0; i < count; i++) {
		struct asf_thread *o = asf_thread_registered(i);
		if (!o || o == t || !__atomic_load_n(&o->has_records, __ATOMIC_ACQUIRE))
			continue;
		for (int j = 0; j < ASF_CONTENT_PER_THREAD; j++) {
			struct cand x;
			if (!snapshot(&o->content.ent[j], &x) || !still_open(&x.file))
				continue;
			/* insert by born, newest first, keeping at most max */
			int k;
			if (n < max)
				k = n++;
			else if (c[max - 1].born < x.born)
				k = max - 1;
			else
				continue;
			while (k > first && c[k - 1].born < x.born) {
				c[k] = c[k - 1];
				k--;
			}
			c[k] = x;
		}
	}
	return n;
}

static int gather(struct asf_thread *t, struct cand *c)
{
	struct asf_content_state *s = &t->content;
	int n = 0;
	if (s->cont_used)
		c[n++] = (struct cand){ 0, s->cont_word, 0, s->cont_file, s->cont_off, 0 };
	for (unsigned i = 1; i <= ASF_CONTENT_PER_THREAD; i++) {
		const struct asf_content *e = &s->ent[(s->next - i) % ASF_CONTENT_PER_THREAD];
		if (e->used && still_open(&e->file))
			c[n++] = (struct cand){ e->born, e->word, 0, e->file, e->off, e->len };
	}
	struct asf_mapping m[8];
	int k = asf_mapping_list(m, 8);
	for (int i = 0; i < k; i++)
		if (!m[i].writable) /* (a guard, not a claim: mappings.h) */
			c[n++] = (struct cand){ 0, 0, m[i].start, { m[i].fd, m[i].dev, m[i].ino },
						m[i].off, m[i].len };
	return gather_foreign(t, c, n, CANDS_MAX);
}

/* Which of 64 bits a word sets in each of the two quick-reject masks (Fibonacci hashing,
 * two independent 6-bit slices): with a few dozen candidates a position passes both about
 * once in 16, where one mask would let a quarter through. */
static uint64_t hash_of(uint64_t w)
{
	return w * 0x9E3779B97F4A7C15ull;
}
#define BIT1(h) (1ull << ((h) >> 58))
#define BIT2(h) (1ull << (((h) >> 52) & 63))

struct probe {
	const unsigned char *buf;
	size_t lim; /* positions [from, lim) of buf probed */
	size_t from;
	const struct cand *c;
	int nc;
	uint64_t mask1, mask2;
	struct asf_content_claim *out;
	int nout;
	uint64_t w0; /* the write's first word */
};

static void add_claim(struct probe *p, const struct asf_file_ref *f, off_t off, size_t skip)
{
	for (int i = 0; i < p->nout; i++)
		if (same_file(&p->out[i].file, f) && p->out[i].off == off && p->out[i].skip == skip)
			return;
	if (p->nout < ASF_CONTENT_CLAIMS)
		p->out[p->nout++] = (struct asf_content_claim){ *f, off, skip };
}

/* Each position of p->buf (a copy of the write's first bytes) from `from` on, until one
 * matches a candidate's word; the mask rejects almost every position with one test. */
static void probe_positions(struct probe *p)
{
	for (size_t k = p->from; k < p->lim; k++) {
		uint64_t w;
		memcpy(&w, p->buf + k, sizeof w);
		uint64_t h = hash_of(w);
		if (!(p->mask1 & BIT1(h)) || !(p->mask2 & BIT2(h)))
			continue;
		for (int i = 0; i < p->nc; i++)
			if (p->c[i].word == w)
				add_claim(p, &p->c[i].file, p->c[i].off, k);
		if (p->nout)
			return;
	}
}

/* The search inside this thread's recent reads (interior.h), once the probes found nothing:
 * head holds the write's first `have` bytes; room bytes from head on are free. */
static int claims_inside(struct asf_thread *t, const void *buf, size_t n, bool split,
			 unsigned char *head, size_t have, size_t room, struct asf_content_claim *out)
{
	size_t span = asf_interior_span(n, split), used = (span + 63) & ~(size_t)63;
	if (used >= room ||
	    (span > have && !asf_read_prog(t, head + have, (const char *)buf + have, span - have)))
		return 0;
	return asf_interior_claims(t, buf, n, split, head, head + used, room - used, out,
				   ASF_CONTENT_CLAIMS);
}

static int claims_in(struct asf_thread *t, const void *buf, size_t n, bool split,
		     struct asf_content_claim *out, size_t *resume, unsigned char *head, size_t room);

/* The claims are copies: the proof buffer the scan used is given back before they are
 * tried (a proof takes one again, proof.c). */
int asf_content_claims(struct asf_thread *t, const void *buf, size_t n, bool split,
		       struct asf_content_claim *out, size_t *resume)
{
	size_t room;
	unsigned char *head = asf_proof_buffer(t, &room);
	if (!head) {
		*resume = 0;
		return 0;
	}
	int k = claims_in(t, buf, n, split, out, resume, head, room);
	asf_proof_release(t);
	return k;
}

static int claims_in(struct asf_thread *t, const void *buf, size_t n, bool split,
		     struct asf_content_claim *out, size_t *resume, unsigned char *head, size_t room)
{
	size_t from = *resume;
	*resume = 0;
	if (n < sizeof(uint64_t))
		return 0;
	struct cand c[CANDS_MAX + ASF_CONTENT_PER_THREAD + 9];
	int nc = gather(t, c), kept = 0;
	/* A mapping's first word, read now from the program's mapping (a mapping made
	 * PROT_NONE since, or unmapped, is simply no candidate). */
	for (int i = 0; i < nc; i++)
		if (!c[i].at || asf_read_prog(t, &c[i].word, (const void *)c[i].at, sizeof c[i].word))
			c[kept++] = c[i];
	nc = kept;
	/* The write's first bytes, copied safely (the buffer may be unreadable: the real call
	 * reports that), into the proof buffer: the scan reads only the copy. */
	size_t scan = split ? ASF_CONTENT_SCAN + sizeof(uint64_t) : sizeof(uint64_t);
	if (scan > n)
		scan = n;
	if (!asf_read_prog(t, head, buf, scan))
		return 0;
	if (nc == 0)
		return claims_inside(t, buf, n, split, head, scan, room, out);
	struct probe p = { .buf = head, .lim = 1, .c = c, .nc = nc, .out = out };
	memcpy(&p.w0, head, sizeof p.w0);
	for (int i = 0; i < nc; i++) {
		uint64_t h = hash_of(c[i].word);
		p.mask1 |= BIT1(h);
		p.mask2 |= BIT2(h);
	}
	if (from == 0) {
		/* The write starts where a read (or a mapping, or the last match) started. */
		probe_positions(&p);
		if (p.nout)
			return p.nout;
	}
	/* The write is the tail of one of this thread's newest reads (a retry of the rest of a
	 * copy): its first word is the file's at end - n. */
	for (int i = 0, tails = 0; from == 0 && i < nc && tails < TAIL_PROBES; i++) {
		uint64_t w;
		if (c[i].len <= n)
			continue;
		tails++;
		off_t at = c[i].off + (off_t)(c[i].len - n);
		if (asf_file_word(c[i].file.fd, at, &w) && w == p.w0)
			add_claim(&p, &c[i].file, at, 0);
	}
	if (p.nout)
		return p.nout;
	/* A prefix of the program's own (a header) before the file's bytes: the rest must
	 * still be worth a sendfile (at least as much as a tracked read: FastCGI writes an
	 * 8-byte record header and 8184 file bytes). */
	size_t floor = asf_content_split_floor();
	if (split && n > floor + 1) {
		p.from = from ? from : 1;
		p.lim = n - floor < ASF_CONTENT_SCAN ? n - floor : ASF_CONTENT_SCAN;
		if (p.lim + sizeof(uint64_t) > scan)
			p.lim = scan - sizeof(uint64_t);
		probe_positions(&p);
		if (p.nout) {
			*resume = p.out[0].skip + 1 < p.lim ? p.out[0].skip + 1 : 0;
			return p.nout;
		}
	}
	/* Not where a read started: maybe inside one (a frame's payload). */
	return claims_inside(t, buf, n, split, head, scan, room, out);
}
