#include "core/hash.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
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
    struct stat st;
    /* A buffer no larger than the file needs (small files are common). */
    size_t bufsz = fstat(fd, &st) == 0 && st.st_size >= 0 && st.st_size < CHUNK
                       ? (size_t)st.st_size + 1
                       : CHUNK;
    unsigned char *buf = malloc(bufsz);
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
        ssize_t n = pread(fd, buf, bufsz, (off_t)off);
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

/* ---- following a file being written ------------------------------------------ */

enum { FOLLOW_CHUNK = 1 << 20 };

struct hash_follow {
    int fd;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t avail;  /* written so far (under mu) */
    bool final;      /* avail is the end (under mu) */
    bool stop;       /* cancelled (under mu) */
    uint64_t done;   /* hashed (the thread's) */
    int err;         /* the thread's */
    struct hash *h;
    unsigned char *buf;
};

static void *follow_thread(void *arg)
{
    struct hash_follow *hf = arg;

    pthread_mutex_lock(&hf->mu);
    for (;;) {
        while (!hf->stop && hf->done >= hf->avail && !hf->final)
            pthread_cond_wait(&hf->cv, &hf->mu);
        if (hf->stop || hf->done >= hf->avail)
            break; /* cancelled, or all of the file is hashed */
        uint64_t upto = hf->avail;
        pthread_mutex_unlock(&hf->mu);
        while (hf->done < upto) {
            size_t want = upto - hf->done < FOLLOW_CHUNK ? (size_t)(upto - hf->done) : FOLLOW_CHUNK;
            ssize_t n = pread(hf->fd, hf->buf, want, (off_t)hf->done);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                hf->err = n < 0 ? -errno : -EIO;
                return NULL;
            }
            hash_update(hf->h, hf->buf, (size_t)n);
            hf->done += (uint64_t)n;
        }
        pthread_mutex_lock(&hf->mu);
    }
    pthread_mutex_unlock(&hf->mu);
    return NULL;
}

static void follow_free(struct hash_follow *hf)
{
    pthread_cond_destroy(&hf->cv);
    pthread_mutex_destroy(&hf->mu);
    hash_free(hf->h);
    free(hf->buf);
    free(hf);
}

int hash_follow_start(int fd, struct hash_follow **out)
{
    struct hash_follow *hf = calloc(1, sizeof *hf);

    if (hf == NULL)
        return -ENOMEM;
    hf->fd = fd;
    hf->h = hash_new();
    hf->buf = malloc(FOLLOW_CHUNK);
    pthread_mutex_init(&hf->mu, NULL);
    pthread_cond_init(&hf->cv, NULL);
    int rc = hf->h == NULL || hf->buf == NULL ? ENOMEM
                                               : pthread_create(&hf->thread, NULL, follow_thread, hf);
    if (rc != 0) {
        follow_free(hf);
        return -rc;
    }
    *out = hf;
    return 0;
}

void hash_follow_advance(struct hash_follow *hf, uint64_t end)
{
    pthread_mutex_lock(&hf->mu);
    if (end > hf->avail) {
        hf->avail = end;
        pthread_cond_signal(&hf->cv);
    }
    pthread_mutex_unlock(&hf->mu);
}

int hash_follow_finish(struct hash_follow *hf, uint64_t end, unsigned char out[HASH_SHA256_LEN])
{
    pthread_mutex_lock(&hf->mu);
    hf->avail = end;
    hf->final = true;
    pthread_cond_signal(&hf->cv);
    pthread_mutex_unlock(&hf->mu);
    pthread_join(hf->thread, NULL);
    int rc = hf->err != 0 ? hf->err : hf->done != end ? -EIO : 0;
    if (rc == 0) {
        hash_final(hf->h, out);
        hf->h = NULL;
    }
    follow_free(hf);
    return rc;
}

void hash_follow_cancel(struct hash_follow *hf)
{
    if (hf == NULL)
        return;
    pthread_mutex_lock(&hf->mu);
    hf->stop = true;
    pthread_cond_signal(&hf->cv);
    pthread_mutex_unlock(&hf->mu);
    pthread_join(hf->thread, NULL);
    follow_free(hf);
}
