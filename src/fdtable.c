/* The lock-free table of what is known about each fd number (see fdtable.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <sys/mman.h>

#include "ownmem.h"
#include "fdtable.h"

struct asf_fd_entry *asf_fd_pages[ASF_FD_PAGES];

struct asf_fd_entry *asf_fd_entry(int fd, bool create)
{
	if ((unsigned)fd >= ASF_FD_MAX)
		return NULL;
	struct asf_fd_entry **slot = &asf_fd_pages[(unsigned)fd >> ASF_FD_PAGE_BITS];
	struct asf_fd_entry *page = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
	if (!page && create) {
		/* mmap, not malloc: this may run inside a signal handler. */
		int saved_errno = errno;
		void *mem = asf_mem_alloc(ASF_FD_PAGE_SIZE * sizeof(struct asf_fd_entry));
		if (!mem) {
			errno = saved_errno;
			return NULL;
		}
		struct asf_fd_entry *expected = NULL;
		if (__atomic_compare_exchange_n(slot, &expected, (struct asf_fd_entry *)mem, false,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
			page = mem;
		} else {
			asf_mem_free(mem, ASF_FD_PAGE_SIZE * sizeof(struct asf_fd_entry));
			page = expected;
		}
		errno = saved_errno;
	}
	return page ? &page[(unsigned)fd & (ASF_FD_PAGE_SIZE - 1)] : NULL;
}

void asf_fd_set(int fd, uint32_t word, uint64_t dev, uint64_t ino)
{
	struct asf_fd_entry *e = asf_fd_entry(fd, true);
	if (!e)
		return;
	__atomic_store_n(&e->dev, dev, __ATOMIC_RELAXED);
	__atomic_store_n(&e->ino, ino, __ATOMIC_RELAXED);
	__atomic_store_n(&e->next_off, 0, __ATOMIC_RELAXED); /* most files are read from 0 */
	__atomic_store_n(&e->sample_at, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&e->sample_step, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&e->word, word, __ATOMIC_RELEASE);
}

void asf_fd_set_next_off(int fd, int64_t off)
{
	struct asf_fd_entry *e = asf_fd_entry(fd, false);
	if (e)
		__atomic_store_n(&e->next_off, off, __ATOMIC_RELAXED);
}

uint32_t asf_fd_or_flags(int fd, uint32_t flags)
{
	struct asf_fd_entry *e = asf_fd_entry(fd, false);
	if (!e)
		return ASF_FD_OTHER;
	/* Never on a forgotten entry: flags there would hide that it needs classifying. */
	uint32_t old = __atomic_load_n(&e->word, __ATOMIC_ACQUIRE);
	while ((old & ASF_FD_KIND_MASK) != ASF_FD_UNKNOWN &&
	       !__atomic_compare_exchange_n(&e->word, &old, old | flags, false, __ATOMIC_ACQ_REL,
					    __ATOMIC_ACQUIRE))
		;
	return old;
}

void asf_fd_clear_flags(int fd, uint32_t flags)
{
	struct asf_fd_entry *e = asf_fd_entry(fd, false);
	if (e)
		__atomic_fetch_and(&e->word, ~flags, __ATOMIC_ACQ_REL);
}

void asf_fd_forget(int fd)
{
	struct asf_fd_entry *e = asf_fd_entry(fd, false);
	if (e)
		__atomic_store_n(&e->word, ASF_FD_UNKNOWN, __ATOMIC_RELEASE);
}

void asf_fd_forget_range(unsigned first, unsigned last)
{
	if (last >= ASF_FD_MAX)
		last = ASF_FD_MAX - 1;
	for (unsigned fd = first; fd <= last;) {
		struct asf_fd_entry *page =
			__atomic_load_n(&asf_fd_pages[fd >> ASF_FD_PAGE_BITS], __ATOMIC_ACQUIRE);
		unsigned page_end = (fd | (ASF_FD_PAGE_SIZE - 1));
		if (page_end > last)
			page_end = last;
		if (page)
			for (unsigned i = fd; i <= page_end; i++)
				__atomic_store_n(&page[i & (ASF_FD_PAGE_SIZE - 1)].word, ASF_FD_UNKNOWN,
						 __ATOMIC_RELEASE);
		if (page_end == last)
			break;
		fd = page_end + 1;
	}
}

void asf_fd_copy(int oldfd, int newfd)
{
	if (oldfd == newfd)
		return;
	struct asf_fd_entry *src = asf_fd_entry(oldfd, false);
	uint32_t word = src ? __atomic_load_n(&src->word, __ATOMIC_ACQUIRE) : ASF_FD_UNKNOWN;
	if ((word & ASF_FD_KIND_MASK) == ASF_FD_UNKNOWN) {
		if (word & ASF_FDF_FRESH) /* its offset is shared now: moves through newfd unseen */
			asf_fd_forget(oldfd);
		asf_fd_forget(newfd);
		return;
	}
	asf_fd_set_ctime(newfd, __atomic_load_n(&src->ctime_ns, __ATOMIC_ACQUIRE));
	/* An owed socket error stays owed through either number, once (asf_fd_take_error). */
	asf_fd_set(newfd, word, __atomic_load_n(&src->dev, __ATOMIC_RELAXED),
		   __atomic_load_n(&src->ino, __ATOMIC_RELAXED));
	asf_fd_set_next_off(newfd, __atomic_load_n(&src->next_off, __ATOMIC_RELAXED));
}

uint64_t asf_fd_ctime(int fd)
{
	struct asf_fd_entry *e = asf_fd_entry(fd, false);
	return e ? __atomic_load_n(&e->ctime_ns, __ATOMIC_ACQUIRE) : 0;
}

void asf_fd_set_ctime(int fd, uint64_t ctime_ns)
{
	struct asf_fd_entry *e = asf_fd_entry(fd, true);
	if (e)
		__atomic_store_n(&e->ctime_ns, ctime_ns, __ATOMIC_RELEASE);
}

/* close_range/closefrom touch many numbers at once: one generation for all of them. */
uint32_t asf_fd_range_gen;

uint32_t asf_fd_change_begin(int fd)
{
	struct asf_fd_entry *e = asf_fd_entry(fd, true);
	/* (sequentially consistent: the send window's check pairs with it, sendwin.c) */
	return e ? __atomic_add_fetch(&e->gen, 1, __ATOMIC_SEQ_CST) | 1u : 0;
}

/* Back to even, unless a fresh number's user ended the bracket already. */
static void end_bracket(struct asf_fd_entry *e, uint32_t token)
{
	uint32_t odd = token;
	__atomic_compare_exchange_n(&e->gen, &odd, token + 1, false, __ATOMIC_SEQ_CST,
				    __ATOMIC_SEQ_CST);
}

void asf_fd_change_end(int fd, uint32_t token)
{
	struct asf_fd_entry *e = token ? asf_fd_entry(fd, false) : NULL;
	if (e)
		end_bracket(e, token);
}

void asf_fd_fresh_number(int fd)
{
	struct asf_fd_entry *e = asf_fd_entry(fd, false);
	uint32_t g = e ? __atomic_load_n(&e->gen, __ATOMIC_SEQ_CST) : 0;
	if (g & 1)
		end_bracket(e, g);
}

void asf_fd_range_change_begin(void)
{
	__atomic_fetch_add(&asf_fd_range_gen, 1, __ATOMIC_SEQ_CST);
}

void asf_fd_range_change_end(void)
{
	__atomic_fetch_add(&asf_fd_range_gen, 1, __ATOMIC_SEQ_CST);
}

const uint32_t *asf_fd_gen_word(int fd)
{
	struct asf_fd_entry *e = asf_fd_entry(fd, false);
	return e ? &e->gen : NULL;
}

uint64_t asf_fd_gen(int fd)
{
	struct asf_fd_entry *e = asf_fd_entry(fd, true);
	uint32_t g = e ? __atomic_load_n(&e->gen, __ATOMIC_ACQUIRE) : 1; /* no entry: "busy" */
	uint32_t r = __atomic_load_n(&asf_fd_range_gen, __ATOMIC_ACQUIRE);
	/* odd if either is odd */
	return ((uint64_t)r << 32 | g) | ((g | r) & 1u);
}

/* An owed error belongs to the socket, not to a number: dup() copies the debt, and the
 * first number to report it pays it for all. Each debt has a token; the tokens paid lately
 * are kept here. */
static uint64_t debt_clock;
#define PAID_MAX 16
static uint64_t paid[PAID_MAX];
static unsigned paid_next;

void asf_fd_owe_error(int fd, int err)
{
	struct asf_fd_entry *e = asf_fd_entry(fd, false);
	if (!e)
		return;
	uint64_t token = __atomic_add_fetch(&debt_clock, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&e->ctime_ns, token << 16 | (uint64_t)(err & 0xffff), __ATOMIC_RELAXED);
	asf_fd_or_flags(fd, ASF_FDF_PENDING_ERR);
}

bool asf_fd_take_error(int fd, int *err)
{
	struct asf_fd_entry *e = asf_fd_entry(fd, false);
	if (!e)
		return false;
	uint32_t old = __atomic_fetch_and(&e->word, ~ASF_FDF_PENDING_ERR, __ATOMIC_ACQ_REL);
	if (!(old & ASF_FDF_PENDING_ERR))
		return false;
	uint64_t v = __atomic_load_n(&e->ctime_ns, __ATOMIC_RELAXED), token = v >> 16;
	for (unsigned i = 0; i < PAID_MAX; i++)
		if (__atomic_load_n(&paid[i], __ATOMIC_RELAXED) == token)
			return false; /* another number reported it */
	__atomic_store_n(&paid[__atomic_fetch_add(&paid_next, 1, __ATOMIC_RELAXED) % PAID_MAX], token,
			 __ATOMIC_RELAXED);
	*err = (int)(v & 0xffff);
	return true;
}

bool asf_fd_identity(int fd, uint64_t *dev, uint64_t *ino)
{
	struct asf_fd_entry *e = asf_fd_entry(fd, false);
	if (!e)
		return false;
	*dev = __atomic_load_n(&e->dev, __ATOMIC_RELAXED);
	*ino = __atomic_load_n(&e->ino, __ATOMIC_RELAXED);
	return true;
}
