/* A stream socket's send-queue backlog, looked at now and then (see pressure.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "config.h"
#include "fdtable.h"
#include "pressure.h"

/* Bytes waiting in fd's send queue (sent but not acknowledged, or not sent yet); -1 when
 * the kernel will not say. The raw call: ioctl is not the program's to see. */
static long queued(int fd)
{
	int q = 0, saved_errno = errno;
	long r = syscall(SYS_ioctl, fd, SIOCOUTQ, &q);
	errno = saved_errno;
	return r == 0 && q >= 0 ? q : -1;
}

/* The socket's send buffer (SO_SNDBUF, as the kernel counts it); -1 if unknown. */
static long sndbuf(int fd)
{
	int v = 0, saved_errno = errno;
	socklen_t len = sizeof v;
	long r = syscall(SYS_getsockopt, fd, SOL_SOCKET, SO_SNDBUF, &v, &len);
	errno = saved_errno;
	return r == 0 && v > 0 ? v : -1;
}

/* A write of n bytes the queue cannot take whole: the rest of it waits there. (The queue's
 * limit counts each packet's overhead too: n bytes never fit in n of it.) */
static bool overfills(int fd, size_t n)
{
	long q = queued(fd), b = q >= 0 ? sndbuf(fd) : -1;
	return b > 0 && (uint64_t)q + n >= (uint64_t)b;
}

bool asf_pressure_backlog(int fd, uint32_t word, size_t n)
{
	uint64_t p = asf_cfg.pressure;
	if (p == 0)
		return true;
	struct asf_fd_entry *e = asf_fd_entry(fd, false);
	if (!e)
		return false;
	uint64_t out = __atomic_load_n(&e->out_bytes, __ATOMIC_RELAXED);
	uint64_t at = __atomic_load_n(&e->sample_at, __ATOMIC_RELAXED);
	/* No backlog of p can wait before 2p were sent: the peer's window takes the first. */
	if (out < (at ? at : 2 * p)) {
		if (word & ASF_FDF_BACKLOG)
			return true;
		/* Never looked at: a write too big for the peer's first window asks now. */
		return at == 0 && n >= 2 * p && overfills(fd, n);
	}
	long q = queued(fd);
	bool backlog = q >= 0 && (uint64_t)q >= p;
	uint64_t step = __atomic_load_n(&e->sample_step, __ATOMIC_RELAXED);
	if (backlog)
		step = 4 * p; /* soon again: the client may catch up */
	else
		step = step < 2 * p ? 2 * p : (step * 2 > 16 * p ? 16 * p : step * 2);
	__atomic_store_n(&e->sample_step, step, __ATOMIC_RELAXED);
	__atomic_store_n(&e->sample_at, out + step, __ATOMIC_RELAXED);
	if (backlog != ((word & ASF_FDF_BACKLOG) != 0)) {
		if (backlog)
			asf_fd_or_flags(fd, ASF_FDF_BACKLOG);
		else
			asf_fd_clear_flags(fd, ASF_FDF_BACKLOG);
	}
	return backlog;
}

void asf_pressure_moved(int fd, size_t want, ssize_t r, int err)
{
	if (asf_cfg.pressure == 0)
		return;
	struct asf_fd_entry *e = asf_fd_entry(fd, false);
	if (!e)
		return;
	if (r > 0)
		__atomic_add_fetch(&e->out_bytes, (uint64_t)r, __ATOMIC_RELAXED);
	if ((r >= 0 && (size_t)r < want) || (r < 0 && (err == EAGAIN || err == EWOULDBLOCK))) {
		/* The queue is full: what the program writes next would wait there. */
		uint64_t out = __atomic_load_n(&e->out_bytes, __ATOMIC_RELAXED);
		__atomic_store_n(&e->sample_step, 4 * (uint64_t)asf_cfg.pressure, __ATOMIC_RELAXED);
		__atomic_store_n(&e->sample_at, out + 4 * (uint64_t)asf_cfg.pressure, __ATOMIC_RELAXED);
		asf_fd_or_flags(fd, ASF_FDF_BACKLOG);
	}
}
