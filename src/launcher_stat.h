/* The launcher's --stat command (launcher_stat.c). */
#ifndef ASF_LAUNCHER_STAT_H
#define ASF_LAUNCHER_STAT_H

#include <stdio.h>

/* argv: the arguments after --stat. Returns the exit status. */
int asf_stat_main(int argc, char **argv);
void asf_stat_usage(FILE *out);

#endif
