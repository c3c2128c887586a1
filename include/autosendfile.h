/*
 * autosendfile: the library's one public header.
 *
 * autosendfile is preloaded (LD_PRELOAD) into unmodified programs; it has no API to call.
 * This header holds what a user or a tool needs to know about it: the environment
 * variables it reads, their defaults, and the keys of the statistics line it writes.
 */
#ifndef AUTOSENDFILE_H
#define AUTOSENDFILE_H

#define AUTOSENDFILE_VERSION "0.1.0"

/* Environment variables, read once per process with secure_getenv(). */
#define AUTOSENDFILE_ENV_ENABLE    "AUTOSENDFILE"           /* "0": pure pass-through     */
#define AUTOSENDFILE_ENV_STATS     "AUTOSENDFILE_STATS"     /* "stderr" or a file path     */
#define AUTOSENDFILE_ENV_LOG       "AUTOSENDFILE_LOG"       /* error|warn|info|debug       */
#define AUTOSENDFILE_ENV_MIN_BYTES "AUTOSENDFILE_MIN_BYTES" /* smallest write redirected   */
#define AUTOSENDFILE_ENV_CHUNK     "AUTOSENDFILE_CHUNK"     /* bytes per pread of the proof */
#define AUTOSENDFILE_ENV_VERIFY    "AUTOSENDFILE_VERIFY"    /* full|sample|none            */
#define AUTOSENDFILE_ENV_ONLY      "AUTOSENDFILE_ONLY"      /* prog1,prog2: only these     */
#define AUTOSENDFILE_ENV_SKIP      "AUTOSENDFILE_SKIP"      /* prog1,prog2: not these      */
#define AUTOSENDFILE_ENV_LIVE      "AUTOSENDFILE_LIVE"      /* live counters: 1|0|/dir     */
#define AUTOSENDFILE_ENV_PRESSURE  "AUTOSENDFILE_PRESSURE"  /* backlog that makes a compared
							     * write worth redirecting; 0: always */

/* Defaults, chosen by measurement (see docs/DESIGN.md, "How the defaults were chosen"). */
#define AUTOSENDFILE_DEFAULT_MIN_BYTES (4u * 1024u)
#define AUTOSENDFILE_DEFAULT_CHUNK     (256u * 1024u)
/* A write whose bytes must be compared with the file costs about what the copy it saves
 * does: it is redirected only when at least this many bytes wait in the socket's send
 * queue (a slow or stalled client, where the copy would sit in memory), or when the queue
 * just refused part of a write. Writes the kernel vouches for (a shared mapping of the
 * file) need no comparison and are redirected whatever the queue holds. */
#define AUTOSENDFILE_DEFAULT_PRESSURE  (64u * 1024u)
/* AUTOSENDFILE_VERIFY: how a write's buffer is checked against the bytes read (docs/DESIGN.md). */
#define AUTOSENDFILE_VERIFY_FULL   "full"   /* every byte (default)                      */
#define AUTOSENDFILE_VERIFY_SAMPLE "sample" /* 64 bytes of every 4 KiB, and the last 64  */
#define AUTOSENDFILE_VERIFY_NONE   "none"   /* no comparison: trust the copy loop        */
#define AUTOSENDFILE_SAMPLE_SPAN   64u
#define AUTOSENDFILE_SAMPLE_STRIDE 4096u
/* Longest AUTOSENDFILE_ONLY / AUTOSENDFILE_SKIP list accepted. */
#define AUTOSENDFILE_PROGLIST_MAX  1024u

/* Accepted ranges; values outside are replaced by the default with one warning. */
#define AUTOSENDFILE_MIN_BYTES_MAX     (64u * 1024u * 1024u)
#define AUTOSENDFILE_CHUNK_MIN         4096u
#define AUTOSENDFILE_CHUNK_MAX         (64u * 1024u * 1024u)
#define AUTOSENDFILE_PRESSURE_MAX      (64u * 1024u * 1024u)

/*
 * Live counters (autosendfile --stat): each process keeps its counters in a small file,
 * mapped shared, in a directory of its own user: AUTOSENDFILE_LIVE_DIRS, the first that
 * exists (or AUTOSENDFILE_LIVE=/dir: /dir/autosendfile-UID). One file holds the process
 * that created it and up to AUTOSENDFILE_LIVE_SLOTS - 1 of its forked descendants. A
 * process makes its file at its first stream socket (or before a fork, holding one), not
 * at start. The files of ended processes beyond AUTOSENDFILE_LIVE_KEEP are deleted when
 * the next file is made.
 */
#define AUTOSENDFILE_LIVE_DIRS   "/dev/shm", "/tmp"
#define AUTOSENDFILE_LIVE_PREFIX "autosendfile-"
#define AUTOSENDFILE_LIVE_SLOTS  64u
#define AUTOSENDFILE_LIVE_KEEP   64u

/*
 * The statistics line, appended once per process at exit when AUTOSENDFILE_STATS is set:
 *   autosendfile: pid=P redirected_bytes=N redirected_calls=N passthrough_bytes=N
 *                 fallbacks=N verify_rejects=N tls_skipped=N source_changed=N
 *                 why_small=N why_not_file=N why_untracked=N why_tls=N why_flags=N
 *                 why_buf_changed=N why_file_changed=N why_not_eligible=N why_header=N
 *                 why_tail=N why_draining=N why_other=N
 * (one line; keys are only ever added at the end, before why_other.) `autosendfile --stat` prints the same
 * line for running and ended processes, followed by state=running|ended comm=NAME.
 *
 * The why_* keys split passthrough_bytes (they sum to it) by the reason the library left
 * those bytes to the real call.
 */
#define AUTOSENDFILE_STAT_REDIRECTED_BYTES  "redirected_bytes"  /* bytes sent by sendfile     */
#define AUTOSENDFILE_STAT_REDIRECTED_CALLS  "redirected_calls"  /* writes served by sendfile  */
#define AUTOSENDFILE_STAT_PASSTHROUGH_BYTES "passthrough_bytes" /* socket bytes sent as-is    */
#define AUTOSENDFILE_STAT_FALLBACKS         "fallbacks"         /* sendfile gave up, buffer sent */
#define AUTOSENDFILE_STAT_VERIFY_REJECTS    "verify_rejects"    /* buffer changed since read  */
#define AUTOSENDFILE_STAT_TLS_SKIPPED       "tls_skipped"       /* sockets seen carrying TLS  */
#define AUTOSENDFILE_STAT_SOURCE_CHANGED    "source_changed"    /* file changed since read    */
#define AUTOSENDFILE_STAT_WHY_SMALL         "why_small"         /* write < MIN_BYTES          */
#define AUTOSENDFILE_STAT_WHY_NOT_FILE      "why_not_file"      /* no claim: no file read or found copy holds the bytes */
#define AUTOSENDFILE_STAT_WHY_UNTRACKED     "why_untracked"     /* last file read not tracked: over 1 MiB, no socket yet, offset unknown */
#define AUTOSENDFILE_STAT_WHY_TLS           "why_tls"           /* TLS socket                 */
#define AUTOSENDFILE_STAT_WHY_FLAGS         "why_flags"         /* send flags, address        */
#define AUTOSENDFILE_STAT_WHY_BUF_CHANGED   "why_buf_changed"   /* buffer changed since read  */
#define AUTOSENDFILE_STAT_WHY_FILE_CHANGED  "why_file_changed"  /* file changed/ended/closed  */
#define AUTOSENDFILE_STAT_WHY_NOT_ELIGIBLE  "why_not_eligible"  /* fs, file type, O_DIRECT, sendfile refused */
#define AUTOSENDFILE_STAT_WHY_HEADER        "why_header"        /* own bytes before file bytes sent by sendfile in the same call */
#define AUTOSENDFILE_STAT_WHY_TAIL          "why_tail"          /* own bytes after them (chunk CRLF, trailer) */
#define AUTOSENDFILE_STAT_WHY_DRAINING      "why_draining"      /* file bytes left to the real call: the socket's queue drains (AUTOSENDFILE_PRESSURE) */
#define AUTOSENDFILE_STAT_WHY_OTHER         "why_other"         /* anything else (busy, EMFILE...) */

/*
 * `autosendfile --stat --format prometheus`: the same counters in Prometheus' text format.
 * Each key but the why_* ones is the counter AUTOSENDFILE_PROM_PREFIX KEY "_total"; the
 * why_* keys are the one counter AUTOSENDFILE_PROM_WHY with a label reason (why_small:
 * reason="small"); AUTOSENDFILE_PROM_RUNNING is 1 or 0. Labels: pid, comm.
 */
#define AUTOSENDFILE_PROM_PREFIX  "autosendfile_"
#define AUTOSENDFILE_PROM_WHY     "autosendfile_passthrough_why_bytes_total"
#define AUTOSENDFILE_PROM_RUNNING "autosendfile_running"

#endif
