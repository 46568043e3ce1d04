/* unit: what the cmocka unit tests share.
 *
 * A guard places a test input so that its last byte sits right before a
 * PROT_NONE page: a parser that reads one byte past the end faults instead of
 * passing by luck. A unit_list collects tests at run time, so that each row of
 * a table can run as its own named test and a regression names what broke.
 *
 * Everything is static inline: each test program includes this once. */
#ifndef FERRY_TESTS_UNIT_H
#define FERRY_TESTS_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

struct guard {
    char *map;
    size_t size; /* bytes mapped, the guard page included */
    size_t page;
};

/* Maps room for inputs of up to max bytes followed by one inaccessible page. */
static inline void guard_open(struct guard *g, size_t max)
{
    g->page = (size_t)sysconf(_SC_PAGESIZE);
    g->size = (max + g->page - 1) / g->page * g->page + g->page;
    g->map = mmap(NULL, g->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(g->map != MAP_FAILED);
    assert_int_equal(mprotect(g->map + g->size - g->page, g->page, PROT_NONE), 0);
}

/* Copies p[0..len) so that it ends exactly at the guard page and returns the
 * copy. The bytes before it are filled with junk a parser must not rely on. */
static inline const char *guard_put(struct guard *g, const void *p, size_t len)
{
    char *end = g->map + g->size - g->page;

    assert_true(len <= g->size - g->page);
    memset(g->map, 0xa5, g->size - g->page - len);
    if (len > 0)
        memcpy(end - len, p, len);
    return end - len;
}

static inline void guard_close(struct guard *g)
{
    munmap(g->map, g->size);
    g->map = NULL;
}

/* Writes data to dir/name (created or emptied), failing the test on error. */
static inline void unit_put_file(const char *dir, const char *name, const char *data)
{
    char path[256];

    int n = snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_true(n > 0 && (size_t)n < sizeof path);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
    close(fd);
}

#define UNIT_MAX_TESTS 1024

struct unit_list {
    struct CMUnitTest t[UNIT_MAX_TESTS];
    size_t n;
};

/* Adds a test named name (which must outlive the run) with a setup and a
 * teardown (either may be NULL), which run even when the test fails. The
 * first of them gets state as its *state: the row of a table, or NULL.
 * Past UNIT_MAX_TESTS the program exits with status 1: no test is dropped. */
static inline void unit_add_fixture(struct unit_list *l, const char *name, CMUnitTestFunction f,
                                    CMFixtureFunction setup, CMFixtureFunction teardown,
                                    const void *state)
{
    if (l->n == UNIT_MAX_TESTS) { /* a test left out must not let the run pass */
        print_error("%s: more than UNIT_MAX_TESTS (%d) tests: raise it\n", name, UNIT_MAX_TESTS);
        exit(EXIT_FAILURE);
    }
    l->t[l->n++] = (struct CMUnitTest){
        .name = name,
        .test_func = f,
        .setup_func = setup,
        .teardown_func = teardown,
        .initial_state = (void *)(uintptr_t)state,
    };
}

static inline void unit_add(struct unit_list *l, const char *name, CMUnitTestFunction f,
                            const void *state)
{
    unit_add_fixture(l, name, f, NULL, NULL, state);
}

/* Adds one test per row of a table whose rows start with a const char *name. */
#define UNIT_ADD_ROWS(list, table, fn)                                                             \
    do {                                                                                           \
        for (size_t unit_i_ = 0; unit_i_ < ARRAY_LEN(table); unit_i_++)                            \
            unit_add((list), (table)[unit_i_].name, (fn), &(table)[unit_i_]);                      \
    } while (0)

static inline int unit_run(const char *group, const struct unit_list *l)
{
    return _cmocka_run_group_tests(group, l->t, l->n, NULL, NULL);
}

#endif
