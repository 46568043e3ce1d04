/* hash: SHA-256 (OpenSSL's EVP) of memory, of a whole file, and step by
 * step for bytes that pass by once. The one place ferry computes digests:
 * Repr-Digest on the server and the client, --pin fingerprints aside. */
#ifndef FERRY_CORE_HASH_H
#define FERRY_CORE_HASH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HASH_SHA256_LEN 32

/* Step by step. hash_new returns NULL when out of memory. */
struct hash;
struct hash *hash_new(void);
void hash_update(struct hash *h, const void *p, size_t n);
/* Writes the digest and frees h. */
void hash_final(struct hash *h, unsigned char out[HASH_SHA256_LEN]);
/* Frees h without a digest (NULL is fine). */
void hash_free(struct hash *h);

void hash_sha256(const void *p, size_t n, unsigned char out[HASH_SHA256_LEN]);

/* The digest of fd's bytes from offset 0 to its end, read with pread (the
 * file offset is not moved). *size (when not NULL) gets the bytes hashed.
 * stop (when not NULL) is looked at before each 1 MiB read: once true, the
 * work ends with -ECANCELED. 0, or -errno (-ENOMEM, a read error). Blocks:
 * call it off any event loop, or for small files only. */
int hash_sha256_fd(int fd, unsigned char out[HASH_SHA256_LEN], uint64_t *size,
                   const atomic_bool *stop);

/* The SHA-256 of a file while it is being written, by a thread that reads
 * behind the writer: the writer says how far the file is complete, the
 * thread hashes up to there (pread), so the hashing overlaps the transfer
 * rather than following it. */
struct hash_follow;
/* Starts following fd (which must stay open until finish or cancel). 0
 * or -errno. */
int hash_follow_start(int fd, struct hash_follow **out);
/* Bytes [0, end) of the file are written. */
void hash_follow_advance(struct hash_follow *hf, uint64_t end);
/* The file is end bytes long: waits for the thread, frees hf. 0 with out
 * set, or -errno (a read error, or the file ended before end: -EIO). */
int hash_follow_finish(struct hash_follow *hf, uint64_t end, unsigned char out[HASH_SHA256_LEN]);
/* Stops the thread and frees hf (NULL is fine). */
void hash_follow_cancel(struct hash_follow *hf);

#endif
