/* Symbol visibility: the library is built with -fvisibility=hidden; only the wrapped libc
 * entry points are exported, each marked with ASF_EXPORT. */
#ifndef ASF_EXPORT_H
#define ASF_EXPORT_H

#define ASF_EXPORT __attribute__((visibility("default")))
/* Entry points a sanitizer runtime calls while it starts, before it can run instrumented
 * code (ThreadSanitizer maps its memory through mmap): they must not be instrumented and,
 * until the library is enabled, go straight to libc. */
#if defined(__SANITIZE_THREAD__)
#define ASF_EARLY_SAFE __attribute__((no_sanitize_thread))
#else
#define ASF_EARLY_SAFE
#endif
/* The few variables the constructor writes (or libc writes for it: fstat, sigaction),
 * gathered into the data segment's one page that the loader dirties anyway, rather than
 * strewn over the bss between big tables: each page first written at start is a minor
 * fault that every process under the library pays, about 10 us here (issue 20). */
#define ASF_START_DATA __attribute__((section(".data.asf_start")))
#define ASF_LIKELY(x) __builtin_expect(!!(x), 1)
#define ASF_UNLIKELY(x) __builtin_expect(!!(x), 0)
/* Thread-locals of a preloaded library: static TLS, so reaching them never allocates and
 * stays async-signal-safe (read()/write() may be called from signal handlers). */
#define ASF_TLS __thread __attribute__((tls_model("initial-exec")))

#endif
