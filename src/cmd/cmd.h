/* The subcommands. Each takes its own argv (argv[0] is the subcommand) and
 * returns the process exit code. */
#ifndef FERRY_CMD_CMD_H
#define FERRY_CMD_CMD_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/cidr.h"

#define FERRY_VERSION "0.1.0"

/* Exit codes shared by all subcommands. */
#define EXIT_OK 0
#define EXIT_FAIL 1  /* a runtime failure: cannot listen, cannot open */
#define EXIT_USAGE 2 /* bad options or arguments */

int cmd_serve(int argc, char **argv);
int cmd_hello(int argc, char **argv);
int cmd_udp(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_get(int argc, char **argv);
int cmd_put(int argc, char **argv);
int cmd_passwd(int argc, char **argv);

/* Blocks SIGINT and SIGTERM in this thread (and the threads it starts
 * later) and ignores SIGPIPE. Call before starting a server. */
void cmd_signals_block(void);

/* Waits for SIGINT or SIGTERM, says so on stderr, and returns it. */
int cmd_signals_wait(const char *who);

/* Raises the descriptor limit to the hard limit; returns the new limit. */
long cmd_raise_fd_limit(void);

/* Parses a whole decimal number in [min, max]. Returns 0 or -EINVAL. */
int cmd_parse_long(const char *s, long min, long max, long *out);

/* Makes SIGINT and SIGTERM set *flag (no SA_RESTART, so a blocking poll
 * returns EINTR) and ignores SIGPIPE: for the clients and peers that run a
 * poll loop in the main thread. */
void cmd_signals_flag(volatile int *flag);

/* The listener options serve, hello, chat -l and udp -l share: -p, -b,
 * --threads and a connection cap (--max-conns or --max-clients); and, for
 * the TCP ones, --proxy-from and --proxy-wait. */
struct cmd_listener {
    uint16_t port;
    const char *bind; /* NULL: every interface */
    int threads;      /* one per core unless --threads */
    long max;         /* the cap; 0 when not given */
    bool proxy;       /* --proxy-from was given: proxy_from holds it */
    struct cidr_list proxy_from;
    long proxy_wait; /* --proxy-wait: per thread; 0 when not given (srv's default) */
};

/* getopt_long values for --threads, the cap, --proxy-from and --proxy-wait
 * in each command's table. */
enum { CMD_OPT_THREADS = 200, CMD_OPT_MAX, CMD_OPT_PROXY_FROM, CMD_OPT_PROXY_WAIT };

/* The --proxy-from and --proxy-wait lines of the TCP listeners' --help. */
#define CMD_PROXY_FROM_HELP                                                                        \
    "      --proxy-from CIDR[,CIDR]  peers (a load balancer such as HAProxy) that\n"               \
    "                         must send a PROXY protocol v1 or v2 header; the\n"                   \
    "                         client it names is the one logged. A header from\n"                  \
    "                         any other peer closes the connection\n"                              \
    "      --proxy-wait N     connections per thread that may wait for their\n"                    \
    "                         PROXY header (default 1024); past it new ones\n"                     \
    "                         wait to be accepted\n"

/* The --proxy-from list l holds, or NULL when it was not given: what the
 * servers' options take. */
static inline const struct cidr_list *cmd_proxy_from(const struct cmd_listener *l)
{
    return l->proxy ? &l->proxy_from : NULL;
}

/* Says on stderr, as "ferry who: ...", why a server could not start when
 * what is SOCK_WHAT_LISTEN: the address and port it tried (bind NULL:
 * every interface) and the cause in words (in use, not this machine's, a
 * name that does not resolve, a port that needs privileges). Returns true
 * when it said so, false (saying nothing) for any other what. */
bool cmd_listen_failed(const char *who, const char *bind, uint16_t port, const char *what, int rc);

/* Sets l to port, every interface, one thread per core, no cap given. */
void cmd_listener_init(struct cmd_listener *l, uint16_t port);

/* Takes opt (as getopt_long returned it, with arg) when it is one of the
 * listener options. Returns 1 when taken, 0 when opt is another option,
 * or -1 for a bad value, after saying so on stderr as "ferry who: ...";
 * max_name is the cap's option name in that message. */
int cmd_listener_opt(struct cmd_listener *l, int opt, const char *arg, const char *who,
                     const char *max_name);

#endif
