#include "proto/http.h"
#include "proto/lex.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

static int parse_length(struct http_str v, int64_t *out);
static bool ends_in_chunked(struct http_str v);

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

/* Target bytes: visible ASCII and obs-text; no space or control. */
static bool is_target_char(unsigned char c)
{
    return c > 0x20 && c != 0x7f;
}

static const struct {
    const char *name;
    enum http_method m;
} methods[] = {
    {"GET", HTTP_GET},         {"HEAD", HTTP_HEAD},   {"POST", HTTP_POST},
    {"PUT", HTTP_PUT},         {"DELETE", HTTP_DELETE}, {"OPTIONS", HTTP_OPTIONS},
    {"PATCH", HTTP_PATCH},     {"TRACE", HTTP_TRACE}, {"CONNECT", HTTP_CONNECT},
};

enum http_method http_method_parse(const char *s, size_t len)
{
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (strlen(methods[i].name) == len && memcmp(methods[i].name, s, len) == 0)
            return methods[i].m;
    return HTTP_OTHER;
}

/* Finds the end of the line starting at p: returns the index of its LF
 * (which may follow a CR) or -1 when the buffer ends first. *eol_len gets
 * the length of the line without CR LF. */
static ssize_t line_end(const char *buf, size_t pos, size_t len, size_t *content_end)
{
    const char *lf = memchr(buf + pos, '\n', len - pos);
    if (lf == NULL)
        return -1;
    size_t i = (size_t)(lf - buf);
    *content_end = (i > pos && buf[i - 1] == '\r') ? i - 1 : i;
    return (ssize_t)i;
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

static int parse_header_line(const char *s, size_t len, struct http_header *h)
{
    size_t i = 0;

    while (i < len && is_tchar((unsigned char)s[i]))
        i++;
    /* No name, white space before the colon, or obs-fold: all refused. */
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

ssize_t http_parse_request(const char *buf, size_t len, struct http_request *req, int *status)
{
    size_t pos = 0, cend;
    ssize_t lf;

    /* RFC 9112 section 2.2: ignore empty lines before the request line. */
    while (pos < len && (buf[pos] == '\r' || buf[pos] == '\n')) {
        if (buf[pos] == '\r' && (pos + 1 >= len || buf[pos + 1] != '\n')) {
            if (pos + 1 >= len)
                return HTTP_PARSE_INCOMPLETE;
            *status = 400;
            return HTTP_PARSE_INVALID;
        }
        pos += buf[pos] == '\r' ? 2 : 1;
    }
    lf = line_end(buf, pos, len, &cend);
    if (lf < 0)
        return HTTP_PARSE_INCOMPLETE;
    *status = parse_request_line(buf + pos, cend - pos, req);
    if (*status != 0)
        return HTTP_PARSE_INVALID;
    req->nheaders = 0;
    pos = (size_t)lf + 1;
    for (;;) {
        lf = line_end(buf, pos, len, &cend);
        if (lf < 0)
            return HTTP_PARSE_INCOMPLETE;
        if (cend == pos)
            return lf + 1;
        if (req->nheaders == HTTP_MAX_HEADERS) {
            *status = 431;
            return HTTP_PARSE_INVALID;
        }
        *status = parse_header_line(buf + pos, cend - pos, &req->headers[req->nheaders]);
        if (*status != 0)
            return HTTP_PARSE_INVALID;
        req->nheaders++;
        pos = (size_t)lf + 1;
    }
}

ssize_t http_parse_response(const char *buf, size_t len, struct http_response *res)
{
    size_t cend;
    ssize_t lf = line_end(buf, 0, len, &cend);
    int status;

    if (lf < 0)
        return len > 0 && (len < 5 ? memcmp(buf, "HTTP/", len) : memcmp(buf, "HTTP/", 5)) != 0
                   ? HTTP_PARSE_INVALID
                   : HTTP_PARSE_INCOMPLETE;
    /* "HTTP/1.1 200 OK": version, space, three digits, then a space and a
     * reason that may be empty (or missing altogether from old servers). */
    if (cend < 12 || memcmp(buf, "HTTP/1.", 7) != 0 || (buf[7] != '0' && buf[7] != '1') ||
        buf[8] != ' ')
        return HTTP_PARSE_INVALID;
    res->minor = buf[7] - '0';
    res->status = 0;
    for (int i = 9; i < 12; i++) {
        if (buf[i] < '0' || buf[i] > '9')
            return HTTP_PARSE_INVALID;
        res->status = res->status * 10 + (buf[i] - '0');
    }
    if (cend > 12 && buf[12] != ' ')
        return HTTP_PARSE_INVALID;
    res->reason = cend > 13 ? (struct http_str){buf + 13, cend - 13} : (struct http_str){buf, 0};
    for (size_t i = 0; i < res->reason.len; i++)
        if (!is_vchar((unsigned char)res->reason.p[i]))
            return HTTP_PARSE_INVALID; /* no escape sequences onto a terminal */
    res->nheaders = 0;
    size_t pos = (size_t)lf + 1;
    for (;;) {
        lf = line_end(buf, pos, len, &cend);
        if (lf < 0)
            return HTTP_PARSE_INCOMPLETE;
        if (cend == pos)
            return lf + 1;
        if (res->nheaders == HTTP_MAX_HEADERS)
            return HTTP_PARSE_INVALID;
        status = parse_header_line(buf + pos, cend - pos, &res->headers[res->nheaders]);
        if (status != 0)
            return HTTP_PARSE_INVALID;
        res->nheaders++;
        pos = (size_t)lf + 1;
    }
}

int http_analyse_response(const struct http_response *res, struct http_resp_info *info)
{
    bool has_te = false;

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
            has_te = true;
            info->chunked = ends_in_chunked(h->value);
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
    if (has_te && !info->chunked)
        return -EBADMSG;
    if (has_te)
        info->content_length = -1; /* RFC 9112 6.3: chunked wins */
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

enum { CH_SIZE, CH_EXT, CH_DATA, CH_DATA_END, CH_TRAILER, CH_DONE };

ssize_t http_chunked_decode(struct http_chunked *c, char *buf, size_t *len)
{
    size_t in = 0, out = 0, n = *len;

    while (in < n) {
        char ch = buf[in];
        switch (c->state) {
        case CH_SIZE: {
            int d = lex_hex_digit(ch);
            if (d >= 0) {
                if (c->left > (UINT64_MAX >> 4) || ++c->line > 16)
                    return HTTP_PARSE_INVALID;
                c->left = c->left * 16 + (uint64_t)d;
                in++;
                break;
            }
            if (c->line == 0 || (ch != ';' && ch != ' ' && ch != '\t' && ch != '\r' && ch != '\n'))
                return HTTP_PARSE_INVALID;
            c->state = CH_EXT;
            break;
        }
        case CH_EXT: /* chunk extensions are ignored up to the LF */
            in++;
            if (ch == '\n') {
                c->line = 0;
                c->state = c->left > 0 ? CH_DATA : CH_TRAILER;
            } else if (++c->line > 4096) {
                return HTTP_PARSE_INVALID;
            }
            break;
        case CH_DATA: {
            size_t take = n - in;
            if (take > c->left)
                take = (size_t)c->left;
            memmove(buf + out, buf + in, take);
            out += take;
            in += take;
            c->left -= take;
            if (c->left == 0)
                c->state = CH_DATA_END;
            break;
        }
        case CH_DATA_END: /* CR LF after the data */
            in++;
            if (ch == '\n') {
                c->state = CH_SIZE;
                c->line = 0;
            } else if (ch != '\r') {
                return HTTP_PARSE_INVALID;
            }
            break;
        case CH_TRAILER: /* trailer lines until an empty one */
            in++;
            if (ch == '\n') {
                if (c->line == 0) {
                    c->state = CH_DONE;
                    *len = out;
                    return (ssize_t)(n - in);
                }
                c->line = 0;
            } else if (ch != '\r' || c->line > 0) {
                if (++c->line > 4096)
                    return HTTP_PARSE_INVALID;
            }
            break;
        default:
            return HTTP_PARSE_INVALID;
        }
    }
    *len = out;
    return c->state == CH_DONE ? 0 : HTTP_PARSE_INCOMPLETE;
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

/* True when the last coding in a Transfer-Encoding list is chunked. */
static bool ends_in_chunked(struct http_str v)
{
    size_t end = v.len;
    while (end > 0 && (v.p[end - 1] == ' ' || v.p[end - 1] == '\t' || v.p[end - 1] == ','))
        end--;
    size_t start = end;
    while (start > 0 && v.p[start - 1] != ',' && v.p[start - 1] != ' ' && v.p[start - 1] != '\t')
        start--;
    return http_str_ieq(v.p + start, end - start, "chunked");
}

int http_analyse(const struct http_request *req, struct http_info *info)
{
    bool has_cl = false, has_te = false, close = false, keep = false;
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
            /* Several Transfer-Encoding lines form one list; the last
             * line's last coding is the one that must be chunked. */
            has_te = true;
            info->chunked = ends_in_chunked(h->value);
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
    if (has_cl && has_te)
        return 400;
    if (has_te && !info->chunked)
        return 400;
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
    case 301: return "Moved Permanently";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 416: return "Range Not Satisfiable";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    case 507: return "Insufficient Storage";
    default: return "Unknown";
    }
}
