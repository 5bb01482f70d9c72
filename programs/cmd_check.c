/*
 * `nvsforge check`: what an image means for the device that holds it. The
 * library's device model (lib/reader.c, lib/startup.c) opens the image as
 * ESP-IDF's start-up does; every problem is one line with its page and
 * entry, and the image as a whole is sound, repairable, damaged or
 * unusable (the exit status says which).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "image_input.h"

/* Exit codes of `check` beyond EXIT_OK, EXIT_FAIL and EXIT_USAGE. */
enum { EXIT_REPAIRABLE = 3, EXIT_DAMAGED = 4, EXIT_UNUSABLE = 5 };

#define CHECK_USAGE \
    "usage: nvsforge check [-h] " IMAGE_INPUT_USAGE "\n" \
    "                      image\n"

static const char check_usage[] = CHECK_USAGE;

static const char check_help[] =
    CHECK_USAGE
    "\n"
    "Check what an NVS partition means for the device that holds it: open it\n"
    "as ESP-IDF's NVS library does at start-up, and say what that start-up\n"
    "repairs and what is wrong beyond it.\n"
    "\n"
    "positional arguments:\n"
    IMAGE_INPUT_HELP
    "\n"
    "options:\n"
    "  -h, --help           show this help message and exit\n"
    "\n"
    "Each problem is one line on standard output, \"IMAGE: page P: entry E:\n"
    "KIND: what\", then one line sums the image up as one of:\n"
    "  sound       nothing to repair (exit status 0)\n"
    "  repairable  the leftovers of an interrupted write (a power cut):\n"
    "              ESP-IDF's next start-up cleans them up; each line says\n"
    "              what data, if any, that loses (exit status 3)\n"
    "  damaged     bits that no interrupted write explains, such as a flipped\n"
    "              bit under a CRC: what ESP-IDF drops, or bytes it ignores\n"
    "              that should not be there (exit status 4)\n"
    "  unusable    ESP-IDF cannot open the partition, and why (exit status 5)\n"
    "Exit status 1: the input cannot be read (a missing file, a key that does\n"
    "not fit the image); 2: usage.\n";

int cmd_check(const char *prog, int argc, char **argv)
{
    image_input in = {0};
    const char *pos[1], *required[] = {"image"};
    nvsf_image *img = NULL;
    int rc = image_command_start(prog, argc, argv, &in, NULL, 0, pos, 1,
                                 required, check_usage, check_help, &img);
    if (rc)
        return rc < 0 ? EXIT_OK : rc;
    for (size_t k = 0; k < img->problem_count; k++) {
        const nvsf_problem *pr = &img->problems[k];
        printf("%s: ", in.path);
        if (pr->page >= 0)
            printf("page %ld: ", pr->page);
        if (pr->page >= 0 && pr->entry >= 0)
            printf("entry %d: ", pr->entry);
        printf("%s: %s\n", nvsf_severity_name(pr->severity), pr->message);
    }
    size_t n = img->problem_count;
    const char *s = n == 1 ? "" : "s";
    printf("%s: %s: ", in.path, nvsf_severity_name(img->severity));
    switch (img->severity) {
    case NVSF_SOUND:
        break;
    case NVSF_REPAIRABLE:
        printf("%zu problem%s, the leftovers of an interrupted write; ESP-IDF "
               "opens it and its start-up cleans them up; then ", n, s);
        break;
    case NVSF_DAMAGED:
        printf("%zu problem%s, some that no interrupted write explains; "
               "ESP-IDF opens it; then ", n, s);
        break;
    case NVSF_UNUSABLE:
        printf("ESP-IDF cannot open it (%zu problem%s)\n", n, s);
        break;
    }
    if (img->severity != NVSF_UNUSABLE)
        printf("%u page%s (%u in use), %zu namespace%s, %zu item%s\n",
               img->page_count, img->page_count == 1 ? "" : "s",
               img->page_order_count, img->namespace_count,
               img->namespace_count == 1 ? "" : "s", img->item_count,
               img->item_count == 1 ? "" : "s");
    static const int codes[] = {EXIT_OK, EXIT_REPAIRABLE, EXIT_DAMAGED,
                                EXIT_UNUSABLE};
    return image_command_end(prog, img, codes[img->severity]);
}
