/*
 * ws_addrlimit.c -- connections per client address, across the children
 * (see ws_addrlimit.h).
 *
 * Layout of the shared table: a header, then one region per scoreboard
 * process slot.  A region is an open-addressing hash table of entries
 * {count, hash, address}; hash 0 marks an entry never used.  Only the
 * child in that slot writes it; an entry whose count fell to 0 may be
 * taken by another address.  Readers in other processes read without a
 * lock: a count seen mid-update is off by one for a moment, which a limit
 * can afford.
 *
 * Acquire counts first and then sums all regions, undoing its count if the
 * sum is over the limit: two children racing at the limit may both refuse,
 * but the limit is never exceeded.
 */
#include <string.h>
#include <unistd.h>

#include "apr_shm.h"
#include "apr_thread_mutex.h"
#include "ap_mpm.h"
#include "scoreboard.h"

#include "ws_private.h"
#include "ws_addrlimit.h"

#define ENTRIES 4096            /* distinct addresses per child, power of 2 */
#define PROBES  64              /* longest search in a region */

typedef struct {
    apr_uint32_t count;         /* atomic */
    apr_uint32_t hash;          /* 0: never used */
    unsigned char addr[16];     /* IPv6, or IPv4 as ::ffff:a.b.c.d */
} entry_t;

typedef struct {
    pid_t owner;                /* the child that wrote it (atomic) */
    entry_t e[ENTRIES];
} region_t;

typedef struct {
    apr_uint32_t seed;
    int nregions;
    region_t r[1];
} table_t;

#define USERDATA_KEY "mod_websocket:addrlimit"

static int wanted;
static table_t *table;
static apr_thread_mutex_t *lock;
static region_t *mine;          /* this child's region, once found */

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
    apr_pool_t *pproc = s->process->pool;
    apr_shm_t *shm = NULL;
    apr_status_t rv;
    int n = 0;

    /* One table for the life of the server: kept in the process pool. */
    apr_pool_userdata_get((void **)&shm, USERDATA_KEY, pproc);
    if (!shm && wanted) {
        ap_mpm_query(AP_MPMQ_HARD_LIMIT_DAEMONS, &n);
        if (n < 1) {
            n = 1;
        }
        rv = apr_shm_create(&shm, APR_OFFSETOF(table_t, r)
                                  + (apr_size_t)n * sizeof(region_t),
                            NULL, pproc);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, WSLOGNO(00066)
                         "WebSocketMaxConnectionsPerAddress: cannot create "
                         "the shared table for %d processes", n);
            return rv;
        }
        table = apr_shm_baseaddr_get(shm);
        memset(table, 0, APR_OFFSETOF(table_t, r));
        table->nregions = n;
        apr_generate_random_bytes((unsigned char *)&table->seed,
                                  sizeof(table->seed));
        apr_pool_userdata_set(shm, USERDATA_KEY, apr_pool_cleanup_null,
                              pproc);
    }
    /* This module may have been reloaded (a restart): find it again. */
    table = shm ? apr_shm_baseaddr_get(shm) : NULL;
    return APR_SUCCESS;
}

void ws_addrlimit_child_init(apr_pool_t *pchild)
{
    mine = NULL;
    if (table) {
        apr_thread_mutex_create(&lock, APR_THREAD_MUTEX_DEFAULT, pchild);
    }
}

static apr_uint32_t key_of(const apr_sockaddr_t *sa, unsigned char key[16])
{
    apr_uint32_t h = 2166136261u ^ table->seed;    /* FNV-1a, seeded */
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

/* Connections addr holds in one region. */
static int count_in(region_t *rg, const unsigned char *key, apr_uint32_t h)
{
    int p, n = 0;

    for (p = 0; p < PROBES; p++) {
        entry_t *e = &rg->e[(h + (apr_uint32_t)p) & (ENTRIES - 1)];
        apr_uint32_t eh = __atomic_load_n(&e->hash, __ATOMIC_ACQUIRE);

        if (eh == 0) {
            break;
        }
        if (eh == h && !memcmp(e->addr, key, 16)) {
            n += (int)__atomic_load_n(&e->count, __ATOMIC_RELAXED);
        }
    }
    return n;
}

/* All regions whose owner still holds that scoreboard slot. */
static int count_all(const unsigned char *key, apr_uint32_t h)
{
    int i, n = 0;

    for (i = 0; i < table->nregions; i++) {
        region_t *rg = &table->r[i];
        pid_t owner = __atomic_load_n(&rg->owner, __ATOMIC_ACQUIRE);

        if (owner && ap_scoreboard_image
            && ap_scoreboard_image->parent[i].pid == owner) {
            n += count_in(rg, key, h);
        }
    }
    return n;
}

/* This child's region: the scoreboard slot holding our pid.  Whatever a
 * previous child of that slot left is cleared before anyone counts it. */
static region_t *my_region(void)
{
    pid_t me = getpid();
    int i;

    if (mine || !ap_scoreboard_image) {
        return mine;
    }
    for (i = 0; i < table->nregions; i++) {
        if (ap_scoreboard_image->parent[i].pid == me) {
            __atomic_store_n(&table->r[i].owner, 0, __ATOMIC_RELEASE);
            memset(table->r[i].e, 0, sizeof(table->r[i].e));
            __atomic_store_n(&table->r[i].owner, me, __ATOMIC_RELEASE);
            mine = &table->r[i];
            break;
        }
    }
    return mine;
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
    apr_uint32_t h;
    region_t *rg;
    entry_t *e;
    int n;

    *token = -1;
    *held = 0;
    if (!table || !lock || !addr) {
        return 1;
    }
    h = key_of(addr, key);
    apr_thread_mutex_lock(lock);
    rg = my_region();
    e = rg ? entry_for(rg, key, h) : NULL;
    if (!e) {
        /* Not countable here (no slot yet, or 4096 other addresses hold
         * connections in this child): the peer is let in uncounted. */
        apr_thread_mutex_unlock(lock);
        return 1;
    }
    __atomic_add_fetch(&e->count, 1, __ATOMIC_RELEASE);
    n = count_all(key, h);
    if (n > limit) {
        __atomic_sub_fetch(&e->count, 1, __ATOMIC_RELEASE);
        apr_thread_mutex_unlock(lock);
        *held = n - 1;
        return 0;
    }
    apr_thread_mutex_unlock(lock);
    *token = (int)(e - rg->e);
    return 1;
}

void ws_addrlimit_release(int token)
{
    if (token < 0 || !mine) {
        return;
    }
    apr_thread_mutex_lock(lock);
    __atomic_sub_fetch(&mine->e[token].count, 1, __ATOMIC_RELEASE);
    apr_thread_mutex_unlock(lock);
}
