#include "proto/ledit.h"

#include <stdbool.h>

void ledit_init(struct ledit *e, size_t cap)
{
    e->cap = cap < LEDIT_MAX ? cap : LEDIT_MAX;
    e->len = 0;
    e->esc = 0;
}

void ledit_clear(struct ledit *e)
{
    e->len = 0;
    e->esc = 0;
}

/* True for a UTF-8 continuation byte. */
static bool cont(unsigned char ch)
{
    return (ch & 0xc0) == 0x80;
}

enum ledit_act ledit_key(struct ledit *e, unsigned char ch)
{
    if (e->esc == 1) {
        e->esc = ch == '[' || ch == 'O' ? 2 : 0; /* CSI and SS3 take a final byte */
        return LEDIT_NONE;
    }
    if (e->esc == 2) {
        if (ch >= 0x40 && ch <= 0x7e)
            e->esc = 0;
        return LEDIT_NONE;
    }
    switch (ch) {
    case '\r':
    case '\n':
        return LEDIT_ENTER;
    case 0x03: /* ^C */
        return LEDIT_INTR;
    case 0x04: /* ^D */
        return e->len == 0 ? LEDIT_EOF : LEDIT_NONE;
    case 0x7f:
    case 0x08: /* backspace: one character, all its UTF-8 bytes */
        if (e->len == 0)
            return LEDIT_NONE;
        while (e->len > 1 && cont((unsigned char)e->buf[e->len - 1]))
            e->len--;
        e->len--;
        return LEDIT_REDRAW;
    case 0x15: /* ^U */
        e->len = 0;
        return LEDIT_REDRAW;
    case 0x17: /* ^W */
        while (e->len > 0 && e->buf[e->len - 1] == ' ')
            e->len--;
        while (e->len > 0 && e->buf[e->len - 1] != ' ')
            e->len--;
        return LEDIT_REDRAW;
    case 0x1b:
        e->esc = 1;
        return LEDIT_NONE;
    default:
        break;
    }
    if (ch < 0x20 || e->len >= e->cap)
        return LEDIT_NONE;
    e->buf[e->len++] = (char)ch;
    return LEDIT_REDRAW;
}
