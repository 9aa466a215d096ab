/* mempool.h: a small-block cache for the policy's Lua allocator.
 *
 * Blocks up to MEMPOOL_MAX bytes are rounded up to a power of two and kept
 * on per-size free lists when Lua frees them. A policy call allocates and
 * frees the same few thousand small blocks every time, and musl's malloc
 * gives such memory back to the kernel eagerly (an munmap per call or more,
 * measured ~3x slower calls than glibc); the cache makes both C libraries
 * equally fast. Block kind follows from the size Lua reports: <= MEMPOOL_MAX
 * pooled, larger plain malloc (the caller's).
 */
#ifndef TP_MEMPOOL_H
#define TP_MEMPOOL_H

#include <stddef.h>

#define MEMPOOL_MIN 16                 /* smallest pooled block; holds a pointer */
#define MEMPOOL_CLASSES 10             /* 16 .. 8192 bytes */
#define MEMPOOL_MAX ((size_t)MEMPOOL_MIN << (MEMPOOL_CLASSES - 1))
#define MEMPOOL_CACHE_MAX (4u << 20)   /* bytes kept on the free lists at most */

struct mempool {
	void *free[MEMPOOL_CLASSES];   /* free lists of pooled blocks */
	size_t bytes;                  /* bytes on those lists */
};

/* The size class of an n-byte block (n <= MEMPOOL_MAX): two sizes in one
 * class share a block. */
int mempool_class(size_t n);
/* A block of at least n <= MEMPOOL_MAX bytes (NULL when malloc fails). */
void *mempool_get(struct mempool *m, size_t n);
/* Give back block b that was got for n bytes: kept, or freed past the cap. */
void mempool_put(struct mempool *m, void *b, size_t n);
/* Free every kept block. */
void mempool_drain(struct mempool *m);

#endif
