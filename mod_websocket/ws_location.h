/*
 * ws_location.h -- the locations that run a handler: one per configuration
 * section with WebSocketHandler, each with its handler's per-location data
 * in each child (ws_api_t's location_*, ws_handler_t's location_init and
 * location_fini) and its channel namespace.
 *
 * Owns: struct ws_location (ws_plugin_api.h's ws_location_t) and the list
 * of every location of the configuration (in pconf, rebuilt at each
 * configuration read); calling location_init for each in every child, and
 * location_fini at the child's exit (before the handlers' fini).
 *
 * Threads: created at configuration time; namespace, path and plugin are
 * read-only afterwards; the data pointer is the handler's (set it in
 * location_init, read it anywhere).
 */
#ifndef WS_LOCATION_H
#define WS_LOCATION_H

#include "apr_pools.h"
#include "httpd.h"

#include "ws_plugin_api.h"
#include "ws_plugin.h"

struct ws_dir_conf;

struct ws_location {
    const char *path;           /* the section's path ("/" if none) */
    ws_plugin_t *plugin;
    const struct ws_dir_conf *conf;  /* the section's own settings */
    const char *ns;             /* channel namespace (child_init on) */
    void *data;                 /* the handler's, this child's */
    int ready;                  /* location_init accepted (this child) */
    int stats;                  /* its row of counters (ws_stats), -1 */
};

/* Forget every location (start of a configuration read). */
void ws_location_reset(void);

/* The location of a section (conf: its own settings; path: cmd->path),
 * made at its WebSocketHandler line, in p (pconf). */
ws_location_t *ws_location_create(apr_pool_t *p, const char *path,
                                  ws_plugin_t *plugin,
                                  const struct ws_dir_conf *conf);

/* In each child, after the handlers' init: resolve the namespaces, call
 * location_init of each location whose handler is ready; location_fini
 * runs from a cleanup of pchild registered here (so: after the sessions
 * ended, before the handlers' fini, which registered earlier). */
void ws_location_child_init(apr_pool_t *pchild, server_rec *s);

/* Every location: call fn for each. */
void ws_location_each(void (*fn)(ws_location_t *loc, void *baton),
                      void *baton);

#endif /* WS_LOCATION_H */
