/* fleet_mem.c: the fleet simulation's heap accounting. The controller and
 * the fake AWS share one process, so the process's peak RSS counts the
 * fake's 50,000 simulated pipelines too. This file replaces malloc & co.
 * (glibc supports that: "Replacing malloc", glibc manual) and books every
 * block to the side that allocated it: the fake while fleet_mem_enter_fake
 * is in force (the bench wraps the fake's transport in it), else the
 * controller. A block keeps its side until freed, whoever frees it (a
 * response body the fake wrote and the controller frees stays the fake's:
 * transient, and small next to the fake's state). */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fleet_mem.h"

extern void *__libc_malloc(size_t);
extern void __libc_free(void *);

#define MAGIC 0x7e11f00du

/* 32 bytes: user pointers stay 16-byte aligned. */
struct hdr {
	void *base;        /* what __libc_malloc returned */
	size_t size;       /* asked for */
	uint32_t side;     /* FLEET_MEM_CONTROLLER or FLEET_MEM_FAKE */
	uint32_t magic;
	uint64_t pad;
};

static int fake_depth;
static struct fleet_mem_side sides[2];

void fleet_mem_enter_fake(void) { fake_depth++; }
void fleet_mem_leave_fake(void) { fake_depth--; }

void fleet_mem_get(int side, struct fleet_mem_side *out) { *out = sides[side]; }
void fleet_mem_reset_peak(int side) { sides[side].peak = sides[side].live; }

static void *take(size_t size, size_t align)
{
	if (align < 16)
		align = 16;
	if (size > SIZE_MAX - sizeof(struct hdr) - align)
		return NULL;
	char *base = __libc_malloc(size + sizeof(struct hdr) + (align > 16 ? align : 0));
	if (!base)
		return NULL;
	uintptr_t u = (uintptr_t)base + sizeof(struct hdr);
	u = (u + align - 1) & ~(uintptr_t)(align - 1);
	struct hdr *h = (struct hdr *)u - 1;
	h->base = base;
	h->size = size;
	h->side = fake_depth > 0 ? FLEET_MEM_FAKE : FLEET_MEM_CONTROLLER;
	h->magic = MAGIC;
	struct fleet_mem_side *s = &sides[h->side];
	s->live += size;
	s->blocks++;
	if (s->live > s->peak)
		s->peak = s->live;
	return (void *)u;
}

void *malloc(size_t size) { return take(size, 16); }

void free(void *p)
{
	if (!p)
		return;
	struct hdr *h = (struct hdr *)p - 1;
	if (h->magic != MAGIC)   /* never ours: a bug worth stopping at */
		__builtin_trap();
	h->magic = 0;
	sides[h->side].live -= h->size;
	sides[h->side].blocks--;
	__libc_free(h->base);
}

void *calloc(size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		return NULL;
	void *p = take(n * size, 16);
	if (p)
		memset(p, 0, n * size);
	return p;
}

void *realloc(void *p, size_t size)
{
	if (!p)
		return malloc(size);
	if (size == 0) {
		free(p);
		return NULL;
	}
	struct hdr *h = (struct hdr *)p - 1;
	if (h->size >= size && h->size / 2 <= size)
		return p;
	void *q = take(size, 16);
	if (!q)
		return NULL;
	memcpy(q, p, h->size < size ? h->size : size);
	free(p);
	return q;
}

int posix_memalign(void **out, size_t align, size_t size)
{
	if (align < sizeof(void *) || (align & (align - 1)))
		return EINVAL;
	void *p = take(size, align);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

void *aligned_alloc(size_t align, size_t size) { return (align & (align - 1)) ? NULL : take(size, align); }
void *memalign(size_t align, size_t size) { return (align & (align - 1)) ? NULL : take(size, align); }
void *valloc(size_t size) { return take(size, 4096); }
void *pvalloc(size_t size) { return take((size + 4095) & ~(size_t)4095, 4096); }
size_t malloc_usable_size(void *p) { return p ? ((struct hdr *)p - 1)->size : 0; }
