/* ferry: one binary, one subcommand per tool. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"

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

            "\n"
            "ferry COMMAND --help shows a command's options.\n");
}

int cmd_parse_long(const char *s, long min, long max, long *out)
{
    char *end;

    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        return -EINVAL;
    *out = v;
    return 0;
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

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        printf("ferry %s\n", FERRY_VERSION);
        return EXIT_OK;
    }
    if (strcmp(cmd, "serve") == 0)
        return cmd_serve(argc - 1, argv + 1);
    if (strcmp(cmd, "hello") == 0)
        return cmd_hello(argc - 1, argv + 1);
    if (strcmp(cmd, "udp") == 0)
        return cmd_udp(argc - 1, argv + 1);
    if (strcmp(cmd, "chat") == 0)
        return cmd_chat(argc - 1, argv + 1);
    if (strcmp(cmd, "get") == 0)
        return cmd_get(argc - 1, argv + 1);
    if (strcmp(cmd, "put") == 0)
        return cmd_put(argc - 1, argv + 1);
    fprintf(stderr, "ferry: unknown command '%s'\n", cmd);
    usage(stderr);
    return EXIT_USAGE;
}
