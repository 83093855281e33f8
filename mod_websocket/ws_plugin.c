/*
 * ws_plugin.c -- loading, validating and unloading handler .so files.
 *
 * Handlers are loaded while the configuration is read, so that a bad
 * handler fails `apachectl configtest` with the file, line and reason.
 * httpd re-reads the configuration on every restart: the table lives in
 * pconf and the .so is unloaded when pconf is cleared (apr_dso's cleanup).
 */
#include <string.h>

#include "apr_strings.h"
#include "apr_hash.h"
#include "httpd.h"
#include "http_config.h"

#include "ws_private.h"
#include "ws_plugin.h"
#include "http_core.h"

/* name -> ws_plugin_t; in pconf, rebuilt for each configuration read. */
static apr_hash_t *plugins;

void ws_plugin_reset(void)
{
    plugins = NULL;
}

ws_plugin_t *ws_plugin_find(const char *name)
{
    return plugins ? apr_hash_get(plugins, name, APR_HASH_KEY_STRING) : NULL;
}

/* The smallest ws_handler_t of ABI version 1: the struct as first
 * published (up to on_close).  Members appended later are optional, so a
 * handler built against that header keeps loading. */
#define WS_HANDLER_V1_SIZE (APR_OFFSETOF(ws_handler_t, on_close) \
                            + sizeof(((ws_handler_t *)0)->on_close))

/* Each rejection names the reason, as libwebsockets' plugin loader does. */
static const char *validate(apr_pool_t *p, const char *path,
                            const ws_handler_t *h)
{
    if (h->abi_version != WS_PLUGIN_ABI_VERSION) {
        return apr_psprintf(p, "%s was built for handler ABI version %u, "
                            "this mod_websocket speaks version %u: rebuild "
                            "it against this ws_plugin_api.h", path,
                            h->abi_version, WS_PLUGIN_ABI_VERSION);
    }
    if (h->size < WS_HANDLER_V1_SIZE) {
        return apr_psprintf(p, "%s: its ws_handler is %lu bytes, expected "
                            "at least %lu (built against a broken header?)",
                            path, (unsigned long)h->size,
                            (unsigned long)WS_HANDLER_V1_SIZE);
    }
    if (!h->name || !*h->name) {
        return apr_psprintf(p, "%s: ws_handler.name is empty", path);
    }
    if (!h->on_message) {
        return apr_psprintf(p, "%s (%s): ws_handler.on_message is NULL; "
                            "every handler must receive messages", path,
                            h->name);
    }
    return NULL;
}

const char *ws_plugin_load(apr_pool_t *p, const char *name, const char *path)
{
    char err[256];
    apr_dso_handle_t *dso;
    apr_dso_handle_sym_t sym;
    apr_status_t rv;
    ws_plugin_t *pl;
    const char *full, *msg;

    if (!plugins) {
        plugins = apr_hash_make(p);
    }
    if (ws_plugin_find(name)) {
        return apr_psprintf(p, "a handler named '%s' is already loaded",
                            name);
    }
    full = ap_server_root_relative(p, path);
    if (!full) {
        return apr_psprintf(p, "invalid handler path '%s'", path);
    }
    rv = apr_dso_load(&dso, full, p);
    if (rv != APR_SUCCESS) {
        return apr_psprintf(p, "cannot load %s: %s", full,
                            apr_dso_error(dso, err, sizeof(err)));
    }
    rv = apr_dso_sym(&sym, dso, WS_PLUGIN_SYMBOL);
    if (rv != APR_SUCCESS) {
        return apr_psprintf(p, "%s has no symbol '" WS_PLUGIN_SYMBOL "': "
                            "not a mod_websocket handler (see "
                            "WS_HANDLER_EXPORT in ws_plugin_api.h)", full);
    }
    msg = validate(p, full, (const ws_handler_t *)sym);
    if (msg) {
        return msg;
    }
    pl = apr_pcalloc(p, sizeof(*pl));
    pl->name = apr_pstrdup(p, name);
    pl->path = full;
    /* Copy by the handler's declared size: built against an older header,
     * it has fewer members, and the ones it lacks stay NULL or 0; built
     * against a newer one, the members this server does not know are
     * ignored. */
    memcpy(&pl->export, sym, ((const ws_handler_t *)sym)->size
                             < sizeof(pl->export)
                             ? ((const ws_handler_t *)sym)->size
                             : sizeof(pl->export));
    pl->export.size = sizeof(pl->export);
    pl->h = &pl->export;
    pl->dso = dso;
    apr_hash_set(plugins, pl->name, APR_HASH_KEY_STRING, pl);
    return NULL;
}

static apr_status_t plugins_fini(void *data)
{
    apr_hash_index_t *hi;

    (void)data;
    if (!plugins) {
        return APR_SUCCESS;
    }
    for (hi = apr_hash_first(NULL, plugins); hi; hi = apr_hash_next(hi)) {
        ws_plugin_t *pl = apr_hash_this_val(hi);

        if (pl->ready && pl->h->fini) {
            pl->h->fini();
        }
        pl->ready = 0;
    }
    return APR_SUCCESS;
}

void ws_plugin_child_init(apr_pool_t *pchild, server_rec *s,
                          const ws_api_t *api)
{
    apr_hash_index_t *hi;

    if (!plugins) {
        return;
    }
    for (hi = apr_hash_first(pchild, plugins); hi; hi = apr_hash_next(hi)) {
        ws_plugin_t *pl = apr_hash_this_val(hi);
        int rc = pl->h->init ? pl->h->init(api) : 0;

        pl->ready = (rc == 0);
        if (!pl->ready) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, WSLOGNO(00001)
                         "handler %s (%s): init failed with %d; its "
                         "endpoints answer 500 in this process", pl->name,
                         pl->path, rc);
        }
    }
    apr_pool_cleanup_register(pchild, NULL, plugins_fini,
                              apr_pool_cleanup_null);
}
