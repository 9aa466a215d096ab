/* creds_process.c: credential_process (botocore's ProcessProvider): run the
 * command, read its standard output as JSON Version 1 {AccessKeyId,
 * SecretAccessKey, SessionToken?, Expiration?}. Its standard error goes to
 * ours, untouched (that is where such tools ask for things or explain
 * failures). A command that outlives the timeout is killed. The command
 * runs under /bin/sh -c, so quoting works as on a shell line. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "aws/creds_src.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define PROCESS_MAX_BYTES (64 * 1024)

/* Run cmd; its stdout into out. 0, or a message in why. */
static int run(const char *cmd, int64_t timeout_ms, buf *out, char *why, size_t why_len)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) != 0) {
		snprintf(why, why_len, "pipe: %s", strerror(errno));
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(why, why_len, "fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		setpgid(0, 0);  /* its own group, so a timeout kills its children too */
		dup2(fds[1], STDOUT_FILENO);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	setpgid(pid, pid);
	close(fds[1]);
	int64_t deadline = tp_mono_ms() + timeout_ms;
	int failed = 0, timed_out = 0;
	char chunk[4096];
	for (;;) {
		int64_t left = deadline - tp_mono_ms();
		if (left <= 0) {
			timed_out = 1;
			break;
		}
		struct pollfd pfd = { fds[0], POLLIN, 0 };
		int n = poll(&pfd, 1, (int)(left > 1000 ? 1000 : left));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			continue;
		ssize_t r = read(fds[0], chunk, sizeof chunk);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (out->len + (size_t)r > PROCESS_MAX_BYTES) {
			snprintf(why, why_len, "its output is over %d bytes", PROCESS_MAX_BYTES);
			failed = 1;
			break;
		}
		buf_add(out, chunk, (size_t)r);
	}
	tp_wipe(chunk, sizeof chunk);
	close(fds[0]);
	if (timed_out || failed)
		kill(-pid, SIGKILL);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (timed_out) {
		snprintf(why, why_len, "no answer within %lld ms (killed; TASKPIPE_CREDENTIAL_PROCESS_TIMEOUT_MS)",
			 (long long)timeout_ms);
		return -1;
	}
	if (failed)
		return -1;
	if (WIFSIGNALED(status)) {
		snprintf(why, why_len, "killed by signal %d", WTERMSIG(status));
		return -1;
	}
	if (WEXITSTATUS(status) != 0) {
		snprintf(why, why_len, "exited with status %d (its stderr is above)", WEXITSTATUS(status));
		return -1;
	}
	return 0;
}

int creds_src_process(const char *profile, const char *cmd, int64_t timeout_ms, struct creds *c, tp_err *e)
{
	buf out = { 0 };
	char why[256] = "";
	cJSON *j = NULL;
	int rc;
	/* The command line may hold a secret: error messages name the profile instead. */
	if (run(cmd, timeout_ms, &out, why, sizeof why) != 0) {
		rc = tp_errf(e, TP_EINVAL, "CredentialProcess", "profile %s: credential_process %s", profile, why);
		goto done;
	}
	j = cJSON_Parse(buf_str(&out));
	const cJSON *ver = j ? cJSON_GetObjectItemCaseSensitive(j, "Version") : NULL;
	if (!cJSON_IsObject(j)) {
		rc = tp_errf(e, TP_EINVAL, "CredentialProcess", "profile %s: credential_process output is not a JSON object",
			     profile);
		goto done;
	}
	if (!cJSON_IsNumber(ver) || ver->valuedouble != 1) {
		rc = tp_errf(e, TP_EINVAL, "CredentialProcess",
			     "profile %s: credential_process output has Version %s; only 1 is known", profile,
			     cJSON_IsNumber(ver) ? "other than 1" : "missing");
		goto done;
	}
	const cJSON *ak = cJSON_GetObjectItemCaseSensitive(j, "AccessKeyId");
	const cJSON *sk = cJSON_GetObjectItemCaseSensitive(j, "SecretAccessKey");
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "SessionToken");
	const cJSON *ex = cJSON_GetObjectItemCaseSensitive(j, "Expiration");
	if (!cJSON_IsString(ak) || !*ak->valuestring || !cJSON_IsString(sk) || !*sk->valuestring) {
		rc = tp_errf(e, TP_EINVAL, "CredentialProcess",
			     "profile %s: credential_process output lacks AccessKeyId or SecretAccessKey", profile);
		goto done;
	}
	c->expires_ms = 0;
	if (ex && !cJSON_IsNull(ex) &&
	    (!cJSON_IsString(ex) || creds_parse_time(ex->valuestring, &c->expires_ms) != 0)) {
		rc = tp_errf(e, TP_EINVAL, "CredentialProcess",
			     "profile %s: credential_process Expiration is not an ISO 8601 time", profile);
		goto done;
	}
	if (!creds_set_field(c->access_key_id, sizeof c->access_key_id, ak->valuestring) ||
	    !creds_set_field(c->secret_access_key, sizeof c->secret_access_key, sk->valuestring) ||
	    !creds_set_field(c->session_token, sizeof c->session_token, cJSON_IsString(st) ? st->valuestring : "")) {
		rc = tp_errf(e, TP_EINVAL, "CredentialProcess", "profile %s: a credential_process value is too long",
			     profile);
		goto done;
	}
	creds_set_source(c, "custom-process");
	rc = TP_OK;
done:
	if (rc < 0)
		creds_wipe(c);
	if (j) {
		creds_json_wipe(j);
		cJSON_Delete(j);
	}
	tp_wipe(out.data, out.len);
	buf_free(&out);
	return rc < 0 ? rc : 1;
}
