/*
 * ws_slots.h -- shared memory with one region per httpd process slot:
 * what lets a figure (connections open, connections per client address)
 * cover every child process, the old generation's after a graceful
 * restart included.
 *
 * Owns: creating such a table (once for the life of the server: it lives
 * in the process pool, so it survives restarts and old children's counts
 * still count), finding and claiming this child's region (the one of the
 * scoreboard slot holding our pid; whatever a previous child of that slot
 * left is cleared first), and walking the regions of live children (a
 * region whose owner has exited or crashed -- httpd has reaped it -- is
 * skipped, so nothing leaks).
 *
 * A region belongs to a process, not to a slot: mpm_worker starts a new
 * child in the slot of an old-generation one that is still finishing its
 * connections after a graceful restart, both alive at once.  The new one
 * then takes a spare region (threaded MPMs have three times ServerLimit
 * of them), and the old one, out of the scoreboard, stays live while its
 * process exists.
 *
 * Threads and processes: only the owning child writes its region (under a
 * lock of its own if several of its threads do); every process reads all
 * regions without a lock, with atomic loads.  A region is at least 8-byte
 * aligned.  Must not know what the regions hold.
 */
#ifndef WS_SLOTS_H
#define WS_SLOTS_H

#include "apr_pools.h"
#include "httpd.h"

typedef struct ws_slots ws_slots_t;

/*
 * post_config: the table named key (make it if this server has none yet):
 * a header of header_size bytes (zeroed when made) and one region of
 * region_size bytes per process slot (ServerLimit).  Returns APR_SUCCESS
 * and sets *out, or the shared-memory error.  Regions of a table made with
 * other sizes (a restart after a module upgrade) are not reused: a new
 * table is made.
 */
apr_status_t ws_slots_attach(server_rec *s, const char *key,
                             apr_size_t header_size, apr_size_t region_size,
                             ws_slots_t **out);

/* The header (shared by every process; atomic access only). */
void *ws_slots_header(ws_slots_t *t);

/* In a child: its own region, claimed and zeroed on first use; NULL if the
 * scoreboard has no slot for this process (yet), or no region is free. */
void *ws_slots_mine(ws_slots_t *t);

/* How many regions the table has: at most that many live children. */
int ws_slots_count(ws_slots_t *t);

/* Call fn(region, baton) for the region of every live child. */
void ws_slots_each(ws_slots_t *t, void (*fn)(void *region, void *baton),
                   void *baton);

/* Call fn(region, live, baton) for every claimed region: those of live
 * children (live 1) and those a child that exited or crashed left behind
 * (live 0) until a new child of its slot claims it. */
void ws_slots_each_claimed(ws_slots_t *t,
                           void (*fn)(void *region, int live, void *baton),
                           void *baton);

/* fn(region, header) is called with what a previous child left in a
 * region, just before a new child claims (and zeroes) it: where counters
 * that only grow fold it into the header.  Set in post_config, before the
 * children are made. */
void ws_slots_on_reclaim(ws_slots_t *t,
                         void (*fn)(const void *region, void *header));

#endif /* WS_SLOTS_H */
