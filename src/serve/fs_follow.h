/* fs_follow: the sha-256 of a file computed beside its send, for a
 * Repr-Digest trailer (fs_body.c).
 *
 * A file whose digest is not known goes out the fast way (sendfile or
 * splice, fs_body.c), while one of a few threads reads the
 * same file with pread into a buffer of its own and hashes it. The thread
 * runs ahead of the send as fast as it can, so the pages it reads are warm
 * for the send that follows. When it ends it hands the job back to the
 * connection's worker through that worker's eventfd (net/mbox), whose
 * callback drives the connection if it waits for the digest: the loop
 * never blocks. The number of jobs is capped (FS_FOLLOW_THREADS, all
 * workers together); past the cap fs_follow_begin says no and the caller
 * hashes on its own thread as before. A connection that goes away lets go
 * of its job; the thread stops at its next step and the worker frees the
 * job once it is back. The digest describes the bytes the thread read:
 * whether they are the bytes sent is decided by the caller, which checks
 * that the file is still the version it opened once both are done
 * (fs_digest_store). */
#ifndef FERRY_SERVE_FS_FOLLOW_H
#define FERRY_SERVE_FS_FOLLOW_H

#include <stdint.h>

#include "proto/digest.h"

#define FS_FOLLOW_THREADS 2 /* files hashed beside their send at once */

struct fs_follow;
struct fs_follow_job;
struct conn;
struct worker;

/* Starts nthreads hashing threads (1 to FS_FOLLOW_THREADS). 0 or -errno. */
int fs_follow_start(unsigned nthreads, struct fs_follow **out);
/* Stops and joins the threads (a file being hashed is left), after the
 * workers have stopped; then frees f (NULL is fine). Jobs not yet handed
 * back are left to fs_follow_port_close. */
void fs_follow_stop(struct fs_follow *f);

/* Opens w's eventfd for finished jobs and watches it on w's loop (on w's
 * thread). 0 or -errno; w->follow_port stays NULL on failure. */
int fs_follow_port_open(struct fs_follow *f, struct worker *w);
/* Frees the jobs handed back to w and closes its port, after fs_follow_stop. */
void fs_follow_port_close(struct worker *w);

/* Starts hashing bytes [0, size) of the file open at fd (a duplicate is
 * kept) for the exchange under way on c. NULL when every thread is taken,
 * when c's worker has no port, or when memory is short. */
struct fs_follow_job *fs_follow_begin(struct conn *c, int fd, uint64_t size);

/* The job's outcome: 0 with sha set when all size bytes were hashed,
 * -EAGAIN while the thread still runs (c is then driven with
 * fs_conn_drive once it is back), or -errno (-EIO: the file was shorter;
 * a read error; -ECANCELED). */
int fs_follow_result(struct fs_follow_job *j, unsigned char sha[DIGEST_SHA256_LEN]);

/* Lets go of *jp (the exchange ended, or its connection went away) and
 * sets it NULL: the thread stops at its next step, and the job is freed
 * once it is back. NULL is fine. On the loop. */
void fs_follow_release(struct fs_follow_job **jp);

#endif
