#include "proto/httpdate.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil), so no time zone or locale is consulted. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void httpdate_format(time_t t, char out[HTTPDATE_LEN + 1])
{
    struct tm tm;

    char tmp[64];

    gmtime_r(&t, &tm);
    /* Years past 9999 do not fit the format; they never reach us from a
     * real file system, and are cut rather than overflow. */
    snprintf(tmp, sizeof tmp, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
             months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    memcpy(out, tmp, HTTPDATE_LEN);
    out[HTTPDATE_LEN] = '\0';
}

static int month_index(const char *s)
{
    for (int i = 0; i < 12; i++)
        if (memcmp(s, months[i], 3) == 0)
            return i;
    return -1;
}

/* Reads exactly n digits. */
static bool digits(const char *s, size_t n, int *v)
{
    *v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        *v = *v * 10 + (s[i] - '0');
    }
    return true;
}

static bool parse_clock(const char *s, int *h, int *mi, int *se)
{
    return digits(s, 2, h) && s[2] == ':' && digits(s + 3, 2, mi) && s[5] == ':' &&
           digits(s + 6, 2, se) && *h < 24 && *mi < 60 && *se <= 60;
}

int httpdate_parse(const char *s, size_t len, time_t *t)
{
    int d, mon, y, h, mi, se;
    char buf[64];

    if (len >= sizeof buf)
        return -EINVAL;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (len == 29 && buf[3] == ',' && buf[4] == ' ' && buf[7] == ' ' && buf[11] == ' ' &&
        buf[16] == ' ' && memcmp(buf + 25, " GMT", 4) == 0) {
        /* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
        mon = month_index(buf + 8);
        if (!digits(buf + 5, 2, &d) || !digits(buf + 12, 4, &y) || !parse_clock(buf + 17, &h, &mi, &se))
            return -EINVAL;
    } else if (len == 24 && buf[3] == ' ' && buf[7] == ' ' && buf[10] == ' ' && buf[19] == ' ') {
        /* asctime: "Sun Nov  6 08:49:37 1994" */
        mon = month_index(buf + 4);
        if (buf[8] == ' ')
            buf[8] = '0';
        if (!digits(buf + 8, 2, &d) || !parse_clock(buf + 11, &h, &mi, &se) || !digits(buf + 20, 4, &y))
            return -EINVAL;
    } else {
        /* RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT" */
        const char *c = strchr(buf, ',');
        if (c == NULL || strlen(c) != 24 || c[1] != ' ' || c[4] != '-' || c[8] != '-' ||
            c[11] != ' ' || strcmp(c + 20, " GMT") != 0)
            return -EINVAL;
        mon = month_index(c + 5);
        if (!digits(c + 2, 2, &d) || !digits(c + 9, 2, &y) || !parse_clock(c + 12, &h, &mi, &se))
            return -EINVAL;
        y += y < 70 ? 2000 : 1900;
    }
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mon < 0 || d < 1 || d > mdays[mon] + (mon == 1 && leap))
        return -EINVAL;
    int64_t secs = days_from_civil(y, (unsigned)mon + 1, (unsigned)d) * 86400 + h * 3600 + mi * 60 + se;
    *t = (time_t)secs;
    return 0;
}
