/*
 * ws_mailbox.h -- messages for a connection from threads that do not run
 * it, in the order they were sent.
 *
 * Owns: the list of mail (a copy of each message, a reference to a message
 * shared with other connections' mail, a close request, or a call to make
 * on the owner's thread) and its size in bytes.  The connection's owner
 * takes the whole list at once and acts on it, in order.
 *
 * Threads: not locked itself -- the session's lock guards it (see
 * docs/INTERNALS.md, "Locks").  Must not: decide whether a message may be
 * queued (ws_outq does), touch the engine or the network.
 */
#ifndef WS_MAILBOX_H
#define WS_MAILBOX_H

#include <stddef.h>
#include <stdint.h>

/*
 * A message payload shared by the mail of many connections (a channel
 * message fanned out in this child): immutable once made, freed with its
 * last reference.  Any thread.
 */
typedef struct ws_shared {
    uint32_t refs;              /* atomic */
    size_t len;
    void *deflated;             /* atomic, set once: the payload compressed
                                 * for one permessage-deflate setting
                                 * (ws_session's: a malloc'd block, freed
                                 * with the payload) */
    uint8_t data[1];            /* len bytes, then a NUL */
} ws_shared_t;

/* A copy of len bytes with one reference; NULL if memory ran out. */
ws_shared_t *ws_shared_create(const void *data, size_t len);
ws_shared_t *ws_shared_ref(ws_shared_t *sh);
void ws_shared_unref(ws_shared_t *sh);

/* Mail that is a call (WS_MAIL_CALL): run by the owner, on its thread, in
 * the mail's order: call(target, arg).  drop(arg) runs afterwards, or
 * instead if the mail is discarded unread (the connection ended). */
typedef void (*ws_mail_call_fn)(void *target, void *arg);
typedef void (*ws_mail_drop_fn)(void *arg);

#define WS_MAIL_CALL 0x100      /* beside the WS_OP_* opcodes */

/* One queued message. */
typedef struct ws_mail {
    struct ws_mail *next;
    int opcode;                 /* WS_OP_TEXT, WS_OP_BINARY, WS_OP_CLOSE (a
                                 * request to close with close_code), or
                                 * WS_MAIL_CALL */
    int close_code;
    ws_shared_t *shared;        /* the payload, if shared; else data */
    ws_mail_call_fn call;       /* WS_MAIL_CALL */
    ws_mail_drop_fn drop;
    void *arg;
    size_t len;
    uint8_t data[1];            /* len bytes, then a NUL */
} ws_mail_t;

/* A message's payload, wherever it is. */
#define WS_MAIL_DATA(m) ((m)->shared ? (m)->shared->data : (m)->data)

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

/* Append a message whose payload is sh (a reference is taken; len bytes
 * count).  0, or -1 if memory ran out. */
int ws_mailbox_post_shared(ws_mailbox_t *mb, int opcode, ws_shared_t *sh);

/* Append a call (see ws_mail_call_fn; counts 0 bytes).  0, or -1 if memory
 * ran out (then drop(arg) has run). */
int ws_mailbox_post_call(ws_mailbox_t *mb, ws_mail_call_fn call,
                         ws_mail_drop_fn drop, void *arg);

/* Take all the mail, oldest first (NULL if none); the mailbox is empty
 * afterwards.  *bytes (if given) gets its payload bytes.  The caller frees
 * each one with ws_mail_free. */
ws_mail_t *ws_mailbox_take(ws_mailbox_t *mb, size_t *bytes);

/* Free one mail: its shared payload's reference is dropped, a call's
 * drop(arg) runs. */
void ws_mail_free(ws_mail_t *m);

/* Free a list of mail (as taken). */
void ws_mail_free_all(ws_mail_t *m);

#endif /* WS_MAILBOX_H */
