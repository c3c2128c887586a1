/* Unit tests: the AUTOSENDFILE_VERIFY modes (records.c): what each one catches, and what
 * sample and none are documented to miss. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "autosendfile.h"
#include "config.h"
#include "records.h"

#define LEN (64u * 1024u)
static unsigned char buf[LEN];

static struct asf_record *record_with(int mode)
{
	asf_cfg.verify = mode;
	asf_records_init();
	struct asf_thread *t = asf_thread_get(true);
	assert_non_null(t);
	for (int i = 0; i < ASF_RECORDS_PER_THREAD; i++)
		asf_record_drop(&t->rec[i]);
	for (size_t i = 0; i < LEN; i++)
		buf[i] = (unsigned char)(i * 7u + 3u);
	asf_record_add(t, 5, 1, 2, 0, 123, buf, LEN);
	struct asf_record *r = asf_record_find(t, buf, LEN);
	assert_non_null(r);
	return r;
}

/* Is a one-byte change at offset `at` seen by a write of [from, to)? */
static bool change_seen(int mode, size_t at, size_t from, size_t to)
{
	struct asf_record *r = record_with(mode);
	assert_true(asf_record_verify(r, buf + from, to - from)); /* untouched: equal */
	buf[at] ^= 0x5a;
	bool seen = !asf_record_verify(r, buf + from, to - from);
	buf[at] ^= 0x5a;
	return seen;
}

static void full_sees_every_byte(void **state)
{
	(void)state;
	size_t offs[] = { 0, 1, 63, 64, 100, 4095, 4096, 4200, LEN / 2, LEN - 65, LEN - 1 };
	for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++)
		assert_true(change_seen(ASF_VERIFY_FULL, offs[i], 0, LEN));
	/* a sub-range write is compared over its own bytes only */
	assert_false(change_seen(ASF_VERIFY_FULL, 10, 100, LEN));
	assert_true(change_seen(ASF_VERIFY_FULL, 150, 100, LEN));
}

static void sample_sees_sampled_bytes_only(void **state)
{
	(void)state;
	/* sampled: the first SPAN bytes of every STRIDE, and the record's last SPAN bytes */
	assert_true(change_seen(ASF_VERIFY_SAMPLE, 0, 0, LEN));
	assert_true(change_seen(ASF_VERIFY_SAMPLE, AUTOSENDFILE_SAMPLE_SPAN - 1, 0, LEN));
	assert_true(change_seen(ASF_VERIFY_SAMPLE, 3 * AUTOSENDFILE_SAMPLE_STRIDE + 5, 0, LEN));
	assert_true(change_seen(ASF_VERIFY_SAMPLE, LEN - 1, 0, LEN));
	assert_true(change_seen(ASF_VERIFY_SAMPLE, LEN - AUTOSENDFILE_SAMPLE_SPAN, 0, LEN));
	/* documented misses: bytes between the samples */
	assert_false(change_seen(ASF_VERIFY_SAMPLE, AUTOSENDFILE_SAMPLE_SPAN, 0, LEN));
	assert_false(change_seen(ASF_VERIFY_SAMPLE, 100, 0, LEN));
	assert_false(change_seen(ASF_VERIFY_SAMPLE, 2 * AUTOSENDFILE_SAMPLE_STRIDE - 1, 0, LEN));
	/* a retried tail write (buf+k) still compares the samples inside it */
	assert_true(change_seen(ASF_VERIFY_SAMPLE, 8 * AUTOSENDFILE_SAMPLE_STRIDE + 1, 5000, LEN));
	assert_false(change_seen(ASF_VERIFY_SAMPLE, 8 * AUTOSENDFILE_SAMPLE_STRIDE + 1, 9 * AUTOSENDFILE_SAMPLE_STRIDE, LEN));
}

static void sample_extension_keeps_tail(void **state)
{
	(void)state;
	/* a record grown by a contiguous read in small steps still samples its new tail */
	asf_cfg.verify = ASF_VERIFY_SAMPLE;
	asf_records_init();
	struct asf_thread *t = asf_thread_get(true);
	for (int i = 0; i < ASF_RECORDS_PER_THREAD; i++)
		asf_record_drop(&t->rec[i]);
	for (size_t i = 0; i < LEN; i++)
		buf[i] = (unsigned char)(i * 13u);
	size_t len = 0;
	for (size_t step = 10; len + step <= 9000; len += step)
		asf_record_add(t, 5, 1, 2, (off_t)len, 123, buf + len, step);
	struct asf_record *r = asf_record_find(t, buf, len);
	assert_non_null(r);
	assert_int_equal(r->len, len);
	assert_true(asf_record_verify(r, buf, len));
	buf[len - 1] ^= 1;
	assert_false(asf_record_verify(r, buf, len));
	buf[len - 1] ^= 1;
}

static void none_sees_nothing(void **state)
{
	(void)state;
	/* the risk the README states: with none, a buffer overwritten after the read still
	 * "matches", and the file's bytes would be sent in place of the program's */
	assert_false(change_seen(ASF_VERIFY_NONE, 0, 0, LEN));
	assert_false(change_seen(ASF_VERIFY_NONE, LEN / 2, 0, LEN));
	struct asf_record *r = record_with(ASF_VERIFY_NONE);
	memset(buf, 'S', LEN);
	assert_true(asf_record_verify(r, buf, LEN));
}

static int teardown(void **state)
{
	(void)state;
	asf_cfg.verify = ASF_VERIFY_FULL;
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(full_sees_every_byte, teardown),
		cmocka_unit_test_teardown(sample_sees_sampled_bytes_only, teardown),
		cmocka_unit_test_teardown(sample_extension_keeps_tail, teardown),
		cmocka_unit_test_teardown(none_sees_nothing, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
