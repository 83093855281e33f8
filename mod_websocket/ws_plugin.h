/*
 * ws_plugin.h -- loading, validating and unloading handler .so files.
 *
 * Owns: the table of handlers loaded by WebSocketLoadHandler (one per httpd
 * configuration generation, in pconf), the ABI checks, and calling each
 * handler's init/fini once per child process.  Must not touch connections.
 */
#ifndef WS_PLUGIN_H
#define WS_PLUGIN_H

#include "apr_pools.h"
#include "apr_dso.h"
#include "httpd.h"

#include "ws_plugin_api.h"

typedef struct {
    const char *name;           /* the name given in WebSocketLoadHandler */
    const char *path;           /* absolute path of the .so */
    const ws_handler_t *h;      /* = &export */
    ws_handler_t export;        /* the handler's export as this server's
                                 * struct: the members its declared size
                                 * covers, the rest (appended since it was
                                 * built) NULL or 0 */
    apr_dso_handle_t *dso;
    int ready;                  /* init succeeded in this child */
} ws_plugin_t;

/* Forget all handlers (start of a configuration read). */
void ws_plugin_reset(void);

/* Load and validate path as handler `name`, in pool p (pconf).  Returns NULL
 * on success, else an error message for the config parser. */
const char *ws_plugin_load(apr_pool_t *p, const char *name, const char *path);

/* The handler loaded as name, or NULL. */
ws_plugin_t *ws_plugin_find(const char *name);

/* In each child: call every handler's init with api; fini runs from a
 * cleanup of pchild. */
void ws_plugin_child_init(apr_pool_t *pchild, server_rec *s,
                          const ws_api_t *api);

#endif /* WS_PLUGIN_H */
