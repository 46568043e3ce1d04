#include "udp/udp.h"

#include <errno.h>
#include <stdarg.h>
#include <time.h> /* before linux/errqueue.h, which needs struct timespec */
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/charset.h"
#include "core/clock.h"
#include "core/fsx.h"
#include "net/sock.h"
#include "proto/bucket.h"
#include "proto/line.h"
#include "proto/tty.h"

/* --echo answers one sender at most this often; past it a datagram is
 * not answered, so two echoers answering each other stop at once. */
#define ECHO_RATE 1000.0
#define ECHO_BURST 1000.0
#define ECHO_PEERS 256 /* senders with a bucket of their own */

struct udp_peer {
    const struct udp_options *o;
    int fd;
    struct sockaddr_storage bound; /* the socket's own address and port */
    struct bucket_table budget;    /* --echo: answers per sender */
    struct bucket_slot slots[ECHO_PEERS];
    bool told_self;
    bool have_last; /* listening: someone has sent us something */
    struct sockaddr_storage last;
    socklen_t last_len;
    struct buf in;  /* stdin bytes not yet sent */
    bool skipping;  /* dropping the rest of an oversized line */
    bool undelivered;
    char *rbuf;
    char *conv;     /* charset conversion scratch */
    char *vis;      /* stdout is a terminal: what it is shown of a datagram */
    size_t vis_cap;
};

void udp_options_default(struct udp_options *o)
{
    memset(o, 0, sizeof *o);
    o->wait_ms = 1000;
    o->recv_max = 65536;
    o->in_fd = 0;
    o->out_fd = 1;
    o->err_fd = 2;
}

static void say(const struct udp_peer *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void say(const struct udp_peer *p, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    dprintf(p->o->err_fd, "ferry udp: ");
    vdprintf(p->o->err_fd, fmt, ap);
    dprintf(p->o->err_fd, "\n");
    va_end(ap);
}

/* Converts text for the wire (to_wire) or for the terminal. Returns the
 * bytes to use (maybe the input itself) in *out and their length, or -errno. */
static long convert(struct udp_peer *p, bool to_wire, const char *s, size_t n, const char **out)
{
    *out = s;
    if (p->o->wire_charset == NULL)
        return (long)n;
    long r = to_wire ? charset_convert(p->o->wire_charset, "UTF-8", s, n, p->conv, UDP_MAX_PAYLOAD * 2 + 8)
                     : charset_convert("UTF-8", p->o->wire_charset, s, n, p->conv, UDP_MAX_PAYLOAD * 2 + 8);
    if (r >= 0)
        *out = p->conv;
    return r;
}

static void send_line(struct udp_peer *p, const char *text, size_t len)
{
    const char *data;
    long n = convert(p, true, text, len, &data);

    if (n < 0) {
        say(p, "line not sent: it cannot be written in %s", p->o->wire_charset);
        return;
    }
    if ((size_t)n > UDP_MAX_PAYLOAD) {
        say(p, "line not sent: %ld bytes, a datagram holds at most %d", n, UDP_MAX_PAYLOAD);
        return;
    }
    ssize_t w;
    if (p->o->listen) {
        if (!p->have_last) {
            say(p, "line not sent: nobody has sent a datagram yet");
            return;
        }
        w = sendto(p->fd, data, (size_t)n, 0, (struct sockaddr *)&p->last, p->last_len);
    } else {
        w = send(p->fd, data, (size_t)n, 0);
    }
    if (w < 0 && errno == ECONNREFUSED) {
        say(p, "nobody is listening there (ICMP port unreachable)");
        p->undelivered = true;
    } else if (w < 0) {
        say(p, "send: %s", strerror(errno));
    }
}

/* Sends the complete lines in p->in; at_eof sends a last unterminated one.
 * A line longer than a datagram is refused whole, never split. */
static void send_lines(struct udp_peer *p, bool at_eof)
{
    struct line ln;

    while (line_next(buf_rptr(&p->in), buf_len(&p->in), UDP_MAX_PAYLOAD, at_eof, &ln)) {
        bool cut = ln.eol[0] == '\0' && ln.len == UDP_MAX_PAYLOAD &&
                   (!at_eof || buf_len(&p->in) > UDP_MAX_PAYLOAD);
        if (p->skipping) {
            p->skipping = ln.eol[0] == '\0' && !at_eof;
        } else if (cut) {
            say(p, "line not sent: longer than %d bytes, the most a datagram holds", UDP_MAX_PAYLOAD);
            p->skipping = true;
        } else {
            send_line(p, ln.text, ln.len);
        }
        buf_consume(&p->in, ln.consumed);
    }
}

static void report_icmp(struct udp_peer *p)
{
    char ctl[512], data[64], addr[SOCK_ADDRSTRLEN];
    struct sockaddr_storage from;
    struct iovec iov = {data, sizeof data};
    struct msghdr m = {.msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov,
                       .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};

    if (recvmsg(p->fd, &m, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
        return;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c != NULL; c = CMSG_NXTHDR(&m, c)) {
        if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR) ||
            (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR)) {
            struct sock_extended_err *e = (struct sock_extended_err *)CMSG_DATA(c);
            sock_addr_format((struct sockaddr *)&from, true, addr, sizeof addr);
            say(p, "%s: %s", addr, strerror((int)e->ee_errno));
            p->undelivered = true;
        }
    }
}

/* The bytes that tell sa's address apart (the IPv4 or IPv6 address),
 * their length in *len; NULL for another family. */
static const void *addr_bytes(const struct sockaddr *sa, size_t *len)
{
    if (sa->sa_family == AF_INET) {
        *len = sizeof(struct in_addr);
        return &((const struct sockaddr_in *)sa)->sin_addr;
    }
    if (sa->sa_family == AF_INET6) {
        *len = sizeof(struct in6_addr);
        return &((const struct sockaddr_in6 *)sa)->sin6_addr;
    }
    return NULL;
}

/* True when a socket may bind to from's address: it is one of this
 * host's. A failure other than "not here" counts as local, so that in
 * doubt nothing is answered. */
static bool addr_is_local(const struct sockaddr *from, socklen_t len)
{
    struct sockaddr_storage ss;

    if (len > sizeof ss)
        return true;
    memcpy(&ss, from, len);
    if (ss.ss_family == AF_INET)
        ((struct sockaddr_in *)&ss)->sin_port = 0;
    else if (ss.ss_family == AF_INET6)
        ((struct sockaddr_in6 *)&ss)->sin6_port = 0;
    int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return true;
    int rc = bind(fd, (struct sockaddr *)&ss, len);
    int err = rc < 0 ? errno : 0;
    close(fd);
    return err != EADDRNOTAVAIL;
}

/* True when from is this socket itself: its port on its own address, or,
 * bound to every address, on any address of this host. An answer there
 * would come back to us, and be answered again, forever. */
static bool from_self(const struct udp_peer *p, const struct sockaddr *from, socklen_t len)
{
    const struct sockaddr *me = (const struct sockaddr *)&p->bound;
    size_t n1, n2;

    if (sock_addr_port(from) != sock_addr_port(me))
        return false;
    if (sock_addr_is_any(me))
        return addr_is_local(from, len);
    const void *a = addr_bytes(from, &n1), *b = addr_bytes(me, &n2);
    return a == NULL || b == NULL || (n1 == n2 && memcmp(a, b, n1) == 0);
}

/* --echo: sends the datagram back to from, unless from is this socket or
 * has had its share of answers (told once per episode on stderr). */
static void echo(struct udp_peer *p, const struct sockaddr_storage *from, socklen_t len, size_t n,
                 const char *shown)
{
    const struct sockaddr *sa = (const struct sockaddr *)from;
    unsigned char key[2 + sizeof(struct in6_addr)];
    size_t alen = 0;

    if (from_self(p, sa, len)) {
        if (!p->told_self)
            say(p, "%s is this socket's own address: not answered", shown);
        p->told_self = true;
        return;
    }
    const void *a = addr_bytes(sa, &alen);
    uint16_t port = sock_addr_port(sa);
    key[0] = (unsigned char)(port >> 8);
    key[1] = (unsigned char)port;
    if (a != NULL)
        memcpy(key + 2, a, alen);
    enum bucket_verdict v = bucket_take(&p->budget, key, 2 + alen, clock_ms());
    if (v == BUCKET_OK)
        sendto(p->fd, p->rbuf, n, 0, sa, len);
    else if (v == BUCKET_OVER_FIRST)
        say(p, "%s: over %.0f answers a second; the rest are not answered", shown, ECHO_RATE);
}

static void receive(struct udp_peer *p)
{
    struct sockaddr_storage from;
    struct iovec iov = {p->rbuf, p->o->recv_max};
    struct msghdr m = {.msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov,
                       .msg_iovlen = 1};
    char addr[SOCK_ADDRSTRLEN];

    /* MSG_TRUNC makes Linux return the datagram's real length. */
    ssize_t n = recvmsg(p->fd, &m, MSG_TRUNC | MSG_DONTWAIT);
    if (n < 0) {
        if (errno == ECONNREFUSED) {
            say(p, "nobody is listening there (ICMP port unreachable)");
            p->undelivered = true;
        }
        return;
    }
    size_t got = (size_t)n < p->o->recv_max ? (size_t)n : p->o->recv_max;
    sock_addr_format((struct sockaddr *)&from, true, addr, sizeof addr);
    if (m.msg_flags & MSG_TRUNC)
        say(p, "datagram from %s truncated: kept %zu of %zd bytes", addr, got, n);
    if (p->o->listen) {
        memcpy(&p->last, &from, m.msg_namelen);
        p->last_len = m.msg_namelen;
        p->have_last = true;
        if (p->o->echo)
            echo(p, &from, m.msg_namelen, got, addr);
    }
    const char *text;
    long tl = convert(p, false, p->rbuf, got, &text);
    if (tl < 0) { /* not valid in the wire charset: show the bytes as they are */
        text = p->rbuf;
        tl = (long)got;
    }
    if (p->vis != NULL) {
        /* A terminal is shown every control visibly (proto/tty.h); each
         * datagram stands alone, so a cut sequence ends with it. */
        struct tty_esc e;
        tty_esc_init(&e);
        long r = tty_escape(&e, text, (size_t)tl, p->vis, p->vis_cap);
        long end = r >= 0 ? tty_escape_end(&e, p->vis + r, p->vis_cap - (size_t)r) : -1;
        if (r >= 0 && end >= 0) {
            text = p->vis;
            tl = r + end;
        }
    }
    struct buf line;
    buf_init(&line, (size_t)tl + SOCK_ADDRSTRLEN + 8);
    if (p->o->listen)
        buf_printf(&line, "%s: ", addr);
    buf_append(&line, text, (size_t)tl);
    if (tl == 0 || text[tl - 1] != '\n')
        buf_append(&line, "\n", 1);
    fsx_write_all(p->o->out_fd, buf_rptr(&line), buf_len(&line));
    buf_free(&line);
}

static int open_socket(struct udp_peer *p, void (*ready)(const char *), const char **what)
{
    const struct udp_options *o = p->o;
    struct sockaddr_storage ss;
    char addr[SOCK_ADDRSTRLEN];
    int one = 1;

    if (o->listen) {
        p->fd = sock_bind(o->bind, o->port, SOCK_DGRAM, 0, &ss);
        *what = SOCK_WHAT_LISTEN;
    } else {
        p->fd = sock_connect(o->host, o->peer_port, SOCK_DGRAM, 1000, &ss);
        *what = "cannot reach";
    }
    if (p->fd < 0)
        return p->fd;
    p->bound = ss;
    /* Ask for ICMP errors on the error queue, so a listener learns that a
     * reply found nobody. */
    if (ss.ss_family == AF_INET6)
        setsockopt(p->fd, IPPROTO_IPV6, IPV6_RECVERR, &one, sizeof one);
    if (ss.ss_family == AF_INET || o->listen)
        setsockopt(p->fd, IPPROTO_IP, IP_RECVERR, &one, sizeof one);
    if (o->listen && ready) {
        sock_addr_format((struct sockaddr *)&ss, true, addr, sizeof addr);
        if (sock_addr_is_any((struct sockaddr *)&ss))
            snprintf(addr, sizeof addr, "%s:%u", ss.ss_family == AF_INET6 && o->bind ? "[::1]" : "127.0.0.1",
                     sock_addr_port((struct sockaddr *)&ss));
        ready(addr);
    }
    return 0;
}

int udp_run(const struct udp_options *o, volatile int *stop, void (*ready)(const char *addr),
            const char **what)
{
    struct udp_peer p;
    bool in_open = !o->echo;
    int64_t until = -1;
    int rc;

    memset(&p, 0, sizeof p);
    p.o = o;
    bucket_init(&p.budget, p.slots, ECHO_PEERS, ECHO_RATE, ECHO_BURST);
    buf_init(&p.in, UDP_MAX_PAYLOAD + 2 + 65536);
    p.rbuf = malloc(o->recv_max ? o->recv_max : 1);
    p.conv = malloc(UDP_MAX_PAYLOAD * 2 + 8);
    if (isatty(o->out_fd)) {
        size_t most = o->recv_max > UDP_MAX_PAYLOAD * 2 + 8 ? o->recv_max : UDP_MAX_PAYLOAD * 2 + 8;
        p.vis_cap = TTY_OUT_MAX(most);
        p.vis = malloc(p.vis_cap);
    }
    if (p.rbuf == NULL || p.conv == NULL || (p.vis_cap > 0 && p.vis == NULL)) {
        rc = -ENOMEM;
        *what = "cannot start";
        goto out;
    }
    rc = open_socket(&p, ready, what);
    if (rc < 0)
        goto out;
    while (!*stop) {
        struct pollfd pf[2] = {{.fd = p.fd, .events = POLLIN}, {.fd = o->in_fd, .events = POLLIN}};
        int timeout = -1;
        if (until >= 0) {
            int64_t left = until - clock_ms();
            if (left <= 0)
                break;
            timeout = (int)left;
        }
        int n = poll(pf, in_open ? 2 : 1, timeout);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            *what = "poll";
            goto out;
        }
        if (pf[0].revents & POLLERR)
            report_icmp(&p);
        if (pf[0].revents & POLLIN)
            receive(&p);
        if (in_open && (pf[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            char *dst = buf_reserve(&p.in, 65536);
            ssize_t r = dst ? read(o->in_fd, dst, 65536) : -1;
            if (r < 0 && errno == EINTR)
                continue;
            if (r > 0) {
                buf_commit(&p.in, (size_t)r);
                send_lines(&p, false);
            } else {
                send_lines(&p, true);
                in_open = false;
                if (!o->listen)
                    until = clock_ms() + o->wait_ms;
            }
        }
    }
    rc = p.undelivered ? 1 : 0;
out:
    if (p.fd > 0)
        close(p.fd);
    buf_free(&p.in);
    free(p.rbuf);
    free(p.conv);
    free(p.vis);
    return rc;
}
