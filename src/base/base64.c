/* base64.c: standard base64 (see base64.h). */
#include "base/base64.h"
#include "base/base.h"

#include <stdlib.h>
#include <string.h>

static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void base64_encode(const void *in, size_t n, char *out)
{
	const unsigned char *p = in;
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = i + 1 < n ? tab[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? tab[v & 63] : '=';
	}
	out[o] = 0;
}

char *base64_encode_dup(const void *in, size_t n)
{
	char *out = tp_xmalloc(BASE64_LEN(n) + 1);
	base64_encode(in, n, out);
	return out;
}

static int val(char c)
{
	const char *p = c ? strchr(tab, c) : NULL;
	return p ? (int)(p - tab) : -1;
}

int base64_decode(const char *s, char **out, size_t *outlen)
{
	size_t n = strlen(s);
	if (n % 4)
		return -1;
	char *o = tp_xmalloc(n / 4 * 3 + 1);
	size_t k = 0;
	for (size_t i = 0; i < n; i += 4) {
		int v[4];
		for (int j = 0; j < 4; j++) {
			v[j] = s[i + j] == '=' ? 0 : val(s[i + j]);
			if (v[j] < 0 || (s[i + j] == '=' && (i + 4 < n || j < 2))) {
				free(o);
				return -1;
			}
		}
		unsigned w = (unsigned)v[0] << 18 | (unsigned)v[1] << 12 | (unsigned)v[2] << 6 | (unsigned)v[3];
		o[k++] = (char)(w >> 16);
		if (s[i + 2] != '=')
			o[k++] = (char)(w >> 8 & 255);
		else if (s[i + 3] != '=') {
			free(o);
			return -1;
		}
		if (s[i + 3] != '=')
			o[k++] = (char)(w & 255);
	}
	*out = o;
	*outlen = k;
	return 0;
}
