#include "proto/tar.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define USTAR_NAME 100
#define USTAR_PREFIX 155
#define USTAR_SIZE_MAX 077777777777ull /* 11 octal digits: 8 GiB - 1 */
#define USTAR_TIME_MAX 077777777777ll

/* Field offsets in a ustar header block (POSIX.1-2008, pax "ustar Interchange Format"). */
enum {
    F_NAME = 0,
    F_MODE = 100,
    F_UID = 108,
    F_GID = 116,
    F_SIZE = 124,
    F_MTIME = 136,
    F_CHKSUM = 148,
    F_TYPE = 156,
    F_MAGIC = 257,
    F_VERSION = 263,
    F_PREFIX = 345,
};

size_t tar_pad(uint64_t size)
{
    return (size_t)((TAR_BLOCK - size % TAR_BLOCK) % TAR_BLOCK);
}

/* Writes v as width-1 octal digits and a NUL into field. */
static void octal(char *field, size_t width, uint64_t v)
{
    field[width - 1] = '\0';
    for (size_t i = width - 1; i > 0; i--) {
        field[i - 1] = (char)('0' + (v & 7));
        v >>= 3;
    }
}

/* True when name[0..len) may be split at the "/" at cut: prefix and name
 * both fit, and the name part is not empty. */
static bool split_at(const char *name, size_t len, size_t cut)
{
    return name[cut] == '/' && cut <= USTAR_PREFIX && len - cut - 1 <= USTAR_NAME &&
           len - cut - 1 > 0;
}

/* Fills one ustar block for name[0..len) (which must fit), computes its checksum. */
static void ustar_block(char *b, const char *name, size_t len, char type, uint64_t size,
                        uint32_t mode, int64_t mtime)
{
    memset(b, 0, TAR_BLOCK);
    if (len <= USTAR_NAME) {
        memcpy(b + F_NAME, name, len);
    } else {
        /* The caller checked that a split exists: prefix "/" name. */
        size_t cut = len - 1;
        while (cut > 0 && !split_at(name, len, cut))
            cut--;
        memcpy(b + F_PREFIX, name, cut);
        memcpy(b + F_NAME, name + cut + 1, len - cut - 1);
    }
    octal(b + F_MODE, 8, mode & 0777);
    octal(b + F_UID, 8, 0);
    octal(b + F_GID, 8, 0);
    octal(b + F_SIZE, 12, size);
    octal(b + F_MTIME, 12, (uint64_t)mtime);
    b[F_TYPE] = type;
    memcpy(b + F_MAGIC, "ustar", 6);
    memcpy(b + F_VERSION, "00", 2);
    memset(b + F_CHKSUM, ' ', 8);
    unsigned sum = 0;
    for (size_t i = 0; i < TAR_BLOCK; i++)
        sum += (unsigned char)b[i];
    octal(b + F_CHKSUM, 7, sum); /* six digits and a NUL, then the space left above */
}

/* True when name[0..len) fits ustar as it is or split into prefix and name. */
static bool ustar_fits(const char *name, size_t len)
{
    if (len <= USTAR_NAME)
        return true;
    for (size_t cut = len - 1; cut > 0; cut--)
        if (split_at(name, len, cut))
            return true;
    return false;
}

/* Appends one pax record "LEN key=value\n", where LEN counts the whole
 * record, its own digits included. Returns the new length or 0 when it
 * does not fit. */
static size_t pax_record(char *out, size_t at, size_t cap, const char *key, const char *val,
                         size_t vlen)
{
    size_t base = strlen(key) + vlen + 3; /* space, '=', newline */
    size_t len = base + 1;
    for (;;) {
        char digits[24];
        size_t d = (size_t)snprintf(digits, sizeof digits, "%zu", len);
        if (base + d == len)
            break;
        len = base + d;
    }
    if (at + len > cap)
        return 0;
    int n = snprintf(out + at, cap - at, "%zu %s=", len, key);
    at += (size_t)n;
    memcpy(out + at, val, vlen);
    at += vlen;
    out[at++] = '\n';
    return at;
}

long tar_header(const struct tar_member *m, char *out, size_t outsz)
{
    if (m->name_len == 0 || m->name_len > TAR_NAME_MAX)
        return -ENAMETOOLONG;
    if (memchr(m->name, '\0', m->name_len) != NULL)
        return -EINVAL;
    if (m->type != TAR_FILE && m->type != TAR_DIR)
        return -EINVAL;
    int64_t mtime = m->mtime < 0 ? 0 : m->mtime > USTAR_TIME_MAX ? USTAR_TIME_MAX : m->mtime;
    bool long_name = !ustar_fits(m->name, m->name_len);
    bool big = m->size > USTAR_SIZE_MAX;
    size_t at = 0;

    if (long_name || big) {
        /* The records go in the blocks after the pax header's own block. */
        char *rec = out + TAR_BLOCK;
        size_t cap = outsz > 2 * TAR_BLOCK ? outsz - 2 * TAR_BLOCK : 0;
        size_t len = 0;
        if (long_name)
            len = pax_record(rec, len, cap, "path", m->name, m->name_len);
        if (big && (len > 0 || !long_name)) {
            char v[24];
            int n = snprintf(v, sizeof v, "%llu", (unsigned long long)m->size);
            len = pax_record(rec, len, cap, "size", v, (size_t)n);
        }
        if (len == 0)
            return -ENOBUFS;
        size_t padded = len + tar_pad(len);
        if (TAR_BLOCK + padded + TAR_BLOCK > outsz)
            return -ENOBUFS;
        memset(rec + len, 0, padded - len);
        ustar_block(out, "././@PaxHeader", 14, 'x', len, 0644, mtime);
        at = TAR_BLOCK + padded;
    } else if (outsz < TAR_BLOCK) {
        return -ENOBUFS;
    }
    /* Readers that know no pax still get a name: the first 100 bytes. */
    size_t shown = long_name ? USTAR_NAME : m->name_len;
    ustar_block(out + at, m->name, shown, m->type, big ? 0 : m->size, m->mode, mtime);
    return (long)(at + TAR_BLOCK);
}
