/* tty: what a terminal may be shown of bytes from the network. Pure: no
 * I/O, no allocation.
 *
 * A peer's bytes written to a terminal as they are can clear the screen,
 * set the window title, write the clipboard (OSC 52), make the terminal
 * answer into the user's input (ESC [ 6 n), or overwrite a line with a bare
 * CR. tty_escape keeps text and shows every control visibly instead, the
 * way write(1) and IRC clients do:
 *   - valid UTF-8 text, non-ASCII letters included, tab and LF: as they are;
 *     CR only right before LF (CRLF ends a line and overwrites nothing);
 *   - a C0 control: ^ and the control's letter (ESC ^[, NUL ^@, CR ^M);
 *     DEL: ^?;
 *   - a C1 control (U+0080..U+009F, as UTF-8) and any byte that is not part
 *     of valid UTF-8 (a stray 0x80..0xFF such as 8-bit CSI 0x9b, an
 *     overlong form, a surrogate, past U+10FFFF, a cut sequence): \xHH, the
 *     C1 code point or the byte in two lowercase hex digits.
 * A UTF-8 sequence (or a CR) cut at the end of one call is held in the
 * state and finished by the next call, so input may come in any pieces;
 * tty_escape_end shows what is still held. */
#ifndef FERRY_PROTO_TTY_H
#define FERRY_PROTO_TTY_H

#include <stddef.h>
#include <stdint.h>

/* Room out needs for n input bytes (at most 4 bytes out per byte in, and
 * what is held). */
#define TTY_OUT_MAX(n) (4 * (size_t)(n) + 16)

struct tty_esc {
    unsigned char held[4]; /* the start of a UTF-8 sequence, or a CR */
    size_t nheld;
};

/* Starts with nothing held. */
void tty_esc_init(struct tty_esc *e);

/* Writes the visible form of in[0..n) to out. Returns the bytes written,
 * or -ENOBUFS (nothing written) when cap < TTY_OUT_MAX(n) or n is too
 * large for that to be computed. */
long tty_escape(struct tty_esc *e, const void *in, size_t n, char *out, size_t cap);

/* Writes what e still holds (a cut sequence, shown as \xHH each, or a CR as
 * ^M) and empties it. Returns the bytes written (at most 16), or -ENOBUFS
 * when cap < 16. */
long tty_escape_end(struct tty_esc *e, char *out, size_t cap);

#endif
