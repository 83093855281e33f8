/*
 * ws_mailbox.h -- messages for a connection from threads that do not run
 * it, in the order they were sent.
 *
 * Owns: the list of mail (a copy of each message, or a close request) and
 * its size in bytes.  The connection's owner takes the whole list at once
 * and sends it, in order.
 *
 * Threads: not locked itself -- the session's lock guards it (see
 * docs/INTERNALS.md, "Locks").  Must not: decide whether a message may be
 * queued (ws_outq does), touch the engine or the network.
 */
#ifndef WS_MAILBOX_H
#define WS_MAILBOX_H

#include <stddef.h>
#include <stdint.h>

/* One queued message. */
typedef struct ws_mail {
    struct ws_mail *next;
    int opcode;                 /* WS_OP_TEXT, WS_OP_BINARY, or WS_OP_CLOSE
                                 * (a request to close with close_code) */
    int close_code;
    size_t len;
    uint8_t data[1];            /* len bytes, then a NUL */
} ws_mail_t;

typedef struct {
    ws_mail_t *head;
    ws_mail_t *tail;
    size_t bytes;               /* payload bytes of the mail held */
} ws_mailbox_t;

/* Empty. */
void ws_mailbox_init(ws_mailbox_t *mb);

/* Append a copy of len bytes (a NUL follows them).  Returns 0, or -1 if
 * memory ran out (nothing queued). */
int ws_mailbox_post(ws_mailbox_t *mb, int opcode, int close_code,
                    const void *data, size_t len);

/* Take all the mail, oldest first (NULL if none); the mailbox is empty
 * afterwards.  *bytes (if given) gets its payload bytes.  The caller frees
 * each one with ws_mail_free. */
ws_mail_t *ws_mailbox_take(ws_mailbox_t *mb, size_t *bytes);

void ws_mail_free(ws_mail_t *m);

/* Free a list of mail (as taken). */
void ws_mail_free_all(ws_mail_t *m);

#endif /* WS_MAILBOX_H */
