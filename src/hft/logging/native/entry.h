/* The lane's bytes, defined once: an entry (one record, as the call site writes it into the
 * ring and a frame carries it to the writer) and a frame (the entries taken out at once).
 * Entries are written by lane_push.c and frames by lane_take.c, in the trading process; both
 * are read by frame.c (back into record tuples) and render_lane.c (JSON lines straight from the
 * bytes), in the writer. Native byte order: reader and writer are the same host.
 *
 * An entry:
 *   u32 size | u64 seq | i64 ts_ns | i32 level | u32 source | u32 msg_len | msg utf-8 |
 *   u32 nfields | nfields x (u32 key_len | key utf-8 | u8 tag | value)
 * value by tag: none, false, true: nothing; int: i64; float: f64; str: u32 len | utf-8.
 * In the lane's ring, a u32 size of ENTRY_WRAP (or fewer than 4 bytes left) means: go on at
 * the ring's start.
 *
 * A frame: u64 payload size | 'L' | u32 ndefs | ndefs x (u32 id | u32 len | pickled Source) |
 *   u32 nrecords | entries (wrap gaps left out).
 */
#ifndef HFT_ENTRY_H
#define HFT_ENTRY_H

#include "compat.h"
#include <stdint.h>
#include <string.h>

enum { TAG_NONE, TAG_FALSE, TAG_TRUE, TAG_INT, TAG_FLOAT, TAG_STR };

/* Where each part of an entry's head lies, and its fixed size (the head and nfields). */
enum {
    ENTRY_AT_SEQ = 4,
    ENTRY_AT_TS = 12,
    ENTRY_AT_LEVEL = 20,
    ENTRY_AT_SOURCE = 24,
    ENTRY_AT_MSG_LEN = 28,
    ENTRY_AT_MSG = 32,
    ENTRY_FIXED = 36,
};
#define ENTRY_WRAP 0xFFFFFFFFu

#define FRAME_HEADER 8      /* the u64 payload size, before the payload */
#define FRAME_TAG 'L'       /* a lane frame's payload starts with it */
#define FRAME_FIXED 9       /* the payload's 'L', ndefs and nrecords */
#define FRAME_DEF_FIXED 8   /* a source definition's id and len */
#define FRAME_IDS (1u << 24) /* source ids are below it (a pipeline's loggers, from 0) */

/* An entry's head (all but its message, read where msg_len says). */
typedef struct {
    uint32_t size;
    long long seq, ts;
    int32_t level;
    uint32_t source, msg_len;
} EntryHead;

/* One field: its name, tag and value (i for TAG_INT, f for TAG_FLOAT, str for TAG_STR). */
typedef struct {
    const char *key, *str;
    uint32_t key_len, str_len;
    int tag;
    long long i;
    double f;
} EntryField;

static inline uint32_t
entry_u32(const char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static inline char *
entry_put(char *p, const void *src, size_t n)
{
    memcpy(p, src, n);
    return p + n;
}

/* The bytes one field takes in an entry. */
static inline size_t
entry_field_size(const EntryField *f)
{
    size_t value = f->tag == TAG_INT || f->tag == TAG_FLOAT ? 8
                   : f->tag == TAG_STR                      ? 4 + (size_t)f->str_len
                                                            : 0;
    return 4 + (size_t)f->key_len + 1 + value;
}

/* Write an entry's head and message at p; returns where its nfields go. */
static inline char *
entry_put_head(char *p, const EntryHead *h, const char *msg)
{
    p = entry_put(p, &h->size, 4);
    p = entry_put(p, &h->seq, 8);
    p = entry_put(p, &h->ts, 8);
    p = entry_put(p, &h->level, 4);
    p = entry_put(p, &h->source, 4);
    p = entry_put(p, &h->msg_len, 4);
    return entry_put(p, msg, h->msg_len);
}

static inline char *
entry_put_field(char *p, const EntryField *f)
{
    unsigned char tag = (unsigned char)f->tag;
    p = entry_put(p, &f->key_len, 4);
    p = entry_put(p, f->key, f->key_len);
    p = entry_put(p, &tag, 1);
    if (f->tag == TAG_INT) {
        p = entry_put(p, &f->i, 8);
    } else if (f->tag == TAG_FLOAT) {
        p = entry_put(p, &f->f, 8);
    } else if (f->tag == TAG_STR) {
        p = entry_put(p, &f->str_len, 4);
        p = entry_put(p, f->str, f->str_len);
    }
    return p;
}

/* The head of the entry at e (its size, seq and source are all a frame's taker reads). */
static inline void
entry_get_head(const char *e, EntryHead *h)
{
    memcpy(&h->size, e, 4);
    memcpy(&h->seq, e + ENTRY_AT_SEQ, 8);
    memcpy(&h->ts, e + ENTRY_AT_TS, 8);
    memcpy(&h->level, e + ENTRY_AT_LEVEL, 4);
    memcpy(&h->source, e + ENTRY_AT_SOURCE, 4);
    memcpy(&h->msg_len, e + ENTRY_AT_MSG_LEN, 4);
}

/* The fields of the entry at e start here, after its nfields (*nfields). */
static inline const char *
entry_fields(const char *e, const EntryHead *h, uint32_t *nfields)
{
    const char *q = e + ENTRY_AT_MSG + h->msg_len;
    memcpy(nfields, q, 4);
    return q + 4;
}

/* Read the field at q (of an entry entry_size checked: no bounds to check); returns the next. */
static inline const char *
entry_get_field(const char *q, EntryField *f)
{
    memcpy(&f->key_len, q, 4);
    f->key = q + 4;
    q += 4 + f->key_len;
    f->tag = (unsigned char)*q++;
    f->str = NULL; /* what the tag does not set (the compiler cannot see that it is not read) */
    f->str_len = 0;
    f->i = 0;
    f->f = 0.0;
    if (f->tag == TAG_INT) {
        memcpy(&f->i, q, 8);
        q += 8;
    } else if (f->tag == TAG_FLOAT) {
        memcpy(&f->f, q, 8);
        q += 8;
    } else if (f->tag == TAG_STR) {
        memcpy(&f->str_len, q, 4);
        f->str = q + 4;
        q += 4 + f->str_len;
    }
    return q;
}

/* The size of the well-formed entry at e (ending by end): its message, field names and values
 * all inside it, every tag known, ending where its size says; 0 when it is damaged. Its source
 * id is the caller's to check against the frame's. Readers of a checked entry need no bounds
 * checks. */
static inline uint32_t
entry_size(const char *e, const char *end)
{
    uint32_t size, msg_len, nfields;
    if ((size_t)(end - e) < ENTRY_FIXED || (size = entry_u32(e)) < ENTRY_FIXED ||
        (size_t)(end - e) < size) {
        return 0;
    }
    end = e + size;
    msg_len = entry_u32(e + ENTRY_AT_MSG_LEN);
    if ((size_t)(end - e) - ENTRY_AT_MSG < (size_t)msg_len + 4) {
        return 0;
    }
    const char *q = e + ENTRY_AT_MSG + msg_len;
    nfields = entry_u32(q);
    q += 4;
    for (uint32_t i = 0; i < nfields; i++) {
        uint32_t len;
        if ((size_t)(end - q) < 5 || (len = entry_u32(q), (size_t)(end - q) - 5 < len)) {
            return 0;
        }
        q += 4 + len;
        unsigned char tag = (unsigned char)*q++;
        size_t need = tag == TAG_INT || tag == TAG_FLOAT ? 8 : tag == TAG_STR ? 4 : 0;
        if (tag > TAG_STR || (size_t)(end - q) < need) {
            return 0;
        }
        if (tag == TAG_STR) {
            len = entry_u32(q);
            if ((size_t)(end - q) - 4 < len) {
                return 0;
            }
            need += len;
        }
        q += need;
    }
    return q == end ? size : 0;
}

#endif /* HFT_ENTRY_H */
