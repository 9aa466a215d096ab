/* fuzz_fields.h: the input layout the newer fuzz targets share: fields
 * separated by NUL bytes, each handed over as its own exact-size heap copy
 * (NUL-terminated, so ASan sees a read past its end); missing fields are
 * empty. Header-only: each target is its own program. */
#ifndef FUZZ_FIELDS_H
#define FUZZ_FIELDS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_MAX_FIELDS 24
#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)

struct fields {
	char *f[FUZZ_MAX_FIELDS];
	size_t len[FUZZ_MAX_FIELDS];
	int n;              /* fields present in the input (at most FUZZ_MAX_FIELDS) */
};

/* The last field takes the rest of the input, NUL bytes included in len. */
static inline void fields_split(struct fields *fs, const uint8_t *d, size_t size)
{
	size_t at = 0;
	fs->n = 0;
	for (int i = 0; i < FUZZ_MAX_FIELDS; i++) {
		size_t end = at;
		if (i < FUZZ_MAX_FIELDS - 1)
			while (end < size && d[end])
				end++;
		else
			end = size > at ? size : at;
		size_t n = end > at ? end - at : 0;
		fs->f[i] = malloc(n + 1);
		CHECK(fs->f[i]);
		if (n)
			memcpy(fs->f[i], d + at, n);
		fs->f[i][n] = 0;
		fs->len[i] = n;
		if (at < size)
			fs->n = i + 1;
		at = end < size ? end + 1 : size;
	}
}

static inline void fields_free(struct fields *fs)
{
	for (int i = 0; i < FUZZ_MAX_FIELDS; i++)
		free(fs->f[i]);
}

#endif
