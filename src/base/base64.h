/* base64.h: standard base64 (RFC 4648, alphabet A-Z a-z 0-9 + /, with
 * padding), the one copy: DynamoDB's B values (aws/ddbval.c) and Lambda's
 * CodeSha256 (base64 of the SHA-256 of a code zip). Pure. */
#ifndef TP_BASE64_H
#define TP_BASE64_H

#include <stddef.h>

/* Characters of the encoding of n bytes, without the NUL. */
#define BASE64_LEN(n) (((n) + 2) / 3 * 4)

/* Encode n bytes into out (BASE64_LEN(n) + 1 bytes, NUL-terminated). */
void base64_encode(const void *in, size_t n, char *out);
/* The same, malloc'd. */
char *base64_encode_dup(const void *in, size_t n);
/* Decode s into *out (malloc'd, *outlen bytes; the caller frees). -1 when
 * s is not base64 (length not a multiple of 4, a foreign character,
 * padding anywhere but at the end); *out is then untouched. */
int base64_decode(const char *s, char **out, size_t *outlen);

#endif
