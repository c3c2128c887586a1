/* Unit tests: content claims of framed streams (content.c, interior.c, source.c). A file is
 * read 256 KiB at a time into one buffer, as a framing daemon reads it; frames of a header
 * and a piece copied from the middle of that read are asked about as the single-buffer
 * engine asks (split allowed) and as a vectored part (no split). Asserted: the first frame
 * is found inside the read whatever its header (up to the scan's 2 KiB), the next ones by
 * the prediction, across the boundary of two reads too; every byte claimed is the file's
 * (a byte changed in a piece is either left in the program's part, before the split, or no
 * claim is made); a piece whose file was closed is not claimed; a vectored part is never
 * split. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "fdclass.h"
#include "fdtable.h"
#include "real.h"
#include "records.h"
#include "redirect.h"
#include "signals.h"
#include "source.h"

#define FILE_LEN (1u << 20)
#define READ (256u * 1024u)
#define PIECE 32768u

static char path[4096];
static int fd = -1;
static unsigned char *file, *rbuf, *proto;

static int setup(void **state)
{
	(void)state;
	if (!asf_real_bind())
		return -1;
	asf_signals_init();
	const char *dir = getenv("TMPDIR");
	snprintf(path, sizeof path, "%s/asf-content-XXXXXX", dir && *dir ? dir : "/tmp");
	fd = mkstemp(path);
	file = malloc(FILE_LEN);
	rbuf = malloc(READ);
	proto = malloc(8192 + PIECE);
	if (fd < 0 || !file || !rbuf || !proto)
		return -1;
	uint64_t x = 88172645463325252ull; /* xorshift: no word repeats */
	for (size_t i = 0; i < FILE_LEN; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		file[i] = (unsigned char)x;
	}
	if (pwrite(fd, file, FILE_LEN, 0) != (ssize_t)FILE_LEN ||
	    (asf_fd_classify(fd) & ASF_FD_KIND_MASK) != ASF_FD_FILE)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	asf_fd_forget(fd);
	close(fd);
	unlink(path);
	free(file);
	free(rbuf);
	free(proto);
	return 0;
}

/* read(fd, rbuf, READ) at off, as wrap_read.c tells the engine. */
static void read_at(off_t off)
{
	uint64_t gen = asf_fd_gen(fd);
	assert_int_equal(pread(fd, rbuf, READ, off), (ssize_t)READ);
	asf_after_file_read(fd, rbuf, READ, off, gen);
}

/* A frame: hlen bytes of header ('H'), then the file's bytes at off, len of them. */
static size_t frame(size_t hlen, off_t off, size_t len)
{
	memset(proto, 'H', hlen);
	memcpy(proto + hlen, file + off, len);
	return hlen + len;
}

/* What the engine would send for proto[0..n): true with the split and offset found, whose
 * bytes (from the split on) must be the file's. */
static bool ask(size_t n, bool split, size_t *skip, off_t *off)
{
	struct asf_thread *t = asf_thread_get(true);
	assert_non_null(t);
	asf_activation_enter(t);
	struct asf_source s;
	unsigned how = ASF_SRC_CONTENT | ASF_SRC_COMPARE | (split ? ASF_SRC_SPLIT : 0);
	bool ok = asf_source_open_as(t, proto, n, how, &s);
	if (ok) {
		*skip = s.skip;
		*off = s.off;
		assert_true(asf_source_prove(&s, s.buf, n - s.skip));
		assert_true(s.off >= 0 && (size_t)s.off + (n - s.skip) <= FILE_LEN);
		assert_memory_equal(proto + s.skip, file + s.off, n - s.skip);
		asf_source_close(&s);
	}
	asf_activation_leave(t);
	return ok;
}

static void fresh(void)
{
	struct asf_thread *t = asf_thread_get(true);
	for (int i = 0; i < ASF_RECORDS_PER_THREAD; i++)
		asf_record_drop(&t->rec[i]);
	asf_content_clear(t);
}

/* A stream of frames from `start` on, through reads of READ bytes: every frame found, at the
 * right offset, after its header. */
static void stream(size_t hlen, off_t start, bool split)
{
	fresh();
	off_t next_read = 0;
	for (off_t at = start; at + PIECE <= 3 * READ; at += PIECE) {
		while (next_read < at + (off_t)PIECE) { /* the read the piece ends in */
			read_at(next_read);
			next_read += READ;
		}
		size_t skip = 99;
		off_t off = -1;
		assert_true(ask(frame(hlen, at, PIECE), split, &skip, &off));
		assert_int_equal(skip, hlen);
		assert_int_equal(off, at);
	}
}

static void frames_inside_reads(void **state)
{
	(void)state;
	static const size_t headers[] = { 1, 8, 13, 1501, 2047 };
	for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++)
		stream(headers[i], 1000, true);
	stream(8, 777, true);
	stream(0, 4097, false); /* a vectored part: the piece alone */
	stream(0, 4097, true);
}

static void never_wrong(void **state)
{
	(void)state;
	size_t skip;
	off_t off;
	/* A byte changed anywhere, in a first frame or a predicted one: either no claim, or
	 * the byte is left before the split (sent by the program's own call). */
	static const size_t where[] = { 0, 7, 2048, 20000, PIECE - 1 };
	for (size_t i = 0; i < sizeof where / sizeof where[0]; i++) {
		for (int predicted = 0; predicted < 2; predicted++) {
			fresh();
			read_at(0);
			if (predicted)
				assert_true(ask(frame(8, 1000, PIECE), true, &skip, &off));
			size_t n = frame(8, 1000 + (predicted ? PIECE : 0), PIECE);
			proto[8 + where[i]] ^= 1;
			if (ask(n, true, &skip, &off))
				assert_true(skip > 8 + where[i]);
		}
	}
	/* A vectored part is never split: a header before the piece, no claim. */
	fresh();
	read_at(0);
	assert_false(ask(frame(8, 1000, PIECE), false, &skip, &off));
	/* A header longer than the scan reaches: not found (a documented limit). */
	fresh();
	read_at(0);
	assert_false(ask(frame(4200, 1000, PIECE), true, &skip, &off));
	/* The file closed since the read: no claim (sends go from the program's descriptor). */
	fresh();
	read_at(0);
	asf_fd_forget(fd);
	assert_false(ask(frame(8, 1000, PIECE), true, &skip, &off));
	assert_true((asf_fd_classify(fd) & ASF_FD_KIND_MASK) == ASF_FD_FILE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(frames_inside_reads, setup, teardown),
		cmocka_unit_test_setup_teardown(never_wrong, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
