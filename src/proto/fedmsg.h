/* fedmsg: what chat brokers federated over Redis publish to each other.
 *
 * One pub/sub message is "F1 ID KIND" followed, for a line, by " LINE":
 *   ID    the sending broker, FEDMSG_ID_LEN lowercase hex digits
 *   KIND  'l' a chat line (newcomers get it from the history),
 *         'n' a notice (joins, leaves, renames: not kept),
 *         'p' a ping a broker sends itself to check its subscription
 *   LINE  for l and n: the line as clients get it, "NAME: text\n" or
 *         "* notice\n": one LF, at its end, and nothing else past max bytes
 * A broker ignores its own l and n. The history list holds bare LINEs
 * (fedmsg_line_ok checks them).
 *
 * Pure: no I/O, no allocation; results point into the caller's buffer. */
#ifndef FERRY_PROTO_FEDMSG_H
#define FERRY_PROTO_FEDMSG_H

#include <stdbool.h>
#include <stddef.h>

#define FEDMSG_ID_LEN 16
#define FEDMSG_HEAD_LEN (3 + FEDMSG_ID_LEN + 2) /* "F1 " ID " " KIND */

enum fedmsg_kind { FEDMSG_LINE = 'l', FEDMSG_NOTICE = 'n', FEDMSG_PING = 'p' };

struct fedmsg {
    const char *id; /* FEDMSG_ID_LEN bytes */
    enum fedmsg_kind kind;
    const char *line; /* NULL for a ping */
    size_t len;
};

/* True when p[0..n) is one line of at most max bytes: it ends with LF and
 * holds no other LF. */
bool fedmsg_line_ok(const char *p, size_t n, size_t max);

/* True when id is FEDMSG_ID_LEN lowercase hex digits (no NUL needed). */
bool fedmsg_id_ok(const char *id);

/* Writes the message into out[0..cap) (no NUL). line is NULL for a ping,
 * else a line fedmsg_line_ok accepts with max = n. Returns the length, or
 * -EINVAL for a bad id, kind or line, -ENOBUFS when cap is too small. */
long fedmsg_encode(char *out, size_t cap, const char *id, enum fedmsg_kind kind, const char *line,
                   size_t n);

/* Parses p[0..n); a line may be at most max bytes. Returns 0 with *m
 * filled, or -EINVAL (*m untouched). */
int fedmsg_parse(const char *p, size_t n, size_t max, struct fedmsg *m);

#endif
