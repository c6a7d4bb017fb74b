/* The write floor for the cache benchmark: writes given bytes to given pyc paths the way any
 * tool that writes pycs atomically must (create the __pycache__ directory if needed, write a
 * temporary file beside the pyc, rename it over the pyc), on every core, and nothing else.
 *
 *     write_floor MANIFEST THREADS [unnamed]
 *
 * MANIFEST: lines "PYC_PATH\tCONTENT_FILE". Every content file is read into memory before the
 * clock starts; the time printed (seconds, on stdout) covers only the writing.
 *
 * With "unnamed": the cheapest atomic write of a new file known here, as pycache writes a pyc
 * that is not there yet: an unnamed file in the directory (O_TMPFILE, the directory made only
 * when that fails for want of it), written, then linked under its name (linkat).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct item { char *path; char *data; size_t len; };
static struct item *items;
static size_t count;
static atomic_size_t next;

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); exit(1); }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *data = malloc(n ? n : 1);
    if (fread(data, 1, n, f) != (size_t)n) { perror(path); exit(1); }
    fclose(f);
    *len = n;
    return data;
}

static void write_one(const struct item *it, long id) {
    char dir[4096], tmp[4200];
    strcpy(dir, it->path);
    char *slash = strrchr(dir, '/');
    if (slash) { *slash = 0; if (mkdir(dir, 0755) != 0 && errno != EEXIST) { perror(dir); exit(1); } }
    snprintf(tmp, sizeof tmp, "%s.%ld", it->path, id);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) { perror(tmp); exit(1); }
    if (write(fd, it->data, it->len) != (ssize_t)it->len) { perror(tmp); exit(1); }
    close(fd);
    if (rename(tmp, it->path) != 0) { perror(it->path); exit(1); }
}

static void write_unnamed(const struct item *it) {
    char dir[4096], proc[64];
    strcpy(dir, it->path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0; else strcpy(dir, ".");
    int fd = open(dir, O_WRONLY | O_TMPFILE, 0644);
    if (fd < 0 && errno == ENOENT) {
        if (mkdir(dir, 0755) != 0 && errno != EEXIST) { perror(dir); exit(1); }
        fd = open(dir, O_WRONLY | O_TMPFILE, 0644);
    }
    if (fd < 0) { perror(dir); exit(1); }
    if (write(fd, it->data, it->len) != (ssize_t)it->len) { perror(dir); exit(1); }
    /* The descriptor's own route needs CAP_DAC_READ_SEARCH: learned once, as pycache does. */
    static atomic_int by_proc;
    if (atomic_load(&by_proc) || linkat(fd, "", AT_FDCWD, it->path, AT_EMPTY_PATH) != 0) {
        atomic_store(&by_proc, 1);
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
        if (linkat(AT_FDCWD, proc, AT_FDCWD, it->path, AT_SYMLINK_FOLLOW) != 0) { perror(it->path); exit(1); }
    }
    close(fd);
}

static int unnamed;

static void *worker(void *arg) {
    long id = (long)arg;
    for (;;) {
        size_t i = atomic_fetch_add(&next, 1);
        if (i >= count) return NULL;
        if (unnamed) write_unnamed(&items[i]); else write_one(&items[i], id);
    }
}

int main(int argc, char **argv) {
    unnamed = argc == 4 && strcmp(argv[3], "unnamed") == 0;
    if (argc != 3 && !unnamed) { fprintf(stderr, "usage: write_floor MANIFEST THREADS [unnamed]\n"); return 2; }
    int threads = atoi(argv[2]);
    FILE *m = fopen(argv[1], "r");
    if (!m) { perror(argv[1]); return 1; }
    size_t cap = 1024;
    items = malloc(cap * sizeof *items);
    char *line = NULL;
    size_t n = 0;
    while (getline(&line, &n, m) > 0) {
        char *tab = strchr(line, '\t');
        if (!tab) continue;
        *tab = 0;
        line[strcspn(line, "\0")] = 0;
        char *content = tab + 1;
        content[strcspn(content, "\n")] = 0;
        if (count == cap) items = realloc(items, (cap *= 2) * sizeof *items);
        items[count].path = strdup(line);
        items[count].data = slurp(content, &items[count].len);
        count++;
    }
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    pthread_t t[64];
    if (threads < 1) threads = 1;
    if (threads > 64) threads = 64;
    for (long i = 0; i < threads; i++) pthread_create(&t[i], NULL, worker, (void *)(getpid() * 100 + i));
    for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("%.6f\n", (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9);
    return 0;
}
