/* err: text for the negative errno values our functions return. */
#ifndef FERRY_CORE_ERR_H
#define FERRY_CORE_ERR_H

/* Returns a static description of err, which may be negative or positive. */
const char *fe_strerror(int err);

#endif
