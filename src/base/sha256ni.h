/* sha256ni.h: the SHA-256 hash class taskpipe hands to BearSSL: x86 SHA
 * extensions (SHA-NI) when the CPU has them, br_sha256_vtable otherwise.
 * Pure apart from a cached CPU check: no allocation. */
#ifndef TP_SHA256NI_H
#define TP_SHA256NI_H

#include <bearssl.h>

/* The fastest SHA-256 class on this CPU; never NULL. Same descriptor,
 * digests and state format as br_sha256_vtable, and its contexts fit in a
 * br_hash_compat_context, so br_hmac_* accept it. */
const br_hash_class *sha256_class(void);

/* 1 if the SHA-NI class can run on this CPU (never on non-x86_64 builds). */
int sha256ni_available(void);

/* The SHA-NI class itself, or NULL when sha256ni_available() is 0. */
const br_hash_class *sha256ni_class(void);

/* Tests: on != 0 makes sha256_class() return br_sha256_vtable. */
void sha256ni_force_portable(int on);

#endif
