/*
 * The I/O floor of a batch: the time to write the files a run made, from
 * memory, under the same names, with nothing else to do. It loads every file
 * under SRC, then times creating them under DST (folders made as needed),
 * ending with one syncfs as nvsforge does, so both pay for durable data.
 *
 *   bench_io_floor SRC DST
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct file {
    char *rel;
    char *data;
    size_t len;
};

static struct file *files;
static size_t nfiles, cap;
static size_t src_len;

static int load(const char *path, const struct stat *st, int type, struct FTW *f)
{
    (void)f;
    if (type != FTW_F)
        return 0;
    if (nfiles == cap) {
        cap = cap ? cap * 2 : 1024;
        files = realloc(files, cap * sizeof *files);
    }
    struct file *x = &files[nfiles++];
    x->rel = strdup(path + src_len);
    x->len = (size_t)st->st_size;
    x->data = malloc(x->len + 1);
    int fd = open(path, O_RDONLY);
    if (fd < 0 || read(fd, x->data, x->len) != (ssize_t)x->len)
        return -1;
    close(fd);
    return 0;
}

static void mkdirs_for(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(path, 0777);
            *p = '/';
        }
    }
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: bench_io_floor SRC DST\n");
        return 2;
    }
    src_len = strlen(argv[1]);
    if (nftw(argv[1], load, 32, FTW_PHYS) != 0) {
        perror("bench_io_floor: load");
        return 1;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char path[4096];
    for (size_t i = 0; i < nfiles; i++) {
        snprintf(path, sizeof path, "%s%s", argv[2], files[i].rel);
        mkdirs_for(path);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
        if (fd < 0 || write(fd, files[i].data, files[i].len) != (ssize_t)files[i].len) {
            perror(path);
            return 1;
        }
        close(fd);
    }
    int dfd = open(argv[2], O_RDONLY | O_DIRECTORY);
    syncfs(dfd);
    close(dfd);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("%.3f %zu\n",
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
           nfiles);
    return 0;
}
