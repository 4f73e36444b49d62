/* The mover: a native thread that takes the lane's records a frame at a time and writes the
 * frames to the writer process's pipe, without ever taking the GIL (mover.h).
 *
 * Why: a Python dispatcher thread that moves the bytes must take the GIL for each step (take,
 * write, read the replies), and each time it does, the busy caller thread is made to let go
 * of it at its next switch interval and then waits while the dispatcher runs, or while the
 * host has the dispatcher's vCPU. This thread shares nothing with the caller but the lane.
 *
 * What stays in Python (ProcessBackend): the writer's replies (acknowledgements free frames
 * here, by `ack`), writer restarts and the resend (the mover is stopped, its frames handed
 * back, and started again with them), and frames of the classic path (`submit`: one pipe,
 * one writer of it, so the order is kept): those are the Lane's methods in lane_mover.c.
 * Frames are numbered here, in pipe order.
 *
 * Back-pressure: past max_frames or max_bytes unacknowledged, the mover stops taking, so the
 * lane fills and its overflow policy applies at the call sites, as with the Python path.
 */
#include "mover.h"
#include "lane.h"
#include <errno.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

void
hft_mover_init(Mover *m)
{
    pthread_mutex_init(&m->mu, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC); /* mover_wait's deadlines */
    pthread_cond_init(&m->cv, &attr);
    pthread_condattr_destroy(&attr);
    pthread_cond_init(&m->wrote, NULL);
    m->sent_through = -1;
}

void
hft_mover_destroy(Mover *m)
{
    pthread_mutex_destroy(&m->mu);
    pthread_cond_destroy(&m->cv);
    pthread_cond_destroy(&m->wrote);
}

void
hft_mover_kick(Mover *m)
{
    pthread_mutex_lock(&m->mu);
    m->kicked = 1;
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
}

void
hft_mover_append(Mover *m, MoverFrame *f)
{
    f->next = NULL;
    f->number = m->next_number++;
    if (m->last == NULL) {
        m->first = f;
    } else {
        m->last->next = f;
    }
    m->last = f;
    if (m->unsent == NULL) {
        m->unsent = f;
        m->offset = 0;
    }
    m->frames++;
    m->records += f->records;
    m->bytes += f->len;
}

int
hft_mover_take(Lane *lane)
{
    Mover *m = &lane->mover;
    pthread_mutex_lock(&lane->take_mu);
    LanePlan plan;
    if (hft_lane_plan(lane, m->frame_bytes, &plan) < 0) {
        pthread_mutex_unlock(&lane->take_mu);
        return -1;
    }
    if (plan.count == 0) {
        PyMem_RawFree(plan.used);
        pthread_mutex_unlock(&lane->take_mu);
        return 0;
    }
    MoverFrame *f = PyMem_RawMalloc(sizeof(MoverFrame) + (size_t)plan.size);
    if (f == NULL) {
        PyMem_RawFree(plan.used);
        pthread_mutex_unlock(&lane->take_mu);
        return -1;
    }
    hft_lane_fill(lane, &plan, f->data);
    f->len = (size_t)plan.size;
    f->records = plan.count;
    int full = plan.count < plan.waiting;
    hft_lane_commit(lane, &plan);
    pthread_mutex_lock(&m->mu); /* under take_mu still: frames are numbered in lane order */
    hft_mover_append(m, f);
    m->moved++;
    pthread_mutex_unlock(&m->mu);
    pthread_mutex_unlock(&lane->take_mu);
    return full ? 2 : 1;
}

/* Write what the pipe takes (mu held on entry and exit, released around each write): 1 the
 * pipe is full, 0 all written or the writer is gone (m->error). */
static int
mover_write(Mover *m)
{
    while (m->unsent != NULL && m->error == 0) {
        /* the writer may read the last bytes and acknowledge the frame before this thread has
         * the mutex back: `writing` makes that ack wait, so the frame is not freed under us */
        MoverFrame *f = m->unsent;
        size_t off = m->offset;
        m->writing = f;
        pthread_mutex_unlock(&m->mu);
        ssize_t n = write(m->fd, f->data + off, f->len - off);
        int err = errno;
        pthread_mutex_lock(&m->mu);
        m->writing = NULL;
        if (n > 0) {
            m->sent_through = f->number > m->sent_through ? f->number : m->sent_through;
            m->offset += (size_t)n;
            if (m->offset == f->len) {
                m->unsent = f->next;
                m->offset = 0;
            }
        }
        pthread_cond_broadcast(&m->wrote);
        if (n < 0) {
            if (err == EINTR) {
                continue;
            }
            if (err == EAGAIN || err == EWOULDBLOCK) {
                return 1;
            }
            m->error = err;
            return 0;
        }
    }
    return 0;
}

static void
mover_wait(Mover *m, double seconds)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    long long ns = (long long)ts.tv_nsec + (long long)(seconds * 1e9);
    ts.tv_sec += (time_t)(ns / 1000000000LL);
    ts.tv_nsec = (long)(ns % 1000000000LL);
    pthread_cond_timedwait(&m->cv, &m->mu, &ts);
}

void *
hft_mover_main(void *arg)
{
    Lane *lane = arg;
    Mover *m = &lane->mover;
    pthread_mutex_lock(&m->mu);
    while (!m->stop) {
        int blocked = mover_write(m);
        int room = m->frames < m->max_frames && m->bytes < m->max_bytes;
        if (room && m->error == 0 && LOAD(lane->records) > 0) {
            m->kicked = 0;
            pthread_mutex_unlock(&m->mu);
            int made = hft_mover_take(lane);
            pthread_mutex_lock(&m->mu);
            if (made == 2 || (made > 0 && m->kicked)) {
                continue; /* a full frame, or more asked for: write it, look again */
            }
            if (made > 0) {
                blocked = mover_write(m);
            }
        }
        if (m->stop || m->kicked) {
            m->kicked = 0;
            continue;
        }
        if (blocked && m->error == 0) { /* the writer is behind: wait until the pipe has room */
            pthread_mutex_unlock(&m->mu);
            struct pollfd p = {.fd = m->fd, .events = POLLOUT, .revents = 0};
            int ms = (int)(m->poll_s * 1000) + 1;
            (void)poll(&p, 1, ms);
            pthread_mutex_lock(&m->mu);
        } else {
            mover_wait(m, m->poll_s);
        }
    }
    pthread_mutex_unlock(&m->mu);
    return NULL;
}

void
hft_mover_free_frames(Mover *m)
{
    MoverFrame *f = m->first;
    while (f != NULL) {
        MoverFrame *next = f->next;
        PyMem_RawFree(f);
        f = next;
    }
    m->first = m->last = m->unsent = NULL;
    m->frames = m->records = 0;
    m->bytes = 0;
    m->offset = 0;
}

/* Stop the thread and wait for it. */
void
hft_mover_join(Mover *m)
{
    pthread_mutex_lock(&m->mu);
    m->stop = 1;
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
    pthread_join(m->thread, NULL);
}
