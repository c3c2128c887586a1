/* Helpers shared by the wrapper families (wrap_read.c, wrap_write.c, wrap_fd.c). */
#ifndef ASF_WRAP_H
#define ASF_WRAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

/* Copies up to max of the first `total` bytes spread over iov into head; returns the count. */
size_t asf_iov_head(const struct iovec *iov, int cnt, size_t total, unsigned char *head,
		    size_t max);
/* If a socket error is owed on fd (fdtable.h), sets errno to it and returns true: the
 * caller returns -1 without a kernel call, as the real call would have found the error. */
bool asf_owed_error(int fd, uint32_t w);

/* Forgets the fds that arrived in SCM_RIGHTS messages (recvmsg). */
struct msghdr;
void asf_forget_passed_fds(const struct msghdr *msg);
/* TLS detection on the first bytes a stream socket received. */
void asf_sniff_in(int fd, uint32_t w, const void *buf, ssize_t r);

#endif
