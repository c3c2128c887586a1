/* The fault guard and the program's SIGSEGV/SIGBUS dispositions (see signals.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "export.h"
#include "real.h"
#include "signals.h"
#include "trylock.h"

static int real_sigaction(int sig, const struct sigaction *act, struct sigaction *oact)
{
	int (*fn)(int, const struct sigaction *, struct sigaction *) = ASF_REAL_FN(sigaction);
	if (!fn) {
		errno = ENOSYS;
		return -1;
	}
	return fn(sig, act, oact);
}

static int fault_idx(int sig)
{
	return sig == SIGSEGV ? 0 : sig == SIGBUS ? 1 : -1;
}

ASF_START_DATA static int installed[2];         /* our handler is in place for SIGSEGV, SIGBUS */
/* The program's disposition, as the kernel reports it (its readback, not the struct the
 * program passed: glibc's restorer, SIGKILL and SIGSTOP out of the mask, unknown flag bits
 * cleared, which is how programs probe for SA_UNSUPPORTED). */
ASF_START_DATA static struct sigaction prog[2];
static int prog_lock; /* the program's changes of these two dispositions, one at a time */

static ASF_TLS sigjmp_buf guard_env;
static ASF_TLS int guard_armed;
static ASF_TLS uintptr_t guard_lo[2], guard_hi[2];
static ASF_TLS int guard_which; /* the range that faulted: 0 (a) or 1 (b) */
#if !defined(__x86_64__)
static ASF_TLS sigset_t guard_mask;
static ASF_TLS stack_t guard_stack;
#endif

static void on_fault(int sig, siginfo_t *info, void *ctx);

/* The action the kernel gets for the program's `want`: our handler, with the program's mask
 * and the flags that change how the kernel delivers (the rest is emulated in forward). */
static void mirror(const struct sigaction *want, struct sigaction *ours)
{
	memset(ours, 0, sizeof *ours);
	ours->sa_sigaction = on_fault;
	ours->sa_mask = want->sa_mask;
	ours->sa_flags = SA_SIGINFO | (want->sa_flags & (SA_ONSTACK | SA_NODEFER | SA_RESTART));
}

static bool in_guard(const siginfo_t *info)
{
	if (!guard_armed || info->si_code <= 0) /* sent by kill() & co: not our read's fault */
		return false;
	uintptr_t a = (uintptr_t)info->si_addr;
	for (int i = 0; i < 2; i++)
		if (a >= guard_lo[i] && a < guard_hi[i]) {
			guard_which = i;
			return true;
		}
	return false;
}

/* What the kernel would have done with the program's disposition. */
static void forward(int sig, siginfo_t *info, void *ctx)
{
	int i = fault_idx(sig);
	struct sigaction a = prog[i];
	if (a.sa_handler == SIG_IGN && info->si_code <= 0)
		return; /* an ignored signal from kill() */
	if (a.sa_handler == SIG_DFL || a.sa_handler == SIG_IGN) {
		/* The default action: put it in place and let it happen (a fault repeats when
		 * we return; a sent signal is sent again, blocked until we return). */
		struct sigaction dfl;
		memset(&dfl, 0, sizeof dfl);
		dfl.sa_handler = SIG_DFL;
		real_sigaction(sig, &dfl, NULL);
		__atomic_store_n(&installed[i], 0, __ATOMIC_RELAXED);
		if (info->si_code <= 0)
			(void)syscall(SYS_tgkill, getpid(), gettid(), sig);
		return;
	}
	if (a.sa_flags & SA_RESETHAND) {
		struct sigaction dfl, ours, now;
		memset(&dfl, 0, sizeof dfl);
		dfl.sa_handler = SIG_DFL;
		mirror(&dfl, &ours);
		if (real_sigaction(sig, &dfl, NULL) == 0 && real_sigaction(sig, &ours, &now) == 0)
			prog[i] = now;
	}
	if (a.sa_flags & SA_SIGINFO)
		a.sa_sigaction(sig, info, ctx);
	else
		a.sa_handler(sig);
}

/* After a guarded read faulted: back to asf_guarded's sigsetjmp, from ordinary code. */
__attribute__((noreturn, used)) void asf_guard_recover(void);
__attribute__((noreturn, used)) void asf_guard_recover(void)
{
	siglongjmp(guard_env, 1);
}

#if defined(__x86_64__)
/* The landing point a faulting guarded read returns to through sigreturn (which restores
 * the mask and an SS_AUTODISARM alternate stack). The read is abandoned: its stack frame,
 * red zone included, is no longer needed. */
__asm__(".text\n"
	".globl asf_guard_landing\n"
	".hidden asf_guard_landing\n"
	".type asf_guard_landing, @function\n"
	"asf_guard_landing:\n"
	"	andq $-16, %rsp\n"
	"	call asf_guard_recover\n"
	"	ud2\n"
	".size asf_guard_landing, .-asf_guard_landing\n");
void asf_guard_landing(void);
#endif

static void on_fault(int sig, siginfo_t *info, void *ctx)
{
	if (in_guard(info)) {
		guard_armed = 0;
#if defined(__x86_64__)
		((ucontext_t *)ctx)->uc_mcontext.gregs[REG_RIP] = (greg_t)(uintptr_t)asf_guard_landing;
		return;
#else
		guard_mask = ((ucontext_t *)ctx)->uc_sigmask;
		guard_stack = ((ucontext_t *)ctx)->uc_stack;
		siglongjmp(guard_env, 2);
#endif
	}
	int saved_errno = errno;
	forward(sig, info, ctx);
	errno = saved_errno;
}

void asf_signals_init(void)
{
	for (int sig = SIGSEGV; sig; sig = sig == SIGSEGV ? SIGBUS : 0) {
		struct sigaction cur, ours;
		if (real_sigaction(sig, NULL, &cur) != 0)
			return;
		prog[fault_idx(sig)] = cur;
		mirror(&cur, &ours);
		if (real_sigaction(sig, &ours, NULL) != 0)
			return;
		__atomic_store_n(&installed[fault_idx(sig)], 1, __ATOMIC_RELEASE);
	}
}

bool asf_guard_usable(void)
{
	if (!__atomic_load_n(&installed[0], __ATOMIC_ACQUIRE) ||
	    !__atomic_load_n(&installed[1], __ATOMIC_ACQUIRE))
		return false;
	uint64_t blocked = 0; /* the kernel's mask: 64 bits on every Linux ABI we build for */
	int saved_errno = errno;
	long r = syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &blocked, sizeof blocked);
	errno = saved_errno;
	return r == 0 && !(blocked & (1ull << (SIGSEGV - 1))) && !(blocked & (1ull << (SIGBUS - 1)));
}

/* What glibc hands back of a disposition (the fields it writes). */
static void read_back(const struct sigaction *from, struct sigaction *to)
{
	to->sa_handler = from->sa_handler;
	to->sa_mask = from->sa_mask;
	to->sa_flags = from->sa_flags;
#if defined(SA_RESTORER) || defined(__x86_64__)
	to->sa_restorer = from->sa_restorer;
#endif
}

int asf_sig_action(int sig, const struct sigaction *act, struct sigaction *oact)
{
	int i = fault_idx(sig);
	if (i < 0 || !__atomic_load_n(&installed[i], __ATOMIC_ACQUIRE))
		return real_sigaction(sig, act, oact);
	if (!asf_lock_soon(&prog_lock)) {
		errno = EAGAIN;
		return -1;
	}
	/* The kernel's truth first: a handler put in place behind our back is the program's
	 * disposition now, and our guard is gone for this signal. */
	struct sigaction k;
	if (real_sigaction(sig, NULL, &k) != 0 || k.sa_sigaction != on_fault) {
		__atomic_store_n(&installed[i], 0, __ATOMIC_RELEASE);
		asf_unlock(&prog_lock);
		return real_sigaction(sig, act, oact);
	}
	struct sigaction old = prog[i];
	if (act) {
		/* The kernel stores what the program asked for (and rejects what it rejects), we
		 * read its readback while putting our handler back in front of it. A fault in
		 * another thread in between reaches the program's handler directly, as it would
		 * without the library. */
		struct sigaction ours, now;
		mirror(act, &ours);
		if (real_sigaction(sig, act, NULL) != 0) {
			asf_unlock(&prog_lock);
			return -1;
		}
		if (real_sigaction(sig, &ours, &now) == 0)
			prog[i] = now;
		else
			__atomic_store_n(&installed[i], 0, __ATOMIC_RELEASE); /* theirs stays */
	}
	asf_unlock(&prog_lock);
	if (oact)
		read_back(&old, oact);
	return 0;
}

/* ---- the guard --------------------------------------------------------------------------- */

bool asf_is_guard_env(const void *env)
{
	return env == (const void *)guard_env;
}

int asf_guarded(int (*fn)(void *), void *arg, const void *a, size_t alen, const void *b,
		size_t blen)
{
	if (!__atomic_load_n(&installed[0], __ATOMIC_ACQUIRE) ||
	    !__atomic_load_n(&installed[1], __ATOMIC_ACQUIRE) || guard_armed)
		return -1;
	int how = sigsetjmp(guard_env, 0);
	if (how) {
#if !defined(__x86_64__)
		/* Jumped out of the handler: what sigreturn would have restored. */
		pthread_sigmask(SIG_SETMASK, &guard_mask, NULL);
		if (guard_stack.ss_flags & SS_AUTODISARM) {
			guard_stack.ss_flags &= SS_AUTODISARM | SS_DISABLE;
			(void)sigaltstack(&guard_stack, NULL);
		}
#endif
		return -1 - guard_which;
	}
	guard_lo[0] = (uintptr_t)a;
	guard_hi[0] = (uintptr_t)a + alen;
	guard_lo[1] = (uintptr_t)b;
	guard_hi[1] = (uintptr_t)b + blen;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	guard_armed = 1;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	int r = fn(arg);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	guard_armed = 0;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	return r;
}
