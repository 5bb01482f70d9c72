/* Command-line plumbing shared by the subcommands: argparse-compatible
 * option parsing and messages. */
#ifndef NVSF_CLI_H
#define NVSF_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "error.h" /* NVSF_PRINTF */
#include "nvsforge/nvsforge.h"

/* Exit codes. */
enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_INTERRUPTED = 130 };

typedef struct cli_opt {
    const char *name;    /* "--outdir" */
    int nargs;           /* 0: flag, 1 or 2: that many values follow */
    int *flag;           /* nargs 0: set to 1 */
    const char **values; /* nargs 1 or 2: values[0], values[1] */
} cli_opt;

/*
 * Parse argv[1..] as Python's argparse does for these tools: options anywhere
 * among the positionals, "--opt=value", unambiguous prefixes of long names,
 * "--" ending the options. Positionals go to pos[0..*npos). Returns 0, or
 * EXIT_USAGE after printing the error with `usage`. "-h"/"--help" print
 * `help` and return -1.
 */
int cli_parse(const char *prog, int argc, char **argv, const cli_opt *opts,
              size_t nopts, const char **pos, int max_pos, int *npos,
              const char *usage, const char *help);

/* "prog: error: message" on stderr. */
void cli_error(const char *prog, const char *fmt, ...)
    NVSF_PRINTF(2, 3);
void cli_warning(const char *prog, const char *fmt, ...)
    NVSF_PRINTF(2, 3);

/* Report a library error and return EXIT_FAIL. */
int cli_fail(const char *prog, const nvsf_error *err);

/* Report every problem of errs (the first NVSF_ERRORS_KEEP, then "and N
 * more"), or err when errs holds none; return EXIT_FAIL. */
int cli_fail_all(const char *prog, const nvsf_errors *errs,
                 const nvsf_error *err);

/* A subcommand: argv[0] is its own name; returns the exit code. */
typedef int cli_command_fn(const char *prog, int argc, char **argv);
typedef struct cli_command {
    const char *name; /* "generate" */
    cli_command_fn *run;
} cli_command;

/*
 * Run the subcommand argv[1] names, as "prog name", with argv[1..]. No
 * subcommand prints `help` on stderr (EXIT_USAGE); -h or --help prints it
 * on stdout (EXIT_OK); an unknown one prints `usage` and argparse's
 * "invalid choice" message (EXIT_USAGE).
 */
int cli_dispatch(const char *prog, int argc, char **argv,
                 const cli_command *cmds, size_t ncmds, const char *usage,
                 const char *help);

/* A command's usage and help, under the name it runs as. */
typedef struct cli_text {
    char usage[1024];
    char help[8192];
} cli_text;

/*
 * Retitle texts written for the reference tool's name `ref` ("mfg_gen
 * generate") for the name the command runs as (`prog`, "nvsforge mfg
 * generate"): every `ref` becomes `prog`, and the usage lines after the
 * first are indented to match, as argparse aligns them.
 */
void cli_retitle(cli_text *out, const char *usage, const char *help,
                 const char *ref, const char *prog);

/* --dry-run: the files a command would write, listed on stdout as
 * "<bytes>  <path>", then a line with their count and total. */
typedef struct cli_plan {
    size_t files;
    unsigned long long bytes;
} cli_plan;
void cli_plan_file(cli_plan *p, const char *path, unsigned long long bytes);
void cli_plan_end(const cli_plan *p, const char *extra);

/* True when the file name's extension is exactly ".bin". */
int cli_has_bin_ext(const char *path);

/* The --version argument, 1 or 2, read as the reference's argparse reads
 * it (Python's int(): blanks around, a sign, leading zeros and single
 * underscores between digits allowed); 0 when it is neither. */
int cli_format_version(const char *text);

#endif
