/*
 * ws_config.c -- per-directory configuration and the directive table.
 *
 * Owns: ws_dir_conf_t's life (create/merge) and parsing every directive,
 * with errors that name the directive and the accepted range.  httpd adds
 * the file and line.  Must not touch requests or connections.
 */
#include "apr_lib.h"
#include "apr_strings.h"
#include "http_core.h"

#include "ws_private.h"
#include "ws_config.h"
#include "ws_redisconf.h"
#include "ws_addrlimit.h"
#include "ws_handshake.h"
#include "ws_location.h"

#define WS_MERGE(field) \
    conf->field = (add->field == WS_UNSET) ? base->field : add->field
#define WS_MERGE_PTR(field) \
    conf->field = add->field ? add->field : base->field

void *ws_create_dir_conf(apr_pool_t *p, char *dir)
{
    ws_dir_conf_t *conf = apr_pcalloc(p, sizeof(*conf));

    conf->path = dir;
    conf->max_message = WS_UNSET;
    conf->max_frame = WS_UNSET;
    conf->plain = WS_UNSET;
    conf->max_queued = WS_UNSET;
    conf->max_fragments = WS_UNSET;
    conf->max_control = WS_UNSET;
    conf->max_per_address = WS_UNSET;
    conf->overflow = WS_UNSET;
    conf->ping = WS_UNSET;
    conf->ping_timeout = WS_UNSET;
    conf->idle = WS_UNSET;
    conf->close_timeout = WS_UNSET;
    conf->graceful = WS_UNSET;
    conf->history_count = WS_UNSET;
    conf->history_age = WS_UNSET;
    conf->compress = WS_UNSET;
    conf->compress_level = WS_UNSET;
    conf->server_window = WS_UNSET;
    conf->client_window = WS_UNSET;
    conf->compress_mem = WS_UNSET;
    conf->compress_min = WS_UNSET;
    conf->takeover = WS_UNSET;
    return conf;
}

void *ws_merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    ws_dir_conf_t *base = basev, *add = addv;
    ws_dir_conf_t *conf = apr_pcalloc(p, sizeof(*conf));

    WS_MERGE_PTR(path);
    WS_MERGE_PTR(handler);
    conf->location = add->handler ? add->location : base->location;
    WS_MERGE_PTR(ns);
    WS_MERGE(history_count);
    WS_MERGE(history_age);
    WS_MERGE(max_message);
    WS_MERGE(max_frame);
    WS_MERGE_PTR(origins);
    WS_MERGE_PTR(protocols);
    WS_MERGE(plain);
    WS_MERGE(max_queued);
    WS_MERGE(max_fragments);
    WS_MERGE(max_control);
    WS_MERGE(max_per_address);
    WS_MERGE(overflow);
    WS_MERGE(ping);
    WS_MERGE(ping_timeout);
    WS_MERGE(idle);
    WS_MERGE(close_timeout);
    WS_MERGE(graceful);
    WS_MERGE(compress);
    WS_MERGE(compress_level);
    WS_MERGE(server_window);
    WS_MERGE(client_window);
    WS_MERGE(compress_mem);
    WS_MERGE(compress_min);
    WS_MERGE(takeover);
    if (base->options && add->options) {
        conf->options = apr_table_overlay(p, add->options, base->options);
    }
    else {
        WS_MERGE_PTR(options);
    }
    return conf;
}

apr_off_t ws_conf_max_message(const ws_dir_conf_t *conf)
{
    return conf->max_message == WS_UNSET ? WS_DEFAULT_MAX_MESSAGE
                                         : conf->max_message;
}

apr_off_t ws_conf_max_frame(const ws_dir_conf_t *conf)
{
    return conf->max_frame == WS_UNSET ? WS_DEFAULT_MAX_FRAME
                                       : conf->max_frame;
}

int ws_conf_plain(const ws_dir_conf_t *conf)
{
    return conf->plain == WS_UNSET ? WS_PLAIN_REFUSE : conf->plain;
}

int ws_io_mode = WS_IO_AUTO;
int ws_event_loops = 0;
int ws_max_connections = WS_CAPACITY_AUTO;
int ws_history_count = WS_DEFAULT_HISTORY_COUNT;
apr_interval_time_t ws_history_age = WS_DEFAULT_HISTORY_AGE;
apr_off_t ws_channel_memory = WS_DEFAULT_CHANNEL_MEMORY;
const struct ws_redis_conf *ws_channel_redis;

void ws_conf_reset_globals(void)
{
    ws_io_mode = WS_IO_AUTO;
    ws_event_loops = 0;
    ws_max_connections = WS_CAPACITY_AUTO;
    ws_history_count = WS_DEFAULT_HISTORY_COUNT;
    ws_history_age = WS_DEFAULT_HISTORY_AGE;
    ws_channel_memory = WS_DEFAULT_CHANNEL_MEMORY;
    ws_channel_redis = NULL;
}

#define WS_GETTER(type, name, field, dflt) \
    type ws_conf_##name(const ws_dir_conf_t *conf) \
    { \
        return conf->field == WS_UNSET ? (dflt) : conf->field; \
    }

WS_GETTER(apr_off_t, max_queued, max_queued, WS_DEFAULT_MAX_QUEUED)
WS_GETTER(int, max_fragments, max_fragments, WS_DEFAULT_MAX_FRAGMENTS)
WS_GETTER(int, max_control, max_control, WS_DEFAULT_MAX_CONTROL)
WS_GETTER(int, max_per_address, max_per_address,
          WS_DEFAULT_MAX_PER_ADDRESS)
WS_GETTER(int, overflow, overflow, WS_OVERFLOW_CLOSE)
WS_GETTER(apr_interval_time_t, ping_interval, ping, WS_DEFAULT_PING)
WS_GETTER(apr_interval_time_t, ping_timeout, ping_timeout,
          WS_DEFAULT_PING_TIMEOUT)
WS_GETTER(apr_interval_time_t, idle_timeout, idle, WS_DEFAULT_IDLE)
WS_GETTER(apr_interval_time_t, close_timeout, close_timeout,
          WS_DEFAULT_CLOSE)
WS_GETTER(apr_interval_time_t, graceful_timeout, graceful,
          WS_DEFAULT_GRACEFUL)

int ws_conf_history_count(const ws_dir_conf_t *conf)
{
    return conf->history_count == WS_UNSET ? ws_history_count
                                           : conf->history_count;
}

apr_interval_time_t ws_conf_history_age(const ws_dir_conf_t *conf)
{
    return conf->history_age == WS_UNSET ? ws_history_age
                                         : conf->history_age;
}

void ws_conf_settings(const ws_dir_conf_t *conf, ws_settings_t *out)
{
    out->max_message = ws_conf_max_message(conf);
    out->max_frame = ws_conf_max_frame(conf);
    out->max_queued = ws_conf_max_queued(conf);
    out->max_fragments = ws_conf_max_fragments(conf);
    out->max_control = ws_conf_max_control(conf);
    out->overflow = ws_conf_overflow(conf);
    out->ping = ws_conf_ping_interval(conf);
    out->ping_timeout = ws_conf_ping_timeout(conf);
    out->idle = ws_conf_idle_timeout(conf);
    out->close_timeout = ws_conf_close_timeout(conf);
    out->graceful = ws_conf_graceful_timeout(conf);
    out->compress = conf->compress == WS_UNSET ? WS_DEFAULT_COMPRESSION
                                               : conf->compress;
    out->compress_level = conf->compress_level == WS_UNSET
                          ? WS_DEFAULT_COMPRESS_LEVEL : conf->compress_level;
    out->compress_mem = conf->compress_mem == WS_UNSET
                        ? WS_DEFAULT_COMPRESS_MEM : conf->compress_mem;
    out->compress_min = (size_t)(conf->compress_min == WS_UNSET
                                 ? WS_DEFAULT_COMPRESS_MIN
                                 : conf->compress_min);
    {
        int t = conf->takeover == WS_UNSET ? WS_DEFAULT_TAKEOVER
                                           : conf->takeover;

        out->pmd.server_no_context_takeover = !(t & WS_TAKEOVER_SERVER);
        out->pmd.client_no_context_takeover = !(t & WS_TAKEOVER_CLIENT);
    }
    out->pmd.server_max_window_bits = conf->server_window == WS_UNSET
        ? WS_DEFAULT_SERVER_WINDOW : conf->server_window;
    out->pmd.client_max_window_bits = conf->client_window == WS_UNSET
        ? WS_DEFAULT_CLIENT_WINDOW : conf->client_window;
}

const char *ws_parse_size(apr_pool_t *p, const char *arg, apr_off_t *out)
{
    char *end;
    apr_off_t v;
    apr_off_t unit = 1;

    if (apr_strtoff(&v, arg, &end, 10) != APR_SUCCESS || end == arg
        || v <= 0) {
        return apr_psprintf(p, "'%s' is not a positive size", arg);
    }
    switch (*end) {
    case 'k': case 'K': unit = 1024; end++; break;
    case 'm': case 'M': unit = 1024 * 1024; end++; break;
    case 'g': case 'G': unit = 1024 * 1024 * 1024; end++; break;
    }
    if (*end) {
        return apr_psprintf(p, "'%s': unknown unit (use K, M or G)", arg);
    }
    if (v > APR_INT64_MAX / unit) {
        return apr_psprintf(p, "'%s' is too large", arg);
    }
    *out = v * unit;
    return NULL;
}

/* Run a handler's own check of one option, if it has one. */
static const char *check_option(cmd_parms *cmd, ws_plugin_t *pl,
                                const char *key, const char *val)
{
    const char *err;

    if (!pl->h->check_option) {
        return NULL;
    }
    err = pl->h->check_option(key, val);
    return err ? apr_psprintf(cmd->pool, "%s: handler %s, option %s: %s",
                              cmd->cmd->name, pl->name, key, err)
               : NULL;
}

typedef struct {
    cmd_parms *cmd;
    ws_plugin_t *pl;
    const char *err;
} check_ctx_t;

static int check_one(void *data, const char *key, const char *val)
{
    check_ctx_t *ctx = data;

    ctx->err = check_option(ctx->cmd, ctx->pl, key, val);
    return ctx->err == NULL;
}

static const char *cmd_load_handler(cmd_parms *cmd, void *dconf,
                                    const char *name, const char *path)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    (void)dconf;
    if (err) {
        return err;
    }
    err = ws_plugin_load(cmd->pool, name, path);
    return err ? apr_pstrcat(cmd->pool, cmd->cmd->name, ": ", err, NULL)
               : NULL;
}

static const char *cmd_handler(cmd_parms *cmd, void *dconf, const char *name)
{
    ws_dir_conf_t *conf = dconf;
    check_ctx_t ctx;

    conf->handler = ws_plugin_find(name);
    if (!conf->handler) {
        return apr_psprintf(cmd->pool, "%s: no handler named '%s' has been "
                            "loaded; load it with WebSocketLoadHandler "
                            "before this line", cmd->cmd->name, name);
    }
    if (conf->location) {
        conf->location->plugin = conf->handler;
    }
    else {
        conf->location = ws_location_create(cmd->pool, cmd->path,
                                             conf->handler, conf);
    }
    /* Options set earlier in this section are checked now. */
    if (conf->options) {
        ctx.cmd = cmd;
        ctx.pl = conf->handler;
        ctx.err = NULL;
        apr_table_do(check_one, &ctx, conf->options, NULL);
        return ctx.err;
    }
    return NULL;
}

static const char *cmd_option(cmd_parms *cmd, void *dconf, const char *key,
                              const char *val)
{
    ws_dir_conf_t *conf = dconf;

    ws_option_src_t *src;

    if (!conf->options) {
        conf->options = apr_table_make(cmd->pool, 4);
        conf->option_src = apr_array_make(cmd->pool, 4, sizeof(*src));
    }
    apr_table_set(conf->options, key, val);
    src = apr_array_push(conf->option_src);
    src->key = key;
    src->val = val;
    src->file = cmd->directive ? cmd->directive->filename : "?";
    src->line = cmd->directive ? cmd->directive->line_num : 0;
    return conf->handler ? check_option(cmd, conf->handler, key, val) : NULL;
}

static const char *cmd_size(cmd_parms *cmd, void *dconf, const char *arg)
{
    apr_off_t v;
    const char *err = ws_parse_size(cmd->pool, arg, &v);

    if (err) {
        return apr_psprintf(cmd->pool, "%s: %s; expected bytes from 1 to "
                            "%" APR_INT64_T_FMT ", optionally with K, M or "
                            "G", cmd->cmd->name, err,
                            (apr_int64_t)APR_INT64_MAX);
    }
    *(apr_off_t *)((char *)dconf + (size_t)cmd->info) = v;
    return NULL;
}

/* A time: "30" (seconds), "500ms", "2min"; 0 allowed where it means
 * "off". */
static const char *cmd_time(cmd_parms *cmd, void *dconf, const char *arg)
{
    apr_interval_time_t t;

    if (ap_timeout_parameter_parse(arg, &t, "s") != APR_SUCCESS || t < 0) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a time; expected "
                            "e.g. 30, 30s, 500ms or 2min (0 to turn off "
                            "where allowed)", cmd->cmd->name, arg);
    }
    if (t == 0 && cmd->cmd->cmd_data != (void *)APR_OFFSETOF(ws_dir_conf_t,
                                                            ping)
        && cmd->cmd->cmd_data != (void *)APR_OFFSETOF(ws_dir_conf_t, idle)) {
        return apr_psprintf(cmd->pool, "%s: must be more than 0",
                            cmd->cmd->name);
    }
    *(apr_interval_time_t *)((char *)dconf + (size_t)cmd->info) = t;
    return NULL;
}

/* A count from 0 (no limit) up, stored at the offset in cmd->info. */
static const char *cmd_count(cmd_parms *cmd, void *dconf, const char *arg)
{
    char *end;
    long n = strtol(arg, &end, 10);

    if (*end || end == arg || n < 0 || n > 1000000000L) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a number from 0 "
                            "(no limit) to 1000000000", cmd->cmd->name, arg);
    }
    *(int *)((char *)dconf + (size_t)cmd->info) = (int)n;
    return NULL;
}

static const char *cmd_per_address(cmd_parms *cmd, void *dconf,
                                   const char *arg)
{
    const char *err = cmd_count(cmd, dconf, arg);

    if (!err && ((ws_dir_conf_t *)dconf)->max_per_address > 0) {
        ws_addrlimit_wanted();      /* the shared table is needed */
    }
    return err;
}

static const char *cmd_compression(cmd_parms *cmd, void *dconf, int on)
{
    (void)cmd;
    ((ws_dir_conf_t *)dconf)->compress = on;
    return NULL;
}

/* A number in [lo, hi] into *out. */
static const char *in_range(cmd_parms *cmd, const char *arg, int lo, int hi,
                            int *out)
{
    char *end;
    long n = strtol(arg, &end, 10);

    if (*end || end == arg || n < lo || n > hi) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a number from %d "
                            "to %d", cmd->cmd->name, arg, lo, hi);
    }
    *out = (int)n;
    return NULL;
}

/* zlib's level or memLevel, 1-9, at the offset in cmd->info. */
static const char *cmd_zlib_level(cmd_parms *cmd, void *dconf,
                                  const char *arg)
{
    return in_range(cmd, arg, 1, 9,
                    (int *)((char *)dconf + (size_t)cmd->info));
}

/* Window bits: ours, and the most we ask a client for (9-15; zlib's
 * deflate cannot keep to 8). */
static const char *cmd_window(cmd_parms *cmd, void *dconf, const char *server,
                              const char *client)
{
    ws_dir_conf_t *conf = dconf;
    const char *err = in_range(cmd, server, 9, 15, &conf->server_window);

    if (!err && client) {
        err = in_range(cmd, client, 9, 15, &conf->client_window);
    }
    return err;
}

static const char *cmd_takeover(cmd_parms *cmd, void *dconf, const char *arg)
{
    ws_dir_conf_t *conf = dconf;

    if (!strcasecmp(arg, "none")) {
        conf->takeover = 0;
    }
    else if (!strcasecmp(arg, "client")) {
        conf->takeover = WS_TAKEOVER_CLIENT;
    }
    else if (!strcasecmp(arg, "server")) {
        conf->takeover = WS_TAKEOVER_SERVER;
    }
    else if (!strcasecmp(arg, "both")) {
        conf->takeover = WS_TAKEOVER_SERVER | WS_TAKEOVER_CLIENT;
    }
    else {
        return apr_psprintf(cmd->pool, "%s: '%s' is not none, client, "
                            "server or both", cmd->cmd->name, arg);
    }
    return NULL;
}

static const char *cmd_overflow(cmd_parms *cmd, void *dconf, const char *arg)
{
    ws_dir_conf_t *conf = dconf;

    if (!strcasecmp(arg, "Close")) {
        conf->overflow = WS_OVERFLOW_CLOSE;
    }
    else if (!strcasecmp(arg, "Drop")) {
        conf->overflow = WS_OVERFLOW_DROP;
    }
    else {
        return apr_psprintf(cmd->pool, "%s: '%s' is not Close or Drop",
                            cmd->cmd->name, arg);
    }
    return NULL;
}

static const char *cmd_io_mode(cmd_parms *cmd, void *dconf, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    (void)dconf;
    if (err) {
        return err;
    }
    if (!strcasecmp(arg, "Auto")) {
        ws_io_mode = WS_IO_AUTO;
    }
    else if (!strcasecmp(arg, "Thread")) {
        ws_io_mode = WS_IO_THREAD;
    }
    else {
        return apr_psprintf(cmd->pool, "%s: '%s' is not Auto or Thread",
                            cmd->cmd->name, arg);
    }
    return NULL;
}

static const char *cmd_max_connections(cmd_parms *cmd, void *dconf,
                                       const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    char *end;
    long n;

    (void)dconf;
    if (err) {
        return err;
    }
    if (!strcasecmp(arg, "auto")) {
        ws_max_connections = WS_CAPACITY_AUTO;
        return NULL;
    }
    n = strtol(arg, &end, 10);
    if (*end || end == arg || n < 0 || n > 100000000L) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not auto or a number "
                            "from 0 (no limit) to 100000000",
                            cmd->cmd->name, arg);
    }
    ws_max_connections = (int)n;
    return NULL;
}

static const char *cmd_event_loops(cmd_parms *cmd, void *dconf,
                                   const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    char *end;
    long n;

    (void)dconf;
    if (err) {
        return err;
    }
    n = strtol(arg, &end, 10);
    if (*end || end == arg || n < 0 || n > 64) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a number from 0 "
                            "(one per CPU) to 64", cmd->cmd->name, arg);
    }
    ws_event_loops = (int)n;
    return NULL;
}

static const char *cmd_origins(cmd_parms *cmd, void *dconf, const char *arg)
{
    ws_dir_conf_t *conf = dconf;

    /* Parsed as requests' Origin headers will be (RFC 6454): a value
     * that parses differently could never match. */
    if (!ws_handshake_origin_valid(arg)) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not an origin; expected "
                            "scheme://host[:port] (a port from 0 to 65535, "
                            "no path) or *", cmd->cmd->name, arg);
    }
    if (!conf->origins) {
        conf->origins = apr_array_make(cmd->pool, 4, sizeof(const char *));
    }
    APR_ARRAY_PUSH(conf->origins, const char *) = arg;
    return NULL;
}

static const char *cmd_protocols(cmd_parms *cmd, void *dconf, const char *arg)
{
    ws_dir_conf_t *conf = dconf;

    if (strcmp(arg, "*") != 0
        && !ws_handshake_is_token(arg, strlen(arg))) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a valid "
                            "subprotocol name (an HTTP token) or *",
                            cmd->cmd->name, arg);
    }
    if (!conf->protocols) {
        conf->protocols = apr_array_make(cmd->pool, 4, sizeof(const char *));
    }
    APR_ARRAY_PUSH(conf->protocols, const char *) = arg;
    return NULL;
}

static const char *cmd_plain(cmd_parms *cmd, void *dconf, const char *arg)
{
    ws_dir_conf_t *conf = dconf;

    if (!strcasecmp(arg, "Refuse")) {
        conf->plain = WS_PLAIN_REFUSE;
    }
    else if (!strcasecmp(arg, "Serve")) {
        conf->plain = WS_PLAIN_SERVE;
    }
    else {
        return apr_psprintf(cmd->pool, "%s: '%s' is not Refuse or Serve",
                            cmd->cmd->name, arg);
    }
    return NULL;
}

/* Check one section's own options against an enclosing section's handler;
 * 0, or -1 after logging the refusal like a syntax error. */
static int check_inherited(const ws_dir_conf_t *inner, const char *ipath,
                           const ws_dir_conf_t *outer, const char *opath)
{
    int i;

    for (i = 0; i < inner->option_src->nelts; i++) {
        const ws_option_src_t *o = &APR_ARRAY_IDX(inner->option_src, i,
                                                  ws_option_src_t);
        const char *err = outer->handler->h->check_option(o->key, o->val);

        if (err) {
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, 0, NULL,
                         "Syntax error on line %d of %s: "
                         "WebSocketHandlerOption: handler %s (from "
                         "<Location %s>, enclosing <Location %s>), option "
                         "%s: %s", o->line, o->file, outer->handler->name,
                         opath, ipath, o->key, err);
            return -1;
        }
    }
    return 0;
}

/* 1 if <Location outer> encloses <Location inner>: outer is a prefix
 * ending at a path segment boundary, as httpd matches locations ("/chat"
 * encloses "/chat/room", not "/chatroom"). */
static int location_encloses(const char *outer, const char *inner)
{
    size_t n = strlen(outer);

    return strncmp(inner, outer, n) == 0
           && (n == 0 || outer[n - 1] == '/' || inner[n] == '/'
               || inner[n] == '\0');
}

int ws_conf_check_config(apr_pool_t *pconf, apr_pool_t *plog,
                           apr_pool_t *ptemp, server_rec *s)
{
    (void)pconf; (void)plog; (void)ptemp;
    for (; s; s = s->next) {
        core_server_config *sc = ap_get_core_module_config(s->module_config);
        ap_conf_vector_t **secs;
        int i, j;

        if (!sc || !sc->sec_url) {
            continue;
        }
        secs = (ap_conf_vector_t **)sc->sec_url->elts;
        for (i = 0; i < sc->sec_url->nelts; i++) {
            const ws_dir_conf_t *in = ap_get_module_config(secs[i],
                                                           &websocket_module);
            const core_dir_config *cin = ap_get_core_module_config(secs[i]);

            if (!in || !in->option_src || in->handler || !cin->d || cin->r) {
                continue;
            }
            for (j = 0; j < sc->sec_url->nelts; j++) {
                const ws_dir_conf_t *out = ap_get_module_config(
                                               secs[j], &websocket_module);
                const core_dir_config *cout = ap_get_core_module_config(
                                                  secs[j]);

                if (j == i || !out || !out->handler
                    || !out->handler->h->check_option || !cout->d || cout->r
                    || !location_encloses(cout->d, cin->d)) {
                    continue;
                }
                if (check_inherited(in, cin->d, out, cout->d) != 0) {
                    return HTTP_INTERNAL_SERVER_ERROR;
                }
            }
        }
    }
    return OK;
}

/* A namespace or channel name: 1-255 bytes, no control characters. */
int ws_conf_name_valid(const char *name, size_t len)
{
    size_t i;

    if (len == 0 || len > WS_NAME_MAX) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];

        if (c < 0x20 || c == 0x7f) {
            return 0;
        }
    }
    return 1;
}

static const char *cmd_namespace(cmd_parms *cmd, void *dconf,
                                 const char *arg)
{
    ws_dir_conf_t *conf = dconf;

    if (!ws_conf_name_valid(arg, strlen(arg))) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a namespace: 1 to "
                            "%d bytes without control characters",
                            cmd->cmd->name, arg, WS_NAME_MAX);
    }
    conf->ns = arg;
    return NULL;
}

/* In the main server (not a virtual host): a server-wide setting. */
static const char *main_server_only(cmd_parms *cmd)
{
    if (cmd->server->is_virtual) {
        return apr_psprintf(cmd->pool, "%s: in the main server configuration"
                            "%s, not in a <VirtualHost>", cmd->cmd->name,
                            (cmd->cmd->req_override & ACCESS_CONF)
                            ? " or a <Location>" : " only");
    }
    return NULL;
}

static const char *cmd_history(cmd_parms *cmd, void *dconf, const char *count,
                               const char *age)
{
    ws_dir_conf_t *conf = dconf;
    apr_interval_time_t t = WS_DEFAULT_HISTORY_AGE;
    char *end;
    long n = strtol(count, &end, 10);
    const char *err;

    if (*end || end == count || n < 0 || n > 1000000L) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a number of messages "
                            "from 0 (no history) to 1000000", cmd->cmd->name,
                            count);
    }
    if (age && (ap_timeout_parameter_parse(age, &t, "s") != APR_SUCCESS
                || t <= 0)) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a time; expected "
                            "e.g. 300, 300s or 1h... (more than 0)",
                            cmd->cmd->name, age);
    }
    if (!cmd->path) {
        if ((err = main_server_only(cmd))) {
            return err;
        }
        ws_history_count = (int)n;
        ws_history_age = t;
        return NULL;
    }
    conf->history_count = (int)n;
    conf->history_age = t;
    return NULL;
}

static const char *cmd_channel_memory(cmd_parms *cmd, void *dconf,
                                      const char *arg)
{
    apr_off_t v;
    const char *err = main_server_only(cmd);

    (void)dconf;
    if (err) {
        return err;
    }
    if ((err = ws_parse_size(cmd->pool, arg, &v))) {
        return apr_psprintf(cmd->pool, "%s: %s; expected bytes (K, M, G "
                            "allowed)", cmd->cmd->name, err);
    }
    ws_channel_memory = v;
    return NULL;
}

static const char *cmd_channels(cmd_parms *cmd, void *dconf, int argc,
                                char *const argv[])
{
    ws_redis_conf_t *c;
    const char *err = main_server_only(cmd);

    (void)dconf;
    if (err) {
        return err;
    }
    if (argc < 1) {
        return apr_psprintf(cmd->pool, "%s: embedded, redis://host[:port]"
                            "[/db] or unix:///path/to/redis.sock",
                            cmd->cmd->name);
    }
    if (!strcasecmp(argv[0], "embedded")) {
        if (argc > 1) {
            return apr_psprintf(cmd->pool, "%s embedded takes no options",
                                cmd->cmd->name);
        }
        ws_channel_redis = NULL;
        return NULL;
    }
    c = apr_palloc(cmd->pool, sizeof(*c));
    if ((err = ws_redis_conf_parse(cmd->pool, argc, argv, c))) {
        return apr_psprintf(cmd->pool, "%s %s: %s", cmd->cmd->name, argv[0],
                            err);
    }
    ws_channel_redis = c;
    return NULL;
}

/* Where a location's settings may be written: in <Location> and
 * <Directory>, and in the server config or a virtual host as the default
 * of every location there (inner sections override, see the merge). */
#define WS_SETTING_CONF (RSRC_CONF | ACCESS_CONF)

const command_rec ws_cmds[] = {
    AP_INIT_TAKE2("WebSocketLoadHandler", cmd_load_handler, NULL, RSRC_CONF,
                  "Load a WebSocket handler .so under a name: "
                  "WebSocketLoadHandler <name> <path>."),
    AP_INIT_TAKE1("WebSocketHandler", cmd_handler, NULL, ACCESS_CONF,
                  "Serve WebSocket upgrades here with the named handler."),
    AP_INIT_TAKE2("WebSocketHandlerOption", cmd_option, NULL, ACCESS_CONF,
                  "Pass an option to this location's handler: "
                  "WebSocketHandlerOption <name> <value>."),
    AP_INIT_TAKE1("WebSocketMaxMessageSize", cmd_size,
                  (void *)APR_OFFSETOF(ws_dir_conf_t, max_message),
                  WS_SETTING_CONF,
                  "Largest message accepted, in bytes (K, M, G allowed); "
                  "larger ones close the connection with 1009."),
    AP_INIT_TAKE1("WebSocketMaxFrameSize", cmd_size,
                  (void *)APR_OFFSETOF(ws_dir_conf_t, max_frame),
                  WS_SETTING_CONF,
                  "Largest frame payload accepted, in bytes (K, M, G "
                  "allowed); larger ones close the connection with 1009."),
    AP_INIT_ITERATE("WebSocketAllowedOrigins", cmd_origins, NULL,
                    WS_SETTING_CONF,
                    "Origins allowed besides the site itself: "
                    "scheme://host[:port] ..., or * for any."),
    AP_INIT_ITERATE("WebSocketProtocols", cmd_protocols, NULL,
                    WS_SETTING_CONF,
                    "Subprotocols spoken here, in order of preference; * "
                    "agrees to the client's first offer."),
    AP_INIT_TAKE1("WebSocketPlainRequests", cmd_plain, NULL,
                  WS_SETTING_CONF,
                  "Refuse (426 Upgrade Required, the default) or Serve "
                  "requests without an Upgrade to this location."),
    AP_INIT_TAKE1("WebSocketMaxQueuedOutput", cmd_size,
                  (void *)APR_OFFSETOF(ws_dir_conf_t, max_queued),
                  WS_SETTING_CONF,
                  "Most bytes queued for one connection before "
                  "WebSocketQueueOverflow applies (K, M, G allowed)."),
    AP_INIT_TAKE1("WebSocketMaxFragments", cmd_count,
                  (void *)APR_OFFSETOF(ws_dir_conf_t, max_fragments),
                  WS_SETTING_CONF,
                  "Most frames one message may arrive in (0: no limit); "
                  "more close the connection with 1008."),
    AP_INIT_TAKE1("WebSocketMaxControlRate", cmd_count,
                  (void *)APR_OFFSETOF(ws_dir_conf_t, max_control),
                  WS_SETTING_CONF,
                  "Most control frames (ping, pong, close) a client may "
                  "send per second (0: no limit); more close the "
                  "connection with 1008."),
    AP_INIT_TAKE1("WebSocketMaxConnectionsPerAddress", cmd_per_address,
                  (void *)APR_OFFSETOF(ws_dir_conf_t, max_per_address),
                  WS_SETTING_CONF,
                  "Most WebSocket connections one client address may hold "
                  "open on this server (0: no limit); more get 503."),
    AP_INIT_FLAG("WebSocketCompression", cmd_compression, NULL,
                 WS_SETTING_CONF,
                 "Answer clients' permessage-deflate offers (RFC 7692): On "
                 "(the default) or Off."),
    AP_INIT_TAKE1("WebSocketCompressionLevel", cmd_zlib_level,
                  (void *)APR_OFFSETOF(ws_dir_conf_t, compress_level),
                  WS_SETTING_CONF,
                  "zlib compression level, 1 (fastest) to 9 (smallest); "
                  "default 3."),
    AP_INIT_TAKE1("WebSocketCompressionMemLevel", cmd_zlib_level,
                  (void *)APR_OFFSETOF(ws_dir_conf_t, compress_mem),
                  WS_SETTING_CONF,
                  "zlib memLevel of the compressor, 1 to 9; default 8."),
    AP_INIT_TAKE12("WebSocketCompressionWindowBits", cmd_window, NULL,
                   WS_SETTING_CONF,
                   "LZ77 window bits: the server's [the most asked of "
                   "clients that let the server choose], 9 to 15; default "
                   "15 12."),
    AP_INIT_TAKE1("WebSocketCompressionMinSize", cmd_size,
                  (void *)APR_OFFSETOF(ws_dir_conf_t, compress_min),
                  WS_SETTING_CONF,
                  "Messages shorter than this go uncompressed; default 64."),
    AP_INIT_TAKE1("WebSocketCompressionContextTakeover", cmd_takeover, NULL,
                  WS_SETTING_CONF,
                  "Which side keeps its compression context between "
                  "messages: client (the default), server, both or none."),
    AP_INIT_TAKE1("WebSocketQueueOverflow", cmd_overflow, NULL,
                  WS_SETTING_CONF,
                  "What a full output queue does: Close (1008, the "
                  "default) or Drop the message; both are counted."),
    AP_INIT_TAKE1("WebSocketPingInterval", cmd_time,
                  (void *)APR_OFFSETOF(ws_dir_conf_t, ping),
                  WS_SETTING_CONF,
                  "Ping a peer silent for this long (0: never)."),
    AP_INIT_TAKE1("WebSocketPingTimeout", cmd_time,
                  (void *)APR_OFFSETOF(ws_dir_conf_t, ping_timeout),
                  WS_SETTING_CONF,
                  "Close a peer that has not answered a ping in this "
                  "long."),
    AP_INIT_TAKE1("WebSocketIdleTimeout", cmd_time,
                  (void *)APR_OFFSETOF(ws_dir_conf_t, idle),
                  WS_SETTING_CONF,
                  "Close (1001) a connection without messages for this "
                  "long (0, the default: never)."),
    AP_INIT_TAKE1("WebSocketCloseTimeout", cmd_time,
                  (void *)APR_OFFSETOF(ws_dir_conf_t, close_timeout),
                  WS_SETTING_CONF,
                  "How long to wait for the peer's close frame after "
                  "sending ours."),
    AP_INIT_TAKE1("WebSocketGracefulTimeout", cmd_time,
                  (void *)APR_OFFSETOF(ws_dir_conf_t, graceful),
                  WS_SETTING_CONF,
                  "After a graceful restart or stop, how long an old "
                  "child keeps its WebSockets before closing them (1001)."),
    AP_INIT_TAKE1("WebSocketIOMode", cmd_io_mode, NULL, RSRC_CONF,
                  "Auto (event loops under mpm_event, the default) or "
                  "Thread (a thread per connection)."),
    AP_INIT_TAKE1("WebSocketMaxConnections", cmd_max_connections, NULL,
                  RSRC_CONF,
                  "Most WebSockets the whole server holds, beyond which "
                  "upgrades get 503: auto (the default: three quarters of "
                  "what the MPM's settings allow), 0 (no limit) or a "
                  "number."),
    AP_INIT_TAKE1("WebSocketEventLoops", cmd_event_loops, NULL, RSRC_CONF,
                  "Event loop threads per child process (0, the default: "
                  "one per CPU, at most 8)."),
    AP_INIT_TAKE1("WebSocketNamespace", cmd_namespace, NULL, ACCESS_CONF,
                  "The channel namespace of this location's handler or "
                  "websocket-publish endpoint (default: the location's "
                  "path)."),
    AP_INIT_TAKE12("WebSocketChannelHistory", cmd_history, NULL,
                   WS_SETTING_CONF,
                   "Messages a channel keeps for late subscribers and "
                   "resumes: <count> [<age>] (default 100 3600s); in the "
                   "main server, the default of every location."),
    AP_INIT_TAKE1("WebSocketChannelMemory", cmd_channel_memory, NULL,
                  RSRC_CONF,
                  "Most bytes of channel history the server keeps in all "
                  "(default 64M); the oldest messages go first."),
    AP_INIT_TAKE_ARGV("WebSocketChannels", cmd_channels, NULL, RSRC_CONF,
                      "Where channels live: embedded (the default: this "
                      "server's hub) or redis://[[user]:password@]host"
                      "[:port][/db] | unix:///path [prefix=ws:] "
                      "[timeout=2], shared by every httpd server using the "
                      "same Redis and prefix."),
    { NULL }
};
