/* The mover's state, kept in its Lane (see _mover.h for what it does). Included by _lane.h. */
#ifndef HFT_MOVER_TYPE_H
#define HFT_MOVER_TYPE_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

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

#endif /* HFT_MOVER_TYPE_H */
