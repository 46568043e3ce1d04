/* Unit tests of tests/unit/unit.h itself: a unit_list that is full makes the
 * program fail instead of leaving a test out. */
#include "unit.h"

#include <stdlib.h>
#include <sys/wait.h>

static void noop(void **state)
{
    (void)state;
}

/* Adds n tests to a fresh list in a child process (its output discarded)
 * and returns the child's wait status. */
static int add_in_child(size_t n)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        static struct unit_list l;
        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (null >= 0) {
            dup2(null, STDOUT_FILENO);
            dup2(null, STDERR_FILENO);
        }
        for (size_t i = 0; i < n; i++)
            unit_add(&l, "t", noop, NULL);
        _exit(l.n == n ? 0 : 2);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

static void test_full_list_holds_every_test(void **state)
{
    (void)state;
    int status = add_in_child(UNIT_MAX_TESTS);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_one_past_the_table_fails_the_program(void **state)
{
    (void)state;
    int status = add_in_child(UNIT_MAX_TESTS + 1);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), EXIT_FAILURE);
}

int main(void)
{
    static struct unit_list l;

    unit_add(&l, "full_list_holds_every_test", test_full_list_holds_every_test, NULL);
    unit_add(&l, "one_past_the_table_fails_the_program", test_one_past_the_table_fails_the_program,
             NULL);
    return unit_run("unit", &l);
}
