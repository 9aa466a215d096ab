/* next_probe.c: the smallest Lambda runtime start-up there is, for the
 * consumer cold-start benchmark: connect to $AWS_LAMBDA_RUNTIME_API, send
 * GET /next, wait. (bench_consume.py builds and runs it.) */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void)
{
	const char *api = getenv("AWS_LAMBDA_RUNTIME_API");
	const char *colon = api ? strchr(api, ':') : NULL;
	if (!colon)
		return 2;
	char host[64];
	snprintf(host, sizeof host, "%.*s", (int)(colon - api), api);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(colon + 1)) };
	inet_pton(AF_INET, host, &a.sin_addr);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
		return 1;
	const char req[] = "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: runtime\r\n\r\n";
	if (write(fd, req, sizeof req - 1) < 0)
		return 1;
	char b[4096];
	while (read(fd, b, sizeof b) > 0)
		;
	return 0;
}
