/* Leveled logging to stderr. Formats into a stack buffer and writes with the raw syscall:
 * never allocates, never goes through our own wrappers, never changes errno. */
#ifndef ASF_LOG_H
#define ASF_LOG_H

#include <stdbool.h>

#include "config.h"

void asf_log_set_level(int level);
/* Remembers which file fd 2 is (at start). Messages, and the stats line for "stderr", go to
 * fd 2 only while it is still that file: a program may close stderr and reuse the number
 * for its data or a socket. */
void asf_log_note_stderr(void);
bool asf_stderr_unchanged(void);
void asf_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
