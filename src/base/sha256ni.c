/* sha256ni.c: owns the SHA-256 hash class used for SigV4 and hashing: a
 * BearSSL br_hash_class whose block function uses the x86 SHA extensions,
 * picked at run time by cpuid, with br_sha256_vtable as the fallback (other
 * CPUs, other architectures). Only the block function is ours; buffering,
 * padding and the state format follow BearSSL's sha2small.c, so br_hmac
 * can save and restore ipad/opad states through state/set_state.
 *
 * The NI functions carry target attributes instead of a global -msha, so
 * the rest of the binary runs on any x86_64.
 */
#include "base/sha256ni.h"

#include <stdint.h>
#include <string.h>

static int force_portable; /* tests only: see sha256ni_force_portable */

void sha256ni_force_portable(int on)
{
	force_portable = on;
}

#if defined(__x86_64__)

#include <cpuid.h>
#include <immintrin.h>

/* Layout of br_sha224_context: the vtable first, as br_hash_class needs. */
struct sha256ni_ctx {
	const br_hash_class *vtable; /* &sha256ni_vtable */
	unsigned char buf[64];       /* pending partial block */
	uint64_t count;              /* bytes injected so far */
	uint32_t val[8];             /* chaining value, A..H */
};

_Static_assert(sizeof(struct sha256ni_ctx) <= sizeof(br_hash_compat_context),
	       "br_hmac keeps our contexts in a br_hash_compat_context");

static const uint32_t sha256_iv[8] = {
	0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
	0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

static _Alignas(16) const uint32_t sha256_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

/* Four rounds: message words m (already byte-swapped) for group g. */
#define NI_QROUND(g, m)                                                                       \
	do {                                                                                  \
		t = _mm_add_epi32((m), _mm_load_si128((const __m128i *)&sha256_k[4 * (g)]));   \
		s1 = _mm_sha256rnds2_epu32(s1, s0, t);                                        \
		t = _mm_shuffle_epi32(t, 0x0E);                                               \
		s0 = _mm_sha256rnds2_epu32(s0, s1, t);                                        \
	} while (0)

/* Next schedule group into a, from the four previous ones a, b, c, d. */
#define NI_SCHED(a, b, c, d)                                                                  \
	(a) = _mm_sha256msg2_epu32(                                                           \
		_mm_add_epi32(_mm_sha256msg1_epu32((a), (b)), _mm_alignr_epi8((d), (c), 4)), (d))

/* Compress n 64-byte blocks (any alignment) into val. */
__attribute__((target("sha,sse4.1,ssse3"))) static void
ni_blocks(uint32_t val[8], const unsigned char *p, size_t n)
{
	const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
	__m128i s0, s1, t, m0, m1, m2, m3, save0, save1;

	/* A..H as two words ABEF and CDGH, the order sha256rnds2 wants */
	t = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&val[0]), 0xB1); /* CDAB */
	s1 = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&val[4]), 0x1B); /* EFGH */
	s0 = _mm_alignr_epi8(t, s1, 8);       /* ABEF */
	s1 = _mm_blend_epi16(s1, t, 0xF0);    /* CDGH */

	for (; n > 0; n--, p += 64) {
		save0 = s0;
		save1 = s1;
		m0 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 0)), bswap);
		m1 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16)), bswap);
		m2 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 32)), bswap);
		m3 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 48)), bswap);
		NI_QROUND(0, m0);
		NI_QROUND(1, m1);
		NI_QROUND(2, m2);
		NI_QROUND(3, m3);
		NI_SCHED(m0, m1, m2, m3); NI_QROUND(4, m0);
		NI_SCHED(m1, m2, m3, m0); NI_QROUND(5, m1);
		NI_SCHED(m2, m3, m0, m1); NI_QROUND(6, m2);
		NI_SCHED(m3, m0, m1, m2); NI_QROUND(7, m3);
		NI_SCHED(m0, m1, m2, m3); NI_QROUND(8, m0);
		NI_SCHED(m1, m2, m3, m0); NI_QROUND(9, m1);
		NI_SCHED(m2, m3, m0, m1); NI_QROUND(10, m2);
		NI_SCHED(m3, m0, m1, m2); NI_QROUND(11, m3);
		NI_SCHED(m0, m1, m2, m3); NI_QROUND(12, m0);
		NI_SCHED(m1, m2, m3, m0); NI_QROUND(13, m1);
		NI_SCHED(m2, m3, m0, m1); NI_QROUND(14, m2);
		NI_SCHED(m3, m0, m1, m2); NI_QROUND(15, m3);
		s0 = _mm_add_epi32(s0, save0);
		s1 = _mm_add_epi32(s1, save1);
	}

	t = _mm_shuffle_epi32(s0, 0x1B);      /* FEBA */
	s1 = _mm_shuffle_epi32(s1, 0xB1);     /* DCHG */
	s0 = _mm_blend_epi16(t, s1, 0xF0);    /* DCBA */
	s1 = _mm_alignr_epi8(s1, t, 8);       /* HGFE */
	_mm_storeu_si128((__m128i *)&val[0], s0);
	_mm_storeu_si128((__m128i *)&val[4], s1);
}

static void enc32be(unsigned char *p, uint32_t x)
{
	p[0] = (unsigned char)(x >> 24);
	p[1] = (unsigned char)(x >> 16);
	p[2] = (unsigned char)(x >> 8);
	p[3] = (unsigned char)x;
}

static uint32_t dec32be(const unsigned char *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void ni_init(const br_hash_class **vt);

static void ni_update(const br_hash_class **vt, const void *data, size_t len)
{
	struct sha256ni_ctx *c = (struct sha256ni_ctx *)vt;
	const unsigned char *p = data;
	size_t ptr = (size_t)c->count & 63, n;

	if (len == 0)
		return;
	c->count += (uint64_t)len;
	if (ptr) {
		n = 64 - ptr < len ? 64 - ptr : len;
		memcpy(c->buf + ptr, p, n);
		p += n;
		len -= n;
		if (ptr + n < 64)
			return;
		ni_blocks(c->val, c->buf, 1);
	}
	/* whole blocks straight from the caller's data, no copy */
	n = len / 64;
	if (n) {
		ni_blocks(c->val, p, n);
		p += 64 * n;
		len -= 64 * n;
	}
	if (len)
		memcpy(c->buf, p, len);
}

static void ni_out(const br_hash_class *const *vt, void *dst)
{
	const struct sha256ni_ctx *c = (const struct sha256ni_ctx *)vt;
	unsigned char buf[64], *out = dst;
	uint32_t val[8];
	size_t ptr = (size_t)c->count & 63;
	uint64_t bits = c->count << 3;
	int i;

	memcpy(buf, c->buf, ptr);
	memcpy(val, c->val, sizeof val);
	buf[ptr++] = 0x80;
	if (ptr > 56) {
		memset(buf + ptr, 0, 64 - ptr);
		ni_blocks(val, buf, 1);
		ptr = 0;
	}
	memset(buf + ptr, 0, 56 - ptr);
	enc32be(buf + 56, (uint32_t)(bits >> 32));
	enc32be(buf + 60, (uint32_t)bits);
	ni_blocks(val, buf, 1);
	for (i = 0; i < 8; i++)
		enc32be(out + 4 * i, val[i]);
}

static uint64_t ni_state(const br_hash_class *const *vt, void *dst)
{
	const struct sha256ni_ctx *c = (const struct sha256ni_ctx *)vt;
	unsigned char *out = dst;
	int i;

	for (i = 0; i < 8; i++)
		enc32be(out + 4 * i, c->val[i]);
	return c->count;
}

static void ni_set_state(const br_hash_class **vt, const void *stb, uint64_t count)
{
	struct sha256ni_ctx *c = (struct sha256ni_ctx *)vt;
	const unsigned char *in = stb;
	int i;

	for (i = 0; i < 8; i++)
		c->val[i] = dec32be(in + 4 * i);
	c->count = count;
}

/* br_sha256_vtable's descriptor, our functions. */
static const br_hash_class sha256ni_vtable = {
	sizeof(struct sha256ni_ctx),
	BR_HASHDESC_ID(br_sha256_ID) | BR_HASHDESC_OUT(32) | BR_HASHDESC_STATE(32) |
		BR_HASHDESC_LBLEN(6) | BR_HASHDESC_MD_PADDING | BR_HASHDESC_MD_PADDING_BE,
	ni_init,
	ni_update,
	ni_out,
	ni_state,
	ni_set_state,
};

static void ni_init(const br_hash_class **vt)
{
	struct sha256ni_ctx *c = (struct sha256ni_ctx *)vt;

	c->vtable = &sha256ni_vtable;
	c->count = 0;
	memcpy(c->val, sha256_iv, sizeof c->val);
}

/* cpuid: SHA is leaf 7 EBX bit 29; the NI code also uses SSSE3 (leaf 1
 * ECX bit 9) and SSE4.1 (bit 19). cpuid.h rather than
 * __builtin_cpu_supports, which needs libgcc's CPU model data. */
static int cpu_has_sha_ni(void)
{
	unsigned a, b, c, d;

	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 9)) || !(c & (1u << 19)))
		return 0;
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
		return 0;
	return (b >> 29) & 1;
}

int sha256ni_available(void)
{
	/* cpuid is slow (it traps under a hypervisor): ask once. Racing first
	 * calls all store the same value. */
	static int cached = -1;

	if (cached < 0)
		cached = cpu_has_sha_ni();
	return cached;
}

const br_hash_class *sha256ni_class(void)
{
	return sha256ni_available() ? &sha256ni_vtable : NULL;
}

#else /* not x86_64: BearSSL's portable code only */

int sha256ni_available(void)
{
	return 0;
}

const br_hash_class *sha256ni_class(void)
{
	return NULL;
}

#endif

const br_hash_class *sha256_class(void)
{
	const br_hash_class *ni = force_portable ? NULL : sha256ni_class();

	return ni ? ni : &br_sha256_vtable;
}
