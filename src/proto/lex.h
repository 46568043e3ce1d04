/* lex: the small tokens several parsers share (hex digits, decimal numbers,
 * port numbers, base64), so that each has one definition and one set of limits.
 *
 * Pure: no I/O, no allocation; inputs are (pointer, length) and need no NUL. */
#ifndef FERRY_PROTO_LEX_H
#define FERRY_PROTO_LEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The value of the hexadecimal digit c (0-9, a-f, A-F): 0 to 15, or -1 for
 * any other byte. */
int lex_hex_digit(char c);

/* Reads the decimal digits at s[*pos..len) (at least one; leading zeros are
 * fine) into *out and moves *pos past them. Returns 0, -EINVAL when s[*pos]
 * is not a digit, or -ERANGE when the number exceeds max (checked before
 * each step, so nothing overflows); *pos and *out are unchanged on error. */
int lex_decimal(const char *s, size_t len, size_t *pos, uint64_t max, uint64_t *out);

/* A port number: s[0..len) must be decimal digits only (no sign, no white
 * space) with a value up to 65535; 0 only when zero_ok (a listener's "pick
 * a free port"). Returns 0 or -EINVAL; *port is set only on success. */
int lex_port(const char *s, size_t len, bool zero_ok, uint16_t *port);

/* Decodes strict base64 in[0..len) into out (outsz bytes). Returns the
 * decoded length, -EINVAL for anything but canonical padded base64 (the
 * empty string included), or -ENOSPC. */
long lex_b64_decode(const char *in, size_t len, unsigned char *out, size_t outsz);

/* Encodes in[0..len) as padded base64 (RFC 4648 §4) into out, which must
 * hold LEX_B64_LEN(len) + 1 bytes; NUL-terminates and returns the length. */
#define LEX_B64_LEN(n) (((n) + 2) / 3 * 4)
size_t lex_b64_encode(const unsigned char *in, size_t len, char *out);

#endif
