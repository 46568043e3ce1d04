#include "core/err.h"

#include <string.h>

const char *fe_strerror(int err)
{
    return strerror(err < 0 ? -err : err);
}
