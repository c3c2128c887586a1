/* The one lock kind of the library's tables (views.c, mappings.c): a word, only ever tried.
 * Never an unbounded wait: this code may run in a signal handler that interrupted the holder
 * in the same thread. */
#ifndef ASF_TRYLOCK_H
#define ASF_TRYLOCK_H

#include <sched.h>
#include <stdbool.h>

static inline bool asf_trylock(int *l)
{
	return !__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE);
}

/* A few hundred tries, then yields to the holder (threads that open or map files at once:
 * Apache's workers); false after a bounded wait (a redirect missed, never a wrong one). */
static inline bool asf_lock_soon(int *l)
{
	for (int spins = 0; spins < 512; spins++)
		if (asf_trylock(l))
			return true;
	for (int yields = 0; yields < 4096; yields++) {
		sched_yield();
		if (asf_trylock(l))
			return true;
	}
	return false;
}

static inline void asf_unlock(int *l)
{
	__atomic_store_n(l, 0, __ATOMIC_RELEASE);
}

#endif
