/* davprop: live-property table, dead-property keys and sidecar records. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "proto/davprop.h"

static const char *const live_names[DAVPROP_NLIVE] = {
    [DAVPROP_CREATIONDATE] = "creationdate",
    [DAVPROP_DISPLAYNAME] = "displayname",
    [DAVPROP_GETCONTENTLENGTH] = "getcontentlength",
    [DAVPROP_GETCONTENTTYPE] = "getcontenttype",
    [DAVPROP_GETETAG] = "getetag",
    [DAVPROP_GETLASTMODIFIED] = "getlastmodified",
    [DAVPROP_RESOURCETYPE] = "resourcetype",
    [DAVPROP_SUPPORTEDLOCK] = "supportedlock",
    [DAVPROP_LOCKDISCOVERY] = "lockdiscovery",
    [DAVPROP_QUOTA_AVAILABLE] = "quota-available-bytes",
    [DAVPROP_QUOTA_USED] = "quota-used-bytes",
};

const char *davprop_live_name(enum davprop_live p)
{
    return p < DAVPROP_NLIVE ? live_names[p] : "";
}

int davprop_live_find(const char *ns, const char *name)
{
    if (strcmp(ns, "DAV:") != 0)
        return -1;
    for (int i = 0; i < DAVPROP_NLIVE; i++)
        if (strcmp(live_names[i], name) == 0)
            return i;
    return -1;
}

bool davprop_live_applies(enum davprop_live p, bool dir)
{
    if (!dir)
        return true;
    return p != DAVPROP_GETCONTENTLENGTH && p != DAVPROP_GETCONTENTTYPE && p != DAVPROP_GETETAG;
}

bool davprop_live_in_allprop(enum davprop_live p)
{
    return p != DAVPROP_QUOTA_AVAILABLE && p != DAVPROP_QUOTA_USED;
}

long davprop_key(const char *ns, const char *name, char *out, size_t outsz)
{
    if (name[0] == '\0' || strchr(name, '}') != NULL)
        return -EINVAL;
    int n = snprintf(out, outsz, "%s{%s}%s", DAVPROP_XATTR_PREFIX, ns, name);
    if (n < 0 || (size_t)n >= outsz || n > DAVPROP_XATTR_NAME_MAX)
        return -ENAMETOOLONG;
    return n;
}

int davprop_key_split(char *key, const char **ns, const char **name)
{
    char *close = strrchr(key, '}');

    if (key[0] != '{' || close == NULL || close[1] == '\0')
        return -EINVAL;
    *close = '\0';
    *ns = key + 1;
    *name = close + 1;
    return 0;
}

int davprop_rec_next(const char *p, size_t len, size_t *off, struct davprop_rec *r)
{
    const char *f[3];
    size_t flen[3];
    size_t o = *off;

    if (o >= len)
        return 0;
    for (int i = 0; i < 3; i++) {
        const char *nul = memchr(p + o, '\0', len - o);
        if (nul == NULL)
            return -EINVAL;
        f[i] = p + o;
        flen[i] = (size_t)(nul - (p + o));
        o += flen[i] + 1;
    }
    if (flen[0] < 3 || f[0][0] != '{' || memchr(f[0], '}', flen[0]) == NULL)
        return -EINVAL;
    r->key = f[0];
    r->lang = f[1];
    r->value = f[2];
    r->value_len = flen[2];
    *off = o;
    return 1;
}
