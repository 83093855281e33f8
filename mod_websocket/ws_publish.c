/*
 * ws_publish.c -- the websocket-publish handler (see ws_publish.h).
 */
#include <jansson.h>

#include "apr_strings.h"
#include "http_protocol.h"
#include "http_request.h"

#include "ws_private.h"
#include "ws_publish.h"
#include "ws_channels.h"
#include "ws_hubproto.h"
#include "ws_utf8.h"

/* How long a publisher waits for the hub's answer. */
#define WS_PUBLISH_WAIT apr_time_from_sec(5)

/* The channel named by the URL: what follows the section's path. */
static const char *channel_of(request_rec *r, const ws_dir_conf_t *conf)
{
    const char *uri = r->uri;
    size_t plen = conf->path ? strlen(conf->path) : 0;

    while (plen && conf->path[plen - 1] == '/') {
        plen--;
    }
    if (plen && !strncmp(uri, conf->path, plen)) {
        uri += plen;
    }
    else {
        /* Not a prefix (a <LocationMatch>, an alias): the last segment. */
        const char *slash = strrchr(uri, '/');

        uri = slash ? slash : uri;
    }
    while (*uri == '/') {
        uri++;
    }
    return uri;
}

/* Does the Content-Type say text? */
static int textual(const char *ct)
{
    if (!ct) {
        return 0;
    }
    return !strncasecmp(ct, "text/", 5)
           || ap_strcasestr(ct, "json") != NULL
           || ap_strcasestr(ct, "xml") != NULL
           || ap_strcasestr(ct, "javascript") != NULL
           /* curl -d's default: form data is text */
           || !strncasecmp(ct, "application/x-www-form-urlencoded", 33)
           || ap_strcasestr(ct, "charset=utf-8") != NULL;
}

static int answer_json(request_rec *r, json_t *obj)
{
    char *text = json_dumps(obj, JSON_COMPACT);

    json_decref(obj);
    if (!text) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    ap_set_content_type(r, "application/json");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (!r->header_only) {
        ap_rputs(text, r);
        ap_rputs("\n", r);
    }
    free(text);
    return OK;
}

/* 503: the hub is away or slow; rv says which. */
static int unavailable(request_rec *r, apr_status_t rv, const char *channel)
{
    ap_log_rerror(APLOG_MARK, rv == APR_TIMEUP ? APLOG_ERR : APLOG_INFO, 0, r,
                  WSLOGNO(00089) "websocket-publish %s: %s; answering 503",
                  channel, rv == APR_TIMEUP
                  ? "the channel hub did not answer in 5 s"
                  : "the channel hub is unreachable (restarting?)");
    apr_table_setn(r->err_headers_out, "Retry-After", "1");
    return HTTP_SERVICE_UNAVAILABLE;
}

/* The request body, at most limit bytes (413 beyond).  OK or a status. */
static int read_body(request_rec *r, apr_off_t limit, char **data,
                     apr_size_t *len)
{
    const char *cl = apr_table_get(r->headers_in, "Content-Length");
    apr_size_t cap = 8192, n = 0;
    char *buf;
    long got;
    int rv;

    if (cl && apr_atoi64(cl) > limit) {
        return HTTP_REQUEST_ENTITY_TOO_LARGE;
    }
    if ((rv = ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK)) != OK) {
        return rv;
    }
    buf = apr_palloc(r->pool, cap);
    if (ap_should_client_block(r)) {
        for (;;) {
            if (n == cap) {
                char *more;

                if ((apr_off_t)cap > limit) {
                    return HTTP_REQUEST_ENTITY_TOO_LARGE;
                }
                more = apr_palloc(r->pool, cap * 2);
                memcpy(more, buf, n);
                buf = more;
                cap *= 2;
            }
            got = ap_get_client_block(r, buf + n, cap - n);
            if (got < 0) {
                return HTTP_BAD_REQUEST;
            }
            if (got == 0) {
                break;
            }
            n += (apr_size_t)got;
            if ((apr_off_t)n > limit) {
                return HTTP_REQUEST_ENTITY_TOO_LARGE;
            }
        }
    }
    *data = buf;
    *len = n;
    return OK;
}

int ws_publish_handle(request_rec *r, const ws_dir_conf_t *conf)
{
    const char *channel = channel_of(r, conf);
    size_t clen = strlen(channel);
    apr_off_t limit = ws_conf_max_message(conf);
    ws_channel_info_t info;
    ws_msg_type_e type;
    apr_status_t rv;
    apr_size_t len = 0;
    char *data = NULL;
    const char *ctype;
    int status, utf8;

    ap_allow_methods(r, REPLACE_ALLOW, "GET", "POST", NULL);
    if (r->method_number != M_GET && r->method_number != M_POST) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, WSLOGNO(00093)
                      "websocket-publish: %s is not GET or POST; answering "
                      "405", r->method);
        return HTTP_METHOD_NOT_ALLOWED;
    }
    if (!conf->ns) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, WSLOGNO(00090)
                      "websocket-publish at %s has no WebSocketNamespace: "
                      "set it to the path of the location whose channels "
                      "it publishes to (e.g. WebSocketNamespace /broadcast)",
                      conf->path ? conf->path : r->uri);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (!ws_conf_name_valid(channel, clen)
        || !ws_utf8_valid((const uint8_t *)channel, clen)) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, WSLOGNO(00091)
                      "websocket-publish: %s names no channel (%s%s<channel>"
                      ", 1 to %d bytes of UTF-8 without control "
                      "characters); answering 400", r->uri,
                      conf->path ? conf->path : "",
                      conf->path && *conf->path
                      && conf->path[strlen(conf->path) - 1] == '/'
                      ? "" : "/", WS_NAME_MAX);
        return HTTP_BAD_REQUEST;
    }
    if (r->method_number == M_GET) {
        if ((rv = ws_channels_info_wait(conf->ns, channel, clen,
                                        WS_PUBLISH_WAIT, &info))
            != APR_SUCCESS) {
            return unavailable(r, rv, channel);
        }
        return answer_json(r, json_pack(
            "{s:s, s:I, s:I, s:I, s:I, s:I}", "channel", channel,
            "subscribers", (json_int_t)info.subscribers,
            "members", (json_int_t)info.members,
            "messages", (json_int_t)info.kept,
            "last_id", (json_int_t)info.id,
            "oldest_id", (json_int_t)info.oldest));
    }
    if (limit > (apr_off_t)WS_HUB_MAX_PAYLOAD) {
        limit = WS_HUB_MAX_PAYLOAD;
    }
    if ((status = read_body(r, limit, &data, &len)) != OK) {
        if (status == HTTP_REQUEST_ENTITY_TOO_LARGE) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, WSLOGNO(00092)
                          "websocket-publish %s: the body is larger than "
                          "%" APR_OFF_T_FMT " bytes (WebSocketMaxMessageSize)"
                          "; answering 413", channel, limit);
        }
        return status;
    }
    if (len == 0) {
        /* curl -X POST without -d: surely a mistake, not a message. */
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, WSLOGNO(00098)
                      "websocket-publish %s: the body is empty; answering "
                      "400", channel);
        return HTTP_BAD_REQUEST;
    }
    ctype = apr_table_get(r->headers_in, "Content-Type");
    utf8 = ws_utf8_valid((const uint8_t *)data, len);
    if (!utf8 && ctype && ap_strcasestr(ctype, "charset=utf-8")) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, WSLOGNO(00099)
                      "websocket-publish %s: the body is declared UTF-8 "
                      "(%s) but is not; answering 400", channel, ctype);
        return HTTP_BAD_REQUEST;
    }
    type = textual(ctype) && utf8 ? WS_MSG_TEXT : WS_MSG_BINARY;
    rv = ws_channels_publish_wait(conf->ns, channel, clen, type, data, len,
                                  ws_conf_history_count(conf),
                                  ws_conf_history_age(conf), WS_PUBLISH_WAIT,
                                  &info);
    if (rv == APR_EINVAL) {
        return HTTP_BAD_REQUEST;
    }
    if (rv != APR_SUCCESS) {
        return unavailable(r, rv, channel);
    }
    return answer_json(r, json_pack("{s:s, s:I, s:I, s:s}", "channel",
                                    channel, "id", (json_int_t)info.id,
                                    "subscribers",
                                    (json_int_t)info.subscribers, "type",
                                    type == WS_MSG_TEXT ? "text" : "binary"));
}
