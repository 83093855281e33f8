/*
 * ws_slots.c -- shared memory with one region per httpd process slot (see
 * ws_slots.h).
 *
 * Layout: a table header {sizes, nslots, nregions}, the caller's header,
 * then nregions blocks of {owner pid, slot, the caller's region}: first
 * one per scoreboard slot (a child's own, normally), then the spares
 * (threaded MPMs only) for a child whose slot's region is still used by
 * an old-generation process finishing its connections (mpm_worker starts
 * new children in such slots).
 *
 * A region's owner is written last when it is claimed (after the region
 * is zeroed) and read first by walkers, so a walker never sees a previous
 * child's figures under a new owner.  owner: 0 never claimed; a pid; -pid
 * once a walker has found that process gone (its figures are still there
 * to be counted, until a new child claims the region); CLAIMING while a
 * child is taking it.  A region is live while its owner holds the slot in
 * the scoreboard, or, out of it, while the process still exists (a zombie
 * not yet reaped included); a process found gone is marked so once, which
 * also keeps a later process with the same pid from reviving it.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "apr_shm.h"
#include "apr_strings.h"
#include "ap_mpm.h"
#include "scoreboard.h"

#include "ws_private.h"
#include "ws_slots.h"

typedef struct {
    apr_size_t header_size;
    apr_size_t region_size;
    int nslots;
    int nregions;
} table_meta_t;

typedef struct {
    pid_t owner;                /* atomic: see above */
    int slot;                   /* the owner's scoreboard slot */
} region_meta_t;

#define CLAIMING INT_MIN

#define ALIGN8(n) (((n) + 7) & ~(apr_size_t)7)
#define META_SIZE ALIGN8(sizeof(table_meta_t))
#define REGION_META_SIZE ALIGN8(sizeof(region_meta_t))

/* The userdata key: the table's layout (this file's) has a version of its
 * own, so that a graceful restart into a module with another layout makes
 * a new table rather than misreading the old one. */
#define KEY_SUFFIX ":slots2"

struct ws_slots {
    char *base;
    apr_size_t stride;          /* bytes per region, with its meta */
    int nslots;                 /* scoreboard slots (ServerLimit) */
    int nregions;               /* nslots, and the spares */
    void *mine;                 /* this child's region, once claimed */
    int gave_up;                /* no region was free for this child */
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

static void *region_of(region_meta_t *rm)
{
    return (char *)rm + REGION_META_SIZE;
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
    const char *vkey = apr_pstrcat(s->process->pconf, key, KEY_SUFFIX, NULL);
    int n = 0, threaded = AP_MPMQ_NOT_SUPPORTED;

    /* One table for the life of the server: kept in the process pool. */
    apr_pool_userdata_get((void **)&t, vkey, pproc);
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
    ap_mpm_query(AP_MPMQ_IS_THREADED, &threaded);
    t = apr_pcalloc(pproc, sizeof(*t));
    t->stride = REGION_META_SIZE + ALIGN8(region_size);
    t->nslots = n;
    /* A threaded MPM may start a child in a slot whose old process is
     * still alive (mpm_worker does), again at each graceful restart while
     * the old ones finish: spares for two such generations at once. */
    t->nregions = threaded == AP_MPMQ_NOT_SUPPORTED ? n : 3 * n;
    rv = apr_shm_create(&shm, META_SIZE + ALIGN8(header_size)
                              + (apr_size_t)t->nregions * t->stride, NULL,
                        pproc);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    t->base = apr_shm_baseaddr_get(shm);
    memset(t->base, 0, META_SIZE + ALIGN8(header_size));
    meta = (table_meta_t *)t->base;
    meta->header_size = header_size;
    meta->region_size = region_size;
    meta->nslots = t->nslots;
    meta->nregions = t->nregions;
    /* Regions are claimed (and zeroed) by their children; an owner of 0
     * is what they start with (shared memory comes zeroed). */
    apr_pool_userdata_set(t, apr_pstrdup(pproc, vkey), apr_pool_cleanup_null,
                          pproc);
    *out = t;
    return APR_SUCCESS;
}

void *ws_slots_header(ws_slots_t *t)
{
    return t->base + META_SIZE;
}

int ws_slots_count(ws_slots_t *t)
{
    return t->nregions;
}

/* Whether the region's owner is alive (*owner: who it is, 0 if none).  A
 * process found gone is marked so (-pid), unless the region changed hands
 * meanwhile. */
static int region_live(ws_slots_t *t, region_meta_t *rm, pid_t *owner)
{
    pid_t o = __atomic_load_n(&rm->owner, __ATOMIC_ACQUIRE);
    int slot;

    *owner = o;
    if (o <= 0) {
        return 0;
    }
    slot = rm->slot;
    if (slot >= 0 && slot < t->nslots
        && ap_scoreboard_image->parent[slot].pid == o) {
        return 1;
    }
    /* Out of the scoreboard: an old child whose slot a new one took (still
     * alive), or a child that exited or was killed. */
    if (kill(o, 0) == 0) {
        return 1;
    }
    if (errno == ESRCH || errno == EPERM) {
        /* Gone (EPERM: the pid is another user's process now). */
        __atomic_compare_exchange_n(&rm->owner, &o, -o, 0, __ATOMIC_ACQ_REL,
                                    __ATOMIC_RELAXED);
    }
    return 0;
}

/* Take region i for this process (me, in slot) if nobody alive has it:
 * what a previous owner left is handed to reclaim, then cleared. */
static int try_claim(ws_slots_t *t, int i, pid_t me, int slot)
{
    region_meta_t *rm = region_meta(t, i);
    pid_t was;

    if (region_live(t, rm, &was) && was != me) {
        return 0;
    }
    /* Re-read: region_live may have marked a gone owner (-pid).  An owner
     * with our own pid is a dead child's whose pid we were given. */
    was = __atomic_load_n(&rm->owner, __ATOMIC_ACQUIRE);
    if (was == CLAIMING || (was > 0 && was != me)
        || !__atomic_compare_exchange_n(&rm->owner, &was, CLAIMING, 0,
                                        __ATOMIC_ACQ_REL,
                                        __ATOMIC_RELAXED)) {
        return 0;
    }
    if (was && t->reclaim) {
        t->reclaim(region_of(rm), ws_slots_header(t));
    }
    memset(region_of(rm), 0, t->stride - REGION_META_SIZE);
    rm->slot = slot;
    __atomic_store_n(&rm->owner, me, __ATOMIC_RELEASE);
    __atomic_store_n(&t->mine, region_of(rm), __ATOMIC_RELEASE);
    return 1;
}

void *ws_slots_mine(ws_slots_t *t)
{
    void *mine;
    pid_t me;
    int i, slot = -1;

    /* The fast path is one load: counters call this per message (and
     * getpid() is a system call). */
    mine = __atomic_load_n(&t->mine, __ATOMIC_ACQUIRE);
    if (mine || t->gave_up || !ap_scoreboard_image) {
        return mine;
    }
    me = getpid();
    pthread_mutex_lock(&claim_lock);
    for (i = 0; !t->mine && slot < 0 && i < t->nslots; i++) {
        if (ap_scoreboard_image->parent[i].pid == me) {
            slot = i;
        }
    }
    if (!t->mine && slot >= 0) {
        /* The slot's own region, else a spare. */
        if (!try_claim(t, slot, me, slot)) {
            for (i = t->nslots; i < t->nregions; i++) {
                if (try_claim(t, i, me, slot)) {
                    break;
                }
            }
        }
        /* None free: this process stays uncounted rather than count half
         * of what it does (a gauge's +1 lost, its -1 counted). */
        t->gave_up = !t->mine;
    }
    mine = t->mine;
    pthread_mutex_unlock(&claim_lock);
    return mine;
}


void ws_slots_each_claimed(ws_slots_t *t,
                           void (*fn)(void *region, int live, void *baton),
                           void *baton)
{
    pid_t owner;
    int i, live;

    if (!ap_scoreboard_image) {
        return;
    }
    for (i = 0; i < t->nregions; i++) {
        region_meta_t *rm = region_meta(t, i);

        live = region_live(t, rm, &owner);
        if (owner && owner != CLAIMING) {
            fn(region_of(rm), live, baton);
        }
    }
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

void ws_slots_on_reclaim(ws_slots_t *t,
                         void (*fn)(const void *region, void *header))
{
    t->reclaim = fn;
}
