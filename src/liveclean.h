/* Deleting live counters files (livefile.h) nobody needs: a process that never counted a
 * byte leaves none behind when it exits, execs or _exits, and the files of ended processes
 * are pruned beyond AUTOSENDFILE_LIVE_KEEP. */
#ifndef ASF_LIVECLEAN_H
#define ASF_LIVECLEAN_H

#include <stdbool.h>
#include <stdint.h>

/* When this process has made its file `own` in dirfd: deletes the idle files of its own
 * earlier images (same pid and start: it exec'd), then, if the directory holds more than
 * AUTOSENDFILE_LIVE_KEEP files, those whose processes are all gone, oldest first. */
void asf_live_prune(int dirfd, unsigned uid, const char *own, uint32_t pid, uint64_t start);
/* Is the mapped file idle: nobody in it counted anything, and nobody but the process
 * (pid, start) is still running? */
bool asf_live_file_idle(void *file, uint32_t pid, uint64_t start);
/* At exit: deletes dir/name, this process's own file, if it is idle. */
void asf_live_drop_if_idle(const char *dir, unsigned uid, const char *name, void *file,
			   uint32_t pid, uint64_t start);

#endif
