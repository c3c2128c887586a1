/* This process's live counters (livefile.h): made when the process first touches a stream
 * socket, a fresh slot in each forked child, marked at exit, where the lines of ended
 * workers are written for them.
 *
 * Lazily, so that a process that never talks over a stream socket (a shell, a CGI script,
 * /bin/true under the launcher) pays nothing for it at start (issue 20: the file cost a
 * short process 28 system calls and 0.4 ms). Until the file is made the process counts in
 * the static fallback (stats.h), which is moved into its slot once it exists. */
#ifndef ASF_LIVESTATS_H
#define ASF_LIVESTATS_H

#include <stdbool.h>
#include <stddef.h>

#include "export.h"

/* asf_live_state: OFF, no file will be made (AUTOSENDFILE_LIVE=0, the library inactive,
 * or the making failed); WANTED, one is made at the first stream socket; BUSY, a thread
 * (or a signal handler) is making it; DONE, asf_statp points at this process's slot. */
enum { ASF_LIVE_OFF = 0, ASF_LIVE_WANTED, ASF_LIVE_BUSY, ASF_LIVE_DONE };
extern int asf_live_state;

/* Bytes of the library's arena (ownmem.h) set aside at start for the file's mapping. */
size_t asf_live_arena_bytes(void);
/* The constructor (after the configuration and the arena): the file is WANTED if live
 * counters are on.
 * A directory named by AUTOSENDFILE_LIVE that does not exist is said here, at start. */
void asf_live_init(bool enabled);
/* Makes the file now if it is WANTED: maps a counters file in the per-user directory,
 * points asf_statp at this process's slot, moves what was counted so far there, and
 * deletes old files of ended processes. Async-signal-safe (a write in a signal handler may
 * be the first): one caller makes it (a CAS on asf_live_state), any other caller, a signal
 * handler that interrupted the maker included, returns at once and counts in the fallback
 * until the file is there. No malloc, no lock, raw system calls. */
void asf_live_start(void);
/* The first stream socket seen (fdclass.h) and every write to one: one load when done. */
static inline void asf_live_touch(void)
{
	if (ASF_UNLIKELY(__atomic_load_n(&asf_live_state, __ATOMIC_RELAXED) == ASF_LIVE_WANTED))
		asf_live_start();
}
/* pthread_atfork prepare handler: a process that has a stream socket but no file yet makes
 * it before the fork, so that its children count in it (a worker that drops privileges or
 * chroots after the fork could not make one of its own, or would make it in its new
 * user's directory). A socket inherited at exec that the process has not used yet (a
 * listener from systemd, or from nginx's binary upgrade, that only the workers accept on)
 * is found by one look at /proc/self/fd, at the first fork of the image. */
void asf_live_before_fork(void);
/* pthread_atfork child handler: the child counts from zero in a slot of its own. */
void asf_live_fork_child(void);
/* At exit: writes the stats line, marks the slot ended, and appends the lines of processes
 * of this file that ended without writing theirs (a worker that could not open
 * AUTOSENDFILE_STATS after dropping privileges, one that ended by a signal). A process that
 * counted nothing and made its own file deletes it. */
void asf_live_exit(void);
/* The same at _exit/_Exit (init.c), except that the line is written only if the
 * process counted something: fork children that _exit are often helpers. */
void asf_live_quick_exit(void);

#endif
