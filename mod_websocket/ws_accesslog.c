/*
 * ws_accesslog.c -- one access-log line per WebSocket session (see
 * ws_accesslog.h).
 *
 * The block kept from the upgrade: the struct, then the environment's
 * {key, value} pointers, then every string.  At the end a request_rec is
 * made in a pool of its own and handed to the log_transaction hook, as
 * httpd does for each request (modules/loggers/mod_log_config.c reads the
 * fields filled here).
 */
#include <stdlib.h>
#include <string.h>

#include "apr_strings.h"
#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"

#include "ws_private.h"
#include "ws_accesslog.h"
#include "ws_arena.h"
#include "ws_snapshot.h"

typedef struct {
    const char *the_request;
    const char *method;
    const char *protocol;
    const char *hostname;
    const char *unparsed_uri;
    const char *extensions;     /* agreed Sec-WebSocket-Extensions */
    const char *protocol_agreed;
    int proto_num;
    int method_number;
    int nenv;
    const char **env;           /* 2 * nenv: key, value */
} logline_t;

/* Lay r's fields out in a (sizing when a->p is NULL). */
static void lay_out(logline_t *l, ws_arena_t *a, request_rec *r,
                    const apr_array_header_t *env)
{
    const apr_table_entry_t *e = (const apr_table_entry_t *)env->elts;
    int i;

    l->the_request = ws_arena_put(a, r->the_request);
    l->method = ws_arena_put(a, r->method);
    l->protocol = ws_arena_put(a, r->protocol);
    l->hostname = ws_arena_put(a, r->hostname);
    l->unparsed_uri = ws_arena_put(a, r->unparsed_uri);
    l->extensions = ws_arena_put(a, apr_table_get(
                                        r->headers_out,
                                        "Sec-WebSocket-Extensions"));
    l->protocol_agreed = ws_arena_put(a, apr_table_get(
                                             r->headers_out,
                                             "Sec-WebSocket-Protocol"));
    for (i = 0; i < env->nelts; i++) {
        l->env[2 * i] = ws_arena_put(a, e[i].key);
        l->env[2 * i + 1] = ws_arena_put(a, e[i].val ? e[i].val : "");
    }
}

void ws_accesslog_prepare(ws_session_t *ws, request_rec *r)
{
    const apr_array_header_t *env = apr_table_elts(r->subprocess_env);
    apr_size_t head = APR_ALIGN_DEFAULT(sizeof(logline_t))
                      + 2 * (apr_size_t)env->nelts * sizeof(char *);
    logline_t probe, *l;
    ws_arena_t a = { NULL, 0 };
    char *block;

    /* Sizing pass: the pointers written go nowhere that is read. */
    probe.env = apr_palloc(r->pool, 2 * (apr_size_t)env->nelts
                                    * sizeof(char *));
    lay_out(&probe, &a, r, env);
    block = malloc(head + a.bytes);
    if (!block) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, APR_ENOMEM, r, WSLOGNO(00103)
                      "no memory for the WebSocket session's access-log "
                      "line: it will not be written");
        return;
    }
    l = (logline_t *)block;
    memset(l, 0, sizeof(*l));
    l->env = (const char **)(block + APR_ALIGN_DEFAULT(sizeof(logline_t)));
    l->nenv = env->nelts;
    l->proto_num = r->proto_num;
    l->method_number = r->method_number;
    a.p = block + head;
    a.bytes = 0;
    lay_out(l, &a, r, env);
    ws_session_set_logline(ws, block);
}

static const char *u64(apr_pool_t *p, apr_uint64_t n)
{
    return apr_psprintf(p, "%" APR_UINT64_T_FMT, n);
}

void ws_accesslog_write(ws_session_t *ws, conn_rec *c)
{
    logline_t *l = ws_session_take_logline(ws);
    const ws_snapshot_t *snap = ws_session_snapshot(ws);
    server_rec *s = ws_session_server(ws);
    ws_session_outcome_t o;
    apr_interval_time_t took;
    request_rec *r;
    apr_pool_t *p;
    const char *name, *value;
    int i;

    if (!l) {
        return;
    }
    if (apr_pool_create(&p, NULL) != APR_SUCCESS) {
        free(l);
        return;
    }
    apr_pool_tag(p, "ws_accesslog");
    ws_session_outcome(ws, &o);
    took = apr_time_now() - o.opened_at;

    r = apr_pcalloc(p, sizeof(*r));
    r->pool = p;
    r->connection = c;
    r->server = s;
    r->log = &s->log;
    r->per_dir_config = s->lookup_defaults;
    r->request_config = ap_create_request_config(p);
    r->request_time = o.opened_at;
    r->the_request = apr_pstrdup(p, l->the_request);
    r->method = apr_pstrdup(p, l->method);
    r->method_number = l->method_number;
    r->protocol = apr_pstrdup(p, l->protocol);
    r->proto_num = l->proto_num;
    r->hostname = apr_pstrdup(p, l->hostname);
    r->unparsed_uri = apr_pstrdup(p, l->unparsed_uri);
    if (r->unparsed_uri) {
        apr_uri_parse(p, r->unparsed_uri, &r->parsed_uri);
    }
    r->uri = apr_pstrdup(p, ws_snapshot_path(snap));
    r->args = apr_pstrdup(p, ws_snapshot_query(snap));
    r->user = apr_pstrdup(p, ws_snapshot_user(snap));
    r->useragent_ip = apr_pstrdup(p, ws_snapshot_remote_addr(snap));
    r->useragent_addr = c->client_addr;
    r->status = HTTP_SWITCHING_PROTOCOLS;
    r->status_line = ap_get_status_line(r->status);
    r->bytes_sent = (apr_off_t)o.bytes_out;
    r->sent_bodyct = 1;         /* %b: the bytes, not "-" */
    r->headers_in = apr_table_make(p, ws_snapshot_nheaders(snap));
    for (i = 0; (name = ws_snapshot_header_at(snap, i, &value)); i++) {
        apr_table_addn(r->headers_in, name, value);
    }
    r->headers_out = apr_table_make(p, 2);
    r->err_headers_out = apr_table_make(p, 1);
    r->notes = apr_table_make(p, 1);
    r->trailers_in = apr_table_make(p, 1);   /* %{...}^ti reads them */
    r->trailers_out = apr_table_make(p, 1);
    r->subprocess_env = apr_table_make(p, l->nenv + 12);
    for (i = 0; i < l->nenv; i++) {
        apr_table_set(r->subprocess_env, l->env[2 * i], l->env[2 * i + 1]);
    }
    if (l->protocol_agreed) {
        apr_table_set(r->headers_out, "Sec-WebSocket-Protocol",
                      l->protocol_agreed);
        apr_table_set(r->subprocess_env, "WS_PROTOCOL", l->protocol_agreed);
    }
    if (l->extensions) {
        apr_table_set(r->headers_out, "Sec-WebSocket-Extensions",
                      l->extensions);
        apr_table_set(r->subprocess_env, "WS_COMPRESSION", l->extensions);
    }
    apr_table_setn(r->subprocess_env, "WS_SESSION",
                   apr_psprintf(p, "%" APR_UINT64_T_FMT,
                                (apr_uint64_t)ws_session_gid(ws)));
    apr_table_setn(r->subprocess_env, "WS_DURATION",
                   apr_psprintf(p, "%" APR_TIME_T_FMT ".%03d",
                                apr_time_sec(took),
                                (int)(apr_time_usec(took) / 1000)));
    apr_table_setn(r->subprocess_env, "WS_CLOSE_CODE",
                   apr_itoa(p, o.close_code));
    if (o.close_reason && *o.close_reason) {
        apr_table_set(r->subprocess_env, "WS_CLOSE_REASON", o.close_reason);
    }
    apr_table_setn(r->subprocess_env, "WS_CLOSED_BY",
                   o.closed_by == 'c' ? "client"
                   : o.closed_by == 's' ? "server" : "none");
    apr_table_setn(r->subprocess_env, "WS_MSGS_IN", u64(p, o.msgs_in));
    apr_table_setn(r->subprocess_env, "WS_MSGS_OUT", u64(p, o.msgs_out));
    apr_table_setn(r->subprocess_env, "WS_BYTES_IN", u64(p, o.bytes_in));
    apr_table_setn(r->subprocess_env, "WS_BYTES_OUT", u64(p, o.bytes_out));
    free(l);

    ap_run_log_transaction(r);
    apr_pool_destroy(p);
}
