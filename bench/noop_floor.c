/*
 * The no-op floor: the fewest system calls any tool can make to decide that every pyc of a
 * tree is fresh, made as cheaply as C allows, on every core. compile_bench.py builds it with gcc
 * and runs it on the same tree as compileall and pycache, so the no-op goals can be read
 * against what the kernel alone costs here.
 *
 * Per directory: open, getdents64 until empty, close. Per *.py file: fstatat relative to the
 * directory (import needs its mtime and size). Per pyc: openat relative to __pycache__, read
 * its 16-byte header, close. Nothing is sorted, nothing is compared, nothing is allocated but
 * names; the top-level directories are shared out between the threads.
 *
 *     noop_floor TREE TAG THREADS     (TAG: cpython-311)
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

struct linux_dirent64 {
    unsigned long d_ino;
    long d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

static const char *tag;
static atomic_long sources, pycs;

static int is_dot(const char *name) {
    return name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2]));
}

static void walk(int dfd) {
    char buf[32768];
    size_t cap = 64, count = 0;
    char **names = malloc(cap * sizeof *names);
    unsigned char *types = malloc(cap);
    long n;
    while ((n = syscall(SYS_getdents64, dfd, buf, sizeof buf)) > 0) {
        for (long off = 0; off < n;) {
            struct linux_dirent64 *d = (void *)(buf + off);
            off += d->d_reclen;
            if (is_dot(d->d_name)) continue;
            if (count == cap) {
                cap *= 2;
                names = realloc(names, cap * sizeof *names);
                types = realloc(types, cap);
            }
            names[count] = strdup(d->d_name);
            types[count++] = d->d_type;
        }
    }
    int pfd = -1;
    for (size_t i = 0; i < count; i++)
        if (types[i] == DT_DIR && !strcmp(names[i], "__pycache__"))
            pfd = openat(dfd, "__pycache__", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    for (size_t i = 0; i < count; i++) {
        char *name = names[i];
        size_t len = strlen(name);
        if (types[i] == DT_DIR) {
            if (strcmp(name, "__pycache__")) {
                int sub = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sub >= 0) walk(sub);
            }
        } else if (len > 3 && !strcmp(name + len - 3, ".py")) {
            struct stat st;
            fstatat(dfd, name, &st, 0);
            sources++;
            if (pfd >= 0) {
                char pyc[600];
                snprintf(pyc, sizeof pyc, "%.*s.%s.pyc", (int)(len - 3), name, tag);
                int f = openat(pfd, pyc, O_RDONLY | O_CLOEXEC);
                if (f >= 0) {
                    char head[16];
                    if (read(f, head, sizeof head) > 0) pycs++;
                    close(f);
                }
            }
        }
        free(name);
    }
    free(names);
    free(types);
    if (pfd >= 0) close(pfd);
    close(dfd);
}

static char **tops;
static size_t ntops;
static atomic_size_t next_top;
static int rootfd;

static void *worker(void *arg) {
    (void)arg;
    size_t i;
    while ((i = atomic_fetch_add(&next_top, 1)) < ntops) {
        int dfd = openat(rootfd, tops[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd >= 0) walk(dfd);
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: noop_floor TREE TAG THREADS\n");
        return 2;
    }
    tag = argv[2];
    int threads = atoi(argv[3]);
    rootfd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0) {
        perror(argv[1]);
        return 1;
    }
    /* The root's own files are few: the main thread does them, the threads share its dirs. */
    char buf[32768];
    size_t cap = 64;
    tops = malloc(cap * sizeof *tops);
    long n;
    int pfd = openat(rootfd, "__pycache__", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    while ((n = syscall(SYS_getdents64, rootfd, buf, sizeof buf)) > 0) {
        for (long off = 0; off < n;) {
            struct linux_dirent64 *d = (void *)(buf + off);
            off += d->d_reclen;
            if (is_dot(d->d_name)) continue;
            size_t len = strlen(d->d_name);
            if (d->d_type == DT_DIR && strcmp(d->d_name, "__pycache__")) {
                if (ntops == cap) tops = realloc(tops, (cap *= 2) * sizeof *tops);
                tops[ntops++] = strdup(d->d_name);
            } else if (len > 3 && !strcmp(d->d_name + len - 3, ".py")) {
                struct stat st;
                fstatat(rootfd, d->d_name, &st, 0);
                sources++;
                if (pfd >= 0) {
                    char pyc[600], head[16];
                    snprintf(pyc, sizeof pyc, "%.*s.%s.pyc", (int)(len - 3), d->d_name, tag);
                    int f = openat(pfd, pyc, O_RDONLY | O_CLOEXEC);
                    if (f >= 0) {
                        if (read(f, head, sizeof head) > 0) pycs++;
                        close(f);
                    }
                }
            }
        }
    }
    if (pfd >= 0) close(pfd);
    pthread_t *ids = calloc(threads, sizeof *ids);
    for (int i = 0; i < threads; i++) pthread_create(&ids[i], NULL, worker, NULL);
    for (int i = 0; i < threads; i++) pthread_join(ids[i], NULL);
    printf("%ld sources, %ld pycs read\n", (long)sources, (long)pycs);
    return 0;
}
