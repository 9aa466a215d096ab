/* lineedit.h: a small line editor for the REPL on a terminal, written here
 * (Debian ships no static linenoise, and GNU readline would bring the GPL
 * into the static binary). One line at a time, in raw mode, with
 * horizontal scrolling when it is wider than the terminal:
 *
 *   Left/Right, Ctrl-B/Ctrl-F   move by a character (UTF-8 aware)
 *   Home/End, Ctrl-A/Ctrl-E     start / end of the line
 *   Backspace, Delete, Ctrl-H   delete before / under the cursor
 *   Ctrl-K / Ctrl-U / Ctrl-W    kill to the end / to the start / the word before
 *   Up/Down, Ctrl-P/Ctrl-N      history
 *   Ctrl-L                      clear the screen
 *   Ctrl-C                      drop the line (an empty line is returned)
 *   Ctrl-D                      end of input on an empty line, else delete
 *   Enter                       the line
 *
 * History is kept in memory (at most LINEEDIT_HISTORY_MAX lines, no two
 * equal ones in a row) and in a file, one line each, loaded at start and
 * appended to as lines are entered. */
#ifndef TP_LINEEDIT_H
#define TP_LINEEDIT_H

#include <stddef.h>

#define LINEEDIT_HISTORY_MAX 1000
#define LINEEDIT_LINE_MAX 65536

struct lineedit;

/* An editor on the terminal fds in and out; NULL when in or out is not a
 * terminal (the caller reads plain lines then). history_file may be NULL
 * (no file). */
struct lineedit *lineedit_new(int in, int out, const char *history_file);
void lineedit_free(struct lineedit *le);

/* Read one line with prompt; malloc'd without its newline, NULL at end of
 * input (Ctrl-D on an empty line, or the terminal went away). */
char *lineedit_read(struct lineedit *le, const char *prompt);

/* The last read ended with Ctrl-C (it returned ""): drop what is pending. */
int lineedit_interrupted(const struct lineedit *le);

/* Add a line to the history (and its file). Empty lines and a repeat of
 * the last line are not added. */
void lineedit_history_add(struct lineedit *le, const char *line);

/* Pure helpers, for tests: columns a UTF-8 string takes (one per code
 * point), and the byte offset one code point before / after pos. */
size_t lineedit_columns(const char *s, size_t len);
size_t lineedit_prev(const char *s, size_t pos);
size_t lineedit_next(const char *s, size_t len, size_t pos);

#endif
