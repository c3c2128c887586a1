/* The file side of a redirect: find, verify and pin (see source.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/single_threaded.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "config.h"
#include "fdclass.h"
#include "refusals.h"
#include "source.h"
#include "stats.h"

enum source_state { SOURCE_OK, SOURCE_GONE, SOURCE_CHANGED };

/* Is src (the record's fd, or our pin of it) still the file that was read, unchanged since,
 * and long enough? One fstat. "Unchanged" means: the same ctime as the baseline taken
 * before the read. Linux (6.13+, multigrain timestamps) gives any change made after a
 * ctime was queried a different ctime, so a write, truncation or extension since then is
 * seen here. */
static enum source_state check_file(const struct asf_record *r, int src, off_t off, size_t n)
{
	struct stat st;
	if (fstat(src, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_dev != r->dev ||
	    (uint64_t)st.st_ino != r->ino) {
		/* The number names something else now: closed behind our back (a raw syscall)
		 * and reused. Classify it afresh from the next call on. */
		asf_fd_forget(r->fd);
		return SOURCE_GONE;
	}
	uint64_t now = asf_ctime_ns(&st.st_ctim);
	if (now != r->ctime_ns) {
		/* Later reads start from the new baseline; this record is stale. */
		asf_fd_set_ctime(r->fd, now);
		return SOURCE_CHANGED;
	}
	return off >= 0 && (uint64_t)off + n <= (uint64_t)st.st_size ? SOURCE_OK : SOURCE_CHANGED;
}

bool asf_source_open(struct asf_thread *t, const void *buf, size_t n, struct asf_source *s)
{
	s->pinned = false;
	s->own = asf_record_find(t, buf, n);
	/* Without a full comparison, a newer read of this memory by another thread outranks
	 * this thread's own (then stale) record. */
	if (s->own && asf_cfg.verify != ASF_VERIFY_FULL &&
	    asf_record_find_foreign(t, buf, n, &s->rec) && s->rec.born > s->own->born)
		s->own = NULL;
	else if (s->own) {
		if (!asf_record_verify(s->own, buf, n)) {
			ASF_STAT_ADD(verify_rejects, 1);
			asf_why(ASF_WHY_BUF_CHANGED);
			return false;
		}
		s->rec = *s->own;
	} else if (!asf_record_find_foreign(t, buf, n, &s->rec)) {
		/* (a foreign record whose bytes differ is not counted: it may be another
		 * thread's unrelated buffer) */
		asf_why_no_record();
		return false;
	}
	const struct asf_record *r = &s->rec;
	if ((asf_fd_word(r->fd) & ASF_FDF_NO_SENDFILE) || asf_refused(r->dev, r->ino))
		return asf_why(ASF_WHY_NOT_ELIGIBLE), false;
	/* With other threads about, the program may close the fd and reuse its number at any
	 * moment: pin the file with a private duplicate first, and check and send from that. */
	s->fd = r->fd;
	s->pinned = false;
	if (!__libc_single_threaded) {
		s->fd = (int)syscall(SYS_fcntl, r->fd, F_DUPFD_CLOEXEC, 0);
		if (s->fd < 0)
			return asf_why(ASF_WHY_OTHER), false; /* EMFILE and the like: the real call does the work */
		s->pinned = true;
	}
	enum source_state state = check_file(r, s->fd, asf_record_offset(r, buf), n);
	if (state == SOURCE_OK)
		return true;
	if (state == SOURCE_CHANGED)
		ASF_STAT_ADD(source_changed, 1);
	asf_why(ASF_WHY_FILE_CHANGED); /* changed, or its fd now names another file */
	if (s->own)
		asf_record_drop(s->own);
	asf_source_close(s);
	return false;
}

void asf_source_close(struct asf_source *s)
{
	if (s->pinned)
		(void)syscall(SYS_close, s->fd);
	s->pinned = false;
}
