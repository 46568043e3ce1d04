/* zip: pure formatting of the records of a stored (uncompressed) zip
 * archive written as a stream (PKWARE APPNOTE 6.3).
 *
 * An archive is, for each entry, a local header, the entry's bytes and (for
 * a file) a data descriptor with its CRC-32 and sizes, known only once the
 * bytes are out; then the central directory (one record an entry) and the
 * end records. Files carry general purpose bit 3 (sizes and CRC follow the
 * data) and every entry bit 11 (the name is UTF-8). Sizes or offsets of
 * 0xFFFFFFFF or more, and more than 65534 entries, are carried the zip64 way:
 * a zip64 extra field (tag 0x0001) in the entry, 8-byte sizes in its data
 * descriptor, and the zip64 end of central directory record and locator.
 * Each entry also carries the extended timestamp (tag 0x5455, the
 * modification time in seconds since the epoch, UTC) beside the DOS time
 * and date. Pure: no I/O, no allocation. */
#ifndef FERRY_PROTO_ZIP_H
#define FERRY_PROTO_ZIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define ZIP_NAME_MAX 8192 /* longest entry name accepted (the field holds 65535) */
#define ZIP_LOCAL_FIXED 30
#define ZIP_CENTRAL_FIXED 46
#define ZIP_EXTRA_MAX (4 + 24 + 4 + 5) /* zip64 (3 values) and extended timestamp */
#define ZIP_LOCAL_MAX (ZIP_LOCAL_FIXED + ZIP_NAME_MAX + ZIP_EXTRA_MAX)
#define ZIP_CENTRAL_MAX (ZIP_CENTRAL_FIXED + ZIP_NAME_MAX + ZIP_EXTRA_MAX)
#define ZIP_DESCRIPTOR_MAX 24
#define ZIP_END_MAX (56 + 20 + 22) /* zip64 end record, its locator, the end record */
#define ZIP_32_MAX 0xffffffffu     /* a 4-byte field at this value means "see zip64" */
#define ZIP_16_MAX 0xffffu

struct zip_entry {
    const char *name; /* UTF-8, no NUL inside; a directory's ends in "/" */
    size_t name_len;
    bool dir;          /* a directory: no bytes, no data descriptor */
    uint64_t size;     /* the file's bytes (stored: the same in the archive); 0 for a directory */
    uint32_t crc;      /* CRC-32 of the bytes: central record and descriptor only */
    uint64_t offset;   /* where the entry's local header starts in the archive */
    uint32_t mode;     /* st_mode: the type and the permission bits (only 0777 are kept) */
    int64_t mtime;     /* seconds since the epoch, for the extended timestamp */
    uint16_t dos_time; /* zip_dos_time's */
    uint16_t dos_date;
};

/* Whether e needs zip64: a size or local header offset of 0xFFFFFFFF or
 * more. Such an entry's version needed is 4.5. */
bool zip_entry_zip64(const struct zip_entry *e);

/* The DOS time and date of the broken-down time tm: dates before 1980 are
 * 1980-01-01 00:00:00, after 2107 2107-12-31 23:59:58; seconds are halved. */
void zip_dos_time(const struct tm *tm, uint16_t *dos_time, uint16_t *dos_date);

/* Writes e's local header to out (outsz bytes; ZIP_LOCAL_MAX is always
 * enough). A file's CRC and sizes are 0 (bit 3: they follow in the data
 * descriptor); a zip64 file's sizes are 0xFFFFFFFF with a zip64 extra field
 * of two zero sizes. Returns the bytes written, -ENAMETOOLONG for an empty
 * name or one longer than ZIP_NAME_MAX, -EINVAL for a NUL in the name,
 * -ENOBUFS when outsz is too small. */
long zip_local(const struct zip_entry *e, char *out, size_t outsz);

/* Writes the data descriptor that follows file e's bytes: its signature,
 * CRC and sizes (8-byte sizes for 0xFFFFFFFF bytes or more, as the local
 * header's zip64 field announced; not for a large offset). Returns the bytes
 * written (16 or 24), -EINVAL for a directory, -ENOBUFS when outsz is too
 * small. */
long zip_descriptor(const struct zip_entry *e, char *out, size_t outsz);

/* Writes e's central directory record (ZIP_CENTRAL_MAX is always enough).
 * Sizes and offset of 0xFFFFFFFF or more go in a zip64 extra field. Returns
 * the bytes written or the errors of zip_local. */
long zip_central(const struct zip_entry *e, char *out, size_t outsz);

struct zip_end {
    uint64_t entries;   /* central directory records */
    uint64_t cd_size;   /* their bytes */
    uint64_t cd_offset; /* where the first starts */
};

/* Writes the end of the archive, right after the central directory: the
 * zip64 end record and locator when entries, size or offset do not fit
 * the end record's fields, then the end record (no comment). Returns the
 * bytes written (22 or 98), -ENOBUFS when outsz is too small. */
long zip_end(const struct zip_end *end, char *out, size_t outsz);

#endif
