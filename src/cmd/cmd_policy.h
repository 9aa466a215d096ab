/* cmd_policy.h: `taskpipe policy check|show`, and the policy line of `taskpipe version`. */
#ifndef TP_CMD_POLICY_H
#define TP_CMD_POLICY_H

#include <stddef.h>

/* argv[0] is "policy". Exit status: 0 all items ok, 1 some item failed,
 * 2 usage error or the policy itself does not load. */
int cmd_policy(int argc, char **argv);

/* "policy: <origin> sha256:<hex>" for the policy in force (settings from
 * the environment); 0, or a negative TP_E* with out holding the reason. */
int cmd_policy_describe(char *out, size_t len);

#endif
