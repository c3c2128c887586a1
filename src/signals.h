/* Signals the library must know about.
 *
 * Fault guard: the library compares a program's buffer with a file view (views.h) before it
 * sends. Either side may be unreadable at that moment (the program unmapped or protected its
 * buffer after the read: its own write would fail with EFAULT; the file was truncated under
 * the view: SIGBUS). asf_guarded runs such a read so that a fault ends it with -1 instead of
 * killing the process. For that the library keeps its own SIGSEGV/SIGBUS handler installed
 * and hands every other fault to the program's handler exactly as the kernel would have
 * (the sigaction family is wrapped: the program sees and sets its own handlers; the mask and
 * flags it asks for are the ones the kernel applies).
 *
 * Asynchronous handlers: while no handler is installed for an asynchronous signal, no
 * program code can run between two sendfile calls of one write, so a write may be sent in
 * several chunks. Once one is (a handler that may write to the same socket, or jump out),
 * a write goes out in a single sendfile call, whose interruption the kernel reports exactly
 * as it would for write(): a partial count at a point the program sees. */
#ifndef ASF_SIGNALS_H
#define ASF_SIGNALS_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

/* Installs the fault handler (the library's constructor; only when enabled). */
void asf_signals_init(void);
/* Runs fn(arg), which may only read [a, a+alen) and [b, b+blen) besides its own stack;
 * returns its result (>= 0), or -1 if a read of the first range faulted, -2 the second.
 * Without the handler installed it returns -1 without running fn. */
int asf_guarded(int (*fn)(void *), void *arg, const void *a, size_t alen, const void *b,
		size_t blen);
/* memcpy of n bytes (a few) from memory that may fault; false if it did. */
bool asf_guarded_copy(void *dst, const void *src, size_t n);
/* Is env this thread's guard (the siglongjmp wrappers let it through untouched)? */
bool asf_is_guard_env(const void *env);

/* True once the program has installed a handler for an asynchronous signal. */
bool asf_async_handlers(void);

/* The sigaction family (wrap_signal.c): sets/reads the program's disposition of sig. */
int asf_sig_action(int sig, const struct sigaction *act, struct sigaction *oact);

#endif
