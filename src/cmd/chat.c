/* ferry chat: the broker (-l) or the client, around chat/chat. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <unistd.h>

#include "chat/chat.h"
#include "cmd/cmd.h"
#include "core/err.h"
#include "proto/hostport.h"
#include "proto/rurl.h"

static volatile int chat_stop;

/* The terminal's settings before the client's line editor took it, for
 * every way out: the return, and the signals that end the process. */
static struct termios tty_saved;
static volatile sig_atomic_t tty_taken;

static void tty_restore_and_die(int sig)
{
    if (tty_taken)
        tcsetattr(STDIN_FILENO, TCSANOW, &tty_saved);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* The line editor's settings, taken again after a stop. */
static struct termios tty_raw;

/* ^Z (SIGTSTP): the shell gets the terminal back as it was and the
 * process stops; after fg (SIGCONT) the line editor takes it again (the
 * line being typed is drawn again with the next key or message). Only
 * async-signal-safe calls. */
static void tty_suspend(int sig)
{
    int saved_errno = errno;
    struct sigaction dfl = {.sa_handler = SIG_DFL}, again = {.sa_handler = tty_suspend};
    sigset_t set;

    if (tty_taken)
        tcsetattr(STDIN_FILENO, TCSANOW, &tty_saved);
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, NULL);
    raise(sig); /* pending until unblocked: the stop comes here */
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    sigemptyset(&again.sa_mask);
    sigaction(sig, &again, NULL);
    if (tty_taken)
        tcsetattr(STDIN_FILENO, TCSANOW, &tty_raw);
    errno = saved_errno;
}

/* When standard input and output are a terminal: turns off its canonical
 * mode and echo (the client edits the line itself; ^C still interrupts)
 * and arranges for SIGHUP and SIGQUIT to put it back, and ^Z to put it
 * back while stopped. True when taken. */
static bool tty_take(void)
{
    struct sigaction sa = {.sa_handler = tty_restore_and_die};
    struct sigaction sus = {.sa_handler = tty_suspend};
    struct termios raw;

    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO) || tcgetattr(STDIN_FILENO, &tty_saved) < 0)
        return false;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGQUIT, &sa, NULL);
    sigemptyset(&sus.sa_mask);
    sigaction(SIGTSTP, &sus, NULL);
    raw = tty_saved;
    raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    tty_raw = raw;
    tty_taken = 1;
    if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) < 0) {
        tty_taken = 0;
        return false;
    }
    return true;
}

static void tty_give_back(void)
{
    if (tty_taken)
        tcsetattr(STDIN_FILENO, TCSANOW, &tty_saved);
    tty_taken = 0;
}

static void chat_usage(FILE *f)
{
    fprintf(f, "usage: ferry chat -l [-p PORT] [-b ADDR] [--operator] [options]\n"
               "       ferry chat HOST:PORT [--name NAME] [options]\n"
               "\n"
               "Broker (-l): every message a client sends goes to all the others as\n"
               "\"NAME: text\"; /nick NAME, /who; /quit, Q, bye or exit leaves. A newcomer\n"
               "gets the last messages. With a terminal on stdin, or --operator, you take\n"
               "part as \"server\". Client: what arrives is printed at once; on a terminal\n"
               "the line you are typing is drawn again below it (backspace, ^U, ^W edit it);\n"
               "each line is sent; Ctrl-D, /quit, Q or bye ends it. After a /nick (or\n"
               "--name) nothing is sent until the broker answers; a name it refuses ends a\n"
               "piped client (exit 1) rather than send its lines under another name. On a\n"
               "terminal, controls from the network are shown as ^[ (ESC), ^M (CR) or\n"
               "\\x9b; piped, as sent.\n"
               "\n"
               "  -l, --listen           run the broker\n"
               "  -p, --port PORT        broker port (default 9000; 0 picks a free one)\n"
               "  -b, --bind ADDR        broker address (default: all interfaces)\n"
               "      --operator         take part from stdin even when it is not a terminal\n"
               "      --max-clients N    clients at once (default 10000)\n"
               "      --history N        messages a newcomer gets (default 20)\n"
               "      --rate N           messages a second one client may send (default 100,\n"
               "                         bursts of twice that); past it the broker reads that\n"
               "                         client slower (told once), nothing is dropped\n"
               "      --queue BYTES      output waiting for a client, in the broker and in its\n"
               "                         kernel send queue (default 262144): past half, no\n"
               "                         client is read until it drains; one that takes\n"
               "                         nothing for 1 s then is dropped as not reading\n"
               "      --redis URL        federate over Redis: redis://HOST[:PORT][/ROOM] (port\n"
               "                         6379, room \"ferry\"); every broker on that Redis and\n"
               "                         room shares lines, history, /who and names\n"
               "  -q, --quiet            broker: no join/leave log\n" CMD_PROXY_FROM_HELP
               "      --name NAME        client: the name to take (/nick NAME)\n"
               "      --charset NAME     utf-8 (default: bytes as they are) or gbk: the wire's\n"
               "                         charset, converted from and to the terminal's UTF-8\n"
               "  -h, --help             this text\n"
               "\n"
               "Exit status: 0 done (or the server closed), 1 could not listen or connect,\n"
               "2 bad usage.\n");
}

enum { OPT_OPERATOR = 256, OPT_HISTORY, OPT_RATE, OPT_QUEUE, OPT_NAME, OPT_CHARSET, OPT_REDIS };

int cmd_chat(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"listen", no_argument, NULL, 'l'},
        {"port", required_argument, NULL, 'p'},
        {"bind", required_argument, NULL, 'b'},
        {"operator", no_argument, NULL, OPT_OPERATOR},
        {"max-clients", required_argument, NULL, CMD_OPT_MAX},
        {"history", required_argument, NULL, OPT_HISTORY},
        {"rate", required_argument, NULL, OPT_RATE},
        {"queue", required_argument, NULL, OPT_QUEUE},
        {"quiet", no_argument, NULL, 'q'},
        {"name", required_argument, NULL, OPT_NAME},
        {"charset", required_argument, NULL, OPT_CHARSET},
        {"redis", required_argument, NULL, OPT_REDIS},
        {"proxy-from", required_argument, NULL, CMD_OPT_PROXY_FROM},
        {"proxy-wait", required_argument, NULL, CMD_OPT_PROXY_WAIT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct chat_options o;
    struct cmd_listener l;
    bool listen_mode = false, op = false;
    char host[256];
    long v;
    int opt;

    chat_options_default(&o);
    cmd_listener_init(&l, o.port);
    optind = 1;
    while ((opt = getopt_long(argc, argv, "lp:b:qh", longopts, NULL)) != -1) {
        int taken = cmd_listener_opt(&l, opt, optarg, "chat", "--max-clients");
        if (taken < 0)
            return EXIT_USAGE;
        if (taken > 0)
            continue;
        switch (opt) {
        case 'l':
            listen_mode = true;
            break;
        case OPT_OPERATOR:
            op = true;
            break;
        case OPT_HISTORY:
            if (cmd_parse_long(optarg, 0, 1000, &v) < 0) {
                fprintf(stderr, "ferry chat: --history takes 0 to 1000\n");
                return EXIT_USAGE;
            }
            o.history = (int)v;
            break;
        case OPT_RATE:
            if (cmd_parse_long(optarg, 1, 1000000, &v) < 0) {
                fprintf(stderr, "ferry chat: --rate takes 1 to 1000000\n");
                return EXIT_USAGE;
            }
            o.rate = (double)v;
            o.burst = 2.0 * (double)v;
            break;
        case OPT_QUEUE:
            if (cmd_parse_long(optarg, 4096, 1L << 30, &v) < 0) {
                fprintf(stderr, "ferry chat: --queue takes 4096 to 1073741824 bytes\n");
                return EXIT_USAGE;
            }
            o.queue_cap = (size_t)v;
            break;
        case 'q':
            o.quiet = true;
            break;
        case OPT_NAME:
            o.name = optarg;
            break;
        case OPT_CHARSET:
            if (strcasecmp(optarg, "gbk") == 0) {
                o.wire_charset = "GBK";
            } else if (strcasecmp(optarg, "utf-8") != 0 && strcasecmp(optarg, "utf8") != 0) {
                fprintf(stderr, "ferry chat: --charset takes utf-8 or gbk\n");
                return EXIT_USAGE;
            }
            break;
        case OPT_REDIS: {
            struct rurl u;
            int rc = rurl_parse(optarg, strlen(optarg), &u);
            if (rc < 0) {
                fprintf(stderr, "ferry chat: --redis takes redis://HOST[:PORT][/ROOM]%s\n",
                        rc == -ENOTSUP ? " (no user, password or rediss://)" : "");
                return EXIT_USAGE;
            }
            o.redis = optarg;
            break;
        }
        case 'h':
            chat_usage(stdout);
            return EXIT_OK;
        default:
            chat_usage(stderr);
            return EXIT_USAGE;
        }
    }
    o.port = l.port;
    o.bind = l.bind;
    if (l.max > 0)
        o.max_clients = l.max;
    o.proxy_from = cmd_proxy_from(&l);
    o.proxy_wait = (int)l.proxy_wait;
    if (!listen_mode && (l.proxy || l.proxy_wait > 0)) {
        fprintf(stderr, "ferry chat: --proxy-from and --proxy-wait are for the broker (-l)\n");
        return EXIT_USAGE;
    }
    if (listen_mode ? optind != argc : optind != argc - 1) {
        fprintf(stderr, listen_mode ? "ferry chat: -l takes no HOST:PORT\n"
                                    : "ferry chat: give HOST:PORT, or -l to run the broker\n");
        return EXIT_USAGE;
    }
    if (!listen_mode && o.redis != NULL) {
        fprintf(stderr, "ferry chat: --redis is for the broker (-l)\n");
        return EXIT_USAGE;
    }
    if (!listen_mode) {
        if (hostport_parse(argv[optind], host, sizeof host, &o.peer_port, 0) < 0) {
            fprintf(stderr, "ferry chat: '%s' is not HOST:PORT\n", argv[optind]);
            return EXIT_USAGE;
        }
        o.host = host;
        cmd_signals_flag(&chat_stop);
        const char *what = "";
        o.line_edit = o.in_fd == STDIN_FILENO && o.out_fd == STDOUT_FILENO && tty_take();
        int rc = chat_client_run(&o, &chat_stop, &what);
        tty_give_back();
        if (rc < 0 && strcmp(what, CHAT_WHAT_NAME) == 0) {
            fprintf(stderr,
                    "ferry chat: the broker refused the name (its line above says why); nothing "
                    "more was sent%s\n",
                    o.name != NULL ? ": choose another with --name" : "");
            return EXIT_FAIL;
        }
        if (rc < 0 && strcmp(what, CHAT_WHAT_CONNECT) == 0) {
            char at[sizeof host + 8];
            hostport_format(o.host, o.peer_port, at, sizeof at);
            fprintf(stderr, "ferry chat: cannot connect to %s: %s\n", at,
                    rc == -EADDRNOTAVAIL ? "no such host" : fe_strerror(rc));
            return EXIT_FAIL;
        }
        if (rc < 0) {
            fprintf(stderr, "ferry chat: %s: %s\n", what, fe_strerror(rc));
            return EXIT_FAIL;
        }
        return EXIT_OK;
    }
    o.operator_ = op || isatty(o.in_fd);
    cmd_raise_fd_limit();
    cmd_signals_block();
    char addr[80];
    const char *what = "";
    struct chat_broker *b;
    int rc = chat_broker_start(&o, &b, addr, sizeof addr, &what);
    if (rc < 0) {
        if (!cmd_listen_failed("chat", o.bind, o.port, what, rc))
            fprintf(stderr, "ferry chat: %s: %s\n", what, fe_strerror(rc));
        return EXIT_FAIL;
    }
    printf("ferry: chat listening on %s\n", addr);
    fflush(stdout);
    cmd_signals_wait("chat");
    chat_broker_stop(b);
    chat_broker_wait(b);
    return EXIT_OK;
}
