/* Unit tests: classification of the sockets accept() returns (asf_fd_classify_accepted):
 * one getsockopt for TCP, the same answer as a full asf_fd_classify; anything else is left
 * for classification at first use. And files: the file system verdict cached per mount
 * (by its unique mount id, never by st_dev) and the fstat fallback where statx is filtered. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fdclass.h"
#include "fdtable.h"
#include "stats.h"

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

/* The kind of the file at path, classified afresh. */
static uint32_t kind_of(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0xffu;
	asf_fd_forget(fd);
	uint32_t k = asf_fd_classify(fd) & ASF_FD_KIND_MASK;
	asf_fd_forget(fd);
	close(fd);
	return k;
}

static const char *tmp_file(void)
{
	static char p[4096];
	const char *dir = getenv("TMPDIR");
	snprintf(p, sizeof p, "%s/asf-fdclass-XXXXXX", dir && *dir ? dir : "/tmp");
	int fd = mkstemp(p);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x", 1), 1);
	close(fd);
	return p;
}

/* Kernel TLS put on a connection after its classification (the setsockopt wrapper on
 * TCP_ULP "tls"): a stream socket becomes TLS for good, keeping its flags, counted once; a
 * file is left alone. (The wrapper's own path needs the kernel's tls module: e2e
 * test_ktls.sh, skipped without it.) */
static void kernel_tls_marked_after_classification(void **state)
{
	(void)state;
	int cli, srv;
	tcp_pair(AF_INET, &cli, &srv);
	asf_fd_classify_accepted(srv);
	asf_fd_or_flags(srv, ASF_FDF_SNDTIMEO);
	uint64_t before = asf_stats.tls_skipped;
	asf_fd_mark_tls(srv);
	assert_int_equal(asf_fd_word(srv) & ASF_FD_KIND_MASK, ASF_FD_TLS);
	assert_true(asf_fd_word(srv) & ASF_FDF_SNDTIMEO);
	asf_fd_mark_tls(srv);
	assert_int_equal(asf_stats.tls_skipped, before + 1);
	int f = open(tmp_file(), O_RDONLY | O_CLOEXEC);
	assert_true(f >= 0);
	asf_fd_forget(f);
	assert_int_equal(asf_fd_classify(f) & ASF_FD_KIND_MASK, ASF_FD_FILE);
	asf_fd_mark_tls(f);
	assert_int_equal(asf_fd_word(f) & ASF_FD_KIND_MASK, ASF_FD_FILE);
	assert_int_equal(asf_stats.tls_skipped, before + 1);
	asf_fd_forget(f);
	asf_fd_forget(srv);
	close(f);
	close(cli);
	close(srv);
}

/* Answers cached per mount stay apart: a page-cache file, a procfs file (regular, not a
 * source), each asked twice in turn. */
static void file_verdicts_per_mount(void **state)
{
	(void)state;
	const char *f = tmp_file();
	for (int i = 0; i < 3; i++) {
		assert_int_equal(kind_of(f), ASF_FD_FILE);
		assert_int_equal(kind_of("/proc/self/status"), ASF_FD_OTHER);
	}
	unlink(f);
}

/* In a child: a file system at dir, a file on it, its kind. */
static int child_mount_kind(const char *dir, const char *type, const char *file)
{
	if (mount(type, dir, type, 0, NULL) != 0)
		return -1;
	char p[4200];
	snprintf(p, sizeof p, "%s/%s", dir, file);
	if (!strcmp(type, "tmpfs")) {
		int fd = open(p, O_WRONLY | O_CREAT, 0600);
		if (fd < 0 || write(fd, "x", 1) != 1)
			return -1;
		close(fd);
	}
	return (int)kind_of(p);
}

/* A mount replaced at the same place by one of another type: the old mount's answer must
 * not be taken for the new one's, though an unmount frees its device number for the next
 * (what a cache keyed by st_dev would get wrong). Needs a private mount namespace (root). */
static void new_mount_gets_its_own_verdict(void **state)
{
	(void)state;
	char dir[4096];
	const char *t = getenv("TMPDIR");
	snprintf(dir, sizeof dir, "%s/asf-mnt-XXXXXX", t && *t ? t : "/tmp");
	assert_non_null(mkdtemp(dir));
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
			_exit(77);
		for (int round = 0; round < 3; round++) {
			if (child_mount_kind(dir, "tmpfs", "f") != ASF_FD_FILE)
				_exit(round == 0 ? 77 : 1);
			if (umount(dir) != 0)
				_exit(1);
			int k = child_mount_kind(dir, "proc", "self/status");
			if (k < 0)
				_exit(77);
			if (k != ASF_FD_OTHER)
				_exit(2);
			if (umount(dir) != 0)
				_exit(1);
		}
		_exit(0);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	rmdir(dir);
	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) == 77)
		skip();
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* statx refused by a seccomp filter (EPERM, as container runtimes did): the same answers
 * through fstat. */
static void statx_filtered_falls_back(void **state)
{
	(void)state;
	const char *f = tmp_file();
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sock_filter prog[] = {
			BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_statx, 0, 1),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		};
		struct sock_fprog fp = { sizeof prog / sizeof prog[0], prog };
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
		    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fp) != 0)
			_exit(77);
		struct stat sb;
		if (syscall(SYS_statx, 0, "", AT_EMPTY_PATH, 0, &sb) == 0 || errno != EPERM)
			_exit(3); /* the filter does not work as meant */
		for (int i = 0; i < 2; i++)
			if (kind_of(f) != ASF_FD_FILE || kind_of("/proc/self/status") != ASF_FD_OTHER)
				_exit(1);
		_exit(0);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	unlink(f);
	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) == 77)
		skip();
	assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(accepted_tcp4_is_stream),
		cmocka_unit_test(accepted_tcp6_is_stream),
		cmocka_unit_test(accepted_unix_left_unknown),
		cmocka_unit_test(udp_left_unknown),
		cmocka_unit_test(kernel_tls_marked_after_classification),
		cmocka_unit_test(file_verdicts_per_mount),
		cmocka_unit_test(new_mount_gets_its_own_verdict),
		cmocka_unit_test(statx_filtered_falls_back),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
