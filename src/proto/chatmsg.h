/* chatmsg: the broker's notices that a ferry chat client acts on. Pure. */
#ifndef FERRY_PROTO_CHATMSG_H
#define FERRY_PROTO_CHATMSG_H

#include <stddef.h>

enum chatmsg_kind {
    CHATMSG_OTHER,   /* anything else: a message, another notice */
    CHATMSG_WELCOME, /* "* welcome to ferry chat, NAME: ...": name is NAME */
    CHATMSG_RENAMED, /* "* OLD is now NEW": old is OLD, name is NEW */
    CHATMSG_REFUSED, /* "* cannot take that name...": the last /nick was refused */
};

struct chatmsg {
    enum chatmsg_kind kind;
    const char *name, *old; /* point into the line */
    size_t name_len, old_len;
};

/* Classifies one line from a broker, s[0..n) without its line ending.
 * Names hold no space (the broker refuses such names). Returns the kind,
 * also stored in m with the names it carries. */
enum chatmsg_kind chatmsg_classify(const char *s, size_t n, struct chatmsg *m);

#endif
