/*
 * ws_arena.h -- strings copied into one block sized beforehand: a first
 * pass with p NULL only adds up the bytes (each string with its NUL); the
 * caller allocates that much and runs the same code again with p at the
 * block, which copies.  Used by ws_snapshot (the upgrade request a handler
 * may read) and ws_accesslog (what a session's log line needs).
 *
 * Must not: allocate, or know where the block comes from.
 */
#ifndef WS_ARENA_H
#define WS_ARENA_H

#include <stddef.h>
#include <string.h>

/* Where the next string goes; NULL while sizing. */
typedef struct {
    char *p;
    size_t bytes;               /* counted so far (with the NULs) */
} ws_arena_t;

/* Copy the n bytes at s and a NUL; the copy, or NULL while sizing. */
static inline const char *ws_arena_put_n(ws_arena_t *a, const char *s,
                                         size_t n)
{
    char *out = a->p;

    a->bytes += n + 1;
    if (!out) {
        return NULL;
    }
    memcpy(out, s, n);
    out[n] = '\0';
    a->p += n + 1;
    return out;
}

/* Copy the string s (NULL stays NULL). */
static inline const char *ws_arena_put(ws_arena_t *a, const char *s)
{
    return s ? ws_arena_put_n(a, s, strlen(s)) : NULL;
}

#endif /* WS_ARENA_H */
