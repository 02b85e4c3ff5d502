/*
 * picogram: command dispatch. Each command builds its config (defaults <
 * file < environment < flags) and hands over to its module.
 */
#include "config.h"
#include "core/memtune.h"
#include "admin/admin.h"
#include "admin/backup.h"
#include "admin/shardmove.h"
#include "api/handlers.h"
#include "core/buf.h"
#include "core/params.h"
#include "blob/blob.h"
#include "db/db.h"
#include "model/media.h"
#include "http/server.h"
#include "images/images.h"
#include "obs/log.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

extern char **environ;

#define EXIT_USAGE 2
#define PICOGRAM_VERSION "0.1.0"

static int fail_usage(const char *msg)
{
    fprintf(stderr, "picogram: %s\n", msg);
    return EXIT_USAGE;
}

/* The commands, for `picogram help` and the man page picogram(1) alike. */
static const struct command {
    const char *name, *args, *help;
} commands[] = {
    {"serve", "[SETTINGS]", "serve the API (embedded topology: SQLite and a photo folder in --data)"},
    {"worker", "[SETTINGS]", "run background jobs (fan-out, far-side writes, rankings) alone, no HTTP"},
    {"migrate", "[SETTINGS]", "bring every database's schema up to date, then exit"},
    {"shards",
     "[--json] [SETTINGS] | move LO[-HI] --to URL [--drop-source] [--catch-up-seconds N] | move --resume "
     "[--catch-up-seconds N] | move --abort",
     "print the shard map with live counts of users and photos, and the moves; or move logical shards to another "
     "PostgreSQL server while everything runs"},
    {"sweep", "[--older-than SECONDS] [SETTINGS]",
     "take out of the photo store what no photo uses, if older than SECONDS (default 3600: uploads in flight "
     "are younger)"},
    {"backup", "--out DEST [SETTINGS]",
     "copy the SQLite databases (at one moment, while the server runs), the photos of their rows and the server "
     "secret into the new directory DEST; on PostgreSQL, make and archive a restore point on every server, then "
     "copy the photos and the secret (the base backups and WAL archive are PostgreSQL's: scripts/cluster.sh "
     "backup)"},
    {"restore", "DEST --data NEWDIR | DEST [SETTINGS]",
     "put a backup made by 'picogram backup' into NEWDIR (new or empty), checked; or a cluster backup's photos into "
     "the cluster of SETTINGS, its PostgreSQL servers restored first"},
    {"admin", "COMMAND ...",
     "an operator's commands, on a stopped or running server: create-user, suspend, unsuspend, delete-user, "
     "rebuild-feeds, reindex, status, export, import ('picogram admin --help')"},
    {"manpage", "1|5", "write the man page picogram(1) or picogram.conf(5) to standard output"},
    {"version", "", "print the version"},
    {"help", "", "this text; 'picogram COMMAND --help' for a command's settings"},
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct command *find_command(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: picogram <command> [options]\n\nCommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].help);
}

static void man_admin_line(FILE *o, const char *name, const char *args, const char *help)
{
    fputs(".TP\n\\fBadmin ", o);
    config_roff(o, name);
    fputs("\\fR ", o);
    config_roff(o, args);
    fputc('\n', o);
    config_roff(o, help);
    fputc('\n', o);
}

/* picogram manpage 1|5: the man pages, made from the tables that --help
 * prints (commands above, settings in config.c), so they cannot drift. */
static int cmd_manpage(const char *section)
{
    FILE *o = stdout;
    if (strcmp(section, "1") == 0) {
        fputs(".TH PICOGRAM 1 \"\" \"picogram " PICOGRAM_VERSION "\" \"User Commands\"\n"
              ".SH NAME\npicogram \\- a photo-sharing social network server with Instagram's v1 API\n"
              ".SH SYNOPSIS\n.B picogram\n.I command\n[\\fB\\-\\-config\\fR \\fIFILE\\fR] "
              "[\\fB\\-\\-\\fR\\fIsetting\\fR \\fIVALUE\\fR ...]\n"
              ".SH DESCRIPTION\n"
              "One binary runs either topology: embedded (the default: one process, SQLite and a folder of "
              "photos in the data directory) or cluster (many servers sharing sharded PostgreSQL, Redis, "
              "memcached, gearmand and an S3\\-compatible photo store, chosen by URLs in the settings).\n"
              ".SH COMMANDS\n",
              o);
        for (size_t i = 0; i < NCOMMANDS; i++) {
            fputs(".TP\n\\fB", o);
            config_roff(o, commands[i].name);
            fputs("\\fR", o);
            if (*commands[i].args) {
                fputc(' ', o);
                config_roff(o, commands[i].args);
            }
            fputc('\n', o);
            config_roff(o, commands[i].help);
            fputc('\n', o);
        }
        fputs(".SH ADMIN COMMANDS\n\\fBpicogram admin\\fR \\fIcommand\\fR works on the databases of a stopped or "
              "running server. Exit codes: 0 done, 1 failed at run time, 2 bad usage, 3 no such user, 4 the name is "
              "taken.\n",
              o);
        admin_list(o, man_admin_line);
        fputs(".SH OPTIONS\n.TP\n\\fB\\-\\-config\\fR \\fIFILE\\fR\n"
              "Read settings from FILE (see \\fBpicogram.conf\\fR(5)).\n",
              o);
        config_man(o, true);
        fputs(".SH ENVIRONMENT\n.TP\n\\fBPICOGRAM_CONFIG\\fR\nThe config file, if \\fB\\-\\-config\\fR is not "
              "given.\n.TP\n\\fBPICOGRAM_\\fR\\fISETTING\\fR\nAny setting, by its name in capitals "
              "(PICOGRAM_DATA, PICOGRAM_DATABASE ...). Flags override the environment, which overrides the "
              "config file.\n"
              ".SH EXIT STATUS\n0 on success, 1 on a failure at run time (a database that cannot be reached, "
              "say), 2 for a command line or setting that is not valid.\n"
              ".SH SEE ALSO\n\\fBpicogram.conf\\fR(5)\n",
              o);
        return 0;
    }
    if (strcmp(section, "5") == 0) {
        fputs(".TH PICOGRAM.CONF 5 \"\" \"picogram " PICOGRAM_VERSION "\" \"File Formats\"\n"
              ".SH NAME\npicogram.conf \\- settings of the picogram server\n"
              ".SH DESCRIPTION\n"
              "The file named by \\fB\\-\\-config\\fR or PICOGRAM_CONFIG holds one \\fIkey\\fR = "
              "\\fIvalue\\fR per line; blank lines and lines starting with # are ignored. Every key may also "
              "be given as a flag (\\fB\\-\\-key\\fR, with \\- for _) or as an environment variable "
              "(PICOGRAM_KEY); flags override the environment, which overrides the file. Sizes take k, m and "
              "g suffixes.\n"
              ".SH SETTINGS\n",
              o);
        config_man(o, false);
        fputs(".SH SEE ALSO\n\\fBpicogram\\fR(1)\n", o);
        return 0;
    }
    return fail_usage("manpage takes 1 (picogram(1)) or 5 (picogram.conf(5))");
}

static void command_usage(FILE *out, const char *cmd)
{
    fprintf(out,
            "usage: picogram %s [--config FILE] [--listen HOST:PORT] [--data DIR] [--SETTING VALUE ...]\n"
            "\n"
            "  --config FILE          read settings from FILE ('key = value' lines; also PICOGRAM_CONFIG)\n",
            cmd);
    config_usage(out);
    fprintf(out, "\nPrecedence: flags, then PICOGRAM_* environment variables, then the config file.\n");
}

/* Builds the config (initialised by the caller) for a command from its arguments. Returns 0, 1 if help
 * was printed, or EXIT_USAGE after printing a one-line error. */
static int build_config(config_t *c, const char *cmd, int argc, char **argv)
{
    char err[512];
    const char *config_path = getenv("PICOGRAM_CONFIG");
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            command_usage(stdout, cmd);
            return 1;
        }
        if (strcmp(argv[i], "--config") == 0) {
            if (i + 1 >= argc)
                return fail_usage("--config needs a file");
            config_path = argv[++i];
        } else if (strncmp(argv[i], "--config=", 9) == 0) {
            config_path = argv[i] + 9;
        }
    }
    if (config_path && *config_path && config_load_file(c, config_path, err, sizeof(err)) != 0)
        return fail_usage(err);
    if (config_load_env(c, environ, err, sizeof(err)) != 0)
        return fail_usage(err);
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0) {
            snprintf(err, sizeof(err), "unexpected argument '%s' (see 'picogram %s --help')", a, cmd);
            return fail_usage(err);
        }
        char key[64];
        const char *eq = strchr(a, '='), *val;
        size_t kl = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        if (kl >= sizeof(key))
            kl = sizeof(key) - 1;
        memcpy(key, a + 2, kl);
        key[kl] = '\0';
        if (strcmp(key, "config") == 0) {
            i += eq ? 0 : 1;
            continue;
        }
        if (!config_has_key(key)) {
            snprintf(err, sizeof(err), "unknown option '--%s' (see 'picogram %s --help')", key, cmd);
            return fail_usage(err);
        }
        if (eq)
            val = eq + 1;
        else if (i + 1 < argc)
            val = argv[++i];
        else {
            snprintf(err, sizeof(err), "--%s needs a value", key);
            return fail_usage(err);
        }
        if (config_set(c, key, val, err, sizeof(err)) != 0)
            return fail_usage(err);
    }
    if (config_finish(c, err, sizeof(err)) != 0)
        return fail_usage(err);
    password_hash_cost(c->password_hash);
    return 0;
}

static int cmd_migrate(const config_t *c)
{
    char err[512];
    mkdir(c->data_dir, 0750);
    dbmap_t *map = dbmap_new(c->database, c->sqlite_sync, err, sizeof(err));
    if (map == NULL)
        return fail_usage(err);
    db_ctx_t *db = db_ctx_new(map);
    int rc = 0;
    for (size_t i = 0; i < dbmap_count(map); i++) {
        db_conn_t *conn = db_physical(db, i);
        int from = 0, to = 0;
        if (conn == NULL || db_migrate(conn, &from, &to, err, sizeof(err)) != 0) {
            fprintf(stderr, "picogram: %s: %s\n", dbmap_url(map, i), conn ? err : "cannot open");
            rc = 1;
            break;
        }
        printf("%s: schema version %d%s%d\n", dbmap_url(map, i), from, from == to ? " = " : " -> ", to);
        /* the first database migrated: the servers shards have moved to (only its map names them), next */
        if (i == 0 && dbmap_blocking(map) && dbmap_load(map, err, sizeof(err)) < 0) {
            fprintf(stderr, "picogram: %s\n", err);
            rc = 1;
            break;
        }
    }
    db_ctx_free(db);
    dbmap_free(map);
    return rc;
}

static int count_range(db_conn_t *c, unsigned q, unsigned lo, unsigned hi, long long *n)
{
    db_stmt_t *s = db_q(c, q);
    db_bind_i64(s, 1, lo);
    db_bind_i64(s, 2, hi);
    int rc = db_step(s);
    *n = rc == DB_ROW ? (long long)db_col_i64(s, 0) : -1;
    db_reset(s);
    return rc == DB_ROW ? 0 : -1;
}

/* picogram sweep [--older-than SECONDS]: the photo store's orphans (an
 * upload whose row never committed, a photo deleted just before a crash)
 * taken out; anything younger than the threshold is spared, since on a
 * shared store it may be an upload in flight on any server. */
static int cmd_sweep(const config_t *c, long long older_than)
{
    char err[512];
    blob_options_t bopt = {c->s3_access_key, c->s3_secret_key, c->s3_region};
    blob_store_t *store = blob_open(c->photo_store, &bopt, err, sizeof(err));
    if (store == NULL)
        return fail_usage(err);
    dbmap_t *map = dbmap_new(c->database, c->sqlite_sync, err, sizeof(err));
    if (map == NULL) {
        blob_close(store);
        return fail_usage(err);
    }
    int rc = 0;
    /* (where shards have moved: a photo is in use where the map puts its row; the servers only the
     * moved map names checked too) */
    int moved = 0;
    if (db_check_schemas(map, err, sizeof(err)) != 0 ||
        (dbmap_blocking(map) && (moved = dbmap_load(map, err, sizeof(err))) < 0) ||
        (moved > 0 && db_check_schemas(map, err, sizeof(err)) != 0)) {
        fprintf(stderr, "picogram: %s\n", err);
        rc = 1;
    } else {
        db_ctx_t *db = db_ctx_new(map);
        long n = store->be->sweep(store, older_than, media_file_in_use, db);
        db_ctx_free(db);
        if (n < 0) {
            fprintf(stderr, "picogram: the photo store could not be listed\n");
            rc = 1;
        } else {
            printf("swept %ld object(s) no photo uses, older than %lld s, from %s\n", n, older_than, c->photo_store);
        }
    }
    dbmap_free(map);
    blob_close(store);
    return rc;
}

/* picogram shards [--json]: the shard map, each range with its server and
 * the users and photos on it now. */
static int cmd_shards(const config_t *c, bool json)
{
    char err[512];
    dbmap_t *map = dbmap_new(c->database, c->sqlite_sync, err, sizeof(err));
    if (map == NULL)
        return fail_usage(err);
    if (db_check_schemas(map, err, sizeof(err)) != 0 ||
        (dbmap_blocking(map) && dbmap_load(map, err, sizeof(err)) < 0)) {
        fprintf(stderr, "picogram: %s\n", err);
        dbmap_free(map);
        return 1;
    }
    db_ctx_t *db = db_ctx_new(map);
    int rc = 0;
    unsigned lo, hi;
    size_t dbi;
    if (json)
        printf("{\"epoch\":%lld,\"ranges\":[", (long long)dbmap_epoch(map));
    else if (dbmap_epoch(map))
        printf("shard map of epoch %lld (shards have moved since the settings' map)\n", (long long)dbmap_epoch(map));
    for (size_t i = 0; dbmap_range(map, i, &lo, &hi, &dbi); i++) {
        char url[1024];
        db_url_redacted(dbmap_url(map, dbi), url, sizeof(url));
        db_conn_t *conn = db_physical(db, dbi);
        long long users = -1, media = -1;
        if (conn == NULL || count_range(conn, Q_SHARD_USERS, lo, hi, &users) != 0 ||
            count_range(conn, Q_SHARD_MEDIA, lo, hi, &media) != 0) {
            fprintf(stderr, "picogram: cannot count shards %u-%u on %s\n", lo, hi, url);
            rc = 1;
        }
        if (json) {
            buf_t b;
            buf_init(&b, 4096);
            buf_json_cstr(&b, url);
            printf("%s{\"range\":[%u,%u],\"server\":%.*s,\"users\":%lld,\"media\":%lld}", i ? "," : "", lo, hi,
                   (int)b.len, b.data, users, media);
            buf_free(&b);
        } else {
            printf("%5u-%-5u %-50s users %lld, media %lld\n", lo, hi, url, users, media);
        }
        db_ctx_release(db);
    }
    char *moves = dbmap_blocking(map) ? shards_moves_json(dbmap_url(map, 0)) : NULL;
    if (json)
        printf("],\"moves\":%s}\n", moves ? moves : "[]");
    else if (moves && strcmp(moves, "[]") != 0)
        printf("moves: %s\n", moves);
    free(moves);
    db_ctx_free(db);
    dbmap_free(map);
    return rc;
}

/* picogram shards move LO[-HI] --to URL [--drop-source] | --resume | --abort; [--catch-up-seconds N] [SETTINGS] */
static int cmd_shards_move(int argc, char **argv)
{
    const char *range = NULL, *to = NULL, *catch_up = NULL;
    bool drop = false, resume = false, abort_ = false;
    int nargs = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: picogram shards move LO[-HI] --to URL [--drop-source] [--catch-up-seconds N] [SETTINGS]\n"
                   "       picogram shards move --resume [--catch-up-seconds N] | --abort [SETTINGS]\n\n"
                   "Moves logical shards LO to HI (all on one server now) to the PostgreSQL server at URL while "
                   "everything runs: copied by logical replication, caught up, writes fenced for a moment, "
                   "compared, then the map switched (every server follows within a second). The source's copy "
                   "is kept in its schema picogram_moved_ID, or deleted with --drop-source. A move stopped at "
                   "any step is taken up by --resume, or undone by --abort (before its switch). Writes to the "
                   "range stay fenced at most --catch-up-seconds (default 60) while the target catches up; past "
                   "that, the fence is lifted and the move stops, to be resumed.\n");
            return 0;
        }
        if (strcmp(argv[i], "--to") == 0 && i + 1 < argc)
            to = argv[++i];
        else if (strcmp(argv[i], "--drop-source") == 0)
            drop = true;
        else if (strcmp(argv[i], "--catch-up-seconds") == 0 && i + 1 < argc)
            catch_up = argv[++i];
        else if (strcmp(argv[i], "--resume") == 0)
            resume = true;
        else if (strcmp(argv[i], "--abort") == 0)
            abort_ = true;
        else if (argv[i][0] != '-' && range == NULL)
            range = argv[i];
        else {
            argv[nargs++] = argv[i]; /* a setting: --key=value, or --key and its value */
            if (strncmp(argv[i], "--", 2) == 0 && strchr(argv[i], '=') == NULL && i + 1 < argc)
                argv[nargs++] = argv[++i];
        }
    }
    if ((resume || abort_) && (range || to || drop || (resume && abort_)))
        return fail_usage("--resume and --abort take no range, --to or --drop-source, and not both");
    if (!resume && !abort_ && (range == NULL || to == NULL))
        return fail_usage("usage: picogram shards move LO[-HI] --to URL [--drop-source], or --resume, or --abort");
    long long catch_up_s = SHARDS_CATCH_UP_S;
    if (catch_up != NULL && (abort_ || !params_int(catch_up, 1, 3600, &catch_up_s)))
        return fail_usage("--catch-up-seconds takes a whole number of seconds from 1 to 3600, with a move or "
                          "--resume");
    config_t cfg;
    config_init(&cfg);
    int rc = build_config(&cfg, "shards", nargs, argv);
    if (rc == 0)
        rc = resume   ? shards_move_resume(&cfg, (int)catch_up_s)
             : abort_ ? shards_move_abort(&cfg)
                      : shards_move(&cfg, range, to, drop, (int)catch_up_s);
    else if (rc == 1)
        rc = 0;
    config_free(&cfg);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("picogram " PICOGRAM_VERSION "\n");
        return 0;
    }
    if (strcmp(cmd, "manpage") == 0) {
        if (argc != 3)
            return fail_usage("usage: picogram manpage 1|5");
        return cmd_manpage(argv[2]);
    }
    if (find_command(cmd) == NULL) {
        fprintf(stderr, "picogram: unknown command '%s'\n", cmd);
        usage(stderr);
        return EXIT_USAGE;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "picogram: libsodium failed to initialise\n");
        return 1;
    }
    if (strcmp(cmd, "admin") == 0)
        return admin_main(argc - 2, argv + 2, build_config);
    if (strcmp(cmd, "restore") == 0) {
        if (argc == 3 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
            printf("usage: picogram restore DEST --data NEWDIR\n       picogram restore DEST [SETTINGS]   (a cluster "
                   "backup, into the cluster of SETTINGS)\n\n%s.\n",
                   find_command("restore")->help);
            return 0;
        }
        if (argc == 5 && strcmp(argv[3], "--data") == 0)
            return restore_run(argv[2], argv[4]);
        if (argc < 3 || argv[2][0] == '-')
            return fail_usage("usage: picogram restore DEST --data NEWDIR, or picogram restore DEST [SETTINGS]");
        config_t rcfg;
        config_init(&rcfg);
        int rc = build_config(&rcfg, cmd, argc - 3, argv + 3);
        rc = rc == 0 ? restore_cluster(argv[2], &rcfg) : rc == 1 ? 0 : rc;
        config_free(&rcfg);
        return rc;
    }
    if (strcmp(cmd, "shards") == 0 && argc >= 3 && strcmp(argv[2], "move") == 0)
        return cmd_shards_move(argc - 3, argv + 3);
    /* --json (shards) and --older-than (sweep) are the commands' own flags, not settings */
    bool json = false;
    long long older_than = 3600;
    const char *out = NULL;
    int nargs = 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(cmd, "shards") == 0 && strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (strcmp(cmd, "backup") == 0 && strcmp(argv[i], "--out") == 0) {
            if (i + 1 >= argc)
                return fail_usage("--out takes the directory to make");
            out = argv[++i];
        } else if (strcmp(cmd, "sweep") == 0 && strcmp(argv[i], "--older-than") == 0) {
            char *end = NULL;
            older_than = i + 1 < argc ? strtoll(argv[i + 1], &end, 10) : -1;
            if (end == NULL || *end != '\0' || end == argv[i + 1] || older_than < 0)
                return fail_usage("--older-than takes a number of seconds, 0 or more");
            i++;
        } else
            argv[2 + nargs++] = argv[i];
    }
    config_t cfg;
    config_init(&cfg);
    int rc = build_config(&cfg, cmd, nargs, argv + 2);
    if (rc == 0 && strcmp(cmd, "serve") == 0) {
        memtune_server();
        if (images_init(argv[0]) != 0) {
            fprintf(stderr, "picogram: libvips failed to initialise\n");
            rc = 1;
        } else {
            rc = server_run(&cfg);
            images_shutdown();
        }
    } else if (rc == 0 && strcmp(cmd, "worker") == 0) {
        memtune_server();
        if (images_init(argv[0]) != 0) { /* the photo re-keying job */
            fprintf(stderr, "picogram: libvips failed to initialise\n");
            rc = 1;
        } else {
            rc = worker_run(&cfg);
            images_shutdown();
        }
    } else if (rc == 0 && strcmp(cmd, "shards") == 0) {
        rc = cmd_shards(&cfg, json);
    } else if (rc == 0 && strcmp(cmd, "sweep") == 0) {
        rc = cmd_sweep(&cfg, older_than);
    } else if (rc == 0 && strcmp(cmd, "backup") == 0) {
        rc = out ? backup_run(&cfg, out) : fail_usage("backup needs --out DEST, a directory to make");
    } else if (rc == 0) {
        rc = cmd_migrate(&cfg);
    } else if (rc == 1)
        rc = 0;
    config_free(&cfg);
    return rc;
}
