#include "proto/fedmsg.h"

#include <errno.h>
#include <string.h>

bool fedmsg_line_ok(const char *p, size_t n, size_t max)
{
    return n >= 1 && n <= max && p[n - 1] == '\n' && memchr(p, '\n', n - 1) == NULL;
}

bool fedmsg_id_ok(const char *id)
{
    for (size_t i = 0; i < FEDMSG_ID_LEN; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
            return false;
    return true;
}

long fedmsg_encode(char *out, size_t cap, const char *id, enum fedmsg_kind kind, const char *line,
                   size_t n)
{
    if (!fedmsg_id_ok(id))
        return -EINVAL;
    if (kind == FEDMSG_PING ? line != NULL
                            : (kind != FEDMSG_LINE && kind != FEDMSG_NOTICE) || line == NULL ||
                                  !fedmsg_line_ok(line, n, n))
        return -EINVAL;
    size_t total = FEDMSG_HEAD_LEN + (line != NULL ? 1 + n : 0);
    if (total > cap)
        return -ENOBUFS;
    memcpy(out, "F1 ", 3);
    memcpy(out + 3, id, FEDMSG_ID_LEN);
    out[3 + FEDMSG_ID_LEN] = ' ';
    out[4 + FEDMSG_ID_LEN] = (char)kind;
    if (line != NULL) {
        out[FEDMSG_HEAD_LEN] = ' ';
        memcpy(out + FEDMSG_HEAD_LEN + 1, line, n);
    }
    return (long)total;
}

int fedmsg_parse(const char *p, size_t n, size_t max, struct fedmsg *m)
{
    if (n < FEDMSG_HEAD_LEN || memcmp(p, "F1 ", 3) != 0 || !fedmsg_id_ok(p + 3) ||
        p[3 + FEDMSG_ID_LEN] != ' ')
        return -EINVAL;
    char kind = p[4 + FEDMSG_ID_LEN];
    if (kind == FEDMSG_PING) {
        if (n != FEDMSG_HEAD_LEN)
            return -EINVAL;
        *m = (struct fedmsg){.id = p + 3, .kind = FEDMSG_PING};
        return 0;
    }
    if (kind != FEDMSG_LINE && kind != FEDMSG_NOTICE)
        return -EINVAL;
    if (n < FEDMSG_HEAD_LEN + 2 || p[FEDMSG_HEAD_LEN] != ' ')
        return -EINVAL;
    const char *line = p + FEDMSG_HEAD_LEN + 1;
    size_t len = n - FEDMSG_HEAD_LEN - 1;
    if (!fedmsg_line_ok(line, len, max))
        return -EINVAL;
    *m = (struct fedmsg){.id = p + 3, .kind = (enum fedmsg_kind)kind, .line = line, .len = len};
    return 0;
}
