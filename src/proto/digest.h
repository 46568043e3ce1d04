/* digest: the fields of RFC 9530 (Digest Fields) that ferry speaks, for
 * sha-256 only: Repr-Digest and Content-Digest ("sha-256=:BASE64:"), and
 * Want-Repr-Digest ("sha-256=10", a preference from 0 to 10). They are
 * Structured Field Dictionaries (RFC 9651 §3.2); a member is a key, "=" and
 * a bare item (a byte sequence ":...:" or an integer), optionally followed
 * by parameters, which are read past. A field that does not parse is
 * ignored as a whole (RFC 9651 §4.2), and a later member with the same key
 * overrides an earlier one.
 *
 * Also the hex form users give (`ferry get --sha256 HEX`).
 *
 * Pure: no I/O, no allocation; inputs are (pointer, length) and need no NUL. */
#ifndef FERRY_PROTO_DIGEST_H
#define FERRY_PROTO_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#define DIGEST_SHA256_LEN 32
/* "sha-256=:" + 44 base64 characters + ":" */
#define DIGEST_FIELD_LEN (9 + 44 + 1)
#define DIGEST_HEX_LEN 64

/* Repr-Digest or Content-Digest: 1 with out set when the field parses and
 * has a sha-256 member that is a byte sequence of 32 bytes; 0 when it parses
 * and has no sha-256 member; -EINVAL when it does not parse, or its sha-256
 * member is not a 32-byte sequence (which must not pass for "no digest"). */
int digest_field_sha256(const char *v, size_t len, unsigned char out[DIGEST_SHA256_LEN]);

/* Want-Repr-Digest: 1 when the field parses and asks for sha-256 with a
 * preference from 1 to 10, else 0 (absent, 0 "not acceptable", malformed). */
int digest_want_sha256(const char *v, size_t len);

/* Writes "sha-256=:BASE64:" and a NUL into out (DIGEST_FIELD_LEN + 1 bytes);
 * returns DIGEST_FIELD_LEN. */
size_t digest_field_format(const unsigned char d[DIGEST_SHA256_LEN], char *out);

/* Exactly 64 hex digits (either case) into out: 0, or -EINVAL. */
int digest_hex_parse(const char *s, size_t len, unsigned char out[DIGEST_SHA256_LEN]);

/* 64 lower-case hex digits and a NUL into out (DIGEST_HEX_LEN + 1 bytes). */
void digest_hex_format(const unsigned char d[DIGEST_SHA256_LEN], char *out);

/* The cache a file server keeps beside a file (an extended attribute): the
 * digest stamped with what identifies the version it describes, so a
 * changed file (size, modification time or inode) is never described by
 * an old digest. The text is "v1 SIZE MTIME_NS INO HEX". */
struct digest_stamp {
    uint64_t size, mtime_ns, ino;
};

#define DIGEST_STAMP_MAX 160

/* Writes the text (NUL-terminated, at most DIGEST_STAMP_MAX bytes with the
 * NUL) into out; returns its length without the NUL. */
size_t digest_stamp_format(const struct digest_stamp *st, const unsigned char d[DIGEST_SHA256_LEN],
                           char *out);

/* The digest of the text at v (len bytes, a trailing NUL allowed) when it
 * is well formed and stamped exactly with want: 1 and out set; 0 when it
 * is well formed for another version; -EINVAL when it is not well formed. */
int digest_stamp_parse(const char *v, size_t len, const struct digest_stamp *want,
                       unsigned char out[DIGEST_SHA256_LEN]);

#endif
