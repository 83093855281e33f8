/*
 * ws_slots.c -- shared memory with one region per httpd process slot (see
 * ws_slots.h).
 *
 * Layout: a table header {sizes, nregions}, the caller's header, then
 * nregions blocks of {owner pid, the caller's region}.  A region's owner
 * is written last when it is claimed (after the region is zeroed) and
 * read first by walkers, so a walker never sees a previous child's
 * figures under a new owner.
 */
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "apr_shm.h"
#include "ap_mpm.h"
#include "scoreboard.h"

#include "ws_private.h"
#include "ws_slots.h"

typedef struct {
    apr_size_t header_size;
    apr_size_t region_size;
    int nregions;
} table_meta_t;

typedef struct {
    pid_t owner;                /* atomic; 0: unclaimed */
} region_meta_t;

#define ALIGN8(n) (((n) + 7) & ~(apr_size_t)7)
#define META_SIZE ALIGN8(sizeof(table_meta_t))
#define REGION_META_SIZE ALIGN8(sizeof(region_meta_t))

struct ws_slots {
    char *base;
    apr_size_t stride;          /* bytes per region, with its meta */
    int nregions;
    void *mine;                 /* this child's region, once claimed */
    void (*reclaim)(const void *region, void *header);
};

/* Claiming a region is rare (once per table per child): one lock. */
static pthread_mutex_t claim_lock = PTHREAD_MUTEX_INITIALIZER;

static region_meta_t *region_meta(ws_slots_t *t, int i)
{
    return (region_meta_t *)(t->base + META_SIZE
                             + ALIGN8(((table_meta_t *)t->base)->header_size)
                             + (apr_size_t)i * t->stride);
}

apr_status_t ws_slots_attach(server_rec *s, const char *key,
                             apr_size_t header_size, apr_size_t region_size,
                             ws_slots_t **out)
{
    apr_pool_t *pproc = s->process->pool;
    ws_slots_t *t = NULL;
    table_meta_t *meta;
    apr_shm_t *shm;
    apr_status_t rv;
    int n = 0;

    /* One table for the life of the server: kept in the process pool. */
    apr_pool_userdata_get((void **)&t, key, pproc);
    if (t) {
        meta = (table_meta_t *)t->base;
        if (meta->header_size == header_size
            && meta->region_size == region_size) {
            *out = t;
            return APR_SUCCESS;
        }
    }
    ap_mpm_query(AP_MPMQ_HARD_LIMIT_DAEMONS, &n);
    if (n < 1) {
        n = 1;
    }
    t = apr_pcalloc(pproc, sizeof(*t));
    t->stride = REGION_META_SIZE + ALIGN8(region_size);
    t->nregions = n;
    rv = apr_shm_create(&shm, META_SIZE + ALIGN8(header_size)
                              + (apr_size_t)n * t->stride, NULL, pproc);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    t->base = apr_shm_baseaddr_get(shm);
    memset(t->base, 0, META_SIZE + ALIGN8(header_size));
    meta = (table_meta_t *)t->base;
    meta->header_size = header_size;
    meta->region_size = region_size;
    meta->nregions = n;
    /* Regions are claimed (and zeroed) by their children. */
    apr_pool_userdata_set(t, key, apr_pool_cleanup_null, pproc);
    *out = t;
    return APR_SUCCESS;
}

void *ws_slots_header(ws_slots_t *t)
{
    return t->base + META_SIZE;
}

void *ws_slots_mine(ws_slots_t *t)
{
    void *mine;
    pid_t me;
    int i;

    /* The fast path is one load: counters call this per message (and
     * getpid() is a system call). */
    mine = __atomic_load_n(&t->mine, __ATOMIC_ACQUIRE);
    if (mine || !ap_scoreboard_image) {
        return mine;
    }
    me = getpid();
    pthread_mutex_lock(&claim_lock);
    for (i = 0; !t->mine && i < t->nregions; i++) {
        if (ap_scoreboard_image->parent[i].pid == me) {
            region_meta_t *rm = region_meta(t, i);
            pid_t was = __atomic_exchange_n(&rm->owner, 0,
                                            __ATOMIC_ACQ_REL);

            if (was && t->reclaim) {
                t->reclaim((char *)rm + REGION_META_SIZE,
                           ws_slots_header(t));
            }
            memset((char *)rm + REGION_META_SIZE, 0,
                   t->stride - REGION_META_SIZE);
            __atomic_store_n(&rm->owner, me, __ATOMIC_RELEASE);
            __atomic_store_n(&t->mine, (char *)rm + REGION_META_SIZE,
                             __ATOMIC_RELEASE);
        }
    }
    mine = t->mine;
    pthread_mutex_unlock(&claim_lock);
    return mine;
}

typedef struct {
    void (*fn)(void *region, void *baton);
    void *baton;
} live_only_t;

static void live_only(void *region, int live, void *baton)
{
    live_only_t *lo = baton;

    if (live) {
        lo->fn(region, lo->baton);
    }
}

void ws_slots_each(ws_slots_t *t, void (*fn)(void *region, void *baton),
                   void *baton)
{
    live_only_t lo;

    lo.fn = fn;
    lo.baton = baton;
    ws_slots_each_claimed(t, live_only, &lo);
}

void ws_slots_each_claimed(ws_slots_t *t,
                           void (*fn)(void *region, int live, void *baton),
                           void *baton)
{
    int i;

    if (!ap_scoreboard_image) {
        return;
    }
    for (i = 0; i < t->nregions; i++) {
        region_meta_t *rm = region_meta(t, i);
        pid_t owner = __atomic_load_n(&rm->owner, __ATOMIC_ACQUIRE);

        if (owner) {
            fn((char *)rm + REGION_META_SIZE,
               ap_scoreboard_image->parent[i].pid == owner, baton);
        }
    }
}

void ws_slots_on_reclaim(ws_slots_t *t,
                         void (*fn)(const void *region, void *header))
{
    t->reclaim = fn;
}
