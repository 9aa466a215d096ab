/* cmd_debug_http.h: `taskpipe debug http`, one HTTP(S) request through the
 * transport of http.h, for checking TLS trust and keep-alive by hand. */
#ifndef TP_CMD_DEBUG_HTTP_H
#define TP_CMD_DEBUG_HTTP_H

/* argv[0] is "http" (the subcommand name); options follow:
 *   [-X METHOD] [-H 'Name: v']... [-d BODY] [--ca FILE] [--repeat N] [-i] URL
 * Prints "HTTP <status>" (and the answer's headers with -i), then the body, to
 * stdout; per-request timing and errors to stderr. Returns the exit code:
 * 0 when every request got an answer, 1 on a transport error, 2 on bad usage. */
int cmd_debug_http(int argc, char **argv);

#endif
