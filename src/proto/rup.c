#include "proto/rup.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "proto/digest.h"
#include "proto/lex.h"
#include "proto/sf.h"

/* One Item field of req into *val (kind wanted): 1 found, 0 absent or
 * of another type (ignored), -EINVAL given twice with two values. */
static int item(const struct http_request *req, const char *name, enum sf_kind kind, int64_t *val)
{
    int found = 0;

    for (size_t i = 0; i < req->nheaders; i++) {
        const struct http_header *h = &req->headers[i];
        struct sf_item it;
        if (!http_str_ieq(h->name.p, h->name.len, name))
            continue;
        if (sf_item_parse(h->value.p, h->value.len, &it) < 0 || it.kind != kind)
            continue;
        int64_t v = kind == SF_BOOLEAN ? it.boolean : it.integer;
        if (kind == SF_INTEGER && v < 0)
            continue;
        if (found && v != *val)
            return -EINVAL;
        *val = v;
        found = 1;
    }
    return found;
}

int rup_req_parse(const struct http_request *req, int64_t content_length, struct rup_req *out)
{
    struct rup_req r = {.complete = -1, .offset = -1, .length = -1, .interop = 0,
                        .content_length = content_length};
    int64_t b = 0;
    int rc;

    if ((rc = item(req, "upload-complete", SF_BOOLEAN, &b)) < 0)
        return rc;
    if (rc == 1)
        r.complete = (int)b;
    if (item(req, "upload-offset", SF_INTEGER, &r.offset) < 0 ||
        item(req, "upload-length", SF_INTEGER, &r.length) < 0 ||
        item(req, "upload-draft-interop-version", SF_INTEGER, &r.interop) < 0)
        return -EINVAL;
    *out = r;
    return 0;
}

/* An owner as a state keeps it: 1 to RUP_OWNER_MAX - 1 visible ASCII
 * characters (no space: the field ends at one). */
static bool owner_ok(const char *s, size_t len)
{
    if (len == 0 || len >= RUP_OWNER_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (s[i] <= ' ' || s[i] > '~')
            return false;
    return true;
}

size_t rup_state_format(const struct rup_state *st, char *out)
{
    char sha[DIGEST_HEX_LEN + 1] = "-";
    const char *owner = st->owner[0] != '\0' ? st->owner : "-";

    if (strchr(st->rel, '\n') != NULL || st->rel[0] == '\0' ||
        !owner_ok(owner, strnlen(owner, RUP_OWNER_MAX)))
        return 0;
    if (st->has_sha)
        digest_hex_format(st->sha, sha);
    int n = snprintf(out, RUP_STATE_MAX, "v2 %" PRId64 " %" PRId64 " %d %s %s %s\n", st->length,
                     st->created, st->complete ? 1 : 0, sha, owner, st->rel);
    return n < 0 || n >= RUP_STATE_MAX ? 0 : (size_t)n;
}

/* A decimal (or "-1" where minus_one) and the space after it. */
static int number(const char *s, size_t len, size_t *pos, bool minus_one, int64_t *out)
{
    uint64_t v;

    if (minus_one && len - *pos >= 3 && memcmp(s + *pos, "-1 ", 3) == 0) {
        *pos += 3;
        *out = -1;
        return 0;
    }
    /* What rup_state_format writes: no leading zeros. */
    if (*pos + 1 < len && s[*pos] == '0' && s[*pos + 1] >= '0' && s[*pos + 1] <= '9')
        return -EINVAL;
    if (lex_decimal(s, len, pos, INT64_MAX, &v) < 0 || *pos >= len || s[*pos] != ' ')
        return -EINVAL;
    (*pos)++;
    *out = (int64_t)v;
    return 0;
}

int rup_state_parse(const char *text, size_t len, struct rup_state *out)
{
    struct rup_state st;
    size_t pos = 3;
    int64_t complete;

    memset(&st, 0, sizeof st);
    if (len < 3 || (memcmp(text, "v1 ", 3) != 0 && memcmp(text, "v2 ", 3) != 0) ||
        text[len - 1] != '\n')
        return -EINVAL;
    bool v2 = text[1] == '2';
    len--; /* the newline */
    if (number(text, len, &pos, true, &st.length) < 0 ||
        number(text, len, &pos, false, &st.created) < 0 ||
        number(text, len, &pos, false, &complete) < 0 || complete > 1)
        return -EINVAL;
    st.complete = complete == 1;
    if (len - pos >= 2 && memcmp(text + pos, "- ", 2) == 0) {
        pos += 2;
    } else {
        if (len - pos < DIGEST_HEX_LEN + 1 || text[pos + DIGEST_HEX_LEN] != ' ' ||
            digest_hex_parse(text + pos, DIGEST_HEX_LEN, st.sha) < 0)
            return -EINVAL;
        st.has_sha = true;
        pos += DIGEST_HEX_LEN + 1;
    }
    strcpy(st.owner, "-");
    if (v2) {
        const char *sp = memchr(text + pos, ' ', len - pos);
        size_t ol = sp != NULL ? (size_t)(sp - (text + pos)) : 0;
        if (!owner_ok(text + pos, ol))
            return -EINVAL;
        memcpy(st.owner, text + pos, ol);
        st.owner[ol] = '\0';
        pos += ol + 1;
    }
    size_t rl = len - pos;
    if (rl == 0 || rl >= sizeof st.rel || memchr(text + pos, '\0', rl) != NULL ||
        memchr(text + pos, '\n', rl) != NULL)
        return -EINVAL;
    memcpy(st.rel, text + pos, rl);
    st.rel[rl] = '\0';
    *out = st;
    return 0;
}

void rup_token_format(const unsigned char raw[16], char out[RUP_TOKEN_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";

    for (int i = 0; i < 16; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[RUP_TOKEN_LEN] = '\0';
}

int rup_query_token(const char *q, size_t len, char out[RUP_TOKEN_LEN + 1])
{
    static const char key[] = "upload=";
    size_t kl = sizeof key - 1;
    bool named = false;

    /* Any "upload" parameter anywhere makes this an upload resource URL. */
    for (size_t i = 0; i < len;) {
        const char *amp = memchr(q + i, '&', len - i);
        size_t end = amp ? (size_t)(amp - q) : len;
        if (end - i >= 6 && memcmp(q + i, "upload", 6) == 0 && (end - i == 6 || q[i + 6] == '='))
            named = true;
        i = end + 1;
    }
    if (!named)
        return 0;
    if (len != kl + RUP_TOKEN_LEN || memcmp(q, key, kl) != 0)
        return -EINVAL;
    for (size_t i = 0; i < RUP_TOKEN_LEN; i++) {
        char c = q[kl + i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return -EINVAL;
        out[i] = c;
    }
    out[RUP_TOKEN_LEN] = '\0';
    return 1;
}

/* a + b for non-negative a and b, or -1 when the sum passes INT64_MAX:
 * every sum of numbers a peer gave goes through here. */
static int64_t add(int64_t a, int64_t b)
{
    return b > INT64_MAX - a ? -1 : a + b;
}

/* The length the request states: Upload-Length, and Content-Length when
 * the request completes the upload from offset. -2 when they disagree,
 * -3 when offset and Content-Length together pass what an int64_t holds
 * (longer than any server takes). */
static int64_t stated_length(const struct rup_req *r, int64_t offset)
{
    int64_t by_body = -1;

    if (r->complete == 1 && r->content_length >= 0) {
        by_body = add(offset, r->content_length);
        if (by_body < 0)
            return -3;
    }
    if (r->length >= 0 && by_body >= 0 && r->length != by_body)
        return -2;
    return r->length >= 0 ? r->length : by_body;
}

void rup_decide_create(const struct rup_req *r, uint64_t max_size, struct rup_decision *d)
{
    int64_t len = stated_length(r, 0);

    d->length = -1;
    if (r->complete < 0) {
        d->verdict = RUP_BAD;
        return;
    }
    if (len == -2) {
        d->verdict = RUP_INCONSISTENT;
        return;
    }
    if (len == -3 || (len >= 0 && (uint64_t)len > max_size)) {
        d->verdict = RUP_TOO_LARGE;
        return;
    }
    if (r->content_length >= 0 && (uint64_t)r->content_length > max_size) {
        d->verdict = RUP_TOO_LARGE;
        return;
    }
    if (len >= 0 && r->content_length > len) {
        d->verdict = RUP_INCONSISTENT;
        return;
    }
    d->verdict = RUP_GO;
    d->length = len;
}

void rup_decide_append(const struct rup_state *st, int64_t offset, const struct rup_req *r,
                       uint64_t max_size, struct rup_decision *d)
{
    d->length = st->length;
    if (r->complete < 0 || r->offset < 0) {
        d->verdict = RUP_BAD;
        return;
    }
    if (st->complete) {
        d->verdict = RUP_COMPLETED;
        return;
    }
    if (r->offset != offset) {
        d->verdict = RUP_MISMATCH;
        return;
    }
    int64_t len = stated_length(r, offset);
    if (len == -3) {
        d->verdict = RUP_TOO_LARGE;
        return;
    }
    if (len == -2 || (len >= 0 && st->length >= 0 && len != st->length)) {
        d->verdict = RUP_INCONSISTENT;
        return;
    }
    if (len < 0)
        len = st->length;
    if (len >= 0 && (uint64_t)len > max_size) {
        d->verdict = RUP_TOO_LARGE;
        return;
    }
    if (r->content_length >= 0) {
        /* The data already past the length (a damaged state) leaves no room. */
        if (len >= 0 && (offset > len || r->content_length > len - offset)) {
            d->verdict = RUP_INCONSISTENT;
            return;
        }
        int64_t end = add(offset, r->content_length);
        if (end < 0 || (uint64_t)end > max_size) {
            d->verdict = RUP_TOO_LARGE;
            return;
        }
    }
    d->verdict = RUP_GO;
    d->length = len;
}

enum rup_verdict rup_check_more(int64_t length, uint64_t max_size, int64_t offset, uint64_t n)
{
    if (offset < 0 || n > UINT64_MAX - (uint64_t)offset)
        return RUP_TOO_LARGE;
    uint64_t end = (uint64_t)offset + n;

    if (length >= 0 && end > (uint64_t)length)
        return RUP_INCONSISTENT;
    if (end > max_size)
        return RUP_TOO_LARGE;
    return RUP_GO;
}

const char *rup_owner_format(const char *user, const void *sockaddr, char out[RUP_OWNER_MAX])
{
    const struct sockaddr *sa = sockaddr;
    char addr[INET6_ADDRSTRLEN];

    if (user != NULL && user[0] != '\0' && strlen(user) + 2 < RUP_OWNER_MAX &&
        owner_ok(user, strlen(user))) {
        snprintf(out, RUP_OWNER_MAX, "u:%s", user);
        return out;
    }
    strcpy(out, "-");
    if (sa == NULL)
        return out;
    if (sa->sa_family == AF_INET) {
        struct sockaddr_in in;
        memcpy(&in, sa, sizeof in);
        if (inet_ntop(AF_INET, &in.sin_addr, addr, sizeof addr) != NULL)
            snprintf(out, RUP_OWNER_MAX, "a:%s", addr);
    } else if (sa->sa_family == AF_INET6) {
        struct sockaddr_in6 in6;
        memcpy(&in6, sa, sizeof in6);
        struct in6_addr a = in6.sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(&a)) {
            if (inet_ntop(AF_INET, &a.s6_addr[12], addr, sizeof addr) != NULL)
                snprintf(out, RUP_OWNER_MAX, "a:%s", addr);
            return out;
        }
        memset(&a.s6_addr[8], 0, 8);
        if (inet_ntop(AF_INET6, &a, addr, sizeof addr) != NULL)
            snprintf(out, RUP_OWNER_MAX, "a:%s/64", addr);
    }
    return out;
}

enum rup_found rup_found(const struct rup_state *st, bool data_there)
{
    if (st->complete)
        return data_there ? RUP_ROLL_FORWARD : RUP_DONE;
    return data_there ? RUP_IN_PROGRESS : RUP_LOST;
}

int64_t rup_sweep_every(int64_t max_age)
{
    int64_t every = max_age / 2;

    return every < 1 ? 1 : every > 60 ? 60 : every;
}

enum rup_verdict rup_admit(uint64_t count, uint64_t bytes, bool new_upload, uint64_t need,
                           uint64_t max_count, uint64_t max_bytes)
{
    if (new_upload && count >= max_count)
        return RUP_TOO_MANY;
    if (need > max_bytes || bytes > max_bytes - need)
        return RUP_NO_ROOM;
    return RUP_GO;
}

bool rup_complete_ok(int64_t length, int64_t size)
{
    return length < 0 || length == size;
}
