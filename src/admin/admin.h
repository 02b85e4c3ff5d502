/*
 * picogram admin: an operator's commands, run on the same databases as a
 * server, stopped or running (see admin.c).
 */
#ifndef PICOGRAM_ADMIN_H
#define PICOGRAM_ADMIN_H

#include <stdio.h>

#include "config.h"

/* Exit codes, the same for every subcommand (scripts test them). */
enum {
    ADMIN_OK = 0,
    ADMIN_FAILED = 1,  /* a database, the feed store ... failed; nothing or part was done (each step is safe to redo) */
    ADMIN_USAGE = 2,   /* a bad command line or setting: nothing was done */
    ADMIN_NO_USER = 3, /* no such user: nothing was done */
    ADMIN_TAKEN = 4,   /* create-user, import: the name is taken */
    ADMIN_BAD_FILE = 5, /* import: not a picogram archive, damaged, or an item that does not pass: nothing was made */
};

/* Builds a config for "admin SUB" from settings flags (main.c's): 0, 1 if
 * it printed help, or ADMIN_USAGE after printing an error. */
typedef int (*admin_config_fn)(config_t *c, const char *cmd, int argc, char **argv);

/* picogram admin SUB ...: argv[0] is SUB. Returns the exit code. */
int admin_main(int argc, char **argv, admin_config_fn build);
/* "picogram: " and the message on stderr, a line; returns rc (the commands' exit codes). */
int admin_say(int rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The subcommands, one per line, for `picogram admin --help` and the man page. */
void admin_list(FILE *out, void (*line)(FILE *out, const char *name, const char *args, const char *help));

#endif
