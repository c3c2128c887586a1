/* Unit tests: asf_iov_head (src/iov.c). */
#include "wrap.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#define IOV(s) { (void *)(s), sizeof(s) - 1 }

static void several_iovecs_with_empty_ones(void **state)
{
	(void)state;
	struct iovec iov[] = {
		{ NULL, 0 }, IOV("ab"), { (void *)"zzz", 0 }, IOV(""), IOV("c"), IOV("defgh"),
	};
	unsigned char head[16];
	memset(head, 0xee, sizeof head);
	size_t got = asf_iov_head(iov, 6, 8, head, sizeof head);
	assert_int_equal(got, 8);
	assert_memory_equal(head, "abcdefgh", 8);
	assert_int_equal(head[8], 0xee); /* nothing past what was copied */

	/* The 3-byte head the write wrapper takes. */
	unsigned char h3[3];
	assert_int_equal(asf_iov_head(iov, 6, 8, h3, sizeof h3), 3);
	assert_memory_equal(h3, "abc", 3);
}

static void total_smaller_than_iov_bytes(void **state)
{
	(void)state;
	/* A short writev: only the bytes the kernel took count. */
	struct iovec iov[] = { IOV("xy"), IOV(""), IOV("zw") };
	unsigned char head[8];
	memset(head, 0, sizeof head);
	assert_int_equal(asf_iov_head(iov, 3, 3, head, sizeof head), 3);
	assert_memory_equal(head, "xyz", 3);
	assert_int_equal(head[3], 0);
	assert_int_equal(asf_iov_head(iov, 3, 1, head, sizeof head), 1);
	assert_int_equal(head[0], 'x');
	memset(head, 0, sizeof head);
	assert_int_equal(asf_iov_head(iov, 3, 0, head, sizeof head), 0);
	assert_int_equal(head[0], 0);
	/* total larger than the iovecs hold: stops at their end. */
	assert_int_equal(asf_iov_head(iov, 3, 100, head, sizeof head), 4);
	assert_memory_equal(head, "xyzw", 4);
}

static void max_smaller(void **state)
{
	(void)state;
	struct iovec iov[] = { IOV("H"), IOV("TTP/1.1 200 OK") };
	unsigned char head[4];
	memset(head, 0, sizeof head);
	assert_int_equal(asf_iov_head(iov, 2, 15, head, 2), 2);
	assert_memory_equal(head, "HT", 2);
	assert_int_equal(head[2], 0);
	assert_int_equal(asf_iov_head(iov, 2, 15, head, 0), 0);
	/* Both limits: the smaller wins. */
	assert_int_equal(asf_iov_head(iov, 2, 2, head, 3), 2);
	assert_int_equal(asf_iov_head(iov, 2, 15, head, 3), 3);
	assert_memory_equal(head, "HTT", 3);
}

static void count_limits_iovecs(void **state)
{
	(void)state;
	struct iovec iov[] = { IOV("ab"), IOV("cd") };
	unsigned char head[8];
	assert_int_equal(asf_iov_head(iov, 1, 4, head, sizeof head), 2);
	assert_memory_equal(head, "ab", 2);
	assert_int_equal(asf_iov_head(iov, 0, 4, head, sizeof head), 0);
	assert_int_equal(asf_iov_head(iov, -1, 4, head, sizeof head), 0);
	assert_int_equal(asf_iov_head(NULL, 2, 4, head, sizeof head), 0);
	/* Only empty iovecs. */
	struct iovec empty[] = { { NULL, 0 }, { NULL, 0 } };
	assert_int_equal(asf_iov_head(empty, 2, 10, head, sizeof head), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(several_iovecs_with_empty_ones),
		cmocka_unit_test(total_smaller_than_iov_bytes),
		cmocka_unit_test(max_smaller),
		cmocka_unit_test(count_limits_iovecs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
