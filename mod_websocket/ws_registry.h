/*
 * ws_registry.h -- every session of this httpd child, whatever runs it.
 *
 * Owns: the list of live sessions, used when the child exits (every
 * session is declared DEAD before connection pools go away, so handler
 * threads that still send get WS_ECLOSED instead of touching freed
 * memory), and the answer to "is this child stopping?" (graceful restart:
 * WebSocketGracefulTimeout counts from the first time it is seen).
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

/* When this child was first seen stopping, else 0 (the MPM is asked at
 * most once per tick). */
apr_time_t ws_registry_stopping_since(apr_time_t now);

#endif /* WS_REGISTRY_H */
