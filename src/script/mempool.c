/* mempool.c: the policy allocator's small-block cache (see mempool.h). */
#include "script/mempool.h"

#include <stdlib.h>

int mempool_class(size_t n)
{
	int c = 0;
	size_t size = MEMPOOL_MIN;
	while (size < n)
		size <<= 1, c++;
	return c;
}

void *mempool_get(struct mempool *m, size_t n)
{
	int c = mempool_class(n);
	void *b = m->free[c];
	if (b) {
		m->free[c] = *(void **)b;
		m->bytes -= (size_t)MEMPOOL_MIN << c;
		return b;
	}
	return malloc((size_t)MEMPOOL_MIN << c);
}

void mempool_put(struct mempool *m, void *b, size_t n)
{
	int c = mempool_class(n);
	if (m->bytes + ((size_t)MEMPOOL_MIN << c) > MEMPOOL_CACHE_MAX) {
		free(b);
		return;
	}
	*(void **)b = m->free[c];
	m->free[c] = b;
	m->bytes += (size_t)MEMPOOL_MIN << c;
}

void mempool_drain(struct mempool *m)
{
	for (int c = 0; c < MEMPOOL_CLASSES; c++)
		while (m->free[c]) {
			void *b = m->free[c];
			m->free[c] = *(void **)b;
			free(b);
		}
	m->bytes = 0;
}
