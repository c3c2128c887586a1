/* Parsing of the AUTOSENDFILE_* environment variables (names in include/autosendfile.h). */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "autosendfile.h"
#include "config.h"
#include "log.h"

__thread int asf_vfork_child __attribute__((tls_model("initial-exec")));

struct asf_config asf_cfg = {
	.enabled = false, /* until the constructor has parsed the environment */
	.min_bytes = AUTOSENDFILE_DEFAULT_MIN_BYTES,
	.chunk = AUTOSENDFILE_DEFAULT_CHUNK,
	.pressure = AUTOSENDFILE_DEFAULT_PRESSURE,
	.log_level = ASF_LOG_WARN,
};

bool asf_parse_size(const char *s, size_t *out)
{
	if (!s || !isdigit((unsigned char)s[0]))
		return false;
	uint64_t v = 0;
	const char *p = s;
	for (; isdigit((unsigned char)*p); p++) {
		uint64_t d = (uint64_t)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	uint64_t mult = 1;
	if (*p == 'k' || *p == 'K')
		mult = 1024, p++;
	else if (*p == 'm' || *p == 'M')
		mult = 1024 * 1024, p++;
	if (*p != '\0' || v > SIZE_MAX / mult)
		return false;
	*out = (size_t)(v * mult);
	return true;
}

static int parse_size_var(asf_getenv_fn get, const char *name, size_t lo, size_t hi, size_t dflt,
			  size_t *out)
{
	const char *s = get(name);
	*out = dflt;
	if (!s)
		return 0;
	size_t v;
	if (!asf_parse_size(s, &v) || v < lo || v > hi) {
		asf_log(ASF_LOG_WARN, "%s=\"%.64s\" is not a size in [%zu, %zu]; using the default %zu",
			name, s, lo, hi, dflt);
		return 1;
	}
	*out = v;
	return 0;
}

/* AUTOSENDFILE_LIVE: 1 (default directories), 0 (no live counters) or an absolute
 * directory in which the per-user directory is made. */
static int parse_live(struct asf_config *cfg, asf_getenv_fn get)
{
	const char *s = get(AUTOSENDFILE_ENV_LIVE);
	cfg->live = true;
	cfg->live_base[0] = '\0';
	if (!s || strcmp(s, "1") == 0)
		return 0;
	if (strcmp(s, "0") == 0) {
		cfg->live = false;
		return 0;
	}
	if (s[0] == '/' && strlen(s) < sizeof cfg->live_base - 32) {
		strcpy(cfg->live_base, s);
		return 0;
	}
	asf_log(ASF_LOG_WARN, "%s=\"%.64s\" is not 0, 1 or an absolute directory; using the default 1",
		AUTOSENDFILE_ENV_LIVE, s);
	return 1;
}

static const char *const level_names[] = { "error", "warn", "info", "debug" };

int asf_config_parse_into(struct asf_config *cfg, asf_getenv_fn get, bool *enabled)
{
	int bad = 0;
	const char *s;

	/* The log level first, so that later warnings obey it. */
	cfg->log_level = ASF_LOG_WARN;
	asf_log_set_level(cfg->log_level);
	if ((s = get(AUTOSENDFILE_ENV_LOG)) != NULL) {
		int lvl = -1;
		for (int i = 0; i < 4; i++)
			if (strcmp(s, level_names[i]) == 0)
				lvl = i;
		if (lvl < 0) {
			asf_log(ASF_LOG_WARN, "%s=\"%.64s\" is not error|warn|info|debug; using the default warn",
				AUTOSENDFILE_ENV_LOG, s);
			bad++;
		} else {
			cfg->log_level = lvl;
			asf_log_set_level(lvl);
		}
	}

	*enabled = true;
	if ((s = get(AUTOSENDFILE_ENV_ENABLE)) != NULL) {
		if (strcmp(s, "0") == 0) {
			*enabled = false;
		} else if (strcmp(s, "1") != 0) {
			asf_log(ASF_LOG_WARN, "%s=\"%.64s\" is not 0 or 1; using the default 1 (enabled)",
				AUTOSENDFILE_ENV_ENABLE, s);
			bad++;
		}
	}

	bad += parse_size_var(get, AUTOSENDFILE_ENV_MIN_BYTES, 1, AUTOSENDFILE_MIN_BYTES_MAX,
			      AUTOSENDFILE_DEFAULT_MIN_BYTES, &cfg->min_bytes);
	bad += parse_size_var(get, AUTOSENDFILE_ENV_CHUNK, AUTOSENDFILE_CHUNK_MIN,
			      AUTOSENDFILE_CHUNK_MAX, AUTOSENDFILE_DEFAULT_CHUNK, &cfg->chunk);
	bad += parse_size_var(get, AUTOSENDFILE_ENV_PRESSURE, 0, AUTOSENDFILE_PRESSURE_MAX,
			      AUTOSENDFILE_DEFAULT_PRESSURE, &cfg->pressure);

	cfg->verify = ASF_VERIFY_FULL;
	if ((s = get(AUTOSENDFILE_ENV_VERIFY)) != NULL) {
		if (strcmp(s, AUTOSENDFILE_VERIFY_FULL) == 0) {
			cfg->verify = ASF_VERIFY_FULL;
		} else if (strcmp(s, AUTOSENDFILE_VERIFY_SAMPLE) == 0) {
			cfg->verify = ASF_VERIFY_SAMPLE;
		} else if (strcmp(s, AUTOSENDFILE_VERIFY_NONE) == 0) {
			cfg->verify = ASF_VERIFY_NONE;
		} else {
			asf_log(ASF_LOG_WARN, "%s=\"%.64s\" is not full|sample|none; using the default full",
				AUTOSENDFILE_ENV_VERIFY, s);
			bad++;
		}
	}

	cfg->stats_stderr = false;
	cfg->stats_path[0] = '\0';
	if ((s = get(AUTOSENDFILE_ENV_STATS)) != NULL) {
		if (strcmp(s, "stderr") == 0) {
			cfg->stats_stderr = true;
		} else if (s[0] == '\0' || strlen(s) >= sizeof cfg->stats_path - 1) {
			asf_log(ASF_LOG_WARN, "%s is empty or too long; using the default (no statistics)",
				AUTOSENDFILE_ENV_STATS);
			bad++;
		} else if (s[0] == '/') {
			strcpy(cfg->stats_path, s);
		} else {
			/* Resolved now: the program may chdir before it exits. */
			char cwd[PATH_MAX];
			size_t need = 0;
			if (getcwd(cwd, sizeof cwd))
				need = strlen(cwd) + 1 + strlen(s);
			if (need == 0 || need >= sizeof cfg->stats_path) {
				asf_log(ASF_LOG_WARN, "%s=\"%.64s\" cannot be made absolute; using the default (no statistics)",
					AUTOSENDFILE_ENV_STATS, s);
				bad++;
			} else {
				strcpy(cfg->stats_path, cwd);
				strcat(cfg->stats_path, "/");
				strcat(cfg->stats_path, s);
			}
		}
	}
	bad += parse_live(cfg, get);
	return bad;
}

int asf_config_parse(struct asf_config *cfg, asf_getenv_fn get)
{
	bool enabled;
	int bad = asf_config_parse_into(cfg, get, &enabled);
	cfg->enabled = enabled;
	return bad;
}

/* Is name one of the comma-separated names in list? */
static bool listed(const char *list, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = list; *p;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len == n && n > 0 && strncmp(p, name, n) == 0)
			return true;
		if (!end)
			break;
		p = end + 1;
	}
	return false;
}

/* A list is non-empty, not overlong, and has no empty names. */
static bool valid_list(const char *list)
{
	size_t len = strlen(list);
	return len > 0 && len <= AUTOSENDFILE_PROGLIST_MAX && list[0] != ',' &&
	       list[len - 1] != ',' && !strstr(list, ",,");
}

static const char *checked_list(asf_getenv_fn get, const char *var, int *rejects)
{
	const char *s = get(var);
	if (s && !valid_list(s)) {
		asf_log(ASF_LOG_WARN, "%s=\"%.64s\" is not a list of program names (a,b,c); ignored",
			var, s);
		(*rejects)++;
		return NULL;
	}
	return s;
}

bool asf_config_selects(asf_getenv_fn get, const char *progname, int *rejects)
{
	const char *only = checked_list(get, AUTOSENDFILE_ENV_ONLY, rejects);
	const char *skip = checked_list(get, AUTOSENDFILE_ENV_SKIP, rejects);
	if (!progname)
		progname = "";
	if (only && !listed(only, progname))
		return false;
	if (skip && listed(skip, progname))
		return false;
	return true;
}
