/* ferry udp: options, signals and exit codes around udp/udp. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "udp/udp.h"
#include "cmd/cmd.h"
#include "core/err.h"
#include "proto/hostport.h"

static volatile int udp_stop;

static void udp_usage(FILE *f)
{
    fprintf(f,
            "usage: ferry udp -l [-p PORT] [-b ADDR] [--echo] [options]\n"
            "       ferry udp HOST:PORT [--wait SECONDS] [options]\n"
            "\n"
            "Listening (-l): prints each datagram with its sender; each line typed on\n"
            "stdin goes to the most recent sender; --echo answers each datagram with\n"
            "its own bytes instead (never to its own address, at most 1000 a second\n"
            "to one sender). Otherwise: sends each stdin line as one datagram\n"
            "and prints every reply as it arrives. On a terminal, controls in a\n"
            "datagram are shown as ^[ (ESC), ^M (CR) or \\x9b; piped, as sent.\n"
            "\n"
            "  -l, --listen           listen instead of sending\n"
            "  -p, --port PORT        listening port (default 9000; 0 picks a free one)\n"
            "  -b, --bind ADDR        listening address (default: all interfaces)\n"
            "      --echo             listening: answer each datagram with its bytes\n"
            "      --wait SECONDS     after stdin ends, wait this long for replies (default 1)\n"
            "      --charset NAME     utf-8 (default: bytes as they are) or gbk: the\n"
            "                         wire's charset, converted from and to UTF-8\n"
            "      --recv-max BYTES   receive buffer (default 65536); longer datagrams are\n"
            "                         reported as truncated\n"
            "  -h, --help             this text\n"
            "\n"
            "A line over %d bytes (the most a datagram holds) is refused, not split.\n"
            "Exit status: 0 done, 1 a datagram found nobody listening (ICMP), 2 bad\n"
            "usage, 3 could not bind or resolve.\n",
            UDP_MAX_PAYLOAD);
}

static void print_ready(const char *addr)
{
    printf("ferry: udp listening on %s\n", addr);
    fflush(stdout);
}

enum { OPT_ECHO = 256, OPT_WAIT, OPT_CHARSET, OPT_RECV_MAX };

int cmd_udp(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"listen", no_argument, NULL, 'l'},       {"port", required_argument, NULL, 'p'},
        {"bind", required_argument, NULL, 'b'},   {"echo", no_argument, NULL, OPT_ECHO},
        {"wait", required_argument, NULL, OPT_WAIT}, {"charset", required_argument, NULL, OPT_CHARSET},
        {"recv-max", required_argument, NULL, OPT_RECV_MAX}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct udp_options o;
    struct cmd_listener l;
    char host[256];
    long v;
    int opt;

    udp_options_default(&o);
    cmd_listener_init(&l, 9000);
    optind = 1;
    while ((opt = getopt_long(argc, argv, "lp:b:h", longopts, NULL)) != -1) {
        /* -p and -b only: udp has no --threads or cap in its table. */
        int taken = cmd_listener_opt(&l, opt, optarg, "udp", "");
        if (taken < 0)
            return EXIT_USAGE;
        if (taken > 0)
            continue;
        switch (opt) {
        case 'l':
            o.listen = true;
            break;
        case OPT_ECHO:
            o.echo = true;
            break;
        case OPT_WAIT: {
            char *end;
            double d = strtod(optarg, &end);
            if (end == optarg || *end != '\0' || d < 0 || d > 86400) {
                fprintf(stderr, "ferry udp: --wait takes seconds from 0 to 86400\n");
                return EXIT_USAGE;
            }
            o.wait_ms = (int)(d * 1000);
            break;
        }
        case OPT_CHARSET:
            if (strcasecmp(optarg, "gbk") == 0) {
                o.wire_charset = "GBK";
            } else if (strcasecmp(optarg, "utf-8") != 0 && strcasecmp(optarg, "utf8") != 0) {
                fprintf(stderr, "ferry udp: --charset takes utf-8 or gbk\n");
                return EXIT_USAGE;
            }
            break;
        case OPT_RECV_MAX:
            if (cmd_parse_long(optarg, 1, 1 << 20, &v) < 0) {
                fprintf(stderr, "ferry udp: --recv-max takes 1 to 1048576 bytes\n");
                return EXIT_USAGE;
            }
            o.recv_max = (size_t)v;
            break;
        case 'h':
            udp_usage(stdout);
            return EXIT_OK;
        default:
            udp_usage(stderr);
            return EXIT_USAGE;
        }
    }
    o.port = l.port;
    o.bind = l.bind;
    if (o.listen ? optind != argc : optind != argc - 1) {
        fprintf(stderr, o.listen ? "ferry udp: -l takes no HOST:PORT\n"
                                 : "ferry udp: give HOST:PORT, or -l to listen\n");
        return EXIT_USAGE;
    }
    if (!o.listen) {
        if (hostport_parse(argv[optind], host, sizeof host, &o.peer_port, 0) < 0) {
            fprintf(stderr, "ferry udp: '%s' is not HOST:PORT\n", argv[optind]);
            return EXIT_USAGE;
        }
        o.host = host;
    }
    cmd_signals_flag(&udp_stop);

    const char *what = "";
    int rc = udp_run(&o, &udp_stop, print_ready, &what);
    if (rc < 0) {
        if (!cmd_listen_failed("udp", o.bind, o.port, what, rc))
            fprintf(stderr, "ferry udp: %s: %s\n", what, fe_strerror(rc));
        return 3;
    }
    return rc == 0 ? EXIT_OK : EXIT_FAIL;
}
