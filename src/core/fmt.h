/* fmt: small formatters for people to read. */
#ifndef FERRY_CORE_FMT_H
#define FERRY_CORE_FMT_H

#include <stddef.h>

/* Writes size the way a person reads it ("912 B", "1.5 KiB", "3.0 GiB"). */
void fmt_size(unsigned long long size, char *out, size_t outsz);

#endif
