/*
 * ws_location.c -- the locations that run a handler (see ws_location.h).
 */
#include "apr_tables.h"

#include "ws_private.h"
#include "ws_location.h"
#include "ws_config.h"

static apr_array_header_t *locations;  /* ws_location_t *, in pconf */

void ws_location_reset(void)
{
    locations = NULL;
}

ws_location_t *ws_location_create(apr_pool_t *p, const char *path,
                                  ws_plugin_t *plugin,
                                  const struct ws_dir_conf *conf)
{
    ws_location_t *loc = apr_pcalloc(p, sizeof(*loc));

    if (!locations) {
        locations = apr_array_make(p, 8, sizeof(ws_location_t *));
    }
    loc->path = path && *path ? path : "/";
    loc->plugin = plugin;
    loc->conf = conf;
    loc->stats = -1;            /* ws_stats_post_config gives it a row */
    APR_ARRAY_PUSH(locations, ws_location_t *) = loc;
    return loc;
}

void ws_location_each(void (*fn)(ws_location_t *loc, void *baton),
                      void *baton)
{
    int i;

    for (i = 0; locations && i < locations->nelts; i++) {
        fn(APR_ARRAY_IDX(locations, i, ws_location_t *), baton);
    }
}

static apr_status_t child_exit(void *data)
{
    int i;

    (void)data;
    for (i = 0; locations && i < locations->nelts; i++) {
        ws_location_t *loc = APR_ARRAY_IDX(locations, i, ws_location_t *);

        if (loc->ready && loc->plugin->h->location_fini) {
            loc->plugin->h->location_fini(loc);
        }
        loc->ready = 0;
    }
    return APR_SUCCESS;
}

void ws_location_child_init(apr_pool_t *pchild, server_rec *s)
{
    int i;

    for (i = 0; locations && i < locations->nelts; i++) {
        ws_location_t *loc = APR_ARRAY_IDX(locations, i, ws_location_t *);
        const ws_handler_t *h = loc->plugin->h;

        loc->ns = loc->conf->ns ? loc->conf->ns : loc->path;
        if (!loc->plugin->ready) {
            continue;
        }
        if (h->location_init && h->location_init(loc) != 0) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, WSLOGNO(00075)
                         "handler %s: location_init refused %s: its "
                         "upgrades get 500 in this child",
                         loc->plugin->name, loc->path);
            continue;
        }
        loc->ready = 1;
    }
    apr_pool_cleanup_register(pchild, NULL, child_exit,
                              apr_pool_cleanup_null);
}
