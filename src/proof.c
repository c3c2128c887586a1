/* The proof (see proof.h) and the buffers it reads the file into. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "autosendfile.h"
#include "config.h"
#include "ownmem.h"
#include "proof.h"
#include "records.h"
#include "signals.h"

/* ---- proof buffers ----------------------------------------------------------------------
 * A few for the whole process, each held by one thread for one proof or one content search
 * at a time (taken at its start, given back at its end), so memory stays bounded whatever
 * the number of threads. Never held across a call that may block: a thread blocked in a
 * sendfile to a stalled client kept its slot when slots lived as long as the wrapped call,
 * and 16 stalled clients of a thread-per-connection server took them all (SBCL, 200
 * stalled clients: three quarters of the bytes found no buffer). A slot is 2 pieces, the
 * file's bytes and, where the guard cannot run, the program's copied beside them. In the
 * arena mapped at start (ownmem.h), touched at first use. */
#define SLOTS 16
#define PIECE_MAX (1u << 20)
static unsigned char *slot_mem[SLOTS];
static int slot_busy[SLOTS];

static size_t piece_size(void)
{
	size_t p = asf_cfg.chunk;
	return p < ASF_PROOF_MIN_BUF ? ASF_PROOF_MIN_BUF : p > PIECE_MAX ? PIECE_MAX : p;
}

static size_t slot_bytes(void)
{
	return 2 * (piece_size() + 4096);
}

size_t asf_proof_arena_bytes(void)
{
	return SLOTS * slot_bytes();
}

static unsigned char *slot_of(struct asf_thread *t)
{
	if (t->slot)
		return slot_mem[t->slot - 1];
	/* The lowest free one: a slot's pages cost memory once touched, and a process whose
	 * proofs rarely overlap touches one or two, not one per thread seen. */
	for (int round = 0; round < 64; round++) {
		for (unsigned i = 0; i < SLOTS; i++) {
			int expected = 0;
			if (__atomic_load_n(&slot_busy[i], __ATOMIC_RELAXED) ||
			    !__atomic_compare_exchange_n(&slot_busy[i], &expected, 1, false,
							 __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
				continue;
			unsigned char *m = __atomic_load_n(&slot_mem[i], __ATOMIC_ACQUIRE);
			if (!m) {
				int saved_errno = errno;
				m = asf_mem_alloc(slot_bytes());
				errno = saved_errno;
				if (!m) {
					__atomic_store_n(&slot_busy[i], 0, __ATOMIC_RELEASE);
					return NULL;
				}
				__atomic_store_n(&slot_mem[i], m, __ATOMIC_RELEASE);
			}
			t->slot = (int)i + 1;
			return m;
		}
		sched_yield(); /* all taken: their holders are between two system calls */
	}
	return NULL;
}

unsigned char *asf_proof_buffer(struct asf_thread *t, size_t *len)
{
	*len = piece_size();
	return slot_of(t);
}

void asf_proof_release(struct asf_thread *t)
{
	if (t->slot) {
		__atomic_store_n(&slot_busy[t->slot - 1], 0, __ATOMIC_RELEASE);
		t->slot = 0;
	}
}

/* ---- reading the program's memory ------------------------------------------------------ */

static bool guard_ok(struct asf_thread *t)
{
	if (!t->guard) {
		t->guard = asf_guard_usable() ? 1 : 2;
		t->guard_seen = t->guard;
	}
	return t->guard == 1;
}

struct copy_args {
	void *dst;
	const void *src;
	size_t n;
};

static int do_copy(void *arg)
{
	struct copy_args *c = arg;
	memcpy(c->dst, c->src, c->n);
	return 1;
}

/* Through the kernel: EFAULT where the memory is unreadable, as the program's write.
 * 0, or why not (an errno value). */
static int kernel_copy(void *dst, const void *src, size_t n)
{
	struct iovec local = { dst, n }, remote = { (void *)src, n };
	int saved_errno = errno;
	ssize_t k = syscall(SYS_process_vm_readv, getpid(), &local, 1UL, &remote, 1UL, 0UL);
	int err = k == (ssize_t)n ? 0 : k < 0 ? errno : EFAULT;
	errno = saved_errno;
	return err;
}

bool asf_read_prog_cached(struct asf_thread *t, void *dst, const void *src, size_t n)
{
	if (!t->guard_seen)
		t->guard_seen = asf_guard_usable() ? 1 : 2;
	if (t->guard_seen == 1) {
		struct copy_args c = { dst, src, n };
		return asf_guarded(do_copy, &c, src, n, src, 0) == 1;
	}
	return kernel_copy(dst, src, n) == 0;
}

bool asf_read_prog(struct asf_thread *t, void *dst, const void *src, size_t n)
{
	if (n == 0)
		return true;
	if (guard_ok(t)) {
		struct copy_args c = { dst, src, n };
		return asf_guarded(do_copy, &c, src, n, src, 0) == 1;
	}
	return kernel_copy(dst, src, n) == 0;
}

/* Through the kernel, always: these words lie in buffers of earlier reads, which the program
 * may have freed since (its allocator, valgrind and ASan own that memory now: a load of ours
 * there is an error they report, where the kernel's read is not). One system call for up to
 * WORDS_PER_CALL words. */
#define WORDS_PER_CALL 64

bool asf_read_prog_words(struct asf_thread *t, uint64_t *dst, const void *src, size_t stride,
			 size_t count)
{
	(void)t;
	int saved_errno = errno;
	bool ok = true;
	for (size_t done = 0; ok && done < count;) {
		struct iovec remote[WORDS_PER_CALL];
		size_t k = count - done < WORDS_PER_CALL ? count - done : WORDS_PER_CALL;
		for (size_t i = 0; i < k; i++)
			remote[i] = (struct iovec){ (char *)src + (done + i) * stride, sizeof *dst };
		struct iovec local = { dst + done, k * sizeof *dst };
		ssize_t got = syscall(SYS_process_vm_readv, getpid(), &local, 1UL, remote,
				      (unsigned long)k, 0UL);
		ok = got == (ssize_t)(k * sizeof *dst);
		done += k;
	}
	errno = saved_errno;
	return ok;
}

/* ---- the file's side ----------------------------------------------------------------------- */

/* pread by the system call: not a cancellation point (the write the program made is
 * cancelled, if at all, at the sendfile), and never the wrapped one. */
static ssize_t file_read(int fd, void *dst, size_t n, off_t off)
{
	int saved_errno = errno;
	ssize_t k;
	do
		k = syscall(SYS_pread64, fd, dst, n, off);
	while (k < 0 && errno == EINTR);
	errno = saved_errno;
	return k;
}

bool asf_file_word(int fd, off_t off, uint64_t *word)
{
	return asf_file_bytes(fd, off, word, sizeof *word);
}

bool asf_file_bytes(int fd, off_t off, void *dst, size_t n)
{
	return off >= 0 && file_read(fd, dst, n, off) == (ssize_t)n;
}

/* ---- the comparison ------------------------------------------------------------------------ */

struct compare {
	const unsigned char *buf, *file;
	size_t n;
	off_t off; /* file offset of buf[0], for the sampled spans */
	bool sampled;
};

/* AUTOSENDFILE_VERIFY=sample: the bytes at file offsets o with o % STRIDE < SPAN, and the
 * range's last SPAN bytes. */
static bool equal_sampled(const struct compare *c)
{
	uint64_t from = (uint64_t)c->off, to = from + c->n;
	for (uint64_t p = from - from % AUTOSENDFILE_SAMPLE_STRIDE; p < to;
	     p += AUTOSENDFILE_SAMPLE_STRIDE) {
		uint64_t lo = p > from ? p : from;
		uint64_t hi = p + AUTOSENDFILE_SAMPLE_SPAN < to ? p + AUTOSENDFILE_SAMPLE_SPAN : to;
		if (lo < hi && memcmp(c->buf + (lo - from), c->file + (lo - from), hi - lo) != 0)
			return false;
	}
	size_t tail = c->n > AUTOSENDFILE_SAMPLE_SPAN ? c->n - AUTOSENDFILE_SAMPLE_SPAN : 0;
	return memcmp(c->buf + tail, c->file + tail, c->n - tail) == 0;
}

static int equal(void *arg)
{
	const struct compare *c = arg;
	return c->sampled ? equal_sampled(c) : memcmp(c->buf, c->file, c->n) == 0;
}

static enum asf_proof prove_in(struct asf_thread *t, unsigned char *mem, int fd, off_t off,
			       const void *buf, size_t n, bool sampled, uint64_t *next_word,
			       bool *has_next)
{
	size_t piece = piece_size();
	unsigned char *file = mem, *copy = mem + piece + 4096;
	bool guard = guard_ok(t);
	for (size_t done = 0; done < n;) {
		size_t m = n - done < piece ? n - done : piece;
		/* The last piece also reads the 8 bytes after the range, if asked: where a copy
		 * that continues this one would start (content.h). */
		size_t want = m + (next_word && done + m == n ? sizeof *next_word : 0);
		ssize_t k = file_read(fd, file, want, off + (off_t)done);
		if (k < 0)
			return ASF_PROOF_FILE_ERROR;
		if ((size_t)k < m)
			return ASF_PROOF_SHORT;
		const unsigned char *p = (const unsigned char *)buf + done;
		struct compare c = { p, file, m, off + (off_t)done, sampled };
		int r;
		if (guard) {
			r = asf_guarded(equal, &c, p, m, file, 0);
		} else {
			int err = kernel_copy(copy, p, m);
			if (err)
				return err == ENOSYS || err == EPERM ? ASF_PROOF_NO_MEANS
								     : ASF_PROOF_BUF_FAULT;
			c.buf = copy;
			r = equal(&c);
		}
		if (r < 0)
			return ASF_PROOF_BUF_FAULT;
		if (r == 0)
			return ASF_PROOF_DIFFER;
		if ((size_t)k == want && want > m) {
			memcpy(next_word, file + m, sizeof *next_word);
			*has_next = true;
		}
		done += m;
	}
	return ASF_PROOF_EQUAL;
}

enum asf_proof asf_prove(struct asf_thread *t, int fd, off_t off, const void *buf, size_t n,
			 bool sampled, uint64_t *next_word, bool *has_next)
{
	if (has_next)
		*has_next = false;
	unsigned char *mem = slot_of(t);
	if (!mem)
		return ASF_PROOF_NO_MEANS;
	enum asf_proof v = prove_in(t, mem, fd, off, buf, n, sampled, next_word, has_next);
	asf_proof_release(t);
	return v;
}
