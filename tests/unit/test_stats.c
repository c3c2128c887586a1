/* Unit tests: the statistics line (stats.c). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "stats.h"

/* The why_* keys when every reason counter is 0. */
#define WHY0 " why_small=0 why_not_file=0 why_untracked=0 why_tls=0 why_flags=0 " \
	     "why_buf_changed=0 why_file_changed=0 why_not_eligible=0 why_header=0 why_tail=0 " \
	     "why_draining=0 why_other=0"

static void set_all(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e, uint64_t f,
		    uint64_t g)
{
	memset(&asf_stats, 0, sizeof asf_stats);
	asf_stats.redirected_bytes = a;
	asf_stats.redirected_calls = b;
	asf_stats.passthrough_bytes = c;
	asf_stats.fallbacks = d;
	asf_stats.verify_rejects = e;
	asf_stats.tls_skipped = f;
	asf_stats.source_changed = g;
}

static void format_exact_line(void **state)
{
	(void)state;
	char buf[640];
	set_all(1048576, 16, 1234, 3, 2, 1, 9);
	size_t n = asf_stats_format(buf, sizeof buf, 4242);
	const char *want = "autosendfile: pid=4242 redirected_bytes=1048576 redirected_calls=16 "
			   "passthrough_bytes=1234 fallbacks=3 verify_rejects=2 tls_skipped=1 "
			   "source_changed=9" WHY0 "\n";
	assert_string_equal(buf, want);
	assert_int_equal(n, strlen(want));
	assert_int_equal(buf[n - 1], '\n');
	assert_null(memchr(buf, '\n', n - 1)); /* one line */
}

static void format_distinct_fields(void **state)
{
	(void)state;
	/* Each counter lands under its own key. */
	char buf[640];
	set_all(11, 22, 33, 44, 55, 66, 77);
	asf_stats_format(buf, sizeof buf, 1);
	assert_string_equal(buf, "autosendfile: pid=1 redirected_bytes=11 redirected_calls=22 "
				 "passthrough_bytes=33 fallbacks=44 verify_rejects=55 tls_skipped=66 "
				 "source_changed=77" WHY0 "\n");
}

static void format_zero_and_max(void **state)
{
	(void)state;
	char buf[640];
	set_all(0, 0, 0, 0, 0, 0, 0);
	size_t n = asf_stats_format(buf, sizeof buf, 7);
	assert_string_equal(buf, "autosendfile: pid=7 redirected_bytes=0 redirected_calls=0 "
				 "passthrough_bytes=0 fallbacks=0 verify_rejects=0 tls_skipped=0 "
				 "source_changed=0" WHY0 "\n");
	assert_int_equal(n, strlen(buf));

	set_all(UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX);
	n = asf_stats_format(buf, sizeof buf, 2147483647);
	assert_string_equal(buf, "autosendfile: pid=2147483647 redirected_bytes=18446744073709551615 "
				 "redirected_calls=18446744073709551615 "
				 "passthrough_bytes=18446744073709551615 fallbacks=18446744073709551615 "
				 "verify_rejects=18446744073709551615 tls_skipped=18446744073709551615 "
				 "source_changed=18446744073709551615" WHY0 "\n");
	assert_int_equal(n, strlen(buf));
	assert_int_equal(buf[n - 1], '\n');
}

/* asf_stats_emit formats into ASF_STATLINE_MAX bytes: a line with every counter at its largest and the
 * largest Linux pid (PID_MAX_LIMIT) must fit with its '\n'. */
static void format_fits_emit_buffer(void **state)
{
	(void)state;
	const uint64_t big = UINT64_MAX;
	set_all(big, big, big, big, big, big, big);
	for (int i = 0; i < ASF_WHY_N; i++)
		asf_stats.why[i] = big;
	char line[ASF_STATLINE_MAX];
	size_t n = asf_stats_format(line, sizeof line, 4194304);
	char full[1024];
	assert_int_equal(asf_stats_format(full, sizeof full, 4194304), n); /* not truncated */
	assert_true(n < sizeof line);
	assert_int_equal(line[n - 1], '\n');
	assert_string_equal(line, full);
}

static void format_truncates_safely(void **state)
{
	(void)state;
	char buf[32];
	memset(buf, 'X', sizeof buf);
	set_all(1, 2, 3, 4, 5, 6, 7);
	size_t n = asf_stats_format(buf, 20, 99);
	assert_int_equal(n, 19);
	assert_int_equal(buf[19], '\0');
	assert_int_equal(buf[20], 'X'); /* nothing written past size */
	assert_string_equal(buf, "autosendfile: pid=9");
}

static void stat_add_and_reset(void **state)
{
	(void)state;
	set_all(5, 6, 7, 8, 9, 10, 11);
	ASF_STAT_ADD(redirected_bytes, 100);
	ASF_STAT_ADD(tls_skipped, 1);
	assert_int_equal(asf_stats.redirected_bytes, 105);
	assert_int_equal(asf_stats.tls_skipped, 11);
	asf_stats_reset();
	assert_int_equal(asf_stats.redirected_bytes, 0);
	assert_int_equal(asf_stats.redirected_calls, 0);
	assert_int_equal(asf_stats.passthrough_bytes, 0);
	assert_int_equal(asf_stats.fallbacks, 0);
	assert_int_equal(asf_stats.verify_rejects, 0);
	assert_int_equal(asf_stats.tls_skipped, 0);
	assert_int_equal(asf_stats.source_changed, 0);
	char buf[640];
	asf_stats_format(buf, sizeof buf, 3);
	assert_string_equal(buf, "autosendfile: pid=3 redirected_bytes=0 redirected_calls=0 "
				 "passthrough_bytes=0 fallbacks=0 verify_rejects=0 tls_skipped=0 "
				 "source_changed=0" WHY0 "\n");
}

/* Each reason lands under its own key, why_other last; they are added by asf_stat_pass
 * under the reason set last, and sum to passthrough_bytes. */
static void why_keys_and_pass(void **state)
{
	(void)state;
	set_all(0, 0, 0, 0, 0, 0, 0);
	const enum asf_why_reason order[] = { ASF_WHY_SMALL, ASF_WHY_NOT_FILE, ASF_WHY_UNTRACKED,
		ASF_WHY_TLS, ASF_WHY_FLAGS, ASF_WHY_BUF_CHANGED, ASF_WHY_FILE_CHANGED,
		ASF_WHY_NOT_ELIGIBLE, ASF_WHY_HEADER, ASF_WHY_TAIL, ASF_WHY_DRAINING, ASF_WHY_OTHER };
	uint64_t sum = 0;
	for (unsigned i = 0; i < sizeof order / sizeof order[0]; i++) {
		asf_why(order[i]);
		asf_stat_pass(i + 1);
		sum += i + 1;
	}
	assert_int_equal(asf_stats.passthrough_bytes, sum);
	char buf[640];
	asf_stats_format(buf, sizeof buf, 5);
	assert_string_equal(buf, "autosendfile: pid=5 redirected_bytes=0 redirected_calls=0 "
				 "passthrough_bytes=78 fallbacks=0 verify_rejects=0 tls_skipped=0 "
				 "source_changed=0 why_small=1 why_not_file=2 why_untracked=3 why_tls=4 "
				 "why_flags=5 why_buf_changed=6 why_file_changed=7 why_not_eligible=8 "
				 "why_header=9 why_tail=10 why_draining=11 why_other=12\n");
}

/* A write no record holds: not_file, unless the thread's last file read went untracked. */
static void why_no_record(void **state)
{
	(void)state;
	asf_why_read(ASF_WHY_OTHER);
	asf_why_no_record();
	assert_int_equal(asf_why_now, ASF_WHY_NOT_FILE);
	asf_why_read(ASF_WHY_UNTRACKED);
	asf_why_no_record();
	assert_int_equal(asf_why_now, ASF_WHY_UNTRACKED);
	asf_why_read(ASF_WHY_OTHER);
}

/* In a vectored write the most specific reason of a run wins over "small". */
static void why_unless_keeps_specific(void **state)
{
	(void)state;
	asf_why(ASF_WHY_OTHER);
	assert_true(asf_why_unless(true, ASF_WHY_SMALL));
	assert_int_equal(asf_why_now, ASF_WHY_OTHER);
	assert_false(asf_why_unless(false, ASF_WHY_SMALL));
	assert_int_equal(asf_why_now, ASF_WHY_SMALL);
	asf_why(ASF_WHY_BUF_CHANGED);
	assert_false(asf_why_unless(false, ASF_WHY_SMALL));
	assert_int_equal(asf_why_now, ASF_WHY_BUF_CHANGED);
}

/* A reader of a file written by an older library prints only the counters that file has. */
static void format_fewer_counters(void **state)
{
	(void)state;
	struct asf_counters c;
	memset(&c, 0, sizeof c);
	c.redirected_bytes = 1;
	c.source_changed = 7;
	c.why[ASF_WHY_SMALL] = 9;
	char buf[640];
	asf_statline_format(buf, sizeof buf, 2, &c, 7);
	assert_string_equal(buf, "autosendfile: pid=2 redirected_bytes=1 redirected_calls=0 "
				 "passthrough_bytes=0 fallbacks=0 verify_rejects=0 tls_skipped=0 "
				 "source_changed=7");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(format_exact_line),
		cmocka_unit_test(format_distinct_fields),
		cmocka_unit_test(format_zero_and_max),
		cmocka_unit_test(format_fits_emit_buffer),
		cmocka_unit_test(format_truncates_safely),
		cmocka_unit_test(stat_add_and_reset),
		cmocka_unit_test(why_keys_and_pass),
		cmocka_unit_test(why_no_record),
		cmocka_unit_test(why_unless_keeps_specific),
		cmocka_unit_test(format_fewer_counters),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
