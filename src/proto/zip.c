/* zip: pure formatting of stored zip records (see zip.h). */
#include "proto/zip.h"

#include <errno.h>
#include <string.h>

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_DESCRIPTOR 0x08074b50u
#define SIG_END 0x06054b50u
#define SIG_END64 0x06064b50u
#define SIG_LOCATOR64 0x07064b50u

#define VERSION_20 20 /* directories, stored files */
#define VERSION_45 45 /* zip64 */
#define MADE_BY_UNIX 3
#define FLAG_DESCRIPTOR 0x0008u
#define FLAG_UTF8 0x0800u
#define EXTRA_ZIP64 0x0001u
#define EXTRA_TIME 0x5455u
#define TIME_MTIME 0x01u
#define DOS_DIR 0x10u

/* A little-endian writer over a buffer whose room was checked before. */
struct out {
    unsigned char *p;
};

static void put16(struct out *o, uint32_t v)
{
    o->p[0] = (unsigned char)v;
    o->p[1] = (unsigned char)(v >> 8);
    o->p += 2;
}

static void put32(struct out *o, uint32_t v)
{
    put16(o, v & 0xffffu);
    put16(o, v >> 16);
}

static void put64(struct out *o, uint64_t v)
{
    put32(o, (uint32_t)v);
    put32(o, (uint32_t)(v >> 32));
}

static void put_bytes(struct out *o, const void *p, size_t n)
{
    memcpy(o->p, p, n);
    o->p += n;
}

/* A 4-byte field: v, or 0xFFFFFFFF when v is carried in zip64. */
static uint32_t field32(uint64_t v)
{
    return v >= ZIP_32_MAX ? ZIP_32_MAX : (uint32_t)v;
}

bool zip_entry_zip64(const struct zip_entry *e)
{
    return e->size >= ZIP_32_MAX || e->offset >= ZIP_32_MAX;
}

void zip_dos_time(const struct tm *tm, uint16_t *dos_time, uint16_t *dos_date)
{
    if (tm->tm_year < 80) {
        *dos_time = 0;
        *dos_date = (1 << 5) | 1; /* 1980-01-01 */
        return;
    }
    if (tm->tm_year > 207) {
        *dos_time = (uint16_t)((23 << 11) | (59 << 5) | 29);
        *dos_date = (uint16_t)((127 << 9) | (12 << 5) | 31); /* 2107-12-31 */
        return;
    }
    *dos_time = (uint16_t)((tm->tm_hour << 11) | (tm->tm_min << 5) | (tm->tm_sec / 2));
    *dos_date = (uint16_t)(((tm->tm_year - 80) << 9) | ((tm->tm_mon + 1) << 5) | tm->tm_mday);
}

/* The name's checks shared by the local header and the central record. */
static int check_name(const struct zip_entry *e)
{
    if (e->name_len == 0 || e->name_len > ZIP_NAME_MAX)
        return -ENAMETOOLONG;
    if (memchr(e->name, '\0', e->name_len) != NULL)
        return -EINVAL;
    return 0;
}

/* The extended timestamp's seconds: what 4 signed bytes hold of mtime,
 * times before the epoch as the epoch. */
static uint32_t ut_time(int64_t mtime)
{
    if (mtime < 0)
        return 0;
    return mtime > INT32_MAX ? (uint32_t)INT32_MAX : (uint32_t)mtime;
}

static void put_time_extra(struct out *o, const struct zip_entry *e)
{
    put16(o, EXTRA_TIME);
    put16(o, 5);
    o->p[0] = TIME_MTIME;
    o->p++;
    put32(o, ut_time(e->mtime));
}

static uint32_t entry_flags(const struct zip_entry *e)
{
    return FLAG_UTF8 | (e->dir ? 0 : FLAG_DESCRIPTOR);
}

long zip_local(const struct zip_entry *e, char *out, size_t outsz)
{
    int rc = check_name(e);
    if (rc < 0)
        return rc;
    /* Only a file of 4 GiB or more carries zip64 here: the offset is
     * not in the local header. */
    bool big = !e->dir && e->size >= ZIP_32_MAX;
    size_t extra = (big ? 4 + 16 : 0) + 4 + 5;
    size_t total = ZIP_LOCAL_FIXED + e->name_len + extra;
    if (outsz < total)
        return -ENOBUFS;
    struct out o = {(unsigned char *)out};
    put32(&o, SIG_LOCAL);
    put16(&o, zip_entry_zip64(e) ? VERSION_45 : VERSION_20);
    put16(&o, entry_flags(e));
    put16(&o, 0); /* stored */
    put16(&o, e->dos_time);
    put16(&o, e->dos_date);
    put32(&o, 0); /* CRC: in the descriptor, or 0 for a directory */
    put32(&o, big ? ZIP_32_MAX : 0);
    put32(&o, big ? ZIP_32_MAX : 0);
    put16(&o, (uint32_t)e->name_len);
    put16(&o, (uint32_t)extra);
    put_bytes(&o, e->name, e->name_len);
    if (big) {
        put16(&o, EXTRA_ZIP64);
        put16(&o, 16);
        put64(&o, 0); /* the sizes follow in the descriptor */
        put64(&o, 0);
    }
    put_time_extra(&o, e);
    return (long)total;
}

long zip_descriptor(const struct zip_entry *e, char *out, size_t outsz)
{
    if (e->dir)
        return -EINVAL;
    /* 8-byte sizes exactly when the local header had the zip64 field:
     * that is how a reader knows which it gets. */
    bool big = e->size >= ZIP_32_MAX;
    size_t total = big ? 24 : 16;
    if (outsz < total)
        return -ENOBUFS;
    struct out o = {(unsigned char *)out};
    put32(&o, SIG_DESCRIPTOR);
    put32(&o, e->crc);
    if (big) {
        put64(&o, e->size);
        put64(&o, e->size);
    } else {
        put32(&o, (uint32_t)e->size);
        put32(&o, (uint32_t)e->size);
    }
    return (long)total;
}

long zip_central(const struct zip_entry *e, char *out, size_t outsz)
{
    int rc = check_name(e);
    if (rc < 0)
        return rc;
    uint64_t size = e->dir ? 0 : e->size;
    size_t z64 = (size >= ZIP_32_MAX ? 16 : 0) + (e->offset >= ZIP_32_MAX ? 8 : 0);
    size_t extra = (z64 > 0 ? 4 + z64 : 0) + 4 + 5;
    size_t total = ZIP_CENTRAL_FIXED + e->name_len + extra;
    if (outsz < total)
        return -ENOBUFS;
    uint32_t version = zip_entry_zip64(e) ? VERSION_45 : VERSION_20;
    uint32_t attr = ((e->mode & 0170000u) | (e->mode & 0777u)) << 16 | (e->dir ? DOS_DIR : 0);
    struct out o = {(unsigned char *)out};
    put32(&o, SIG_CENTRAL);
    put16(&o, MADE_BY_UNIX << 8 | version);
    put16(&o, version);
    put16(&o, entry_flags(e));
    put16(&o, 0); /* stored */
    put16(&o, e->dos_time);
    put16(&o, e->dos_date);
    put32(&o, e->dir ? 0 : e->crc);
    put32(&o, field32(size));
    put32(&o, field32(size));
    put16(&o, (uint32_t)e->name_len);
    put16(&o, (uint32_t)extra);
    put16(&o, 0); /* comment */
    put16(&o, 0); /* disk */
    put16(&o, 0); /* internal attributes */
    put32(&o, attr);
    put32(&o, field32(e->offset));
    put_bytes(&o, e->name, e->name_len);
    if (z64 > 0) {
        put16(&o, EXTRA_ZIP64);
        put16(&o, (uint32_t)z64);
        if (size >= ZIP_32_MAX) {
            put64(&o, size); /* original, then compressed: the APPNOTE's order */
            put64(&o, size);
        }
        if (e->offset >= ZIP_32_MAX)
            put64(&o, e->offset);
    }
    put_time_extra(&o, e);
    return (long)total;
}

long zip_end(const struct zip_end *end, char *out, size_t outsz)
{
    bool big =
        end->entries >= ZIP_16_MAX || end->cd_size >= ZIP_32_MAX || end->cd_offset >= ZIP_32_MAX;
    size_t total = big ? ZIP_END_MAX : 22;
    if (outsz < total)
        return -ENOBUFS;
    struct out o = {(unsigned char *)out};
    if (big) {
        put32(&o, SIG_END64);
        put64(&o, 44); /* the record's size after this field */
        put16(&o, MADE_BY_UNIX << 8 | VERSION_45);
        put16(&o, VERSION_45);
        put32(&o, 0); /* this disk */
        put32(&o, 0); /* the disk where the central directory starts */
        put64(&o, end->entries);
        put64(&o, end->entries);
        put64(&o, end->cd_size);
        put64(&o, end->cd_offset);
        put32(&o, SIG_LOCATOR64);
        put32(&o, 0);                             /* the disk of the zip64 end record */
        put64(&o, end->cd_offset + end->cd_size); /* where it starts */
        put32(&o, 1);                             /* disks in all */
    }
    uint32_t entries = end->entries >= ZIP_16_MAX ? ZIP_16_MAX : (uint32_t)end->entries;
    put32(&o, SIG_END);
    put16(&o, 0);
    put16(&o, 0);
    put16(&o, entries);
    put16(&o, entries);
    put32(&o, field32(end->cd_size));
    put32(&o, field32(end->cd_offset));
    put16(&o, 0); /* comment */
    return (long)total;
}
