/*
 * ws_mailbox.c -- messages for a connection from other threads (see
 * ws_mailbox.h).  One malloc per message: mail is the path of sends from
 * threads that do not run the connection, not of the owner's own.
 */
#include <stdlib.h>
#include <string.h>

#include "ws_mailbox.h"

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
    m->next = NULL;
    m->opcode = opcode;
    m->close_code = close_code;
    m->len = len;
    if (len) {
        memcpy(m->data, data, len);
    }
    m->data[len] = '\0';
    if (mb->tail) {
        mb->tail->next = m;
    }
    else {
        mb->head = m;
    }
    mb->tail = m;
    mb->bytes += len;
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
    free(m);
}

void ws_mail_free_all(ws_mail_t *m)
{
    ws_mail_t *next;

    for (; m; m = next) {
        next = m->next;
        free(m);
    }
}
