/* lineedit.c: the REPL's line editor (see lineedit.h). The terminal is in
 * raw mode only while a line is read, so Lua's output and Ctrl-C during a
 * chunk behave as without the editor. The line is redrawn whole after each
 * key (prompt, the visible part of the buffer, clear to the end, cursor),
 * as linenoise's single-line mode does. */
#include "cmd/lineedit.h"

#include "base/base.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

struct lineedit {
	int in, out;               /* terminal fds */
	struct termios saved;      /* the terminal's mode outside a read */
	char **hist;               /* oldest first */
	size_t n_hist;
	char *hist_file;           /* NULL: memory only */
	int interrupted;           /* the last read ended with Ctrl-C */
};

/* ---- UTF-8 ---- */

static int is_cont(unsigned char c)
{
	return (c & 0xC0) == 0x80;
}

size_t lineedit_columns(const char *s, size_t len)
{
	size_t cols = 0;
	for (size_t i = 0; i < len; i++)
		cols += !is_cont((unsigned char)s[i]);
	return cols;
}

size_t lineedit_prev(const char *s, size_t pos)
{
	while (pos > 0 && is_cont((unsigned char)s[--pos]))
		;
	return pos;
}

size_t lineedit_next(const char *s, size_t len, size_t pos)
{
	if (pos < len)
		pos++;
	while (pos < len && is_cont((unsigned char)s[pos]))
		pos++;
	return pos;
}

/* ---- history ---- */

static void hist_push(struct lineedit *le, const char *line)
{
	if (le->n_hist == LINEEDIT_HISTORY_MAX) {
		free(le->hist[0]);
		memmove(le->hist, le->hist + 1, (le->n_hist - 1) * sizeof *le->hist);
		le->n_hist--;
	}
	le->hist = tp_xrealloc(le->hist, (le->n_hist + 1) * sizeof *le->hist);
	le->hist[le->n_hist++] = tp_xstrdup(line);
}

void lineedit_history_add(struct lineedit *le, const char *line)
{
	if (!le || !*line || strchr(line, '\n') ||
	    (le->n_hist && strcmp(le->hist[le->n_hist - 1], line) == 0))
		return;
	hist_push(le, line);
	FILE *f = le->hist_file ? fopen(le->hist_file, "a") : NULL;
	if (f) {
		fprintf(f, "%s\n", line);
		fclose(f);
	}
}

static void hist_load(struct lineedit *le)
{
	FILE *f = le->hist_file ? fopen(le->hist_file, "r") : NULL;
	if (!f)
		return;
	char line[4096];
	while (fgets(line, sizeof line, f)) {
		size_t n = strlen(line);
		if (n && line[n - 1] == '\n')
			line[--n] = 0;
		if (n && !(le->n_hist && strcmp(le->hist[le->n_hist - 1], line) == 0))
			hist_push(le, line);
	}
	fclose(f);
}

/* ---- terminal ---- */

struct lineedit *lineedit_new(int in, int out, const char *history_file)
{
	if (!isatty(in) || !isatty(out))
		return NULL;
	struct lineedit *le = tp_xcalloc(1, sizeof *le);
	le->in = in;
	le->out = out;
	if (tcgetattr(in, &le->saved) < 0) {
		free(le);
		return NULL;
	}
	le->hist_file = history_file && *history_file ? tp_xstrdup(history_file) : NULL;
	hist_load(le);
	return le;
}

void lineedit_free(struct lineedit *le)
{
	if (!le)
		return;
	for (size_t i = 0; i < le->n_hist; i++)
		free(le->hist[i]);
	free(le->hist);
	free(le->hist_file);
	free(le);
}

static int raw_on(struct lineedit *le)
{
	struct termios raw = le->saved;
	/* bytes as typed: no echo, no line buffering, Ctrl-C/Ctrl-Z/Ctrl-V and
	 * flow control as keys, CR not turned into NL; output unchanged */
	raw.c_iflag &= ~(unsigned)(BRKINT | ICRNL | INPCK | ISTRIP | IXON);
	raw.c_lflag &= ~(unsigned)(ECHO | ICANON | IEXTEN | ISIG);
	raw.c_cc[VMIN] = 1;
	raw.c_cc[VTIME] = 0;
	return tcsetattr(le->in, TCSAFLUSH, &raw);
}

static void raw_off(struct lineedit *le)
{
	tcsetattr(le->in, TCSAFLUSH, &le->saved);
}

static int columns_of_terminal(int fd)
{
	struct winsize ws;
	if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 80;
}

static void put_all(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

/* ---- editing ---- */

struct edit {
	buf b;                 /* the line */
	size_t pos;            /* cursor, a byte offset */
	const char *prompt;
};

/* Redraw: prompt, the part of the line around the cursor that fits, clear
 * the rest, put the cursor back. */
static void refresh(struct lineedit *le, struct edit *ed)
{
	const char *s = ed->b.data ? ed->b.data : "";
	size_t len = ed->b.len;
	size_t cols = (size_t)columns_of_terminal(le->out);
	size_t plen = lineedit_columns(ed->prompt, strlen(ed->prompt));
	size_t start = 0, end = len;
	/* scroll right until the cursor fits */
	while (start < ed->pos && plen + lineedit_columns(s + start, ed->pos - start) >= cols)
		start = lineedit_next(s, len, start);
	while (end > ed->pos && plen + lineedit_columns(s + start, end - start) > cols - 1)
		end = lineedit_prev(s, end);
	buf o = { 0 };
	buf_adds(&o, "\r");
	buf_adds(&o, ed->prompt);
	buf_add(&o, s + start, end - start);
	buf_adds(&o, "\x1b[0K\r");
	size_t at = plen + lineedit_columns(s + start, ed->pos - start);
	if (at)
		buf_addf(&o, "\x1b[%zuC", at);
	put_all(le->out, o.data, o.len);
	buf_free(&o);
}

static void set_line(struct edit *ed, const char *text)
{
	ed->b.len = 0;
	buf_adds(&ed->b, text);
	ed->pos = ed->b.len;
}

static void delete_range(struct edit *ed, size_t from, size_t to)
{
	if (to <= from)
		return;
	memmove(ed->b.data + from, ed->b.data + to, ed->b.len - to);
	ed->b.len -= to - from;
	ed->b.data[ed->b.len] = 0;
	if (ed->pos > to)
		ed->pos -= to - from;
	else if (ed->pos > from)
		ed->pos = from;
}

static void insert(struct edit *ed, const char *bytes, size_t n)
{
	if (ed->b.len + n > LINEEDIT_LINE_MAX)
		return;
	buf_add(&ed->b, bytes, n); /* room at the end, then shift into place */
	memmove(ed->b.data + ed->pos + n, ed->b.data + ed->pos, ed->b.len - n - ed->pos);
	memcpy(ed->b.data + ed->pos, bytes, n);
	ed->b.data[ed->b.len] = 0;
	ed->pos += n;
}

static int read_byte(struct lineedit *le, unsigned char *c)
{
	for (;;) {
		ssize_t r = read(le->in, c, 1);
		if (r == 1)
			return 1;
		if (r < 0 && errno == EINTR)
			continue;
		return 0;
	}
}

enum key { K_NONE, K_UP, K_DOWN, K_LEFT, K_RIGHT, K_HOME, K_END, K_DELETE };

/* After ESC: CSI (ESC [) and SS3 (ESC O) sequences of the keys above. */
static enum key read_escape(struct lineedit *le)
{
	unsigned char a, b;
	if (!read_byte(le, &a) || !read_byte(le, &b))
		return K_NONE;
	if (a == '[' && b >= '0' && b <= '9') {
		unsigned char c;
		int n = b - '0';
		while (read_byte(le, &c) && c >= '0' && c <= '9')
			n = n * 10 + (c - '0');
		if (c != '~')
			return K_NONE; /* modifiers (;5~ ...) are not bound */
		switch (n) {
		case 1: case 7: return K_HOME;
		case 4: case 8: return K_END;
		case 3: return K_DELETE;
		}
		return K_NONE;
	}
	if (a != '[' && a != 'O')
		return K_NONE;
	switch (b) {
	case 'A': return K_UP;
	case 'B': return K_DOWN;
	case 'C': return K_RIGHT;
	case 'D': return K_LEFT;
	case 'H': return K_HOME;
	case 'F': return K_END;
	}
	return K_NONE;
}

static size_t word_start(const char *s, size_t pos)
{
	while (pos > 0 && s[pos - 1] == ' ')
		pos--;
	while (pos > 0 && s[pos - 1] != ' ')
		pos--;
	return pos;
}

char *lineedit_read(struct lineedit *le, const char *prompt)
{
	struct edit ed = { .prompt = prompt ? prompt : "" };
	buf_adds(&ed.b, "");
	le->interrupted = 0;
	if (raw_on(le) < 0) {
		buf_free(&ed.b);
		return NULL;
	}
	size_t hist_at = le->n_hist;   /* n_hist: the line being typed */
	char *typed = NULL;            /* it, while browsing the history */
	char *result = NULL;
	refresh(le, &ed);
	for (;;) {
		unsigned char c;
		if (!read_byte(le, &c))
			break; /* the terminal went away: end of input */
		enum key k = K_NONE;
		if (c == 27) {
			k = read_escape(le);
		} else if (c == '\r' || c == '\n') {
			result = buf_steal(&ed.b);
			break;
		} else if (c == 4) { /* Ctrl-D */
			if (ed.b.len == 0)
				break;
			k = K_DELETE;
		} else if (c == 3) { /* Ctrl-C */
			put_all(le->out, "^C", 2);
			le->interrupted = 1;
			result = tp_xstrdup("");
			break;
		} else if (c == 127 || c == 8) {
			delete_range(&ed, lineedit_prev(ed.b.data, ed.pos), ed.pos);
		} else if (c == 1) {
			k = K_HOME;
		} else if (c == 5) {
			k = K_END;
		} else if (c == 2) {
			k = K_LEFT;
		} else if (c == 6) {
			k = K_RIGHT;
		} else if (c == 16) {
			k = K_UP;
		} else if (c == 14) {
			k = K_DOWN;
		} else if (c == 11) { /* Ctrl-K */
			delete_range(&ed, ed.pos, ed.b.len);
		} else if (c == 21) { /* Ctrl-U */
			delete_range(&ed, 0, ed.pos);
		} else if (c == 23) { /* Ctrl-W */
			delete_range(&ed, word_start(ed.b.data, ed.pos), ed.pos);
		} else if (c == 12) { /* Ctrl-L */
			put_all(le->out, "\x1b[H\x1b[2J", 7);
		} else if (c == '\t') {
			insert(&ed, "  ", 2);
		} else if (c >= 32) {
			insert(&ed, (const char *)&c, 1);
		}
		switch (k) {
		case K_LEFT: ed.pos = lineedit_prev(ed.b.data, ed.pos); break;
		case K_RIGHT: ed.pos = lineedit_next(ed.b.data, ed.b.len, ed.pos); break;
		case K_HOME: ed.pos = 0; break;
		case K_END: ed.pos = ed.b.len; break;
		case K_DELETE: delete_range(&ed, ed.pos, lineedit_next(ed.b.data, ed.b.len, ed.pos)); break;
		case K_UP:
			if (hist_at > 0) {
				if (hist_at == le->n_hist) {
					free(typed);
					typed = tp_xstrdup(ed.b.data);
				}
				set_line(&ed, le->hist[--hist_at]);
			}
			break;
		case K_DOWN:
			if (hist_at < le->n_hist) {
				hist_at++;
				set_line(&ed, hist_at == le->n_hist ? (typed ? typed : "") : le->hist[hist_at]);
			}
			break;
		case K_NONE: break;
		}
		refresh(le, &ed);
	}
	/* leave the line as typed, the cursor on the next one */
	ed.pos = ed.b.len;
	if (result) {
		struct edit shown = { .prompt = ed.prompt };
		buf_adds(&shown.b, result);
		shown.pos = shown.b.len;
		if (!le->interrupted)
			refresh(le, &shown);
		buf_free(&shown.b);
	}
	put_all(le->out, "\r\n", 2);
	raw_off(le);
	free(typed);
	buf_free(&ed.b);
	return result;
}

int lineedit_interrupted(const struct lineedit *le)
{
	return le && le->interrupted;
}
