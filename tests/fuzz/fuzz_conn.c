/* libFuzzer target: one whole `ferry serve` connection, bytes in and
 * responses out, over a socketpair driven by the real event loop.
 *
 * The first input byte picks how many bytes the peer writes between two
 * turns of the loop (so heads, bodies and raw names arrive cut at every
 * place); the rest is what the peer sends, then it shuts down its side and
 * reads everything. Uploads are on (resumable ones too), into a scratch
 * root with a few files, and digests are sent when asked.
 *
 * Accounts are on too (--auth): "*" may write almost everywhere, alice
 * (bcrypt) and bob (sha512crypt) have more, and the tree holds symbolic
 * links that lead where the spelling's rights do not reach (lnk -> secret,
 * sub/up -> .., sub/tos -> ../secret/s.txt), so every request passes the
 * rights gate. Seeds carry Basic credentials; the good ones are verified
 * once at start-up, so later inputs find them in the cache and stay fast.
 * A check that goes to the crypt threads (a mutated password) is waited
 * for in time, not in loop turns, and each input comes from its own
 * loopback address, so failures never add up to the 429 block.
 *
 * Besides what ASan and UBSan catch, two promises are checked: after the
 * peer's FIN the connection always ends within a bounded number of loop
 * turns, and every response that starts with "HTTP/1.1 " has a head that
 * ferry's own response parser accepts. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "serve/fs.h"
#include "serve/fs_auth.h"
#include "serve/fs_digest.h"
#include "serve/fs_rup.h"
#include "core/clock.h"
#include "net/sock.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TURNS_MAX 2000
#define AUTH_WAIT_MS 20000 /* for one crypt check (a dummy yescrypt: tens of ms) */

/* Accounts: the rights of "*", alice ("alice-pw", bcrypt cost 4) and bob
 * ("bob-pw", sha512crypt with 1000 rounds: both cheap to check). */
static const char auth_text[] =
    "*::rw:/,no:/secret,no:/sub/private\n"
    "alice:$2b$04$g1TmMHN53zMOcy/XPvshJuXfpPviKuJ0X8/0y.ezR6KAyVCUN6UVS:rw:/secret/open\n"
    "bob:$6$rounds=1000$fuzzsaltfuzzsalt$GNcEdzdnZMfPUxXiXt/KFgX/"
    "PR4R4GNdBE1mkqw5.ox6LxPYgrshZWinwQmQ"
    "NzRyDJQwMMJdeOaVW.37YStqG/:ro:/secret\n";

/* Requests whose credentials setup verifies, so they are cached. */
static const char *const warm[] = {
    "GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Basic YWxpY2U6YWxpY2UtcHc=\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Basic Ym9iOmJvYi1wdw==\r\n\r\n",
};

static struct fs_server server;
static struct srv srvx;
static struct srv_worker sw;
static struct worker wk;

struct run {
    int peer;
    const uint8_t *in;
    size_t len, at, piece;
    bool fin;
    int turns;
    int64_t auth_until; /* while the connection waits for a crypt check */
    char out[1 << 20];
    size_t outlen;
};

static struct run run;

static void put_file(int dirfd, const char *name, const char *text)
{
    int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        if (write(fd, text, strlen(text)) < 0)
            abort();
        close(fd);
    }
}

static void tick(struct ev_loop *loop)
{
    struct run *r = &run;

    loop->tick_ms = 0; /* never sleep: the peer is right here */
    for (;;) {
        size_t room = sizeof r->out - r->outlen;
        ssize_t n = recv(r->peer, room ? r->out + r->outlen : (char[1]){0}, room ? room : 1, 0);
        if (n <= 0)
            break;
        if (room)
            r->outlen += (size_t)n;
    }
    if (r->at < r->len) {
        size_t n = r->len - r->at < r->piece ? r->len - r->at : r->piece;
        ssize_t w = send(r->peer, r->in + r->at, n, MSG_NOSIGNAL);
        if (w > 0)
            r->at += (size_t)w;
        else if (w < 0 && errno != EAGAIN)
            r->at = r->len;
    } else if (!r->fin) {
        shutdown(r->peer, SHUT_WR);
        r->fin = true;
    }
    fs_rup_tick(server.rup);
    /* A crypt check takes real time: wait for it in time, sleeping a
     * little per turn, rather than in turns. */
    struct srv_conn *sc = srv_conns(&sw);
    if (sc != NULL && container_of(sc, struct conn, sc)->state == CS_AUTH) {
        int64_t now = clock_ms();
        if (r->auth_until == 0)
            r->auth_until = now + AUTH_WAIT_MS;
        loop->tick_ms = 1;
        if (now > r->auth_until)
            loop->stop = true;
        return;
    }
    r->auth_until = 0;
    /* Deadlines would need real time to pass: age the connection instead. */
    if (++r->turns > TURNS_MAX || sc == NULL)
        loop->stop = true;
}

static void setup(void)
{
    char dir[] = "/tmp/ferry-fuzz-conn-XXXXXX";

    if (mkdtemp(dir) == NULL)
        abort();
    fs_options_default(&server.opt);
    server.opt.upload = true;
    server.opt.max_upload = 64 << 10;
    server.opt.quiet = true;
    server.rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (server.rootfd < 0 || mkdirat(server.rootfd, "sub", 0755) < 0)
        abort();
    put_file(server.rootfd, "a.txt", "the file a\n");
    put_file(server.rootfd, "index.html", "<p>index</p>\n");
    put_file(server.rootfd, "sub/b.bin", "0123456789abcdef0123456789abcdef");
    /* For the rights gate: what "*" may not read, and links that lead to it. */
    if (mkdirat(server.rootfd, "secret", 0755) < 0 ||
        mkdirat(server.rootfd, "secret/open", 0755) < 0 ||
        mkdirat(server.rootfd, "sub/private", 0755) < 0 ||
        symlinkat("secret", server.rootfd, "lnk") < 0 ||
        symlinkat("..", server.rootfd, "sub/up") < 0 ||
        symlinkat("../secret/s.txt", server.rootfd, "sub/tos") < 0)
        abort();
    put_file(server.rootfd, "secret/s.txt", "the secret\n");
    put_file(server.rootfd, "secret/index.html", "<p>secret index</p>\n");
    put_file(server.rootfd, "sub/private/p.txt", "private\n");
    /* The accounts file lives beside the root, not in it. */
    char auth_path[sizeof dir + 8];
    snprintf(auth_path, sizeof auth_path, "%s.auth", dir);
    int afd = open(auth_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (afd < 0 || write(afd, auth_text, sizeof auth_text - 1) != (ssize_t)(sizeof auth_text - 1))
        abort();
    close(afd);
    char msg[256];
    if (fs_auth_load(auth_path, &server.opt.auth, msg, sizeof msg) < 0) {
        fprintf(stderr, "%s\n", msg);
        abort();
    }
    if (mime_table_init(&server.mime, NULL, 0) < 0)
        abort();
    /* Resumable uploads (their states expire at once and the tick sweeps
     * them, so the scratch root does not fill up; no bound on one party's
     * count, which is every input's) and digests (no pass over the tree:
     * the thread hashes only what requests queue, and nothing waits). */
    server.opt.upload_max_age_s = 1;
    server.opt.upload_max_unfinished = UINT64_MAX;
    if (fs_rup_open(server.rootfd, &server.opt, &server.rup) < 0 ||
        fs_digest_start(&(struct fs_digest_config){.rootfd = -1}, &server.digest) < 0)
        abort();
    sw.srv = &srvx;
    sw.app = &wk;
    wk.sw = &sw;
    wk.loop = &sw.loop;
    wk.srv = &server;
    buf_init(&wk.log, 1u << 20);
    httpdate_format(0, wk.date);
    if (ev_loop_init(&sw.loop, 0, tick, &wk) < 0 || fs_auth_start(server.opt.auth) < 0 ||
        fs_auth_port_open(server.opt.auth, &wk) < 0)
        abort();
}

/* Checks that every "HTTP/1.1 " response head in out parses. Raw replies
 * and bodies are skipped by their framing as far as it can be followed. */
static void check_responses(const char *out, size_t len)
{
    size_t at = 0;

    while (at < len && len - at >= 9 && memcmp(out + at, "HTTP/1.1 ", 9) == 0) {
        struct http_response res;
        struct http_resp_info info;
        ssize_t h = http_parse_response(out + at, len - at, &res);
        if (h == HTTP_PARSE_INCOMPLETE)
            return; /* cut off by our own output cap */
        if (h < 0 || http_analyse_response(&res, &info) < 0) {
            fprintf(stderr, "bad response head at %zu: %.*s\n", at, (int)(len - at > 200 ? 200 : len - at),
                    out + at);
            abort();
        }
        at += (size_t)h;
        if (res.status >= 200 && res.status != 204 && res.status != 304) {
            if (info.content_length < 0)
                return;
            /* A HEAD response announces a length it does not send: stop
             * following rather than guess which request it answered. */
            if ((uint64_t)info.content_length > len - at)
                return;
            at += (size_t)info.content_length;
        }
    }
}

/* One connection: in[0..len) sent piece bytes at a time, then the FIN. */
static void one(const uint8_t *in, size_t len, size_t piece)
{
    static uint32_t peer;
    int sv[2];

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
        abort();
    memset(&run, 0, offsetof(struct run, out));
    run.peer = sv[1];
    run.in = in;
    run.len = len;
    run.piece = piece;
    struct sockaddr_storage ss;
    struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
    memset(&ss, 0, sizeof ss);
    in4->sin_family = AF_INET;
    /* 127.1.0.0/16, one address per input: failed logins stay few per address. */
    in4->sin_addr.s_addr = htonl(0x7f010000u | (peer++ & 0xffffu));
    fs_conn_open(&wk, sv[0], &ss);
    sw.loop.stop = false;
    ev_run(&sw.loop);
    if (srv_conns(&sw) != NULL) {
        fprintf(stderr, "the connection did not end %d turns after the peer's FIN (state %d)\n",
                TURNS_MAX, container_of(srv_conns(&sw), struct conn, sc)->state);
        abort();
    }
    check_responses(run.out, run.outlen);
    close(sv[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;

    if (!ready) {
        setup();
        for (size_t i = 0; i < sizeof warm / sizeof warm[0]; i++) {
            one((const uint8_t *)warm[i], strlen(warm[i]), strlen(warm[i]));
            if (run.outlen < 12 || memcmp(run.out, "HTTP/1.1 200", 12) != 0) {
                fprintf(stderr, "warm-up %zu: the login did not work: %.*s\n", i,
                        (int)(run.outlen > 300 ? 300 : run.outlen), run.out);
                abort();
            }
        }
        ready = true;
    }
    if (size == 0)
        return 0;
    one(data + 1, size - 1, (size_t)data[0] + 1);
    return 0;
}
