/* Unit tests for proto/lex: hex digits (every byte value), decimal numbers
 * against their limit (overflow at every width) and port numbers, each input
 * placed against a guard page so that reading past its end faults. */
#include "unit.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>

#include "proto/lex.h"

/* ---- lex_hex_digit ------------------------------------------------------ */

/* All 256 byte values: exactly 0-9, a-f and A-F are digits. */
static void test_hex_every_byte(void **state)
{
    static const char digits[] = "0123456789abcdef", upper[] = "0123456789ABCDEF";

    for (int b = 0; b < 256; b++) {
        int want = -1;
        for (int k = 0; k < 16; k++)
            if (b == (unsigned char)digits[k] || b == (unsigned char)upper[k])
                want = k;
        int got = lex_hex_digit((char)b);
        if (got != want)
            fail_msg("byte 0x%02x gave %d, want %d", b, got, want);
    }
}

/* ---- lex_decimal -------------------------------------------------------- */

struct dec_case {
    const char *name;
    const char *in;
    size_t pos; /* where to start */
    uint64_t max;
    int rc;
    uint64_t value; /* when rc == 0 */
    size_t end;     /* *pos afterwards when rc == 0 */
};

/* clang-format off */
static const struct dec_case dec_cases[] = {
    {"decimal: one digit", "7", 0, UINT64_MAX, 0, 7, 1},
    {"decimal: zero", "0", 0, UINT64_MAX, 0, 0, 1},
    {"decimal: leading zeros", "000123", 0, UINT64_MAX, 0, 123, 6},
    {"decimal: stops at a non-digit", "42/7", 0, UINT64_MAX, 0, 42, 2},
    {"decimal: from an offset", "ab12c", 2, UINT64_MAX, 0, 12, 4},
    {"decimal: UINT64_MAX", "18446744073709551615", 0, UINT64_MAX, 0, UINT64_MAX, 20},
    {"decimal: UINT64_MAX + 1", "18446744073709551616", 0, UINT64_MAX, -ERANGE, 0, 0},
    {"decimal: 2^64 * 10", "184467440737095516160", 0, UINT64_MAX, -ERANGE, 0, 0},
    {"decimal: INT64_MAX at INT64_MAX", "9223372036854775807", 0, INT64_MAX, 0, INT64_MAX, 19},
    {"decimal: INT64_MAX + 1", "9223372036854775808", 0, INT64_MAX, -ERANGE, 0, 0},
    {"decimal: 65535 at 65535", "65535", 0, 65535, 0, 65535, 5},
    {"decimal: 65536 over 65535", "65536", 0, 65535, -ERANGE, 0, 0},
    {"decimal: 70000 over 65535", "70000", 0, 65535, -ERANGE, 0, 0},
    {"decimal: many leading zeros within the limit", "0000000000000000000000000065535", 0,
     65535, 0, 65535, 31},
    {"decimal: a limit below one digit", "5", 0, 3, -ERANGE, 0, 0},
    {"decimal: a limit of zero", "0", 0, 0, 0, 0, 1},
    {"decimal: empty", "", 0, UINT64_MAX, -EINVAL, 0, 0},
    {"decimal: at the end", "12", 2, UINT64_MAX, -EINVAL, 0, 0},
    {"decimal: sign", "+1", 0, UINT64_MAX, -EINVAL, 0, 0},
    {"decimal: minus", "-1", 0, UINT64_MAX, -EINVAL, 0, 0},
    {"decimal: space", " 1", 0, UINT64_MAX, -EINVAL, 0, 0},
    {"decimal: letter", "x1", 0, UINT64_MAX, -EINVAL, 0, 0},
};
/* clang-format on */

static void test_decimal(void **state)
{
    const struct dec_case *c = *state;
    size_t len = strlen(c->in);
    struct guard g;

    guard_open(&g, len);
    const char *p = guard_put(&g, c->in, len);
    size_t pos = c->pos;
    uint64_t v = 12345;
    int rc = lex_decimal(p, len, &pos, c->max, &v);
    guard_close(&g);
    if (rc != c->rc)
        fail_msg("%s: gave %d, want %d", c->name, rc, c->rc);
    if (rc == 0 && (v != c->value || pos != c->end))
        fail_msg("%s: %llu ending at %zu, want %llu ending at %zu", c->name, (unsigned long long)v,
                 pos, (unsigned long long)c->value, c->end);
    if (rc != 0 && (v != 12345 || pos != c->pos))
        fail_msg("%s: the outputs changed on an error", c->name);
}

/* Every number from 1 to 20 nines against UINT64_MAX: exactly those that
 * fit (19 nines and fewer) are taken. */
static void test_decimal_widths(void **state)
{
    char in[24];

    for (size_t w = 1; w <= 20; w++) {
        size_t pos = 0;
        uint64_t v = 0, want = 0;
        memset(in, '9', w);
        for (size_t k = 0; k < w && k < 19; k++)
            want = want * 10 + 9;
        int rc = lex_decimal(in, w, &pos, UINT64_MAX, &v);
        if (w <= 19 && (rc != 0 || v != want || pos != w))
            fail_msg("%zu nines: gave %d, %llu", w, rc, (unsigned long long)v);
        if (w == 20 && rc != -ERANGE)
            fail_msg("20 nines: gave %d, want -ERANGE", rc);
    }
}

/* ---- lex_port ----------------------------------------------------------- */

struct port_case {
    const char *name;
    const char *in;
    bool zero_ok;
    int rc;
    uint16_t port;
};

/* clang-format off */
static const struct port_case port_cases[] = {
    {"port: 80", "80", false, 0, 80},
    {"port: 1", "1", false, 0, 1},
    {"port: 65535", "65535", false, 0, 65535},
    {"port: leading zeros", "0080", false, 0, 80},
    {"port: 0 when allowed", "0", true, 0, 0},
    {"port: 00 when allowed", "00", true, 0, 0},
    {"port: 0 when not allowed", "0", false, -EINVAL, 0},
    {"port: 000 when not allowed", "000", false, -EINVAL, 0},
    {"port: 65536", "65536", true, -EINVAL, 0},
    {"port: 70000", "70000", true, -EINVAL, 0},
    {"port: 20 digits", "99999999999999999999", true, -EINVAL, 0},
    {"port: empty", "", true, -EINVAL, 0},
    {"port: plus sign", "+80", true, -EINVAL, 0},
    {"port: minus zero", "-0", true, -EINVAL, 0},
    {"port: minus", "-1", true, -EINVAL, 0},
    {"port: space before", " 80", true, -EINVAL, 0},
    {"port: space after", "80 ", true, -EINVAL, 0},
    {"port: newline after", "80\n", true, -EINVAL, 0},
    {"port: hexadecimal", "0x50", true, -EINVAL, 0},
    {"port: a name", "http", true, -EINVAL, 0},
    {"port: digits then a letter", "8x", true, -EINVAL, 0},
};
/* clang-format on */

static void test_port(void **state)
{
    const struct port_case *c = *state;
    size_t len = strlen(c->in);
    uint16_t port = 4242;
    struct guard g;

    guard_open(&g, len);
    int rc = lex_port(guard_put(&g, c->in, len), len, c->zero_ok, &port);
    guard_close(&g);
    if (rc != c->rc)
        fail_msg("%s: gave %d, want %d", c->name, rc, c->rc);
    if (rc == 0 && port != c->port)
        fail_msg("%s: port %u, want %u", c->name, port, c->port);
    if (rc != 0 && port != 4242)
        fail_msg("%s: *port changed on an error", c->name);
}

/* Every port from 0 to 65536 written out, with and without zero_ok. */
static void test_port_every_value(void **state)
{
    char in[16];

    for (unsigned v = 0; v <= 65536; v++) {
        int n = snprintf(in, sizeof in, "%u", v);
        for (int zero_ok = 0; zero_ok <= 1; zero_ok++) {
            uint16_t port = 0;
            int rc = lex_port(in, (size_t)n, zero_ok, &port);
            bool ok = v <= 65535 && (v > 0 || zero_ok);
            if ((rc == 0) != ok || (ok && port != v))
                fail_msg("\"%s\" (zero_ok %d) gave %d, port %u", in, zero_ok, rc, port);
        }
    }
}

int main(void)
{
    static struct unit_list l;

    unit_add(&l, "hex: every byte value", test_hex_every_byte, NULL);
    UNIT_ADD_ROWS(&l, dec_cases, test_decimal);
    unit_add(&l, "decimal: 1 to 20 nines against UINT64_MAX", test_decimal_widths, NULL);
    UNIT_ADD_ROWS(&l, port_cases, test_port);
    unit_add(&l, "port: every value from 0 to 65536", test_port_every_value, NULL);
    return unit_run("lex", &l);
}
