#include "proto/http.h"
#include "proto/lex.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

static int parse_length(struct http_str v, int64_t *out);
static int te_codings(struct http_str v);

/* tchar from RFC 9110 section 5.6.2. */
static bool is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Field values may hold visible ASCII, space, tab and obs-text. */
static bool is_vchar(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* Target bytes: visible ASCII and obs-text; no space or control, and no
 * '#': a fragment is never part of a request target (RFC 9112 §3.2), so a
 * client that sends one (DELETE /dir/#frag) is refused rather than acted on
 * the part before it. */
static bool is_target_char(unsigned char c)
{
    return c > 0x20 && c != 0x7f && c != '#';
}

static const struct {
    const char *name;
    enum http_method m;
} methods[] = {
    {"GET", HTTP_GET},         {"HEAD", HTTP_HEAD},   {"POST", HTTP_POST},
    {"PUT", HTTP_PUT},         {"DELETE", HTTP_DELETE}, {"OPTIONS", HTTP_OPTIONS},
    {"PATCH", HTTP_PATCH},     {"TRACE", HTTP_TRACE}, {"CONNECT", HTTP_CONNECT},
    {"MKCOL", HTTP_MKCOL},     {"PROPFIND", HTTP_PROPFIND}, {"PROPPATCH", HTTP_PROPPATCH},
    {"COPY", HTTP_COPY},       {"MOVE", HTTP_MOVE},   {"LOCK", HTTP_LOCK},
    {"UNLOCK", HTTP_UNLOCK},
};

enum http_method http_method_parse(const char *s, size_t len)
{
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (strlen(methods[i].name) == len && memcmp(methods[i].name, s, len) == 0)
            return methods[i].m;
    return HTTP_OTHER;
}

enum line_scan { LINE_OK, LINE_MORE, LINE_BAD };

/* Finds the end of the line that starts at buf[pos]. A line ends in CR LF,
 * or, when bare_lf, in a lone LF too (RFC 9112 section 2.2 lets a recipient
 * accept it; we do in responses only). A CR anywhere else is LINE_BAD: a
 * bare CR is how "chunked\r" or a second header gets past a parser that
 * reads lines differently from the one in front of it (section 2.2 allows
 * refusing it). On LINE_OK *end is the index of the line's CR (or lone LF)
 * and *next the index just past its LF. LINE_MORE: the line goes on past
 * len (a final CR may yet be followed by LF). */
static enum line_scan line_find(const char *buf, size_t pos, size_t len, bool bare_lf, size_t *end,
                                size_t *next)
{
    const char *lf = memchr(buf + pos, '\n', len - pos);
    size_t stop = lf != NULL ? (size_t)(lf - buf) : len;
    const char *cr = memchr(buf + pos, '\r', stop - pos);

    if (cr != NULL) {
        size_t i = (size_t)(cr - buf);
        if (i + 1 == len)
            return LINE_MORE;
        if (i + 1 != stop)
            return LINE_BAD; /* a CR that is not followed by LF */
        *end = i;
        *next = stop + 1;
        return LINE_OK;
    }
    if (lf == NULL)
        return LINE_MORE;
    if (!bare_lf)
        return LINE_BAD;
    *end = stop;
    *next = stop + 1;
    return LINE_OK;
}

static int parse_request_line(const char *s, size_t len, struct http_request *req)
{
    size_t i = 0;

    while (i < len && is_tchar((unsigned char)s[i]))
        i++;
    if (i == 0 || i >= len || s[i] != ' ')
        return 400;
    req->method_str = (struct http_str){s, i};
    req->method = http_method_parse(s, i);
    size_t t = ++i;
    while (i < len && is_target_char((unsigned char)s[i]))
        i++;
    if (i == t || i >= len || s[i] != ' ')
        return 400;
    req->target = (struct http_str){s + t, i - t};
    i++;
    if (len - i != 8 || memcmp(s + i, "HTTP/", 5) != 0)
        return 400;
    char maj = s[i + 5], dot = s[i + 6], min = s[i + 7];
    if (maj < '0' || maj > '9' || dot != '.' || min < '0' || min > '9')
        return 400;
    if (maj != '1' || (min != '0' && min != '1'))
        return 505;
    req->minor = min - '0';
    return 0;
}

/* One field line (RFC 9110 section 5, RFC 9112 section 5): a name of
 * tchars, a colon right after it, then a value of visible bytes, obs-text,
 * SP and HTAB with the white space around it dropped. So no empty name, no
 * white space before the colon (section 5.1 says 400), no NUL or other
 * control byte in name or value (HTAB only in values), and no line that
 * starts with white space: that is obs-fold after a field (section 5.2
 * lets us refuse it) or white space before the first field (section 2.2
 * lets us refuse that too). Returns 0 or 400. */
static int parse_header_line(const char *s, size_t len, struct http_header *h)
{
    size_t i = 0;

    while (i < len && is_tchar((unsigned char)s[i]))
        i++;
    if (i == 0 || i >= len || s[i] != ':')
        return 400;
    h->name = (struct http_str){s, i};
    i++;
    while (i < len && (s[i] == ' ' || s[i] == '\t'))
        i++;
    size_t end = len;
    while (end > i && (s[end - 1] == ' ' || s[end - 1] == '\t'))
        end--;
    for (size_t k = i; k < end; k++)
        if (!is_vchar((unsigned char)s[k]))
            return 400;
    h->value = (struct http_str){s + i, end - i};
    return 0;
}

/* The field lines of a head, requests and responses alike, from buf[pos]
 * through the empty line that ends the head: each line as line_find and
 * parse_header_line say, at most HTTP_MAX_HEADERS of them, into h[] and
 * *n. Returns the length of the whole head (buf[0] to the end of the empty
 * line), HTTP_PARSE_INCOMPLETE, or HTTP_PARSE_INVALID with *status 400 or
 * 431 (too many fields). */
static ssize_t parse_header_block(const char *buf, size_t pos, size_t len, bool bare_lf,
                                  struct http_header *h, size_t *n, int *status)
{
    *n = 0;
    for (;;) {
        size_t end, next;
        enum line_scan ls = line_find(buf, pos, len, bare_lf, &end, &next);

        if (ls == LINE_MORE)
            return HTTP_PARSE_INCOMPLETE;
        if (ls == LINE_BAD) {
            *status = 400;
            return HTTP_PARSE_INVALID;
        }
        if (end == pos)
            return (ssize_t)next;
        if (*n == HTTP_MAX_HEADERS) {
            *status = 431;
            return HTTP_PARSE_INVALID;
        }
        *status = parse_header_line(buf + pos, end - pos, &h[*n]);
        if (*status != 0)
            return HTTP_PARSE_INVALID;
        (*n)++;
        pos = next;
    }
}

ssize_t http_parse_request(const char *buf, size_t len, struct http_request *req, int *status)
{
    size_t pos = 0, end, next;

    /* RFC 9112 section 2.2: ignore empty lines before the request line.
     * Requests end lines in CR LF only; a bare CR or LF is refused. */
    while (pos < len && (buf[pos] == '\r' || buf[pos] == '\n')) {
        if (buf[pos] == '\n' || (pos + 1 < len && buf[pos + 1] != '\n')) {
            *status = 400;
            return HTTP_PARSE_INVALID;
        }
        if (pos + 1 >= len)
            return HTTP_PARSE_INCOMPLETE;
        pos += 2;
    }
    enum line_scan ls = line_find(buf, pos, len, false, &end, &next);
    if (ls == LINE_MORE)
        return HTTP_PARSE_INCOMPLETE;
    if (ls == LINE_BAD) {
        *status = 400;
        return HTTP_PARSE_INVALID;
    }
    *status = parse_request_line(buf + pos, end - pos, req);
    if (*status != 0)
        return HTTP_PARSE_INVALID;
    return parse_header_block(buf, next, len, false, req->headers, &req->nheaders, status);
}

ssize_t http_parse_response(const char *buf, size_t len, struct http_response *res)
{
    size_t end, next;
    int status;
    enum line_scan ls = line_find(buf, 0, len, true, &end, &next);

    if (ls == LINE_BAD)
        return HTTP_PARSE_INVALID;
    if (ls == LINE_MORE)
        return len > 0 && (len < 5 ? memcmp(buf, "HTTP/", len) : memcmp(buf, "HTTP/", 5)) != 0
                   ? HTTP_PARSE_INVALID
                   : HTTP_PARSE_INCOMPLETE;
    /* "HTTP/1.1 200 OK": version, space, three digits, then a space and a
     * reason that may be empty (or missing altogether from old servers). */
    if (end < 12 || memcmp(buf, "HTTP/1.", 7) != 0 || (buf[7] != '0' && buf[7] != '1') ||
        buf[8] != ' ')
        return HTTP_PARSE_INVALID;
    res->minor = buf[7] - '0';
    res->status = 0;
    for (int i = 9; i < 12; i++) {
        if (buf[i] < '0' || buf[i] > '9')
            return HTTP_PARSE_INVALID;
        res->status = res->status * 10 + (buf[i] - '0');
    }
    if (end > 12 && buf[12] != ' ')
        return HTTP_PARSE_INVALID;
    res->reason = end > 13 ? (struct http_str){buf + 13, end - 13} : (struct http_str){buf, 0};
    for (size_t i = 0; i < res->reason.len; i++)
        if (!is_vchar((unsigned char)res->reason.p[i]))
            return HTTP_PARSE_INVALID; /* no escape sequences onto a terminal */
    /* Bare LF is taken from servers (old ones send it; nothing behind us
     * reads the head differently); everything else as for requests. */
    return parse_header_block(buf, next, len, true, res->headers, &res->nheaders, &status);
}

int http_analyse_response(const struct http_response *res, struct http_resp_info *info)
{
    size_t te_lines = 0;
    struct http_str te = {NULL, 0};

    memset(info, 0, sizeof *info);
    info->content_length = -1;
    info->close = res->minor == 0;
    for (size_t i = 0; i < res->nheaders; i++) {
        const struct http_header *h = &res->headers[i];
        const char *n = h->name.p;
        size_t nl = h->name.len;

        if (http_str_ieq(n, nl, "content-length")) {
            int64_t v;
            if (parse_length(h->value, &v) < 0 ||
                (info->content_length >= 0 && info->content_length != v))
                return -EBADMSG;
            info->content_length = v;
        } else if (http_str_ieq(n, nl, "transfer-encoding")) {
            te_lines++;
            te = h->value;
        } else if (http_str_ieq(n, nl, "connection")) {
            if (http_list_has(h->value, "close"))
                info->close = true;
            else if (http_list_has(h->value, "keep-alive"))
                info->close = false;
        } else if (http_str_ieq(n, nl, "location")) {
            info->location = h->value;
        } else if (http_str_ieq(n, nl, "content-range")) {
            info->content_range = h->value;
        } else if (http_str_ieq(n, nl, "content-disposition")) {
            info->content_disposition = h->value;
        } else if (http_str_ieq(n, nl, "etag")) {
            info->etag = h->value;
        } else if (http_str_ieq(n, nl, "last-modified")) {
            info->last_modified = h->value;
        }
    }
    if (te_lines == 0)
        return 0;
    /* The same rules as for requests (see http_analyse), except that a
     * coding we cannot decode is no 501 but a body we must not store, and
     * that Content-Length beside chunked is overridden (section 6.3) but
     * the connection is not trusted for another response. */
    if (te_lines > 1 || res->minor == 0 || te_codings(te) != 0)
        return -EBADMSG;
    info->chunked = true;
    if (info->content_length >= 0)
        info->close = true;
    info->content_length = -1;
    return 0;
}

/* Reads a decimal number at s[*i]; -1 when there is none or it overflows. */
static int64_t read_i64(const char *s, size_t len, size_t *i)
{
    uint64_t n;

    if (lex_decimal(s, len, i, INT64_MAX, &n) < 0)
        return -1;
    return (int64_t)n;
}

int http_content_range(struct http_str v, int64_t *first, int64_t *last, int64_t *size)
{
    size_t i = 6;

    if (v.len < 8 || strncasecmp(v.p, "bytes ", 6) != 0)
        return -EINVAL;
    if (v.p[i] == '*') {
        *first = *last = -1;
        i++;
    } else {
        *first = read_i64(v.p, v.len, &i);
        if (*first < 0 || i >= v.len || v.p[i++] != '-')
            return -EINVAL;
        *last = read_i64(v.p, v.len, &i);
        if (*last < *first)
            return -EINVAL;
    }
    if (i >= v.len || v.p[i++] != '/')
        return -EINVAL;
    if (i < v.len && v.p[i] == '*' && i + 1 == v.len && *first >= 0) {
        *size = -1;
        return 0;
    }
    *size = read_i64(v.p, v.len, &i);
    if (*size < 0 || i != v.len || (*first >= 0 && *last >= *size))
        return -EINVAL;
    return 0;
}

int64_t http_resume_size(struct http_str content_range, int64_t content_length, int64_t have,
                         int64_t known)
{
    int64_t first, last, size;

    if (have <= 0 || content_range.p == NULL ||
        http_content_range(content_range, &first, &last, &size) < 0)
        return -EINVAL;
    /* Without a stated size nothing shows the range reaches the end. */
    if (first != have || size < 0 || last != size - 1 || (known >= 0 && size != known))
        return -EINVAL;
    if (content_length >= 0 && content_length != last - first + 1)
        return -EINVAL;
    return size;
}

/* Finds parameter name (e.g. "filename") in a Content-Disposition value and
 * returns its raw value, unquoted when quoted (quoted-pair escapes kept). */
static bool disposition_param(struct http_str v, const char *name, struct http_str *out, bool *quoted)
{
    size_t nl = strlen(name), i = 0;

    while (i < v.len) {
        while (i < v.len && v.p[i] != ';') {
            if (v.p[i] == '"') { /* skip quoted strings: a ';' inside is text */
                for (i++; i < v.len && v.p[i] != '"'; i++)
                    if (v.p[i] == '\\')
                        i++;
            }
            i++;
        }
        if (i >= v.len)
            return false;
        i++;
        while (i < v.len && (v.p[i] == ' ' || v.p[i] == '\t'))
            i++;
        if (v.len - i > nl && strncasecmp(v.p + i, name, nl) == 0 && v.p[i + nl] == '=') {
            i += nl + 1;
            if (i < v.len && v.p[i] == '"') {
                size_t start = ++i;
                while (i < v.len && v.p[i] != '"')
                    i += v.p[i] == '\\' ? 2 : 1;
                if (i > v.len)
                    return false;
                *out = (struct http_str){v.p + start, i - start};
                *quoted = true;
            } else {
                size_t start = i;
                while (i < v.len && v.p[i] != ';' && v.p[i] != ' ')
                    i++;
                *out = (struct http_str){v.p + start, i - start};
                *quoted = false;
            }
            return true;
        }
    }
    return false;
}

long http_disposition_filename(struct http_str v, char *out, size_t outsz)
{
    struct http_str raw;
    bool quoted = false, ext = false;
    size_t o = 0;

    if (disposition_param(v, "filename*", &raw, &quoted)) {
        /* RFC 8187: charset'lang'percent-encoded; only UTF-8 is taken. */
        if (raw.len < 7 || strncasecmp(raw.p, "UTF-8'", 6) != 0)
            return -ENOENT;
        const char *q = memchr(raw.p + 6, '\'', raw.len - 6);
        if (q == NULL)
            return -ENOENT;
        raw = (struct http_str){q + 1, raw.len - (size_t)(q + 1 - raw.p)};
        ext = true;
    } else if (!disposition_param(v, "filename", &raw, &quoted)) {
        return -ENOENT;
    }
    for (size_t i = 0; i < raw.len; i++) {
        char c = raw.p[i];
        if (ext && c == '%' && i + 2 < raw.len && lex_hex_digit(raw.p[i + 1]) >= 0 &&
            lex_hex_digit(raw.p[i + 2]) >= 0) {
            c = (char)(lex_hex_digit(raw.p[i + 1]) * 16 + lex_hex_digit(raw.p[i + 2]));
            i += 2;
        } else if (quoted && c == '\\' && i + 1 < raw.len) {
            c = raw.p[++i];
        }
        if (c == '/' || c == '\\' || (unsigned char)c < 0x20 || c == 0x7f)
            return -ENOENT; /* a path, or bytes no file name should hold */
        if (o + 1 >= outsz)
            return -ENOENT;
        out[o++] = c;
    }
    out[o] = '\0';
    if (o == 0 || out[0] == '.')
        return -ENOENT; /* empty, ".", "..", or a hidden file */
    return (long)o;
}

/* The chunked grammar (RFC 9112 section 7.1), one state per place in it:
 *   chunk      = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 *   chunk-size = 1*HEXDIG            (leading zeros allowed, value < 2^63)
 *   chunk-ext  = *( BWS ";" ... )    (skipped, but only visible bytes)
 *   last-chunk = 1*("0") [ chunk-ext ] CRLF, then field lines, then CRLF
 * Every line ends in CR LF: a bare CR or LF anywhere in the framing is
 * refused, since parsers that disagree about it can be made to disagree
 * about where the body ends. */
enum {
    CH_SIZE,          /* the first digit of a size line */
    CH_SIZE_MORE,     /* more digits, or what ends them */
    CH_SIZE_BWS,      /* white space after the size: ";" or CR next */
    CH_EXT,           /* chunk extensions, up to the CR */
    CH_SIZE_LF,       /* the LF of a size line */
    CH_DATA,          /* chunk data */
    CH_DATA_CR,       /* the CR after the data */
    CH_DATA_LF,       /* and its LF */
    CH_TRAILER,       /* the start of a trailer line, or of the empty line */
    CH_TRAILER_NAME,  /* a trailer field's name, up to its colon */
    CH_TRAILER_VALUE, /* its value, up to the CR */
    CH_TRAILER_LF,    /* the LF of a trailer line */
    CH_END_LF,        /* the LF of the empty line that ends the body */
    CH_DONE,          /* the body and its trailer are over */
};

/* The largest chunk size: sizes must fit in an off_t (and in 63 bits for
 * every caller that adds them up). */
#define CHUNK_SIZE_MAX ((uint64_t)INT64_MAX)

uint64_t http_chunked_data_left(const struct http_chunked *c)
{
    return c->state == CH_DATA ? c->left : 0;
}

void http_chunked_skip(struct http_chunked *c, uint64_t n)
{
    if (c->state != CH_DATA || n > c->left)
        return; /* not data: nothing could have been moved */
    c->left -= n;
    if (c->left == 0)
        c->state = CH_DATA_CR;
}

ssize_t http_chunked_decode(struct http_chunked *c, char *buf, size_t *len)
{
    size_t in = 0, out = 0, n = *len;

    while (in < n) {
        unsigned char ch = (unsigned char)buf[in];

        if (c->state == CH_DATA) {
            size_t take = n - in;
            if (take > c->left)
                take = (size_t)c->left;
            memmove(buf + out, buf + in, take);
            out += take;
            in += take;
            c->left -= take;
            if (c->left == 0)
                c->state = CH_DATA_CR;
            continue;
        }
        in++;
        /* Size lines and each trailer line are capped, CR LF included;
         * leading zeros count too, so no size line is endless. */
        if (c->state != CH_DATA_CR && c->state != CH_DATA_LF && ++c->line > HTTP_CHUNK_LINE_MAX)
            return HTTP_PARSE_INVALID;
        if (c->state >= CH_TRAILER && ++c->trailer > HTTP_MAX_HEAD)
            return HTTP_PARSE_INVALID;
        if (c->state >= CH_TRAILER && c->nkept < sizeof c->kept)
            c->kept[c->nkept++] = (char)ch;
        switch (c->state) {
        case CH_SIZE:
        case CH_SIZE_MORE: {
            int d = lex_hex_digit((char)ch);
            if (d >= 0) {
                if (c->left > (CHUNK_SIZE_MAX - (uint64_t)d) / 16)
                    return HTTP_PARSE_INVALID;
                c->left = c->left * 16 + (uint64_t)d;
                c->state = CH_SIZE_MORE;
            } else if (c->state == CH_SIZE) {
                return HTTP_PARSE_INVALID;
            } else if (ch == ' ' || ch == '\t') {
                c->state = CH_SIZE_BWS;
            } else if (ch == ';') {
                c->state = CH_EXT;
            } else if (ch == '\r') {
                c->state = CH_SIZE_LF;
            } else {
                return HTTP_PARSE_INVALID;
            }
            break;
        }
        case CH_SIZE_BWS:
            if (ch == ';')
                c->state = CH_EXT;
            else if (ch == '\r')
                c->state = CH_SIZE_LF;
            else if (ch != ' ' && ch != '\t')
                return HTTP_PARSE_INVALID;
            break;
        case CH_EXT: /* ignored, but no control bytes: no bare CR or LF */
            if (ch == '\r')
                c->state = CH_SIZE_LF;
            else if (!is_vchar(ch))
                return HTTP_PARSE_INVALID;
            break;
        case CH_SIZE_LF:
            if (ch != '\n')
                return HTTP_PARSE_INVALID;
            c->line = 0;
            c->state = c->left > 0 ? CH_DATA : CH_TRAILER;
            break;
        case CH_DATA_CR:
            if (ch != '\r')
                return HTTP_PARSE_INVALID;
            c->state = CH_DATA_LF;
            break;
        case CH_DATA_LF:
            if (ch != '\n')
                return HTTP_PARSE_INVALID;
            c->line = 0;
            c->state = CH_SIZE;
            break;
        case CH_TRAILER: /* trailer fields follow the rules of header fields */
            if (ch == '\r')
                c->state = CH_END_LF;
            else if (is_tchar(ch))
                c->state = CH_TRAILER_NAME;
            else
                return HTTP_PARSE_INVALID; /* obs-fold, empty name, bare LF */
            break;
        case CH_TRAILER_NAME:
            if (ch == ':')
                c->state = CH_TRAILER_VALUE;
            else if (!is_tchar(ch))
                return HTTP_PARSE_INVALID;
            break;
        case CH_TRAILER_VALUE:
            if (ch == '\r')
                c->state = CH_TRAILER_LF;
            else if (!is_vchar(ch))
                return HTTP_PARSE_INVALID;
            break;
        case CH_TRAILER_LF:
            if (ch != '\n')
                return HTTP_PARSE_INVALID;
            c->line = 0;
            c->state = CH_TRAILER;
            break;
        case CH_END_LF:
            if (ch != '\n')
                return HTTP_PARSE_INVALID;
            c->state = CH_DONE;
            *len = out;
            return (ssize_t)(n - in);
        default:
            return HTTP_PARSE_INVALID;
        }
    }
    *len = out;
    return c->state == CH_DONE ? 0 : HTTP_PARSE_INCOMPLETE;
}

struct http_str http_chunked_trailer(const struct http_chunked *c, const char *name)
{
    size_t i = 0;

    if (c->state != CH_DONE)
        return (struct http_str){NULL, 0};
    /* The decoder checked every line: NAME ":" VALUE CR LF, then CR LF. */
    while (i < c->nkept) {
        const char *line = c->kept + i;
        const char *cr = memchr(line, '\r', c->nkept - i);
        if (cr == NULL || cr == line)
            break; /* cut off by the cap, or the empty line that ends it */
        const char *colon = memchr(line, ':', (size_t)(cr - line));
        if (colon != NULL && http_str_ieq(line, (size_t)(colon - line), name)) {
            const char *v = colon + 1, *e = cr;
            while (v < e && (*v == ' ' || *v == '\t'))
                v++;
            while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
                e--;
            return (struct http_str){v, (size_t)(e - v)};
        }
        i = (size_t)(cr - c->kept) + 2;
    }
    return (struct http_str){NULL, 0};
}

int http_head_overflow_status(const char *buf, size_t len)
{
    size_t pos = 0;

    while (pos < len && (buf[pos] == '\r' || buf[pos] == '\n'))
        pos++;
    return memchr(buf + pos, '\n', len - pos) == NULL ? 414 : 431;
}

bool http_str_ieq(const char *s, size_t len, const char *lit)
{
    return strlen(lit) == len && strncasecmp(s, lit, len) == 0;
}

struct http_str http_header_get(const struct http_header *h, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (http_str_ieq(h[i].name.p, h[i].name.len, name))
            return h[i].value;
    return (struct http_str){NULL, 0};
}

bool http_list_has(struct http_str v, const char *token)
{
    size_t i = 0;

    while (i < v.len) {
        while (i < v.len && (v.p[i] == ' ' || v.p[i] == '\t' || v.p[i] == ','))
            i++;
        size_t start = i;
        while (i < v.len && v.p[i] != ',')
            i++;
        size_t end = i;
        while (end > start && (v.p[end - 1] == ' ' || v.p[end - 1] == '\t'))
            end--;
        if (end > start && http_str_ieq(v.p + start, end - start, token))
            return true;
    }
    return false;
}

/* Parses a Content-Length value: digits only, no overflow. */
static int parse_length(struct http_str v, int64_t *out)
{
    size_t i = 0;
    uint64_t n;

    if (lex_decimal(v.p, v.len, &i, INT64_MAX, &n) < 0 || i != v.len)
        return -1;
    *out = (int64_t)n;
    return 0;
}

/* How many codings of a Transfer-Encoding list te_codings compares for
 * repeats; a longer list is refused rather than compared pairwise. */
#define TE_MAX_CODINGS 8

/* Judges a Transfer-Encoding value (RFC 9112 section 6.1): a list of
 * transfer-coding = token *( OWS ";" OWS parameter ). We decode chunked
 * only, so the one list we take is exactly "chunked" (any case).
 * Returns 0 for that; 400 for a list that is malformed (an empty element,
 * a byte that is no token, parameters on chunked, more than TE_MAX_CODINGS
 * elements), repeats a coding, or does not end in exactly one chunked
 * (section 6.3 makes that 400, before anything else about the codings);
 * 501 for a list that ends in chunked but also names a coding we do not
 * implement, "identity" included (section 6.1: 501). */
static int te_codings(struct http_str v)
{
    struct http_str seen[TE_MAX_CODINGS];
    size_t n = 0, i = 0;
    bool chunked = false, unknown = false;

    for (;;) {
        while (i < v.len && (v.p[i] == ' ' || v.p[i] == '\t'))
            i++;
        size_t start = i;
        while (i < v.len && is_tchar((unsigned char)v.p[i]))
            i++;
        struct http_str tok = {v.p + start, i - start};
        bool is_chunked = http_str_ieq(tok.p, tok.len, "chunked");
        if (tok.len == 0 || n == TE_MAX_CODINGS || chunked)
            return 400; /* empty element, not a token, too long, or after chunked */
        for (size_t k = 0; k < n; k++)
            if (seen[k].len == tok.len && strncasecmp(seen[k].p, tok.p, tok.len) == 0)
                return 400; /* a repeated coding */
        seen[n++] = tok;
        while (i < v.len && (v.p[i] == ' ' || v.p[i] == '\t'))
            i++;
        if (i < v.len && v.p[i] == ';') {
            if (is_chunked)
                return 400; /* chunked takes no parameters */
            /* Parameters of a coding we refuse anyway: skip to the next
             * comma; a comma inside a quoted value can only make the
             * answer 400 instead of 501, never acceptance. */
            while (i < v.len && v.p[i] != ',')
                i++;
        }
        chunked = is_chunked;
        unknown = unknown || !is_chunked;
        if (i == v.len)
            break;
        if (v.p[i] != ',')
            return 400;
        i++;
    }
    if (!chunked)
        return 400;
    return unknown ? 501 : 0;
}

int http_analyse(const struct http_request *req, struct http_info *info)
{
    bool has_cl = false, close = false, keep = false;
    size_t te_lines = 0;
    struct http_str te = {NULL, 0};
    int hosts = 0;

    memset(info, 0, sizeof *info);
    info->content_length = -1;
    for (size_t i = 0; i < req->nheaders; i++) {
        const struct http_header *h = &req->headers[i];
        const char *n = h->name.p;
        size_t nl = h->name.len;

        if (http_str_ieq(n, nl, "content-length")) {
            if (has_cl || parse_length(h->value, &info->content_length) < 0)
                return 400;
            has_cl = true;
        } else if (http_str_ieq(n, nl, "transfer-encoding")) {
            te_lines++;
            te = h->value;
        } else if (http_str_ieq(n, nl, "host")) {
            hosts++;
            info->host = h->value;
        } else if (http_str_ieq(n, nl, "connection")) {
            close = close || http_list_has(h->value, "close");
            keep = keep || http_list_has(h->value, "keep-alive");
        } else if (http_str_ieq(n, nl, "if-none-match")) {
            info->if_none_match = h->value;
        } else if (http_str_ieq(n, nl, "if-modified-since")) {
            info->if_modified_since = h->value;
        } else if (http_str_ieq(n, nl, "range")) {
            info->range = h->value;
        } else if (http_str_ieq(n, nl, "if-range")) {
            info->if_range = h->value;
        } else if (http_str_ieq(n, nl, "expect")) {
            info->expect_continue = http_str_ieq(h->value.p, h->value.len, "100-continue");
        }
    }
    info->te_present = te_lines > 0;
    if (te_lines > 0) {
        /* RFC 9112 section 6.1: Transfer-Encoding in an HTTP/1.0 request
         * means faulty framing. Two field lines would form one list, but
         * no client of ours sends that, and a front end may read only one
         * of them: refuse. Content-Length beside it is a smuggling attempt
         * (section 6.3 lets us refuse). */
        if (te_lines > 1 || req->minor == 0 || has_cl)
            return 400;
        int st = te_codings(te);
        if (st != 0)
            return st;
        info->chunked = true;
    }
    if (hosts > 1 || (req->minor == 1 && hosts == 0))
        return 400;
    info->keep_alive = !close && (req->minor == 1 || keep);
    return 0;
}

bool http_target_path(struct http_str target, struct http_str *path)
{
    if (target.len > 0 && target.p[0] == '/') {
        *path = target;
        return true;
    }
    size_t skip;
    if (target.len >= 7 && strncasecmp(target.p, "http://", 7) == 0)
        skip = 7;
    else if (target.len >= 8 && strncasecmp(target.p, "https://", 8) == 0)
        skip = 8;
    else
        return false;
    size_t k = skip;
    while (k < target.len && target.p[k] != '/' && target.p[k] != '?' && target.p[k] != '#')
        k++;
    const char *slash = k < target.len && target.p[k] == '/' ? target.p + k : NULL;
    if (slash == NULL) {
        *path = (struct http_str){"/", 1};
        return true;
    }
    *path = (struct http_str){slash, target.len - (size_t)(slash - target.p)};
    return true;
}

const char *http_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 207: return "Multi-Status";
    case 301: return "Moved Permanently";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    case 507: return "Insufficient Storage";
    default: return "Unknown";
    }
}
