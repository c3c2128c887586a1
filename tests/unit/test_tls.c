/* Unit tests: TLS recognition (asf_looks_like_tls) and first-bytes sniffing (asf_fd_sniff). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "fdclass.h"
#include "fdtable.h"
#include "stats.h"

/* The start of a real TLS 1.3 ClientHello as sent by curl/OpenSSL: a handshake record with
 * legacy version 3.1, length 0x0200, handshake type 1 (client_hello), length, version 3.3. */
static const unsigned char client_hello[] = {
	0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0x5b, 0x91, 0x2a,
	0x0e, 0x77, 0xc4, 0x10, 0x8d, 0x3e, 0x21, 0x6f, 0x9a, 0x55, 0x02, 0xb8, 0x64, 0xe3,
};
static const unsigned char app_data_12[] = { 0x17, 0x03, 0x03, 0x00, 0x28, 0x00, 0x00, 0x00,
					     0x00, 0x00, 0x00, 0x00, 0x01, 0xa7, 0x3c };
static const unsigned char alert_12[] = { 0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28 };
static const unsigned char ccs_12[] = { 0x14, 0x03, 0x03, 0x00, 0x01, 0x01 };
static const unsigned char server_hello_ssl3[] = { 0x16, 0x03, 0x00, 0x00, 0x4a, 0x02 };
static const unsigned char handshake_13[] = { 0x16, 0x03, 0x04, 0x00, 0x10 };
/* SSLv2-compatible ClientHello: 2-byte length with the top bit set, msg type 1, version. */
static const unsigned char sslv2_hello[] = { 0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15 };
static const unsigned char sslv2_hello_long[] = { 0x81, 0x02, 0x01, 0x00, 0x02 };

#define TLS_YES(arr) tls_yes(arr, sizeof arr, 1, #arr)
/* SSLv2 hellos: fewer than 3 bytes cannot tell, and are deliberately not taken as TLS. */
#define SSLV2_YES(arr) tls_yes(arr, sizeof arr, 3, #arr)
#define TLS_NO(arr, n) tls_no(arr, n, #arr)

static void tls_yes(const unsigned char *p, size_t n, size_t min_prefix, const char *what)
{
	if (!asf_looks_like_tls(p, n))
		fail_msg("%s (%zu bytes) not recognised as TLS", what, n);
	/* Every prefix of at least min_prefix bytes could be the start of it... */
	for (size_t k = min_prefix; k <= n; k++)
		if (!asf_looks_like_tls(p, k))
			fail_msg("%zu-byte prefix of %s not recognised as TLS", k, what);
	/* ...and shorter ones are not taken for TLS. */
	for (size_t k = 1; k < min_prefix; k++)
		if (asf_looks_like_tls(p, k))
			fail_msg("%zu-byte prefix of %s taken for TLS", k, what);
}

static void tls_no(const void *p, size_t n, const char *what)
{
	if (asf_looks_like_tls(p, n))
		fail_msg("%s (%zu bytes) taken for TLS", what, n);
}

static void records_are_tls(void **state)
{
	(void)state;
	TLS_YES(client_hello);
	TLS_YES(app_data_12);
	TLS_YES(alert_12);
	TLS_YES(ccs_12);
	TLS_YES(server_hello_ssl3);
	TLS_YES(handshake_13);
	SSLV2_YES(sslv2_hello);
	SSLV2_YES(sslv2_hello_long);
}

static void short_prefixes(void **state)
{
	(void)state;
	static const unsigned char one[] = { 0x16 }, two[] = { 0x16, 0x03 };
	assert_true(asf_looks_like_tls(one, 1));
	assert_true(asf_looks_like_tls(two, 2));
	static const unsigned char t17[] = { 0x17 }, t14[] = { 0x14 }, t15[] = { 0x15 };
	assert_true(asf_looks_like_tls(t17, 1));
	assert_true(asf_looks_like_tls(t14, 1));
	assert_true(asf_looks_like_tls(t15, 1));
	/* A high first byte alone (1 or 2 bytes) is not enough to call it SSLv2. */
	static const unsigned char v2a[] = { 0x80 }, v2b[] = { 0x80, 0x2e };
	assert_false(asf_looks_like_tls(v2a, 1));
	assert_false(asf_looks_like_tls(v2b, 2));
	static const unsigned char v2c[] = { 0x80, 0x2e, 0x01 };
	assert_true(asf_looks_like_tls(v2c, 3));
	/* Prefixes that already rule TLS out. */
	TLS_NO("G", 1);
	TLS_NO("GE", 2);
	static const unsigned char bad2[] = { 0x16, 0x04 }, bad1[] = { 0x13 }, bad1b[] = { 0x18 };
	TLS_NO(bad2, 2);
	TLS_NO(bad1, 1);
	TLS_NO(bad1b, 1);
}

static void plain_text_is_not_tls(void **state)
{
	(void)state;
	static const char *const texts[] = {
		"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
		"HTTP/1.0 200 OK\r\n",
		"HTTP/1.1 404 Not Found\r\n",
		"POST /upload HTTP/1.1\r\n",
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		"220 smtp ready\r\n",
		"{\"json\": true}",
		"\n",
	};
	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
		TLS_NO(texts[i], strlen(texts[i]));
	TLS_NO("GET / HTTP/1.1", 14);
	TLS_NO("HTTP/1.0 200", 12);
}

static void wrong_versions_are_not_tls(void **state)
{
	(void)state;
	static const unsigned char v4[] = { 0x16, 0x04, 0x01, 0x00, 0x10 };
	static const unsigned char v2[] = { 0x16, 0x02, 0x00, 0x00, 0x10 };
	static const unsigned char v35[] = { 0x16, 0x03, 0x05, 0x00, 0x10 };
	static const unsigned char v3ff[] = { 0x17, 0x03, 0xff, 0x00, 0x10 };
	static const unsigned char type13[] = { 0x13, 0x03, 0x03, 0x00, 0x10 };
	static const unsigned char type18[] = { 0x18, 0x03, 0x03, 0x00, 0x10 };
	static const unsigned char zeros[] = { 0, 0, 0, 0 };
	/* High bit set but the third byte is not client_hello (1): not SSLv2. */
	static const unsigned char v2_not_hello[] = { 0x80, 0x2e, 0x02, 0x03 };
	/* Type 1 but a version byte that is neither 3.x nor 0.2. */
	static const unsigned char v2_bad_version[] = { 0x80, 0x2e, 0x01, 0x02, 0x00 };
	static const unsigned char v2_bad_version2[] = { 0x80, 0x2e, 0x01, 0x04, 0x00 };
	static const unsigned char utf8[] = { 0xc3, 0xa9, 0x74, 0xc3, 0xa9 }; /* "été" */
	TLS_NO(v4, sizeof v4);
	TLS_NO(v4, 2);
	TLS_NO(v2, sizeof v2);
	TLS_NO(v35, sizeof v35);
	TLS_NO(v35, 3);
	TLS_NO(v3ff, sizeof v3ff);
	TLS_NO(type13, sizeof type13);
	TLS_NO(type18, sizeof type18);
	TLS_NO(zeros, sizeof zeros);
	TLS_NO(v2_not_hello, sizeof v2_not_hello);
	TLS_NO(utf8, sizeof utf8);
	TLS_NO(v2_bad_version, sizeof v2_bad_version);
	TLS_NO(v2_bad_version, 4);
	TLS_NO(v2_bad_version2, sizeof v2_bad_version2);
	TLS_NO(utf8, 2);
}

static void empty_is_not_tls(void **state)
{
	(void)state;
	assert_false(asf_looks_like_tls(client_hello, 0));
	assert_false(asf_looks_like_tls((const unsigned char *)"", 0));
}

/* ---- asf_fd_sniff --------------------------------------------------------------------- */

static int sv[2] = { -1, -1 };

static int open_pair(void **state)
{
	(void)state;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		return -1;
	if (asf_fd_classify(sv[0]) != ASF_FD_STREAM || asf_fd_classify(sv[1]) != ASF_FD_STREAM)
		return -1;
	asf_stats_reset();
	return 0;
}

static int close_pair(void **state)
{
	(void)state;
	asf_fd_forget(sv[0]);
	asf_fd_forget(sv[1]);
	close(sv[0]);
	close(sv[1]);
	return 0;
}

static void sniff_tls_marks_socket(void **state)
{
	(void)state;
	int fd = sv[0];
	uint32_t w = asf_fd_sniff(fd, ASF_FDF_OUT_SEEN, client_hello, sizeof client_hello);
	assert_int_equal(w & ASF_FD_KIND_MASK, ASF_FD_TLS);
	assert_true(w & ASF_FDF_OUT_SEEN);
	assert_int_equal(asf_fd_word(fd) & ASF_FD_KIND_MASK, ASF_FD_TLS);
	assert_true(asf_fd_word(fd) & ASF_FDF_OUT_SEEN);
	assert_int_equal(asf_stats.tls_skipped, 1);

	/* Later bytes, either direction: still TLS, not counted again. */
	asf_fd_sniff(fd, ASF_FDF_OUT_SEEN, app_data_12, sizeof app_data_12);
	w = asf_fd_sniff(fd, ASF_FDF_IN_SEEN, app_data_12, sizeof app_data_12);
	assert_int_equal(w & ASF_FD_KIND_MASK, ASF_FD_TLS);
	assert_int_equal(asf_fd_word(fd) & ASF_FD_KIND_MASK, ASF_FD_TLS);
	assert_int_equal(asf_stats.tls_skipped, 1);
	/* Its peer is a separate fd: untouched. */
	assert_int_equal(asf_fd_word(sv[1]), ASF_FD_STREAM);
}

static void sniff_tls_inbound(void **state)
{
	(void)state;
	int fd = sv[1];
	uint32_t w = asf_fd_sniff(fd, ASF_FDF_IN_SEEN, client_hello, 3);
	assert_int_equal(w & ASF_FD_KIND_MASK, ASF_FD_TLS);
	assert_int_equal(asf_fd_word(fd), ASF_FD_TLS | ASF_FDF_IN_SEEN);
	assert_int_equal(asf_stats.tls_skipped, 1);
}

static void sniff_http_leaves_stream(void **state)
{
	(void)state;
	int fd = sv[0];
	static const char http[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
	uint32_t w = asf_fd_sniff(fd, ASF_FDF_OUT_SEEN, http, sizeof http - 1);
	assert_int_equal(w, ASF_FD_STREAM | ASF_FDF_OUT_SEEN);
	assert_int_equal(asf_fd_word(fd), ASF_FD_STREAM | ASF_FDF_OUT_SEEN);
	assert_int_equal(asf_stats.tls_skipped, 0);
}

static void sniff_only_first_call_per_direction(void **state)
{
	(void)state;
	int fd = sv[0];
	static const char req[] = "GET / HTTP/1.1\r\n";
	/* Outbound: plain first, then TLS-looking bytes (a file that happens to start 16 03):
	 * the first bytes decided, later ones are data. */
	asf_fd_sniff(fd, ASF_FDF_OUT_SEEN, "HTTP/1.0 200", 12);
	uint32_t w = asf_fd_sniff(fd, ASF_FDF_OUT_SEEN, client_hello, sizeof client_hello);
	assert_int_equal(w & ASF_FD_KIND_MASK, ASF_FD_STREAM);
	assert_int_equal(asf_fd_word(fd), ASF_FD_STREAM | ASF_FDF_OUT_SEEN);
	assert_int_equal(asf_stats.tls_skipped, 0);

	/* Inbound is inspected on its own: plain first, later TLS bytes ignored too. */
	asf_fd_sniff(fd, ASF_FDF_IN_SEEN, req, sizeof req - 1);
	asf_fd_sniff(fd, ASF_FDF_IN_SEEN, client_hello, sizeof client_hello);
	assert_int_equal(asf_fd_word(fd), ASF_FD_STREAM | ASF_FDF_OUT_SEEN | ASF_FDF_IN_SEEN);
	assert_int_equal(asf_stats.tls_skipped, 0);

	/* The other socket: plain outbound first, then a TLS first inbound: that marks it. */
	int fd2 = sv[1];
	asf_fd_sniff(fd2, ASF_FDF_OUT_SEEN, req, sizeof req - 1);
	assert_int_equal(asf_fd_word(fd2) & ASF_FD_KIND_MASK, ASF_FD_STREAM);
	asf_fd_sniff(fd2, ASF_FDF_IN_SEEN, alert_12, sizeof alert_12);
	assert_int_equal(asf_fd_word(fd2), ASF_FD_TLS | ASF_FDF_OUT_SEEN | ASF_FDF_IN_SEEN);
	assert_int_equal(asf_stats.tls_skipped, 1);
}

static void sniff_ignores_non_stream(void **state)
{
	(void)state;
	int p[2];
	assert_int_equal(pipe(p), 0);
	assert_int_equal(asf_fd_classify(p[1]), ASF_FD_OTHER);
	asf_fd_sniff(p[1], ASF_FDF_OUT_SEEN, client_hello, sizeof client_hello);
	assert_int_equal(asf_fd_word(p[1]) & ASF_FD_KIND_MASK, ASF_FD_OTHER);
	assert_int_equal(asf_stats.tls_skipped, 0);
	asf_fd_forget(p[0]);
	asf_fd_forget(p[1]);
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(records_are_tls),
		cmocka_unit_test(short_prefixes),
		cmocka_unit_test(plain_text_is_not_tls),
		cmocka_unit_test(wrong_versions_are_not_tls),
		cmocka_unit_test(empty_is_not_tls),
		cmocka_unit_test_setup_teardown(sniff_tls_marks_socket, open_pair, close_pair),
		cmocka_unit_test_setup_teardown(sniff_tls_inbound, open_pair, close_pair),
		cmocka_unit_test_setup_teardown(sniff_http_leaves_stream, open_pair, close_pair),
		cmocka_unit_test_setup_teardown(sniff_only_first_call_per_direction, open_pair,
						close_pair),
		cmocka_unit_test_setup_teardown(sniff_ignores_non_stream, open_pair, close_pair),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
