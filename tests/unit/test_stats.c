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

static void set_all(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e, uint64_t f,
		    uint64_t g)
{
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
	char buf[512];
	set_all(1048576, 16, 1234, 3, 2, 1, 9);
	size_t n = asf_stats_format(buf, sizeof buf, 4242);
	const char *want = "autosendfile: pid=4242 redirected_bytes=1048576 redirected_calls=16 "
			   "passthrough_bytes=1234 fallbacks=3 verify_rejects=2 tls_skipped=1 "
			   "source_changed=9\n";
	assert_string_equal(buf, want);
	assert_int_equal(n, strlen(want));
	assert_int_equal(buf[n - 1], '\n');
	assert_null(memchr(buf, '\n', n - 1)); /* one line */
}

static void format_distinct_fields(void **state)
{
	(void)state;
	/* Each counter lands under its own key. */
	char buf[512];
	set_all(11, 22, 33, 44, 55, 66, 77);
	asf_stats_format(buf, sizeof buf, 1);
	assert_string_equal(buf, "autosendfile: pid=1 redirected_bytes=11 redirected_calls=22 "
				 "passthrough_bytes=33 fallbacks=44 verify_rejects=55 tls_skipped=66 "
				 "source_changed=77\n");
}

static void format_zero_and_max(void **state)
{
	(void)state;
	char buf[512];
	set_all(0, 0, 0, 0, 0, 0, 0);
	size_t n = asf_stats_format(buf, sizeof buf, 7);
	assert_string_equal(buf, "autosendfile: pid=7 redirected_bytes=0 redirected_calls=0 "
				 "passthrough_bytes=0 fallbacks=0 verify_rejects=0 tls_skipped=0 "
				 "source_changed=0\n");
	assert_int_equal(n, strlen(buf));

	set_all(UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX);
	n = asf_stats_format(buf, sizeof buf, 2147483647);
	assert_string_equal(buf, "autosendfile: pid=2147483647 redirected_bytes=18446744073709551615 "
				 "redirected_calls=18446744073709551615 "
				 "passthrough_bytes=18446744073709551615 fallbacks=18446744073709551615 "
				 "verify_rejects=18446744073709551615 tls_skipped=18446744073709551615 "
				 "source_changed=18446744073709551615\n");
	assert_int_equal(n, strlen(buf));
	assert_int_equal(buf[n - 1], '\n');
}

/* asf_stats_emit formats into 256 bytes: a line with big but reachable counters (16 digits:
 * 9 PB of bytes) and the largest Linux pid (PID_MAX_LIMIT) must fit with its '\n'. */
static void format_fits_emit_buffer(void **state)
{
	(void)state;
	const uint64_t big = 9999999999999999ull;
	set_all(big, big, big, big, big, big, big);
	char line[256];
	size_t n = asf_stats_format(line, sizeof line, 4194304);
	char full[512];
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
	char buf[256];
	asf_stats_format(buf, sizeof buf, 3);
	assert_string_equal(buf, "autosendfile: pid=3 redirected_bytes=0 redirected_calls=0 "
				 "passthrough_bytes=0 fallbacks=0 verify_rejects=0 tls_skipped=0 "
				 "source_changed=0\n");
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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
