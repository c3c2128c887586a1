/* This process's live counters (livefile.h): made at start, a fresh slot in each forked
 * child, marked at exit, where the lines of ended workers are written for them. */
#ifndef ASF_LIVESTATS_H
#define ASF_LIVESTATS_H

/* Maps a counters file in the per-user directory and points asf_statp at this process's
 * slot (the constructor; after the configuration). Deletes old files of ended processes. */
void asf_live_init(void);
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
