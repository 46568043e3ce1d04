#include "proto/bucket.h"

#include <string.h>

void bucket_init(struct bucket_table *t, struct bucket_slot *slot, size_t n, double rate,
                 double burst)
{
    memset(slot, 0, n * sizeof *slot);
    t->slot = slot;
    t->n = n;
    t->rate = rate;
    t->burst = burst;
}

/* key's slot, or a fresh one in place of a free or the least recently
 * used slot; NULL only for an empty table. */
static struct bucket_slot *find(struct bucket_table *t, const void *key, size_t len, int64_t now)
{
    struct bucket_slot *victim = NULL;

    for (size_t i = 0; i < t->n; i++) {
        struct bucket_slot *s = &t->slot[i];
        if (s->key_len == len && memcmp(s->key, key, len) == 0)
            return s;
        if (victim == NULL || (victim->key_len != 0 && (s->key_len == 0 || s->at < victim->at)))
            victim = s;
    }
    if (victim == NULL)
        return NULL;
    memcpy(victim->key, key, len);
    victim->key_len = len;
    victim->tokens = t->burst;
    victim->at = now;
    victim->refused = false;
    return victim;
}

enum bucket_verdict bucket_take(struct bucket_table *t, const void *key, size_t key_len,
                                int64_t now_ms)
{
    if (key_len == 0)
        return BUCKET_OVER;
    if (key_len > BUCKET_KEY_MAX)
        key_len = BUCKET_KEY_MAX;
    struct bucket_slot *s = find(t, key, key_len, now_ms);
    if (s == NULL)
        return BUCKET_OVER;
    if (now_ms > s->at) {
        s->tokens += (double)(now_ms - s->at) * t->rate / 1000.0;
        s->at = now_ms;
    }
    if (s->tokens >= t->burst) {
        s->tokens = t->burst;
        s->refused = false;
    }
    if (s->tokens >= 1.0) {
        s->tokens -= 1.0;
        return BUCKET_OK;
    }
    if (s->refused)
        return BUCKET_OVER;
    s->refused = true;
    return BUCKET_OVER_FIRST;
}
