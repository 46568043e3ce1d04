/* Unit tests for proto/fate (what becomes of a request body nobody read)
 * and for the file server's state transitions (serve/fs_conn.c). */
#include "unit.h"

#include <stdio.h>

#include "serve/fs.h"
#include "proto/fate.h"

#define MAX (1u << 20)

struct fate_case {
    const char *name;
    struct fate_input in;
    enum fate_action want;
    uint64_t want_discard;
};

/* clang-format off */
static const struct fate_case fate_cases[] = {
    {"no body: next", {.framing = FATE_NO_BODY, .keep_alive = true, .discard_max = MAX}, FATE_NEXT, 0},
    {"no body, not kept: close", {.framing = FATE_NO_BODY, .keep_alive = false, .discard_max = MAX}, FATE_CLOSE, 0},
    {"length read to the end: next", {.framing = FATE_LENGTH, .length = 10, .consumed = 10, .complete = true, .keep_alive = true, .discard_max = MAX}, FATE_NEXT, 0},
    {"length unread, small: discard all", {.framing = FATE_LENGTH, .length = 10, .keep_alive = true, .discard_max = MAX}, FATE_DISCARD, 10},
    {"length half read: discard the rest", {.framing = FATE_LENGTH, .length = 10, .consumed = 4, .keep_alive = true, .discard_max = MAX}, FATE_DISCARD, 6},
    {"length at the discard limit: discard", {.framing = FATE_LENGTH, .length = MAX, .keep_alive = true, .discard_max = MAX}, FATE_DISCARD, MAX},
    {"length past the discard limit: close", {.framing = FATE_LENGTH, .length = MAX + 1ull, .keep_alive = true, .discard_max = MAX}, FATE_CLOSE, 0},
    {"rest past the limit after a partial read: close", {.framing = FATE_LENGTH, .length = 3ull * MAX, .consumed = MAX, .keep_alive = true, .discard_max = MAX}, FATE_CLOSE, 0},
    {"rest under the limit after a partial read: discard", {.framing = FATE_LENGTH, .length = 3ull * MAX, .consumed = 2ull * MAX + 1, .keep_alive = true, .discard_max = MAX}, FATE_DISCARD, MAX - 1},
    {"length, not kept: close", {.framing = FATE_LENGTH, .length = 10, .keep_alive = false, .discard_max = MAX}, FATE_CLOSE, 0},
    {"length complete, not kept: close", {.framing = FATE_LENGTH, .length = 10, .consumed = 10, .complete = true, .keep_alive = false, .discard_max = MAX}, FATE_CLOSE, 0},
    {"length all consumed, complete unset: next", {.framing = FATE_LENGTH, .length = 10, .consumed = 10, .keep_alive = true, .discard_max = MAX}, FATE_NEXT, 0},
    {"consumed past the length (a bug): close", {.framing = FATE_LENGTH, .length = 10, .consumed = 11, .keep_alive = true, .discard_max = MAX}, FATE_CLOSE, 0},
    {"chunked unread: close", {.framing = FATE_CHUNKED, .keep_alive = true, .discard_max = MAX}, FATE_CLOSE, 0},
    {"chunked half read: close", {.framing = FATE_CHUNKED, .consumed = 100, .keep_alive = true, .discard_max = MAX}, FATE_CLOSE, 0},
    {"chunked read to the end: next", {.framing = FATE_CHUNKED, .consumed = 100, .complete = true, .keep_alive = true, .discard_max = MAX}, FATE_NEXT, 0},
    {"held back by Expect, no 100 sent: close", {.framing = FATE_LENGTH, .length = 10, .expect_continue = true, .keep_alive = true, .discard_max = MAX}, FATE_CLOSE, 0},
    {"Expect and our 100 sent: discard", {.framing = FATE_LENGTH, .length = 10, .expect_continue = true, .continue_sent = true, .keep_alive = true, .discard_max = MAX}, FATE_DISCARD, 10},
    {"Expect, body read: next", {.framing = FATE_LENGTH, .length = 10, .consumed = 10, .complete = true, .expect_continue = true, .continue_sent = true, .keep_alive = true, .discard_max = MAX}, FATE_NEXT, 0},
    {"Expect, no body: next", {.framing = FATE_NO_BODY, .expect_continue = true, .keep_alive = true, .discard_max = MAX}, FATE_NEXT, 0},
    {"discard limit 0: close", {.framing = FATE_LENGTH, .length = 1, .keep_alive = true, .discard_max = 0}, FATE_CLOSE, 0},
    {"huge length: close", {.framing = FATE_LENGTH, .length = UINT64_MAX, .keep_alive = true, .discard_max = MAX}, FATE_CLOSE, 0},
};
/* clang-format on */

static void test_fate(void **state)
{
    const struct fate_case *c = *state;
    struct fate f = fate_decide(&c->in);

    if (f.action != c->want)
        fail_msg("%s: action %d, want %d", c->name, (int)f.action, (int)c->want);
    if (f.discard != c->want_discard)
        fail_msg("%s: discard %llu, want %llu", c->name, (unsigned long long)f.discard,
                 (unsigned long long)c->want_discard);
}

/* The whole transition table, both ways: what must be allowed and what
 * must not. */
static void test_transitions(void **state)
{
    static const char *const names[CS_NSTATES] = {"PROBE", "TLS",    "HEAD",  "BODY", "DISCARD",
                                                  "SEND",  "LINGER", "CLOSE", "AUTH",
                                                  "XBODY", "JOB"};
    static const char *const allowed[] = {
        "PROBE>TLS",    "TLS>PROBE",
        "PROBE>HEAD",   "PROBE>SEND",  "PROBE>LINGER", "HEAD>BODY",    "HEAD>SEND",
        "BODY>SEND",    "DISCARD>HEAD", "SEND>HEAD",   "SEND>DISCARD", "SEND>LINGER",
        "HEAD>AUTH",    "AUTH>BODY",    "AUTH>SEND",
        "HEAD>XBODY",   "AUTH>XBODY",   "XBODY>SEND",
        "HEAD>JOB",     "AUTH>JOB",     "JOB>SEND",     "BODY>JOB",
    };
    char name[32];

    for (int from = 0; from < CS_NSTATES; from++)
        for (int to = 0; to < CS_NSTATES; to++) {
            bool want = to == CS_CLOSE && from != CS_CLOSE;
            snprintf(name, sizeof name, "%s>%s", names[from], names[to]);
            for (size_t i = 0; i < ARRAY_LEN(allowed); i++)
                want = want || strcmp(allowed[i], name) == 0;
            if (fs_conn_legal((enum conn_state)from, (enum conn_state)to) != want)
                fail_msg("%s: %s, want %s", name, want ? "refused" : "allowed",
                         want ? "allowed" : "refused");
        }
    assert_false(fs_conn_legal(CS_NSTATES, CS_HEAD));
    assert_false(fs_conn_legal(CS_HEAD, CS_NSTATES));
}

int main(void)
{
    static struct unit_list l;

    UNIT_ADD_ROWS(&l, fate_cases, test_fate);
    unit_add(&l, "transitions: the table", test_transitions, NULL);
    return unit_run("fate", &l);
}
