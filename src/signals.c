/* The fault guard and the record of the program's signal handlers (see signals.h). */
#define _GNU_SOURCE
#include <errno.h>
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

/* ---- the program's handlers ------------------------------------------------------------ */

/* Signals that only the program's own faults raise: their handlers cannot run between two
 * sendfile calls. */
#define SYNC_SIGNALS ((1ull << (SIGSEGV - 1)) | (1ull << (SIGBUS - 1)) | (1ull << (SIGILL - 1)) | \
		      (1ull << (SIGFPE - 1)) | (1ull << (SIGTRAP - 1)) | (1ull << (SIGSYS - 1)))
static uint64_t async_handlers; /* bit sig-1: the program's handler for sig is a function */

bool asf_async_handlers(void)
{
	return __atomic_load_n(&async_handlers, __ATOMIC_RELAXED) != 0;
}

static void note_handler(int sig, const struct sigaction *act)
{
	if (sig < 1 || sig > 64 || ((1ull << (sig - 1)) & SYNC_SIGNALS))
		return;
	uint64_t bit = 1ull << (sig - 1);
	if (act->sa_handler != SIG_DFL && act->sa_handler != SIG_IGN)
		__atomic_fetch_or(&async_handlers, bit, __ATOMIC_RELAXED);
	else
		__atomic_fetch_and(&async_handlers, ~bit, __ATOMIC_RELAXED);
}

static int real_sigaction(int sig, const struct sigaction *act, struct sigaction *oact)
{
	int (*fn)(int, const struct sigaction *, struct sigaction *) = ASF_REAL_FN(sigaction);
	if (!fn) {
		errno = ENOSYS;
		return -1;
	}
	return fn(sig, act, oact);
}

/* ---- SIGSEGV and SIGBUS: ours, the program's forwarded ---------------------------------- */

static int fault_idx(int sig)
{
	return sig == SIGSEGV ? 0 : sig == SIGBUS ? 1 : -1;
}

static int installed;             /* our handler is in place */
static struct sigaction prog[2];  /* what the program asked for (SIGSEGV, SIGBUS) */

static ASF_TLS sigjmp_buf guard_env;
static ASF_TLS int guard_armed;
static ASF_TLS uintptr_t guard_lo[2], guard_hi[2];
static ASF_TLS sigset_t guard_mask;
static ASF_TLS int guard_which; /* the range that faulted: 0 (a) or 1 (b) */

static void on_fault(int sig, siginfo_t *info, void *ctx);

/* The action the kernel gets for the program's `want`: our handler, with the program's mask
 * and the flags that change how the kernel delivers (the rest we emulate). */
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
		__atomic_store_n(&installed, 0, __ATOMIC_RELAXED);
		if (info->si_code <= 0)
			(void)syscall(SYS_tgkill, getpid(), gettid(), sig);
		return;
	}
	if (a.sa_flags & SA_RESETHAND) {
		struct sigaction dfl, ours;
		memset(&dfl, 0, sizeof dfl);
		dfl.sa_handler = SIG_DFL;
		prog[i] = dfl;
		mirror(&dfl, &ours);
		real_sigaction(sig, &ours, NULL);
	}
	if (a.sa_flags & SA_SIGINFO)
		a.sa_sigaction(sig, info, ctx);
	else
		a.sa_handler(sig);
}

static void on_fault(int sig, siginfo_t *info, void *ctx)
{
	if (in_guard(info)) {
		guard_armed = 0;
		guard_mask = ((ucontext_t *)ctx)->uc_sigmask;
		siglongjmp(guard_env, 1);
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
	}
	__atomic_store_n(&installed, 1, __ATOMIC_RELEASE);
}

int asf_sig_action(int sig, const struct sigaction *act, struct sigaction *oact)
{
	int i = fault_idx(sig);
	if (i < 0 || !__atomic_load_n(&installed, __ATOMIC_ACQUIRE)) {
		int r = real_sigaction(sig, act, oact);
		if (r == 0 && act)
			note_handler(sig, act);
		return r;
	}
	struct sigaction old = prog[i];
	if (act) {
		struct sigaction ours;
		mirror(act, &ours);
		if (real_sigaction(sig, &ours, NULL) != 0)
			return -1;
		prog[i] = *act;
	}
	if (oact)
		*oact = old;
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
	if (!__atomic_load_n(&installed, __ATOMIC_ACQUIRE) || guard_armed)
		return -1;
	if (sigsetjmp(guard_env, 0)) {
		/* A fault: the handler left with the mask of the delivery; restore the one the
		 * read ran under. */
		pthread_sigmask(SIG_SETMASK, &guard_mask, NULL);
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

bool asf_guarded_copy(void *dst, const void *src, size_t n)
{
	struct copy_args c = { dst, src, n };
	return asf_guarded(do_copy, &c, src, n, src, 0) == 1;
}
