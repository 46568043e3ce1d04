/* ferry get and ferry put: options and exit codes around get/fetch, and
 * what logging in needs from the user's side: the password prompt on the
 * terminal and ~/.netrc. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "get/fetch.h"
#include "get/tree.h"
#include "cmd/cmd.h"
#include "net/tls.h"
#include "proto/auth.h"
#include "proto/digest.h"

static const char put_exit_codes[] =
    "Exit status: 0 done; 2 bad usage or URL, or a refusal to send a password\n"
    "(over http:// to a host that is not this machine, from a ~/.netrc others\n"
    "can read); 3 network (resolve, connect, reset, timeout); 4 TLS (handshake,\n"
    "certificate); 5 HTTP status (the server refused the upload, too many\n"
    "redirects); 6 local file (cannot read FILE, FILE changed while it was sent);\n"
    "8 malformed or short response.\n";

static const char exit_codes[] =
    "Exit status: 0 done; 2 bad usage or URL, or a refusal to send a password\n"
    "(over http:// to a host that is not this machine, from a ~/.netrc others\n"
    "can read); 3 network (resolve, connect, reset, timeout); 4 TLS (handshake,\n"
    "certificate); 5 HTTP status (non-2xx, too many redirects, a loop); 6 local\n"
    "file (exists, cannot write, disk full); 7 raw: no such file (empty reply);\n"
    "8 malformed or short response; 9 the saved file does not match its digest\n"
    "(the server's Repr-Digest or --sha256/--digest; NAME.part is kept);\n"
    "130 interrupted (Ctrl-C; 143 SIGTERM): what came is kept, and one line\n"
    "says the command that resumes it.\n";

static const char login_help[] =
    "  -u, --user USER[:PASS] log in as USER (asks on the terminal, without echo,\n"
    "                         when PASS is left out); also http://USER:PASS@host/\n"
    "      --netrc            take the login for the host from ~/.netrc (which\n"
    "                         must be readable by its owner only)\n"
    "      --allow-plain-auth send the password over http:// to a host that is not\n"
    "                         this machine (by default only https:// or loopback)\n"
    "                         The password goes only after a 401 that asks for\n"
    "                         Basic, and only to the URL's own scheme, host and\n"
    "                         port: never to another one a redirect names.\n";

/* ferry get --help: what fits a terminal, the options people use first. */
static void get_usage_short(FILE *f)
{
    fprintf(f, "usage: ferry get [options] URL...\n"
               "\n"
               "Downloads each URL (http://, https://, raw://HOST:PORT/NAME) to a file:\n"
               "NAME.part, renamed to NAME once complete and verified.\n"
               "\n"
               "  -o, --output FILE      save as FILE ('-' for stdout)\n"
               "  -O, --dir DIR          save into DIR (made if missing)\n"
               "  -c, --continue         resume a download that was cut (NAME.part)\n"
               "  -u, --user USER[:PASS] log in (PASS asked on the terminal if left out)\n"
               "  -k, --insecure         do not verify the server's certificate\n"
               "\n"
               "More: -r -J -f -i -q -v --pin --cacert --retry --timeout --max-redirs\n"
               "--sha256 --digest --sync --netrc --allow-plain-auth --charset\n"
               "--no-pipeline; `ferry get --help all` says what each does.\n"
               "\n"
               "Exit status: 0 done, 2 usage, 3 network, 4 TLS, 5 HTTP status, 6 local\n"
               "file, 7 raw: no such file, 8 bad response, 9 digest mismatch,\n"
               "130 interrupted (the command that resumes it is printed).\n");
}

static void get_usage(FILE *f)
{
    fprintf(f,
            "usage: ferry get [options] URL...\n"
            "\n"
            "Downloads each URL (http://, https://, raw://HOST:PORT/NAME) to a file.\n"
            "Data goes to NAME.part, renamed to NAME only when complete and verified.\n"
            "A URL without a scheme is http://; spaces and UTF-8 in it are percent-encoded.\n"
            "\n"
            "  -o, --output FILE      save as FILE ('-' for stdout; binary data is not\n"
            "                         written to a terminal without -f)\n"
            "  -O, --dir DIR          save into DIR (made if missing; the name comes from\n"
            "                         the URL without any option, unlike curl's -O)\n"
            "  -J, --remote-name      take the name from Content-Disposition (the default\n"
            "                         for a folder's tar, URL/?tar)\n"
            "  -r, --recursive        URL is a folder: fetch its tree into a folder of its\n"
            "                         name (ferry's JSON listing or any HTML listing;\n"
            "                         links beneath URL only; at most 32 levels and\n"
            "                         100000 entries)\n"
            "  -f, --force            overwrite an existing file; write binary data to a\n"
            "                         terminal\n"
            "  -c, --continue         resume from NAME.part (Range and If-Range); NAME\n"
            "                         complete: say so; NAME partial (curl, wget):\n"
            "                         continue it when the server's digest proves the\n"
            "                         whole, else download it again\n"
            "  -i, --include          print the response head to stderr\n"
            "  -q, --quiet            only errors\n"
            "  -v, --verbose          connection events, TLS, bytes, TCP round trips\n"
            "  -k, --insecure         do not verify the server's certificate\n"
            "      --cacert FILE      trust the CA in FILE\n"
            "      --pin SHA256       accept only the certificate with this SHA-256\n"
            "                         fingerprint (hex, colons allowed), CA-signed or not\n"
            "      --max-redirs N     follow at most N redirects (default 10)\n"
            "      --timeout SECONDS  for connecting and for stalls (default 30)\n"
            "      --retry N          retry transient failures N times, resuming\n"
            "      --charset gbk      raw://: send the name in GBK\n"
            "      --sha256 HEX       the file must have this SHA-256 (checked before the\n"
            "                         rename, with the server's Repr-Digest if it sends one)\n"
            "      --digest FIELD     the same as an RFC 9530 field: sha-256=:BASE64:\n"
            "      --sync             fsync the file before renaming it into place\n"
            "%s"
            "      --no-pipeline      one request at a time (by default up to 16 URLs\n"
            "                         for one server are requested ahead, HTTP/1.1 pipelining)\n"
            "  -h, --help [all]       a short text; all: this one\n"
            "\n%s",
            login_help, exit_codes);
}

static void put_usage(FILE *f)
{
    fprintf(f,
            "usage: ferry put [options] FILE URL\n"
            "       ferry put -c FILE UPLOAD_URL\n"
            "\n"
            "Uploads FILE with HTTP PUT (streamed, with Content-Length, Repr-Digest and\n"
            "Expect: 100-continue) and reports the server's answer. A server that speaks\n"
            "resumable uploads (draft-ietf-httpbis-resumable-upload, as ferry serve\n"
            "--upload does) names the upload first; if the transfer is cut, ferry put\n"
            "prints the command that resumes it.\n"
            "\n"
            "A URL that ends in '/' gets FILE's name (http://host/dir/ puts dir/FILE, as\n"
            "curl -T does); FILE '-' sends standard input, chunked, as it comes (not\n"
            "resumable). A URL without a scheme is http://.\n"
            "\n"
            "  -c, --continue         send the rest of the upload at UPLOAD_URL\n"
            "                         (.../NAME?upload=...), from where the server stopped\n"
            "      --retry N          retry transient failures N times, resuming\n"
            "  -q, --quiet -v, --verbose -i, --include -k, --insecure --cacert FILE --pin SHA256\n"
            "  --timeout SECONDS      as for ferry get\n"
            "%s"
            "  -h, --help             this text\n"
            "\n%s",
            login_help, put_exit_codes);
}

enum { OPT_CACERT = 256, OPT_MAX_REDIRS, OPT_TIMEOUT, OPT_RETRY, OPT_CHARSET, OPT_SYNC, OPT_NO_PIPELINE, OPT_PIN,
       OPT_SHA256, OPT_DIGEST, OPT_NETRC, OPT_ALLOW_PLAIN_AUTH };

#define PROMPT_WAIT_S 300 /* how long the password prompt waits for a line */
#define NETRC_MAX (64 * 1024)

/* The terminal whose echo ask_password turned off and its settings before,
 * for the signal handler that puts them back. */
static volatile sig_atomic_t tty_fd = -1;
static struct termios tty_saved;

static void tty_restore_and_die(int sig)
{
    if (tty_fd >= 0)
        tcsetattr(tty_fd, TCSANOW, &tty_saved);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Asks for user's password on /dev/tty with echo off and reads one line
 * into out (outsz bytes, NUL-terminated, without the newline). The
 * terminal's settings are put back on every path: the end of the line,
 * EOF, a timeout, an error, or SIGINT, SIGTERM, SIGHUP or SIGQUIT (which
 * then kill the process as they would have). Returns 0, -ENXIO when there
 * is no terminal, -ETIMEDOUT, or -errno. */
static int ask_password(const char *user, char *out, size_t outsz)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
    struct sigaction sa = {.sa_handler = tty_restore_and_die}, old[4];
    struct termios quiet;
    size_t n = 0;
    int rc = 0;

    int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return -ENXIO;
    if (tcgetattr(fd, &tty_saved) < 0) {
        close(fd);
        return -ENXIO;
    }
    sigemptyset(&sa.sa_mask);
    tty_fd = fd;
    for (size_t i = 0; i < 4; i++)
        sigaction(sigs[i], &sa, &old[i]);
    quiet = tty_saved;
    quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK);
    quiet.c_lflag |= ECHONL; /* the newline still shows: what follows starts a line */
    if (tcsetattr(fd, TCSAFLUSH, &quiet) < 0) {
        rc = -errno;
        goto restore;
    }
    dprintf(fd, "Password for %s: ", user);
    time_t deadline = time(NULL) + PROMPT_WAIT_S;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        time_t left = deadline - time(NULL);
        if (left <= 0) {
            rc = -ETIMEDOUT;
            break;
        }
        int pr = poll(&p, 1, (int)left * 1000);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr < 0) {
            rc = -errno;
            break;
        }
        if (pr == 0)
            continue;
        char c;
        ssize_t k = read(fd, &c, 1);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            rc = -errno;
            break;
        }
        if (k == 0 || c == '\n' || c == '\r')
            break;
        if (n + 1 < outsz)
            out[n++] = c;
    }
    out[n] = '\0';
restore:
    tcsetattr(fd, TCSAFLUSH, &tty_saved);
    tty_fd = -1;
    for (size_t i = 0; i < 4; i++)
        sigaction(sigs[i], &old[i], NULL);
    close(fd);
    return rc;
}

/* Reads ~/.netrc into *text (malloc'd, NUL-terminated; NULL when there is
 * none). Refuses, saying why, a file that is not the user's own or that
 * others may read or write, as ftp does. Returns 0 or -1. */
static int read_netrc(char **text, size_t *len)
{
    const char *home = getenv("HOME");
    char path[4096];
    struct stat st;

    *text = NULL;
    *len = 0;
    if (home == NULL || home[0] == '\0') {
        struct passwd *pw = getpwuid(geteuid());
        home = pw != NULL ? pw->pw_dir : "/";
    }
    snprintf(path, sizeof path, "%s/.netrc", home);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0 && errno == ENOENT)
        return 0; /* --netrc without a file: nothing to log in with, as curl */
    if (fd < 0 || fstat(fd, &st) < 0) {
        fprintf(stderr, "ferry: cannot read %s: %s\n", path, strerror(errno));
        goto fail_close;
    }
    if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
        fprintf(stderr, "ferry: %s holds passwords but %s (mode %04o): refusing it; chmod 600 %s\n",
                path,
                !S_ISREG(st.st_mode)     ? "is not a regular file"
                : st.st_uid != geteuid() ? "belongs to another user"
                                         : "others can read or change it",
                (unsigned)(st.st_mode & 07777), path);
        goto fail_close;
    }
    if (st.st_size > NETRC_MAX) {
        fprintf(stderr, "ferry: %s is larger than %d bytes\n", path, NETRC_MAX);
        goto fail_close;
    }
    *text = malloc((size_t)st.st_size + 1);
    ssize_t n = *text != NULL ? read(fd, *text, (size_t)st.st_size) : -1;
    if (n < 0) {
        fprintf(stderr, "ferry: cannot read %s\n", path);
        free(*text);
        *text = NULL;
        goto fail_close;
    }
    (*text)[n] = '\0';
    *len = (size_t)n;
    close(fd);
    return 0;
fail_close:
    if (fd >= 0)
        close(fd);
    return -1;
}

/* Ctrl-C (SIGINT) and SIGTERM during a transfer: what is on disk stays
 * (NAME.part and its validator; the server keeps a resumable upload), and
 * one line says the command that goes on. fetch tells the line as it
 * changes (note_resumable); the handler only writes it and exits, so it
 * uses nothing but write(2) and _exit(2). Two slots: the handler reads the
 * one `resume_slot` names, which is switched only once the other is whole
 * (and never while the handler runs: the signals are blocked). */
static char resume_lines[2][9600];
static volatile sig_atomic_t resume_slot = -1; /* -1: nothing to resume */
static volatile sig_atomic_t resume_newline;   /* a progress bar may be on the line */

static void note_resumable(void *arg, const char *line)
{
    sigset_t block, old;

    (void)arg;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigprocmask(SIG_BLOCK, &block, &old);
    if (line == NULL) {
        resume_slot = -1;
    } else {
        int next = resume_slot == 0 ? 1 : 0;
        snprintf(resume_lines[next], sizeof resume_lines[next], "%s", line);
        resume_slot = next;
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
}

static void write_str(const char *s)
{
    size_t n = strlen(s);

    while (n > 0) {
        ssize_t k = write(2, s, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return;
        s += k;
        n -= (size_t)k;
    }
}

static void interrupted(int sig)
{
    int slot = resume_slot;

    if (resume_newline)
        write_str("\n");
    write_str(sig == SIGINT ? "ferry: interrupted" : "ferry: terminated");
    if (slot >= 0) {
        write_str("; ");
        write_str(resume_lines[slot]);
    }
    write_str("\n");
    _exit(128 + sig);
}

/* Creates dir and its missing parents, as mkdir -p. 0 or -errno (ENOTDIR
 * when a part of it is not a folder). */
static int make_dirs(const char *dir)
{
    char path[4096];
    struct stat st;
    size_t len = strlen(dir);

    if (len == 0 || len >= sizeof path)
        return -ENAMETOOLONG;
    memcpy(path, dir, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        char c = path[i];
        path[i] = '\0';
        if (mkdir(path, 0777) < 0 && errno != EEXIST)
            return -errno;
        path[i] = c;
    }
    if (stat(dir, &st) < 0)
        return -errno;
    return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

/* One line for a usage error, and where the options are. */
static int usage_error(bool put, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int usage_error(bool put, const char *fmt, ...)
{
    const char *cmd = put ? "put" : "get";
    va_list ap;

    va_start(ap, fmt);
    fprintf(stderr, "ferry %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "; try `ferry %s --help`\n", cmd);
    va_end(ap);
    return EXIT_USAGE;
}

static int get_or_put(int argc, char **argv, bool put)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"dir", required_argument, NULL, 'O'},
        {"remote-name", no_argument, NULL, 'J'},
        {"recursive", no_argument, NULL, 'r'},
        {"force", no_argument, NULL, 'f'},
        {"continue", no_argument, NULL, 'c'},
        {"include", no_argument, NULL, 'i'},
        {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},
        {"insecure", no_argument, NULL, 'k'},
        {"cacert", required_argument, NULL, OPT_CACERT},
        {"pin", required_argument, NULL, OPT_PIN},
        {"max-redirs", required_argument, NULL, OPT_MAX_REDIRS},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"retry", required_argument, NULL, OPT_RETRY},
        {"charset", required_argument, NULL, OPT_CHARSET},
        {"sync", no_argument, NULL, OPT_SYNC},
        {"no-pipeline", no_argument, NULL, OPT_NO_PIPELINE},
        {"sha256", required_argument, NULL, OPT_SHA256},
        {"digest", required_argument, NULL, OPT_DIGEST},
        {"user", required_argument, NULL, 'u'},
        {"netrc", no_argument, NULL, OPT_NETRC},
        {"allow-plain-auth", no_argument, NULL, OPT_ALLOW_PLAIN_AUTH},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct fetch_options o;
    static char login[AUTH_CRED_MAX + 1]; /* USER:PASS, the password asked for */
    char *netrc = NULL;
    bool use_netrc = false;
    long v;
    int opt;

    fetch_options_default(&o);
    optind = 1;
    opterr = 0; /* the messages are ours: one line each */
    while ((opt = getopt_long(argc, argv, ":o:O:Jrfciqvku:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'o': o.output = optarg; break;
        case 'O': o.outdir = optarg; break;
        case 'J': o.disposition = true; break;
        case 'r': o.recursive = true; break;
        case 'f': o.force = true; break;
        case 'c': o.resume = true; break;
        case 'i': o.show_head = true; break;
        case 'q': o.quiet = true; break;
        case 'v': o.verbose = true; break;
        case 'k': o.insecure = true; break;
        case OPT_CACERT: o.cacert = optarg; break;
        case 'u': o.user = optarg; break;
        case OPT_NETRC: use_netrc = true; break;
        case OPT_ALLOW_PLAIN_AUTH: o.allow_plain_auth = true; break;
        case OPT_SYNC: o.sync = true; break;
        case OPT_PIN:
            if (tls_pin_parse(optarg, o.pin) < 0) {
                fprintf(stderr, "ferry: --pin takes a SHA-256 fingerprint: 64 hex digits\n");
                return EXIT_USAGE;
            }
            o.has_pin = true;
            break;
        case OPT_NO_PIPELINE: o.no_pipeline = true; break;
        case OPT_SHA256:
            if (digest_hex_parse(optarg, strlen(optarg), o.sha256) < 0) {
                fprintf(stderr, "ferry: --sha256 takes 64 hex digits\n");
                return EXIT_USAGE;
            }
            o.has_sha256 = true;
            break;
        case OPT_DIGEST:
            if (digest_field_sha256(optarg, strlen(optarg), o.sha256) != 1) {
                fprintf(stderr, "ferry: --digest takes a sha-256 field: sha-256=:BASE64:\n");
                return EXIT_USAGE;
            }
            o.has_sha256 = true;
            break;
        case OPT_MAX_REDIRS:
            if (cmd_parse_long(optarg, 0, 100, &v) < 0) {
                fprintf(stderr, "ferry: --max-redirs takes 0 to 100\n");
                return EXIT_USAGE;
            }
            o.max_redirs = (int)v;
            break;
        case OPT_TIMEOUT:
            if (cmd_parse_long(optarg, 1, 86400, &v) < 0) {
                fprintf(stderr, "ferry: --timeout takes seconds from 1 to 86400\n");
                return EXIT_USAGE;
            }
            o.timeout_ms = (int)(v * 1000);
            break;
        case OPT_RETRY:
            if (cmd_parse_long(optarg, 0, 100, &v) < 0) {
                fprintf(stderr, "ferry: --retry takes 0 to 100\n");
                return EXIT_USAGE;
            }
            o.retries = (int)v;
            break;
        case OPT_CHARSET:
            if (strcasecmp(optarg, "gbk") == 0) {
                o.raw_charset = "GBK";
            } else if (strcasecmp(optarg, "utf-8") != 0 && strcasecmp(optarg, "utf8") != 0) {
                fprintf(stderr, "ferry: --charset takes utf-8 or gbk\n");
                return EXIT_USAGE;
            }
            break;
        case 'h':
            if (put)
                put_usage(stdout);
            else if (optind < argc && strcmp(argv[optind], "all") == 0)
                get_usage(stdout);
            else
                get_usage_short(stdout);
            return EXIT_OK;
        case ':':
            return usage_error(put, "%s needs a value", argv[optind - 1]);
        default:
            if (optopt != 0) {
                char o2[3] = {'-', (char)optopt, '\0'};
                return usage_error(put, "unknown option '%s'", o2);
            }
            return usage_error(put, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (!put && o.outdir != NULL && strstr(o.outdir, "://") != NULL) {
        fprintf(stderr,
                "ferry get: -O takes a folder to save into; to save under the URL's "
                "name (curl's -O) give just the URL: ferry get %s\n",
                o.outdir);
        return EXIT_USAGE;
    }
    if (put && o.recursive)
        return usage_error(put, "%s", "-r is for ferry get (a folder's tree)");
    if (put) {
        if (argc - optind != 2)
            return usage_error(put, "%s", "usage: ferry put [options] FILE URL");
        o.upload = argv[optind];
        o.urls = (const char *const *)&argv[optind + 1];
        o.nurls = 1;
    } else {
        if (optind == argc)
            return usage_error(put, "%s", "no URL given: ferry get [options] URL...");
        o.urls = (const char *const *)&argv[optind];
        o.nurls = argc - optind;
        if (o.output != NULL && o.nurls > 1) {
            fprintf(stderr, "ferry get: -o takes one URL; use -O DIR for several\n");
            return EXIT_USAGE;
        }
        if (o.has_sha256 && o.nurls > 1) {
            fprintf(stderr, "ferry get: --sha256 and --digest describe one file: give one URL\n");
            return EXIT_USAGE;
        }
        if (o.recursive && (o.output != NULL || o.has_sha256 || o.disposition)) {
            fprintf(stderr, "ferry get: -r saves a tree into -O DIR; -o, -J, --sha256 and "
                            "--digest are for one file\n");
            return EXIT_USAGE;
        }
        if (o.has_sha256 && o.output != NULL && strcmp(o.output, "-") == 0) {
            fprintf(stderr, "ferry get: --sha256 checks a saved file, not stdout\n");
            return EXIT_USAGE;
        }
    }
    if (o.user != NULL && strchr(o.user, ':') == NULL) {
        char pass[AUTH_CRED_MAX];
        int rc = ask_password(o.user, pass, sizeof pass);
        if (rc < 0) {
            fprintf(stderr, "ferry: -u %s: %s\n", o.user,
                    rc == -ENXIO ? "no terminal to ask the password on; give -u USER:PASS or use "
                                   "--netrc"
                                 : rc == -ETIMEDOUT ? "no password given in time"
                                                    : strerror(-rc));
            return EXIT_USAGE;
        }
        if ((size_t)snprintf(login, sizeof login, "%s:%s", o.user, pass) >= sizeof login) {
            fprintf(stderr, "ferry: the user name and password are too long\n");
            return EXIT_USAGE;
        }
        explicit_bzero(pass, sizeof pass);
        o.user = login;
    }
    if (use_netrc && read_netrc(&netrc, &o.netrc_len) < 0)
        return EXIT_USAGE;
    if (o.outdir != NULL && !put) {
        int drc = make_dirs(o.outdir);
        if (drc < 0) {
            fprintf(stderr, "ferry get: cannot make the folder %s: %s\n", o.outdir, strerror(-drc));
            free(netrc);
            return FETCH_LOCAL;
        }
    }
    o.netrc = netrc;
    o.progress = !o.quiet && isatty(2);
    o.resumable = note_resumable;
    resume_newline = o.progress;
    struct sigaction sa = {.sa_handler = interrupted};
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGINT);
    sigaddset(&sa.sa_mask, SIGTERM);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    int rc = (int)(o.recursive ? tree_run(&o) : fetch_run(&o));
    explicit_bzero(login, sizeof login);
    if (netrc != NULL)
        explicit_bzero(netrc, o.netrc_len);
    free(netrc);
    return rc;
}

int cmd_get(int argc, char **argv)
{
    return get_or_put(argc, argv, false);
}

int cmd_put(int argc, char **argv)
{
    return get_or_put(argc, argv, true);
}
