/*
 * ws_snapshot.c -- the upgrade request as handlers may read it (see
 * ws_snapshot.h).
 *
 * The block: the struct, the arrays of {key, value} pointers (headers,
 * cookies, options) and of offers, then every string they point at.  It is
 * sized in a first pass and filled in a second.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "apr_lib.h"
#include "apr_strings.h"

#include "ws_arena.h"
#include "ws_snapshot.h"
#include "ws_handshake.h"

typedef struct {
    const char *key;
    const char *val;
} kv_t;

typedef struct {
    kv_t *kv;
    int n;
} kvs_t;

struct ws_snapshot {
    size_t size;
    const char *path;
    const char *query;
    const char *user;
    const char *remote_addr;
    kvs_t headers;
    kvs_t cookies;
    kvs_t options;
    const char **offers;
    int noffers;
};

typedef struct {
    ws_arena_t *a;
    kvs_t *kvs;
} copy_t;

static int copy_entry(void *data, const char *key, const char *val)
{
    copy_t *c = data;
    kvs_t *kvs = c->kvs;

    if (kvs->kv) {
        kvs->kv[kvs->n].key = ws_arena_put(c->a, key);
        kvs->kv[kvs->n].val = ws_arena_put(c->a, val);
    }
    else {
        ws_arena_put(c->a, key);
        ws_arena_put(c->a, val);
    }
    kvs->n++;
    return 1;
}

static void copy_table(ws_arena_t *a, kvs_t *kvs, const apr_table_t *t)
{
    copy_t c;

    c.a = a;
    c.kvs = kvs;
    kvs->n = 0;
    if (t) {
        apr_table_do(copy_entry, &c, t, NULL);
    }
}

/* Cookie: a=1; b="two" (RFC 6265 section 4.2.1), parsed in pool p; the
 * first of a repeated name wins. */
static apr_table_t *parse_cookies(apr_pool_t *p, const char *header)
{
    apr_table_t *t = apr_table_make(p, 4);
    char *copy, *pair, *last;

    if (!header) {
        return t;
    }
    copy = apr_pstrdup(p, header);
    for (pair = apr_strtok(copy, ";", &last); pair;
         pair = apr_strtok(NULL, ";", &last)) {
        char *eq, *val;
        size_t vlen;

        while (apr_isspace(*pair)) {
            pair++;
        }
        eq = strchr(pair, '=');
        if (!eq || eq == pair) {
            continue;
        }
        *eq = '\0';
        apr_collapse_spaces(pair, pair);
        val = eq + 1;
        while (apr_isspace(*val)) {
            val++;
        }
        vlen = strlen(val);
        while (vlen && apr_isspace(val[vlen - 1])) {
            val[--vlen] = '\0';
        }
        if (vlen >= 2 && val[0] == '"' && val[vlen - 1] == '"') {
            val[vlen - 1] = '\0';
            val++;
        }
        if (!apr_table_get(t, pair)) {
            apr_table_setn(t, pair, val);
        }
    }
    return t;
}

/* The offers: each element of the Sec-WebSocket-Protocol list. */
static int copy_offers(ws_arena_t *a, const char **out, const char *list)
{
    const char *elem;
    size_t len;
    int n = 0;

    while (list && ws_handshake_next_element(&list, &elem, &len)) {
        const char *copy = ws_arena_put_n(a, elem, len);

        if (out) {
            out[n] = copy;
        }
        n++;
    }
    return n;
}

/* Fill (or, with snap->headers.kv NULL, size) the block. */
static void fill(ws_snapshot_t *snap, ws_arena_t *a,
                 const ws_snapshot_src_t *src, const apr_table_t *cookies)
{
    const char *offered = src->headers
                          ? apr_table_get(src->headers,
                                          "Sec-WebSocket-Protocol")
                          : NULL;

    copy_table(a, &snap->headers, src->headers);
    copy_table(a, &snap->cookies, cookies);
    copy_table(a, &snap->options, src->options);
    snap->noffers = copy_offers(a, snap->offers, offered);
    snap->path = ws_arena_put(a, src->path ? src->path : "");
    snap->query = ws_arena_put(a, src->query);
    snap->user = ws_arena_put(a, src->user);
    snap->remote_addr = ws_arena_put(a, src->remote_addr ? src->remote_addr
                                                         : "");
}

ws_snapshot_t *ws_snapshot_create(const ws_snapshot_src_t *src,
                                  apr_pool_t *scratch)
{
    const apr_table_t *cookies = parse_cookies(
        scratch, src->headers ? apr_table_get(src->headers, "Cookie")
                              : NULL);
    ws_snapshot_t sizing, *snap;
    ws_arena_t a = { NULL, 0 };
    size_t arrays, size;
    char *block;

    memset(&sizing, 0, sizeof(sizing));
    fill(&sizing, &a, src, cookies);
    arrays = APR_ALIGN_DEFAULT(sizeof(kv_t)
                               * (size_t)(sizing.headers.n + sizing.cookies.n
                                          + sizing.options.n))
             + APR_ALIGN_DEFAULT(sizeof(const char *)
                                 * (size_t)sizing.noffers);
    size = APR_ALIGN_DEFAULT(sizeof(*snap)) + arrays + a.bytes;
    block = calloc(1, size);
    if (!block) {
        return NULL;
    }
    snap = (ws_snapshot_t *)block;
    snap->size = size;
    snap->headers.kv = (kv_t *)(block + APR_ALIGN_DEFAULT(sizeof(*snap)));
    snap->cookies.kv = snap->headers.kv + sizing.headers.n;
    snap->options.kv = snap->cookies.kv + sizing.cookies.n;
    snap->offers = (const char **)((char *)snap->headers.kv
                                   + APR_ALIGN_DEFAULT(
                                         sizeof(kv_t)
                                         * (size_t)(sizing.headers.n
                                                    + sizing.cookies.n
                                                    + sizing.options.n)));
    a.p = block + APR_ALIGN_DEFAULT(sizeof(*snap)) + arrays;
    a.bytes = 0;
    fill(snap, &a, src, cookies);
    return snap;
}

void ws_snapshot_free(ws_snapshot_t *snap)
{
    free(snap);
}

size_t ws_snapshot_size(const ws_snapshot_t *snap)
{
    return snap->size;
}

const char *ws_snapshot_path(const ws_snapshot_t *snap)
{
    return snap->path;
}

const char *ws_snapshot_query(const ws_snapshot_t *snap)
{
    return snap->query;
}

const char *ws_snapshot_user(const ws_snapshot_t *snap)
{
    return snap->user;
}

const char *ws_snapshot_remote_addr(const ws_snapshot_t *snap)
{
    return snap->remote_addr;
}

static const char *kv_get(const kvs_t *kvs, const char *key,
                          int (*cmp)(const char *, const char *))
{
    int i;

    for (i = 0; key && i < kvs->n; i++) {
        if (!cmp(kvs->kv[i].key, key)) {
            return kvs->kv[i].val;
        }
    }
    return NULL;
}

const char *ws_snapshot_header(const ws_snapshot_t *snap, const char *name)
{
    return kv_get(&snap->headers, name, strcasecmp);
}

int ws_snapshot_nheaders(const ws_snapshot_t *snap)
{
    return snap->headers.n;
}

const char *ws_snapshot_header_at(const ws_snapshot_t *snap, int i,
                                  const char **value)
{
    if (i < 0 || i >= snap->headers.n) {
        return NULL;
    }
    *value = snap->headers.kv[i].val;
    return snap->headers.kv[i].key;
}

const char *ws_snapshot_cookie(const ws_snapshot_t *snap, const char *name)
{
    return kv_get(&snap->cookies, name, strcmp);
}

const char *ws_snapshot_option(const ws_snapshot_t *snap, const char *name)
{
    return kv_get(&snap->options, name, strcasecmp);
}

int ws_snapshot_noffers(const ws_snapshot_t *snap)
{
    return snap->noffers;
}

const char *ws_snapshot_offer(const ws_snapshot_t *snap, int i)
{
    return i >= 0 && i < snap->noffers ? snap->offers[i] : NULL;
}
