/*
 * ws_registry.h -- every session of this httpd child, whatever runs it,
 * and the child's own stopping.
 *
 * Owns: the list of live sessions, and what happens to them when the
 * child stops: "is this child stopping, and how?" (graceful restart or
 * stop: WebSocketGracefulTimeout counts from the first time it is seen;
 * an immediate stop: every session closes now with 1001), and the last
 * word at child exit, before the handlers' fini: every session still
 * registered is ended (its on_close called) or, if its owner does not end
 * it in time, declared DEAD so that handler threads still sending get
 * WS_ECLOSED instead of touching freed memory.
 */
#ifndef WS_REGISTRY_H
#define WS_REGISTRY_H

#include "apr_pools.h"
#include "apr_time.h"
#include "httpd.h"

struct ws_connection;

void ws_registry_child_init(apr_pool_t *pchild, server_rec *s);

/* Add/remove a session (the registry holds a reference). */
void ws_registry_add(struct ws_connection *ws);
void ws_registry_remove(struct ws_connection *ws);

/* httpd's child_stopping hook: graceful (restart, graceful-stop) or not
 * (stop, restart). */
void ws_registry_child_stopping(apr_pool_t *pchild, int graceful);

/* When this child was first seen stopping gracefully, else 0 (the MPM is
 * asked at most once per tick). */
apr_time_t ws_registry_stopping_since(apr_time_t now);

/* 1 once the child is stopping at once (not gracefully): sessions close
 * now, with 1001 "server stopping". */
int ws_registry_stopping_now(void);

/* The reason given with 1001 when the child stops: "server restarting"
 * if a new generation of children is taking over, else "server
 * stopping". */
const char *ws_registry_stop_reason(void);

#endif /* WS_REGISTRY_H */
