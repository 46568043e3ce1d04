/* Unit tests for proto/mime: lookups with the built-in types only, with a
 * mime.types text of our own, and for unknown or missing extensions. */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>

#include "proto/mime.h"

#define OCTET "application/octet-stream"

struct lookup_case {
    const char *name;
    const char *file;
    const char *want;
};

static const struct lookup_case builtin_cases[] = {
    {"builtin: html", "index.html", "text/html"},
    {"builtin: htm in upper case", "INDEX.HTM", "text/html"},
    {"builtin: css", "style.css", "text/css"},
    {"builtin: js", "app.js", "text/javascript"},
    {"builtin: json", "data.json", "application/json"},
    {"builtin: txt", "readme.txt", "text/plain"},
    {"builtin: mixed-case extension", "photo.JpG", "image/jpeg"},
    {"builtin: png", "a.png", "image/png"},
    {"builtin: svg", "logo.svg", "image/svg+xml"},
    {"builtin: last extension counts", "archive.tar.gz", "application/gzip"},
    {"builtin: tar", "archive.tar", "application/x-tar"},
    {"builtin: woff2", "font.woff2", "font/woff2"},
    {"builtin: in a directory", "a/b.c/d.pdf", "application/pdf"},
    {"builtin: unknown extension", "a.xyz", OCTET},
    {"builtin: no extension", "Makefile", OCTET},
    {"builtin: dot in the directory only", "dir.html/file", OCTET},
    {"builtin: trailing dot", "file.", OCTET},
    {"builtin: empty name", "", OCTET},
    {"builtin: dot alone", ".", OCTET},
    {"builtin: extension is a prefix of a known one", "a.htm5", OCTET},
    {"builtin: known one is a prefix of the extension", "a.ht", OCTET},
};

static const char custom_text[] = "# a comment line mentioning html\n"
                                  "text/x-first foo\n"
                                  "text/x-second foo\n"
                                  "application/x-custom\tCuSt   bar\r\n"
                                  "text/x-c c\n"
                                  "\n"
                                  "text/x-no-extensions\n"
                                  "   \n"
                                  "image/x-later png\n"
                                  "text/x-last last";

static const struct lookup_case custom_cases[] = {
    {"custom: first type named wins", "a.foo", "text/x-first"},
    {"custom: extension case ignored", "A.FOO", "text/x-first"},
    {"custom: tab and spaces between", "a.cust", "application/x-custom"},
    {"custom: mixed case in the text", "a.CUST", "application/x-custom"},
    {"custom: CRLF line end", "a.bar", "application/x-custom"},
    {"custom: text wins over a built-in", "main.c", "text/x-c"},
    {"custom: text wins over a built-in later in the text", "a.png", "image/x-later"},
    {"custom: built-ins fill gaps", "index.html", "text/html"},
    {"custom: last line without newline", "z.last", "text/x-last"},
    {"custom: comment words are not extensions", "a.comment", OCTET},
    {"custom: unknown", "a.unknown", OCTET},
    {"custom: no extension", "README", OCTET},
};

static struct mime_table table;

static int setup_builtin(void **state)
{
    *state = NULL;
    return mime_table_init(&table, NULL, 0);
}

/* The text lives on the stack and is scribbled over after init: the table
 * must have kept its own copy. */
static int setup_custom(void **state)
{
    char text[sizeof custom_text];

    *state = NULL;
    memcpy(text, custom_text, sizeof text);
    int rc = mime_table_init(&table, text, sizeof text - 1);
    memset(text, 'x', sizeof text);
    return rc;
}

static int teardown(void **state)
{
    mime_table_free(&table);
    return 0;
}

static void run_lookups(const struct lookup_case *rows, size_t n)
{
    struct guard g;

    guard_open(&g, 256);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(rows[i].file);
        const char *got = mime_lookup(&table, guard_put(&g, rows[i].file, len), len);
        if (got == NULL || strcmp(got, rows[i].want) != 0)
            fail_msg("%s: \"%s\" gave %s, want %s", rows[i].name, rows[i].file, got ? got : "NULL",
                     rows[i].want);
    }
    guard_close(&g);
}

static void test_builtin(void **state)
{
    run_lookups(builtin_cases, ARRAY_LEN(builtin_cases));
}
static void test_custom(void **state)
{
    run_lookups(custom_cases, ARRAY_LEN(custom_cases));
}

/* Only len bytes of the text count. */
static void test_text_length(void **state)
{
    static const char text[] = "text/x-a aaa\ntext/x-b bbb\n";
    struct mime_table t;

    assert_int_equal(mime_table_init(&t, text, 13), 0);
    assert_string_equal(mime_lookup(&t, "x.aaa", 5), "text/x-a");
    assert_string_equal(mime_lookup(&t, "x.bbb", 5), OCTET);
    mime_table_free(&t);
}

/* Only len bytes of the name count. */
static void test_name_length(void **state)
{
    struct mime_table t;

    assert_int_equal(mime_table_init(&t, NULL, 0), 0);
    assert_string_equal(mime_lookup(&t, "a.html.bak", 6), "text/html");
    assert_string_equal(mime_lookup(&t, "a.css~", 5), "text/css");
    mime_table_free(&t);
}

/* Many extensions make the table grow; every one is still found. */
static void test_many(void **state)
{
    enum { N = 3000 };
    size_t cap = (size_t)N * 24 + 64, len = 0;
    char *text = malloc(cap);
    char name[32];
    struct mime_table t;

    assert_non_null(text);
    for (int k = 0; k < N; k++)
        len += (size_t)snprintf(text + len, cap - len, "type/t%d e%d x%d\n", k, k, k);
    assert_int_equal(mime_table_init(&t, text, len), 0);
    free(text);
    for (int k = 0; k < N; k++) {
        char want[32];
        snprintf(want, sizeof want, "type/t%d", k);
        int n = snprintf(name, sizeof name, "f.E%d", k);
        const char *got = mime_lookup(&t, name, (size_t)n);
        if (strcmp(got, want) != 0)
            fail_msg("%s gave %s, want %s", name, got, want);
        n = snprintf(name, sizeof name, "f.x%d", k);
        got = mime_lookup(&t, name, (size_t)n);
        if (strcmp(got, want) != 0)
            fail_msg("%s gave %s, want %s", name, got, want);
    }
    assert_string_equal(mime_lookup(&t, "f.e3000", 7), OCTET);
    assert_string_equal(mime_lookup(&t, "f.gif", 5), "image/gif");
    mime_table_free(&t);
}

/* Freeing leaves an empty table that may be freed again. */
static void test_table_free(void **state)
{
    struct mime_table t;

    assert_int_equal(mime_table_init(&t, "a/b c", 5), 0);
    mime_table_free(&t);
    assert_null(t.slots);
    assert_null(t.text);
    assert_int_equal(t.size, 0);
    mime_table_free(&t);
}

int main(void)
{
    static struct unit_list l;

    unit_add_fixture(&l, "lookups with built-in types only", test_builtin, setup_builtin, teardown,
                     NULL);
    unit_add_fixture(&l, "lookups with a mime.types text", test_custom, setup_custom, teardown,
                     NULL);
    unit_add(&l, "text length respected", test_text_length, NULL);
    unit_add(&l, "name length respected", test_name_length, NULL);
    unit_add(&l, "thousands of extensions", test_many, NULL);
    unit_add(&l, "free empties the table", test_table_free, NULL);
    return unit_run("mime", &l);
}
