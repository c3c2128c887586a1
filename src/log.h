/* Leveled logging to stderr. Formats into a stack buffer and writes with the raw syscall:
 * never allocates, never goes through our own wrappers, never changes errno. */
#ifndef ASF_LOG_H
#define ASF_LOG_H

#include "config.h"

void asf_log_set_level(int level);
void asf_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
