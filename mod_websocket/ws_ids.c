/*
 * ws_ids.c -- server-wide connection ids (see ws_ids.h).
 */
#include <unistd.h>

#include "ws_private.h"
#include "ws_ids.h"
#include "ws_slots.h"

#define SLOTS_KEY "mod_websocket-ids"
#define CHILD_BITS 21

typedef struct {
    apr_uint64_t children;      /* atomic: children started so far */
} header_t;

static ws_slots_t *table;
static unsigned int me;

apr_status_t ws_ids_post_config(server_rec *s)
{
    return ws_slots_attach(s, SLOTS_KEY, sizeof(header_t), 8, &table);
}

void ws_ids_child_init(void)
{
    header_t *h = table ? ws_slots_header(table) : NULL;
    apr_uint64_t n = h ? __atomic_add_fetch(&h->children, 1,
                                            __ATOMIC_RELAXED)
                       : (apr_uint64_t)getpid();

    me = (unsigned int)(n % ((1u << CHILD_BITS) - 1)) + 1;
}

unsigned int ws_ids_child(void)
{
    return me;
}

ws_connid_t ws_ids_conn(unsigned long local)
{
    return ((ws_connid_t)me << 32) | (local & 0xffffffffu);
}

unsigned int ws_ids_child_of(ws_connid_t id)
{
    return (unsigned int)(id >> 32);
}
