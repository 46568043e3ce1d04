/* ferry passwd: prints one line for `ferry serve --auth FILE`, the password
 * hashed with yescrypt and a salt from the kernel. */
#include <crypt.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "proto/auth.h"

#define PASS_MAX 1024

static void passwd_usage(FILE *f)
{
    fprintf(f, "usage: ferry passwd USER [RIGHTS]\n"
               "\n"
               "Prints a line for ferry serve --auth FILE: USER, a yescrypt hash of the\n"
               "password and RIGHTS (default ro:/), such as rw:/incoming,ro:/ (ro read,\n"
               "rw read and write, no nothing; the longest matching prefix wins).\n"
               "USER * is anyone without a password and takes no password.\n"
               "\n"
               "The password is read from the terminal without echo (twice), or as one\n"
               "line from stdin when stdin is not a terminal.\n"
               "\n"
               "  -h, --help     this text\n"
               "Exit status: 0 printed, 1 no password could be read or hashed, 2 bad usage.\n");
}

/* Reads one line into buf (size bytes) without its line end. Returns its
 * length, or -1 at EOF before any byte, or for a line too long. */
static long read_line(FILE *in, char *buf, size_t size)
{
    if (fgets(buf, (int)size, in) == NULL)
        return -1;
    size_t n = strlen(buf);
    if (n > 0 && buf[n - 1] == '\n')
        buf[--n] = '\0';
    else if (!feof(in))
        return -1; /* longer than the buffer */
    if (n > 0 && buf[n - 1] == '\r')
        buf[--n] = '\0';
    return (long)n;
}

/* Prompts on stderr and reads a line from the terminal on stdin with echo
 * off. */
static long read_hidden(const char *prompt, char *buf, size_t size)
{
    struct termios old, quiet;

    fputs(prompt, stderr);
    fflush(stderr);
    if (tcgetattr(STDIN_FILENO, &old) < 0)
        return -1;
    quiet = old;
    quiet.c_lflag &= (tcflag_t)~ECHO;
    quiet.c_lflag |= ECHONL;
    if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) < 0)
        return -1;
    long n = read_line(stdin, buf, size);
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    return n;
}

int cmd_passwd(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char pass[PASS_MAX + 2], again[PASS_MAX + 2], line[AUTH_USER_MAX + CRYPT_OUTPUT_SIZE + 4096];
    struct auth_entry *e = NULL;
    const char *why = "";
    int opt, rc = EXIT_FAIL;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (opt == 'h') {
            passwd_usage(stdout);
            return EXIT_OK;
        }
        passwd_usage(stderr);
        return EXIT_USAGE;
    }
    if (argc - optind < 1 || argc - optind > 2) {
        passwd_usage(stderr);
        return EXIT_USAGE;
    }
    const char *user = argv[optind];
    const char *rights = optind + 1 < argc ? argv[optind + 1] : "ro:/";
    bool anon = strcmp(user, AUTH_ANON) == 0;
    if (!anon && !auth_user_valid(user, strlen(user))) {
        fprintf(stderr, "ferry passwd: a user name is 1 to 32 of A-Z a-z 0-9 . _ - "
                        "(not starting with . or -), or *\n");
        return EXIT_USAGE;
    }
    e = malloc(sizeof *e);
    if (e == NULL)
        return EXIT_FAIL;
    if (strchr(rights, '\n') != NULL ||
        auth_rights_parse(rights, strlen(rights), e->rules, AUTH_RULES_MAX, &e->nrules, &why) < 0) {
        fprintf(stderr, "ferry passwd: bad RIGHTS '%s': %s\n", rights, why);
        free(e);
        return EXIT_USAGE;
    }
    const char *hash = "";
    struct crypt_data *cd = NULL;
    if (!anon) {
        long n;
        if (isatty(STDIN_FILENO)) {
            n = read_hidden("Password: ", pass, sizeof pass);
            if (n > 0 && (read_hidden("Again: ", again, sizeof again) != n ||
                          memcmp(pass, again, (size_t)n) != 0)) {
                fprintf(stderr, "ferry passwd: the two passwords differ\n");
                goto done;
            }
        } else {
            n = read_line(stdin, pass, sizeof pass);
        }
        if (n <= 0 || n > PASS_MAX) {
            fprintf(stderr, "ferry passwd: no password read (one line, 1 to %d bytes)\n", PASS_MAX);
            goto done;
        }
        char salt[CRYPT_GENSALT_OUTPUT_SIZE];
        cd = calloc(1, sizeof *cd);
        /* No random bytes given: libxcrypt takes them from the kernel. */
        hash = NULL;
        if (cd != NULL && crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof salt) != NULL)
            hash = crypt_rn(pass, salt, cd, sizeof *cd);
        if (hash == NULL || hash[0] == '*') {
            fprintf(stderr, "ferry passwd: cannot hash the password with yescrypt\n");
            goto done;
        }
    }
    int len = snprintf(line, sizeof line, "%s:%s:%s", user, hash, rights);
    /* The line must be one the server accepts. */
    if (len < 0 || (size_t)len >= sizeof line || auth_parse_line(line, (size_t)len, e, &why) != 1) {
        fprintf(stderr, "ferry passwd: cannot make a valid line: %s\n", why);
        goto done;
    }
    printf("%s\n", line);
    rc = fflush(stdout) == 0 ? EXIT_OK : EXIT_FAIL;

done:
    explicit_bzero(pass, sizeof pass);
    explicit_bzero(again, sizeof again);
    if (cd != NULL)
        explicit_bzero(cd, sizeof *cd);
    free(cd);
    free(e);
    return rc;
}
