/* File views: the library's own hold on each source file.
 *
 * A view is a private duplicate of a file's descriptor (close-on-exec, at a high number the
 * program never asked for) and a read-only MAP_SHARED mapping of the whole file. The
 * mapping shows the page cache, i.e. exactly the bytes sendfile would send from the private
 * descriptor: comparing a program's buffer with it just before sendfile is the proof that
 * sendfile sends what the buffer holds, whatever happened since the read (a signal handler
 * or another thread changed the buffer, the file was rewritten, the fd number was
 * re-pointed). The program may close, dup2 over or re-open its own descriptor: the view
 * stays the same file.
 *
 * Views live in a fixed table of ASF_VIEWS_MAX slots. A view is named by an id (slot and
 * generation); users take a reference (asf_view_get) for the duration of one write, without
 * a lock: creation and retirement take a try-lock, never wait, and a retired view is torn
 * down by whoever drops its last reference. fd-table entries that name the file link to the
 * view; when the last link goes (the program closed the file) the private descriptor goes
 * too: the process holds no descriptor of a file the program no longer has open (one closed
 * by a raw system call keeps its link; such views go when the table needs the slot). The
 * mapping is kept idle up to ASF_VIEW_LINGER_NS for the next open of the same file (not for
 * a deleted file), and made usable again with a new descriptor. The private descriptor sits above the soft RLIMIT_NOFILE (views.c). After fork the
 * child drops
 * every view (close + munmap), so children never hold descriptors the program did not open. */
#ifndef ASF_VIEWS_H
#define ASF_VIEWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ASF_VIEWS_MAX 256
/* How long the mapping of a file the program closed is kept for its next open (a server
 * serving the same files again and again does not map and fault them in per request). */
#define ASF_VIEW_LINGER_NS 2000000000ull

typedef uint64_t asf_view_id; /* 0: none */

struct asf_view {
	int state;      /* VIEW_FREE, VIEW_LIVE, VIEW_DYING (views.c) */
	uint32_t gen;   /* bumped each time the slot becomes live */
	int refs;       /* users inside a write right now */
	int links;      /* fd-table entries that name this view */
	int fd;         /* the private descriptor */
	bool refused;   /* sendfile from this file failed with EINVAL and the like */
	uint64_t dev, ino;
	const unsigned char *map; /* read-only shared mapping of [0, maplen) */
	size_t maplen;
	uint64_t idle_since; /* CLOCK_MONOTONIC ns when links fell to 0; 0 while linked */
};

/* The view of the regular file fd names (classified ASF_FD_FILE, identity dev/ino), made if
 * needed; the fd-table entry is linked to it. 0 when none can be had (table busy or full,
 * unmappable file). */
asf_view_id asf_view_for_fd(int fd);
/* A reference to the view, or NULL if the id is stale. Every get is paired with a put. */
struct asf_view *asf_view_get(asf_view_id id);
void asf_view_put(struct asf_view *v);
/* The mapped bytes of [off, off+n), or NULL when that range is not mapped. Reading them may
 * fault (the file was truncated): read them only under the guard of signals.h. */
const unsigned char *asf_view_bytes(const struct asf_view *v, off_t off, size_t n);
/* The private descriptor to sendfile from. */
static inline int asf_view_fd(const struct asf_view *v)
{
	return __atomic_load_n(&v->fd, __ATOMIC_ACQUIRE);
}
/* Sendfile from this file was refused: never try again while the view lives. */
void asf_view_refuse(struct asf_view *v);

/* fd-table links (fdtable.c): an entry now names the view, or stopped naming it. */
void asf_view_link(asf_view_id id);
void asf_view_unlink(asf_view_id id);

/* Is fd one of the library's private descriptors? (close and dup2 wrappers: the program
 * never opened it, so it must not close it or see it vanish.) */
bool asf_view_owns_fd(int fd);
/* The program is about to make `fd` name something else (dup2/dup3 onto it): if it is a
 * private descriptor, the view moves to another number first. */
void asf_view_vacate_fd(int fd);
/* The private descriptors in [first, last], ascending, into out (at most max); returns
 * the count (close_range and closefrom skip them). */
int asf_view_fds_in(unsigned first, unsigned last, int *out, int max);

/* In a forked child: drop every view (close + munmap). */
void asf_views_after_fork_child(void);

#endif
