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

/* The length of the file name in buf[0..len): the bytes with trailing CR
 * and LF removed. Returns -EINVAL for an empty name, -ENAMETOOLONG past
 * RAW_MAX_NAME bytes. */
long raw_name_len(const char *buf, size_t len);

#endif
