/* chatfed: chat brokers federated over Redis (`ferry chat -l --redis URL`).
 *
 * Every broker on one Redis and room (proto/rurl.h) shares the room:
 *   - a line a local client sends is delivered locally by the broker as
 *     before, then published (one publishing connection, so each sender's
 *     lines keep their order) and appended to a capped history list; every
 *     other broker delivers what it receives to its own clients (a broker
 *     knows its own messages by its id: proto/fedmsg.h);
 *   - a newcomer gets the last --history lines from the Redis list;
 *   - /who lists every broker's clients: each broker keeps a set of its
 *     names with an expiry it refreshes, so a broker that dies drops out
 *     within CHATFED_TTL_MS;
 *   - a /nick name is claimed in Redis (value: the broker's id, with the
 *     same expiry, refreshed, released on leave), so it is refused on
 *     every broker while someone holds it.
 * Redis keys are "ferry:ROOM:" + chan, history, brokers, b:ID, nick:NAME.
 *
 * When Redis is unreachable the broker goes on serving its clients (local
 * delivery never waits for Redis), tells them once, and reconnects with
 * back-off; lines sent meanwhile reach this broker's clients only, and a
 * /nick is checked against this broker only. Back on Redis, the broker
 * registers its clients again and claims their names anew (a name another
 * broker took meanwhile stays with both, and the local client is told).
 *
 * Everything runs on the broker's loop (net/rds). The broker owns its
 * clients; chatfed knows each by a member handle and reaches it only
 * through struct chatfed_ops, never after chatfed_leave. */
#ifndef FERRY_CHAT_CHATFED_H
#define FERRY_CHAT_CHATFED_H

#include <stdbool.h>
#include <stddef.h>

#include "net/ev.h"

#define CHATFED_TTL_MS 10000 /* presence and name claims outlive a dead broker this long */
#define CHATFED_BEAT_MS 3000 /* how often they are refreshed */
#define CHATFED_NAME_MAX 64

struct chatfed;
struct chatfed_member;

enum chatfed_claim {
    CHATFED_CLAIM_OK,      /* the name is this client's on every broker */
    CHATFED_CLAIM_TAKEN,   /* someone on another broker has it */
    CHATFED_CLAIM_UNKNOWN, /* Redis went away before it answered: decide locally */
};

/* How chatfed reaches the broker. app is chatfed_new's; client is the
 * pointer given to chatfed_join. */
struct chatfed_ops {
    /* A line from another broker (or a notice of chatfed's own), for every
     * local client; keep: a chat line, for the local history too. */
    void (*deliver)(void *app, const char *line, size_t n, bool keep);
    /* A line for one local client. */
    void (*tell)(void *app, void *client, const char *line, size_t n);
    /* The history from Redis is not to be had: give the local one. */
    void (*local_history)(void *app, void *client);
    /* The answer to chatfed_claim. */
    void (*claimed)(void *app, void *client, const char *name, enum chatfed_claim result);
};

struct chatfed_config {
    const char *url; /* redis://HOST[:PORT][/ROOM] */
    int history;     /* lines a newcomer gets, and the cap of the list */
    size_t line_max; /* the longest line a broker delivers, LF included */
    int err_fd;      /* where connection changes are logged */
};

/* Parses the URL and resolves its host (getaddrinfo: call before the loop
 * runs; the address is kept for every reconnect). Returns 0, or -errno with
 * *what naming the step; nothing connects before chatfed_attach. */
int chatfed_new(const struct chatfed_config *cfg, const struct chatfed_ops *ops, void *app,
                struct chatfed **out, const char **what);

/* On the loop's thread: starts connecting; from now on call chatfed_tick
 * from the loop's tick. */
void chatfed_attach(struct chatfed *f, struct ev_loop *loop);

/* Timers: deadlines, reconnect back-off, the refresh of presence and
 * claims, the check that our own messages come back. */
void chatfed_tick(struct chatfed *f);

/* A local client arrived with name. Returns its handle (NULL when memory
 * is short: the client is then simply not federated), which the other
 * calls take and which stays valid until chatfed_leave. */
struct chatfed_member *chatfed_join(struct chatfed *f, void *client, const char *name);

/* The client left; m must not be used again. NULL is ignored. */
void chatfed_leave(struct chatfed *f, struct chatfed_member *m);

/* Asks Redis for name (len bytes) for m. Returns 0 when ops->claimed will
 * answer (the caller holds the client's input until then), -EADDRINUSE
 * when another local client is claiming it right now, or -ENOTCONN when
 * Redis is unreachable (the caller decides locally). */
int chatfed_claim(struct chatfed *f, struct chatfed_member *m, const char *name, size_t len);

/* m is now called name (after a claim, or decided locally): the presence
 * set follows and the old name's claim is released. */
void chatfed_renamed(struct chatfed *f, struct chatfed_member *m, const char *name);

/* Publishes a formatted line ("NAME: text\n", or a notice when !keep)
 * that local clients already got. Returns 0, -ENOTCONN while Redis is
 * unreachable, -ENOBUFS when too much waits for Redis (the line stays
 * local), -EINVAL for what is not one line. */
int chatfed_line(struct chatfed *f, const char *line, size_t n, bool keep);

/* Sends m the room's history from Redis through ops->tell. Returns 0, or
 * -ENOTCONN when the caller should give the local history. */
int chatfed_history(struct chatfed *f, struct chatfed_member *m);

/* /who: local[0..n) is the broker's own "* here: ..." line without its LF;
 * the names on the other brokers are appended and the line goes to m
 * through ops->tell. Returns 0, or -ENOTCONN (the caller sends it as is). */
int chatfed_who(struct chatfed *f, struct chatfed_member *m, const char *local, size_t n);

/* Stopping: removes this broker's presence from Redis (as far as the
 * socket takes it at once) and closes. Call after the clients have left. */
void chatfed_stop(struct chatfed *f);

/* Frees f, after chatfed_stop (or when it was never attached). */
void chatfed_free(struct chatfed *f);

#endif
