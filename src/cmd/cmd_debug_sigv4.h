/* cmd_debug_sigv4.h: `taskpipe debug sigv4` (sign JSON test cases from stdin,
 * the botocore oracle test's entry point) and `taskpipe debug bench-sigv4 [N]`. */
#ifndef TP_CMD_DEBUG_SIGV4_H
#define TP_CMD_DEBUG_SIGV4_H

/* Reads one JSON case per line on stdin, writes one JSON line per case on
 * stdout ({"canonical_request","signature","authorization","url_path",
 * "url_query"}, or {"error"} for a bad case). Returns 0, or 1 if any case
 * failed. argv is ignored. */
int cmd_debug_sigv4(int argc, char **argv);

/* Signs N (the first all-digit argument, default 200000) DynamoDB-sized
 * requests, hashing a 200-byte body each time, and prints
 * {"signatures":N,"seconds":s,"per_second":r} in process CPU time. */
int cmd_debug_bench_sigv4(int argc, char **argv);

#endif
