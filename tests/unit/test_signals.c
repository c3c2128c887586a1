/* Unit tests: the fault guard and the program's signal dispositions (signals.c).
 *
 * asf_guarded must turn a fault in its first/second range into -1/-2 and otherwise return
 * what the function returned; the library's SIGSEGV/SIGBUS handler must hand every other
 * fault to the program exactly as the kernel would (its handler, SA_SIGINFO, SA_RESETHAND,
 * the default action killing the process, SIG_IGN for a sent signal); the program reads
 * back what it set. Behaviour that ends a process runs in a forked child.
 *
 * The unit tests link the internals without the wrappers, so the program's sigaction is
 * asf_sig_action here, and plain sigaction() is the kernel's disposition. cmocka installs
 * its own SIGSEGV/SIGBUS handlers around every test (restoring the old ones with signal()),
 * so the guard is installed in each test body, with cmocka's handler as "the program's". */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "real.h"
#include "signals.h"

static long pagesz;

static void arm(void)
{
	asf_signals_init();
}

/* In a child: the program starts with default dispositions, then the library's init. */
static void child_arm(void)
{
	struct sigaction dfl;
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	sigaction(SIGSEGV, &dfl, NULL);
	sigaction(SIGBUS, &dfl, NULL);
	asf_signals_init();
}

/* Two pages: the first readable, the second not. */
static unsigned char *half_protected(void)
{
	unsigned char *p = mmap(NULL, 2 * (size_t)pagesz, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(p != MAP_FAILED);
	memset(p, 'x', 2 * (size_t)pagesz);
	assert_int_equal(mprotect(p + pagesz, (size_t)pagesz, PROT_NONE), 0);
	return p;
}

/* A mapping of a file that was truncated to 0 after: reading it raises SIGBUS. */
static const unsigned char *truncated_mapping(void)
{
	const char *dir = getenv("TMPDIR");
	char path[4096];
	snprintf(path, sizeof path, "%s/asf-signals-XXXXXX", dir && *dir ? dir : "/tmp");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(ftruncate(fd, pagesz), 0);
	void *m = mmap(NULL, (size_t)pagesz, PROT_READ, MAP_SHARED, fd, 0);
	assert_true(m != MAP_FAILED);
	assert_int_equal(ftruncate(fd, 0), 0);
	close(fd);
	return m;
}

struct reader {
	const volatile unsigned char *p[2];
	size_t n[2];
	int ret;
	int ran;
};

/* Reads both ranges byte by byte, returns ret. */
static int read_both(void *arg)
{
	struct reader *r = arg;
	unsigned sum = 0;
	r->ran++;
	for (int k = 0; k < 2; k++)
		for (size_t i = 0; i < r->n[k]; i++)
			sum += r->p[k][i];
	__asm__ volatile("" ::"r"(sum));
	return r->ret;
}

static int guard(struct reader *r)
{
	return asf_guarded(read_both, r, (const void *)r->p[0], r->n[0], (const void *)r->p[1],
			   r->n[1]);
}

/* Must run first: before asf_signals_init nothing is guarded, so nothing is run. */
static void unguarded_before_init(void **state)
{
	(void)state;
	unsigned char a[10] = { 0 };
	struct reader r = { { a, a }, { 10, 10 }, 5, 0 };
	assert_int_equal(guard(&r), -1);
	assert_int_equal(r.ran, 0);
}

static void guarded_results(void **state)
{
	(void)state;
	arm();
	unsigned char *p = half_protected(), *q = half_protected();
	unsigned char *bad1 = p + pagesz, *bad2 = q + pagesz;
	/* Readable: the function's own result. */
	for (int ret = 0; ret < 3; ret++) {
		struct reader r = { { p, q }, { (size_t)pagesz, (size_t)pagesz }, ret * 7, 0 };
		assert_int_equal(guard(&r), ret * 7);
		assert_int_equal(r.ran, 1);
	}
	/* A fault in the first range, at its start or after readable bytes. */
	struct reader r1 = { { bad1, q }, { 10, 10 }, 5, 0 };
	assert_int_equal(guard(&r1), -1);
	struct reader r2 = { { p + pagesz - 3, q }, { 10, 10 }, 5, 0 };
	assert_int_equal(guard(&r2), -1);
	/* ... in the second. */
	struct reader r3 = { { p, bad2 }, { 10, 10 }, 5, 0 };
	assert_int_equal(guard(&r3), -2);
	struct reader r4 = { { p, q + 100 }, { 10, (size_t)pagesz }, 5, 0 };
	assert_int_equal(guard(&r4), -2);
	/* SIGBUS (a file truncated under its mapping), either range. */
	const unsigned char *gone = truncated_mapping();
	struct reader r5 = { { gone, p }, { 10, 10 }, 5, 0 };
	assert_int_equal(guard(&r5), -1);
	struct reader r6 = { { p, gone }, { 10, 10 }, 5, 0 };
	assert_int_equal(guard(&r6), -2);
	/* Many times over: the guard re-arms, the stack and the mask do not drift. */
	sigset_t blocked, now;
	sigemptyset(&blocked);
	sigaddset(&blocked, SIGUSR2);
	assert_int_equal(pthread_sigmask(SIG_BLOCK, &blocked, NULL), 0);
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(guard(i % 2 ? &r1 : &r3), i % 2 ? -1 : -2);
		struct reader ok = { { p, q }, { 10, 10 }, 9, 0 };
		assert_int_equal(guard(&ok), 9);
	}
	assert_int_equal(pthread_sigmask(SIG_SETMASK, NULL, &now), 0);
	assert_true(sigismember(&now, SIGUSR2));
	assert_false(sigismember(&now, SIGSEGV));
	assert_false(sigismember(&now, SIGBUS));
	assert_int_equal(pthread_sigmask(SIG_UNBLOCK, &blocked, NULL), 0);
	munmap(p, 2 * (size_t)pagesz);
	munmap(q, 2 * (size_t)pagesz);
	munmap((void *)gone, (size_t)pagesz);
}

/* A guarded call inside a guarded call is refused (the guard is per thread, one deep). */
static int nested(void *arg)
{
	struct reader *r = arg;
	return guard(r) == -1 && r->ran == 0 ? 77 : 0;
}

static void guard_not_reentrant(void **state)
{
	(void)state;
	arm();
	unsigned char a[4] = { 0 };
	struct reader inner = { { a, a }, { 4, 4 }, 5, 0 };
	assert_int_equal(asf_guarded(nested, &inner, a, 4, a, 4), 77);
}

/* ---- children ---- */

static int marker_fd = -1;

static void mark(char c)
{
	if (write(marker_fd, &c, 1) != 1)
		_exit(99);
}

/* Runs fn in a child; its wait status, and what it wrote with mark() into out. */
static int in_child(void (*fn)(void), char *out, size_t outlen)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		marker_fd = p[1];
		fn();
		_exit(0);
	}
	close(p[1]);
	size_t got = 0;
	ssize_t k;
	while (got + 1 < outlen && (k = read(p[0], out + got, outlen - 1 - got)) > 0)
		got += (size_t)k;
	out[got] = 0;
	close(p[0]);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return st;
}

static volatile unsigned char *fault_page; /* PROT_NONE in the child */

static void touch_fault_page(void)
{
	(void)fault_page[0];
}

static void new_fault_page(void)
{
	void *m = mmap(NULL, (size_t)pagesz, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		_exit(98);
	fault_page = m;
}

static void on_segv_plain(int sig)
{
	mark(sig == SIGSEGV ? 'H' : '?');
	_exit(42);
}

static void child_plain_handler(void)
{
	child_arm();
	new_fault_page();
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_segv_plain;
	if (asf_sig_action(SIGSEGV, &sa, NULL) != 0)
		_exit(97);
	mark('s');
	touch_fault_page();
	mark('X'); /* not reached */
}

static void on_segv_info(int sig, siginfo_t *info, void *ctx)
{
	(void)ctx;
	mark(sig == SIGSEGV && info->si_signo == SIGSEGV && info->si_code > 0 &&
			     info->si_addr == (void *)fault_page
		     ? 'I'
		     : '?');
	_exit(43);
}

static void child_siginfo_handler(void)
{
	child_arm();
	new_fault_page();
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_segv_info;
	sa.sa_flags = SA_SIGINFO;
	if (asf_sig_action(SIGSEGV, &sa, NULL) != 0)
		_exit(97);
	touch_fault_page();
}

/* A fault while a guard is armed, outside both its ranges: the program's. */
static int read_fault_page(void *arg)
{
	(void)arg;
	touch_fault_page();
	return 1;
}

static void child_fault_outside_ranges(void)
{
	child_arm();
	new_fault_page();
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_segv_info;
	sa.sa_flags = SA_SIGINFO;
	asf_sig_action(SIGSEGV, &sa, NULL);
	unsigned char a[8] = { 0 };
	mark('g');
	asf_guarded(read_fault_page, NULL, a, sizeof a, a, sizeof a);
	mark('X');
}

static void on_bus(int sig)
{
	mark(sig == SIGBUS ? 'B' : '?');
	_exit(44);
}

static void child_sigbus_handler(void)
{
	child_arm();
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_bus;
	asf_sig_action(SIGBUS, &sa, NULL);
	const volatile unsigned char *gone = truncated_mapping();
	(void)gone[0];
}

static void program_handler_gets_faults(void **state)
{
	(void)state;
	char out[16];
	int st = in_child(child_plain_handler, out, sizeof out);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 42);
	assert_string_equal(out, "sH");

	st = in_child(child_siginfo_handler, out, sizeof out);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 43);
	assert_string_equal(out, "I");

	st = in_child(child_fault_outside_ranges, out, sizeof out);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 43);
	assert_string_equal(out, "gI");

	st = in_child(child_sigbus_handler, out, sizeof out);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 44);
	assert_string_equal(out, "B");
}

static void dummy_handler(int sig)
{
	(void)sig;
}

static void dummy_handler2(int sig)
{
	(void)sig;
}

static void program_reads_back_its_disposition(void **state)
{
	(void)state;
	struct sigaction before, old, kern;
	assert_int_equal(sigaction(SIGSEGV, NULL, &before), 0); /* cmocka's, here */
	arm();
	/* Before the program sets anything: what was there when the library came. */
	assert_int_equal(asf_sig_action(SIGSEGV, NULL, &old), 0);
	assert_ptr_equal(old.sa_handler, before.sa_handler);
	/* The kernel runs the library's handler. */
	assert_int_equal(sigaction(SIGSEGV, NULL, &kern), 0);
	assert_true(kern.sa_flags & SA_SIGINFO);
	assert_ptr_not_equal(kern.sa_handler, before.sa_handler);
	void (*ours)(int, siginfo_t *, void *) = kern.sa_sigaction;

	struct sigaction sa, got, prev;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = dummy_handler;
	sa.sa_flags = SA_RESTART | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGUSR2);
	assert_int_equal(asf_sig_action(SIGSEGV, &sa, &prev), 0);
	assert_ptr_equal(prev.sa_handler, before.sa_handler);
	assert_int_equal(asf_sig_action(SIGSEGV, NULL, &got), 0);
	assert_ptr_equal(got.sa_handler, dummy_handler);
	assert_int_equal(got.sa_flags & (SA_RESTART | SA_NODEFER | SA_SIGINFO),
			 SA_RESTART | SA_NODEFER);
	assert_true(sigismember(&got.sa_mask, SIGUSR2));
	/* ... while the kernel still runs ours, with the program's mask and delivery flags. */
	assert_int_equal(sigaction(SIGSEGV, NULL, &kern), 0);
	assert_ptr_equal(kern.sa_sigaction, ours);
	assert_true(kern.sa_flags & SA_SIGINFO);
	assert_true(kern.sa_flags & SA_NODEFER);
	assert_true(kern.sa_flags & SA_RESTART);
	assert_true(sigismember(&kern.sa_mask, SIGUSR2));
	/* Setting returns the previous one. */
	sa.sa_handler = dummy_handler2;
	sa.sa_flags = 0;
	assert_int_equal(asf_sig_action(SIGSEGV, &sa, &prev), 0);
	assert_ptr_equal(prev.sa_handler, dummy_handler);
	assert_int_equal(asf_sig_action(SIGBUS, NULL, &got), 0);
	assert_ptr_not_equal(got.sa_handler, dummy_handler2); /* SIGBUS is its own */
	/* Other signals go straight to the kernel. */
	sa.sa_handler = SIG_IGN;
	assert_int_equal(asf_sig_action(SIGUSR2, &sa, &prev), 0);
	assert_int_equal(sigaction(SIGUSR2, NULL, &kern), 0);
	assert_ptr_equal(kern.sa_handler, SIG_IGN);
	sa.sa_handler = SIG_DFL;
	assert_int_equal(asf_sig_action(SIGUSR2, &sa, NULL), 0);
	/* Back to what it was. */
	assert_int_equal(asf_sig_action(SIGSEGV, &before, NULL), 0);
	/* Bad signal numbers fail as the kernel's would. */
	errno = 0;
	assert_int_equal(asf_sig_action(0, &sa, NULL), -1);
	assert_int_equal(errno, EINVAL);
}

static volatile int reset_count;

static void on_segv_reset(int sig)
{
	(void)sig;
	reset_count++;
	mark('1');
	/* make the faulting access work when it is retried */
	mprotect((void *)fault_page, (size_t)pagesz, PROT_READ);
}

static void child_resethand(void)
{
	child_arm();
	new_fault_page();
	struct sigaction sa, q;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_segv_reset;
	sa.sa_flags = SA_RESETHAND;
	asf_sig_action(SIGSEGV, &sa, NULL);
	touch_fault_page();
	if (reset_count != 1)
		_exit(20);
	/* the handler was reset to the default, as the kernel would have */
	if (asf_sig_action(SIGSEGV, NULL, &q) != 0 || q.sa_handler != SIG_DFL)
		_exit(21);
	mark('D');
	mprotect((void *)fault_page, (size_t)pagesz, PROT_NONE);
	touch_fault_page(); /* now the default action: killed */
	mark('X');
}

static void resethand_emulated(void **state)
{
	(void)state;
	char out[16];
	int st = in_child(child_resethand, out, sizeof out);
	if (WIFEXITED(st))
		fail_msg("child exited with %d, output \"%s\"", WEXITSTATUS(st), out);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSEGV);
	assert_string_equal(out, "1D");
}

static void child_default_segv(void)
{
	child_arm();
	new_fault_page();
	mark('f');
	touch_fault_page();
	mark('X');
}

static void child_default_bus(void)
{
	child_arm();
	const volatile unsigned char *gone = truncated_mapping();
	mark('f');
	(void)gone[0];
	mark('X');
}

/* The program's SIGSEGV disposition, set through the library's sigaction (no flags). */
static void program_segv(void (*handler)(int))
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = handler;
	asf_sig_action(SIGSEGV, &sa, NULL);
}

/* SIG_IGN does not stop a real fault: the kernel kills anyway. */
static void child_ignored_fault(void)
{
	child_arm();
	new_fault_page();
	program_segv(SIG_IGN);
	mark('f');
	touch_fault_page();
	mark('X');
}

/* ... but a SIGSEGV sent with kill() is ignored. */
static void child_ignored_kill(void)
{
	child_arm();
	program_segv(SIG_IGN);
	kill(getpid(), SIGSEGV);
	mark('k');
}

/* A sent SIGSEGV with the default action kills. */
static void child_default_kill(void)
{
	child_arm();
	mark('f');
	kill(getpid(), SIGSEGV);
	mark('X');
}

/* A sent SIGSEGV reaches the program's handler. */
static void child_handler_kill(void)
{
	child_arm();
	program_segv(on_segv_plain);
	kill(getpid(), SIGSEGV);
	mark('X');
}

static void default_action_kills(void **state)
{
	(void)state;
	/* each child: killed by `sig`, or (sig 0) exited with `code`; what it marked */
	static const struct {
		void (*child)(void);
		int sig, code;
		const char *out;
	} cases[] = {
		{ child_default_segv, SIGSEGV, 0, "f" },  { child_default_bus, SIGBUS, 0, "f" },
		{ child_ignored_fault, SIGSEGV, 0, "f" }, { child_ignored_kill, 0, 0, "k" },
		{ child_default_kill, SIGSEGV, 0, "f" },  { child_handler_kill, 0, 42, "H" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char out[16];
		int st = in_child(cases[i].child, out, sizeof out);
		if (cases[i].sig) {
			assert_true(WIFSIGNALED(st));
			assert_int_equal(WTERMSIG(st), cases[i].sig);
		} else {
			assert_true(WIFEXITED(st));
			assert_int_equal(WEXITSTATUS(st), cases[i].code);
		}
		assert_string_equal(out, cases[i].out);
	}
}

/* What the program reads back is what the kernel reports for what it set: glibc's
 * restorer, SIGKILL and SIGSTOP out of the mask, unknown flag bits cleared (the
 * SA_UNSUPPORTED probe). The kernel's own readback of the same action on SIGUSR2 is the
 * reference. */
#ifndef SA_UNSUPPORTED
#define SA_UNSUPPORTED 0x00000400
#endif
static void readback_is_the_kernels(void **state)
{
	(void)state;
	arm();
	struct sigaction sa, ref, got, saved_usr2, saved_segv;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = dummy_handler;
	sa.sa_flags = SA_RESTART | SA_UNSUPPORTED;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGKILL);
	sigaddset(&sa.sa_mask, SIGSTOP);
	sigaddset(&sa.sa_mask, SIGUSR1);
	assert_int_equal(sigaction(SIGUSR2, &sa, &saved_usr2), 0);
	memset(&ref, 0x5a, sizeof ref);
	assert_int_equal(sigaction(SIGUSR2, NULL, &ref), 0);
	assert_int_equal(sigaction(SIGUSR2, &saved_usr2, NULL), 0);
	assert_int_equal(asf_sig_action(SIGSEGV, &sa, &saved_segv), 0);
	memset(&got, 0x5a, sizeof got);
	assert_int_equal(asf_sig_action(SIGSEGV, NULL, &got), 0);
	assert_int_equal(asf_sig_action(SIGSEGV, &saved_segv, NULL), 0);
	assert_ptr_equal(got.sa_handler, ref.sa_handler);
	assert_int_equal(got.sa_flags, ref.sa_flags);
	assert_false(got.sa_flags & SA_UNSUPPORTED);
	assert_ptr_equal((void *)got.sa_restorer, (void *)ref.sa_restorer);
	/* (the kernel's mask is 64 bits; glibc copies the rest of its own from its stack) */
	assert_memory_equal(&got.sa_mask, &ref.sa_mask, sizeof(uint64_t));
	assert_false(sigismember(&got.sa_mask, SIGKILL));
	assert_true(sigismember(&got.sa_mask, SIGUSR1));
}

/* A handler put in place behind the library's back (a raw system call, a library bound to
 * libc directly) is what the program reads back, and the guard knows it is gone. */
static void handler_replaced_behind_back(void **state)
{
	(void)state;
	arm();
	assert_true(asf_guard_usable());
	struct sigaction sa, got, before;
	assert_int_equal(sigaction(SIGSEGV, NULL, &before), 0);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = dummy_handler2;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGSEGV, &sa, NULL), 0); /* the kernel's, not ours */
	assert_int_equal(asf_sig_action(SIGSEGV, NULL, &got), 0);
	assert_ptr_equal(got.sa_handler, dummy_handler2);
	assert_false(asf_guard_usable());
	assert_int_equal(sigaction(SIGSEGV, &before, NULL), 0);
}

/* A thread that blocks SIGSEGV or SIGBUS cannot be guarded: a fault would kill. */
static void guard_unusable_when_blocked(void **state)
{
	(void)state;
	arm();
	assert_true(asf_guard_usable());
	sigset_t set, old;
	for (int sig = SIGSEGV; sig; sig = sig == SIGSEGV ? SIGBUS : 0) {
		sigemptyset(&set);
		sigaddset(&set, sig);
		assert_int_equal(pthread_sigmask(SIG_BLOCK, &set, &old), 0);
		assert_false(asf_guard_usable());
		assert_int_equal(pthread_sigmask(SIG_SETMASK, &old, NULL), 0);
		assert_true(asf_guard_usable());
	}
}

/* A guarded fault delivered on an SS_AUTODISARM alternate stack: the stack is armed again
 * afterwards (the kernel disarms it for the handler and re-arms it at sigreturn; a handler
 * left by siglongjmp never re-arms it, and the program's later stack overflow would kill). */
#ifndef SS_AUTODISARM
#define SS_AUTODISARM (1U << 31)
#endif
static void autodisarm_stack_rearmed(void **state)
{
	(void)state;
	arm();
	static char altmem[64 * 1024];
	stack_t ss = { .ss_sp = altmem, .ss_size = sizeof altmem, .ss_flags = SS_AUTODISARM }, old,
		now;
	assert_int_equal(sigaltstack(&ss, &old), 0);
	struct sigaction sa, saved;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = dummy_handler;
	sa.sa_flags = SA_ONSTACK; /* the program's: the kernel delivers on the alternate stack */
	sigemptyset(&sa.sa_mask);
	assert_int_equal(asf_sig_action(SIGSEGV, &sa, &saved), 0);
	unsigned char *p = half_protected();
	struct reader r = { { p + pagesz, p }, { 10, 10 }, 5, 0 };
	assert_true(asf_guard_usable());
	assert_int_equal(guard(&r), -1);
	assert_int_equal(sigaltstack(NULL, &now), 0);
	assert_false(now.ss_flags & SS_DISABLE);
	assert_ptr_equal(now.ss_sp, altmem);
	/* and the signal mask is what it was (nothing left blocked) */
	sigset_t mask;
	assert_int_equal(pthread_sigmask(SIG_BLOCK, NULL, &mask), 0);
	assert_false(sigismember(&mask, SIGSEGV));
	assert_int_equal(asf_sig_action(SIGSEGV, &saved, NULL), 0);
	old.ss_flags &= SS_DISABLE | SS_AUTODISARM;
	sigaltstack(&old, NULL);
}

static int group_setup(void **state)
{
	(void)state;
	pagesz = sysconf(_SC_PAGESIZE);
	return asf_real_bind() ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(unguarded_before_init), /* first: nothing installed yet */
		cmocka_unit_test(guarded_results),
		cmocka_unit_test(guard_not_reentrant),
		cmocka_unit_test(program_handler_gets_faults),
		cmocka_unit_test(program_reads_back_its_disposition),
		cmocka_unit_test(resethand_emulated),
		cmocka_unit_test(default_action_kills),
		cmocka_unit_test(readback_is_the_kernels),
		cmocka_unit_test(handler_replaced_behind_back),
		cmocka_unit_test(guard_unusable_when_blocked),
		cmocka_unit_test(autodisarm_stack_rearmed),
	};
	return cmocka_run_group_tests(tests, group_setup, NULL);
}
