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
#define AUTOSENDFILE_ENV_CHUNK     "AUTOSENDFILE_CHUNK"     /* most bytes per sendfile()   */
#define AUTOSENDFILE_ENV_VERIFY    "AUTOSENDFILE_VERIFY"    /* full|sample|none            */
#define AUTOSENDFILE_ENV_ONLY      "AUTOSENDFILE_ONLY"      /* prog1,prog2: only these     */
#define AUTOSENDFILE_ENV_SKIP      "AUTOSENDFILE_SKIP"      /* prog1,prog2: not these      */

/* Defaults, chosen by measurement (see README.md, "How the defaults were chosen"). */
#define AUTOSENDFILE_DEFAULT_MIN_BYTES (8u * 1024u)
#define AUTOSENDFILE_DEFAULT_CHUNK     (64u * 1024u)
/* AUTOSENDFILE_VERIFY: how a write's buffer is checked against the bytes read (README). */
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

/*
 * The statistics line, appended once per process at exit when AUTOSENDFILE_STATS is set:
 *   autosendfile: pid=P redirected_bytes=N redirected_calls=N passthrough_bytes=N
 *                 fallbacks=N verify_rejects=N tls_skipped=N source_changed=N
 * (one line; keys are only ever added at the end.)
 */
#define AUTOSENDFILE_STAT_REDIRECTED_BYTES  "redirected_bytes"  /* bytes sent by sendfile     */
#define AUTOSENDFILE_STAT_REDIRECTED_CALLS  "redirected_calls"  /* writes served by sendfile  */
#define AUTOSENDFILE_STAT_PASSTHROUGH_BYTES "passthrough_bytes" /* socket bytes sent as-is    */
#define AUTOSENDFILE_STAT_FALLBACKS         "fallbacks"         /* sendfile gave up, buffer sent */
#define AUTOSENDFILE_STAT_VERIFY_REJECTS    "verify_rejects"    /* buffer changed since read  */
#define AUTOSENDFILE_STAT_TLS_SKIPPED       "tls_skipped"       /* sockets seen carrying TLS  */
#define AUTOSENDFILE_STAT_SOURCE_CHANGED    "source_changed"    /* file changed since read    */

#endif
