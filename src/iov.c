/* Small helpers of the wrapper families: the first bytes of an iovec array (TLS detection
 * on vectored calls), and a socket error owed to the program. */
#include <errno.h>

#include "fdtable.h"
#include "wrap.h"

bool asf_owed_error(int fd, uint32_t w)
{
	int err;
	if (!(w & ASF_FDF_PENDING_ERR) || !asf_fd_take_error(fd, &err))
		return false;
	errno = err;
	return true;
}

size_t asf_iov_head(const struct iovec *iov, int cnt, size_t total, unsigned char *head,
		    size_t max)
{
	size_t got = 0;
	for (int i = 0; iov && i < cnt && got < max && got < total; i++)
		for (size_t j = 0; j < iov[i].iov_len && got < max && got < total; j++)
			head[got++] = ((const unsigned char *)iov[i].iov_base)[j];
	return got;
}
