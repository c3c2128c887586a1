/* The file side of a redirect: gather the claims on a range, prove one (see source.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "autosendfile.h"
#include "config.h"
#include "content.h"
#include "fdclass.h"
#include "fdtable.h"
#include "mappings.h"
#include "proof.h"
#include "refusals.h"
#include "source.h"
#include "stats.h"

/* A claim: "these bytes are the file's at off, reached through fd", from one kind of
 * source. */
enum claim_kind { CLAIM_READ, CLAIM_MAP, CLAIM_CONTENT };
struct claim {
	enum claim_kind kind;
	struct asf_file_ref file;
	off_t off;       /* file offset of buf[skip] */
	bool shared_map; /* CLAIM_MAP of a MAP_SHARED mapping: the kernel may vouch for it */
	bool full;       /* compared in full whatever AUTOSENDFILE_VERIFY says (found by content) */
	size_t skip;     /* CLAIM_CONTENT: bytes before the file's that are the program's own */
};
#define CLAIMS_MAX (ASF_CANDIDATES_MAX + 1)

/* Does fd still name the file (dev, ino) as far as the wrapped calls tell? (A number
 * closed and opened again since is classified afresh: if it names the same file, its
 * bytes are still the claim's.) Raw system calls are caught by the proof, which reads
 * through fd. */
static bool names_file(int fd, uint64_t dev, uint64_t ino)
{
	uint64_t d, i;
	return fd >= 0 && (asf_fd_word_classified(fd) & ASF_FD_KIND_MASK) == ASF_FD_FILE &&
	       asf_fd_identity(fd, &d, &i) && d == dev && i == ino;
}

/* Every claim on buf[0..n) by its address, most likely first: this thread's reads, other
 * threads' reads, a mapping of the file. */
static int gather_claims(struct asf_thread *t, const void *buf, size_t n, struct claim *out)
{
	struct asf_record rec[ASF_CANDIDATES_MAX];
	int k = asf_record_candidates(t, buf, n, asf_cfg.verify != ASF_VERIFY_FULL, rec,
				      ASF_CANDIDATES_MAX);
	int c = 0;
	for (int i = 0; i < k; i++)
		if (names_file(rec[i].fd, rec[i].dev, rec[i].ino))
			out[c++] = (struct claim){ CLAIM_READ, { rec[i].fd, rec[i].dev, rec[i].ino },
						   asf_record_offset(&rec[i], buf), false,
						   rec[i].copy, 0 };
	struct asf_mapping m;
	if (asf_mapping_find(buf, n, &m) && names_file(m.fd, m.dev, m.ino))
		out[c++] = (struct claim){ CLAIM_MAP, { m.fd, m.dev, m.ino },
					   m.off + (off_t)((uintptr_t)buf - m.start), m.shared, false,
					   0 };
	return c;
}

/* The claims on buf[0..n) by its bytes (content.h): a read's or a mapping's bytes copied
 * here, maybe after a header; *resume as asf_content_claims. */
static int gather_content_claims(struct asf_thread *t, const void *buf, size_t n, bool split,
				 struct claim *out, size_t *resume)
{
	struct asf_content_claim cc[ASF_CONTENT_CLAIMS];
	int k = asf_content_claims(t, buf, n, split, cc, resume);
	int c = 0;
	for (int i = 0; i < k; i++)
		if (names_file(cc[i].file.fd, cc[i].file.dev, cc[i].file.ino))
			out[c++] = (struct claim){ CLAIM_CONTENT, cc[i].file, cc[i].off, false, true,
						   cc[i].skip };
	return c;
}

/* The kernel vouches for a shared mapping: buf is the page cache of the file at off, and
 * fd is that file (the mapping proves nothing about the descriptor we would send from). */
static bool kernel_confirms(const struct claim *c, const void *buf, size_t n, int *alias)
{
	*alias = 0;
	if (c->kind != CLAIM_MAP || !c->shared_map)
		return false;
	int k = asf_mapping_confirm(buf, n, c->file.dev, c->file.ino, c->off);
	if (k == 2) {
		*alias = 1; /* the file's own page cache, writable: mappings.h (asf_mapping_alias) */
		return false;
	}
	struct stat st;
	int saved_errno = errno;
	bool same = k == 1 && fstat(c->file.fd, &st) == 0 && (uint64_t)st.st_dev == c->file.dev &&
		    (uint64_t)st.st_ino == c->file.ino;
	errno = saved_errno;
	return same;
}

static enum asf_proof prove_some(struct asf_source *s, const struct claim *c, const char *from,
				 size_t len, uint64_t *next, bool *has_next)
{
	if (!c->full && asf_cfg.verify == ASF_VERIFY_NONE)
		return ASF_PROOF_EQUAL;
	return asf_prove(s->t, c->file.fd, c->off, from, len,
			 !c->full && asf_cfg.verify == ASF_VERIFY_SAMPLE, next, has_next);
}

/* Proves claims[0..k) in turn; the index of the first that holds, with s open on it. Else
 * -1, and s->miss says why the last one tried failed (a content candidate that differs
 * leaves it be: it was a guess, not a record that went stale). A content candidate is
 * compared over the whole range at once (the comparison is what chose it), and reads the
 * file's word after it (*next) for the next write that continues it. */
static int try_claims(const struct claim *claims, int k, const char *buf, size_t n,
		      struct asf_source *s, uint64_t *next, bool *has_next)
{
	for (int i = 0; i < k; i++) {
		const struct claim *c = &claims[i];
		const char *from = buf + c->skip;
		size_t len = n - c->skip;
		struct asf_fdgen g;
		if (!asf_sendwin_take(c->file.fd, &g))
			continue; /* being re-pointed right now */
		int alias = 0;
		enum asf_proof verdict = ASF_PROOF_FILE_ERROR;
		bool confirmed = false;
		size_t first = c->kind == CLAIM_CONTENT || asf_cfg.chunk > len ? len : asf_cfg.chunk;
		if ((asf_fd_word(c->file.fd) & ASF_FDF_NO_SENDFILE) ||
		    asf_refused(c->file.dev, c->file.ino)) {
			s->miss = ASF_MISS_REFUSED;
			continue;
		}
		if (c->kind != CLAIM_MAP && asf_mapping_alias(from, len, c->file.dev, c->file.ino)) {
			s->miss = ASF_MISS_ALIAS;
			continue;
		}
		confirmed = kernel_confirms(c, from, len, &alias);
		if (alias) {
			s->miss = ASF_MISS_ALIAS;
			continue;
		}
		if (!confirmed && !(s->how & ASF_SRC_COMPARE)) {
			s->miss = ASF_MISS_DRAINING; /* a comparison would not pay (pressure.h) */
			continue;
		}
		verdict = confirmed ? ASF_PROOF_EQUAL
				    : prove_some(s, c, from, first,
						 c->kind == CLAIM_CONTENT ? next : NULL, has_next);
		if (verdict == ASF_PROOF_EQUAL) {
			s->gen = g;
			s->dev = c->file.dev;
			s->ino = c->file.ino;
			s->buf = from;
			s->off = c->off;
			s->skip = c->skip;
			s->proven = confirmed ? len : first;
			s->confirmed = confirmed;
			s->full = c->full;
			s->miss = ASF_MISS_NONE;
			s->open = true;
			s->t->open_src = s;
			return i;
		}
		switch (verdict) {
		case ASF_PROOF_DIFFER:
			if (c->kind == CLAIM_CONTENT)
				break;
			/* The bytes differ: the buffer changed, the file did, or the read's offset
			 * was only guessed wrong (wrap_read.c proves it on the fd's next read). */
			s->miss = ASF_MISS_CHANGED;
			if (c->kind == CLAIM_READ)
				asf_fd_or_flags(c->file.fd, ASF_FDF_RESYNC);
			break;
		case ASF_PROOF_BUF_FAULT:
			s->miss = ASF_MISS_UNREADABLE; /* no other claim makes it readable */
			return -1;
		case ASF_PROOF_SHORT:
			if (c->kind != CLAIM_CONTENT)
				s->miss = ASF_MISS_FILE_GONE;
			break;
		case ASF_PROOF_NO_MEANS:
			s->miss = ASF_MISS_NO_MEANS;
			return -1;
		default:
			break; /* the descriptor does not read (closed, re-pointed): no claim */
		}
	}
	return -1;
}

/* A content claim held (s open on it): a record of the copy, so that the program's retry of
 * the rest is found by its address, and the continuation for the next write. */
static void content_hit(struct asf_thread *t, const struct claim *c, const struct asf_source *s,
			size_t n, bool has_next, uint64_t next)
{
	asf_record_add_copy(t, c->file.fd, c->file.dev, c->file.ino, s->off, s->buf, n - s->skip);
	asf_content_result(t, true, &c->file, s->off + (off_t)(n - s->skip), s->skip, has_next,
			   next);
}

/* No claim at the address held: the bytes may be a copy (content.h). Searched only for a
 * range worth a sendfile, never when the buffer faulted, and not while this thread's
 * writes keep missing (backoff). A match leaves a record of the copy, so the program's
 * retry of the rest is found by its address. */
static bool open_by_content(struct asf_thread *t, const char *buf, size_t n, bool split,
			    struct asf_source *s)
{
	if (n < asf_cfg.min_bytes || s->miss == ASF_MISS_UNREADABLE ||
	    s->miss == ASF_MISS_NO_MEANS || !asf_content_wanted(t))
		return false;
	if (!(s->how & ASF_SRC_COMPARE)) { /* every match is a comparison: not looked for */
		s->miss = ASF_MISS_DRAINING;
		return false;
	}
	struct claim claims[ASF_CONTENT_CLAIMS];
	uint64_t next = 0;
	bool has_next = false;
	size_t resume = 0;
	int i = -1;
	/* A few positions at most: the first that matches a probe may be a header's bytes */
	for (int tries = 0; tries < 4 && i < 0; tries++) {
		int k = gather_content_claims(t, buf, n, split, claims, &resume);
		i = k > 0 ? try_claims(claims, k, buf, n, s, &next, &has_next) : -1;
		if (!resume || s->miss == ASF_MISS_UNREADABLE || s->miss == ASF_MISS_NO_MEANS)
			break;
	}
	if (i < 0) { /* no candidate, or none held: a miss either way (backoff) */
		asf_content_result(t, false, NULL, 0, 0, false, 0);
		return false;
	}
	content_hit(t, &claims[i], s, n, has_next, next);
	return true;
}

/* The write continues the thread's last content match (content.h: the prediction): one
 * word compared, then the full proof. Tried before the claims by address, which for a
 * buffer the program copies into again and again name the previous copy's bytes. */
static bool open_predicted(struct asf_thread *t, const char *buf, size_t n, bool split,
			   struct asf_source *s)
{
	struct asf_content_claim cc;
	if (n < asf_cfg.min_bytes || !asf_content_predict(t, buf, n, split, &cc) ||
	    !names_file(cc.file.fd, cc.file.dev, cc.file.ino))
		return false;
	struct claim c = { CLAIM_CONTENT, cc.file, cc.off, false, true, cc.skip };
	uint64_t next = 0;
	bool has_next = false;
	if (try_claims(&c, 1, buf, n, s, &next, &has_next) < 0)
		return false; /* (not a miss: the search goes on) */
	content_hit(t, &c, s, n, has_next, next);
	return true;
}

bool asf_source_open_as(struct asf_thread *t, const void *buf, size_t n, unsigned how,
			struct asf_source *s)
{
	struct claim claims[CLAIMS_MAX];
	s->t = t;
	s->open = false;
	s->buf = buf;
	s->skip = 0;
	s->how = how;
	/* (a prediction is proven by comparing: not where the socket drains) */
	if ((how & ASF_SRC_CONTENT) && (how & ASF_SRC_COMPARE) &&
	    open_predicted(t, buf, n, how & ASF_SRC_SPLIT, s))
		return true;
	int k = gather_claims(t, buf, n, claims);
	s->miss = ASF_MISS_NO_RECORD;
	if (try_claims(claims, k, buf, n, s, NULL, NULL) >= 0)
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
	case ASF_MISS_DRAINING:
		asf_why(ASF_WHY_DRAINING);
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
	if (!s->full && asf_cfg.verify == ASF_VERIFY_NONE) {
		s->proven = to;
		return true;
	}
	if (asf_prove(s->t, s->gen.fd, s->off + (off_t)from, s->buf + from, to - from,
		      !s->full && asf_cfg.verify == ASF_VERIFY_SAMPLE, NULL, NULL) == ASF_PROOF_EQUAL) {
		s->proven = to;
		return true;
	}
	/* Changed since the write began (or unreadable): the program's call sends it all. */
	ASF_STAT_ADD(verify_rejects, 1);
	asf_why(ASF_WHY_BUF_CHANGED);
	return false;
}

void asf_source_close(struct asf_source *s)
{
	if (!s->open)
		return;
	s->open = false;
	if (s->t && s->t->open_src == s)
		s->t->open_src = NULL;
}
