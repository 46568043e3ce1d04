/* ctimeset: a bounded set of files as they were at one ctime (ctimeset.h). */
#include "core/ctimeset.h"

#include <errno.h>
#include <stdlib.h>

int ctimeset_init(struct ctimeset *s, size_t slots)
{
    size_t n = CTIMESET_WAYS;

    while (n < slots && n < ((size_t)1 << 30))
        n <<= 1;
    s->v = malloc(n * sizeof s->v[0]);
    if (s->v == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        s->v[i].nsec = -1;
    s->mask = n - 1;
    s->turn = 0;
    return 0;
}

void ctimeset_free(struct ctimeset *s)
{
    free(s->v);
    s->v = NULL;
    s->mask = 0;
}

/* The first slot of st's set of CTIMESET_WAYS. */
static size_t set_of(const struct ctimeset *s, const struct stat *st)
{
    uint64_t h = (uint64_t)st->st_ino * 0x9e3779b97f4a7c15ULL ^ (uint64_t)st->st_dev;
    h ^= h >> 29;
    return (size_t)(h & s->mask) & ~(size_t)(CTIMESET_WAYS - 1);
}

static bool same(const struct ctimeset_slot *e, const struct stat *st)
{
    return e->dev == (uint64_t)st->st_dev && e->ino == (uint64_t)st->st_ino;
}

bool ctimeset_has(const struct ctimeset *s, const struct stat *st)
{
    if (s->v == NULL)
        return false;
    const struct ctimeset_slot *e = &s->v[set_of(s, st)];
    for (size_t k = 0; k < CTIMESET_WAYS; k++)
        if (e[k].nsec >= 0 && same(&e[k], st))
            return e[k].sec == (int64_t)st->st_ctim.tv_sec &&
                   e[k].nsec == (int64_t)st->st_ctim.tv_nsec;
    return false;
}

bool ctimeset_add(struct ctimeset *s, const struct stat *st, struct timespec now)
{
    if (s->v == NULL || st->st_ctim.tv_nsec == 0)
        return false;
    int64_t age = ((int64_t)now.tv_sec - (int64_t)st->st_ctim.tv_sec) * 1000000000LL +
                  ((int64_t)now.tv_nsec - (int64_t)st->st_ctim.tv_nsec);
    if (age <= CTIMESET_RACY_NS)
        return false;
    struct ctimeset_slot *e = &s->v[set_of(s, st)];
    /* The file's own slot, else an empty one, else the next in turn. */
    size_t k = 0;
    while (k < CTIMESET_WAYS && !(e[k].nsec >= 0 && same(&e[k], st)))
        k++;
    if (k == CTIMESET_WAYS) {
        k = 0;
        while (k < CTIMESET_WAYS && e[k].nsec >= 0)
            k++;
    }
    if (k == CTIMESET_WAYS)
        k = s->turn++ % CTIMESET_WAYS;
    e[k] = (struct ctimeset_slot){.dev = (uint64_t)st->st_dev,
                                  .ino = (uint64_t)st->st_ino,
                                  .sec = (int64_t)st->st_ctim.tv_sec,
                                  .nsec = (int64_t)st->st_ctim.tv_nsec};
    return true;
}
