/* Unit tests: byte-count parsing and the AUTOSENDFILE_* environment parser (config.c). */
#define _GNU_SOURCE
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "autosendfile.h"
#include "config.h"

/* ---- asf_parse_size ---------------------------------------------------------------- */

static void expect_size(const char *s, size_t want)
{
	size_t v = 12345;
	if (!asf_parse_size(s, &v))
		fail_msg("asf_parse_size(\"%s\") rejected, wanted %zu", s, want);
	if (v != want)
		fail_msg("asf_parse_size(\"%s\") = %zu, wanted %zu", s, v, want);
}

static void expect_bad_size(const char *s)
{
	size_t v = 12345;
	if (asf_parse_size(s, &v))
		fail_msg("asf_parse_size(\"%s\") accepted (%zu), wanted a rejection", s, v);
	assert_int_equal(v, 12345); /* untouched on failure */
}

static void parse_size_digits(void **state)
{
	(void)state;
	expect_size("0", 0);
	expect_size("1", 1);
	expect_size("4096", 4096);
	expect_size("000123", 123);
	expect_size("18446744073709551615", SIZE_MAX); /* UINT64_MAX itself fits (64-bit) */
}

static void parse_size_suffixes(void **state)
{
	(void)state;
	expect_size("1K", 1024);
	expect_size("5k", 5 * 1024);
	expect_size("64K", 65536);
	expect_size("1M", 1024 * 1024);
	expect_size("3m", 3u * 1024 * 1024);
	expect_size("0K", 0);
	expect_size("16777215M", (size_t)16777215 * 1024 * 1024);
}

static void parse_size_rejects(void **state)
{
	(void)state;
	size_t v = 7;
	assert_false(asf_parse_size(NULL, &v));
	expect_bad_size("");
	expect_bad_size("-1");
	expect_bad_size("+1");
	expect_bad_size(" 5");
	expect_bad_size("5 ");
	expect_bad_size("5x");
	expect_bad_size("5KB");
	expect_bad_size("5G");
	expect_bad_size("K");
	expect_bad_size("1.5");
	expect_bad_size("0x10");
	expect_bad_size("99999999999999999999");  /* > UINT64_MAX */
	expect_bad_size("18446744073709551616");  /* UINT64_MAX + 1 */
	expect_bad_size("18014398509481984K");    /* 2^54 K = 2^64 */
	expect_bad_size("17592186044416M");       /* 2^44 M = 2^64 */
}

/* ---- asf_config_parse with a fake environment --------------------------------------- */

#define MAX_VARS 8
static const char *env_names[MAX_VARS];
static const char *env_values[MAX_VARS];
static int env_n;

static void env_clear(void)
{
	env_n = 0;
}

static void env_set(const char *name, const char *value)
{
	assert_true(env_n < MAX_VARS);
	env_names[env_n] = name;
	env_values[env_n] = value;
	env_n++;
}

static const char *fake_getenv(const char *name)
{
	for (int i = 0; i < env_n; i++)
		if (strcmp(env_names[i], name) == 0)
			return env_values[i];
	return NULL;
}

/* A config full of junk, so that a parse that forgets a field is caught. */
static void dirty(struct asf_config *c)
{
	memset(c, 0x5a, sizeof *c);
	c->stats_path[0] = 'x';
	c->stats_path[1] = '\0';
}

static int parse(struct asf_config *c)
{
	dirty(c);
	return asf_config_parse(c, fake_getenv);
}

static void assert_defaults_except_env(const struct asf_config *c)
{
	assert_int_equal(c->min_bytes, AUTOSENDFILE_DEFAULT_MIN_BYTES);
	assert_int_equal(c->chunk, AUTOSENDFILE_DEFAULT_CHUNK);
	assert_int_equal(c->pressure, AUTOSENDFILE_DEFAULT_PRESSURE);
	assert_int_equal(c->log_level, ASF_LOG_WARN);
	assert_false(c->stats_stderr);
	assert_string_equal(c->stats_path, "");
}

static void config_defaults(void **state)
{
	(void)state;
	struct asf_config c;
	env_clear();
	assert_int_equal(parse(&c), 0);
	assert_true(c.enabled);
	assert_defaults_except_env(&c);
}

static void config_enable(void **state)
{
	(void)state;
	struct asf_config c;

	env_clear();
	env_set(AUTOSENDFILE_ENV_ENABLE, "0");
	assert_int_equal(parse(&c), 0);
	assert_false(c.enabled);
	assert_defaults_except_env(&c);

	env_clear();
	env_set(AUTOSENDFILE_ENV_ENABLE, "1");
	assert_int_equal(parse(&c), 0);
	assert_true(c.enabled);

	/* Anything else: one rejection, default (enabled). */
	static const char *const bad[] = { "", "yes", "00", " 0", "2", "-1" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		env_clear();
		env_set(AUTOSENDFILE_ENV_ENABLE, bad[i]);
		int r = parse(&c);
		if (r != 1)
			fail_msg("AUTOSENDFILE=\"%s\": %d rejections, wanted 1", bad[i], r);
		assert_true(c.enabled);
	}
}

struct size_case {
	const char *value;
	bool ok;
	size_t want; /* when ok */
};

static void check_size_var(const char *name, size_t dflt, const struct size_case *cases,
			   size_t ncases, size_t (*field)(const struct asf_config *))
{
	for (size_t i = 0; i < ncases; i++) {
		struct asf_config c;
		env_clear();
		env_set(name, cases[i].value);
		int r = parse(&c);
		size_t got = field(&c);
		if (cases[i].ok) {
			if (r != 0 || got != cases[i].want)
				fail_msg("%s=\"%s\": %d rejections, value %zu; wanted 0, %zu", name,
					 cases[i].value, r, got, cases[i].want);
		} else {
			if (r != 1 || got != dflt)
				fail_msg("%s=\"%s\": %d rejections, value %zu; wanted 1, default %zu",
					 name, cases[i].value, r, got, dflt);
		}
		assert_true(c.enabled);
	}
}

static size_t field_min_bytes(const struct asf_config *c)
{
	return c->min_bytes;
}

static size_t field_chunk(const struct asf_config *c)
{
	return c->chunk;
}

static size_t field_pressure(const struct asf_config *c)
{
	return c->pressure;
}

static void config_min_bytes(void **state)
{
	(void)state;
	static const struct size_case cases[] = {
		{ "1", true, 1 },
		{ "100", true, 100 },
		{ "16K", true, 16384 },
		{ "64M", true, AUTOSENDFILE_MIN_BYTES_MAX },
		{ "67108864", true, AUTOSENDFILE_MIN_BYTES_MAX },
		{ "", false, 0 },
		{ "-1", false, 0 },
		{ "-8192", false, 0 },
		{ "abc", false, 0 },
		{ "12abc", false, 0 },
		{ "99999999999999999999", false, 0 },
		{ "0", false, 0 },            /* below the range [1, 64M] */
		{ "67108865", false, 0 },     /* above */
		{ "65M", false, 0 },
	};
	check_size_var(AUTOSENDFILE_ENV_MIN_BYTES, AUTOSENDFILE_DEFAULT_MIN_BYTES, cases,
		       sizeof cases / sizeof cases[0], field_min_bytes);
}

static void config_chunk(void **state)
{
	(void)state;
	static const struct size_case cases[] = {
		{ "4096", true, AUTOSENDFILE_CHUNK_MIN },
		{ "4K", true, 4096 },
		{ "1M", true, 1024 * 1024 },
		{ "64M", true, AUTOSENDFILE_CHUNK_MAX },
		{ "", false, 0 },
		{ "-1", false, 0 },
		{ "-65536", false, 0 },
		{ "big", false, 0 },
		{ "1M2", false, 0 },
		{ "99999999999999999999", false, 0 },
		{ "0", false, 0 },
		{ "4095", false, 0 },     /* below the range [4096, 64M] */
		{ "3K", false, 0 },
		{ "67108865", false, 0 }, /* above */
		{ "1024M", false, 0 },
	};
	check_size_var(AUTOSENDFILE_ENV_CHUNK, AUTOSENDFILE_DEFAULT_CHUNK, cases,
		       sizeof cases / sizeof cases[0], field_chunk);
}

/* AUTOSENDFILE_PRESSURE: 0 (redirect every write worth it) up to 64M. */
static void config_pressure(void **state)
{
	(void)state;
	static const struct size_case cases[] = {
		{ "0", true, 0 },
		{ "1", true, 1 },
		{ "32K", true, 32 * 1024 },
		{ "64M", true, AUTOSENDFILE_PRESSURE_MAX },
		{ "", false, 0 },
		{ "-1", false, 0 },
		{ "always", false, 0 },
		{ "67108865", false, 0 }, /* above the range */
	};
	check_size_var(AUTOSENDFILE_ENV_PRESSURE, AUTOSENDFILE_DEFAULT_PRESSURE, cases,
		       sizeof cases / sizeof cases[0], field_pressure);
}

/* Each bad variable counts once, and good ones next to them still apply. */
static void config_counts_each_rejection(void **state)
{
	(void)state;
	struct asf_config c;

	env_clear();
	env_set(AUTOSENDFILE_ENV_MIN_BYTES, "-5");
	env_set(AUTOSENDFILE_ENV_CHUNK, "junk");
	assert_int_equal(parse(&c), 2);
	assert_int_equal(c.min_bytes, AUTOSENDFILE_DEFAULT_MIN_BYTES);
	assert_int_equal(c.chunk, AUTOSENDFILE_DEFAULT_CHUNK);

	env_clear();
	env_set(AUTOSENDFILE_ENV_MIN_BYTES, "32K");
	env_set(AUTOSENDFILE_ENV_CHUNK, "1");
	assert_int_equal(parse(&c), 1);
	assert_int_equal(c.min_bytes, 32768);
	assert_int_equal(c.chunk, AUTOSENDFILE_DEFAULT_CHUNK);

	env_clear();
	env_set(AUTOSENDFILE_ENV_ENABLE, "maybe");
	env_set(AUTOSENDFILE_ENV_LOG, "loud");
	env_set(AUTOSENDFILE_ENV_MIN_BYTES, "");
	env_set(AUTOSENDFILE_ENV_CHUNK, "99999999999999999999");
	env_set(AUTOSENDFILE_ENV_STATS, "");
	assert_int_equal(parse(&c), 5);
	assert_true(c.enabled);
	assert_defaults_except_env(&c);

	env_clear();
	env_set(AUTOSENDFILE_ENV_ENABLE, "0");
	env_set(AUTOSENDFILE_ENV_LOG, "debug");
	env_set(AUTOSENDFILE_ENV_MIN_BYTES, "1K");
	env_set(AUTOSENDFILE_ENV_CHUNK, "8K");
	env_set(AUTOSENDFILE_ENV_STATS, "stderr");
	assert_int_equal(parse(&c), 0);
	assert_false(c.enabled);
	assert_int_equal(c.log_level, ASF_LOG_DEBUG);
	assert_int_equal(c.min_bytes, 1024);
	assert_int_equal(c.chunk, 8192);
	assert_true(c.stats_stderr);
	assert_string_equal(c.stats_path, "");
}

static void config_log(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		int level;
	} levels[] = {
		{ "error", ASF_LOG_ERROR },
		{ "warn", ASF_LOG_WARN },
		{ "info", ASF_LOG_INFO },
		{ "debug", ASF_LOG_DEBUG },
	};
	struct asf_config c;
	for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++) {
		env_clear();
		env_set(AUTOSENDFILE_ENV_LOG, levels[i].name);
		assert_int_equal(parse(&c), 0);
		assert_int_equal(c.log_level, levels[i].level);
		assert_true(c.enabled);
	}
	static const char *const bad[] = { "verbose", "", "WARN", "warning", "3", "debug " };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		env_clear();
		env_set(AUTOSENDFILE_ENV_LOG, bad[i]);
		int r = parse(&c);
		if (r != 1 || c.log_level != ASF_LOG_WARN)
			fail_msg("AUTOSENDFILE_LOG=\"%s\": %d rejections, level %d; wanted 1, warn",
				 bad[i], r, c.log_level);
	}
	/* A level does not stick to the next parse. */
	env_clear();
	env_set(AUTOSENDFILE_ENV_LOG, "error");
	assert_int_equal(parse(&c), 0);
	env_clear();
	assert_int_equal(parse(&c), 0);
	assert_int_equal(c.log_level, ASF_LOG_WARN);
}

static void config_stats(void **state)
{
	(void)state;
	struct asf_config c;

	env_clear();
	env_set(AUTOSENDFILE_ENV_STATS, "stderr");
	assert_int_equal(parse(&c), 0);
	assert_true(c.stats_stderr);
	assert_string_equal(c.stats_path, "");

	env_clear();
	env_set(AUTOSENDFILE_ENV_STATS, "/var/tmp/asf stats.log");
	assert_int_equal(parse(&c), 0);
	assert_false(c.stats_stderr);
	assert_string_equal(c.stats_path, "/var/tmp/asf stats.log");

	char cwd[PATH_MAX], want[PATH_MAX + 32];
	assert_non_null(getcwd(cwd, sizeof cwd));
	env_clear();
	env_set(AUTOSENDFILE_ENV_STATS, "out/stats.txt");
	assert_int_equal(parse(&c), 0);
	assert_false(c.stats_stderr);
	snprintf(want, sizeof want, "%s/out/stats.txt", cwd);
	assert_string_equal(c.stats_path, want);
	assert_true(c.stats_path[0] == '/');

	/* Resolved at parse time against the cwd of that moment. */
	assert_int_equal(chdir("/tmp"), 0);
	env_clear();
	env_set(AUTOSENDFILE_ENV_STATS, "s.log");
	assert_int_equal(parse(&c), 0);
	assert_string_equal(c.stats_path, "/tmp/s.log");
	assert_int_equal(chdir(cwd), 0);

	env_clear();
	env_set(AUTOSENDFILE_ENV_STATS, "");
	assert_int_equal(parse(&c), 1);
	assert_false(c.stats_stderr);
	assert_string_equal(c.stats_path, "");

	/* "STDERR" is not the keyword: it is a relative file name. */
	env_clear();
	env_set(AUTOSENDFILE_ENV_STATS, "STDERR");
	assert_int_equal(parse(&c), 0);
	assert_false(c.stats_stderr);
	snprintf(want, sizeof want, "%s/STDERR", cwd);
	assert_string_equal(c.stats_path, want);

	/* A path that cannot fit: rejected, no statistics. */
	static char longpath[PATH_MAX + 10];
	memset(longpath, 'a', sizeof longpath - 1);
	longpath[0] = '/';
	longpath[sizeof longpath - 1] = '\0';
	env_clear();
	env_set(AUTOSENDFILE_ENV_STATS, longpath);
	assert_int_equal(parse(&c), 1);
	assert_false(c.stats_stderr);
	assert_string_equal(c.stats_path, "");

	/* A relative path that fits alone but not behind the cwd. */
	static char longrel[PATH_MAX - 4];
	memset(longrel, 'b', sizeof longrel - 1);
	longrel[sizeof longrel - 1] = '\0';
	env_clear();
	env_set(AUTOSENDFILE_ENV_STATS, longrel);
	assert_int_equal(parse(&c), 1);
	assert_string_equal(c.stats_path, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_size_digits),
		cmocka_unit_test(parse_size_suffixes),
		cmocka_unit_test(parse_size_rejects),
		cmocka_unit_test(config_defaults),
		cmocka_unit_test(config_enable),
		cmocka_unit_test(config_min_bytes),
		cmocka_unit_test(config_chunk),
		cmocka_unit_test(config_pressure),
		cmocka_unit_test(config_counts_each_rejection),
		cmocka_unit_test(config_log),
		cmocka_unit_test(config_stats),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
