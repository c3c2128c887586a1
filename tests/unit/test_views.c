/* Unit tests: file views (views.c): one view per file, references, retirement when the
 * program closes its last descriptor (and not before the last user leaves), the private
 * descriptor (close-on-exec, above the soft RLIMIT_NOFILE), the hooks the close/dup2/
 * close_range wrappers use, and the clean slate a forked child gets. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fdclass.h"
#include "fdtable.h"
#include "real.h"
#include "views.h"

#define SIZE 10000

static char paths[2 * ASF_VIEWS_MAX + 64][4096];
static int npaths;

/* A new file of `size` bytes (byte i = i*13 + seed); its path index. */
static int new_file(size_t size, unsigned seed)
{
	const char *dir = getenv("TMPDIR");
	char *p = paths[npaths];
	snprintf(p, sizeof paths[0], "%s/asf-views-XXXXXX", dir && *dir ? dir : "/tmp");
	int fd = mkstemp(p);
	assert_true(fd >= 0);
	unsigned char *data = malloc(size + 1);
	for (size_t i = 0; i < size; i++)
		data[i] = (unsigned char)(i * 13u + seed);
	assert_int_equal(write(fd, data, size), (ssize_t)size);
	free(data);
	close(fd);
	return npaths++;
}

/* The program opens a file: a descriptor the fd table knows as a FILE. */
static int open_file(int idx)
{
	int fd = open(paths[idx], O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(asf_fd_classify(fd) & ASF_FD_KIND_MASK, ASF_FD_FILE);
	return fd;
}

/* The program closes it: what the close wrapper does to the table. */
static void close_file(int fd)
{
	asf_fd_forget(fd);
	close(fd);
}

static int priv_fd(asf_view_id id)
{
	struct asf_view *v = asf_view_get(id);
	assert_non_null(v);
	int fd = asf_view_fd(v);
	asf_view_put(v);
	return fd;
}

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

static bool same_file(int a, int b)
{
	struct stat sa, sb;
	return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

static int group_setup(void **state)
{
	(void)state;
	return asf_real_bind() ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	for (int i = 0; i < npaths; i++)
		unlink(paths[i]);
	return 0;
}

static void one_view_per_file(void **state)
{
	(void)state;
	int f1 = new_file(SIZE, 1), f2 = new_file(SIZE, 2);
	int a = open_file(f1), b = open_file(f1), c = open_file(f2);
	asf_view_id va = asf_view_for_fd(a);
	assert_true(va != 0);
	assert_int_equal(asf_fd_view(a), va);
	assert_int_equal(asf_view_for_fd(a), va); /* again: the same, no new link */
	assert_int_equal(asf_view_for_fd(b), va); /* another open of the same file */
	asf_view_id vc = asf_view_for_fd(c);
	assert_true(vc != 0);
	assert_true(vc != va);

	struct asf_view *v = asf_view_get(va);
	assert_non_null(v);
	assert_int_equal(v->links, 2);
	assert_int_equal(v->maplen, SIZE);
	assert_true(same_file(asf_view_fd(v), a));
	assert_true(asf_view_fd(v) != a && asf_view_fd(v) != b);
	/* The mapping shows the file's bytes; ranges past it are not there. */
	const unsigned char *p = asf_view_bytes(v, 100, 50);
	assert_non_null(p);
	for (size_t i = 0; i < 50; i++)
		assert_int_equal(p[i], (unsigned char)((100 + i) * 13u + 1));
	assert_non_null(asf_view_bytes(v, 0, SIZE));
	assert_null(asf_view_bytes(v, 0, SIZE + 1));
	assert_null(asf_view_bytes(v, SIZE - 1, 2));
	assert_null(asf_view_bytes(v, -1, 1));
	assert_null(asf_view_bytes(v, SIZE + 1, 0));
	asf_view_put(v);

	/* A dup links too (asf_fd_copy, the dup wrappers). */
	int d = dup(a);
	asf_fd_copy(a, d);
	assert_int_equal(asf_fd_view(d), va);
	v = asf_view_get(va);
	assert_int_equal(v->links, 3);
	asf_view_put(v);

	close_file(a);
	close_file(b);
	close_file(c);
	close_file(d);
	assert_null(asf_view_get(va));
	assert_null(asf_view_get(vc));
}

static void no_view_for_what_cannot_be_mapped(void **state)
{
	(void)state;
	int empty = open_file(new_file(0, 0));
	assert_int_equal(asf_view_for_fd(empty), 0);
	assert_int_equal(asf_fd_view(empty), 0);
	close_file(empty);
	int p[2];
	assert_int_equal(pipe(p), 0);
	asf_fd_classify(p[0]);
	assert_int_equal(asf_view_for_fd(p[0]), 0);
	close_file(p[0]);
	close_file(p[1]);
	assert_int_equal(asf_view_for_fd(-1), 0);
}

static void get_put_refcounts(void **state)
{
	(void)state;
	int fd = open_file(new_file(SIZE, 3));
	asf_view_id id = asf_view_for_fd(fd);
	assert_true(id != 0);
	struct asf_view *v = asf_view_get(id);
	assert_non_null(v);
	assert_int_equal(v->refs, 1);
	assert_ptr_equal(asf_view_get(id), v);
	assert_int_equal(v->refs, 2);
	asf_view_put(v);
	assert_int_equal(v->refs, 1);
	asf_view_put(v);
	assert_int_equal(v->refs, 0);
	/* A stale or foreign id gives nothing and leaves no reference behind. */
	assert_null(asf_view_get(id + 1));
	assert_null(asf_view_get(id & 0xffffffffu)); /* slot 0 means none */
	assert_null(asf_view_get((uint64_t)(ASF_VIEWS_MAX + 1) << 32 | 1));
	assert_null(asf_view_get(0));
	assert_int_equal(v->refs, 0);
	close_file(fd);
}

static void retire_on_last_unlink(void **state)
{
	(void)state;
	int f = new_file(SIZE, 4);
	int a = open_file(f), b = open_file(f);
	asf_view_id id = asf_view_for_fd(a);
	assert_int_equal(asf_view_for_fd(b), id);
	int pfd = priv_fd(id);
	assert_true(asf_view_owns_fd(pfd));
	close_file(a);
	/* b still names the file: the view stays. */
	assert_true(fd_open(pfd));
	assert_int_equal(asf_view_for_fd(b), id);
	close_file(b);
	/* The program has no descriptor of the file left: neither has the library. */
	assert_null(asf_view_get(id));
	assert_false(fd_open(pfd));
	assert_int_equal(errno, EBADF);
	assert_false(asf_view_owns_fd(pfd));
	/* A re-open makes a new view (a new generation, maybe the same slot). */
	int c = open_file(f);
	asf_view_id id2 = asf_view_for_fd(c);
	assert_true(id2 != 0 && id2 != id);
	close_file(c);
	assert_null(asf_view_get(id2));
}

/* The caches of views.c and what invalidates each. The mapping of a closed file is kept idle
 * (ASF_VIEW_LINGER_NS) for the next open: the same mapping, a new private descriptor. */
static const unsigned char *view_map(asf_view_id id)
{
	struct asf_view *v = asf_view_get(id);
	assert_non_null(v);
	const unsigned char *m = v->map;
	asf_view_put(v);
	return m;
}

static void idle_mapping_reused_on_reopen(void **state)
{
	(void)state;
	int f = new_file(SIZE, 21);
	int a = open_file(f);
	asf_view_id id = asf_view_for_fd(a);
	const unsigned char *m = view_map(id);
	int pfd = priv_fd(id);
	close_file(a);
	assert_false(fd_open(pfd)); /* no descriptor kept for a closed file */
	int b = open_file(f);
	asf_view_id id2 = asf_view_for_fd(b);
	assert_true(id2 != 0 && id2 != id);
	assert_ptr_equal(view_map(id2), m); /* the mapping (and its page tables) reused */
	assert_true(fd_open(priv_fd(id2)));
	close_file(b);
}

/* Invalidated: a file deleted while open is not kept past its close. */
static void deleted_file_not_kept(void **state)
{
	(void)state;
	int f = new_file(SIZE, 22);
	int a = open_file(f);
	asf_view_id id = asf_view_for_fd(a);
	struct asf_view *v = asf_view_get(id);
	assert_non_null(v);
	asf_view_put(v);
	assert_int_equal(unlink(paths[f]), 0);
	close_file(a);
	assert_int_equal(v->state, 0); /* VIEW_FREE: mapping and descriptor gone */
	assert_null(v->map);
}

/* Invalidated: a file that grew since its view was made gets a new, longer one. */
static void grown_file_new_view(void **state)
{
	(void)state;
	int f = new_file(SIZE, 23);
	int a = open_file(f);
	asf_view_id id = asf_view_for_fd(a);
	close_file(a);
	int w = open(paths[f], O_WRONLY | O_APPEND);
	assert_true(w >= 0);
	unsigned char more[4096] = { 1 };
	assert_int_equal(write(w, more, sizeof more), (ssize_t)sizeof more);
	close(w);
	int b = open_file(f);
	asf_view_id id2 = asf_view_for_fd(b);
	assert_true(id2 != 0 && id2 != id);
	struct asf_view *v = asf_view_get(id2);
	assert_non_null(v);
	assert_int_equal(v->maplen, SIZE + sizeof more);
	asf_view_put(v);
	close_file(b);
}

/* Invalidated: an idle mapping older than the linger time goes at the next housekeeping
 * (any view lookup or close). */
static void idle_mapping_expires(void **state)
{
	(void)state;
	int f = new_file(SIZE, 24), g = new_file(SIZE, 25);
	int a = open_file(f);
	asf_view_id id = asf_view_for_fd(a);
	struct asf_view *v = asf_view_get(id);
	asf_view_put(v);
	close_file(a);
	assert_int_equal(v->state, 3); /* VIEW_IDLE */
	struct timespec wait = { (time_t)(ASF_VIEW_LINGER_NS / 1000000000u), 200000000 };
	nanosleep(&wait, NULL);
	int b = open_file(g);
	assert_true(asf_view_for_fd(b) != 0); /* housekeeping runs here */
	assert_int_equal(v->state, 0);
	close_file(b);
}

static void in_use_view_stays_until_last_put(void **state)
{
	(void)state;
	int fd = open_file(new_file(SIZE, 5));
	asf_view_id id = asf_view_for_fd(fd);
	struct asf_view *v = asf_view_get(id);
	assert_non_null(v);
	int pfd = asf_view_fd(v);
	close_file(fd); /* last link gone while a write uses the view */
	assert_null(asf_view_get(id)); /* no new users */
	assert_true(fd_open(pfd));     /* the user's descriptor and mapping stay */
	const unsigned char *p = asf_view_bytes(v, 0, SIZE);
	assert_non_null(p);
	assert_int_equal(p[SIZE - 1], (unsigned char)((SIZE - 1) * 13u + 5));
	assert_true(asf_view_owns_fd(pfd));
	asf_view_put(v); /* the last user tears it down */
	assert_false(fd_open(pfd));
	assert_int_equal(v->state, 0); /* VIEW_FREE */
	assert_null(v->map);
	assert_int_equal(v->fd, -1);
}

static void private_fd_above_soft_limit(void **state)
{
	(void)state;
	struct rlimit old, now;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	if (old.rlim_max != RLIM_INFINITY && old.rlim_max < 1024)
		skip();
	struct rlimit low = { 200, old.rlim_max };
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	int fd = open_file(new_file(SIZE, 6));
	asf_view_id id = asf_view_for_fd(fd);
	assert_true(id != 0);
	int pfd = priv_fd(id);
	/* above every number the program can get, and close-on-exec */
	assert_true(pfd >= 200);
	assert_true(pfd < 200 + 4 * ASF_VIEWS_MAX);
	assert_true(fcntl(pfd, F_GETFD) & FD_CLOEXEC);
	/* the soft limit is back where the program set it */
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &now), 0);
	assert_int_equal(now.rlim_cur, 200);
	assert_int_equal(now.rlim_max, old.rlim_max);
	/* the program's own numbers stay below its limit */
	assert_true(fd < 200);
	close_file(fd);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
}

/* In a forked child (no cmocka there): the private descriptor of a new view of path, or
 * _exit(step) if the file cannot be opened and classified, _exit(step + 1) without a view. */
static int child_private_fd(const char *path, int step)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0 || (asf_fd_classify(fd) & ASF_FD_KIND_MASK) != ASF_FD_FILE)
		_exit(step);
	asf_view_id id = asf_view_for_fd(fd);
	if (!id)
		_exit(step + 1);
	struct asf_view *v = asf_view_get(id);
	int pfd = asf_view_fd(v);
	asf_view_put(v);
	return pfd;
}

/* Without room above the soft limit (soft == hard), the private descriptor takes a high
 * number below it; a limit lowered below that place is noticed. In a child: a lowered hard
 * limit cannot be raised again. */
static void private_fd_without_room(void **state)
{
	(void)state;
	int f = new_file(SIZE, 7), f2 = new_file(SIZE, 17);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit lim = { 512, 512 };
		if (setrlimit(RLIMIT_NOFILE, &lim) != 0)
			_exit(10);
		int pfd = child_private_fd(paths[f], 11);
		if (pfd < 256 || pfd >= 512)
			_exit(13);
		if (!(fcntl(pfd, F_GETFD) & FD_CLOEXEC))
			_exit(14);
		struct rlimit now;
		if (getrlimit(RLIMIT_NOFILE, &now) != 0 || now.rlim_cur != 512 || now.rlim_max != 512)
			_exit(15);
		/* The place is remembered (no prlimit per descriptor); a limit lowered below it
		 * makes the fcntl fail, and the limit is read again: the next one goes below 200. */
		struct rlimit lower = { 200, 200 };
		if (setrlimit(RLIMIT_NOFILE, &lower) != 0)
			_exit(16);
		int pfd2 = child_private_fd(paths[f2], 17);
		if (pfd2 < 100 || pfd2 >= 200)
			_exit(19);
		_exit(0);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) != 0)
		fail_msg("child failed at step %d", WEXITSTATUS(st));
}

static void owns_fd(void **state)
{
	(void)state;
	int fd = open_file(new_file(SIZE, 8));
	asf_view_id id = asf_view_for_fd(fd);
	int pfd = priv_fd(id);
	assert_true(asf_view_owns_fd(pfd));
	assert_false(asf_view_owns_fd(fd));
	assert_false(asf_view_owns_fd(-1));
	assert_false(asf_view_owns_fd(0));
	assert_false(asf_view_owns_fd(INT_MAX));
	assert_false(asf_view_owns_fd(pfd + 1));
	close_file(fd);
	assert_false(asf_view_owns_fd(pfd));
}

static void vacate_moves_the_view(void **state)
{
	(void)state;
	int fd = open_file(new_file(SIZE, 9));
	asf_view_id id = asf_view_for_fd(fd);
	int old = priv_fd(id);
	/* Not a private descriptor: nothing moves. */
	asf_view_vacate_fd(fd);
	assert_int_equal(priv_fd(id), old);
	/* The program is about to dup2 onto the private number. */
	errno = 1234;
	asf_view_vacate_fd(old);
	assert_int_equal(errno, 1234);
	int moved = priv_fd(id);
	assert_true(moved >= 0);
	assert_true(moved != old);
	assert_true(same_file(moved, fd)); /* still the same file */
	assert_true(fcntl(moved, F_GETFD) & FD_CLOEXEC);
	assert_true(asf_view_owns_fd(moved));
	assert_false(asf_view_owns_fd(old));
	assert_true(fd_open(old)); /* the number itself is left for the dup2 to replace */
	close(old);
	struct asf_view *v = asf_view_get(id);
	assert_non_null(v); /* still live */
	asf_view_put(v);
	close_file(fd);
	assert_false(fd_open(moved));
}

static void fds_in_range(void **state)
{
	(void)state;
	int a = open_file(new_file(SIZE, 10)), b = open_file(new_file(SIZE, 11));
	int pa = priv_fd(asf_view_for_fd(a)), pb = priv_fd(asf_view_for_fd(b));
	int lo = pa < pb ? pa : pb, hi = pa < pb ? pb : pa;
	int out[ASF_VIEWS_MAX];
	int n = asf_view_fds_in(0, UINT_MAX, out, ASF_VIEWS_MAX);
	assert_int_equal(n, 2);
	assert_int_equal(out[0], lo);
	assert_int_equal(out[1], hi);
	assert_int_equal(asf_view_fds_in((unsigned)lo, (unsigned)lo, out, ASF_VIEWS_MAX), 1);
	assert_int_equal(out[0], lo);
	assert_int_equal(asf_view_fds_in((unsigned)lo + 1, (unsigned)hi, out, ASF_VIEWS_MAX), 1);
	assert_int_equal(out[0], hi);
	assert_int_equal(asf_view_fds_in(0, (unsigned)lo - 1, out, ASF_VIEWS_MAX), 0);
	assert_int_equal(asf_view_fds_in((unsigned)hi + 1, UINT_MAX, out, ASF_VIEWS_MAX), 0);
	assert_int_equal(asf_view_fds_in(0, UINT_MAX, out, 1), 1);
	close_file(a);
	close_file(b);
	assert_int_equal(asf_view_fds_in(0, UINT_MAX, out, ASF_VIEWS_MAX), 0);
}

/* A full table: a new file evicts a view nobody uses right now; with every view in use it
 * gets none. */
static void full_table(void **state)
{
	(void)state;
	int fds[ASF_VIEWS_MAX + 1];
	struct asf_view *held[ASF_VIEWS_MAX];
	for (int i = 0; i < ASF_VIEWS_MAX; i++) {
		fds[i] = open_file(new_file(100, (unsigned)i));
		asf_view_id id = asf_view_for_fd(fds[i]);
		assert_true(id != 0);
		held[i] = asf_view_get(id);
		assert_non_null(held[i]);
	}
	fds[ASF_VIEWS_MAX] = open_file(new_file(100, 99));
	assert_int_equal(asf_view_for_fd(fds[ASF_VIEWS_MAX]), 0);
	asf_view_put(held[7]);
	asf_view_id id = asf_view_for_fd(fds[ASF_VIEWS_MAX]);
	assert_true(id != 0);
	assert_true(asf_view_get(asf_fd_view(fds[7])) == NULL); /* 7 was the victim */
	for (int i = 0; i < ASF_VIEWS_MAX; i++)
		if (i != 7)
			asf_view_put(held[i]);
	for (int i = 0; i <= ASF_VIEWS_MAX; i++)
		close_file(fds[i]);
	int out[ASF_VIEWS_MAX];
	assert_int_equal(asf_view_fds_in(0, UINT_MAX, out, ASF_VIEWS_MAX), 0);
}

static void fork_child_drops_views(void **state)
{
	(void)state;
	int a = open_file(new_file(SIZE, 12)), b = open_file(new_file(SIZE, 13));
	asf_view_id va = asf_view_for_fd(a), vb = asf_view_for_fd(b);
	int pa = priv_fd(va), pb = priv_fd(vb);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		asf_views_after_fork_child();
		DIR *d = opendir("/proc/self/fd");
		if (!d)
			_exit(10);
		struct dirent *e;
		bool saw_a = false;
		while ((e = readdir(d))) {
			int n = atoi(e->d_name);
			if (n == pa || n == pb)
				_exit(11); /* a private descriptor survived */
			saw_a |= n == a;
		}
		closedir(d);
		if (!saw_a)
			_exit(12); /* the program's own descriptors stay */
		if (asf_view_get(va) || asf_view_get(vb))
			_exit(13);
		int out[4];
		if (asf_view_fds_in(0, UINT_MAX, out, 4) != 0)
			_exit(14);
		/* and the table works again (its lock was released) */
		asf_view_id again = asf_view_for_fd(a);
		if (!again || again == va)
			_exit(15);
		_exit(0);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) != 0)
		fail_msg("child failed at step %d", WEXITSTATUS(st));
	/* The parent's views are untouched. */
	assert_true(fd_open(pa));
	assert_int_equal(priv_fd(va), pa);
	close_file(a);
	close_file(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(one_view_per_file),
		cmocka_unit_test(no_view_for_what_cannot_be_mapped),
		cmocka_unit_test(get_put_refcounts),
		cmocka_unit_test(retire_on_last_unlink),
		cmocka_unit_test(idle_mapping_reused_on_reopen),
		cmocka_unit_test(deleted_file_not_kept),
		cmocka_unit_test(grown_file_new_view),
		cmocka_unit_test(idle_mapping_expires),
		cmocka_unit_test(in_use_view_stays_until_last_put),
		cmocka_unit_test(private_fd_above_soft_limit),
		cmocka_unit_test(private_fd_without_room),
		cmocka_unit_test(owns_fd),
		cmocka_unit_test(vacate_moves_the_view),
		cmocka_unit_test(fds_in_range),
		cmocka_unit_test(full_table),
		cmocka_unit_test(fork_child_drops_views),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
