/*
 * ws_registry.h -- every session of this httpd child, whatever runs it.
 *
 * Owns: the list of live sessions (its links in each session's registry
 * area) and the last word at child exit, before the handlers' fini: every
 * session still registered is ended (its on_close called) -- by its owner,
 * woken for it, or here if nobody runs it -- or, if its owner does not end
 * it in time, declared ENDED so that handler threads still sending get
 * WS_ECLOSED instead of touching freed memory.
 *
 * Threads: any; one lock, taken before any session's (docs/INTERNALS.md,
 * "Locks").  Never takes a lock when the list is empty: under prefork the
 * child's exit runs inside a signal handler.
 */
#ifndef WS_REGISTRY_H
#define WS_REGISTRY_H

#include "apr_pools.h"
#include "httpd.h"

#include "ws_session.h"

void ws_registry_child_init(apr_pool_t *pchild, server_rec *s);

/* Add a session (the registry holds a reference); remove it (once its
 * session ended; safe to call more than once). */
void ws_registry_add(ws_session_t *ws);
void ws_registry_remove(ws_session_t *ws);

/* The registered session with this (per-child) id, with a reference for
 * the caller; NULL if none. */
ws_session_t *ws_registry_find(unsigned long id);

#endif /* WS_REGISTRY_H */
