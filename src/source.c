/* The file side of a redirect: gather the claims on a range, prove one, hold its file (see
 * source.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include "autosendfile.h"
#include "config.h"
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
 * bytes are (truncated under the view). */
static int prove(const void *buf, const unsigned char *file, size_t n, off_t off)
{
	if (asf_cfg.verify == ASF_VERIFY_NONE)
		return 1;
	struct compare c = { buf, file, n, off };
	return asf_guarded(asf_cfg.verify == ASF_VERIFY_FULL ? equal_full : equal_sampled, &c, buf,
			   n, file, n);
}

/* A claim: "these bytes are the file's (view) at off", from one kind of source. */
enum claim_kind { CLAIM_READ, CLAIM_MAP };
struct claim {
	enum claim_kind kind;
	uint64_t view;
	off_t off;  /* file offset of buf[0] */
	int fd;     /* CLAIM_READ: the fd read from (its offset guess is re-proven on a miss) */
	bool shared_map; /* CLAIM_MAP of a MAP_SHARED mapping: the kernel may vouch for it */
};
#define CLAIMS_MAX (ASF_CANDIDATES_MAX + 1)

/* The view of the file a read record names, made now if need be: through the fd it was
 * read from, if that fd still names that file (else the program closed or re-pointed it:
 * the library holds a file only while the program has it open). */
static uint64_t record_view(const struct asf_record *r)
{
	uint64_t dev, ino;
	if ((asf_fd_word(r->fd) & ASF_FD_KIND_MASK) != ASF_FD_FILE ||
	    !asf_fd_identity(r->fd, &dev, &ino) || dev != r->dev || ino != r->ino)
		return 0;
	return asf_view_for_fd(r->fd);
}

/* Every claim on buf[0..n), most likely first: this thread's reads, other threads' reads,
 * a mapping of the file. */
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
						   rec[i].fd, false };
	}
	k = c;
	struct asf_mapping m;
	if (asf_mapping_find(buf, n, &m))
		out[k++] = (struct claim){ CLAIM_MAP, m.view,
					   m.off + (off_t)((uintptr_t)buf - m.start), -1, m.shared };
	return k;
}

/* The proof of one claim: 1 the bytes are the file's, 0 they differ, -1 buf unreadable, -2
 * the file's bytes unreadable (truncated under the view). A shared mapping's bytes are the
 * page cache's: when the kernel confirms that buf still maps the file there, nothing needs
 * comparing. Everything else is compared with the file. */
static int prove_claim(const struct claim *c, const struct asf_view *v, const void *buf,
		       const unsigned char *file, size_t n, size_t first, bool *confirmed)
{
	*confirmed = c->kind == CLAIM_MAP && c->shared_map &&
		     asf_mapping_confirm(buf, n, v->dev, v->ino, c->off) == 1;
	return *confirmed ? 1 : prove(buf, file, first, c->off);
}

bool asf_source_open(struct asf_thread *t, const void *buf, size_t n, struct asf_source *s)
{
	struct claim claims[CLAIMS_MAX];
	s->t = t;
	s->view = NULL;
	s->buf = buf;
	if (asf_mem_ours(buf, n)) {
		s->miss = ASF_MISS_UNREADABLE; /* the program's memory is never there (ownmem.h) */
		asf_why(ASF_WHY_OTHER);
		return false;
	}
	int k = gather_claims(t, buf, n, claims);
	size_t first = n < asf_cfg.chunk ? n : asf_cfg.chunk;
	s->t = t;
	s->view = NULL;
	s->buf = buf;
	s->miss = ASF_MISS_NO_RECORD;
	for (int i = 0; i < k; i++) {
		struct asf_view *v = asf_view_get(claims[i].view);
		if (!v)
			continue;
		off_t off = claims[i].off;
		const unsigned char *file = asf_view_bytes(v, off, n);
		int verdict = -3;
		bool confirmed = false;
		if (__atomic_load_n(&v->refused, __ATOMIC_RELAXED) || asf_refused(v->dev, v->ino))
			s->miss = ASF_MISS_REFUSED;
		else if (!file)
			s->miss = ASF_MISS_FILE_GONE;
		else
			verdict = prove_claim(&claims[i], v, buf, file, n, first, &confirmed);
		if (verdict == 1) {
			s->view = v;
			s->off = off;
			s->proven = confirmed ? n : first;
			s->confirmed = confirmed;
			s->miss = ASF_MISS_NONE;
			t->open_src = s;
			return true;
		}
		asf_view_put(v);
		if (verdict == 0) {
			/* The bytes differ: the buffer changed, the file did, or the read's offset was
			 * only guessed wrong (wrap_read.c proves it on the fd's next read). */
			s->miss = ASF_MISS_CHANGED;
			if (claims[i].kind == CLAIM_READ)
				asf_fd_or_flags(claims[i].fd, ASF_FDF_RESYNC);
		} else if (verdict == -1) {
			s->miss = ASF_MISS_UNREADABLE; /* no other claim makes it readable */
			break;
		} else if (verdict == -2) {
			s->miss = ASF_MISS_FILE_GONE;
		}
	}
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
	if (file && prove(s->buf + from, file, to - from, s->off + (off_t)from) == 1) {
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
