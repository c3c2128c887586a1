/* Unit tests: the table of files that refused sendfile (refusals.c). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "refusals.h"

/* These run in order: the table is process-wide and has no reset. */

static void empty_table(void **state)
{
	(void)state;
	assert_int_equal(asf_refusal_count(), 0);
	assert_false(asf_refused(0, 0));
	assert_false(asf_refused(0x801, 12345));
	assert_false(asf_refused(UINT64_MAX, UINT64_MAX));
}

static void add_then_refused(void **state)
{
	(void)state;
	asf_refusal_add(0x801, 12345);
	assert_int_equal(asf_refusal_count(), 1);
	assert_true(asf_refused(0x801, 12345));
	/* Only that exact identity. */
	assert_false(asf_refused(0x801, 12346));
	assert_false(asf_refused(0x802, 12345));
	assert_false(asf_refused(12345, 0x801)); /* swapped */
	assert_false(asf_refused(0, 0));
	assert_false(asf_refused(0x801, 12345 + (1ull << 32))); /* high bits count */
}

static void add_twice_counts_once(void **state)
{
	(void)state;
	unsigned before = asf_refusal_count();
	asf_refusal_add(0x801, 12345);
	asf_refusal_add(0x801, 12345);
	assert_int_equal(asf_refusal_count(), before);
	asf_refusal_add(7, 8);
	asf_refusal_add(7, 8);
	assert_int_equal(asf_refusal_count(), before + 1);
	assert_true(asf_refused(7, 8));
	assert_true(asf_refused(0x801, 12345));
	assert_false(asf_refused(8, 7));
}

static void many_files(void **state)
{
	(void)state;
	unsigned before = asf_refusal_count();
	for (uint64_t i = 0; i < 1000; i++)
		asf_refusal_add(0xfd00, 1000000 + i);
	assert_int_equal(asf_refusal_count(), before + 1000);
	for (uint64_t i = 0; i < 1000; i++)
		if (!asf_refused(0xfd00, 1000000 + i))
			fail_msg("ino %llu added but not refused", (unsigned long long)(1000000 + i));
	assert_false(asf_refused(0xfd00, 1000000 + 1000));
	assert_false(asf_refused(0xfd00, 999999));
	assert_true(asf_refused(7, 8));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(empty_table),
		cmocka_unit_test(add_then_refused),
		cmocka_unit_test(add_twice_counts_once),
		cmocka_unit_test(many_files),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
