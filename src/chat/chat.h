/* chat: `ferry chat`, a TCP chat broker and a full-duplex chat client. */
#ifndef FERRY_CHAT_CHAT_H
#define FERRY_CHAT_CHAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cidr_list;

struct chat_options {
    const char *bind; /* broker: NULL for every interface */
    uint16_t port;
    long max_clients;
    bool operator_;   /* broker: the person at stdin takes part as "server" */
    bool quiet;       /* broker: no join/leave log (without operator) */
    const char *wire_charset; /* NULL: bytes as they are; "GBK": convert at the terminal */
    size_t msg_cap;
    size_t queue_cap;     /* broker: bytes queued for one client before it is dropped */
    double rate;          /* broker: messages per second a client may send... */
    double burst;         /* ...and how many at once */
    int history;          /* broker: messages a newcomer gets */
    const char *redis;    /* broker: redis://HOST[:PORT][/ROOM] to federate over, or NULL */
    const char *host;     /* client: the server */
    uint16_t peer_port;
    const char *name;     /* client: sent as "/nick NAME" first */
    bool line_edit;       /* client: in_fd and out_fd are a terminal with in_fd non-canonical
                           * and without echo (the caller sets and restores it): edit the
                           * line here and redraw it under the lines that arrive */
    int in_fd, out_fd, err_fd;
    /* broker: PROXY headers from these peers (the caller's; see
     * net/srv.h); a client's first bytes that begin one close it. NULL: off. */
    const struct cidr_list *proxy_from;
    int proxy_wait; /* how many may wait for their header, per thread; 0: srv's default */
};

void chat_options_default(struct chat_options *o);

struct chat_broker;

/* Listens and starts the broker's thread; addr gets "127.0.0.1:PORT".
 * With operator_, lines from in_fd go to everyone as "server: text" and
 * every message is shown on out_fd. Returns 0 or -errno with *what naming
 * the failed step. */
int chat_broker_start(const struct chat_options *o, struct chat_broker **out, char *addr,
                      size_t addrsz, const char **what);

/* Asks the broker to stop (from any thread). */
void chat_broker_stop(struct chat_broker *b);

/* Waits for the broker's thread and frees it. */
void chat_broker_wait(struct chat_broker *b);

/* The client's *what when the connection to the broker failed (cmd/ then
 * names the address it tried). */
#define CHAT_WHAT_CONNECT "cannot connect"
/* The client's *what (with -EADDRINUSE) when the broker refused the name of
 * --name, or of a /nick from a pipe: it ends there, having said so on
 * out_fd, rather than send the lines meant for that name under another. */
#define CHAT_WHAT_NAME "the name was refused"

/* Runs the client until the user ends it or the server closes. Returns 0,
 * or -errno with *what naming the step. */
int chat_client_run(const struct chat_options *o, volatile int *stop, const char **what);

/* True for the words that end a client: "/quit", "Q", "bye", "exit". */
bool chat_is_quit(const char *text, size_t len);

#endif
