/*
 * ws_redisconf.c -- WebSocketChannels redis://... (see ws_redisconf.h).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "apr_strings.h"

#include "ws_redisconf.h"

/* --- configuration --- */

static const char *parse_db(const char *s, int *db)
{
    char *end;
    long v = strtol(s, &end, 10);

    if (!*s || *end || v < 0 || v > 100000) {
        return "the database must be a number";
    }
    *db = (int)v;
    return NULL;
}

const char *ws_redis_conf_parse(apr_pool_t *p, int argc, char *const argv[],
                                ws_redis_conf_t *c)
{
    const char *url = argv[0], *rest, *at, *slash, *colon;
    const char *err;
    int i, db_given = 0;

    memset(c, 0, sizeof(*c));
    c->port = 6379;
    c->prefix = "ws:";
    c->timeout = apr_time_from_sec(2);
    if (!strncasecmp(url, "rediss://", 9)) {
        return "rediss:// (Redis over TLS) is not available: Debian's "
               "hiredis 0.14 has no TLS; use redis:// on a trusted network, "
               "unix:// on this machine, or a TLS tunnel (stunnel) to Redis";
    }
    if (!strncasecmp(url, "unix://", 7)) {
        const char *q;

        rest = url + 7;
        if (*rest != '/') {
            return "unix:// needs an absolute socket path, as in "
                   "unix:///run/redis/redis-server.sock";
        }
        q = strchr(rest, '?');
        c->socket_path = q ? apr_pstrmemdup(p, rest, (apr_size_t)(q - rest))
                           : apr_pstrdup(p, rest);
        if (q) {
            if (strncmp(q, "?db=", 4) || (err = parse_db(q + 4, &c->db))) {
                return "after a unix:// path only ?db=N may follow";
            }
            db_given = 1;
        }
        c->display = apr_pstrdup(p, url);
    }
    else if (!strncasecmp(url, "redis://", 8)) {
        const char *hostport;

        rest = url + 8;
        slash = strchr(rest, '/');
        at = strrchr(rest, '@');
        if (at && slash && at > slash) {
            return "the URL's user and password come before its host";
        }
        if (at) {
            const char *cred = apr_pstrmemdup(p, rest,
                                              (apr_size_t)(at - rest));

            colon = strchr(cred, ':');
            if (!colon) {
                c->password = cred;
            }
            else {
                if (colon > cred) {
                    c->user = apr_pstrmemdup(p, cred,
                                             (apr_size_t)(colon - cred));
                }
                c->password = apr_pstrdup(p, colon + 1);
            }
            if (!*c->password) {
                c->password = NULL;
            }
            rest = at + 1;
        }
        hostport = slash ? apr_pstrmemdup(p, rest, (apr_size_t)(slash - rest))
                         : apr_pstrdup(p, rest);
        if (slash && slash[1] && (err = parse_db(slash + 1, &c->db))) {
            return apr_psprintf(p, "%s (redis://host:port/DB)", err);
        }
        db_given = slash && slash[1];
        if (hostport[0] == '[') {
            const char *close = strchr(hostport, ']');

            if (!close) {
                return "an IPv6 address needs its closing ]";
            }
            c->host = apr_pstrmemdup(p, hostport + 1,
                                     (apr_size_t)(close - hostport - 1));
            colon = close[1] == ':' ? close + 1 : NULL;
            if (close[1] && !colon) {
                return "after ] only :port may follow";
            }
        }
        else {
            colon = strrchr(hostport, ':');
            c->host = colon ? apr_pstrmemdup(p, hostport,
                                             (apr_size_t)(colon - hostport))
                            : hostport;
        }
        if (colon) {
            char *end;
            long v = strtol(colon + 1, &end, 10);

            if (!colon[1] || *end || v < 1 || v > 65535) {
                return "the port must be a number from 1 to 65535";
            }
            c->port = (int)v;
        }
        if (!*c->host) {
            return "the URL names no host (redis://host[:port][/db])";
        }
        c->display = apr_psprintf(p, "redis://%s%s%s:%d/%d",
                                  c->user ? c->user : "",
                                  c->password ? ":***@" : c->user ? "@" : "",
                                  strchr(c->host, ':') ? apr_psprintf(
                                      p, "[%s]", c->host) : c->host,
                                  c->port, c->db);
    }
    else {
        return "expected embedded, redis://host[:port][/db] or "
               "unix:///path/to/redis.sock";
    }
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (!strncasecmp(a, "prefix=", 7)) {
            c->prefix = apr_pstrdup(p, a + 7);
            if (strchr(c->prefix, '|')) {
                return "prefix= may not contain |";
            }
            if (!*c->prefix) {
                return "prefix= may not be empty (keys would mix with "
                       "others' in a shared Redis)";
            }
        }
        else if (!strncasecmp(a, "timeout=", 8)) {
            char *end;
            double v = strtod(a + 8, &end);

            if (!a[8] || *end || v < 0.05 || v > 3600) {
                return "timeout= takes seconds, from 0.05 to 3600";
            }
            c->timeout = (apr_interval_time_t)(v * APR_USEC_PER_SEC);
        }
        else if (!strncasecmp(a, "db=", 3)) {
            int db;

            if ((err = parse_db(a + 3, &db))) {
                return err;
            }
            if (db_given && db != c->db) {
                return "db= names another database than the URL";
            }
            c->db = db;
        }
        else {
            return apr_psprintf(p, "unknown option '%s' (prefix=, "
                                "timeout=, db=)", a);
        }
    }
    c->canonical = apr_psprintf(p, "%s|%s|%s|%d|%s|%s|%d|%s|%" APR_TIME_T_FMT,
                                c->host ? c->host : "",
                                c->socket_path ? c->socket_path : "",
                                c->user ? c->user : "", c->port,
                                c->password ? c->password : "",
                                c->display, c->db, c->prefix, c->timeout);
    return NULL;
}

ws_redis_conf_t *ws_redis_conf_copy(apr_pool_t *p, const ws_redis_conf_t *c)
{
    ws_redis_conf_t *n = apr_pmemdup(p, c, sizeof(*c));

#define DUP(f) n->f = c->f ? apr_pstrdup(p, c->f) : NULL
    DUP(display);
    DUP(host);
    DUP(socket_path);
    DUP(user);
    DUP(password);
    DUP(prefix);
    DUP(canonical);
#undef DUP
    return n;
}

