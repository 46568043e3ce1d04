/* ledit: the line being typed at a terminal in non-canonical mode, as a
 * small line editor keeps it (insert at the end, backspace, ^U, ^W, enter,
 * ^C, ^D). Pure: the caller reads the keys and draws the line. */
#ifndef FERRY_PROTO_LEDIT_H
#define FERRY_PROTO_LEDIT_H

#include <stddef.h>

#define LEDIT_MAX 4096 /* bytes a line may hold */

struct ledit {
    char buf[LEDIT_MAX];
    size_t len, cap; /* cap <= LEDIT_MAX: what ledit_init was given */
    int esc;         /* inside an escape sequence (arrow keys...): 1 after ESC, 2 after ESC [ */
};

enum ledit_act {
    LEDIT_NONE,   /* nothing to draw */
    LEDIT_REDRAW, /* the line changed: draw it again */
    LEDIT_ENTER,  /* the line buf[0..len) is done; ledit_clear it once taken */
    LEDIT_EOF,    /* ^D on an empty line: the user is done */
    LEDIT_INTR,   /* ^C: the user wants out */
};

/* An empty line of at most cap bytes (at most LEDIT_MAX). */
void ledit_init(struct ledit *e, size_t cap);

/* Empties the line. */
void ledit_clear(struct ledit *e);

/* Takes one byte typed. Printable bytes and UTF-8 are added at the end
 * (ignored when the line is full); backspace (DEL or ^H) removes the last
 * character, ^U the whole line, ^W the last word and the spaces after it;
 * CR or LF ends the line; other controls and escape sequences are ignored. */
enum ledit_act ledit_key(struct ledit *e, unsigned char ch);

#endif
