/* Unit tests for proto/httpdate: formatting, the three date forms, round
 * trips and invalid dates. */
#include "unit.h"

#include <errno.h>
#include <stdio.h>

#include "proto/httpdate.h"

struct format_case {
    const char *name;
    time_t t;
    const char *want;
};

static const struct format_case format_cases[] = {
    {"format: epoch", 0, "Thu, 01 Jan 1970 00:00:00 GMT"},
    {"format: RFC example", 784111777, "Sun, 06 Nov 1994 08:49:37 GMT"},
    {"format: one second before the epoch", -1, "Wed, 31 Dec 1969 23:59:59 GMT"},
    {"format: 1900", -2208988800, "Mon, 01 Jan 1900 00:00:00 GMT"},
    {"format: leap day 2000", 951825600, "Tue, 29 Feb 2000 12:00:00 GMT"},
    {"format: leap day 2024", 1709251199, "Thu, 29 Feb 2024 23:59:59 GMT"},
    {"format: past 2^31", 2147483648, "Tue, 19 Jan 2038 03:14:08 GMT"},
    {"format: last second of 9999", 253402300799, "Fri, 31 Dec 9999 23:59:59 GMT"},
};

static void test_format(void **state)
{
    const struct format_case *c = *state;
    char out[HTTPDATE_LEN + 8];

    memset(out, 'Z', sizeof out);
    httpdate_format(c->t, out);
    if (strcmp(out, c->want) != 0)
        fail_msg("%s: got \"%s\", want \"%s\"", c->name, out, c->want);
    for (size_t k = HTTPDATE_LEN + 1; k < sizeof out; k++)
        assert_int_equal(out[k], 'Z');
}

struct parse_case {
    const char *name;
    const char *in;
    int rc;
    time_t t; /* when rc is 0 */
};

/* clang-format off */
static const struct parse_case parse_cases[] = {
    {"IMF-fixdate", "Sun, 06 Nov 1994 08:49:37 GMT", 0, 784111777},
    {"RFC 850", "Sunday, 06-Nov-94 08:49:37 GMT", 0, 784111777},
    {"asctime", "Sun Nov  6 08:49:37 1994", 0, 784111777},
    {"asctime with a two-digit day", "Thu Dec 31 23:59:59 1998", 0, 915148799},
    {"asctime with a zero-padded day", "Sun Nov 06 08:49:37 1994", 0, 784111777},
    {"IMF-fixdate epoch", "Thu, 01 Jan 1970 00:00:00 GMT", 0, 0},
    {"IMF-fixdate before the epoch", "Wed, 31 Dec 1969 23:59:59 GMT", 0, -1},
    {"IMF-fixdate leap day", "Tue, 29 Feb 2000 12:00:00 GMT", 0, 951825600},
    {"IMF-fixdate past 2^31", "Tue, 19 Jan 2038 03:14:08 GMT", 0, 2147483648},
    {"IMF-fixdate in 9999", "Fri, 31 Dec 9999 23:59:59 GMT", 0, 253402300799},
    {"RFC 850 two-digit year 05 is 2005", "Saturday, 01-Jan-05 00:00:00 GMT", 0, 1104537600},
    {"RFC 850 two-digit year 98 is 1998", "Thursday, 31-Dec-98 23:59:59 GMT", 0, 915148799},
    {"RFC 850 two-digit year 70 is 1970", "Thursday, 01-Jan-70 00:00:00 GMT", 0, 0},
    {"empty", "", -EINVAL, 0},
    {"garbage", "yesterday", -EINVAL, 0},
    {"a number", "784111777", -EINVAL, 0},
    {"other zone", "Sun, 06 Nov 1994 08:49:37 UTC", -EINVAL, 0},
    {"no zone", "Sun, 06 Nov 1994 08:49:37", -EINVAL, 0},
    {"zone with more after it", "Sun, 06 Nov 1994 08:49:37 GMTX", -EINVAL, 0},
    {"trailing space", "Sun, 06 Nov 1994 08:49:37 GMT ", -EINVAL, 0},
    {"leading space", " Sun, 06 Nov 1994 08:49:37 GMT", -EINVAL, 0},
    {"one-digit day in IMF-fixdate", "Sun, 6 Nov 1994 08:49:37 GMT", -EINVAL, 0},
    {"two-digit year in IMF-fixdate", "Sun, 06 Nov 94 08:49:37 GMT", -EINVAL, 0},
    {"unknown month", "Sun, 06 Foo 1994 08:49:37 GMT", -EINVAL, 0},
    {"lower-case month", "Sun, 06 nov 1994 08:49:37 GMT", -EINVAL, 0},
    {"day 00", "Sun, 00 Nov 1994 08:49:37 GMT", -EINVAL, 0},
    {"day 32", "Sun, 32 Nov 1994 08:49:37 GMT", -EINVAL, 0},
    {"day 31 of a 30-day month", "Thu, 31 Apr 2020 00:00:00 GMT", -EINVAL, 0},
    {"29 February of a common year", "Fri, 29 Feb 2019 00:00:00 GMT", -EINVAL, 0},
    {"30 February", "Sun, 30 Feb 2020 00:00:00 GMT", -EINVAL, 0},
    {"hour 24", "Sun, 06 Nov 1994 24:00:00 GMT", -EINVAL, 0},
    {"minute 60", "Sun, 06 Nov 1994 08:60:00 GMT", -EINVAL, 0},
    {"second 61", "Sun, 06 Nov 1994 08:49:61 GMT", -EINVAL, 0},
    {"letter in the seconds", "Sun, 06 Nov 1994 08:49:3x GMT", -EINVAL, 0},
    {"sign in the hour", "Sun, 06 Nov 1994 +8:49:37 GMT", -EINVAL, 0},
    {"letter in the year", "Sun, 06 Nov 19x4 08:49:37 GMT", -EINVAL, 0},
    {"dots for colons", "Sun, 06 Nov 1994 08.49.37 GMT", -EINVAL, 0},
    {"RFC 850 other zone", "Sunday, 06-Nov-94 08:49:37 UTC", -EINVAL, 0},
    {"RFC 850 with spaces for dashes", "Sunday, 06 Nov 94 08:49:37 GMT", -EINVAL, 0},
    {"RFC 850 four-digit year", "Sunday, 06-Nov-1994 08:49:37 GMT", -EINVAL, 0},
    {"RFC 850 unknown month", "Sunday, 06-Nox-94 08:49:37 GMT", -EINVAL, 0},
    {"RFC 850 hour 25", "Sunday, 06-Nov-94 25:49:37 GMT", -EINVAL, 0},
    {"asctime letter in the year", "Sun Nov  6 08:49:37 19x4", -EINVAL, 0},
    {"asctime unknown month", "Sun Nox  6 08:49:37 1994", -EINVAL, 0},
    {"asctime day 00", "Sun Nov 00 08:49:37 1994", -EINVAL, 0},
    {"asctime hour 24", "Sun Nov  6 24:49:37 1994", -EINVAL, 0},
    {"asctime with GMT", "Sun Nov  6 08:49:37 1994 GMT", -EINVAL, 0},
    {"longer than any date",
     "Sun, 06 Nov 1994 08:49:37 GMT Sun, 06 Nov 1994 08:49:37 GMT Sun, 06 Nov 1994", -EINVAL, 0},
};
/* clang-format on */

static void test_parse(void **state)
{
    const struct parse_case *c = *state;
    size_t len = strlen(c->in);
    time_t t = 12345;
    struct guard g;

    guard_open(&g, len);
    int rc = httpdate_parse(guard_put(&g, c->in, len), len, &t);
    if (rc != c->rc)
        fail_msg("%s: returned %d, want %d", c->name, rc, c->rc);
    if (rc == 0 && t != c->t)
        fail_msg("%s: time %lld, want %lld", c->name, (long long)t, (long long)c->t);
    guard_close(&g);
}

/* Every proper prefix of a valid date is refused, and read within bounds. */
static void test_prefixes(void **state)
{
    struct guard g;

    guard_open(&g, 128);
    for (size_t i = 0; i < ARRAY_LEN(parse_cases); i++) {
        const struct parse_case *c = &parse_cases[i];
        if (c->rc != 0)
            continue;
        for (size_t k = 0; k < strlen(c->in); k++) {
            time_t t;
            int rc = httpdate_parse(guard_put(&g, c->in, k), k, &t);
            if (rc != -EINVAL)
                fail_msg("%s: %zu bytes gave %d", c->name, k, rc);
        }
    }
    guard_close(&g);
}

/* format then parse gives back the time, for times spread over 1970-9999
 * and around the edges of months, leap years and the 32-bit range. */
static void test_round_trip(void **state)
{
    static const time_t edges[] = {
        0,          1,          59,           60,         86399,      86400,
        68169599,   68169600,   951782399,    951782400,  951868799,  951868800,
        978307199,  978307200,  2147483647,   2147483648, 4107542399, 4107542400,
        4294967295, 4294967296, 253402300799, -1,         -86400,     -2208988800,
    };
    char out[HTTPDATE_LEN + 1];
    time_t t, back;

    for (size_t i = 0; i < ARRAY_LEN(edges); i++) {
        httpdate_format(edges[i], out);
        if (httpdate_parse(out, strlen(out), &back) != 0 || back != edges[i])
            fail_msg("%lld formats as \"%s\", which parses to %lld", (long long)edges[i], out,
                     (long long)back);
    }
    /* A step of 7919 s plus some days walks every time of day and weekday. */
    for (t = 0; t < 253402300799; t += 2500000007) {
        for (time_t d = 0; d < 40 * 86400; d += 86400 + 7919) {
            httpdate_format(t + d, out);
            assert_int_equal(strlen(out), HTTPDATE_LEN);
            if (httpdate_parse(out, HTTPDATE_LEN, &back) != 0 || back != t + d)
                fail_msg("%lld formats as \"%s\", which parses to %lld", (long long)(t + d), out,
                         (long long)back);
        }
    }
}

/* The three forms of one instant parse to the same time. */
static void test_three_forms_agree(void **state)
{
    static const char *const forms[][3] = {
        {"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT",
         "Sun Nov  6 08:49:37 1994"},
        {"Mon, 01 Jan 2001 00:00:00 GMT", "Monday, 01-Jan-01 00:00:00 GMT",
         "Mon Jan  1 00:00:00 2001"},
        {"Sat, 29 Feb 1992 23:59:59 GMT", "Saturday, 29-Feb-92 23:59:59 GMT",
         "Sat Feb 29 23:59:59 1992"},
    };
    for (size_t i = 0; i < ARRAY_LEN(forms); i++) {
        time_t t[3];
        for (int k = 0; k < 3; k++)
            if (httpdate_parse(forms[i][k], strlen(forms[i][k]), &t[k]) != 0)
                fail_msg("\"%s\" does not parse", forms[i][k]);
        if (t[0] != t[1] || t[0] != t[2])
            fail_msg("\"%s\": %lld %lld %lld", forms[i][0], (long long)t[0], (long long)t[1],
                     (long long)t[2]);
    }
}

int main(void)
{
    static struct unit_list l;

    UNIT_ADD_ROWS(&l, format_cases, test_format);
    UNIT_ADD_ROWS(&l, parse_cases, test_parse);
    unit_add(&l, "every prefix of a valid date is refused", test_prefixes, NULL);
    unit_add(&l, "format and parse round trip", test_round_trip, NULL);
    unit_add(&l, "the three forms agree", test_three_forms_agree, NULL);
    return unit_run("httpdate", &l);
}
