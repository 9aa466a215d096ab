/* log.h: one log line per event on stderr, JSON by default.
 *
 * Honours AWS_LAMBDA_LOG_FORMAT (JSON|Text) and AWS_LAMBDA_LOG_LEVEL
 * (TRACE|DEBUG|INFO|WARN|ERROR|FATAL), or TASKPIPE_LOG_LEVEL outside Lambda.
 * Callers never pass secrets: Authorization headers, secret keys and session
 * tokens are not log material.
 */
#ifndef TP_LOG_H
#define TP_LOG_H

enum log_level { LOG_TRACE, LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_FATAL };

void log_init(void);                       /* read the environment */
void log_set_level(int level);
void log_set_json(int json);
int log_enabled(int level);
void log_set_request_id(const char *id);   /* NULL clears */

/* fields: extra string members as key, value pairs ending in NULL, e.g.
 * (const char *[]){ "pipeline", name, NULL }, or NULL for none; log_msg
 * escapes keys, values and the message (a NULL value leaves its pair out). */
void log_msg(int level, const char *const *fields, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_debug(...) log_msg(LOG_DEBUG, NULL, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, NULL, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, NULL, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, NULL, __VA_ARGS__)

#endif
