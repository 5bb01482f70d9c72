/*
 * One executable, three names: `nvsforge` (subcommands), and the drop-ins
 * `nvs_partition_gen` and `mfg_gen`, chosen by the name it is started as.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "files.h"
#include "platform.h"
#ifdef _WIN32
#include "platform_win.h"
#endif

#define NVSFORGE_USAGE "usage: nvsforge <command> [options]\n"

static const char nvsforge_usage[] = NVSFORGE_USAGE;

static const char nvsforge_help[] =
    NVSFORGE_USAGE
    "\n"
    "Build ESP-IDF NVS partition images and per-device factory data.\n"
    "\n"
    "commands:\n"
    "  partition   generate, encrypt or decrypt one image, make keys\n"
    "              (the same command line as nvs_partition_gen)\n"
    "  mfg         per-device factory images from a config and a values CSV\n"
    "              (the same command line as mfg_gen)\n"
    "  dump        show what an image holds: text, JSON, or a partition CSV\n"
    "              that generates the same image again (encrypted ones too)\n"
    "  check       what an image means for a device: sound, repairable,\n"
    "              damaged or unusable; one line per problem\n"
    "  get         one value, for shell scripts\n"
    "  stats       how full an image is\n"
    "  set         set keys in an image as the device would\n"
    "  erase       erase keys or namespaces from an image as the device would\n"
    "  apply       apply a partition CSV of changes to an image\n"
    "  inspect     the raw pages and entries (the same command line and\n"
    "              JSON as ESP-IDF's nvs_tool.py)\n"
    "\n"
    "Run nvsforge <command> -h for the options of a command.\n"
    "nvsforge --version prints the version.\n";

/* The name a path ends with, or with Windows' ".exe" (any case, as Windows
 * spells it). No ".py" names: scripts that run the Python tools get the
 * Python package, `python -m esp_idf_nvs_partition_gen`. */
static int invoked_as(const char *argv0, const char *name)
{
    const char *base = fs_last_sep(argv0);
    base = base ? base + 1 : argv0;
    size_t n = strlen(name);
    if (strncmp(base, name, n) != 0)
        return 0;
    const char *ext = base + n;
    if (!ext[0])
        return 1;
    static const char exe[] = ".exe";
    for (size_t i = 0; i < sizeof exe; i++)
        if ((ext[i] | (ext[i] >= 'A' && ext[i] <= 'Z' ? 0x20 : 0)) != exe[i])
            return 0;
    return 1;
}

static int nvsforge_main(int argc, char **argv)
{
    plat_interrupt_install();
    const char *argv0 = argc > 0 ? argv[0] : "nvsforge";
    if (invoked_as(argv0, "nvs_partition_gen"))
        return cmd_partition("nvs_partition_gen", argc, argv);
    if (invoked_as(argv0, "nvs_tool"))
        return cmd_nvs_tool("nvs_tool", argc, argv);
    if (invoked_as(argv0, "mfg_gen"))
        return cmd_mfg("mfg_gen", argc, argv);

    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("nvsforge %s\n", NVSF_VERSION_STRING);
        return EXIT_OK;
    }
    static const cli_command cmds[] = {
        {"partition", cmd_partition},
        {"mfg", cmd_mfg},
        {"dump", cmd_dump},
        {"check", cmd_check},
        {"get", cmd_get},
        {"stats", cmd_stats},
        {"set", cmd_set},
        {"erase", cmd_erase},
        {"apply", cmd_apply},
        {"inspect", cmd_nvs_tool},
    };
    return cli_dispatch("nvsforge", argc, argv, cmds, sizeof cmds / sizeof cmds[0],
                        nvsforge_usage, nvsforge_help);
}

#ifdef _WIN32
/* Windows passes the command line as UTF-16: take it that way (wmain; the
 * ANSI argv of main would lose every character outside the code page) and
 * hand UTF-8 to the rest, which is what the platform layer's file calls
 * take. Messages go out as UTF-8 too. */
int wmain(int argc, wchar_t **wargv)
{
    char **argv = calloc((size_t)argc + 1, sizeof *argv);
    for (int i = 0; argv && i < argc; i++) {
        if (!(argv[i] = plat_win_utf8(wargv[i]))) {
            fputs("nvsforge: cannot read the command line\n", stderr);
            return EXIT_USAGE;
        }
    }
    if (!argv) {
        fputs("nvsforge: out of memory\n", stderr);
        return EXIT_FAIL;
    }
    plat_win_console_utf8();
    return nvsforge_main(argc, argv); /* argv lives as long as the process */
}
#else
int main(int argc, char **argv)
{
    return nvsforge_main(argc, argv);
}
#endif
