/*
 * The I/O floor of one generate(args) or encrypt(args) call, as
 * bench/python.sh makes them: the file-system work no implementation can
 * skip. For each device CSV it reads the CSV and every file its `file` rows
 * name, then writes the image (and with --key a 4096-byte key file) with
 * plain open/write/close: no temporary name, no sync, no image to build.
 * Prints the seconds per call.
 *
 *   bench_call_floor [--key] SIZE OUTDIR CSV...
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Read a whole file as a reader must: open, size, read, close. */
static char *read_all(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        perror(path);
        exit(1);
    }
    char *buf = malloc((size_t)st.st_size + 1);
    ssize_t n = buf ? read(fd, buf, (size_t)st.st_size + 1) : -1;
    close(fd);
    if (n != st.st_size) {
        fprintf(stderr, "%s: short read\n", path);
        exit(1);
    }
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

static void write_all(const char *path, const char *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0 || write(fd, data, len) != (ssize_t)len || close(fd) != 0) {
        perror(path);
        exit(1);
    }
}

/* Read the files a device CSV's `key,file,encoding,path` rows name (the
 * bench's CSVs have no quoting). */
static void read_referenced(char *csv)
{
    for (char *line = strtok(csv, "\n"); line; line = strtok(NULL, "\n")) {
        char *type = strchr(line, ',');
        if (!type || strncmp(type + 1, "file,", 5) != 0)
            continue;
        char *path = strchr(type + 6, ',');
        size_t len;
        if (path)
            free(read_all(path + 1, &len));
    }
}

int main(int argc, char **argv)
{
    int key = argc > 1 && strcmp(argv[1], "--key") == 0;
    if (argc < 4 + key) {
        fprintf(stderr, "usage: bench_call_floor [--key] SIZE OUTDIR CSV...\n");
        return 2;
    }
    size_t size = strtoul(argv[1 + key], NULL, 0);
    const char *outdir = argv[2 + key];
    char **csvs = argv + 3 + key;
    int count = argc - 3 - key;
    char *image = malloc(size), keyfile[4096], path[4096];
    memset(image, 0xff, size);
    memset(keyfile, 0xff, sizeof keyfile);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < count; i++) {
        size_t len;
        char *csv = read_all(csvs[i], &len);
        read_referenced(csv);
        free(csv);
        snprintf(path, sizeof path, "%s/dev-%d.bin", outdir, i);
        write_all(path, image, size);
        if (key) {
            snprintf(path, sizeof path, "%s/keys-dev-%d.bin", outdir, i);
            write_all(path, keyfile, sizeof keyfile);
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("%.9f\n", ((t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9) / count);
    free(image);
    return 0;
}
