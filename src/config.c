/* Parsing of the AUTOSENDFILE_* environment variables (names in include/autosendfile.h). */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "autosendfile.h"
#include "config.h"
#include "log.h"

struct asf_config asf_cfg = {
	.enabled = false, /* until the constructor has parsed the environment */
	.min_bytes = AUTOSENDFILE_DEFAULT_MIN_BYTES,
	.chunk = AUTOSENDFILE_DEFAULT_CHUNK,
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

static const char *const level_names[] = { "error", "warn", "info", "debug" };

int asf_config_parse(struct asf_config *cfg, asf_getenv_fn get)
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

	cfg->enabled = true;
	if ((s = get(AUTOSENDFILE_ENV_ENABLE)) != NULL) {
		if (strcmp(s, "0") == 0) {
			cfg->enabled = false;
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
	return bad;
}
