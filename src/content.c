/* Content probes: which recorded file bytes a copied buffer may hold (see content.h). */
#define _GNU_SOURCE
#include <string.h>

#include "config.h"
#include "content.h"
#include "mappings.h"
#include "records.h"
#include "signals.h"
#include "views.h"

/* Set once anything left a probe: a process that never read a file pays one load. */
static int any;

/* Candidates looked at for one write: the continuation, this thread's probes, the mappings,
 * then other threads' probes while room is left. Bounded so that a process with many
 * threads pays the same as one with a few. */
#define CANDS_MAX 48
#define TAIL_PROBES 4  /* this thread's newest reads also probed at "the write is their tail" */
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

void asf_content_note(struct asf_thread *t, uint64_t view, off_t off, const void *buf, size_t len)
{
	uint64_t w;
	/* Read back from the buffer the kernel just filled, under the guard: another thread
	 * may have unmapped it already. */
	if (len < sizeof w || !asf_guarded_copy(&w, buf, sizeof w))
		return;
	struct asf_content_state *c = &t->content;
	struct asf_content *last = &c->ent[(c->next - 1) % ASF_CONTENT_PER_THREAD];
	if (last->view == view && last->off == off && last->word == w && last->len >= len)
		return; /* the same bytes read again */
	struct asf_content *e = &c->ent[c->next++ % ASF_CONTENT_PER_THREAD];
	change_begin(e);
	PUBLISH(e->word, w);
	PUBLISH(e->view, view);
	PUBLISH(e->off, off);
	PUBLISH(e->len, len);
	change_end(e);
	asf_content_mark_any();
}

void asf_content_clear(struct asf_thread *t)
{
	struct asf_content_state *c = &t->content;
	for (int i = 0; i < ASF_CONTENT_PER_THREAD; i++) {
		struct asf_content *e = &c->ent[i];
		if (!e->view)
			continue;
		change_begin(e);
		PUBLISH(e->view, (uint64_t)0);
		change_end(e);
	}
	c->cont_view = 0;
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

void asf_content_result(struct asf_thread *t, bool hit, uint64_t view, off_t end)
{
	struct asf_content_state *c = &t->content;
	if (hit) {
		c->misses = c->backoff = c->skip = 0;
		c->cont_view = view;
		c->cont_off = end;
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

bool asf_content_file_word(uint64_t view, off_t off, uint64_t *word)
{
	struct asf_view *v = asf_view_get(view);
	if (!v)
		return false;
	const unsigned char *p = off >= 0 ? asf_view_bytes(v, off, sizeof *word) : NULL;
	bool ok = p && asf_guarded_copy(word, p, sizeof *word);
	asf_view_put(v);
	return ok;
}

/* ---- candidates ------------------------------------------------------------------------ */

struct cand {
	uint64_t word, view;
	off_t off;
	size_t len; /* 0: unknown (the continuation) */
};

/* Seqlock reader side (another thread's probe). */
static bool snapshot(struct asf_content *e, struct cand *out)
{
	uint64_t s1 = __atomic_load_n(&e->seq, __ATOMIC_ACQUIRE);
	if (s1 & 1)
		return false;
	out->view = __atomic_load_n(&e->view, __ATOMIC_RELAXED);
	out->word = __atomic_load_n(&e->word, __ATOMIC_RELAXED);
	out->off = __atomic_load_n(&e->off, __ATOMIC_RELAXED);
	out->len = __atomic_load_n(&e->len, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return out->view && __atomic_load_n(&e->seq, __ATOMIC_RELAXED) == s1;
}

static int gather(struct asf_thread *t, struct cand *c)
{
	struct asf_content_state *s = &t->content;
	int n = 0;
	uint64_t w;
	if (s->cont_view && asf_content_file_word(s->cont_view, s->cont_off, &w))
		c[n++] = (struct cand){ w, s->cont_view, s->cont_off, 0 };
	for (unsigned i = 1; i <= ASF_CONTENT_PER_THREAD; i++) {
		const struct asf_content *e = &s->ent[(s->next - i) % ASF_CONTENT_PER_THREAD];
		if (e->view)
			c[n++] = (struct cand){ e->word, e->view, e->off, e->len };
	}
	struct asf_mapping m[8];
	int k = asf_mapping_list(m, 8);
	for (int i = 0; i < k; i++)
		if (m[i].has_word)
			c[n++] = (struct cand){ m[i].word, m[i].view, m[i].off, m[i].len };
	unsigned count = asf_threads_registered();
	for (unsigned i = 0; i < count && n < CANDS_MAX; i++) {
		struct asf_thread *o = asf_thread_registered(i);
		if (!o || o == t)
			continue;
		for (int j = 0; j < ASF_CONTENT_PER_THREAD && n < CANDS_MAX; j++)
			if (snapshot(&o->content.ent[j], &c[n]))
				n++;
	}
	return n;
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

static void add_claim(struct probe *p, uint64_t view, off_t off, size_t skip)
{
	for (int i = 0; i < p->nout; i++)
		if (p->out[i].view == view && p->out[i].off == off && p->out[i].skip == skip)
			return;
	if (p->nout < ASF_CONTENT_CLAIMS)
		p->out[p->nout++] = (struct asf_content_claim){ view, off, skip };
}

/* Under the guard (reads the program's buffer): each position from `from` on, until one
 * matches a candidate's word; the mask rejects almost every position with one test. */
static int probe_positions(void *arg)
{
	struct probe *p = arg;
	for (size_t k = p->from; k < p->lim; k++) {
		uint64_t w;
		memcpy(&w, p->buf + k, sizeof w);
		if (k == 0)
			p->w0 = w;
		uint64_t h = hash_of(w);
		if (!(p->mask1 & BIT1(h)) || !(p->mask2 & BIT2(h)))
			continue;
		for (int i = 0; i < p->nc; i++)
			if (p->c[i].word == w)
				add_claim(p, p->c[i].view, p->c[i].off, k);
		if (p->nout)
			return 1;
	}
	return 1;
}

int asf_content_claims(struct asf_thread *t, const void *buf, size_t n, bool split,
		       struct asf_content_claim *out)
{
	if (n < sizeof(uint64_t))
		return 0;
	struct cand c[CANDS_MAX + ASF_CONTENT_PER_THREAD + 9];
	int nc = gather(t, c);
	if (nc == 0)
		return 0;
	struct probe p = { .buf = buf, .lim = 1, .c = c, .nc = nc, .out = out };
	for (int i = 0; i < nc; i++) {
		uint64_t h = hash_of(c[i].word);
		p.mask1 |= BIT1(h);
		p.mask2 |= BIT2(h);
	}
	/* The write starts where a read (or a mapping, or the last match) started. */
	if (asf_guarded(probe_positions, &p, buf, sizeof(uint64_t), NULL, 0) != 1)
		return 0; /* unreadable: the real call reports it */
	if (p.nout)
		return p.nout;
	/* The write is the tail of one of this thread's newest reads (a retry of the rest of a
	 * copy): its first word is the file's at end - n. */
	for (int i = 0, tails = 0; i < nc && tails < TAIL_PROBES; i++) {
		uint64_t w;
		if (c[i].len <= n)
			continue;
		tails++;
		off_t at = c[i].off + (off_t)(c[i].len - n);
		if (asf_content_file_word(c[i].view, at, &w) && w == p.w0)
			add_claim(&p, c[i].view, at, 0);
	}
	if (p.nout || !split)
		return p.nout;
	/* A prefix of the program's own (a header) before the file's bytes: the rest must
	 * still be worth a sendfile. */
	size_t floor = asf_cfg.min_bytes > sizeof(uint64_t) ? asf_cfg.min_bytes : sizeof(uint64_t);
	if (n <= floor + 1)
		return 0;
	p.from = 1;
	p.lim = n - floor < ASF_CONTENT_SCAN ? n - floor : ASF_CONTENT_SCAN;
	if (asf_guarded(probe_positions, &p, buf, p.lim + sizeof(uint64_t), NULL, 0) != 1)
		return 0;
	return p.nout;
}
