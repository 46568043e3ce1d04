/* An LD_PRELOAD library for tests/e2e/test_auth.py: wraps libxcrypt's
 * crypt_rn and appends the setting of each call (the stored hash, or the
 * dummy setting an unknown user is checked against; never the password)
 * as one line to the file FERRY_CRYPT_SPY names. The test reads which
 * scheme and cost the server really ran, without timing anything.
 *   cc -shared -fPIC -o crypt_spy.so crypt_spy.c -ldl */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef char *crypt_rn_fn(const char *, const char *, void *, int);

char *crypt_rn(const char *phrase, const char *setting, void *data, int size);

char *crypt_rn(const char *phrase, const char *setting, void *data, int size)
{
    crypt_rn_fn *real = (crypt_rn_fn *)dlsym(RTLD_NEXT, "crypt_rn");
    const char *path = getenv("FERRY_CRYPT_SPY");

    if (path != NULL && setting != NULL) {
        char line[512];
        size_t n = strnlen(setting, sizeof line - 1);
        memcpy(line, setting, n);
        line[n] = '\n';
        int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        if (fd >= 0) {
            /* one write of the whole line: O_APPEND keeps threads' lines apart */
            if (write(fd, line, n + 1) < 0)
                n = 0;
            close(fd);
        }
    }
    return real(phrase, setting, data, size);
}
