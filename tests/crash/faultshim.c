/* faultshim: an LD_PRELOAD library that numbers every persistence call touching one folder
 * and crashes, tears or fails the k-th (the method of ALICE, OSDI'14, and CrashMonkey,
 * OSDI'18). Built by tests/crash/shim.py with gcc; never committed as a binary.
 *
 * Points: open/openat/creat with a write intent (O_WRONLY, O_RDWR, O_CREAT, O_TRUNC), write,
 * pwrite, fsync, fdatasync, ftruncate, truncate, rename/renameat/renameat2, unlink/unlinkat,
 * mkdir/mkdirat, on a path under FAULT_DIR or a descriptor opened on one. Read-only opens
 * are not points, but their descriptors are followed (a folder opened to be fsynced).
 *
 * One global order across threads and processes: the number k comes from an atomic counter
 * in a shared file (FAULT_COUNTER) that every process preloaded with this library maps.
 *
 * Environment:
 *   FAULT_DIR      absolute folder whose calls are numbered (required; else the shim is idle)
 *   FAULT_COUNTER  file holding the shared counter (8 bytes, created by the harness)
 *   FAULT_LOG      trace: one line per point, "k pid tid call path bytes result"
 *   FAULT_AT       the point to act on (0: trace only)
 *   FAULT_ACTION   crash (SIGKILL before the call), torn (a write half done, then SIGKILL),
 *                  errno (fail with FAULT_ERRNO), short (a write half done and returned
 *                  short, the same process's next point fails with FAULT_ERRNO)
 *   FAULT_ERRNO    the errno number for errno and short
 *   FAULT_SPAN     errno: points failed from FAULT_AT on (1: transient; 0: persistent)
 *   FAULT_SHADOW   folder for the power-loss model: a successful fsync/fdatasync copies the
 *                  file's content to ino-<inode>, or a folder's entries to dir-<inode>.list
 *   FAULT_FIRED    a file created when the fault acts (the harness knows it happened)
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_FD 65536
enum { ACT_NONE, ACT_CRASH, ACT_TORN, ACT_ERRNO, ACT_SHORT };

static char g_dir[PATH_MAX];
static size_t g_dirlen;
static long *g_counter;
static int g_log = -1;
static long g_at, g_span = 1;
static int g_action, g_errno = EIO;
static char g_shadow[PATH_MAX];
static char g_fired[PATH_MAX];
static int g_fail_next; /* short: the next point of this process fails */
static char *g_paths[MAX_FD];

static int (*real_open)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_ftruncate)(int, off_t);
static int (*real_truncate)(const char *, off_t);
static int (*real_rename)(const char *, const char *);
static int (*real_renameat)(int, const char *, int, const char *);
static int (*real_renameat2)(int, const char *, int, const char *, unsigned int);
static int (*real_unlink)(const char *);
static int (*real_unlinkat)(int, const char *, int);
static int (*real_mkdir)(const char *, mode_t);
static int (*real_mkdirat)(int, const char *, mode_t);
static int (*real_close)(int);

#define RESOLVE(name) real_##name = dlsym(RTLD_NEXT, #name)

static void resolve(void) {
    RESOLVE(open); RESOLVE(openat); RESOLVE(write); RESOLVE(pwrite); RESOLVE(fsync);
    RESOLVE(fdatasync); RESOLVE(ftruncate); RESOLVE(truncate); RESOLVE(rename);
    RESOLVE(renameat); RESOLVE(renameat2); RESOLVE(unlink); RESOLVE(unlinkat); RESOLVE(mkdir);
    RESOLVE(mkdirat); RESOLVE(close);
}

static void copy_env(char *to, const char *name) {
    const char *value = getenv(name);
    if (value != NULL && strlen(value) < PATH_MAX) strcpy(to, value);
}

__attribute__((constructor)) static void shim_init(void) {
    resolve();
    copy_env(g_dir, "FAULT_DIR");
    g_dirlen = strlen(g_dir);
    while (g_dirlen > 1 && g_dir[g_dirlen - 1] == '/') g_dir[--g_dirlen] = '\0';
    copy_env(g_shadow, "FAULT_SHADOW");
    copy_env(g_fired, "FAULT_FIRED");
    const char *v;
    if ((v = getenv("FAULT_AT")) != NULL) g_at = atol(v);
    if ((v = getenv("FAULT_SPAN")) != NULL) g_span = atol(v);
    if ((v = getenv("FAULT_ERRNO")) != NULL) g_errno = atoi(v);
    if ((v = getenv("FAULT_ACTION")) != NULL) {
        g_action = !strcmp(v, "crash") ? ACT_CRASH : !strcmp(v, "torn") ? ACT_TORN
                 : !strcmp(v, "errno") ? ACT_ERRNO : !strcmp(v, "short") ? ACT_SHORT : ACT_NONE;
    }
    if ((v = getenv("FAULT_COUNTER")) != NULL) {
        int fd = real_open(v, O_RDWR | O_CLOEXEC);
        if (fd >= 0) {
            void *map = mmap(NULL, sizeof(long), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
            if (map != MAP_FAILED) g_counter = map;
            real_close(fd);
        }
    }
    if ((v = getenv("FAULT_LOG")) != NULL)
        g_log = real_open(v, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (g_dirlen == 0 || g_counter == NULL) g_dirlen = 0; /* idle */
}

/* -- paths and descriptors ------------------------------------------------------------- */

static int under(const char *path) {
    return g_dirlen && path != NULL && strncmp(path, g_dir, g_dirlen) == 0
        && (path[g_dirlen] == '/' || path[g_dirlen] == '\0');
}

/* The absolute form of *path* (relative to *dirfd*), written to *out*. */
static const char *absolute(int dirfd, const char *path, char *out) {
    if (path == NULL) return NULL;
    if (path[0] == '/') return path;
    const char *base = NULL;
    char cwd[PATH_MAX];
    if (dirfd == AT_FDCWD) base = getcwd(cwd, sizeof cwd);
    else if (dirfd >= 0 && dirfd < MAX_FD) base = g_paths[dirfd];
    if (base == NULL) return path;
    snprintf(out, PATH_MAX, "%s/%s", base, path);
    return out;
}

static const char *fd_path(int fd) {
    return fd >= 0 && fd < MAX_FD ? g_paths[fd] : NULL;
}

static void follow(int fd, const char *path) {
    if (fd < 0 || fd >= MAX_FD) return;
    char *copy = strdup(path);
    char *old = __atomic_exchange_n(&g_paths[fd], copy, __ATOMIC_SEQ_CST);
    free(old);
}

static void forget(int fd) {
    if (fd < 0 || fd >= MAX_FD) return;
    free(__atomic_exchange_n(&g_paths[fd], NULL, __ATOMIC_SEQ_CST));
}

/* -- numbering and acting ---------------------------------------------------------------- */

static void fired(long k, const char *call) {
    if (!g_fired[0]) return;
    int fd = real_open(g_fired, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) return;
    char line[128];
    int n = snprintf(line, sizeof line, "%ld %d %s\n", k, getpid(), call);
    real_write(fd, line, (size_t)n);
    real_close(fd);
}

static void trace(long k, const char *call, const char *path, long bytes, const char *what) {
    if (g_log < 0) return;
    char line[PATH_MAX + 128];
    int n = snprintf(line, sizeof line, "%ld %d %ld %s %s %ld %s\n", k, getpid(),
                     (long)syscall(SYS_gettid), call, path ? path : "-", bytes, what);
    if (n > 0) real_write(g_log, line, (size_t)(n < (int)sizeof line ? n : (int)sizeof line));
}

/* Number this call; returns the action to take on it (ACT_NONE: do it as usual). */
static int point(const char *call, const char *path, long bytes) {
    long k = __atomic_add_fetch(g_counter, 1, __ATOMIC_SEQ_CST);
    int act = ACT_NONE;
    if (g_fail_next) {
        g_fail_next = 0;
        act = ACT_ERRNO;
    } else if (g_at > 0 && k >= g_at) {
        int in_span = g_action == ACT_ERRNO ? (g_span == 0 || k < g_at + g_span) : k == g_at;
        if (in_span) act = g_action;
    }
    static const char *names[] = {"ok", "crash", "torn", "errno", "short"};
    trace(k, call, path, bytes, names[act]);
    int is_write = !strcmp(call, "write") || !strcmp(call, "pwrite");
    if (act == ACT_SHORT && !is_write) act = ACT_ERRNO;
    if (act != ACT_NONE) fired(k, call);
    if (act == ACT_CRASH || (act == ACT_TORN && !is_write)) kill(getpid(), SIGKILL);
    return act;
}

static ssize_t do_write(int fd, const void *buf, size_t n, off_t off, int positioned) {
    return positioned ? real_pwrite(fd, buf, n, off) : real_write(fd, buf, n);
}

static ssize_t written(const char *call, int fd, const void *buf, size_t n, off_t off,
                       int positioned) {
    const char *path = fd_path(fd);
    if (path == NULL || g_dirlen == 0) return do_write(fd, buf, n, off, positioned);
    int act = point(call, path, (long)n);
    if (act == ACT_ERRNO) { errno = g_errno; return -1; }
    if (act == ACT_TORN) {
        do_write(fd, buf, n / 2, off, positioned);
        kill(getpid(), SIGKILL);
    }
    if (act == ACT_SHORT && n > 1) {
        g_fail_next = 1;
        return do_write(fd, buf, n / 2, off, positioned);
    }
    return do_write(fd, buf, n, off, positioned);
}

/* -- the power-loss model: what a successful fsync made durable ---------------------------- */

static void shadow_put(const char *name, int from_fd, const char *text) {
    char tmp[PATH_MAX + 128], dst[PATH_MAX + 128];
    snprintf(tmp, sizeof tmp, "%s/.%s.%d", g_shadow, name, getpid());
    snprintf(dst, sizeof dst, "%s/%s", g_shadow, name);
    int out = real_open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0) return;
    if (text != NULL) real_write(out, text, strlen(text));
    char buf[65536];
    ssize_t got;
    off_t at = 0;
    while (from_fd >= 0 && (got = pread(from_fd, buf, sizeof buf, at)) > 0) {
        real_write(out, buf, (size_t)got);
        at += got;
    }
    real_close(out);
    real_rename(tmp, dst);
}

static void shadow_dir(const char *path, ino_t ino) {
    DIR *dir = opendir(path);
    if (dir == NULL) return;
    size_t cap = 1 << 16, len = 0;
    char *text = malloc(cap);
    if (text == NULL) { closedir(dir); return; }
    len = (size_t)snprintf(text, cap, "%s\n", path);
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        if (entry->d_name[0] == '.' && (!entry->d_name[1] || !strcmp(entry->d_name, ".."))) continue;
        if (len + strlen(entry->d_name) + 32 >= cap) break;
        len += (size_t)snprintf(text + len, cap - len, "%lu %s\n", (unsigned long)entry->d_ino,
                                entry->d_name);
    }
    closedir(dir);
    char name[64];
    snprintf(name, sizeof name, "dir-%lu.list", (unsigned long)ino);
    shadow_put(name, -1, text);
    free(text);
}

static void shadow(int fd) {
    if (!g_shadow[0]) return;
    struct stat st;
    if (fstat(fd, &st) != 0) return;
    if (S_ISDIR(st.st_mode)) { shadow_dir(fd_path(fd), st.st_ino); return; }
    char proc[64], name[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    int in = real_open(proc, O_RDONLY | O_CLOEXEC);
    if (in < 0) return;
    snprintf(name, sizeof name, "ino-%lu", (unsigned long)st.st_ino);
    shadow_put(name, in, NULL);
    real_close(in);
}

static int synced(const char *call, int fd, int (*real)(int)) {
    const char *path = fd_path(fd);
    if (path == NULL || g_dirlen == 0) return real(fd);
    if (point(call, path, -1) == ACT_ERRNO) { errno = g_errno; return -1; }
    int rc = real(fd);
    if (rc == 0) shadow(fd);
    return rc;
}

/* -- the interposed calls ------------------------------------------------------------------ */

static int opened(int dirfd, const char *path, int flags, mode_t mode, int at) {
    char buf[PATH_MAX];
    const char *full = absolute(dirfd, path, buf);
    int tracked = under(full);
    if (tracked && (flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC))
        && point(at ? "openat" : "open", full, -1) == ACT_ERRNO) {
        errno = g_errno;
        return -1;
    }
    int fd = at ? real_openat(dirfd, path, flags, mode) : real_open(path, flags, mode);
    if (fd >= 0) {
        if (tracked) follow(fd, full);
        else forget(fd);
    }
    return fd;
}

#define MODE_ARG(flags) mode_t mode = 0; \
    if ((flags) & (O_CREAT | O_TMPFILE)) { va_list ap; va_start(ap, flags); \
    mode = va_arg(ap, mode_t); va_end(ap); }

int open(const char *path, int flags, ...) { MODE_ARG(flags); return opened(AT_FDCWD, path, flags, mode, 0); }
int open64(const char *path, int flags, ...) { MODE_ARG(flags); return opened(AT_FDCWD, path, flags, mode, 0); }
int openat(int d, const char *path, int flags, ...) { MODE_ARG(flags); return opened(d, path, flags, mode, 1); }
int openat64(int d, const char *path, int flags, ...) { MODE_ARG(flags); return opened(d, path, flags, mode, 1); }
int creat(const char *path, mode_t mode) { return opened(AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC, mode, 0); }
int creat64(const char *path, mode_t mode) { return creat(path, mode); }

int close(int fd) { forget(fd); return real_close(fd); }

ssize_t write(int fd, const void *buf, size_t n) { return written("write", fd, buf, n, 0, 0); }
ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) { return written("pwrite", fd, buf, n, off, 1); }
ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off) { return written("pwrite", fd, buf, n, off, 1); }

int fsync(int fd) { return synced("fsync", fd, real_fsync); }
int fdatasync(int fd) { return synced("fdatasync", fd, real_fdatasync); }

int ftruncate(int fd, off_t len) {
    const char *path = fd_path(fd);
    if (path != NULL && g_dirlen && point("ftruncate", path, (long)len) == ACT_ERRNO) {
        errno = g_errno;
        return -1;
    }
    return real_ftruncate(fd, len);
}
int ftruncate64(int fd, off_t len) { return ftruncate(fd, len); }

static int path_call(const char *call, int dirfd, const char *path, long bytes) {
    char buf[PATH_MAX];
    const char *full = absolute(dirfd, path, buf);
    if (under(full) && point(call, full, bytes) == ACT_ERRNO) { errno = g_errno; return -1; }
    return 0;
}

int truncate(const char *path, off_t len) {
    return path_call("truncate", AT_FDCWD, path, (long)len) ? -1 : real_truncate(path, len);
}
int truncate64(const char *path, off_t len) { return truncate(path, len); }

static int renamed(int fd1, const char *a, int fd2, const char *b) {
    char buf1[PATH_MAX], buf2[PATH_MAX];
    const char *full1 = absolute(fd1, a, buf1), *full2 = absolute(fd2, b, buf2);
    if ((under(full1) || under(full2))
        && point("rename", under(full2) ? full2 : full1, -1) == ACT_ERRNO) {
        errno = g_errno;
        return -1;
    }
    return 0;
}

int rename(const char *a, const char *b) {
    return renamed(AT_FDCWD, a, AT_FDCWD, b) ? -1 : real_rename(a, b);
}
int renameat(int d1, const char *a, int d2, const char *b) {
    return renamed(d1, a, d2, b) ? -1 : real_renameat(d1, a, d2, b);
}
int renameat2(int d1, const char *a, int d2, const char *b, unsigned int flags) {
    return renamed(d1, a, d2, b) ? -1 : real_renameat2(d1, a, d2, b, flags);
}

int unlink(const char *path) {
    return path_call("unlink", AT_FDCWD, path, -1) ? -1 : real_unlink(path);
}
int unlinkat(int d, const char *path, int flags) {
    return path_call("unlink", d, path, -1) ? -1 : real_unlinkat(d, path, flags);
}

int mkdir(const char *path, mode_t mode) {
    return path_call("mkdir", AT_FDCWD, path, -1) ? -1 : real_mkdir(path, mode);
}
int mkdirat(int d, const char *path, mode_t mode) {
    return path_call("mkdir", d, path, -1) ? -1 : real_mkdirat(d, path, mode);
}
