/* Ways out of a wrapped call that skip its epilogue, and vfork.
 *
 * A signal handler that interrupts a redirected write (or the bookkeeping after a read) and
 * leaves it with siglongjmp/longjmp abandons the library's activation: its view reference,
 * its SIGPIPE mask and the thread's busy flag. The jump wrappers release them first, when the
 * jump leaves the activation's frame.
 *
 * vfork: the child shares the parent's memory, so the library's tables with it; everything
 * the child does through the wrappers must leave them alone. The vfork entry point is a few
 * instructions of assembly (a C wrapper's frame would be reused by the child before the
 * parent returns through it): it marks the thread's state "vfork child" in the child and
 * clears the mark in the parent once the child has gone (exec or exit). */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdint.h>

#include "config.h"
#include "export.h"
#include "real.h"
#include "records.h"
#include "redirect.h"
#include "signals.h"

extern void *asf_real_vfork_fn; /* libc's vfork (real.c) */

/* The stack pointer a glibc x86-64 jmp_buf restores: stored mangled with the thread's pointer
 * guard (tcbhead_t.pointer_guard at %fs:0x30), rotated left by 17 bits. 0 when unknown. */
static uintptr_t target_sp(const void *env)
{
#if defined(__x86_64__) && defined(__GLIBC__)
	uintptr_t v = ((const uintptr_t *)env)[6], guard;
	__asm__("mov %%fs:0x30, %0" : "=r"(guard));
	v = (v >> 17) | (v << (64 - 17));
	return v ^ guard;
#else
	(void)env;
	return 0;
#endif
}

static void before_jump(const void *env)
{
	if (asf_is_guard_env(env))
		return;
	struct asf_thread *t = asf_thread_get(false);
	if (!t || !t->busy)
		return;
	uintptr_t sp = target_sp(env);
	/* A jump to a frame the activation's frame was called from (an address above it on
	 * the same stack) leaves it; a jump within a handler running on another stack does
	 * not. Unknown: assume it leaves (the only way program code runs while we are busy is
	 * a signal handler, and one that jumps almost always jumps out). */
	if (sp == 0 || (sp > t->act_frame && sp - t->act_frame < (256u << 20)))
		asf_activation_abandon(t);
}

typedef void (*jump_fn)(struct __jmp_buf_tag *, int) __attribute__((noreturn));

#define JUMP_WRAPPER(name, real_field)                                                   \
	ASF_EXPORT __attribute__((noreturn)) void name(struct __jmp_buf_tag env[1], int val) \
	{                                                                                \
		before_jump(env);                                                        \
		jump_fn fn = (jump_fn)ASF_REAL_FN(real_field);                           \
		fn(env, val);                                                            \
	}

JUMP_WRAPPER(siglongjmp, siglongjmp)
JUMP_WRAPPER(longjmp, longjmp)
JUMP_WRAPPER(_longjmp, longjmp)

ASF_EXPORT __attribute__((noreturn)) void __longjmp_chk(struct __jmp_buf_tag env[1], int val)
{
	before_jump(env);
	jump_fn fn = (jump_fn)ASF_REAL_FN(longjmp_chk);
	fn(env, val);
}

__attribute__((used)) void asf_set_errno(int e);
__attribute__((used)) void asf_set_errno(int e)
{
	errno = e;
}

#if defined(__x86_64__)
/* vfork: rsi keeps our caller's return address across libc's vfork (which keeps its own in
 * rdi); both child and parent come back here, the child first. */
__asm__(".text\n"
	".globl vfork\n"
	".type vfork, @function\n"
	".globl __vfork\n"
	".type __vfork, @function\n"
	"vfork:\n"
	"__vfork:\n"
	"	popq %rsi\n"
	"	movq asf_real_vfork_fn(%rip), %rax\n"
	"	testq %rax, %rax\n"
	"	jz 1f\n"
	"	callq *%rax\n"
	"	jmp 2f\n"
	"1:	movl $58, %eax\n" /* SYS_vfork, before binding */
	"	syscall\n"
	"	cmpq $-4095, %rax\n"
	"	jb 2f\n"
	"	pushq %rsi\n" /* a raw failure: report it as libc would (errno) */
	"	subq $8, %rsp\n"
	"	negl %eax\n"
	"	movl %eax, %edi\n"
	"	call asf_set_errno\n"
	"	addq $8, %rsp\n"
	"	popq %rsi\n"
	"	movq $-1, %rax\n"
	"	jmp *%rsi\n"
	"2:	movq asf_vfork_child@gottpoff(%rip), %rdx\n"
	"	testl %eax, %eax\n"
	"	jnz 3f\n"
	"	movl $1, %fs:(%rdx)\n" /* the child */
	"	jmp *%rsi\n"
	"3:	movl $0, %fs:(%rdx)\n" /* the parent, the child gone (or an error) */
	"	jmp *%rsi\n"
	".size vfork, .-vfork\n"
	".size __vfork, .-__vfork\n");
#endif
