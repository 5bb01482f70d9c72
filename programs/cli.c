#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "files.h"
#include "value.h"

static void cli_report(const char *prog, const char *level, const char *fmt,
                       va_list ap) NVSF_PRINTF(3, 0);

static void cli_report(const char *prog, const char *level, const char *fmt,
                       va_list ap)
{
    fprintf(stderr, "%s: %s: ", prog, level);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void cli_error(const char *prog, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cli_report(prog, "error", fmt, ap);
    va_end(ap);
}

void cli_warning(const char *prog, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cli_report(prog, "warning", fmt, ap);
    va_end(ap);
}

int cli_dispatch(const char *prog, int argc, char **argv,
                 const cli_command *cmds, size_t ncmds, const char *usage,
                 const char *help)
{
    if (argc < 2) {
        fputs(help, stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0) {
        fputs(help, stdout);
        return EXIT_OK;
    }
    for (size_t i = 0; i < ncmds; i++) {
        if (strcmp(name, cmds[i].name) == 0) {
            char sub[128];
            snprintf(sub, sizeof sub, "%s %s", prog, name);
            return cmds[i].run(sub, argc - 1, argv + 1);
        }
    }
    /* argparse's words: "(choose from 'a', 'b')". */
    char choices[256] = "";
    size_t used = 0;
    for (size_t i = 0; i < ncmds && used < sizeof choices; i++)
        used += (size_t)snprintf(choices + used, sizeof choices - used, "%s'%s'",
                                 i ? ", " : "", cmds[i].name);
    fputs(usage, stderr);
    cli_error(prog, "argument command: invalid choice: '%s' (choose from %s)",
              name, choices);
    return EXIT_USAGE;
}

int cli_fail(const char *prog, const nvsf_error *err)
{
    cli_error(prog, "%s", err->message);
    return EXIT_FAIL;
}

int cli_fail_all(const char *prog, const nvsf_errors *errs,
                 const nvsf_error *err)
{
    if (!errs || errs->count == 0)
        return cli_fail(prog, err);
    size_t kept = errs->count < NVSF_ERRORS_KEEP ? errs->count : NVSF_ERRORS_KEEP;
    for (size_t i = 0; i < kept; i++)
        cli_error(prog, "%s", errs->messages[i]);
    if (errs->count > kept)
        cli_error(prog, "and %zu more", errs->count - kept);
    return EXIT_FAIL;
}

void cli_plan_file(cli_plan *p, const char *path, unsigned long long bytes)
{
    printf("%12llu  %s\n", bytes, path);
    p->files++;
    p->bytes += bytes;
}

void cli_plan_end(const cli_plan *p, const char *extra)
{
    printf("dry run: %zu file%s, %llu bytes in all%s; nothing was written\n",
           p->files, p->files == 1 ? "" : "s", p->bytes, extra);
}

int cli_has_bin_ext(const char *path)
{
    const char *slash = fs_last_sep(path);
    const char *base = slash ? slash + 1 : path;
    const char *dot = strrchr(base, '.');
    return dot && dot != base && strcmp(dot, ".bin") == 0;
}

int cli_format_version(const char *text)
{
    /* nvsf_parse_int reads integers as Python's int() does. */
    uint64_t v = 0;
    if (nvsf_parse_int(text, strlen(text), NVSF_TYPE_U8, &v, NULL) ||
        (v != 1 && v != 2))
        return 0;
    return (int)v;
}

static int usage_error(const char *prog, const char *usage, const char *what,
                       const char *arg)
{
    fprintf(stderr, "%s", usage);
    cli_error(prog, "%s%s", what, arg ? arg : "");
    return EXIT_USAGE;
}

/* The option `name` (a prefix is enough when it is unambiguous). */
static const cli_opt *find_opt(const cli_opt *opts, size_t nopts,
                               const char *name, size_t len, int *ambiguous)
{
    const cli_opt *found = NULL;
    *ambiguous = 0;
    for (size_t i = 0; i < nopts; i++) {
        if (strlen(opts[i].name) == len && strncmp(opts[i].name, name, len) == 0)
            return &opts[i];
        if (strncmp(opts[i].name, name, len) == 0) {
            if (found)
                *ambiguous = 1;
            found = &opts[i];
        }
    }
    return *ambiguous ? NULL : found;
}

int cli_parse(const char *prog, int argc, char **argv, const cli_opt *opts,
              size_t nopts, const char **pos, int max_pos, int *npos,
              const char *usage, const char *help)
{
    int only_positionals = 0;
    *npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!only_positionals && strcmp(a, "--") == 0) {
            only_positionals = 1;
            continue;
        }
        if (!only_positionals && (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)) {
            fputs(help, stdout);
            return -1;
        }
        if (only_positionals || a[0] != '-' || a[1] == '\0' ||
            (a[1] >= '0' && a[1] <= '9')) {
            if (*npos >= max_pos)
                return usage_error(prog, usage, "unrecognized arguments: ", a);
            pos[(*npos)++] = a;
            continue;
        }
        const char *eq = a[1] == '-' ? strchr(a, '=') : NULL;
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        int ambiguous = 0;
        /* Long options by unambiguous prefix; short ones ("-o") exactly,
         * or with their value attached ("-fjson"), as argparse takes them. */
        const cli_opt *o = find_opt(opts, nopts, a, len, &ambiguous);
        if (o && a[1] != '-' && strlen(o->name) != len)
            o = NULL;
        for (size_t j = 0; a[1] != '-' && !o && a[2] && j < nopts; j++)
            if (opts[j].name[1] == a[1] && opts[j].name[2] == '\0' &&
                opts[j].nargs == 1) {
                o = &opts[j];
                eq = a + 1; /* eq + 1: the attached value */
            }
        if (!o)
            return usage_error(prog, usage,
                               ambiguous ? "ambiguous option: "
                                         : "unrecognized arguments: ",
                               a);
        if (o->nargs == 0) {
            if (eq)
                return usage_error(prog, usage,
                                   "this option takes no value: ", a);
            *o->flag = 1;
            continue;
        }
        int k = 0;
        if (eq) {
            if (o->nargs != 1)
                return usage_error(prog, usage, "expected 2 values: ", a);
            o->values[k++] = eq + 1;
        }
        for (; k < o->nargs; k++) {
            if (i + 1 >= argc || (argv[i + 1][0] == '-' && argv[i + 1][1] &&
                                  !(argv[i + 1][1] >= '0' && argv[i + 1][1] <= '9')))
                return usage_error(prog, usage,
                                   o->nargs == 1 ? "expected one value after "
                                                 : "expected two values after ",
                                   o->name);
            o->values[k] = argv[++i];
        }
    }
    return 0;
}

/* `text` with every `ref` replaced by `prog`; in its usage block (from
 * "usage:" to the first empty line) the continuation lines move by the
 * difference in length (our names are never shorter than the reference's).
 * Cut at the end of `out` (the texts fit). */
static void retitle_one(char *out, size_t cap, const char *text,
                        const char *ref, const char *prog)
{
    size_t rl = strlen(ref), pl = strlen(prog), used = 0;
    int in_usage = 0, line_start = 1;
    for (const char *t = text; *t && used + 1 < cap;) {
        if (line_start) {
            if (strncmp(t, "usage:", 6) == 0)
                in_usage = 1;
            else if (*t == '\n')
                in_usage = 0;
            else if (in_usage && *t == ' ' && pl > rl)
                for (size_t k = 0; k < pl - rl && used + 1 < cap; k++)
                    out[used++] = ' ';
        }
        if (strncmp(t, ref, rl) == 0) {
            size_t n = pl < cap - 1 - used ? pl : cap - 1 - used;
            memcpy(out + used, prog, n);
            used += n;
            t += rl;
            line_start = 0;
            continue;
        }
        line_start = *t == '\n';
        out[used++] = *t++;
    }
    out[used] = '\0';
}

void cli_retitle(cli_text *out, const char *usage, const char *help,
                 const char *ref, const char *prog)
{
    retitle_one(out->usage, sizeof out->usage, usage, ref, prog);
    retitle_one(out->help, sizeof out->help, help, ref, prog);
}
