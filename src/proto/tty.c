#include "proto/tty.h"

#include <errno.h>
#include <string.h>

static const char hex[] = "0123456789abcdef";

static size_t put_hex(char *o, unsigned v)
{
    o[0] = '\\';
    o[1] = 'x';
    o[2] = hex[(v >> 4) & 0xf];
    o[3] = hex[v & 0xf];
    return 4;
}

/* One byte that is not (part of) UTF-8 text: a C0 control, DEL, or a byte
 * of no valid sequence. */
static size_t put_byte(char *o, unsigned char c)
{
    if (c < 0x20 || c == 0x7f) {
        o[0] = '^';
        o[1] = (char)(c ^ 0x40); /* ESC 0x1b -> '[', DEL 0x7f -> '?' */
        return 2;
    }
    return put_hex(o, c);
}

/* The length of the UTF-8 sequence that lead byte c starts, 0 for a byte
 * that starts none (a continuation byte, C0 and C1 overlong leads, F5..FF). */
static size_t seq_len(unsigned char c)
{
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        return 2;
    if (c >= 0xe0 && c <= 0xef)
        return 3;
    if (c >= 0xf0 && c <= 0xf4)
        return 4;
    return 0;
}

/* True when c may follow lead at position i (1..3) of its sequence: the
 * second byte's range also rules out overlong forms, surrogates and code
 * points past U+10FFFF. */
static int cont_ok(unsigned char lead, size_t i, unsigned char c)
{
    if (c < 0x80 || c > 0xbf)
        return 0;
    if (i != 1)
        return 1;
    switch (lead) {
    case 0xe0:
        return c >= 0xa0;
    case 0xed:
        return c <= 0x9f;
    case 0xf0:
        return c >= 0x90;
    case 0xf4:
        return c <= 0x8f;
    default:
        return 1;
    }
}

/* A complete, valid sequence p[0..len): as it is, but a C1 control
 * (U+0080..U+009F: C2 80..C2 9F) as \xHH. */
static size_t put_seq(char *o, const unsigned char *p, size_t len)
{
    if (len == 2 && p[0] == 0xc2 && p[1] <= 0x9f)
        return put_hex(o, p[1]);
    memcpy(o, p, len);
    return len;
}

void tty_esc_init(struct tty_esc *e)
{
    e->nheld = 0;
}

long tty_escape_end(struct tty_esc *e, char *out, size_t cap)
{
    size_t w = 0;

    if (cap < 16)
        return -ENOBUFS;
    for (size_t i = 0; i < e->nheld; i++)
        w += put_byte(out + w, e->held[i]);
    e->nheld = 0;
    return (long)w;
}

long tty_escape(struct tty_esc *e, const void *in, size_t n, char *out, size_t cap)
{
    const unsigned char *p = in;
    size_t i = 0, w = 0;

    if (n > (SIZE_MAX - 16) / 4 || cap < TTY_OUT_MAX(n))
        return -ENOBUFS;
    /* First finish what the last call held. */
    if (e->nheld == 1 && e->held[0] == '\r') {
        if (n == 0)
            return 0;
        if (p[0] == '\n') {
            memcpy(out, "\r\n", 2);
            w = 2;
            i = 1;
        } else {
            w = put_byte(out, '\r');
        }
        e->nheld = 0;
    } else if (e->nheld > 0) {
        size_t len = seq_len(e->held[0]);
        while (e->nheld < len && i < n && cont_ok(e->held[0], e->nheld, p[i]))
            e->held[e->nheld++] = p[i++];
        if (e->nheld == len) {
            w = put_seq(out, e->held, len);
            e->nheld = 0;
        } else if (i < n) { /* broken by a byte that does not continue it */
            long r = tty_escape_end(e, out, cap);
            w = (size_t)r;
        } else {
            return 0; /* still cut: held on */
        }
    }
    while (i < n) {
        unsigned char c = p[i];
        if (c >= 0x20 && c < 0x7f) {
            out[w++] = (char)c;
            i++;
            continue;
        }
        if (c == '\t' || c == '\n') {
            out[w++] = (char)c;
            i++;
            continue;
        }
        if (c == '\r') {
            if (i + 1 == n) {
                e->held[0] = c;
                e->nheld = 1;
                return (long)w;
            }
            if (p[i + 1] == '\n') {
                memcpy(out + w, "\r\n", 2);
                w += 2;
                i += 2;
                continue;
            }
        }
        size_t len = seq_len(c);
        if (len <= 1) { /* C0, DEL, or no lead byte */
            w += put_byte(out + w, c);
            i++;
            continue;
        }
        size_t k = 1;
        while (k < len && i + k < n && cont_ok(c, k, p[i + k]))
            k++;
        if (k == len) {
            w += put_seq(out + w, p + i, len);
            i += len;
        } else if (i + k == n) { /* cut at the end: the next call finishes it */
            memcpy(e->held, p + i, k);
            e->nheld = k;
            return (long)w;
        } else { /* not a sequence: its lead byte alone, then go on */
            w += put_byte(out + w, c);
            i++;
        }
    }
    return (long)w;
}
