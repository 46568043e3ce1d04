/* ferry serve: options, signals and the process around serve/fileserver. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "serve/fileserver.h"
#include "serve/fs_auth.h"
#include "cmd/cmd.h"
#include "core/charset.h"
#include "core/err.h"
#include "net/sock.h"
#include "proto/json.h"

/* What the banner says: where the server can be reached. */
struct banner {
    const char *dir;
    char urls[16][600]; /* each at most the server's URL with a longer host */
    int nurls;
    bool every;   /* bound to every interface: urls lists this machine's addresses */
    char fp[128]; /* the certificate's SHA-256, or "" */
    bool self_signed;
};

/* True when bind (-b, or NULL for none) is the unspecified address of
 * family (AF_UNSPEC: either). */
static bool binds_every(const char *bind, int family)
{
    struct in6_addr a6;
    struct in_addr a4;

    if (bind == NULL || bind[0] == '\0')
        return true;
    if (inet_pton(AF_INET, bind, &a4) == 1)
        return family != AF_INET6 && a4.s_addr == htonl(INADDR_ANY);
    if (inet_pton(AF_INET6, bind, &a6) == 1)
        return family != AF_INET && IN6_IS_ADDR_UNSPECIFIED(&a6);
    return false;
}

/* Fills b's URLs from url (the one the server gave, "SCHEME://HOST:PORT/"):
 * that one alone for a bound address; else one per address of this
 * machine's interfaces that are up, for each family the listener takes,
 * loopback first as getifaddrs lists it (IPv6 link-local addresses, which
 * need a zone, left out). */
static void banner_urls(struct banner *b, const char *bind, const char *url)
{
    const char *colon = strrchr(url, ':'), *sep = strstr(url, "://");
    struct ifaddrs *ifs, *i;

    b->nurls = 0;
    b->every = binds_every(bind, AF_UNSPEC) && colon != NULL && sep != NULL;
    if (!b->every || getifaddrs(&ifs) < 0) {
        snprintf(b->urls[b->nurls++], sizeof b->urls[0], "%s", url);
        return;
    }
    for (i = ifs; i != NULL && b->nurls < 16; i = i->ifa_next) {
        char addr[SOCK_ADDRSTRLEN];
        const struct sockaddr *sa = i->ifa_addr;
        if (sa == NULL || !(i->ifa_flags & IFF_UP) || !binds_every(bind, sa->sa_family))
            continue;
        if (sa->sa_family == AF_INET6 &&
            IN6_IS_ADDR_LINKLOCAL(&((const struct sockaddr_in6 *)sa)->sin6_addr))
            continue;
        if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
            continue;
        sock_addr_format(sa, false, addr, sizeof addr);
        snprintf(b->urls[b->nurls++], sizeof b->urls[0], "%.*s%s%s%s%s", (int)(sep + 3 - url), url,
                 sa->sa_family == AF_INET6 ? "[" : "", addr, sa->sa_family == AF_INET6 ? "]" : "",
                 colon);
    }
    freeifaddrs(ifs);
    if (b->nurls == 0)
        snprintf(b->urls[b->nurls++], sizeof b->urls[0], "%s", url);
}

/* s as a JSON string (RFC 8259), quotes included (proto/json: bytes that
 * are not UTF-8 as U+FFFD). */
static void json_string(FILE *f, const char *s)
{
    struct buf b;
    size_t len = strlen(s);

    buf_init(&b, len * 6 + 2);
    if (json_put_string(&b, s, len) == 0)
        fwrite(buf_rptr(&b), 1, buf_len(&b), f);
    buf_free(&b);
}

/* The banner on stdout: text lines, or with --log-format json one JSON
 * object, so that stdout carries nothing but JSON lines. */
static void banner_print(const struct banner *b, bool json)
{
    if (json) {
        printf("{\"event\":\"serving\",\"dir\":");
        json_string(stdout, b->dir);
        printf(",\"every_interface\":%s,\"urls\":[", b->every ? "true" : "false");
        for (int i = 0; i < b->nurls; i++)
            printf("%s\"%s\"", i > 0 ? "," : "", b->urls[i]);
        printf("]");
        if (b->fp[0] != '\0')
            printf(",\"certificate_sha256\":\"%s\",\"self_signed\":%s", b->fp,
                   b->self_signed ? "true" : "false");
        printf("}\n");
        return;
    }
    if (!b->every)
        printf("ferry: serving %s on %s\n", b->dir, b->urls[0]);
    else {
        printf("ferry: serving %s on every interface (-b ADDRESS for one), reachable at:\n",
               b->dir);
        for (int i = 0; i < b->nurls; i++)
            printf("  %s\n", b->urls[i]);
    }
    if (b->fp[0] != '\0')
        printf("ferry: certificate SHA-256 %s%s\n", b->fp,
               b->self_signed ? " (self-signed: check it, or ferry get --pin it)" : "");
}

static void serve_usage(FILE *f)
{
    fprintf(f,
            "usage: ferry serve [options] [DIR]\n"
            "\n"
            "Serves DIR (default: the current directory) over HTTP/1.1 and, on the\n"
            "same port, the raw file protocol (send a name, get the bytes).\n"
            "\n"
            "  -p, --port PORT        port to listen on (default 8000; 0 picks a free one)\n"
            "  -b, --bind ADDR        address or host name (default: all interfaces,\n"
            "                         IPv6 and IPv4; the banner lists this machine's\n"
            "                         addresses, one URL a line)\n"
            "      --threads N        event loop threads (default: one per core)\n"
            "  -q, --quiet            no access log\n"
            "      --log-format FMT   combined (default: common, then referer, user agent\n"
            "                         and the request time in ms), common, or json\n"
            "                         (json: the banner too is a JSON object)\n"
            "      --hidden           serve and list names starting with '.'\n"
            "      --no-mac-files     hide macOS's ._NAME and .DS_Store files too (by\n"
            "                         default they may be read and written by name, never\n"
            "                         listed, so that the Finder can copy onto WebDAV)\n"
            "      --no-raw           HTTP only: no raw file protocol\n"
            "      --raw-gap MS       a raw name with no CR, LF or NUL ends after this\n"
            "                         quiet gap (default 40)\n"
            "      --upload           accept PUT (files replaced atomically), MKCOL and\n"
            "                         DELETE, and show the upload page\n"
            "      --max-upload SIZE  largest PUT body, e.g. 100M (default 1G)\n"
            "      --upload-max-age SECONDS  an unfinished resumable upload is removed\n"
            "                         after this (default 86400)\n"
            "      --upload-max-unfinished N  unfinished resumable uploads one user (or,\n"
            "                         without a login, one address) may have; past it 429\n"
            "                         (default 32)\n"
            "      --upload-max-unfinished-bytes SIZE  the bytes they may hold; past it\n"
            "                         507 (default twice --max-upload)\n"
            "      --upload-part SIZE  the page sends uploads in resumable parts of SIZE,\n"
            "                         64K to 1G (default 16M)\n"
            "      --digest           Repr-Digest (sha-256) on every file, not only when\n"
            "                         Want-Repr-Digest asks; cached in user.ferry.sha256\n"
            "      --digest-rate MIB  the background hashing of files whose digest is not\n"
            "                         known reads at most MIB MiB/s (default 256; 0: no limit)\n"
            "      --no-digest-scan   no background pass over the tree (nor watching it for\n"
            "                         changes): only files asked for are hashed\n"
            "      --dav-depth-infinity on|off  answer PROPFIND with Depth: infinity (a\n"
            "                         streamed, bounded walk; default on) or refuse it (403)\n"
            "      --auth FILE        accounts and rights: lines user:HASH:RIGHTS made by\n"
            "                         ferry passwd; RIGHTS like rw:/incoming,ro:/ (longest\n"
            "                         prefix wins; no:/PREFIX refuses); user * is anyone\n"
            "                         without a password. Writing also needs --upload\n"
            "      --allow-plain-auth accept passwords over plain HTTP from other hosts\n"
            "                         (by default only over TLS or from this host)\n"
            "      --max-conns N      open connections at most (default: from ulimit -n)\n"
            "      --idle SECONDS     keep-alive idle timeout (default 60)\n"
            "      --head-timeout SECONDS  time for a whole request head (default 10)\n"
            "      --send-timeout SECONDS  time without sending progress (default 30)\n"
            "      --send-mode MODE   auto (default), sendfile, splice or readwrite:\n"
            "                         how file bodies are sent, for benchmarks\n"
            CMD_PROXY_FROM_HELP
            "      --tls-cert FILE    HTTPS on the same port: the PEM certificate (chain\n"
            "                         after it); plain HTTP then gets a 301 to https://\n"
            "      --tls-key FILE     its PEM key\n"
            "      --tls-self-signed  HTTPS with a fresh EC P-256 certificate made in\n"
            "                         memory; its SHA-256 is printed (ferry get --pin)\n"
            "      --tls-only         close plain raw-protocol connections too\n"
            "  -h, --help             this text\n"
            "  -V, --version          the version\n"
            "\n"
            "The first line on stdout names the URL served; with TLS the second gives\n"
            "the certificate's SHA-256; then one access log line per request. SIGINT\n"
            "or SIGTERM stops it after responses in flight; SIGHUP loads --tls-cert\n"
            "and --tls-key again for new connections (a bad file keeps the old one).\n"
            "Exit status: 0 stopped by a signal, 1 could not serve, 2 bad usage\n"
            "(a bad line in the --auth file included).\n");
}

enum {
    OPT_HIDDEN = 256,
    OPT_NO_MAC_FILES,
    OPT_NO_RAW,
    OPT_IDLE,
    OPT_HEAD_TIMEOUT,
    OPT_SEND_TIMEOUT,
    OPT_SEND_MODE,
    OPT_UPLOAD,
    OPT_MAX_UPLOAD,
    OPT_RAW_GAP,
    OPT_AUTH,
    OPT_ALLOW_PLAIN_AUTH,
    OPT_TLS_CERT,
    OPT_TLS_KEY,
    OPT_TLS_SELF_SIGNED,
    OPT_TLS_ONLY,
    OPT_LOG_FORMAT,
    OPT_DIGEST,
    OPT_DIGEST_RATE,
    OPT_NO_DIGEST_SCAN,
    OPT_DAV_DEPTH_INFINITY,
    OPT_UPLOAD_MAX_AGE,
    OPT_UPLOAD_MAX_UNFINISHED,
    OPT_UPLOAD_MAX_UNFINISHED_BYTES,
    OPT_UPLOAD_PART,
};

/* "100", "64K", "10M", "2G" (powers of 1024). Returns 0 or -1. */
static int parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    unsigned shift = 0;

    if (errno != 0 || end == s || s[0] == '-')
        return -1;
    if (*end == 'K' || *end == 'k')
        shift = 10;
    else if (*end == 'M' || *end == 'm')
        shift = 20;
    else if (*end == 'G' || *end == 'g')
        shift = 30;
    else if (*end != '\0')
        return -1;
    if (shift && end[1] != '\0')
        return -1;
    if (v > (UINT64_MAX >> shift))
        return -1;
    *out = (uint64_t)v << shift;
    return 0;
}

/* How many connections fit under the descriptor limit, keeping some for
 * files and listings. */
static long conns_for_fd_limit(void)
{
    long n = cmd_raise_fd_limit();
    return n > 64 ? n - 32 : 16;
}

/* Waits for SIGINT or SIGTERM; each SIGHUP meanwhile reloads the
 * certificate, saying on stderr what became of it. */
static void wait_for_stop(struct fs_server *srv)
{
    sigset_t set;
    int sig = 0;
    char err[512];

    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    for (;;) {
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig != SIGHUP)
            break;
        if (fs_server_reload(srv, err, sizeof err) == 0)
            fprintf(stderr, "ferry serve: SIGHUP: certificate reloaded\n");
        else
            fprintf(stderr, "ferry serve: SIGHUP: keeping the old certificate: %s\n", err);
    }
    fprintf(stderr, "ferry serve: %s, stopping\n", sig == SIGINT ? "interrupted" : "terminated");
}

static int seconds_opt(const char *name, const char *arg, int *ms)
{
    long v;

    if (cmd_parse_long(arg, 1, 86400, &v) < 0) {
        fprintf(stderr, "ferry serve: %s takes seconds from 1 to 86400\n", name);
        return -1;
    }
    *ms = (int)(v * 1000);
    return 0;
}

int cmd_serve(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"port", required_argument, NULL, 'p'},
        {"bind", required_argument, NULL, 'b'},
        {"threads", required_argument, NULL, CMD_OPT_THREADS},
        {"quiet", no_argument, NULL, 'q'},
        {"hidden", no_argument, NULL, OPT_HIDDEN},
        {"no-mac-files", no_argument, NULL, OPT_NO_MAC_FILES},
        {"no-raw", no_argument, NULL, OPT_NO_RAW},
        {"max-conns", required_argument, NULL, CMD_OPT_MAX},
        {"idle", required_argument, NULL, OPT_IDLE},
        {"head-timeout", required_argument, NULL, OPT_HEAD_TIMEOUT},
        {"send-timeout", required_argument, NULL, OPT_SEND_TIMEOUT},
        {"send-mode", required_argument, NULL, OPT_SEND_MODE},
        {"upload", no_argument, NULL, OPT_UPLOAD},
        {"max-upload", required_argument, NULL, OPT_MAX_UPLOAD},
        {"digest", no_argument, NULL, OPT_DIGEST},
        {"digest-rate", required_argument, NULL, OPT_DIGEST_RATE},
        {"no-digest-scan", no_argument, NULL, OPT_NO_DIGEST_SCAN},
        {"dav-depth-infinity", required_argument, NULL, OPT_DAV_DEPTH_INFINITY},
        {"upload-max-age", required_argument, NULL, OPT_UPLOAD_MAX_AGE},
        {"upload-max-unfinished", required_argument, NULL, OPT_UPLOAD_MAX_UNFINISHED},
        {"upload-max-unfinished-bytes", required_argument, NULL, OPT_UPLOAD_MAX_UNFINISHED_BYTES},
        {"upload-part", required_argument, NULL, OPT_UPLOAD_PART},
        {"raw-gap", required_argument, NULL, OPT_RAW_GAP},
        {"proxy-from", required_argument, NULL, CMD_OPT_PROXY_FROM},
        {"proxy-wait", required_argument, NULL, CMD_OPT_PROXY_WAIT},
        {"auth", required_argument, NULL, OPT_AUTH},
        {"allow-plain-auth", no_argument, NULL, OPT_ALLOW_PLAIN_AUTH},
        {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
        {"tls-key", required_argument, NULL, OPT_TLS_KEY},
        {"tls-self-signed", no_argument, NULL, OPT_TLS_SELF_SIGNED},
        {"tls-only", no_argument, NULL, OPT_TLS_ONLY},
        {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    struct fs_options o;
    struct cmd_listener l;
    const char *auth_file = NULL;
    int opt;

    fs_options_default(&o);
    cmd_listener_init(&l, o.port);
    optind = 1;
    while ((opt = getopt_long(argc, argv, "p:b:qhV", longopts, NULL)) != -1) {
        int taken = cmd_listener_opt(&l, opt, optarg, "serve", "--max-conns");
        if (taken < 0)
            return EXIT_USAGE;
        if (taken > 0)
            continue;
        switch (opt) {
        case 'q':
            o.quiet = true;
            break;
        case OPT_HIDDEN:
            o.hidden = true;
            break;
        case OPT_NO_MAC_FILES:
            o.no_mac_files = true;
            break;
        case OPT_NO_RAW:
            o.raw = false;
            break;
        case OPT_IDLE:
            if (seconds_opt("--idle", optarg, &o.idle_timeout_ms) < 0)
                return EXIT_USAGE;
            break;
        case OPT_HEAD_TIMEOUT:
            if (seconds_opt("--head-timeout", optarg, &o.head_timeout_ms) < 0)
                return EXIT_USAGE;
            break;
        case OPT_SEND_TIMEOUT:
            if (seconds_opt("--send-timeout", optarg, &o.send_timeout_ms) < 0)
                return EXIT_USAGE;
            break;
        case OPT_UPLOAD:
            o.upload = true;
            break;
        case OPT_DIGEST:
            o.digest = true;
            break;
        case OPT_UPLOAD_MAX_AGE: {
            long v;
            if (cmd_parse_long(optarg, 1, 365L * 86400, &v) < 0) {
                fprintf(stderr, "ferry serve: --upload-max-age takes seconds, 1 to 31536000\n");
                return EXIT_USAGE;
            }
            o.upload_max_age_s = v;
            break;
        }
        case OPT_NO_DIGEST_SCAN:
            o.digest_scan = false;
            break;
        case OPT_DAV_DEPTH_INFINITY:
            if (strcmp(optarg, "on") != 0 && strcmp(optarg, "off") != 0) {
                fprintf(stderr, "ferry serve: --dav-depth-infinity takes on or off\n");
                return EXIT_USAGE;
            }
            o.dav_depth_infinity = strcmp(optarg, "on") == 0;
            break;
        case OPT_DIGEST_RATE: {
            long v;
            if (cmd_parse_long(optarg, 0, 1000000, &v) < 0) {
                fprintf(stderr, "ferry serve: --digest-rate takes 0 to 1000000 (MiB/s)\n");
                return EXIT_USAGE;
            }
            o.digest_rate_mib = (unsigned)v;
            break;
        }
        case OPT_UPLOAD_MAX_UNFINISHED: {
            long v;
            if (cmd_parse_long(optarg, 1, 1000000, &v) < 0) {
                fprintf(stderr, "ferry serve: --upload-max-unfinished takes 1 to 1000000\n");
                return EXIT_USAGE;
            }
            o.upload_max_unfinished = (uint64_t)v;
            break;
        }
        case OPT_UPLOAD_MAX_UNFINISHED_BYTES:
            if (parse_size(optarg, &o.upload_max_unfinished_bytes) < 0 ||
                o.upload_max_unfinished_bytes == 0) {
                fprintf(stderr, "ferry serve: --upload-max-unfinished-bytes takes a size such as "
                                "10G\n");
                return EXIT_USAGE;
            }
            break;
        case OPT_UPLOAD_PART:
            if (parse_size(optarg, &o.upload_part) < 0 || o.upload_part < (64u << 10) ||
                o.upload_part > (1u << 30)) {
                fprintf(stderr, "ferry serve: --upload-part takes a size from 64K to 1G\n");
                return EXIT_USAGE;
            }
            break;
        case OPT_AUTH:
            auth_file = optarg;
            break;
        case OPT_ALLOW_PLAIN_AUTH:
            o.allow_plain_auth = true;
            break;
        case OPT_TLS_CERT:
            o.tls_cert = optarg;
            break;
        case OPT_TLS_KEY:
            o.tls_key = optarg;
            break;
        case OPT_TLS_SELF_SIGNED:
            o.tls_self_signed = true;
            break;
        case OPT_TLS_ONLY:
            o.tls_only = true;
            break;
        case OPT_RAW_GAP: {
            long v;
            if (cmd_parse_long(optarg, 1, 10000, &v) < 0) {
                fprintf(stderr, "ferry serve: --raw-gap takes milliseconds from 1 to 10000\n");
                return EXIT_USAGE;
            }
            o.raw_gap_ms = (int)v;
            break;
        }
        case OPT_MAX_UPLOAD:
            if (parse_size(optarg, &o.max_upload) < 0) {
                fprintf(stderr, "ferry serve: --max-upload takes a size such as 100M\n");
                return EXIT_USAGE;
            }
            break;
        case OPT_LOG_FORMAT:
            if (strcmp(optarg, "combined") == 0)
                o.log_format = FS_LOG_COMBINED;
            else if (strcmp(optarg, "common") == 0)
                o.log_format = FS_LOG_COMMON;
            else if (strcmp(optarg, "json") == 0)
                o.log_format = FS_LOG_JSON;
            else {
                fprintf(stderr, "ferry serve: --log-format takes combined, common or json\n");
                return EXIT_USAGE;
            }
            break;
        case OPT_SEND_MODE:
            if (strcmp(optarg, "auto") == 0)
                o.send_mode = FS_SEND_AUTO;
            else if (strcmp(optarg, "sendfile") == 0)
                o.send_mode = FS_SEND_SENDFILE;
            else if (strcmp(optarg, "splice") == 0)
                o.send_mode = FS_SEND_SPLICE;
            else if (strcmp(optarg, "readwrite") == 0)
                o.send_mode = FS_SEND_READWRITE;
            else {
                fprintf(stderr, "ferry serve: --send-mode takes auto, sendfile, splice or readwrite\n");
                return EXIT_USAGE;
            }
            break;
        case 'h':
            serve_usage(stdout);
            return EXIT_OK;
        case 'V':
            printf("ferry %s\n", FERRY_VERSION);
            return EXIT_OK;
        default:
            serve_usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (argc - optind > 1) {
        fprintf(stderr, "ferry serve: one directory at most\n");
        return EXIT_USAGE;
    }
    if (optind < argc)
        o.root = argv[optind];
    if ((o.tls_cert == NULL) != (o.tls_key == NULL)) {
        fprintf(stderr, "ferry serve: --tls-cert and --tls-key go together\n");
        return EXIT_USAGE;
    }
    if (o.tls_self_signed && o.tls_cert != NULL) {
        fprintf(stderr, "ferry serve: --tls-self-signed or --tls-cert, not both\n");
        return EXIT_USAGE;
    }
    if (o.tls_only && !o.tls_self_signed && o.tls_cert == NULL) {
        fprintf(stderr, "ferry serve: --tls-only needs --tls-cert or --tls-self-signed\n");
        return EXIT_USAGE;
    }
    long fd_conns = conns_for_fd_limit();
    o.port = l.port;
    o.bind = l.bind;
    o.threads = l.threads;
    o.max_conns = l.max > 0 ? l.max : fd_conns;
    o.proxy_from = cmd_proxy_from(&l);
    o.proxy_wait = (int)l.proxy_wait;

    if (auth_file != NULL) {
        char msg[512];
        int arc = fs_auth_load(auth_file, &o.auth, msg, sizeof msg);
        if (arc < 0) {
            fprintf(stderr, "ferry serve: %s\n", msg);
            return arc == -EINVAL ? EXIT_USAGE : EXIT_FAIL;
        }
    }

    /* Threads inherit the mask, so only wait_for_stop sees the signals. */
    cmd_signals_block();
    sigset_t hup;
    sigemptyset(&hup);
    sigaddset(&hup, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &hup, NULL);

    char real[PATH_MAX], url[512];
    struct banner b = {.self_signed = o.tls_self_signed};
    const char *what = "";
    struct fs_server *srv;
    int rc = fs_server_start(&o, &srv, url, sizeof url, &what);
    if (rc < 0) {
        if (!cmd_listen_failed("serve", o.bind, o.port, what, rc))
            fprintf(stderr, "ferry serve: %s: %s: %s\n", what, o.root, fe_strerror(rc));
        fs_auth_free(o.auth);
        return EXIT_FAIL;
    }
    b.dir = realpath(o.root, real) ? real : o.root;
    banner_urls(&b, o.bind, url);
    if (!fs_server_fingerprint(srv, b.fp, sizeof b.fp))
        b.fp[0] = '\0';
    banner_print(&b, o.log_format == FS_LOG_JSON);
    fflush(stdout);

    wait_for_stop(srv);
    fs_server_stop(srv);
    fs_server_wait(srv);
    fs_auth_free(o.auth);
    return EXIT_OK;
}
