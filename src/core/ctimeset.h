/* ctimeset: a bounded set of files as they were at one ctime.
 *
 * A file's ctime moves with every change of its inode: its extended
 * attributes, owner, mode, links, size or content. So "this file, at this
 * ctime, had no X" stays true for as long as (device, inode, ctime) is the
 * same, and a set of such triples lets a walk skip asking the kernel again
 * (fs_davprop: "this entry has no dead properties", which costs a
 * listxattr that reads the file's attribute block).
 *
 * Only what cannot be mistaken goes in (ctimeset_add refuses the rest):
 * a ctime older than CTIMESET_RACY_NS before now (a change within the
 * clock's tick could leave it the same), and one with nanoseconds (a file
 * system that keeps whole seconds could see a change without a new ctime).
 * CTIMESET_WAYS-way set-associative: a file has a set of slots by its
 * inode; when its set is full, a newcomer takes a slot in turn. So the set
 * is a fixed allocation, and a miss only costs the question it would have
 * cost anyway. Pure: no system calls; one thread at a time. */
#ifndef FERRY_CORE_CTIMESET_H
#define FERRY_CORE_CTIMESET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#define CTIMESET_RACY_NS 100000000LL /* 100 ms */
#define CTIMESET_WAYS 4

struct ctimeset_slot {
    uint64_t dev, ino;
    int64_t sec;
    int64_t nsec; /* -1: an empty slot */
};

struct ctimeset {
    struct ctimeset_slot *v;
    size_t mask; /* slots - 1 */
    size_t turn; /* the next slot a full set gives up */
};

/* A set of slots slots (rounded up to a power of two, at least
 * CTIMESET_WAYS), all empty.
 * Returns 0 or -ENOMEM. */
int ctimeset_init(struct ctimeset *s, size_t slots);

void ctimeset_free(struct ctimeset *s);

/* Whether st's file is in the set as it is now (same device, inode, ctime). */
bool ctimeset_has(const struct ctimeset *s, const struct stat *st);

/* Puts st's file in the set, unless its ctime is too recent at now
 * (CLOCK_REALTIME) or has no nanoseconds. Returns whether it went in. */
bool ctimeset_add(struct ctimeset *s, const struct stat *st, struct timespec now);

#endif
