/*
 * ws_mailbox.c -- messages for a connection from other threads (see
 * ws_mailbox.h).  One malloc per message: mail is the path of sends from
 * threads that do not run the connection, not of the owner's own; a
 * channel message fanned out to many connections is copied once
 * (ws_shared_t) and each mail holds a reference.
 */
#include <stdlib.h>
#include <string.h>

#include "ws_mailbox.h"

ws_shared_t *ws_shared_create(const void *data, size_t len)
{
    ws_shared_t *sh = malloc(sizeof(*sh) + len);

    if (!sh) {
        return NULL;
    }
    sh->refs = 1;
    sh->len = len;
    sh->deflated = NULL;
    if (len) {
        memcpy(sh->data, data, len);
    }
    sh->data[len] = '\0';
    return sh;
}

ws_shared_t *ws_shared_ref(ws_shared_t *sh)
{
    __atomic_add_fetch(&sh->refs, 1, __ATOMIC_RELAXED);
    return sh;
}

void ws_shared_unref(ws_shared_t *sh)
{
    if (sh && __atomic_sub_fetch(&sh->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        free(sh->deflated);
        free(sh);
    }
}

static void append(ws_mailbox_t *mb, ws_mail_t *m)
{
    m->next = NULL;
    if (mb->tail) {
        mb->tail->next = m;
    }
    else {
        mb->head = m;
    }
    mb->tail = m;
    mb->bytes += m->len;
}

void ws_mailbox_init(ws_mailbox_t *mb)
{
    mb->head = mb->tail = NULL;
    mb->bytes = 0;
}

int ws_mailbox_post(ws_mailbox_t *mb, int opcode, int close_code,
                    const void *data, size_t len)
{
    ws_mail_t *m = malloc(sizeof(*m) + len);

    if (!m) {
        return -1;
    }
    memset(m, 0, sizeof(*m));
    m->opcode = opcode;
    m->close_code = close_code;
    m->len = len;
    if (len) {
        memcpy(m->data, data, len);
    }
    m->data[len] = '\0';
    append(mb, m);
    return 0;
}

int ws_mailbox_post_shared(ws_mailbox_t *mb, int opcode, ws_shared_t *sh)
{
    ws_mail_t *m = malloc(sizeof(*m));

    if (!m) {
        return -1;
    }
    memset(m, 0, sizeof(*m));
    m->opcode = opcode;
    m->shared = ws_shared_ref(sh);
    m->len = sh->len;
    append(mb, m);
    return 0;
}

int ws_mailbox_post_call(ws_mailbox_t *mb, ws_mail_call_fn call,
                         ws_mail_drop_fn drop, void *arg)
{
    ws_mail_t *m = malloc(sizeof(*m));

    if (!m) {
        if (drop) {
            drop(arg);
        }
        return -1;
    }
    memset(m, 0, sizeof(*m));
    m->opcode = WS_MAIL_CALL;
    m->call = call;
    m->drop = drop;
    m->arg = arg;
    append(mb, m);
    return 0;
}

ws_mail_t *ws_mailbox_take(ws_mailbox_t *mb, size_t *bytes)
{
    ws_mail_t *m = mb->head;

    if (bytes) {
        *bytes = mb->bytes;
    }
    ws_mailbox_init(mb);
    return m;
}

void ws_mail_free(ws_mail_t *m)
{
    ws_shared_unref(m->shared);
    if (m->drop) {
        m->drop(m->arg);
    }
    free(m);
}

void ws_mail_free_all(ws_mail_t *m)
{
    ws_mail_t *next;

    for (; m; m = next) {
        next = m->next;
        ws_mail_free(m);
    }
}
