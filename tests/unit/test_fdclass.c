/* Unit tests: classification of the sockets accept() returns (asf_fd_classify_accepted):
 * one getsockopt for TCP, the same answer as a full asf_fd_classify; anything else is left
 * for classification at first use. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "fdclass.h"
#include "fdtable.h"

/* A connected TCP pair on 127.0.0.1 (domain AF_INET or AF_INET6): *srv is the accepted end. */
static void tcp_pair(int domain, int *cli, int *srv)
{
	int l = socket(domain, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(l >= 0);
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	if (domain == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof *a;
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		len = sizeof *a;
	}
	if (bind(l, (struct sockaddr *)&ss, len) != 0) {
		close(l);
		skip(); /* no ::1 here */
	}
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&ss, &len), 0);
	*cli = socket(domain, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(*cli >= 0);
	assert_int_equal(connect(*cli, (struct sockaddr *)&ss, len), 0);
	*srv = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	assert_true(*srv >= 0);
	close(l);
}

static void check_tcp(int domain)
{
	int cli, srv;
	tcp_pair(domain, &cli, &srv);
	asf_fd_set(srv, ASF_FD_OTHER, 0, 0); /* a stale entry the accept must replace */
	asf_fd_classify_accepted(srv);
	uint32_t fast = asf_fd_word(srv);
	asf_fd_forget(srv);
	uint32_t full = asf_fd_classify(srv);
	assert_int_equal(fast, ASF_FD_STREAM);
	assert_int_equal(fast, full);
	asf_fd_forget(srv);
	close(cli);
	close(srv);
}

static void accepted_tcp4_is_stream(void **state)
{
	(void)state;
	check_tcp(AF_INET);
}

static void accepted_tcp6_is_stream(void **state)
{
	(void)state;
	check_tcp(AF_INET6);
}

/* Not TCP: left unknown (a unix stream socket is then classified in full at first use; a
 * unix SEQPACKET socket must never be taken for a stream). */
static void accepted_unix_left_unknown(void **state)
{
	(void)state;
	int types[] = { SOCK_STREAM, SOCK_SEQPACKET };
	uint32_t want_full[] = { ASF_FD_STREAM, ASF_FD_OTHER };
	for (int i = 0; i < 2; i++) {
		int sv[2];
		assert_int_equal(socketpair(AF_UNIX, types[i] | SOCK_CLOEXEC, 0, sv), 0);
		asf_fd_set(sv[0], ASF_FD_STREAM, 0, 0); /* stale */
		asf_fd_classify_accepted(sv[0]);
		assert_int_equal(asf_fd_word(sv[0]), ASF_FD_UNKNOWN);
		assert_int_equal(asf_fd_classify(sv[0]), want_full[i]);
		asf_fd_forget(sv[0]);
		close(sv[0]);
		close(sv[1]);
	}
}

/* UDP answers nothing at the TCP level either. */
static void udp_left_unknown(void **state)
{
	(void)state;
	int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(u >= 0);
	asf_fd_classify_accepted(u);
	assert_int_equal(asf_fd_word(u), ASF_FD_UNKNOWN);
	assert_int_equal(asf_fd_classify(u), ASF_FD_OTHER);
	asf_fd_forget(u);
	close(u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(accepted_tcp4_is_stream),
		cmocka_unit_test(accepted_tcp6_is_stream),
		cmocka_unit_test(accepted_unix_left_unknown),
		cmocka_unit_test(udp_left_unknown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
