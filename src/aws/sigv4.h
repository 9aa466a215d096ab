/* sigv4.h: AWS Signature Version 4, pure and deterministic.
 *
 * The caller owns every buffer; nothing here allocates or reads a clock.
 * The caller builds the full header set it will send (host, x-amz-date,
 * x-amz-content-sha256, x-amz-security-token when there is a session token,
 * and anything else) and signs all of it: signing is over exactly the headers
 * given, in any order, with repeated names merged (values joined by ',' in
 * the order given), names lower-cased, values trimmed and inner whitespace
 * runs folded to one space.
 */
#ifndef TP_SIGV4_H
#define TP_SIGV4_H

#include <stddef.h>
#include <time.h>

struct sigv4_header {
	const char *name;   /* any case */
	const char *value;  /* raw value as it will be sent */
};

struct sigv4_request {
	const char *method;        /* "GET", "POST", ... */
	const char *path;          /* as sent on the wire: already URI-encoded, e.g. "/a%20b" */
	const char *query;         /* as sent on the wire, without '?': "a=1&b=x%20y", "" or NULL */
	const struct sigv4_header *headers;
	size_t n_headers;
	const char *payload_hash;  /* lower-case hex SHA-256 of the body (or "UNSIGNED-PAYLOAD") */
	int s3_path;               /* 1: S3 rules, the path is used as given (no second encoding,
	                              no dot-segment normalisation); 0: every other service */
};

/* Caller-owned cache of the derived signing key (kSigning), valid for one
 * secret, day, region and service. Holds secret material: wipe it with
 * sigv4_key_cache_wipe when done. Zero-initialise before first use. */
struct sigv4_key_cache {
	int valid;                  /* the fields below are set */
	size_t secret_len;          /* length of secret */
	char secret[128];           /* the secret access key it was derived from */
	char date[8];               /* YYYYMMDD */
	char region[64];            /* NUL-terminated */
	char service[64];           /* NUL-terminated */
	unsigned char k_signing[32];/* kSigning */
};

void sigv4_key_cache_wipe(struct sigv4_key_cache *c);

struct sigv4_key {
	const char *access_key_id;
	const char *secret_access_key;
	const char *region;        /* e.g. "us-east-1" */
	const char *service;       /* signing name, e.g. "dynamodb", "sqs", "lambda", "s3", "sns" */
	struct sigv4_key_cache *cache; /* NULL: derive the signing key every time */
};

struct sigv4_result {
	char amz_date[17];         /* "YYYYMMDDTHHMMSSZ", for the x-amz-date header */
	char signature[65];        /* hex */
	char authorization[1024];  /* value of the Authorization header */
};

/* Format the x-amz-date value for a Unix time (UTC). */
void sigv4_amz_date(time_t when, char out[17]);

/* Write the canonical request into out (size out_len, NUL-terminated).
 * Returns the length, or -1 when out is too small or input is invalid.
 * A non-S3 path is normalised in out itself: segments before a ".." are
 * written before they are dropped, and a path without a leading '/' gets
 * one for a while, so such paths need that much room beyond the result. */
long sigv4_canonical_request(const struct sigv4_request *req, char *out, size_t out_len);

/* Sign req at time `when`. scratch is working space for the canonical
 * request and string to sign (a few KB is plenty for normal requests).
 * Returns 0, or -1 when scratch or the result is too small. */
int sigv4_sign(const struct sigv4_request *req, const struct sigv4_key *key, time_t when,
	       char *scratch, size_t scratch_len, struct sigv4_result *out);

/* URI-encode per SigV4 (unreserved A-Z a-z 0-9 - _ . ~ kept; everything
 * else %XX upper-case hex). keep_slash keeps '/' (for paths).
 * Returns the length written, or -1 when out is too small. */
long sigv4_uri_encode(const char *in, size_t in_len, int keep_slash, char *out, size_t out_len);

#endif
