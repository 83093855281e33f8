/*
 * testhandler.c -- a test-only handler (never installed) that exposes
 * mod_websocket's handler API to the integration tests.  It uses nothing
 * but ws_plugin_api.h, like any third-party handler.
 *
 *     WebSocketLoadHandler test build/test-handlers/testhandler.so
 *
 * Config time: check_option refuses the option named "bad".
 * on_open (query string, '&'-separated):
 *     reject=NNN   refuse the upgrade with HTTP status NNN
 *     proto=X      api->select_protocol(X); 500 if that fails
 *     hello=1      send the text "hello" from on_open
 *     sink=1       take every message and answer none
 * on_message, text commands:
 *     close <code> <reason...>   api->close(code, reason)
 *     fail                       return 1 (the server closes with 1011)
 *     info                       one text message: a JSON object with the
 *                                request as the API reports it
 *     thread <n>                 a detached thread sends "t0".."t<n-1>"
 *     flood <n> <bytes>          send n binary messages of that size at
 *                                once (to overflow a slow reader's queue)
 *     id                         "id <conn_id> <pid>"
 *     sub <ch> [since=ID] [last=N] [label=L]
 *                                api->subscribe; answers "sub <rv>"
 *     unsub <ch>                 api->unsubscribe; "unsub <rv>"
 *     pub <ch> <text>            api->publish to the location's channel
 *                                (everyone); "pub <rv>" only on failure
 *     pubx <ch> <text>           the same, excluding this connection
 *     sendto <conn_id> <text>    api->send_to; "sendto <rv>" on failure
 *     anything else              echoed; binary is always echoed
 * Channels: on_subscribed sends "subscribed <ch> gap=G last=ID n=N
 * members=M subscribers=S", then "hist <id> <data>" per replayed message
 * and "member <conn_id> <label>" per member; on_channel_event delivers
 * "msg <ch> <id> <from conn_id> <data>" and "join|leave <ch> <conn_id>
 * <subscribers> <label>".  Built as testhandler_raw.so (TEST_RAW) it has
 * neither: messages arrive byte for byte, replays as they are.
 *
 * Recording: if the environment variable WS_TEST_RECORD names a file,
 * every callback appends one line to it (one write(2) each, so lines of
 * several processes do not mix, and async-signal-safe, since prefork may
 * call fini from a signal handler):
 *     init <pid>
 *     open <pid> <id> <path>
 *     close <pid> <id> <code> <reason>
 *     fini <pid>
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ws_plugin_api.h"

static const ws_api_t *ws;

static const char *test_check_option(const char *name, const char *value)
{
    (void)value;
    if (strcmp(name, "bad") == 0) {
        return "this option is always refused";
    }
    return NULL;
}

/* --- recording --- */

static const char *record_path;

static void record(const char *fmt, ...) WS_PRINTF(1, 2);

static void record(const char *fmt, ...)
{
    char line[512];
    va_list ap;
    int n, fd;

    if (!record_path) {
        return;
    }
    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    if (n > (int)sizeof(line) - 2) {
        n = (int)sizeof(line) - 2;
    }
    line[n++] = '\n';
    fd = open(record_path, O_WRONLY | O_APPEND | O_CREAT, 0666);
    if (fd >= 0) {
        if (write(fd, line, (size_t)n) < 0) {
            /* nothing to do: the test will miss the line */
        }
        close(fd);
    }
}

static int test_init(const ws_api_t *api)
{
    ws = api;
    record_path = getenv("WS_TEST_RECORD");
    record("init %ld", (long)getpid());
    return 0;
}

static void test_fini(void)
{
    record("fini %ld", (long)getpid());
}

static void test_close(ws_connection_t *conn, int code, const char *reason)
{
    record("close %ld %lu %d %s", (long)getpid(), ws->id(conn), code,
           reason);
}

/* The value of key in an '&'-separated query, copied into buf; NULL if
 * absent. */
static const char *query_param(const char *query, const char *key,
                               char *buf, size_t size)
{
    size_t klen = strlen(key);
    const char *s = query;

    while (s && *s) {
        const char *end = strchr(s, '&');
        size_t n = end ? (size_t)(end - s) : strlen(s);

        if (n > klen && strncmp(s, key, klen) == 0 && s[klen] == '=') {
            size_t vlen = n - klen - 1;

            if (vlen >= size) {
                vlen = size - 1;
            }
            memcpy(buf, s + klen + 1, vlen);
            buf[vlen] = '\0';
            return buf;
        }
        s = end ? end + 1 : NULL;
    }
    return NULL;
}

static int test_open(ws_connection_t *conn)
{
    const char *q = ws->query(conn);
    char buf[128];

    if (query_param(q, "reject", buf, sizeof(buf))) {
        return atoi(buf);
    }
    record("open %ld %lu %s", (long)getpid(), ws->id(conn), ws->path(conn));
    if (query_param(q, "proto", buf, sizeof(buf))) {
        if (ws->select_protocol(conn, buf) != WS_OK) {
            return 500;
        }
    }
    if (query_param(q, "sink", buf, sizeof(buf)) && strcmp(buf, "1") == 0) {
        ws->set_data(conn, (void *)"sink");
    }
    if (query_param(q, "hello", buf, sizeof(buf)) && strcmp(buf, "1") == 0) {
        if (ws->send(conn, WS_MSG_TEXT, "hello", 5) != WS_OK) {
            return 500;
        }
    }
    return 0;
}

/* --- a tiny JSON writer --- */

typedef struct {
    char *buf;
    size_t len, cap;
} sbuf_t;

static void sb_putn(sbuf_t *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        char *nb;

        while (b->len + n + 1 > cap) {
            cap *= 2;
        }
        nb = realloc(b->buf, cap);
        if (!nb) {
            abort();
        }
        b->buf = nb;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = '\0';
}

static void sb_puts(sbuf_t *b, const char *s)
{
    sb_putn(b, s, strlen(s));
}

static void sb_json_string(sbuf_t *b, const char *s)
{
    if (!s) {
        sb_puts(b, "null");
        return;
    }
    sb_puts(b, "\"");
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        char esc[8];

        if (ch == '"' || ch == '\\') {
            esc[0] = '\\';
            esc[1] = (char)ch;
            sb_putn(b, esc, 2);
        }
        else if (ch < 0x20) {
            snprintf(esc, sizeof(esc), "\\u%04x", ch);
            sb_puts(b, esc);
        }
        else {
            sb_putn(b, (const char *)s, 1);
        }
    }
    sb_puts(b, "\"");
}

static void sb_field(sbuf_t *b, const char *key, const char *value,
                     int first)
{
    if (!first) {
        sb_puts(b, ",");
    }
    sb_json_string(b, key);
    sb_puts(b, ":");
    sb_json_string(b, value);
}

static int send_info(ws_connection_t *conn)
{
    sbuf_t b = { NULL, 0, 0 };
    int rv;

    sb_puts(&b, "{");
    sb_field(&b, "path", ws->path(conn), 1);
    sb_field(&b, "query", ws->query(conn), 0);
    sb_field(&b, "header", ws->header(conn, "X-Test"), 0);
    sb_field(&b, "cookie", ws->cookie(conn, "c"), 0);
    sb_field(&b, "user", ws->user(conn), 0);
    sb_field(&b, "remote_addr", ws->remote_addr(conn), 0);
    sb_field(&b, "protocol", ws->protocol(conn), 0);
    sb_field(&b, "greeting", ws->option(conn, "greeting"), 0);
    sb_puts(&b, "}");
    rv = ws->send(conn, WS_MSG_TEXT, b.buf, b.len);
    free(b.buf);
    return rv;
}

/* --- "thread <n>": sends from a thread the handler owns --- */

typedef struct {
    ws_connection_t *conn;
    long n;
} job_t;

static void *sender(void *arg)
{
    job_t *job = arg;
    char msg[32];
    long i;

    for (i = 0; i < job->n; i++) {
        int len = snprintf(msg, sizeof(msg), "t%ld", i);

        if (ws->send(job->conn, WS_MSG_TEXT, msg, (size_t)len) != WS_OK) {
            break;
        }
    }
    ws->unref(job->conn);
    free(job);
    return NULL;
}

static int start_thread(ws_connection_t *conn, long n)
{
    pthread_t tid;
    pthread_attr_t attr;
    job_t *job = malloc(sizeof(*job));
    int rc;

    if (!job) {
        return 1;
    }
    job->conn = ws->ref(conn);
    job->n = n;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    rc = pthread_create(&tid, &attr, sender, job);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        ws->unref(conn);
        free(job);
        return 1;
    }
    return 0;
}

/* "sub", "unsub", "pub", "pubx", "sendto" (see the top). */
static int channel_command(ws_connection_t *conn, const char *cmd)
{
    char verb[16], ch[300], line[64];
    const char *rest;
    int rv, n;

    if (sscanf(cmd, "%15s %299s", verb, ch) != 2) {
        return ws->send(conn, WS_MSG_TEXT, "bad command", 11) == WS_OK
               ? 0 : 1;
    }
    rest = strstr(cmd + strlen(verb) + 1, " ");
    rest = rest ? rest + 1 : "";
    if (!strcmp(verb, "sub")) {
        ws_subscribe_options_t o;
        char label[256];
        const char *p;

        memset(&o, 0, sizeof(o));
        o.size = sizeof(o);
        if ((p = strstr(rest, "since="))) {
            o.since = strtoull(p + 6, NULL, 10);
        }
        if ((p = strstr(rest, "last="))) {
            o.last = (unsigned int)strtoul(p + 5, NULL, 10);
        }
        if ((p = strstr(rest, "label="))) {
            sscanf(p + 6, "%255s", label);
            o.presence = label;
        }
        rv = ws->subscribe(conn, ch, &o);
        n = snprintf(line, sizeof(line), "sub %d", rv);
        ws->send(conn, WS_MSG_TEXT, line, (size_t)n);
        return 0;
    }
    if (!strcmp(verb, "unsub")) {
        rv = ws->unsubscribe(conn, ch);
        n = snprintf(line, sizeof(line), "unsub %d", rv);
        ws->send(conn, WS_MSG_TEXT, line, (size_t)n);
        return 0;
    }
    if (!strcmp(verb, "sendto")) {
        rv = ws->send_to(strtoull(ch, NULL, 10), WS_MSG_TEXT, rest,
                         strlen(rest));
    }
    else {
        rv = ws->publish(ws->location(conn), ch, WS_MSG_TEXT, rest,
                         strlen(rest),
                         !strcmp(verb, "pubx") ? ws->conn_id(conn) : 0);
    }
    if (rv != WS_OK) {
        n = snprintf(line, sizeof(line), "%s %d", verb, rv);
        ws->send(conn, WS_MSG_TEXT, line, (size_t)n);
    }
    return 0;
}

static int test_message(ws_connection_t *conn, ws_msg_type_e type,
                        const char *data, size_t len)
{
    int rv;

    if (ws->get_data(conn)) {
        return 0;               /* sink=1 */
    }
    if (type == WS_MSG_TEXT) {
        /* Text is NUL-terminated by the server. */
        if (strncmp(data, "close ", 6) == 0) {
            char *end;
            long code = strtol(data + 6, &end, 10);

            while (*end == ' ') {
                end++;
            }
            rv = ws->close(conn, (int)code, *end ? end : NULL);
            return rv == WS_OK ? 0 : rv;
        }
        if (strcmp(data, "fail") == 0) {
            return 1;
        }
        if (strcmp(data, "info") == 0) {
            rv = send_info(conn);
            return (rv == WS_OK || rv == WS_ECLOSED) ? 0 : rv;
        }
        if (strncmp(data, "thread ", 7) == 0) {
            return start_thread(conn, strtol(data + 7, NULL, 10));
        }
        if (strncmp(data, "id", 2) == 0 && len == 2) {
            char line[64];
            int n = snprintf(line, sizeof(line), "id %llu %ld",
                             ws->conn_id(conn), (long)getpid());

            ws->send(conn, WS_MSG_TEXT, line, (size_t)n);
            return 0;
        }
        if (strncmp(data, "sub ", 4) == 0 || strncmp(data, "unsub ", 6) == 0
            || strncmp(data, "pub ", 4) == 0 || strncmp(data, "pubx ", 5) == 0
            || strncmp(data, "sendto ", 7) == 0) {
            return channel_command(conn, data);
        }
        if (strncmp(data, "flood ", 6) == 0) {
            char *end;
            long n = strtol(data + 6, &end, 10), i;
            size_t size = (size_t)strtol(end, NULL, 10);
            char *payload = calloc(1, size ? size : 1);

            for (i = 0; payload && i < n; i++) {
                ws->send(conn, WS_MSG_BINARY, payload, size);
            }
            free(payload);
            return 0;
        }
    }
    rv = ws->send(conn, type, data, len);
    return (rv == WS_OK || rv == WS_ECLOSED) ? 0 : rv;
}

#ifndef TEST_RAW
static void test_subscribed(ws_connection_t *conn,
                            const ws_subscription_t *sub)
{
    char line[512];
    size_t i;
    int n;

    n = snprintf(line, sizeof(line), "subscribed %s gap=%d last=%llu n=%zu "
                 "members=%zu subscribers=%zu", sub->channel, sub->gap,
                 sub->last_id, sub->nhistory, sub->nmembers,
                 sub->subscribers);
    ws->send(conn, WS_MSG_TEXT, line, (size_t)n);
    for (i = 0; i < sub->nhistory; i++) {
        n = snprintf(line, sizeof(line), "hist %llu %.*s",
                     sub->history[i].id, (int)sub->history[i].len,
                     sub->history[i].data);
        ws->send(conn, WS_MSG_TEXT, line, (size_t)n);
    }
    for (i = 0; i < sub->nmembers; i++) {
        n = snprintf(line, sizeof(line), "member %llu %.*s",
                     sub->members[i].conn_id, (int)sub->members[i].len,
                     sub->members[i].label);
        ws->send(conn, WS_MSG_TEXT, line, (size_t)n);
    }
}

static void test_channel_event(ws_location_t *loc,
                               const ws_channel_event_t *ev,
                               ws_delivery_t *d)
{
    char line[1024];
    int n;

    (void)loc;
    if (ev->event == WS_CHANNEL_MESSAGE) {
        n = snprintf(line, sizeof(line), "msg %s %llu %llu %.*s",
                     ev->channel, ev->id, ev->conn_id, (int)ev->len,
                     ev->data);
    }
    else {
        n = snprintf(line, sizeof(line), "%s %s %llu %zu %.*s",
                     ev->event == WS_CHANNEL_JOIN ? "join" : "leave",
                     ev->channel, ev->conn_id, ev->subscribers, (int)ev->len,
                     ev->data);
    }
    if (n >= (int)sizeof(line)) {
        n = (int)sizeof(line) - 1;
    }
    ws->deliver(d, WS_MSG_TEXT, line, (size_t)n);
}
#endif

WS_HANDLER_EXPORT = {
#ifdef TEST_RAW
    WS_HANDLER_HEADER("test_raw"),
#else
    WS_HANDLER_HEADER("test"),
#endif
    test_check_option,
    test_init,
    test_fini,
    test_open,
    test_message,
    test_close,
    0,                          /* flags */
    NULL,                       /* location_init */
    NULL,                       /* location_fini */
#ifdef TEST_RAW
    NULL,
    NULL
#else
    test_subscribed,
    test_channel_event
#endif
};
