/* The mover: a native thread that takes a lane's records a frame at a time and writes the
 * frames to the writer process's pipe, without ever taking the GIL (mover.c). Its state is kept
 * in its Lane (lane.h); the Lane's methods that start, stop and feed it are in lane_mover.c.
 */
#ifndef HFT_MOVER_H
#define HFT_MOVER_H

#include "compat.h"
#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

struct Lane; /* lane.h: the mover's lane, which holds it */

/* One frame as written on the writer's pipe (its 8-byte size header included), kept until the
 * writer acknowledges it. */
typedef struct MoverFrame {
    struct MoverFrame *next;
    long long number;
    Py_ssize_t records;
    size_t len;
    char data[];
} MoverFrame;

typedef struct {
    pthread_t thread;
    int running;              /* started and not stopped: read by call sites, with the GIL */
    pid_t pid;                /* the process that started it */
    pthread_mutex_t mu;       /* everything below; never held across a write or a copy */
    pthread_cond_t cv;        /* the mover waits here for records, a kick or its stop */
    pthread_cond_t wrote;     /* an ack waits here while the frame it frees is being written */
    struct MoverFrame *writing; /* the frame a write() is on, mu released (NULL: none) */
    int stop, kicked, error;  /* error: errno of a failed write (the writer is gone) */
    int fd;                   /* the writer's stdin (non-blocking) */
    double poll_s;            /* longest a record waits in the lane before it is moved */
    uint64_t frame_bytes;     /* records' bytes per frame at most */
    Py_ssize_t max_frames;    /* unacknowledged frames at most: past it, stop taking */
    uint64_t max_bytes;       /* and their bytes */
    long long next_number;    /* the next frame's number */
    long long sent_through;   /* the newest frame a byte of which reached the pipe */
    MoverFrame *first, *last; /* unacknowledged, oldest first */
    MoverFrame *unsent;       /* the first frame not wholly written (NULL: none) */
    size_t offset;            /* bytes of `unsent` written */
    Py_ssize_t frames, records;
    uint64_t bytes;
    long long moved; /* frames the thread made of lane records */
} Mover;

/* Its mutex and condition variables made (a new lane's), and destroyed (by the process that
 * made them: a forked child may find them locked by a thread that is not there). */
void hft_mover_init(Mover *m);
void hft_mover_destroy(Mover *m);

/* The thread's body (pthread_create's; arg: the Lane), and its stop: the caller holds the GIL
 * or not, the mover never takes it. */
void *hft_mover_main(void *lane);
void hft_mover_join(Mover *m);

/* Wake the thread: records wait, or a frame was queued. */
void hft_mover_kick(Mover *m);

/* Take the lane's oldest waiting records as one frame and queue it: 2 a full frame (more may
 * wait), 1 a frame, 0 nothing waits, -1 no memory. Called without the GIL or mu. */
int hft_mover_take(struct Lane *lane);

/* Queue a frame (mu held): it takes the next number. */
void hft_mover_append(Mover *m, MoverFrame *f);

/* Free every queued frame (the thread stopped). */
void hft_mover_free_frames(Mover *m);

#endif /* HFT_MOVER_H */
