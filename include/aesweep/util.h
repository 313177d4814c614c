/* util.h - small helpers that several modules need, written once.
 *
 *   AES_ERR_LEN        the size of every error buffer (`char err[AES_ERR_LEN]`): each function that
 *                      takes `char *err` writes at most this many bytes, one line.
 *   util_one_line      makes a message one printable line (a path or a value may hold newlines).
 *   util_mono_seconds  seconds on the monotonic clock (durations, rates; never jumps).
 *   util_wall_seconds  seconds since the epoch (timestamps others wrote, e.g. a lock's start).
 *
 * Not for: anything with a concept of its own (those get a module named for it; the one cost order
 * of tasks is budget.h's budget_order_by_cost).
 */
#ifndef AESWEEP_UTIL_H
#define AESWEEP_UTIL_H
#include <stddef.h>

#define AES_ERR_LEN 1024

void util_one_line(char *msg);
double util_mono_seconds(void);
double util_wall_seconds(void);

#endif
