/* The send window (see sendwin.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "export.h"
#include "fdtable.h"
#include "records.h"
#include "sendwin.h"

/* Threads inside a window right now: re-pointers look at the others only when some are. */
static int armed;

bool asf_sendwin_take(int fd, struct asf_fdgen *g)
{
	const uint32_t *own = asf_fd_gen_word(fd);
	if (!own)
		return false;
	g->fd = fd;
	g->range = __atomic_load_n(&asf_fd_range_gen, __ATOMIC_SEQ_CST);
	g->own = __atomic_load_n(own, __ATOMIC_SEQ_CST);
	return !((g->own | g->range) & 1);
}

bool asf_sendwin_same(const struct asf_fdgen *g)
{
	const uint32_t *own = asf_fd_gen_word(g->fd);
	return own && __atomic_load_n(own, __ATOMIC_SEQ_CST) == g->own &&
	       __atomic_load_n(&asf_fd_range_gen, __ATOMIC_SEQ_CST) == g->range;
}

#define CHANGED (-4096L) /* not a value a system call returns */

#if defined(__x86_64__) && defined(__GLIBC__) && \
	(__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 35))
#include <sys/rseq.h>
/* Weak: a glibc without rseq support leaves them unresolved (then there is no rseq). */
extern const ptrdiff_t __rseq_offset __attribute__((weak));
extern const unsigned int __rseq_size __attribute__((weak));

/* Where glibc did not register rseq (before 2.35, or glibc.pthread.rseq=0), the thread's
 * own area, registered at its first send (0 not tried, 1 registered, 2 refused: another
 * user holds the thread's one registration, or the kernel has no rseq). */
static ASF_TLS struct rseq own_rseq __attribute__((aligned(32)));
static ASF_TLS int own_state;

static uint64_t *own_rseq_cs(void)
{
	if (own_state == 0) {
		int saved_errno = errno;
		own_state = syscall(SYS_rseq, &own_rseq, (uint32_t)sizeof own_rseq, 0, RSEQ_SIG) == 0
				    ? 1
				    : 2;
		errno = saved_errno;
	}
	return own_state == 1 ? (uint64_t *)&own_rseq.rseq_cs : NULL;
}

/* This thread's rseq_cs word, or NULL when it has no rseq registration. */
static uint64_t *rseq_cs_word(void)
{
	if (!&__rseq_size || !&__rseq_offset || __rseq_size == 0)
		return own_rseq_cs();
	struct rseq *rs = (struct rseq *)((char *)__builtin_thread_pointer() + __rseq_offset);
	uint32_t cpu = __atomic_load_n(&rs->cpu_id, __ATOMIC_RELAXED);
	return cpu >= (uint32_t)RSEQ_CPU_ID_REGISTRATION_FAILED ? NULL : (uint64_t *)&rs->rseq_cs;
}

/* The check and the sendfile system call as one restartable sequence: [1, 2) is the
 * critical section, 4 its abort handler (after the signature glibc registered), which sets
 * the descriptor again (the kernel cleared it) and checks again. The system call is the
 * section's last instruction: once it is entered, the section is over. */
static long cs_sendfile(uint64_t *cs, int sock, int fd, off_t *off, size_t n, const uint32_t *own,
			uint32_t own_want, const uint32_t *range, uint32_t range_want)
{
	register long r10 __asm__("r10") = (long)n;
	long ret;
	__asm__ __volatile__(".pushsection __rseq_cs, \"aw\"\n"
			     ".balign 32\n"
			     "3:\n"
			     ".long 0, 0\n"
			     ".quad 1f, 2f - 1f, 4f\n"
			     ".popsection\n"
			     "0:\n"
			     "leaq 3b(%%rip), %%rax\n"
			     "movq %%rax, (%[cs])\n"
			     "1:\n"
			     "movl (%[own]), %%eax\n"
			     "cmpl %[ownw], %%eax\n"
			     "jne 5f\n"
			     "movl (%[range]), %%eax\n"
			     "cmpl %[rangew], %%eax\n"
			     "jne 5f\n"
			     "movl %[nr], %%eax\n"
			     "syscall\n"
			     "2:\n"
			     "jmp 6f\n"
			     ".long 0x53053053\n" /* RSEQ_SIG on x86 */
			     "4:\n"
			     "jmp 0b\n"
			     "5:\n"
			     "movq %[changed], %%rax\n"
			     "6:\n"
			     : "=&a"(ret)
			     : "D"((long)sock), "S"((long)fd), "d"(off), "r"(r10), [cs] "r"(cs),
			       [own] "r"(own), [ownw] "r"(own_want), [range] "r"(range),
			       [rangew] "r"(range_want), [nr] "i"(SYS_sendfile), [changed] "i"(CHANGED)
			     : "rcx", "r11", "memory", "cc");
	return ret;
}
#else
static uint64_t *rseq_cs_word(void)
{
	return NULL;
}
static long cs_sendfile(uint64_t *cs, int sock, int fd, off_t *off, size_t n, const uint32_t *own,
			uint32_t own_want, const uint32_t *range, uint32_t range_want)
{
	(void)cs;
	(void)sock;
	(void)fd;
	(void)off;
	(void)n;
	(void)own;
	(void)own_want;
	(void)range;
	(void)range_want;
	return CHANGED;
}
#endif

/* Without rseq: with every signal blocked, the check, and a duplicate of the descriptor
 * (the file the check was about, whatever happens to the number after); then, signals
 * back, the sendfile from the duplicate, and its close. The duplicate exists for the one
 * call, at a number above the program's (F_DUPFD from the top of the first thousand). */
static long dup_sendfile(struct asf_thread *t, int sock, int fd, off_t *off, size_t n,
			 const uint32_t *own, uint32_t own_want, const uint32_t *range,
			 uint32_t range_want)
{
	uint64_t all = ~0ull, old;
	int saved_errno = errno;
	if (syscall(SYS_rt_sigprocmask, SIG_BLOCK, &all, &old, sizeof all) != 0) {
		errno = saved_errno;
		return CHANGED;
	}
	long dupfd = CHANGED;
	if (__atomic_load_n(own, __ATOMIC_SEQ_CST) == own_want &&
	    __atomic_load_n(range, __ATOMIC_SEQ_CST) == range_want)
		dupfd = syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, 900);
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, NULL, sizeof old);
	asf_sendwin_disarm(t); /* the duplicate holds the file now */
	if (dupfd < 0) {
		errno = saved_errno;
		return CHANGED;
	}
	long r = syscall(SYS_sendfile, sock, (int)dupfd, off, n);
	r = r < 0 ? -errno : r;
	syscall(SYS_close, (int)dupfd);
	errno = saved_errno;
	return r;
}

ssize_t asf_sendwin_sendfile(struct asf_thread *t, int sock, const struct asf_fdgen *g,
			     off_t *off, size_t n, bool *changed)
{
	*changed = false;
	const uint32_t *own = asf_fd_gen_word(g->fd);
	if (!own) {
		*changed = true;
		return -1;
	}
	/* Dekker with the re-pointers: we publish the window, then read the generation; they
	 * bump the generation, then read the windows. One of the two sees the other. */
	__atomic_store_n(&t->armed_fd, g->fd, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&armed, 1, __ATOMIC_SEQ_CST);
	/* sendfile is no cancellation point, write() is: a thread cancelled while blocked in a
	 * redirected write must end there too. Asynchronous cancellation is allowed just
	 * around the call; what the activation holds is released by its cleanup handler. */
	int oldtype = PTHREAD_CANCEL_DEFERRED;
	pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, &oldtype);
	uint64_t *cs = rseq_cs_word();
	long r = cs ? cs_sendfile(cs, sock, g->fd, off, n, own, g->own, &asf_fd_range_gen, g->range)
		    : dup_sendfile(t, sock, g->fd, off, n, own, g->own, &asf_fd_range_gen, g->range);
	pthread_setcanceltype(oldtype, NULL);
	asf_sendwin_disarm(t);
	if (r == CHANGED) {
		*changed = true;
		return -1;
	}
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

void asf_sendwin_disarm(struct asf_thread *t)
{
	if (__atomic_load_n(&t->armed_fd, __ATOMIC_RELAXED) < 0)
		return;
	__atomic_store_n(&t->armed_fd, -1, __ATOMIC_SEQ_CST);
	__atomic_sub_fetch(&armed, 1, __ATOMIC_SEQ_CST);
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* How long a re-pointer waits for one send: a send that long in its window is inside the
 * kernel, blocked on a socket that does not drain, and has its reference already. */
#define WAIT_MS 50

static void wait_for(unsigned first, unsigned last)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!__atomic_load_n(&armed, __ATOMIC_SEQ_CST))
		return;
	int saved_errno = errno;
	struct asf_thread *me = asf_thread_get(false);
	uint64_t deadline = 0;
	unsigned n = asf_threads_registered();
	for (unsigned i = 0; i < n; i++) {
		struct asf_thread *o = asf_thread_registered(i);
		if (!o || o == me) /* (a handler in the sender's own thread: rseq restarts it) */
			continue;
		for (;;) {
			int fd = __atomic_load_n(&o->armed_fd, __ATOMIC_SEQ_CST);
			if (fd < 0 || (unsigned)fd < first || (unsigned)fd > last)
				break;
			if (!deadline)
				deadline = now_ms() + WAIT_MS;
			else if (now_ms() > deadline)
				break;
			sched_yield();
		}
	}
	errno = saved_errno;
}

void asf_sendwin_wait(int fd)
{
	if (fd >= 0)
		wait_for((unsigned)fd, (unsigned)fd);
}

void asf_sendwin_wait_range(unsigned first, unsigned last)
{
	wait_for(first, last);
}
