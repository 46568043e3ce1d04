/* ferry get and ferry put: options and exit codes around get/fetch. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "get/fetch.h"
#include "cmd/cmd.h"
#include "net/tls.h"
#include "proto/digest.h"

static const char exit_codes[] =
    "Exit status: 0 done; 2 bad usage or URL; 3 network (resolve, connect,\n"
    "reset, timeout); 4 TLS (handshake, certificate); 5 HTTP status (non-2xx,\n"
    "too many redirects, a loop); 6 local file (exists, cannot write, disk\n"
    "full); 7 raw: no such file (empty reply); 8 malformed or short response;\n"
    "9 the saved file does not match its digest (the server's Repr-Digest or\n"
    "--sha256/--digest; NAME.part is kept).\n";

static void get_usage(FILE *f)
{
    fprintf(f,
            "usage: ferry get [options] URL...\n"
            "\n"
            "Downloads each URL (http://, https://, raw://HOST:PORT/NAME) to a file.\n"
            "Data goes to NAME.part, renamed to NAME only when complete and verified.\n"
            "\n"
            "  -o, --output FILE      save as FILE ('-' for stdout)\n"
            "  -O, --dir DIR          save into DIR\n"
            "  -J, --remote-name      take the name from Content-Disposition\n"
            "  -f, --force            overwrite an existing file\n"
            "  -c, --continue         resume from NAME.part (Range and If-Range)\n"
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
            "      --no-pipeline      one request at a time (by default up to 16 URLs\n"
            "                         for one server are requested ahead, HTTP/1.1 pipelining)\n"
            "  -h, --help             this text\n"
            "\n%s",
            exit_codes);
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
            "  -c, --continue         send the rest of the upload at UPLOAD_URL\n"
            "                         (.../NAME?upload=...), from where the server stopped\n"
            "      --retry N          retry transient failures N times, resuming\n"
            "  -q, --quiet -v, --verbose -i, --include -k, --insecure --cacert FILE --pin SHA256\n"
            "  --timeout SECONDS      as for ferry get\n"
            "  -h, --help             this text\n"
            "\n%s",
            exit_codes);
}

enum { OPT_CACERT = 256, OPT_MAX_REDIRS, OPT_TIMEOUT, OPT_RETRY, OPT_CHARSET, OPT_SYNC, OPT_NO_PIPELINE, OPT_PIN,
       OPT_SHA256, OPT_DIGEST };

static int get_or_put(int argc, char **argv, bool put)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"dir", required_argument, NULL, 'O'},
        {"remote-name", no_argument, NULL, 'J'},
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
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct fetch_options o;
    long v;
    int opt;

    fetch_options_default(&o);
    optind = 1;
    while ((opt = getopt_long(argc, argv, "o:O:JfciqvkhV", longopts, NULL)) != -1) {
        switch (opt) {
        case 'o': o.output = optarg; break;
        case 'O': o.outdir = optarg; break;
        case 'J': o.disposition = true; break;
        case 'f': o.force = true; break;
        case 'c': o.resume = true; break;
        case 'i': o.show_head = true; break;
        case 'q': o.quiet = true; break;
        case 'v': o.verbose = true; break;
        case 'k': o.insecure = true; break;
        case OPT_CACERT: o.cacert = optarg; break;
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
            put ? put_usage(stdout) : get_usage(stdout);
            return EXIT_OK;
        default:
            put ? put_usage(stderr) : get_usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (put) {
        if (argc - optind != 2) {
            put_usage(stderr);
            return EXIT_USAGE;
        }
        o.upload = argv[optind];
        o.urls = (const char *const *)&argv[optind + 1];
        o.nurls = 1;
    } else {
        if (optind == argc) {
            get_usage(stderr);
            return EXIT_USAGE;
        }
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
        if (o.has_sha256 && o.output != NULL && strcmp(o.output, "-") == 0) {
            fprintf(stderr, "ferry get: --sha256 checks a saved file, not stdout\n");
            return EXIT_USAGE;
        }
    }
    o.progress = !o.quiet && isatty(2);
    signal(SIGPIPE, SIG_IGN);
    return (int)fetch_run(&o);
}

int cmd_get(int argc, char **argv)
{
    return get_or_put(argc, argv, false);
}

int cmd_put(int argc, char **argv)
{
    return get_or_put(argc, argv, true);
}
