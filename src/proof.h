/* The proof that a write's bytes are a file's: the program's buffer holds exactly the bytes
 * the file has at that offset, right now, compared byte by byte.
 *
 * The file's side is read with pread through the very descriptor the send will use, into a
 * buffer of the library's (a few of them, shared by the process and taken per activation),
 * a piece at a time. So the proof needs no mapping of the file (nothing is added to the
 * program's address space, RSS, or the file's mappers: seals, page-cache advice and
 * deleted files behave as without the library), cannot fault on the file's side (a file
 * truncated since simply reads short), and is about whatever the descriptor names now, not
 * about what it named at the read (a number re-pointed behind the library's back is read
 * through too: its bytes must then equal the buffer to be sent).
 *
 * The program's side is read in place under the fault guard (signals.h), or, in a thread
 * where the guard cannot run (SIGSEGV or SIGBUS blocked), copied through the kernel with
 * process_vm_readv, which fails with EFAULT where the program's own write would. */
#ifndef ASF_PROOF_H
#define ASF_PROOF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum asf_proof {
	ASF_PROOF_EQUAL = 1,
	ASF_PROOF_DIFFER = 0,
	ASF_PROOF_BUF_FAULT = -1,  /* the program's buffer is unreadable: the real call says so */
	ASF_PROOF_SHORT = -2,      /* the file ends before the range does */
	ASF_PROOF_FILE_ERROR = -3, /* pread failed: the descriptor is closed, not a file, ... */
	ASF_PROOF_NO_MEANS = -4,   /* no proof buffer free, or no safe way to read the buffer */
};

struct asf_thread;
/* Compares buf[0..n) with fd's bytes at [off, off+n). `sampled`: only the spans
 * AUTOSENDFILE_VERIFY=sample compares. next_word, if not NULL: set to the file's 8 bytes
 * right after the range, when there are 8 (*has_next). t is this thread's state, busy. */
enum asf_proof asf_prove(struct asf_thread *t, int fd, off_t off, const void *buf, size_t n,
			 bool sampled, uint64_t *next_word, bool *has_next);
/* Copies n bytes (a few KiB at most) of the program's memory at src into dst, safely: under
 * the guard, or through the kernel. False if they are unreadable (or cannot be read). */
bool asf_read_prog(struct asf_thread *t, void *dst, const void *src, size_t n);
/* The same on the read path, with no system call: the guard as this thread last found it
 * usable (asked once, and again at every redirected write). What it cannot see: a read
 * made inside a signal handler whose mask blocks SIGSEGV, whose buffer another thread
 * unmaps in the moment after the read returned. */
bool asf_read_prog_cached(struct asf_thread *t, void *dst, const void *src, size_t n);
/* count words, one every `stride` bytes from src on, through the kernel: for memory the
 * program may have freed since (earlier reads' buffers). */
bool asf_read_prog_words(struct asf_thread *t, uint64_t *dst, const void *src, size_t stride,
			 size_t count);
/* The file's 8 bytes at off, through fd. */
bool asf_file_word(int fd, off_t off, uint64_t *word);
/* The file's n bytes at off, through fd (all of them, or false). */
bool asf_file_bytes(int fd, off_t off, void *dst, size_t n);
/* A proof buffer, to scan the program's bytes in (content.c): at least ASF_PROOF_MIN_BUF
 * bytes, NULL if none is free. Given back with asf_proof_release before any call that may
 * block (a proof gives its own back when it ends). */
#define ASF_PROOF_MIN_BUF 4096u
unsigned char *asf_proof_buffer(struct asf_thread *t, size_t *len);
void asf_proof_release(struct asf_thread *t);
/* The memory the proof buffers need (the arena mapped at start, ownmem.h). */
size_t asf_proof_arena_bytes(void);

#endif
