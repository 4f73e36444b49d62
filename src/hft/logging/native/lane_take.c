/* Taking a lane's entries out as one frame (entry.h): planned, filled and committed by one
 * consumer at a time, take_mu held (the dispatcher's Lane.take in lane.c, or the mover thread
 * in mover.c). */
#include "lane.h"
#include <string.h>

/* Walk up to `waiting` entries from the head, up to about max_bytes (at least one entry). */
static void
lane_walk(Lane *self, uint64_t max_bytes, Py_ssize_t waiting, LanePlan *plan)
{
    uint64_t pos = self->head;
    while (plan->count < waiting) {
        pos = lane_skip_gap(self, pos);
        EntryHead entry;
        entry_get_head(self->buf + pos % self->cap, &entry);
        if (plan->count > 0 && plan->bytes + entry.size > max_bytes) {
            break;
        }
        if (entry.source < (uint32_t)self->ndefs) {
            plan->used[entry.source] = 1;
        }
        plan->newest = entry.seq > plan->newest ? entry.seq : plan->newest;
        plan->bytes += entry.size;
        plan->count++;
        pos += entry.size;
    }
    plan->end = pos;
}

int
hft_lane_plan(Lane *self, uint64_t max_bytes, LanePlan *plan)
{
    memset(plan, 0, sizeof *plan);
    plan->newest = -1;
    Py_ssize_t waiting = LOAD(self->records);
    plan->waiting = waiting;
    if (waiting == 0) {
        return 0;
    }
    plan->used = PyMem_RawCalloc((size_t)self->ndefs + 1, 1);
    if (plan->used == NULL) {
        return -1;
    }
    lane_walk(self, max_bytes, waiting, plan);
    plan->size = FRAME_HEADER + FRAME_FIXED + plan->bytes;
    for (Py_ssize_t i = 0; i < self->ndefs; i++) {
        plan->size += plan->used[i] ? FRAME_DEF_FIXED + (uint64_t)self->defs[i].len : 0;
    }
    return 0;
}

/* Copy the entries from head to end into out, the wrap gaps left out. */
static void
lane_copy(Lane *self, uint64_t end, char *out)
{
    uint64_t pos = self->head;
    while (pos < end) {
        pos = lane_skip_gap(self, pos);
        uint64_t off = pos % self->cap;
        uint64_t run = end - pos < self->cap - off ? end - pos : self->cap - off;
        /* a run up to the end of the buffer may end in a gap: copy whole entries only */
        uint64_t whole = 0;
        while (whole < run) {
            uint64_t left = self->cap - off - whole;
            if (left < 4 || entry_u32(self->buf + off + whole) == ENTRY_WRAP) {
                break;
            }
            whole += entry_u32(self->buf + off + whole);
        }
        memcpy(out, self->buf + off, (size_t)whole);
        out += whole;
        pos += whole;
        if (whole < run) {
            pos = lane_skip_gap(self, pos);
        }
    }
}

void
hft_lane_fill(Lane *self, const LanePlan *plan, char *p)
{
    uint64_t payload = plan->size - FRAME_HEADER;
    uint32_t ndefs = 0, nrecords = (uint32_t)plan->count;
    char tag = FRAME_TAG;
    p = entry_put(p, &payload, FRAME_HEADER);
    p = entry_put(p, &tag, 1);
    char *ndefs_at = p;
    p += 4;
    for (Py_ssize_t i = 0; i < self->ndefs; i++) {
        if (plan->used[i]) {
            uint32_t id = (uint32_t)i, len = self->defs[i].len;
            p = entry_put(p, &id, 4);
            p = entry_put(p, &len, 4);
            p = entry_put(p, self->defs[i].data, len);
            ndefs++;
        }
    }
    memcpy(ndefs_at, &ndefs, 4);
    p = entry_put(p, &nrecords, 4);
    lane_copy(self, plan->end, p);
}

/* Head first, then the count, so a producer never sees room that is not there. */
void
hft_lane_commit(Lane *self, LanePlan *plan)
{
    __atomic_store_n(&self->head, plan->end, __ATOMIC_RELEASE);
    __atomic_fetch_add(&self->taken, plan->count, __ATOMIC_SEQ_CST);
    if (plan->newest > LOAD(self->newest_taken)) {
        __atomic_store_n(&self->newest_taken, plan->newest, __ATOMIC_RELEASE);
    }
    __atomic_fetch_sub(&self->records, plan->count, __ATOMIC_RELEASE);
    PyMem_RawFree(plan->used);
    plan->used = NULL;
}

