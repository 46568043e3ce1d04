#include "proto/chatmsg.h"

#include <string.h>

#define WELCOME "* welcome to ferry chat, "
#define REFUSED "* cannot take that name"
#define IS_NOW " is now "

/* The length of the name at s[0..n): bytes up to a space or n. */
static size_t name_span(const char *s, size_t n)
{
    const char *sp = memchr(s, ' ', n);
    return sp != NULL ? (size_t)(sp - s) : n;
}

enum chatmsg_kind chatmsg_classify(const char *s, size_t n, struct chatmsg *m)
{
    const size_t wl = sizeof WELCOME - 1, rl = sizeof REFUSED - 1, il = sizeof IS_NOW - 1;

    memset(m, 0, sizeof *m);
    m->kind = CHATMSG_OTHER;
    if (n >= rl && memcmp(s, REFUSED, rl) == 0) {
        m->kind = CHATMSG_REFUSED;
    } else if (n > wl && memcmp(s, WELCOME, wl) == 0) {
        const char *name = s + wl;
        const char *colon = memmem(name, n - wl, ": ", 2); /* an address name has ':' */
        if (colon != NULL && colon > name &&
            name_span(name, (size_t)(colon - name)) == (size_t)(colon - name)) {
            m->kind = CHATMSG_WELCOME;
            m->name = name;
            m->name_len = (size_t)(colon - name);
        }
    } else if (n > 2 && s[0] == '*' && s[1] == ' ') {
        const char *old = s + 2;
        size_t old_len = name_span(old, n - 2);
        size_t rest = n - 2 - old_len;
        const char *name = old + old_len + il;
        if (old_len > 0 && rest > il && memcmp(old + old_len, IS_NOW, il) == 0 &&
            name_span(name, rest - il) == rest - il) {
            m->kind = CHATMSG_RENAMED;
            m->old = old;
            m->old_len = old_len;
            m->name = name;
            m->name_len = rest - il;
        }
    }
    return m->kind;
}
