/* Unit tests for proto/page: the sentence of an error page. Each body is
 * placed against a guard page so that an over-read crashes. */
#include "unit.h"

#include "proto/page.h"

struct page_case {
    const char *name;
    const char *body;
    size_t outsz;
    const char *want; /* "" for none */
};

/* clang-format off */
static const struct page_case cases[] = {
    {"ferry's page", "<!DOCTYPE html>\n<title>405 Method Not Allowed</title>\n<h1>405 Method Not Allowed</h1>\n<p>This server takes no uploads.</p>\n", 256, "This server takes no uploads."},
    {"no sentence", "<!DOCTYPE html>\n<title>404 Not Found</title>\n<h1>404 Not Found</h1>\n", 256, ""},
    {"first of two", "<p>one</p><p>two</p>", 256, "one"},
    {"unclosed", "<p>cut short", 256, ""},
    {"cut in the closing tag", "<p>cut</", 256, ""},
    {"empty", "<p></p>", 256, ""},
    {"markup inside", "<p>a <b>bold</b> claim</p>", 256, ""},
    {"a control byte", "<p>ring\a</p>", 256, ""},
    {"an escape sequence", "<p>\x1b[2Jclear</p>", 256, ""},
    {"UTF-8 is not shown", "<p>caf\xc3\xa9</p>", 256, ""},
    {"fits exactly", "<p>abc</p>", 4, "abc"},
    {"one byte too long", "<p>abcd</p>", 4, ""},
    {"nothing at all", "", 256, ""},
};
/* clang-format on */

static void test_reason(void **state)
{
    const struct page_case *c = *state;
    size_t len = strlen(c->body);
    char out[256];
    struct guard g;

    memset(out, 0x5a, sizeof out);
    guard_open(&g, len);
    size_t got = page_reason(guard_put(&g, c->body, len), len, out, c->outsz);
    guard_close(&g);
    if (got != strlen(c->want) || strcmp(out, c->want) != 0)
        fail_msg("%s: \"%s\" (%zu), want \"%s\"", c->name, out, got, c->want);
    for (size_t i = c->outsz; i < sizeof out; i++)
        if (out[i] != 0x5a)
            fail_msg("%s: byte %zu past the buffer was written", c->name, i);
}

int main(void)
{
    static struct unit_list l;

    UNIT_ADD_ROWS(&l, cases, test_reason);
    return unit_run("page", &l);
}
