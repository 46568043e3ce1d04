/* ferry: one binary, one subcommand per tool. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "core/err.h"
#include "net/sock.h"
#include "proto/hostport.h"
#include "proto/lex.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: ferry COMMAND [options]\n"
            "\n"
            "commands:\n"
            "  serve [DIR]   serve DIR over HTTP/1.1 and the raw file protocol\n"
            "  hello         the multi-client greeting server\n"
            "  get URL...    download over http, https and the raw protocol\n"
            "  put FILE URL  upload with HTTP PUT\n"
            "  chat          a chat broker (-l) or a full-duplex chat client\n"
            "  udp           a UDP peer: listen (-l) or send to HOST:PORT\n"
            "  passwd USER [RIGHTS]  print a line for serve --auth\n"

            "\n"
            "ferry help COMMAND (or ferry COMMAND --help) shows a command's options;\n"
            "ferry --version (or ferry COMMAND --version) the version.\n");
}

int cmd_parse_long(const char *s, long min, long max, long *out)
{
    size_t len = strlen(s), pos = 0;
    uint64_t v;

    /* Digits only: strtol would also take leading spaces and a sign. */
    if (min < 0 || max < min || lex_decimal(s, len, &pos, (uint64_t)max, &v) < 0 || pos != len ||
        v < (uint64_t)min)
        return -EINVAL;
    *out = (long)v;
    return 0;
}

static volatile int *signal_flag;

static void on_signal(int sig)
{
    (void)sig;
    *signal_flag = 1;
}

void cmd_signals_flag(volatile int *flag)
{
    struct sigaction sa;

    signal_flag = flag;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* --proxy-from: the list, or a message that names the entry at fault. */
static int proxy_from_opt(struct cmd_listener *l, const char *arg, const char *who)
{
    const char *bad = arg;
    size_t badlen = 0;
    int rc = cidr_list_parse(arg, strlen(arg), &l->proxy_from, &bad, &badlen);
    const char *why;

    switch (rc) {
    case 0:
        l->proxy = true;
        return 1;
    case -ERANGE:
        why = "the prefix length must be 0 to 32 for IPv4, 0 to 128 for IPv6";
        break;
    case -EDOM:
        why = "the address has bits set past its prefix length (write the network, "
              "e.g. 10.0.0.0/8)";
        break;
    case -E2BIG:
        fprintf(stderr, "ferry %s: --proxy-from takes at most %d entries\n", who, CIDR_LIST_MAX);
        return -1;
    default:
        why = badlen == 0 ? "an empty entry" : "not an IPv4 or IPv6 address";
        break;
    }
    fprintf(stderr, "ferry %s: --proxy-from: '%.*s': %s\n", who, (int)badlen, bad, why);
    return -1;
}

bool cmd_listen_failed(const char *who, const char *bind, uint16_t port, const char *what, int rc)
{
    char at[300];

    if (strcmp(what, SOCK_WHAT_LISTEN) != 0)
        return false;
    if (bind == NULL || bind[0] == '\0')
        snprintf(at, sizeof at, "port %u (every interface)", (unsigned)port);
    else
        hostport_format(bind, port, at, sizeof at);
    switch (rc) {
    case -EADDRINUSE:
        fprintf(stderr,
                "ferry %s: %s is in use: another program listens there; stop it or choose "
                "another port with -p\n",
                who, at);
        break;
    case -EACCES:
        fprintf(stderr,
                "ferry %s: cannot listen on %s: ports below 1024 need root (or "
                "CAP_NET_BIND_SERVICE); choose another port with -p\n",
                who, at);
        break;
    case -EADDRNOTAVAIL:
        fprintf(stderr,
                "ferry %s: cannot listen on %s: %s is not an address of this machine (-b)\n", who,
                at, bind != NULL ? bind : "it");
        break;
    case SOCK_ENONAME:
        fprintf(stderr,
                "ferry %s: -b %s: no such host name; give an address of this machine "
                "(127.0.0.1, ::1) or leave -b out for every interface\n",
                who, bind != NULL ? bind : "");
        break;
    default:
        fprintf(stderr, "ferry %s: cannot listen on %s: %s\n", who, at, fe_strerror(rc));
        break;
    }
    return true;
}

void cmd_listener_init(struct cmd_listener *l, uint16_t port)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);

    memset(l, 0, sizeof *l);
    l->port = port;
    l->threads = cores > 0 && cores < 256 ? (int)cores : 1;
}

int cmd_listener_opt(struct cmd_listener *l, int opt, const char *arg, const char *who,
                     const char *max_name)
{
    long v;

    switch (opt) {
    case 'p':
        if (lex_port(arg, strlen(arg), true, &l->port) < 0) {
            fprintf(stderr, "ferry %s: bad port '%s'\n", who, arg);
            return -1;
        }
        return 1;
    case 'b':
        l->bind = arg;
        return 1;
    case CMD_OPT_THREADS:
        if (cmd_parse_long(arg, 1, 256, &v) < 0) {
            fprintf(stderr, "ferry %s: --threads takes 1 to 256\n", who);
            return -1;
        }
        l->threads = (int)v;
        return 1;
    case CMD_OPT_MAX:
        if (cmd_parse_long(arg, 1, 10000000, &l->max) < 0) {
            fprintf(stderr, "ferry %s: %s takes a positive number\n", who, max_name);
            return -1;
        }
        return 1;
    case CMD_OPT_PROXY_FROM:
        return proxy_from_opt(l, arg, who);
    case CMD_OPT_PROXY_WAIT:
        if (cmd_parse_long(arg, 1, 1000000, &l->proxy_wait) < 0) {
            fprintf(stderr, "ferry %s: --proxy-wait takes 1 to 1000000\n", who);
            return -1;
        }
        return 1;
    default:
        return 0;
    }
}

void cmd_signals_block(void)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int cmd_signals_wait(const char *who)
{
    sigset_t set;
    int sig = 0;

    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    while (sigwait(&set, &sig) != 0) {
    }
    fprintf(stderr, "ferry %s: %s, stopping\n", who, sig == SIGINT ? "interrupted" : "terminated");
    return sig;
}

long cmd_raise_fd_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return 1024;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 1000000 ? 1000000 : (long)rl.rlim_cur;
}

/* The subcommands, for dispatch and `ferry help CMD`. */
static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
} commands[] = {
    {"serve", cmd_serve}, {"hello", cmd_hello}, {"udp", cmd_udp},       {"chat", cmd_chat},
    {"get", cmd_get},     {"put", cmd_put},     {"passwd", cmd_passwd},
};

static int (*command(const char *name))(int, char **)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, name) == 0)
            return commands[i].run;
    return NULL;
}

/* True when the options of a subcommand (argv[1..], up to a "--") ask for
 * the version: every subcommand answers --version alike. */
static bool asks_version(int argc, char **argv)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--version") == 0)
            return true;
    return false;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 ||
        (strcmp(cmd, "help") == 0 && argc == 2)) {
        usage(stdout);
        return EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0 || strcmp(cmd, "version") == 0) {
        printf("ferry %s\n", FERRY_VERSION);
        return EXIT_OK;
    }
    if (strcmp(cmd, "help") == 0) {
        /* ferry help CMD: CMD --help. */
        int (*run)(int, char **) = command(argv[2]);
        char help[] = "--help";
        char *args[] = {argv[2], help, NULL};
        if (run == NULL || argc > 3) {
            fprintf(stderr, "ferry: help takes one command: ferry help {serve|hello|get|put|chat|"
                            "udp|passwd}\n");
            return EXIT_USAGE;
        }
        return run(2, args);
    }
    int (*run)(int, char **) = command(cmd);
    if (run == NULL) {
        fprintf(stderr, "ferry: unknown command '%s'; try `ferry --help`\n", cmd);
        return EXIT_USAGE;
    }
    if (asks_version(argc - 1, argv + 1)) {
        printf("ferry %s\n", FERRY_VERSION);
        return EXIT_OK;
    }
    return run(argc - 1, argv + 1);
}
