/*
 * ws_addrlimit.c -- connections per client address, across the children
 * (see ws_addrlimit.h).
 *
 * The shared table (ws_slots) has one region per process slot: an
 * open-addressing hash table of entries {count, hash, address}; hash 0
 * marks an entry never used.  Only the child in that slot writes it; an
 * entry whose count fell to 0 may be taken by another address.  Readers in
 * other processes read without a lock: a count seen mid-update is off by
 * one for a moment, which a limit can afford.
 *
 * Acquire counts first and then sums all regions, undoing its count if the
 * sum is over the limit: two children racing at the limit may both refuse,
 * but the limit is never exceeded.
 */
#include <string.h>

#include "apr_thread_mutex.h"

#include "ws_private.h"
#include "ws_addrlimit.h"
#include "ws_slots.h"

#define ENTRIES 4096            /* distinct addresses per child, power of 2 */
#define PROBES  64              /* longest search in a region */

typedef struct {
    apr_uint32_t count;         /* atomic */
    apr_uint32_t hash;          /* 0: never used */
    unsigned char addr[16];     /* IPv6, or IPv4 as ::ffff:a.b.c.d */
} entry_t;

typedef struct {
    entry_t e[ENTRIES];
} region_t;

typedef struct {
    apr_uint32_t seed;
} header_t;

#define SLOTS_KEY "mod_websocket:addrlimit"

static int wanted;
static ws_slots_t *table;
static apr_uint32_t seed;
static apr_thread_mutex_t *lock;

void ws_addrlimit_reset(void)
{
    wanted = 0;
}

void ws_addrlimit_wanted(void)
{
    wanted = 1;
}

apr_status_t ws_addrlimit_post_config(server_rec *s)
{
    apr_status_t rv;
    header_t *h;

    if (!wanted) {
        table = NULL;
        return APR_SUCCESS;
    }
    rv = ws_slots_attach(s, SLOTS_KEY, sizeof(header_t), sizeof(region_t),
                         &table);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, WSLOGNO(00066)
                     "WebSocketMaxConnectionsPerAddress: cannot create "
                     "the shared table");
        return rv;
    }
    h = ws_slots_header(table);
    if (!h->seed) {
        apr_generate_random_bytes((unsigned char *)&h->seed,
                                  sizeof(h->seed));
        h->seed |= 1;
    }
    seed = h->seed;
    return APR_SUCCESS;
}

void ws_addrlimit_child_init(apr_pool_t *pchild)
{
    if (table) {
        apr_thread_mutex_create(&lock, APR_THREAD_MUTEX_DEFAULT, pchild);
    }
}

static apr_uint32_t key_of(const apr_sockaddr_t *sa, unsigned char key[16])
{
    apr_uint32_t h = 2166136261u ^ seed;    /* FNV-1a, seeded */
    int i;

    memset(key, 0, 16);
    if (sa->family == APR_INET) {
        key[10] = key[11] = 0xff;
        memcpy(key + 12, &sa->sa.sin.sin_addr, 4);
    }
#if APR_HAVE_IPV6
    else if (sa->family == APR_INET6) {
        memcpy(key, &sa->sa.sin6.sin6_addr, 16);
    }
#endif
    for (i = 0; i < 16; i++) {
        h = (h ^ key[i]) * 16777619u;
    }
    return h ? h : 1;
}

typedef struct {
    const unsigned char *key;
    apr_uint32_t h;
    int n;
} count_t;

/* Connections the address holds in one region (a ws_slots_each walk). */
static void count_in(void *region, void *baton)
{
    region_t *rg = region;
    count_t *c = baton;
    int p;

    for (p = 0; p < PROBES; p++) {
        entry_t *e = &rg->e[(c->h + (apr_uint32_t)p) & (ENTRIES - 1)];
        apr_uint32_t eh = __atomic_load_n(&e->hash, __ATOMIC_ACQUIRE);

        if (eh == 0) {
            break;
        }
        if (eh == c->h && !memcmp(e->addr, c->key, 16)) {
            c->n += (int)__atomic_load_n(&e->count, __ATOMIC_RELAXED);
        }
    }
}

/* The entry counting key here: the live one, else a free one (claimed),
 * else NULL (the probe window is full). */
static entry_t *entry_for(region_t *rg, const unsigned char *key,
                          apr_uint32_t h)
{
    entry_t *spare = NULL;
    int p;

    for (p = 0; p < PROBES; p++) {
        entry_t *e = &rg->e[(h + (apr_uint32_t)p) & (ENTRIES - 1)];

        if (e->hash == 0) {
            if (!spare) {
                spare = e;
            }
            break;
        }
        if (e->count == 0) {
            if (!spare) {
                spare = e;
            }
        }
        else if (e->hash == h && !memcmp(e->addr, key, 16)) {
            return e;
        }
    }
    if (spare && !(spare->hash == h && !memcmp(spare->addr, key, 16))) {
        __atomic_store_n(&spare->hash, 0, __ATOMIC_RELEASE);
        memcpy(spare->addr, key, 16);
        __atomic_store_n(&spare->hash, h, __ATOMIC_RELEASE);
    }
    return spare;
}

int ws_addrlimit_acquire(const apr_sockaddr_t *addr, int limit, int *token,
                         int *held)
{
    unsigned char key[16];
    count_t c;
    region_t *rg;
    entry_t *e;

    *token = -1;
    *held = 0;
    if (!table || !lock || !addr) {
        return 1;
    }
    c.key = key;
    c.h = key_of(addr, key);
    c.n = 0;
    apr_thread_mutex_lock(lock);
    rg = ws_slots_mine(table);
    e = rg ? entry_for(rg, key, c.h) : NULL;
    if (!e) {
        /* Not countable here (no slot yet, or 4096 other addresses hold
         * connections in this child): the peer is let in uncounted. */
        apr_thread_mutex_unlock(lock);
        return 1;
    }
    __atomic_add_fetch(&e->count, 1, __ATOMIC_RELEASE);
    ws_slots_each(table, count_in, &c);
    if (c.n > limit) {
        __atomic_sub_fetch(&e->count, 1, __ATOMIC_RELEASE);
        apr_thread_mutex_unlock(lock);
        *held = c.n - 1;
        return 0;
    }
    apr_thread_mutex_unlock(lock);
    *token = (int)(e - rg->e);
    return 1;
}

void ws_addrlimit_release(int token)
{
    region_t *mine;

    if (token < 0 || !table || !(mine = ws_slots_mine(table))) {
        return;
    }
    apr_thread_mutex_lock(lock);
    __atomic_sub_fetch(&mine->e[token].count, 1, __ATOMIC_RELEASE);
    apr_thread_mutex_unlock(lock);
}
