/* codemark.c: owns the code-object marker of function Descriptions (see codemark.h). */
#include "core/codemark.h"

#include "base/hash.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PREFIX "taskpipe code s3://"
#define VERSION_MAX 64            /* longer version ids are hashed */
#define DIGEST_HEX 16

void codemark_make(const char *bucket, const char *key, const char *version, char *out)
{
	char *id = malloc(strlen(bucket) + strlen(key) + 2);
	if (!id)
		abort();
	sprintf(id, "%s/%s", bucket, key);
	char ver[2 + VERSION_MAX + 1] = "";
	if (version && strlen(version) <= VERSION_MAX) {
		snprintf(ver, sizeof ver, "#%s", version);
	} else if (version) {
		unsigned char d[HASH_SHA256_LEN];
		hash_sha256(version, strlen(version), d);
		ver[0] = '#';
		ver[1] = '~';
		hash_hex(d, DIGEST_HEX / 2, ver + 2);
	}
	size_t pl = strlen(PREFIX), il = strlen(id), vl = strlen(ver);
	char tail[1 + DIGEST_HEX + sizeof ver] = "";
	if (pl + il + vl > CODEMARK_MAX) {
		unsigned char d[HASH_SHA256_LEN];
		hash_sha256(id, il, d);
		tail[0] = '~';
		hash_hex(d, DIGEST_HEX / 2, tail + 1);
		il = CODEMARK_MAX - pl - (1 + DIGEST_HEX) - vl; /* the head of bucket/key that fits */
	}
	strcat(tail, ver);
	size_t tl = strlen(tail);
	memcpy(out, PREFIX, pl);
	memcpy(out + pl, id, il);
	memcpy(out + pl + il, tail, tl + 1);
	free(id);
}

int codemark_is_object(const char *desc, const char *bucket, const char *key)
{
	if (!desc)
		return 0;
	char m[CODEMARK_MAX + 1];
	codemark_make(bucket, key, NULL, m);
	if (strcmp(desc, m) == 0)
		return 1;
	/* With a version: what follows the last '#' (a key may hold '#' too). */
	const char *h = strrchr(desc, '#');
	if (!h || !h[1])
		return 0;
	char *v = strdup(h + 1);
	if (!v)
		abort();
	/* a hashed version id reads "#~hex": rebuild from the same text */
	codemark_make(bucket, key, v, m);
	free(v);
	return strcmp(desc, m) == 0;
}
