/*
 * `nvsforge check`: is an image sound? One line per problem, with its page
 * and entry, from the library's reader (lib/reader.c), which walks the
 * image as ESP-IDF's NVS library reads it.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

#define CHECK_USAGE \
    "usage: nvsforge check [-h] [--inputkey KEYFILE | --hmac-key HMACFILE]\n" \
    "                      image\n"

static const char check_usage[] = CHECK_USAGE;

static const char check_help[] =
    CHECK_USAGE
    "\n"
    "Check that an NVS partition image is sound: that ESP-IDF's NVS library\n"
    "reads every item in it as it was written.\n"
    "\n"
    "positional arguments:\n"
    "  image                the NVS partition image\n"
    "\n"
    "options:\n"
    "  -h, --help           show this help message and exit\n"
    "  --inputkey KEYFILE   decrypt with the XTS key in this key partition\n"
    "                       file (.bin) first\n"
    "  --hmac-key HMACFILE  decrypt with the key derived from this 32-byte\n"
    "                       HMAC key first\n"
    "\n"
    "Each problem is one line on standard output, \"IMAGE: page P entry E:\n"
    "what\": page header and entry CRCs, string and blob data CRCs, unknown\n"
    "page states, spans running past a page, entry states against what the\n"
    "entries hold, blob indexes against their chunks, namespaces never\n"
    "declared, duplicate keys, bytes that are not 0xFF where the flash must\n"
    "be erased, a size that is not whole pages, a key that does not decrypt\n"
    "the image. Exit status: 0 sound, 1 problems found or unreadable input,\n"
    "2 usage.\n";

/* Defined in cmd_dump.c: read the key, the image, and parse it. */
int dump_load(const char *path, const char *inputkey, const char *hmac_path,
              nvsf_image **img, nvsf_error *err);

int cmd_check(const char *prog, int argc, char **argv)
{
    const char *inputkey = NULL, *hmac = NULL;
    cli_opt opts[] = {
        {"--inputkey", 1, NULL, &inputkey},
        {"--hmac-key", 1, NULL, &hmac},
    };
    const char *pos[1];
    int npos, rc = cli_parse(prog, argc, argv, opts, sizeof opts / sizeof opts[0],
                             pos, 1, &npos, check_usage, check_help);
    if (rc)
        return rc < 0 ? EXIT_OK : rc;
    if (npos < 1 || (inputkey && hmac)) {
        fputs(check_usage, stderr);
        cli_error(prog, "%s",
                  npos < 1 ? "the following arguments are required: image"
                           : "argument --hmac-key: not allowed with argument "
                             "--inputkey");
        return EXIT_USAGE;
    }
    nvsf_error err = {0};
    nvsf_image *img = NULL;
    if (dump_load(pos[0], inputkey, hmac, &img, &err))
        return cli_fail(prog, &err);
    for (size_t k = 0; k < img->problem_count; k++) {
        const nvsf_problem *pr = &img->problems[k];
        printf("%s: ", pos[0]);
        if (pr->page >= 0)
            printf("page %ld: ", pr->page);
        if (pr->page >= 0 && pr->entry >= 0)
            printf("entry %d: ", pr->entry);
        printf("%s\n", pr->message);
    }
    if (img->problem_count)
        fprintf(stderr, "%s: %s: %zu problem%s\n", prog, pos[0],
                img->problem_count, img->problem_count == 1 ? "" : "s");
    else
        printf("%s: sound: %u page%s (%u in use), %zu namespace%s, %zu item%s\n",
               pos[0], img->page_count, img->page_count == 1 ? "" : "s",
               img->page_order_count, img->namespace_count,
               img->namespace_count == 1 ? "" : "s", img->item_count,
               img->item_count == 1 ? "" : "s");
    rc = img->problem_count ? EXIT_FAIL : EXIT_OK;
    nvsf_image_free(img);
    if (fflush(stdout) || ferror(stdout)) {
        cli_error(prog, "cannot write to standard output");
        return EXIT_FAIL;
    }
    return rc;
}
