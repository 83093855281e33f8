/*
 * unit.h -- helpers shared by the Check unit tests.
 */
#ifndef WS_UNIT_H
#define WS_UNIT_H

#include <check.h>

/* A byte string literal and its length (it may hold NUL bytes). */
#define B(s) (const uint8_t *)(s), sizeof(s) - 1

/*
 * ck_assert without Check's bookkeeping on success (each passing ck_assert
 * writes a mark point to the parent), for the hot loops.
 */
#define REQUIRE(cond, ...) \
    do { \
        if (!(cond)) { \
            ck_abort_msg(__VA_ARGS__); \
        } \
    } while (0)

#endif /* WS_UNIT_H */
