/*
 * `nvsforge stats`: how full is an NVS partition, as ESP-IDF counts it
 * (nvs_get_stats) after its start-up, with the pages by state and what each
 * namespace takes.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "image_input.h"
#include "value.h"

#define STATS_USAGE \
    "usage: nvsforge stats [-h] " IMAGE_INPUT_USAGE "\n" \
    "                      image\n"

static const char stats_usage[] = STATS_USAGE;

static const char stats_help[] =
    STATS_USAGE
    "\n"
    "How full an NVS partition is, after ESP-IDF's start-up: its pages by\n"
    "state; entries used, erased and free; ESP-IDF's own counts\n"
    "(nvs_get_stats: used, free, available, total, namespaces); per namespace\n"
    "its items, entries and value bytes; and how many more entries fit.\n"
    "\n"
    "positional arguments:\n"
    IMAGE_INPUT_HELP
    "\n"
    "options:\n"
    "  -h, --help           show this help message and exit\n"
    "\n"
    "ESP-IDF keeps one page's worth of entries (126) for garbage collection:\n"
    "what fits is the free entries less those (\"available\"). A string or\n"
    "blob takes one entry more than its bytes / 32, rounded up; a blob of\n"
    "more than one page adds an index entry and one header per page.\n"
    "Exit status: 0, 1 unreadable input, 2 usage.\n";

/* The bytes of a value as ESP-IDF stores them. */
static size_t value_bytes(const nvsf_item *it)
{
    unsigned w = nvsf_value_type_width(it->type);
    return w ? w : it->len;
}

static void namespace_line(const nvsf_image *img, unsigned index,
                           const char *name)
{
    size_t items = 0, entries = 0, bytes = 0;
    for (size_t k = 0; k < img->item_count; k++)
        if (img->items[k].ns_index == index) {
            items++;
            bytes += value_bytes(&img->items[k]);
        }
    for (size_t k = 0; k < img->entry_count; k++)
        if (img->entries[k].ns_index == index)
            entries += img->entries[k].span ? img->entries[k].span : 1;
    printf("  %-16s %5u %7zu %8zu %10zu\n", name, index, items, entries, bytes);
}

int cmd_stats(const char *prog, int argc, char **argv)
{
    image_input in = {0};
    const char *pos[1], *required[] = {"image"};
    nvsf_image *img = NULL;
    int rc = image_command_start(prog, argc, argv, &in, NULL, 0, pos, 1,
                                 required, stats_usage, stats_help, &img);
    if (rc)
        return rc < 0 ? EXIT_OK : rc;

    unsigned active = 0, full = 0, freeing = 0, empty = 0, corrupt = 0;
    unsigned long written = 0, erased = 0, free_e = 0;
    for (uint32_t p = 0; p < img->page_count; p++) {
        const nvsf_page_info *pi = &img->pages[p];
        if (!pi->readable) {
            pi->state == 0xFFFFFFFFu ? empty++ : corrupt++;
            free_e += NVSF_ENTRIES_PER_PAGE;
            continue;
        }
        active += pi->state == 0xFFFFFFFEu;
        full += pi->state == 0xFFFFFFFCu;
        freeing += pi->state == 0xFFFFFFF8u;
        written += pi->written;
        erased += pi->erased;
        free_e += pi->empty + pi->illegal;
    }
    /* PageManager::fillStats: a page's erased entries count as free */
    unsigned long total = (unsigned long)img->page_count * NVSF_ENTRIES_PER_PAGE;
    unsigned long idf_free = total - written;
    unsigned long available = idf_free >= NVSF_ENTRIES_PER_PAGE
                                  ? idf_free - NVSF_ENTRIES_PER_PAGE
                                  : 0;
    size_t ns_entries = 0;
    for (size_t k = 0; k < img->entry_count; k++)
        ns_entries += img->entries[k].ns_index == 0 &&
                      img->entries[k].type == NVSF_TYPE_U8;

    printf("%s: %u pages of %u entries, %s", in.path, img->page_count,
           NVSF_ENTRIES_PER_PAGE, nvsf_severity_name(img->severity));
    if (img->severity != NVSF_SOUND)
        printf(" (nvsforge check lists why; counted after ESP-IDF's start-up)");
    printf("\npages: %u active, %u full, %u freeing, %u empty, %u corrupt\n",
           active, full, freeing, empty, corrupt);
    printf("entries: %lu used, %lu erased, %lu free (never written)\n",
           written, erased, free_e);
    printf("nvs_get_stats: used_entries %lu, free_entries %lu, "
           "available_entries %lu, total_entries %lu, namespace_count %zu\n",
           written, idf_free, available, total, ns_entries);
    printf("room: %lu more entries (one page of %u is kept for garbage "
           "collection), about %lu bytes of strings and blobs\n",
           available, NVSF_ENTRIES_PER_PAGE,
           available > 1 ? (available - 1) * 32 : 0);
    printf("\n  %-16s %5s %7s %8s %10s\n", "namespace", "index", "items",
           "entries", "bytes");
    for (size_t n = 0; n < img->namespace_count; n++)
        namespace_line(img, img->namespaces[n].index, img->namespaces[n].name);
    return image_command_end(prog, img, EXIT_OK);
}
