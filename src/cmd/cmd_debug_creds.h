/* cmd_debug_creds.h: `taskpipe debug creds`, which credentials the chain
 * finds (source, key id, expiry), never the secret or the token. */
#ifndef TP_CMD_DEBUG_CREDS_H
#define TP_CMD_DEBUG_CREDS_H

/* argv[0] is "creds". Prints {"source","access_key_id","expires_ms",
 * "has_session_token"} on stdout; 0 on success, 1 with the reason on stderr. */
int cmd_debug_creds(int argc, char **argv);

#endif
