/* The subcommands; each takes argv with argv[0] = its own name and returns
 * the process exit code. */
#ifndef NVSF_COMMANDS_H
#define NVSF_COMMANDS_H

int cmd_partition(const char *prog, int argc, char **argv);    /* cmd_partition.c */
int cmd_generate_key(const char *prog, int argc, char **argv); /* cmd_partition.c */
int cmd_mfg(const char *prog, int argc, char **argv);          /* cmd_mfg.c */
int cmd_dump(const char *prog, int argc, char **argv);         /* cmd_dump.c */
int cmd_check(const char *prog, int argc, char **argv);        /* cmd_check.c */
int cmd_get(const char *prog, int argc, char **argv);          /* cmd_get.c */
int cmd_stats(const char *prog, int argc, char **argv);        /* cmd_stats.c */
int cmd_set(const char *prog, int argc, char **argv);          /* cmd_set.c */
int cmd_erase(const char *prog, int argc, char **argv);        /* cmd_set.c */
int cmd_apply(const char *prog, int argc, char **argv);        /* cmd_set.c */
int cmd_nvs_tool(const char *prog, int argc, char **argv);     /* cmd_nvs_tool.c */

#endif
