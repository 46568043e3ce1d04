/* ferry hello: options and the process around hello/hello. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "hello/hello.h"
#include "cmd/cmd.h"
#include "core/err.h"

static void hello_usage(FILE *f)
{
    fprintf(f,
            "usage: ferry hello [options]\n"
            "\n"
            "The classic greeting server: a client gets \"Welcome!\"; each message X\n"
            "gets \"Hello, X!\"; \"exit\" ends it. A message is a line, or the bytes a\n"
            "client sent before it waited for an answer.\n"
            "\n"
            "  -p, --port PORT        port (default 9000; 0 picks a free one)\n"
            "  -b, --bind ADDR        address or host name (default: all interfaces)\n"
            "      --threads N        event loop threads (default: one per core)\n"
            "      --max-clients N    clients at once (default: from ulimit -n)\n"
            "      --idle SECONDS     close a client silent this long (default 300)\n"
            "      --max-msg BYTES    longest message; longer input is cut (default 4096)\n"
            "      --charset NAME     utf-8 or gbk; answers repeat the client's bytes\n"
            "                         either way (default utf-8)\n"
            CMD_PROXY_FROM_HELP
            "  -q, --quiet            no join/leave log\n"
            "  -h, --help             this text\n"
            "\n"
            "The first line on stdout is the address it listens on. Exit status: 0\n"
            "stopped by a signal, 1 could not listen, 2 bad usage.\n");
}

enum { OPT_IDLE = 256, OPT_MAX_MSG, OPT_CHARSET };

int cmd_hello(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"port", required_argument, NULL, 'p'},
        {"bind", required_argument, NULL, 'b'},
        {"threads", required_argument, NULL, CMD_OPT_THREADS},
        {"max-clients", required_argument, NULL, CMD_OPT_MAX},
        {"idle", required_argument, NULL, OPT_IDLE},
        {"max-msg", required_argument, NULL, OPT_MAX_MSG},
        {"charset", required_argument, NULL, OPT_CHARSET},
        {"proxy-from", required_argument, NULL, CMD_OPT_PROXY_FROM},
        {"proxy-wait", required_argument, NULL, CMD_OPT_PROXY_WAIT},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct hello_options o;
    struct cmd_listener l;
    long v;
    int opt;

    hello_options_default(&o);
    cmd_listener_init(&l, o.port);
    optind = 1;
    while ((opt = getopt_long(argc, argv, "p:b:qh", longopts, NULL)) != -1) {
        int taken = cmd_listener_opt(&l, opt, optarg, "hello", "--max-clients");
        if (taken < 0)
            return EXIT_USAGE;
        if (taken > 0)
            continue;
        switch (opt) {
        case OPT_IDLE:
            if (cmd_parse_long(optarg, 1, 86400, &v) < 0) {
                fprintf(stderr, "ferry hello: --idle takes seconds from 1 to 86400\n");
                return EXIT_USAGE;
            }
            o.idle_ms = (int)(v * 1000);
            break;
        case OPT_MAX_MSG:
            if (cmd_parse_long(optarg, 1, 1 << 20, &v) < 0) {
                fprintf(stderr, "ferry hello: --max-msg takes 1 to 1048576 bytes\n");
                return EXIT_USAGE;
            }
            o.msg_cap = (size_t)v;
            break;
        case OPT_CHARSET:
            if (strcasecmp(optarg, "utf-8") != 0 && strcasecmp(optarg, "utf8") != 0 &&
                strcasecmp(optarg, "gbk") != 0) {
                fprintf(stderr, "ferry hello: --charset takes utf-8 or gbk\n");
                return EXIT_USAGE;
            }
            break;
        case 'q':
            o.quiet = true;
            break;
        case 'h':
            hello_usage(stdout);
            return EXIT_OK;
        default:
            hello_usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ferry hello: unexpected argument '%s'\n", argv[optind]);
        return EXIT_USAGE;
    }
    long fds = cmd_raise_fd_limit();
    o.port = l.port;
    o.bind = l.bind;
    o.threads = l.threads;
    o.max_clients = l.max > 0 ? l.max : (fds > 64 ? fds - 32 : 16);
    o.proxy_from = cmd_proxy_from(&l);
    o.proxy_wait = (int)l.proxy_wait;

    cmd_signals_block();
    char addr[80];
    const char *what = "";
    struct hello_server *h;
    int rc = hello_start(&o, &h, addr, sizeof addr, &what);
    if (rc < 0) {
        if (!cmd_listen_failed("hello", o.bind, o.port, what, rc))
            fprintf(stderr, "ferry hello: %s: %s\n", what, fe_strerror(rc));
        return EXIT_FAIL;
    }
    printf("ferry: hello listening on %s\n", addr);
    fflush(stdout);
    cmd_signals_wait("hello");
    hello_stop(h);
    hello_wait(h);
    return EXIT_OK;
}
