/* line: messages on a byte stream without framing, for hello, chat and udp.
 *
 * A message is a line ended by LF or CRLF. Bytes without a newline become a
 * message once the peer has nothing more pending (the caller read until the
 * socket was empty: the classic clients send a word and wait). A message
 * never passes the cap: longer input is cut into pieces of at most cap bytes.
 * Pure: no I/O, no allocation; results point into the caller's buffer. */
#ifndef FERRY_PROTO_LINE_H
#define FERRY_PROTO_LINE_H

#include <stdbool.h>
#include <stddef.h>

#define LINE_DEFAULT_CAP 4096

struct line {
    const char *text;  /* the message without its line ending */
    size_t len;
    const char *eol;   /* "\n", "\r\n" or "" as the peer ended it */
    size_t consumed;   /* bytes of input the message used */
};

/* Takes the next message from buf[0..len). drained says the peer has sent
 * nothing more for now. Returns true with *out filled, or false when the
 * bytes so far must wait for more. cap must be at least 1. */
bool line_next(const char *buf, size_t len, size_t cap, bool drained, struct line *out);

#endif
