/* runtime_api.h: taskpipe as a Lambda custom runtime (`bootstrap`).
 *
 * Start-up loads settings (environment only) and the policy once; a failure
 * is posted to /runtime/init/error and the process exits 1. Then it loops:
 * GET /2018-06-01/runtime/invocation/next (no timeout: the process is frozen
 * between invocations), handle the event (events.h), POST .../response or
 * .../error. Work is not started within TASKPIPE_DEADLINE_RESERVE_MS
 * (default 3000) of Lambda-Runtime-Deadline-Ms; what was left is reported
 * as failures to retry. */
#ifndef TP_RUNTIME_API_H
#define TP_RUNTIME_API_H

/* 1 when the process should run as the runtime: argv0's basename is
 * "bootstrap" or AWS_LAMBDA_RUNTIME_API is set. */
int runtime_wanted(const char *argv0);

/* Run the loop; returns the process exit code (only on a fatal error). */
int runtime_main(int argc, char **argv);

#endif
