/* The subcommands. Each takes its own argv (argv[0] is the subcommand) and
 * returns the process exit code. */
#ifndef FERRY_CMD_CMD_H
#define FERRY_CMD_CMD_H

#define FERRY_VERSION "0.1.0"

/* Exit codes shared by all subcommands. */
#define EXIT_OK 0
#define EXIT_FAIL 1  /* a runtime failure: cannot listen, cannot open */
#define EXIT_USAGE 2 /* bad options or arguments */

int cmd_serve(int argc, char **argv);
int cmd_hello(int argc, char **argv);
int cmd_udp(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_get(int argc, char **argv);
int cmd_put(int argc, char **argv);

/* Blocks SIGINT and SIGTERM in this thread (and the threads it starts
 * later) and ignores SIGPIPE. Call before starting a server. */
void cmd_signals_block(void);

/* Waits for SIGINT or SIGTERM, says so on stderr, and returns it. */
int cmd_signals_wait(const char *who);

/* Raises the descriptor limit to the hard limit; returns the new limit. */
long cmd_raise_fd_limit(void);

/* Parses a whole decimal number in [min, max]. Returns 0 or -EINVAL. */
int cmd_parse_long(const char *s, long min, long max, long *out);

#endif
