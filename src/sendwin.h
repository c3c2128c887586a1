/* The send window: from the library's last look at a source descriptor to the moment the
 * kernel holds it for the sendfile.
 *
 * The library sends from the program's own descriptor (it keeps none of its own: every
 * descriptor the process holds is one the program opened, and the program's fd limit is
 * all its own). The proof reads the file through that number just before; what remains is
 * that the number could name another file by the time sendfile looks it up: the program
 * closing it and opening another in a second thread, or a signal handler dup2-ing over it.
 * Every wrapped call that re-points a number bumps its generation (fdtable.h) first, and
 * the sendfile is made only if the generation is still the one taken before the proof:
 *
 *   - the check and the system call form a restartable sequence (rseq, registered by glibc
 *     for every thread): a signal or a preemption between them restarts the check, so a
 *     handler's dup2 in this thread, or another thread's, is always seen;
 *   - a thread that re-points a number waits until no other thread is inside such a
 *     window for it (a send that already reached the kernel holds its own reference).
 *
 * Without rseq (an older glibc, or registration refused) the check and the call are a few
 * instructions apart. Raw system calls that re-point a number bump nothing: what they can
 * change is limited to that window (README, Limits). */
#ifndef ASF_SENDWIN_H
#define ASF_SENDWIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* fd's generation, taken before the proof reads through fd. */
struct asf_fdgen {
	int fd;
	uint32_t own, range;
};
/* False while a re-pointing of fd is under way (or fd has no entry). */
bool asf_sendwin_take(int fd, struct asf_fdgen *g);
/* Is fd still at generation g (a look, without the window's guarantee)? */
bool asf_sendwin_same(const struct asf_fdgen *g);

struct asf_thread;
/* sendfile(sock, g->fd, off, n) if fd is still at generation g when the kernel takes it.
 * Returns what sendfile returns (errno set on -1); or -1 with *changed set, nothing sent,
 * when the number was re-pointed since g was taken. */
ssize_t asf_sendwin_sendfile(struct asf_thread *t, int sock, const struct asf_fdgen *g,
			     off_t *off, size_t n, bool *changed);
/* Called by the wrappers that re-point fd (after asf_fd_change_begin, before the real
 * call): waits, a bounded time, for other threads' sends from fd to reach the kernel. */
void asf_sendwin_wait(int fd);
void asf_sendwin_wait_range(unsigned first, unsigned last);
/* A send abandoned (cancellation, siglongjmp): the thread is no longer in a window. */
void asf_sendwin_disarm(struct asf_thread *t);

#endif
