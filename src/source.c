/* The file side of a redirect: gather the claims on a range, prove one, hold its file (see
 * source.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include "autosendfile.h"
#include "config.h"
#include "content.h"
#include "fdclass.h"
#include "fdtable.h"
#include "mappings.h"
#include "ownmem.h"
#include "refusals.h"
#include "signals.h"
#include "source.h"
#include "stats.h"

struct compare {
	const unsigned char *buf, *file;
	size_t n;
	off_t off; /* file offset of buf[0], for the sampled spans */
};

/* Every byte. */
static int equal_full(void *arg)
{
	const struct compare *c = arg;
	return memcmp(c->buf, c->file, c->n) == 0;
}

/* AUTOSENDFILE_VERIFY=sample: the bytes at file offsets o with o % STRIDE < SPAN, and the
 * range's last SPAN bytes. */
static int equal_sampled(void *arg)
{
	const struct compare *c = arg;
	uint64_t from = (uint64_t)c->off, to = from + c->n;
	for (uint64_t p = from - from % AUTOSENDFILE_SAMPLE_STRIDE; p < to;
	     p += AUTOSENDFILE_SAMPLE_STRIDE) {
		uint64_t lo = p > from ? p : from;
		uint64_t hi = p + AUTOSENDFILE_SAMPLE_SPAN < to ? p + AUTOSENDFILE_SAMPLE_SPAN : to;
		if (lo < hi && memcmp(c->buf + (lo - from), c->file + (lo - from), hi - lo) != 0)
			return 0;
	}
	size_t tail = c->n > AUTOSENDFILE_SAMPLE_SPAN ? c->n - AUTOSENDFILE_SAMPLE_SPAN : 0;
	return memcmp(c->buf + tail, c->file + tail, c->n - tail) == 0;
}

/* 1: buf equals the file's bytes; 0: it does not; -1: buf is unreadable; -2: the file's
 * bytes are (truncated under the view). `full`: every byte, whatever AUTOSENDFILE_VERIFY
 * says (a claim that the address gives no evidence for). */
static int prove(const void *buf, const unsigned char *file, size_t n, off_t off, bool full)
{
	if (!full && asf_cfg.verify == ASF_VERIFY_NONE)
		return 1;
	struct compare c = { buf, file, n, off };
	return asf_guarded(full || asf_cfg.verify == ASF_VERIFY_FULL ? equal_full : equal_sampled,
			   &c, buf, n, file, n);
}

/* A claim: "these bytes are the file's (view) at off", from one kind of source. */
enum claim_kind { CLAIM_READ, CLAIM_MAP, CLAIM_CONTENT };
struct claim {
	enum claim_kind kind;
	uint64_t view;
	off_t off;  /* file offset of buf[skip] */
	int fd;     /* CLAIM_READ: the fd read from (its offset guess is re-proven on a miss) */
	bool shared_map; /* CLAIM_MAP of a MAP_SHARED mapping: the kernel may vouch for it */
	bool full;  /* compared in full whatever AUTOSENDFILE_VERIFY says (found by content) */
	size_t skip; /* CLAIM_CONTENT: bytes before the file's that are the program's own */
};
#define CLAIMS_MAX (ASF_CANDIDATES_MAX + 1)

/* The view of the file a read record names, made now if need be: through the fd it was
 * read from, if that fd still names that file (else the program closed or re-pointed it:
 * the library holds a file only while the program has it open). A copy record names its
 * view itself. */
static uint64_t record_view(const struct asf_record *r)
{
	if (r->copy)
		return r->view;
	uint64_t dev, ino;
	/* (a number closed and opened again since the read is classified afresh: if it names
	 * the same file, its bytes are still the claim's) */
	if ((asf_fd_word_classified(r->fd) & ASF_FD_KIND_MASK) != ASF_FD_FILE ||
	    !asf_fd_identity(r->fd, &dev, &ino) || dev != r->dev || ino != r->ino)
		return 0;
	return asf_view_for_fd(r->fd);
}

/* Every claim on buf[0..n) by its address, most likely first: this thread's reads, other
 * threads' reads, a mapping of the file. */
static int gather_claims(struct asf_thread *t, const void *buf, size_t n, struct claim *out)
{
	struct asf_record rec[ASF_CANDIDATES_MAX];
	int k = asf_record_candidates(t, buf, n, asf_cfg.verify != ASF_VERIFY_FULL, rec,
				      ASF_CANDIDATES_MAX);
	int c = 0;
	for (int i = 0; i < k; i++) {
		uint64_t view = record_view(&rec[i]);
		if (view)
			out[c++] = (struct claim){ CLAIM_READ, view, asf_record_offset(&rec[i], buf),
						   rec[i].fd, false, rec[i].copy, 0 };
	}
	k = c;
	struct asf_mapping m;
	if (asf_mapping_find(buf, n, &m))
		out[k++] = (struct claim){ CLAIM_MAP, m.view,
					   m.off + (off_t)((uintptr_t)buf - m.start), -1, m.shared,
					   false, 0 };
	return k;
}

/* The claims on buf[0..n) by its bytes (content.h): a read's or a mapping's bytes copied
 * here, maybe after a header. */
static int gather_content_claims(struct asf_thread *t, const void *buf, size_t n, bool split,
				 struct claim *out)
{
	struct asf_content_claim cc[ASF_CONTENT_CLAIMS];
	int k = asf_content_claims(t, buf, n, split, cc);
	for (int i = 0; i < k; i++)
		out[i] = (struct claim){ CLAIM_CONTENT, cc[i].view, cc[i].off, -1, false, true,
					 cc[i].skip };
	return k;
}

/* The proof of one claim over its first `first` bytes (the rest is proven chunk by chunk,
 * asf_source_prove): 1 the bytes are the file's, 0 they differ, -1 buf unreadable, -2 the
 * file's bytes unreadable (truncated under the view). A shared mapping's bytes are the page
 * cache's: when the kernel confirms that buf still maps the file there, nothing needs
 * comparing. A claim found by content is compared over its whole length at once: the
 * comparison is what chose it. */
static int prove_claim(const struct claim *c, const struct asf_view *v, const void *buf,
		       const unsigned char *file, size_t n, size_t *first, bool *confirmed)
{
	int kernel = c->kind == CLAIM_MAP && c->shared_map
			     ? asf_mapping_confirm(buf, n, v->dev, v->ino, c->off)
			     : -1;
	if (kernel == 2)
		return -3; /* the file's own page cache, writable: mappings.h (asf_mapping_alias) */
	*confirmed = kernel == 1;
	if (*confirmed)
		return 1;
	if (c->kind == CLAIM_CONTENT || *first > n)
		*first = n;
	return prove(buf, file, *first, c->off, c->full);
}

/* Proves claims[0..k) in turn; the index of the first that holds, with s open on it. Else
 * -1, and s->miss says why the last one tried failed (a content candidate that differs
 * leaves it be: it was a guess, not a record that went stale). */
static int try_claims(const struct claim *claims, int k, const char *buf, size_t n,
		      struct asf_source *s)
{
	for (int i = 0; i < k; i++) {
		const struct claim *c = &claims[i];
		const char *from = buf + c->skip;
		size_t len = n - c->skip;
		struct asf_view *v = asf_view_get(c->view);
		if (!v)
			continue;
		const unsigned char *file = asf_view_bytes(v, c->off, len);
		int verdict = -3;
		bool confirmed = false;
		size_t first = asf_cfg.chunk;
		if (__atomic_load_n(&v->refused, __ATOMIC_RELAXED) || asf_refused(v->dev, v->ino))
			s->miss = ASF_MISS_REFUSED;
		else if (c->kind != CLAIM_MAP && asf_mapping_alias(from, len, v->dev, v->ino))
			s->miss = ASF_MISS_ALIAS;
		else if (!file)
			s->miss = c->kind == CLAIM_CONTENT ? s->miss : ASF_MISS_FILE_GONE;
		else
			verdict = prove_claim(c, v, from, file, len, &first, &confirmed);
		if (verdict == 1) {
			s->view = v;
			s->buf = from;
			s->off = c->off;
			s->skip = c->skip;
			s->proven = confirmed ? len : first;
			s->confirmed = confirmed;
			s->full = c->full;
			s->miss = ASF_MISS_NONE;
			s->t->open_src = s;
			return i;
		}
		asf_view_put(v);
		if (verdict == 0 && c->kind != CLAIM_CONTENT) {
			/* The bytes differ: the buffer changed, the file did, or the read's offset was
			 * only guessed wrong (wrap_read.c proves it on the fd's next read). */
			s->miss = ASF_MISS_CHANGED;
			if (c->kind == CLAIM_READ && c->fd >= 0)
				asf_fd_or_flags(c->fd, ASF_FDF_RESYNC);
		} else if (verdict == -1) {
			s->miss = ASF_MISS_UNREADABLE; /* no other claim makes it readable */
			break;
		} else if (verdict == -2) {
			s->miss = ASF_MISS_FILE_GONE;
		}
	}
	return -1;
}

/* No claim at the address held: the bytes may be a copy (content.h). Searched only for a
 * range worth a sendfile, never when the buffer faulted, and not while this thread's
 * writes keep missing (backoff). A match leaves a record of the copy, so the program's
 * retry of the rest is found by its address. */
static bool open_by_content(struct asf_thread *t, const char *buf, size_t n, bool split,
			    struct asf_source *s)
{
	if (n < asf_cfg.min_bytes || s->miss == ASF_MISS_UNREADABLE || !asf_content_wanted(t))
		return false;
	struct claim claims[ASF_CONTENT_CLAIMS];
	int k = gather_content_claims(t, buf, n, split, claims);
	int i = k > 0 ? try_claims(claims, k, buf, n, s) : -1;
	if (i < 0) { /* no candidate, or none held: a miss either way (backoff) */
		asf_content_result(t, false, 0, 0);
		return false;
	}
	asf_record_add_copy(t, claims[i].view, s->off, s->buf, n - s->skip);
	asf_content_result(t, true, claims[i].view, s->off + (off_t)(n - s->skip));
	return true;
}

bool asf_source_open_as(struct asf_thread *t, const void *buf, size_t n, unsigned how,
			struct asf_source *s)
{
	struct claim claims[CLAIMS_MAX];
	s->t = t;
	s->view = NULL;
	s->buf = buf;
	s->skip = 0;
	if (asf_mem_ours(buf, n)) {
		s->miss = ASF_MISS_UNREADABLE; /* the program's memory is never there (ownmem.h) */
		asf_why(ASF_WHY_OTHER);
		return false;
	}
	int k = gather_claims(t, buf, n, claims);
	s->miss = ASF_MISS_NO_RECORD;
	if (try_claims(claims, k, buf, n, s) >= 0)
		return true;
	if ((how & ASF_SRC_CONTENT) && open_by_content(t, buf, n, how & ASF_SRC_SPLIT, s))
		return true;
	switch (s->miss) {
	case ASF_MISS_NO_RECORD:
		asf_why_no_record();
		break;
	case ASF_MISS_CHANGED:
		ASF_STAT_ADD(verify_rejects, 1);
		asf_why(ASF_WHY_BUF_CHANGED);
		break;
	case ASF_MISS_FILE_GONE:
		ASF_STAT_ADD(source_changed, 1);
		asf_why(ASF_WHY_FILE_CHANGED);
		break;
	case ASF_MISS_REFUSED:
		asf_why(ASF_WHY_NOT_ELIGIBLE);
		break;
	default:
		asf_why(ASF_WHY_OTHER);
		break;
	}
	return false;
}

bool asf_source_prove(struct asf_source *s, const void *p, size_t len)
{
	size_t from = (size_t)((const char *)p - s->buf), to = from + len;
	if (s->confirmed || to <= s->proven)
		return true;
	if (from < s->proven)
		from = s->proven;
	const unsigned char *file = asf_view_bytes(s->view, s->off + (off_t)from, to - from);
	if (file && prove(s->buf + from, file, to - from, s->off + (off_t)from, s->full) == 1) {
		s->proven = to;
		return true;
	}
	/* Changed since the write began (or unreadable): the rest is the program's to send. */
	ASF_STAT_ADD(verify_rejects, 1);
	asf_why(ASF_WHY_BUF_CHANGED);
	return false;
}

void asf_source_close(struct asf_source *s)
{
	struct asf_view *v = s->view;
	if (!v)
		return;
	s->view = NULL;
	if (s->t && s->t->open_src == s)
		s->t->open_src = NULL;
	asf_view_put(v);
}
