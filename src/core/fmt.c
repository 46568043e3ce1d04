#include "core/fmt.h"

#include <stdio.h>

void fmt_size(unsigned long long size, char *out, size_t outsz)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    if (size < 1024) {
        snprintf(out, outsz, "%llu B", size);
        return;
    }
    double v = (double)size / 1024;
    size_t u = 0;
    while (v >= 1024 && u + 1 < sizeof units / sizeof units[0]) {
        v /= 1024;
        u++;
    }
    snprintf(out, outsz, "%.1f %s", v, units[u]);
}
