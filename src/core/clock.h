/* clock: monotonic milliseconds for deadlines. */
#ifndef FERRY_CORE_CLOCK_H
#define FERRY_CORE_CLOCK_H

#include <stdint.h>

/* Milliseconds on CLOCK_MONOTONIC; never goes back. */
int64_t clock_ms(void);

#endif
