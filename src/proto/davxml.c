/* davxml: WebDAV request bodies through expat, and multistatus pieces.
 * Why expat, and what is refused: davxml.h. */
#include <errno.h>
#include <expat.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "proto/davxml.h"

#define NS_SEP ' ' /* expat's separator between namespace URI and local name */

/* Where the parse is, for what the next element means. */
enum ctx {
    C_TOP,     /* before the root */
    C_ROOT,    /* inside the root (propfind, propertyupdate, lockinfo) */
    C_NAMES,   /* inside propfind's prop or include: each child is a name */
    C_UPDATE,  /* inside propertyupdate's set or remove */
    C_SETPROP, /* inside set's or remove's prop: each child is a property */
    C_SCOPE,   /* inside lockscope */
    C_TYPE,    /* inside locktype */
    C_CAPTURE, /* inside a property's value or the owner: kept as text */
    C_SKIP,    /* inside an element we do not know: ignored with its content */
};

struct parse {
    XML_Parser xp;
    struct davxml_req *r;
    int err;                            /* the first error; ends the parse */
    size_t depth;                       /* elements open */
    size_t elems;                       /* elements seen */
    enum ctx ctx[DAVXML_DEPTH_MAX + 1]; /* ctx[d]: inside the element at depth d */
    bool remove;                        /* C_UPDATE: inside <remove> */
    bool seen_find;                     /* PROPFIND: allprop, propname or prop given */
    size_t cap_depth; /* C_CAPTURE: the depth of the element whose content is kept */
    /* C_CAPTURE: the default namespace in force at each depth of the kept
     * text (an offset into nsbuf, or SIZE_MAX: none), and nsbuf's top
     * before that depth's element pushed its own */
    size_t cap_ns[DAVXML_DEPTH_MAX + 1];
    size_t ns_top[DAVXML_DEPTH_MAX + 1];
    size_t nsused;
    char nsbuf[8192];
    size_t cap_start;        /* arena offset where the kept text starts */
    struct davxml_prop *cur; /* the property whose value is kept; NULL: the owner */
};

static void fail(struct parse *p, int err)
{
    if (p->err == 0) {
        p->err = err;
        XML_StopParser(p->xp, XML_FALSE);
    }
}

/* Appends n bytes to the arena; false (and the parse fails) when full. */
static bool put(struct parse *p, const char *s, size_t n)
{
    struct davxml_req *r = p->r;

    if (n > sizeof r->arena - r->used) {
        fail(p, -E2BIG);
        return false;
    }
    memcpy(r->arena + r->used, s, n);
    r->used += n;
    return true;
}

static bool puts_(struct parse *p, const char *s)
{
    return put(p, s, strlen(s));
}

/* Appends s escaped (davxml_escape's rules) to the arena. */
static bool put_escaped(struct parse *p, const char *s, size_t n)
{
    struct davxml_req *r = p->r;
    struct buf b;

    buf_init_fixed(&b, r->arena + r->used, sizeof r->arena - r->used);
    if (davxml_escape(&b, s, n) < 0) {
        fail(p, -E2BIG);
        return false;
    }
    r->used += buf_len(&b);
    return true;
}

/* Keeps s NUL-terminated in the arena; NULL when full. */
static const char *keep(struct parse *p, const char *s, size_t n)
{
    const char *at = p->r->arena + p->r->used;

    if (!put(p, s, n) || !put(p, "", 1))
        return NULL;
    return at;
}

/* Splits an expat name "uri local" (or "local": no namespace). */
static void split(const char *qn, const char **ns, size_t *nslen, const char **local)
{
    const char *sp = strrchr(qn, NS_SEP);

    if (sp == NULL) {
        *ns = "";
        *nslen = 0;
        *local = qn;
    } else {
        *ns = qn;
        *nslen = (size_t)(sp - qn);
        *local = sp + 1;
    }
}

/* Whether expat's name qn is DAV:local. */
static bool is_dav(const char *qn, const char *local)
{
    size_t n = sizeof DAVXML_NS - 1;

    return strncmp(qn, DAVXML_NS, n) == 0 && qn[n] == NS_SEP && strcmp(qn + n + 1, local) == 0;
}

/* The attribute xml:lang among expat's attrs, or NULL. */
static const char *lang_of(const XML_Char **attrs)
{
    for (size_t i = 0; attrs[i] != NULL; i += 2)
        if (strcmp(attrs[i], DAVXML_XML_NS " lang") == 0)
            return attrs[i + 1];
    return NULL;
}

/* A property named by qn: a new entry in r->props, its names kept. */
static struct davxml_prop *new_prop(struct parse *p, const char *qn, const XML_Char **attrs)
{
    struct davxml_req *r = p->r;
    const char *ns, *local;
    size_t nslen;

    if (r->nprops == DAVXML_PROPS_MAX) {
        fail(p, -E2BIG);
        return NULL;
    }
    split(qn, &ns, &nslen, &local);
    struct davxml_prop *pr = &r->props[r->nprops];
    *pr = (struct davxml_prop){.value = ""};
    pr->ns = keep(p, ns, nslen);
    pr->name = keep(p, local, strlen(local));
    const char *lang = lang_of(attrs);
    if (lang != NULL)
        pr->lang = keep(p, lang, strlen(lang));
    if (pr->ns == NULL || pr->name == NULL || (lang != NULL && pr->lang == NULL))
        return NULL;
    r->nprops++;
    return pr;
}

/* Writes the start tag of an element inside kept text. */
static void capture_start(struct parse *p, const char *qn, const XML_Char **attrs)
{
    const char *ns, *local;
    size_t nslen;
    size_t d = p->depth; /* the new element's depth */

    split(qn, &ns, &nslen, &local);
    size_t in_force = p->cap_ns[d - 1];
    const char *cur = in_force == SIZE_MAX ? "" : p->nsbuf + in_force;
    p->cap_ns[d] = in_force;
    p->ns_top[d] = p->nsused;
    if (!put(p, "<", 1) || !puts_(p, local))
        return;
    if (strlen(cur) != nslen || memcmp(cur, ns, nslen) != 0) {
        /* The namespace changes here: declared, and kept for the children. */
        if (!puts_(p, " xmlns=\"") || !put_escaped(p, ns, nslen) || !put(p, "\"", 1))
            return;
        if (nslen + 1 > sizeof p->nsbuf - p->nsused) {
            fail(p, -E2BIG);
            return;
        }
        memcpy(p->nsbuf + p->nsused, ns, nslen);
        p->nsbuf[p->nsused + nslen] = '\0';
        p->cap_ns[d] = p->nsused;
        p->nsused += nslen + 1;
    }
    for (size_t i = 0, k = 0; attrs[i] != NULL; i += 2) {
        const char *ans, *alocal;
        size_t anslen;
        char pfx[16];
        split(attrs[i], &ans, &anslen, &alocal);
        if (!put(p, " ", 1))
            return;
        if (anslen == sizeof DAVXML_XML_NS - 1 && memcmp(ans, DAVXML_XML_NS, anslen) == 0) {
            if (!puts_(p, "xml:"))
                return;
        } else if (anslen > 0) {
            int n = snprintf(pfx, sizeof pfx, "a%zu", k++);
            if (!puts_(p, "xmlns:") || !put(p, pfx, (size_t)n) || !puts_(p, "=\"") ||
                !put_escaped(p, ans, anslen) || !puts_(p, "\" ") || !put(p, pfx, (size_t)n) ||
                !put(p, ":", 1))
                return;
        }
        if (!puts_(p, alocal) || !puts_(p, "=\"") ||
            !put_escaped(p, attrs[i + 1], strlen(attrs[i + 1])) || !put(p, "\"", 1))
            return;
    }
    put(p, ">", 1);
}

static void XMLCALL on_start(void *ud, const XML_Char *qn, const XML_Char **attrs)
{
    struct parse *p = ud;
    struct davxml_req *r = p->r;

    if (p->err != 0)
        return;
    if (++p->elems > DAVXML_ELEMS_MAX || p->depth + 1 > DAVXML_DEPTH_MAX) {
        fail(p, -E2BIG);
        return;
    }
    enum ctx in = p->ctx[p->depth];
    enum ctx next = C_SKIP;
    p->depth++;
    switch (in) {
    case C_TOP:
        if ((r->kind == DAVXML_PROPFIND && is_dav(qn, "propfind")) ||
            (r->kind == DAVXML_PROPPATCH && is_dav(qn, "propertyupdate")) ||
            (r->kind == DAVXML_LOCKINFO && is_dav(qn, "lockinfo")))
            next = C_ROOT;
        else
            fail(p, -EBADMSG);
        break;
    case C_ROOT:
        if (r->kind == DAVXML_PROPFIND) {
            bool all = is_dav(qn, "allprop"), names = is_dav(qn, "propname");
            bool prop = is_dav(qn, "prop"), incl = is_dav(qn, "include");
            if (all || names || prop) {
                if (p->seen_find) {
                    fail(p, -EBADMSG);
                    break;
                }
                p->seen_find = true;
                r->find = all ? DAVXML_ALLPROP : names ? DAVXML_PROPNAME : DAVXML_PROP;
            }
            if (prop || incl)
                next = C_NAMES;
        } else if (r->kind == DAVXML_PROPPATCH) {
            if (is_dav(qn, "set") || is_dav(qn, "remove")) {
                p->remove = is_dav(qn, "remove");
                next = C_UPDATE;
            }
        } else if (is_dav(qn, "lockscope")) {
            next = C_SCOPE;
        } else if (is_dav(qn, "locktype")) {
            next = C_TYPE;
        } else if (is_dav(qn, "owner")) {
            p->cur = NULL;
            p->cap_depth = p->depth;
            p->cap_ns[p->depth] = SIZE_MAX;
            p->nsused = 0;
            p->cap_start = r->used;
            next = C_CAPTURE;
        }
        break;
    case C_NAMES:
        new_prop(p, qn, attrs);
        break; /* its content, if any, is ignored */
    case C_UPDATE:
        if (is_dav(qn, "prop"))
            next = C_SETPROP;
        break;
    case C_SETPROP: {
        struct davxml_prop *pr = new_prop(p, qn, attrs);
        if (pr == NULL)
            break;
        pr->remove = p->remove;
        p->cur = pr;
        p->cap_depth = p->depth;
        p->cap_ns[p->depth] = SIZE_MAX;
        p->nsused = 0;
        p->cap_start = r->used;
        next = C_CAPTURE;
        break;
    }
    case C_SCOPE:
        if (is_dav(qn, "exclusive"))
            r->scope = DAVXML_EXCLUSIVE;
        else if (is_dav(qn, "shared"))
            r->scope = DAVXML_SHARED;
        break;
    case C_TYPE:
        if (is_dav(qn, "write"))
            r->write = true;
        break;
    case C_CAPTURE:
        capture_start(p, qn, attrs);
        next = C_CAPTURE;
        break;
    case C_SKIP:
        break;
    }
    p->ctx[p->depth] = next;
}

/* The kept text is complete: NUL-terminated, given to the property or
 * the owner. */
static void capture_end(struct parse *p)
{
    struct davxml_req *r = p->r;
    const char *start = r->arena + p->cap_start;
    size_t len = r->used - p->cap_start;

    if (!put(p, "", 1))
        return;
    if (p->cur != NULL) {
        p->cur->value = start;
        p->cur->value_len = len;
    } else {
        r->owner = start;
        r->owner_len = len;
    }
}

static void XMLCALL on_end(void *ud, const XML_Char *qn)
{
    struct parse *p = ud;

    if (p->err != 0)
        return;
    if (p->ctx[p->depth] == C_CAPTURE && p->depth > p->cap_depth) {
        const char *ns, *local;
        size_t nslen;
        split(qn, &ns, &nslen, &local);
        if (put(p, "</", 2) && puts_(p, local))
            put(p, ">", 1);
        p->nsused = p->ns_top[p->depth];
    } else if (p->ctx[p->depth] == C_CAPTURE && p->depth == p->cap_depth) {
        capture_end(p);
    }
    p->depth--;
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
    struct parse *p = ud;

    if (p->err == 0 && p->depth > 0 && p->ctx[p->depth] == C_CAPTURE && len > 0)
        put_escaped(p, s, (size_t)len);
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal)
{
    fail(ud, -EPERM);
}

static void XMLCALL on_entity(void *ud, const XML_Char *name, int pe, const XML_Char *value,
                              int vlen, const XML_Char *base, const XML_Char *sysid,
                              const XML_Char *pubid, const XML_Char *notation)
{
    fail(ud, -EPERM);
}

static int XMLCALL on_external(XML_Parser xp, const XML_Char *ctx, const XML_Char *base,
                               const XML_Char *sysid, const XML_Char *pubid)
{
    return XML_STATUS_ERROR; /* never loaded (and never reached: no DOCTYPE) */
}

/* Whether s[0..n) is only XML white space. */
static bool blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return false;
    return true;
}

/* The checks on a whole body of its kind. */
static int check_whole(const struct parse *p)
{
    const struct davxml_req *r = p->r;

    switch (r->kind) {
    case DAVXML_PROPFIND:
        return 0; /* a propfind with none of the three is taken as allprop */
    case DAVXML_PROPPATCH:
        return r->nprops > 0 ? 0 : -EBADMSG;
    case DAVXML_LOCKINFO:
        return r->scope != DAVXML_SCOPE_NONE && r->write ? 0 : -EBADMSG;
    }
    return -EBADMSG;
}

int davxml_parse(enum davxml_kind kind, const char *body, size_t len, struct davxml_req *out)
{
    struct parse p = {.r = out};

    out->kind = kind;
    out->empty = false;
    out->find = DAVXML_ALLPROP;
    out->nprops = 0;
    out->scope = DAVXML_SCOPE_NONE;
    out->write = false;
    out->owner = NULL;
    out->owner_len = 0;
    out->used = 0;
    if (len > DAVXML_BODY_MAX)
        return -E2BIG;
    if (blank(body, len)) {
        out->empty = true;
        return kind == DAVXML_PROPPATCH ? -EBADMSG : 0;
    }
    p.xp = XML_ParserCreateNS(NULL, NS_SEP);
    if (p.xp == NULL)
        return -ENOMEM;
    p.ctx[0] = C_TOP;
    XML_SetUserData(p.xp, &p);
    XML_SetElementHandler(p.xp, on_start, on_end);
    XML_SetCharacterDataHandler(p.xp, on_text);
    XML_SetStartDoctypeDeclHandler(p.xp, on_doctype);
    XML_SetEntityDeclHandler(p.xp, on_entity);
    XML_SetExternalEntityRefHandler(p.xp, on_external);
    XML_SetParamEntityParsing(p.xp, XML_PARAM_ENTITY_PARSING_NEVER);
    enum XML_Status st = XML_Parse(p.xp, body, (int)len, XML_TRUE);
    XML_ParserFree(p.xp);
    if (p.err != 0)
        return p.err;
    if (st != XML_STATUS_OK)
        return -EBADMSG;
    return check_whole(&p);
}

int davxml_escape(struct buf *out, const char *s, size_t len)
{
    size_t from = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        const char *rep = NULL;
        switch (ch) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&apos;";
            break;
        case '\r':
            rep = "&#13;"; /* else a parser turns it into LF */
            break;
        default:
            if (ch < 0x20 && ch != '\t' && ch != '\n')
                rep = ""; /* XML 1.0 cannot carry it */
            break;
        }
        if (rep == NULL)
            continue;
        int rc = buf_append(out, s + from, i - from);
        if (rc == 0)
            rc = buf_puts(out, rep);
        if (rc < 0)
            return rc;
        from = i + 1;
    }
    return buf_append(out, s + from, len - from);
}

int davxml_href(struct buf *out, const char *rel, bool dir)
{
    static const char hex[] = "0123456789ABCDEF";
    bool root = strcmp(rel, ".") == 0;
    int rc = buf_puts(out, "/");

    for (const char *q = rel; rc == 0 && !root && *q != '\0'; q++) {
        unsigned char ch = (unsigned char)*q;
        bool plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                     (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' || ch == '~' ||
                     ch == '/';
        if (plain) {
            rc = buf_append(out, q, 1);
        } else {
            char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};
            rc = buf_append(out, e, 3);
        }
    }
    if (rc == 0 && dir && !root)
        rc = buf_puts(out, "/");
    return rc;
}

int davxml_prop_open(struct buf *out, const char *ns, const char *name, bool empty)
{
    int rc;

    if (strcmp(ns, DAVXML_NS) == 0) {
        rc = buf_printf(out, "<D:%s", name);
    } else if (ns[0] == '\0') {
        rc = buf_printf(out, "<%s xmlns=\"\"", name);
    } else {
        rc = buf_printf(out, "<P:%s xmlns:P=\"", name);
        if (rc == 0)
            rc = davxml_escape(out, ns, strlen(ns));
        if (rc == 0)
            rc = buf_puts(out, "\"");
    }
    if (rc == 0)
        rc = buf_puts(out, empty ? "/>" : ">");
    return rc;
}

int davxml_prop_close(struct buf *out, const char *ns, const char *name)
{
    if (strcmp(ns, DAVXML_NS) == 0)
        return buf_printf(out, "</D:%s>", name);
    if (ns[0] == '\0')
        return buf_printf(out, "</%s>", name);
    return buf_printf(out, "</P:%s>", name);
}
