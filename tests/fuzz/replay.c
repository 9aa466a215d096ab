/* replay.c: main() for replaying fuzz inputs without libFuzzer: runs
 * LLVMFuzzerTestOneInput on every regular file in the directories (or on
 * the files) named on the command line. Built with gcc + ASan + UBSan by
 * `make fuzz-replay`, so the seed corpus is a regression test under
 * `make test`. Exits non-zero when nothing was replayed or a path is
 * unreadable; a crash aborts through the sanitizers.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		return -1;
	}
	size_t cap = 4096, len = 0, n;
	uint8_t *data = malloc(cap);
	if (!data)
		abort();
	while ((n = fread(data + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len == cap) {
			cap *= 2;
			data = realloc(data, cap);
			if (!data)
				abort();
		}
	}
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		fprintf(stderr, "%s: read error\n", path);
		free(data);
		return -1;
	}
	/* an exact-size copy so reads past the input are caught */
	uint8_t *exact = malloc(len ? len : 1);
	if (!exact)
		abort();
	memcpy(exact, data, len);
	free(data);
	LLVMFuzzerTestOneInput(exact, len);
	free(exact);
	return 0;
}

int main(int argc, char **argv)
{
	int count = 0, failed = 0;
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) != 0) {
			perror(argv[i]);
			failed = 1;
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			failed |= run_file(argv[i]) != 0;
			count++;
			continue;
		}
		DIR *d = opendir(argv[i]);
		if (!d) {
			perror(argv[i]);
			failed = 1;
			continue;
		}
		struct dirent *de;
		while ((de = readdir(d))) {
			char path[4096];
			snprintf(path, sizeof path, "%s/%s", argv[i], de->d_name);
			if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
				continue;
			failed |= run_file(path) != 0;
			count++;
		}
		closedir(d);
	}
	printf("fuzz replay: %d input(s)%s\n", count, failed ? ", some unreadable" : "");
	return failed || count == 0;
}
