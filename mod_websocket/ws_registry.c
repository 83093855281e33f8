/*
 * ws_registry.c -- every session of this httpd child (see ws_registry.h).
 *
 * How the child's end reaches each session, by MPM:
 *   event, loops   child_stopping (ungraceful) -> every loop closes its
 *                  sessions with 1001 now; the loops' pchild pre-cleanup
 *                  ends what is left (ws_loop.c).
 *   worker, event  the MPM closes its workers' sockets, then calls
 *   (own thread)   child_stopping; each session's thread sees EOF or the
 *                  stop flag and ends it; the MPM joins its workers
 *                  before destroying pchild.
 *   prefork        SIGTERM is caught while a WebSocket runs (ws_io.c), so
 *                  the session ends in normal context before httpd's own
 *                  handler runs the pchild cleanups from the signal.
 *   HTTP/2         the stream's h2 worker sees the stop flag.
 * child_exit (a pchild pre-cleanup, after the loops') then deals with what
 * is left.
 */
#include "apr_thread_mutex.h"
#include "httpd.h"
#include "http_log.h"

#include "ws_private.h"
#include "ws_registry.h"
#include "ws_child.h"

/* How long child exit waits for sessions whose owner is still running
 * (an HTTP/2 stream's worker, say) to end them. */
#define WS_EXIT_WAIT apr_time_from_sec(2)

/* A session's registry record (in its registry area). */
typedef struct node {
    struct node *prev, *next;
    struct node *hnext;         /* by id (ws_registry_find) */
    int registered;
} node_t;

/* Sessions by id: chains in a fixed table (ids are sequential). */
#define ID_BUCKETS 4096

static apr_thread_mutex_t *reg_lock;
static node_t *reg_head;
static node_t *by_id[ID_BUCKETS];
static apr_uint32_t reg_count;          /* atomic */

static node_t *node_of(ws_session_t *ws)
{
    return ws_session_area(ws, WS_AREA_REGISTRY);
}

static ws_session_t *session_of(node_t *n)
{
    return ws_session_from_area(n, WS_AREA_REGISTRY);
}

void ws_registry_add(ws_session_t *ws)
{
    node_t *n = node_of(ws);

    if (!reg_lock) {
        return;
    }
    ws_session_ref(ws);
    apr_thread_mutex_lock(reg_lock);
    n->prev = NULL;
    n->next = reg_head;
    if (reg_head) {
        reg_head->prev = n;
    }
    reg_head = n;
    n->hnext = by_id[ws_session_id(ws) % ID_BUCKETS];
    by_id[ws_session_id(ws) % ID_BUCKETS] = n;
    n->registered = 1;
    __atomic_add_fetch(&reg_count, 1, __ATOMIC_RELEASE);
    apr_thread_mutex_unlock(reg_lock);
}

/* Lock held: unlink n; 1 if it was linked. */
static int unlink_locked(node_t *n)
{
    node_t **pp;

    if (!n->registered) {
        return 0;
    }
    for (pp = &by_id[ws_session_id(session_of(n)) % ID_BUCKETS]; *pp;
         pp = &(*pp)->hnext) {
        if (*pp == n) {
            *pp = n->hnext;
            break;
        }
    }
    if (n->prev) {
        n->prev->next = n->next;
    }
    else {
        reg_head = n->next;
    }
    if (n->next) {
        n->next->prev = n->prev;
    }
    n->prev = n->next = NULL;
    n->registered = 0;
    __atomic_sub_fetch(&reg_count, 1, __ATOMIC_RELEASE);
    return 1;
}

void ws_registry_remove(ws_session_t *ws)
{
    int found;

    if (!reg_lock) {
        return;
    }
    apr_thread_mutex_lock(reg_lock);
    found = unlink_locked(node_of(ws));
    apr_thread_mutex_unlock(reg_lock);
    if (found) {
        ws_session_unref(ws);
    }
}

ws_session_t *ws_registry_find(unsigned long id)
{
    ws_session_t *ws = NULL;
    node_t *n;

    if (!reg_lock) {
        return NULL;
    }
    apr_thread_mutex_lock(reg_lock);
    for (n = by_id[id % ID_BUCKETS]; n; n = n->hnext) {
        if (ws_session_id(session_of(n)) == id) {
            ws = ws_session_ref(session_of(n));
            break;
        }
    }
    apr_thread_mutex_unlock(reg_lock);
    return ws;
}

/* Wake every session's owner so that it sees the stop flag. */
static void wake_all(void)
{
    node_t *n;

    apr_thread_mutex_lock(reg_lock);
    for (n = reg_head; n; n = n->next) {
        ws_session_wake(session_of(n));
    }
    apr_thread_mutex_unlock(reg_lock);
}

/* The first session nobody runs (still being handed to a loop that has
 * stopped), unlinked, with the list's reference; NULL if none. */
static ws_session_t *take_unowned(void)
{
    ws_session_t *ws = NULL;
    node_t *n;

    apr_thread_mutex_lock(reg_lock);
    for (n = reg_head; n; n = n->next) {
        if (ws_session_state(session_of(n)) == WS_SESSION_HANDOFF) {
            ws = session_of(n);
            unlink_locked(n);
            break;
        }
    }
    apr_thread_mutex_unlock(reg_lock);
    return ws;
}

/*
 * The child is exiting (pchild is being destroyed), after the event loops
 * ended their sessions.  What is left belongs to threads still running
 * (an HTTP/2 stream's, say) or to nobody (a hand-off the stopped loops
 * never took).  Handlers' fini runs after this: end every session first.
 */
static apr_status_t child_exit(void *data)
{
    apr_time_t deadline = apr_time_now() + WS_EXIT_WAIT;
    ws_session_t *ws;
    node_t *n;
    int left;

    (void)data;
    /* Nothing left (always so under prefork, whose exit runs here from a
     * signal handler): no lock is taken. */
    if (__atomic_load_n(&reg_count, __ATOMIC_ACQUIRE) == 0) {
        return APR_SUCCESS;
    }
    ws_child_stopping(NULL, 0);
    while ((ws = take_unowned()) != NULL) {
        ws_session_end(ws);
        ws_session_unref(ws);
    }
    wake_all();
    while (__atomic_load_n(&reg_count, __ATOMIC_ACQUIRE) > 0
           && apr_time_now() < deadline) {
        apr_sleep(apr_time_from_msec(10));
    }
    left = (int)__atomic_load_n(&reg_count, __ATOMIC_ACQUIRE);
    if (left == 0) {
        return APR_SUCCESS;
    }
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, NULL, WSLOGNO(00069)
                 "child exiting with %d WebSocket connection(s) still "
                 "running: their handlers get no on_close, and sends to "
                 "them fail from now on", left);
    apr_thread_mutex_lock(reg_lock);
    for (n = reg_head; n; n = n->next) {
        ws_session_kill(session_of(n));
    }
    apr_thread_mutex_unlock(reg_lock);
    return APR_SUCCESS;
}

void ws_registry_child_init(apr_pool_t *pchild, server_rec *s)
{
    (void)s;
    apr_thread_mutex_create(&reg_lock, APR_THREAD_MUTEX_DEFAULT, pchild);
    /* A pre-cleanup, so it runs before pchild's subpools are destroyed and
     * before the handlers' fini (a plain cleanup); registered before the
     * loops' pre-cleanup, so it runs after it. */
    apr_pool_pre_cleanup_register(pchild, NULL, child_exit);
}
