/* ferry: one binary, one subcommand per tool. */
#include <errno.h>
#include <limits.h>
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
            "\n"
            "not built yet (see README.md): get, put, hello, chat, udp\n"
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
    if (strcmp(cmd, "get") == 0 || strcmp(cmd, "put") == 0 || strcmp(cmd, "hello") == 0 ||
        strcmp(cmd, "chat") == 0 || strcmp(cmd, "udp") == 0) {
        fprintf(stderr, "ferry: '%s' is not built yet\n", cmd);
        return EXIT_USAGE;
    }
    fprintf(stderr, "ferry: unknown command '%s'\n", cmd);
    usage(stderr);
    return EXIT_USAGE;
}
