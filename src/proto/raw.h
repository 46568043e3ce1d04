/* raw: the classic raw file protocol. The client sends a file name with no
 * terminator and waits; the server sends the bytes and closes. Pure. */
#ifndef FERRY_PROTO_RAW_H
#define FERRY_PROTO_RAW_H

#include <stddef.h>

#define RAW_MAX_NAME 4096

enum raw_detect {
    RAW_IS_HTTP,  /* starts with a known method and a space */
    RAW_IS_RAW,   /* cannot be the start of an HTTP request line */
    RAW_IS_MAYBE, /* a proper prefix of "METHOD ": wait a little for more */
};

/* Decides which protocol the first bytes of a connection speak. */
enum raw_detect raw_detect(const char *buf, size_t len);

enum raw_name {
    RAW_NAME_MORE,    /* no end yet: more of the name may be on its way */
    RAW_NAME_DONE,    /* a CR, LF or NUL ends the name */
    RAW_NAME_TOOLONG, /* RAW_MAX_NAME bytes and no end */
};

/* Looks for the end of a raw name in buf[0..len): the first CR, LF or NUL.
 * RAW_NAME_DONE sets *name_len to the bytes before it (0 for an empty
 * name). A name without such an end is complete only when the peer says
 * so, by shutting down its side or by falling quiet; the caller decides
 * that and then takes raw_name_len of what arrived. */
enum raw_name raw_name_scan(const char *buf, size_t len, size_t *name_len);

/* The length of the file name in buf[0..len): the bytes with trailing CR
 * and LF removed. Returns -EINVAL for an empty name, -ENAMETOOLONG past
 * RAW_MAX_NAME bytes. */
long raw_name_len(const char *buf, size_t len);

#endif
