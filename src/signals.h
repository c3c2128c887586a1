/* SIGSEGV and SIGBUS: the fault guard, and the program's handlers behind it.
 *
 * The library reads the program's buffer to prove it holds a file's bytes (proof.h). The
 * buffer may be unreadable by then (unmapped or protected after its read, or a mapping of
 * a file that was truncated): the program's own write would fail with EFAULT. asf_guarded
 * runs such a read so that a fault ends it with an error instead of killing the process.
 * For that the library keeps its own SIGSEGV/SIGBUS handler installed and hands every other
 * fault to the program's handler exactly as the kernel would have. The sigaction family is
 * wrapped (wrap_signal.c): the program sets and reads back its own disposition, in the very
 * form the kernel would report it (it is the kernel's own readback of what the program
 * asked for), and a handler put in place behind the library's back (a raw system call, a
 * library bound to libc directly) is what the program reads back, and ends the guard.
 *
 * A guarded read leaves the handler through a normal signal return to a landing point
 * (x86-64), so the kernel restores the signal mask and an SS_AUTODISARM alternate stack as
 * it does for any handler; elsewhere it jumps out and restores both itself.
 *
 * The guard cannot help a thread that blocks SIGSEGV or SIGBUS (a fault then kills the
 * process whatever the handler): asf_guard_usable says so, and such threads read the
 * program's memory through the kernel instead (proof.c). */
#ifndef ASF_SIGNALS_H
#define ASF_SIGNALS_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

/* Installs the fault handler (the library's constructor; only when enabled). */
void asf_signals_init(void);
/* Can this thread read program memory under the guard right now: the handler is in place
 * for both signals and neither is blocked in this thread (one system call: the mask). */
bool asf_guard_usable(void);
/* Runs fn(arg), which may only read [a, a+alen) and [b, b+blen) besides its own stack;
 * returns its result (>= 0), or -1 if a read of the first range faulted, -2 the second.
 * Without the handler in place it returns -1 without running fn. Call it only where
 * asf_guard_usable said yes in this activation. */
int asf_guarded(int (*fn)(void *), void *arg, const void *a, size_t alen, const void *b,
		size_t blen);
/* Is env this thread's guard (the siglongjmp wrappers let it through untouched)? */
bool asf_is_guard_env(const void *env);

/* The sigaction family (wrap_signal.c): sets/reads the program's disposition of sig. */
int asf_sig_action(int sig, const struct sigaction *act, struct sigaction *oact);
/* Is sig one whose disposition the library keeps behind its own handler? */
static inline bool asf_sig_is_fault(int sig)
{
	return sig == SIGSEGV || sig == SIGBUS;
}

#endif
