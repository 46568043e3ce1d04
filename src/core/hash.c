#include "core/hash.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include <openssl/evp.h>

struct hash {
    EVP_MD_CTX *ctx;
};

struct hash *hash_new(void)
{
    struct hash *h = malloc(sizeof *h);

    if (h == NULL)
        return NULL;
    h->ctx = EVP_MD_CTX_new();
    if (h->ctx == NULL || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(h->ctx);
        free(h);
        return NULL;
    }
    return h;
}

void hash_update(struct hash *h, const void *p, size_t n)
{
    if (n > 0)
        EVP_DigestUpdate(h->ctx, p, n);
}

void hash_final(struct hash *h, unsigned char out[HASH_SHA256_LEN])
{
    unsigned int len = HASH_SHA256_LEN;

    EVP_DigestFinal_ex(h->ctx, out, &len);
    hash_free(h);
}

void hash_free(struct hash *h)
{
    if (h == NULL)
        return;
    EVP_MD_CTX_free(h->ctx);
    free(h);
}

void hash_sha256(const void *p, size_t n, unsigned char out[HASH_SHA256_LEN])
{
    unsigned int len = HASH_SHA256_LEN;

    EVP_Digest(p, n, out, &len, EVP_sha256(), NULL);
}

int hash_sha256_fd(int fd, unsigned char out[HASH_SHA256_LEN], uint64_t *size,
                   const atomic_bool *stop)
{
    enum { CHUNK = 1 << 20 };
    unsigned char *buf = malloc(CHUNK);
    struct hash *h = hash_new();
    uint64_t off = 0;
    int rc = 0;

    if (buf == NULL || h == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    for (;;) {
        if (stop != NULL && atomic_load(stop)) {
            rc = -ECANCELED;
            goto out;
        }
        ssize_t n = pread(fd, buf, CHUNK, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            goto out;
        }
        if (n == 0)
            break;
        hash_update(h, buf, (size_t)n);
        off += (uint64_t)n;
    }
    hash_final(h, out);
    h = NULL;
    if (size != NULL)
        *size = off;
out:
    hash_free(h);
    free(buf);
    return rc;
}
