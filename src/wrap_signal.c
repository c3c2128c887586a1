/* The sigaction family. Only SIGSEGV and SIGBUS are the library's business: their handlers
 * stay behind its fault guard (signals.h). Every other signal goes to glibc untouched, so
 * signal() keeps glibc's siginterrupt() state, and a handler's flags are the program's own.
 * For SIGSEGV and SIGBUS, signal(), sysv_signal(), sigset() and siginterrupt() are built on
 * the library's sigaction as glibc builds them on its internal one (which no preload sees). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "config.h"
#include "export.h"
#include "real.h"
#include "signals.h"

/* The library acts on sig: enabled, and SIGSEGV or SIGBUS. (Early safe: a sanitizer runtime
 * installs its handlers through sigaction before it can run instrumented code.) */
ASF_EARLY_SAFE static inline __attribute__((always_inline)) bool ours(int sig)
{
	return asf_sig_is_fault(sig) && __atomic_load_n(&asf_cfg.enabled, __ATOMIC_RELAXED);
}

/* Before the library is enabled: libc's, found without instrumented code. */
ASF_EARLY_SAFE static int early_sigaction(int sig, const struct sigaction *act,
					  struct sigaction *oact)
{
	int (*fn)(int, const struct sigaction *, struct sigaction *) = ASF_BOUND(sigaction);
	if (!fn)
		fn = (int (*)(int, const struct sigaction *, struct sigaction *))dlsym(RTLD_NEXT,
										      "sigaction");
	if (!fn) {
		errno = ENOSYS;
		return -1;
	}
	return fn(sig, act, oact);
}

ASF_EARLY_SAFE ASF_EXPORT int sigaction(int sig, const struct sigaction *act,
					struct sigaction *oact)
{
	if (!ours(sig))
		return early_sigaction(sig, act, oact);
	return asf_sig_action(sig, act, oact);
}

ASF_EARLY_SAFE ASF_EXPORT int __sigaction(int sig, const struct sigaction *act,
					  struct sigaction *oact)
{
	if (!ours(sig))
		return early_sigaction(sig, act, oact);
	return asf_sig_action(sig, act, oact);
}

/* siginterrupt() state of SIGSEGV and SIGBUS (glibc keeps it for the others). */
static int interrupts; /* bit sig: siginterrupt(sig, 1) */

static sighandler_t set_handler(int sig, sighandler_t h, int flags, bool block_self)
{
	struct sigaction act, old;
	memset(&act, 0, sizeof act);
	act.sa_handler = h;
	sigemptyset(&act.sa_mask);
	if (block_self)
		sigaddset(&act.sa_mask, sig);
	act.sa_flags = flags;
	if (h == SIG_ERR) {
		errno = EINVAL;
		return SIG_ERR;
	}
	if (asf_sig_action(sig, &act, &old) != 0)
		return SIG_ERR;
	return old.sa_handler;
}

/* BSD semantics, as glibc's signal(): the signal blocked in its handler, calls restarted
 * unless siginterrupt() said otherwise. */
static sighandler_t bsd_set(int sig, sighandler_t h)
{
	int restart = __atomic_load_n(&interrupts, __ATOMIC_RELAXED) & (1 << sig) ? 0 : SA_RESTART;
	return set_handler(sig, h, restart, true);
}

/* The real one by name, or ENOSYS. */
#define REAL_OR_ENOSYS(field, ...)                                                         \
	do {                                                                               \
		if (!ASF_REAL_FN(field)) {                                                 \
			errno = ENOSYS;                                                    \
			return SIG_ERR;                                                    \
		}                                                                          \
		return asf_real.field(__VA_ARGS__);                                        \
	} while (0)

ASF_EXPORT sighandler_t signal(int sig, sighandler_t h)
{
	if (ours(sig))
		return bsd_set(sig, h);
	REAL_OR_ENOSYS(signal, sig, h);
}

ASF_EXPORT sighandler_t bsd_signal(int sig, sighandler_t h)
{
	if (ours(sig))
		return bsd_set(sig, h);
	REAL_OR_ENOSYS(bsd_signal, sig, h);
}

ASF_EXPORT sighandler_t ssignal(int sig, sighandler_t h)
{
	if (ours(sig))
		return bsd_set(sig, h);
	REAL_OR_ENOSYS(ssignal, sig, h);
}

/* System V semantics, as glibc's: one-shot, not blocked in its handler, not restarted. */
static sighandler_t sysv_set(int sig, sighandler_t h)
{
	return set_handler(sig, h, (int)(SA_RESETHAND | SA_NODEFER | 0x20000000 /* SA_INTERRUPT */),
			   false);
}

ASF_EXPORT sighandler_t sysv_signal(int sig, sighandler_t h)
{
	if (ours(sig))
		return sysv_set(sig, h);
	REAL_OR_ENOSYS(sysv_signal, sig, h);
}

ASF_EXPORT sighandler_t __sysv_signal(int sig, sighandler_t h)
{
	if (ours(sig))
		return sysv_set(sig, h);
	REAL_OR_ENOSYS(sysv_signal, sig, h);
}

/* sigset(): the handler with the signal unblocked, or SIG_HOLD to block it. */
ASF_EXPORT sighandler_t sigset(int sig, sighandler_t h)
{
	if (!ours(sig))
		REAL_OR_ENOSYS(sigset, sig, h);
	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, sig);
	if (pthread_sigmask(SIG_BLOCK, NULL, &old) != 0)
		return SIG_ERR;
	bool was_held = sigismember(&old, sig);
	if (h == SIG_HOLD) {
		struct sigaction cur;
		if (asf_sig_action(sig, NULL, &cur) != 0 || pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
			return SIG_ERR;
		return was_held ? SIG_HOLD : cur.sa_handler;
	}
	sighandler_t prev = set_handler(sig, h, 0, false);
	if (prev == SIG_ERR || pthread_sigmask(SIG_UNBLOCK, &set, NULL) != 0)
		return SIG_ERR;
	return was_held ? SIG_HOLD : prev;
}

/* siginterrupt(): SA_RESTART off (flag 1) or on, remembered for signal(). */
ASF_EXPORT int siginterrupt(int sig, int flag)
{
	if (!ours(sig)) {
		if (!ASF_REAL_FN(siginterrupt)) {
			errno = ENOSYS;
			return -1;
		}
		return asf_real.siginterrupt(sig, flag);
	}
	struct sigaction act;
	if (asf_sig_action(sig, NULL, &act) != 0)
		return -1;
	if (flag) {
		__atomic_fetch_or(&interrupts, 1 << sig, __ATOMIC_RELAXED);
		act.sa_flags &= ~SA_RESTART;
	} else {
		__atomic_fetch_and(&interrupts, ~(1 << sig), __ATOMIC_RELAXED);
		act.sa_flags |= SA_RESTART;
	}
	return asf_sig_action(sig, &act, NULL);
}
