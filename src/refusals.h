/* Files that refused sendfile (EINVAL, ENOSYS, EOPNOTSUPP), by identity: once one refuses,
 * every later write of its bytes goes straight to the real call, whichever fd it came from. */
#ifndef ASF_REFUSALS_H
#define ASF_REFUSALS_H

#include <stdbool.h>
#include <stdint.h>

void asf_refusal_add(uint64_t dev, uint64_t ino);
bool asf_refused(uint64_t dev, uint64_t ino);
/* How many files are in the table (tests). */
unsigned asf_refusal_count(void);

#endif
