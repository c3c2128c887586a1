/* The sigaction family: the program's SIGSEGV/SIGBUS handlers are kept behind the library's
 * fault handler, and handlers for asynchronous signals are noted (signals.h). signal(),
 * sysv_signal() and sigset() are built on sigaction as glibc builds them, since glibc's own
 * versions call its internal __sigaction, which no preload sees. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "config.h"
#include "export.h"
#include "real.h"
#include "signals.h"

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
	if (!__atomic_load_n(&asf_cfg.enabled, __ATOMIC_RELAXED))
		return early_sigaction(sig, act, oact);
	return asf_sig_action(sig, act, oact);
}

ASF_EARLY_SAFE ASF_EXPORT int __sigaction(int sig, const struct sigaction *act,
					  struct sigaction *oact)
{
	if (!__atomic_load_n(&asf_cfg.enabled, __ATOMIC_RELAXED))
		return early_sigaction(sig, act, oact);
	return asf_sig_action(sig, act, oact);
}

static sighandler_t set_handler(int sig, sighandler_t h, int flags, bool block_self)
{
	struct sigaction act, old;
	memset(&act, 0, sizeof act);
	act.sa_handler = h;
	sigemptyset(&act.sa_mask);
	if (block_self && sig > 0 && sig < NSIG && sigaddset(&act.sa_mask, sig) != 0)
		return SIG_ERR;
	act.sa_flags = flags;
	if (h == SIG_ERR || asf_sig_action(sig, &act, &old) != 0) {
		if (h == SIG_ERR)
			errno = EINVAL;
		return SIG_ERR;
	}
	return old.sa_handler;
}

/* BSD semantics, as glibc's signal(): the signal blocked in its handler, calls restarted. */
ASF_EXPORT sighandler_t signal(int sig, sighandler_t h)
{
	return set_handler(sig, h, SA_RESTART, true);
}

ASF_EXPORT sighandler_t bsd_signal(int sig, sighandler_t h)
{
	return set_handler(sig, h, SA_RESTART, true);
}

ASF_EXPORT sighandler_t ssignal(int sig, sighandler_t h)
{
	return set_handler(sig, h, SA_RESTART, true);
}

/* System V semantics: one-shot, not blocked in its handler. */
ASF_EXPORT sighandler_t sysv_signal(int sig, sighandler_t h)
{
	return set_handler(sig, h, SA_RESETHAND | SA_NODEFER, false);
}

ASF_EXPORT sighandler_t __sysv_signal(int sig, sighandler_t h)
{
	return set_handler(sig, h, SA_RESETHAND | SA_NODEFER, false);
}

/* sigset(): the handler with the signal unblocked, or SIG_HOLD to block it. */
ASF_EXPORT sighandler_t sigset(int sig, sighandler_t h)
{
	sigset_t set, old;
	sigemptyset(&set);
	if (sig <= 0 || sig >= NSIG || sigaddset(&set, sig) != 0) {
		errno = EINVAL;
		return SIG_ERR;
	}
	if (pthread_sigmask(SIG_BLOCK, NULL, &old) != 0)
		return SIG_ERR;
	bool was_held = sigismember(&old, sig);
	if (h == SIG_HOLD) {
		struct sigaction cur;
		if (asf_sig_action(sig, NULL, &cur) != 0 || pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
			return SIG_ERR;
		return was_held ? SIG_HOLD : cur.sa_handler;
	}
	sighandler_t prev = set_handler(sig, h, 0, true);
	if (prev == SIG_ERR || pthread_sigmask(SIG_UNBLOCK, &set, NULL) != 0)
		return SIG_ERR;
	return was_held ? SIG_HOLD : prev;
}
