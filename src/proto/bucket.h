/* bucket: token buckets per peer in a bounded table, for answering
 * datagrams at most so often per sender (`ferry udp -l --echo`). Pure: no
 * I/O, no allocation (the caller gives the slots), time passed in.
 *
 * Each peer, known by a key of up to BUCKET_KEY_MAX bytes (its address and
 * port), has a bucket of burst tokens refilled at rate a second; an answer
 * takes one. A peer not in the table takes the free slot, or the one used
 * least recently, and starts with a full bucket. Two echoers answering
 * each other empty their buckets in burst round trips; the next datagram
 * finds no token, is not answered, and the loop ends. */
#ifndef FERRY_PROTO_BUCKET_H
#define FERRY_PROTO_BUCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BUCKET_KEY_MAX 24

struct bucket_slot {
    unsigned char key[BUCKET_KEY_MAX];
    size_t key_len; /* 0: free */
    double tokens;
    int64_t at;   /* when tokens was last brought up to date, in ms */
    bool refused; /* refused since its bucket was last full */
};

struct bucket_table {
    struct bucket_slot *slot;
    size_t n;
    double rate;  /* tokens a second */
    double burst; /* the most a bucket holds */
};

enum bucket_verdict {
    BUCKET_OK,         /* a token was taken: answer */
    BUCKET_OVER_FIRST, /* no token, the first refusal since the bucket was full */
    BUCKET_OVER,       /* no token */
};

/* Sets up t over slot[0..n), all free. rate and burst must be > 0. */
void bucket_init(struct bucket_table *t, struct bucket_slot *slot, size_t n, double rate,
                 double burst);

/* Takes a token from key's bucket (key_len of 1 to BUCKET_KEY_MAX bytes,
 * longer keys are cut; an empty key is refused) at time now_ms; a clock
 * that goes back refills nothing. */
enum bucket_verdict bucket_take(struct bucket_table *t, const void *key, size_t key_len,
                                int64_t now_ms);

#endif
