/*
 * picogram admin: an operator's commands.
 *
 *   create-user NAME [--email E] [--full-name N]   password on standard input
 *   suspend USER / unsuspend USER                   USER: a username or an ID
 *   delete-user USER --yes
 *   rebuild-feeds USER | --all
 *   reindex [tags|geo]
 *   status [--json]
 *   export USER --out FILE                           the account's archive (model/export.h)
 *   import FILE [--as NAME]                          password on standard input (admin/import.h)
 *
 * DESIGN
 * Each command opens what a worker opens (server_open_admin: the databases
 * at this binary's schema, an ID node of its own, the feed store and the
 * object cache) and works through the same model functions as the API, so
 * it needs no server and may run beside running ones: SQLite serialises its
 * writes with theirs, PostgreSQL is shared anyway. What running servers
 * hold in memory (a suspended user's cached profile and tokens) is dropped
 * by a job queued in the write's own transaction (users_changed_job), which
 * whichever process runs jobs picks up within a poll (200 ms); a server
 * that is stopped has nothing cached. Every command is safe to run again.
 */
#include "admin/admin.h"
#include "admin/import.h"
#include "api/handlers.h"
#include "core/buf.h"
#include "core/ids.h"
#include "core/validate.h"
#include "db/db.h"
#include "http/server.h"
#include "images/images.h"
#include "jobs/jobs.h"
#include "model/discovery.h"
#include "model/erase.h"
#include "model/export.h"
#include "model/timeline.h"
#include "model/users.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct admin_call {
    server_t *srv;
    db_ctx_t *db;
    const char *pos;       /* the positional argument, or NULL */
    const char *email;     /* create-user */
    const char *full_name; /* create-user */
    const char *out;       /* export */
    const char *as;        /* import */
    bool all, json, yes;
} admin_call_t;

enum { POS_NONE, POS_REQUIRED, POS_OPTIONAL };

typedef struct admin_cmd {
    const char *name, *args, *help;
    int pos; /* its positional argument: POS_NONE, POS_REQUIRED (unless --all, for rebuild-feeds) or POS_OPTIONAL */
    const char *flags; /* its own flags, each followed by '=' if it takes a value, space-separated */
    int (*run)(admin_call_t *a);
} admin_cmd_t;

/* USER (a username or an ID) into u, suspended or not. */
static int find_user(admin_call_t *a, user_t *u)
{
    const char *s = a->pos;
    int64_t id = 0;
    int rc = USERS_NOT_FOUND;
    if (strspn(s, "0123456789") == strlen(s)) { /* an ID; if none has it, a name of digits */
        id = ids_parse(s, strlen(s));
        rc = id > 0 ? users_get_any(a->db, id, u) : USERS_NOT_FOUND;
    }
    if (rc == USERS_NOT_FOUND && validate_username(s, strlen(s)) == NULL) {
        rc = users_id_by_username(a->db, s, &id);
        if (rc == USERS_OK)
            rc = users_get_any(a->db, id, u);
    }
    if (rc == USERS_NOT_FOUND) {
        fprintf(stderr, "picogram admin: no user '%s'\n", s);
        return ADMIN_NO_USER;
    }
    if (rc != USERS_OK) {
        fprintf(stderr, "picogram admin: the user '%s' cannot be read now (database error)\n", s);
        return ADMIN_FAILED;
    }
    return ADMIN_OK;
}

static int bad(const char *what, const char *why)
{
    fprintf(stderr, "picogram admin: %s: %s\n", what, why);
    return ADMIN_USAGE;
}

/* The password on the first line of standard input, checked and hashed
 * into hash (128 bytes). */
static int read_password(char *hash)
{
    char password[PASSWORD_MAX_BYTES + 2];
    const char *why;
    if (fgets(password, sizeof(password), stdin) == NULL)
        return bad("the password", "give it on the first line of standard input");
    if (strchr(password, '\n') == NULL && !feof(stdin)) { /* longer than the buffer: never cut it short */
        sodium_memzero(password, sizeof(password));
        return bad("the password", "it is too long");
    }
    password[strcspn(password, "\r\n")] = '\0';
    if ((why = validate_password(password, strlen(password))) != NULL) {
        sodium_memzero(password, sizeof(password));
        return bad("the password", why);
    }
    int hrc = password_hash(password, hash);
    sodium_memzero(password, sizeof(password));
    if (hrc != 0) {
        fprintf(stderr, "picogram admin: cannot hash the password (out of memory?)\n");
        return ADMIN_FAILED;
    }
    return ADMIN_OK;
}

static int create_user(admin_call_t *a)
{
    const char *name = a->pos, *email = a->email ? a->email : "", *full = a->full_name ? a->full_name : "";
    const char *why = validate_new_username(name, strlen(name));
    if (why)
        return bad("the username", why);
    if ((why = validate_full_name(full, strlen(full))) != NULL)
        return bad("--full-name", why);
    if ((why = validate_email(email, strlen(email))) != NULL)
        return bad("--email", why);
    char hash[128];
    int rc = read_password(hash);
    if (rc != ADMIN_OK)
        return rc;
    user_new_t in = {.username = name, .full_name = full, .email = email, .password_hash = hash};
    user_t u;
    rc = users_create(a->db, ids_next(ids_global(), randombytes_uniform(IDS_NSHARDS)), &in, &u);
    if (rc == USERS_TAKEN) {
        fprintf(stderr, "picogram admin: the username '%s' is taken\n", name);
        return ADMIN_TAKEN;
    }
    if (rc != USERS_OK) {
        fprintf(stderr, "picogram admin: cannot create '%s' (database error); nothing was made\n", name);
        return ADMIN_FAILED;
    }
    printf("created %s (id %lld)\n", u.username, (long long)u.id);
    return ADMIN_OK;
}

static int set_suspended(admin_call_t *a, bool on)
{
    user_t u;
    int rc = find_user(a, &u);
    if (rc != ADMIN_OK)
        return rc;
    if (u.suspended == on) {
        printf("%s (id %lld) is %s already\n", u.username, (long long)u.id, on ? "suspended" : "not suspended");
        return ADMIN_OK;
    }
    if (users_set_suspended(a->db, u.id, on) != USERS_OK) {
        fprintf(stderr, "picogram admin: cannot %ssuspend %s (database error); nothing changed\n", on ? "" : "un",
                u.username);
        return ADMIN_FAILED;
    }
    if (on)
        printf("suspended %s (id %lld): its tokens stop working and it and its media are hidden (running servers "
               "drop their cached copies within a second)\n",
               u.username, (long long)u.id);
    else
        printf("unsuspended %s (id %lld): its tokens work again and it and its media are shown\n", u.username,
               (long long)u.id);
    return ADMIN_OK;
}

static int suspend(admin_call_t *a)
{
    return set_suspended(a, true);
}

static int unsuspend(admin_call_t *a)
{
    return set_suspended(a, false);
}

static int delete_user(admin_call_t *a)
{
    user_t u;
    int rc = find_user(a, &u);
    if (rc != ADMIN_OK)
        return rc;
    if (!a->yes) {
        fprintf(stderr,
                "picogram admin: delete-user deletes %s (id %lld) with all its photos, likes, comments and follows, "
                "for good; add --yes to go ahead\n",
                u.username, (long long)u.id);
        return ADMIN_USAGE;
    }
    erase_counts_t n;
    rc = users_erase(a->db, a->srv->photos, u.id, &n);
    if (rc == USERS_NOT_FOUND) {
        fprintf(stderr, "picogram admin: no user '%s' (deleted meanwhile?)\n", a->pos);
        return ADMIN_NO_USER;
    }
    if (rc != USERS_OK) {
        fprintf(stderr,
                "picogram admin: deleting %s stopped part way (database or photo store error): it stays suspended "
                "and hidden; run the command again to finish\n",
                u.username);
        return ADMIN_FAILED;
    }
    printf("deleted %s (id %lld): %lld photo(s) (%lld file(s)), %lld like(s), %lld comment(s) on others' photos, %lld "
           "follow(s), %lld follower(s), %lld request(s), %lld block(s); the name is free\n",
           u.username, (long long)u.id, n.media, n.files, n.likes, n.comments, n.follows, n.followers, n.requests,
           n.blocks);
    return ADMIN_OK;
}

#define REBUILD_BATCH 256

static int rebuild_feeds(admin_call_t *a)
{
    feeds_t *f = &a->srv->feeds;
    if (!a->all) {
        user_t u;
        int rc = find_user(a, &u);
        if (rc != ADMIN_OK)
            return rc;
        if (timeline_rebuild(f, a->db, u.id) != 0) {
            fprintf(stderr, "picogram admin: cannot rebuild %s's timeline (database or feed store error)\n",
                    u.username);
            return ADMIN_FAILED;
        }
        printf("rebuilt the home timeline of %s (id %lld)\n", u.username, (long long)u.id);
        return ADMIN_OK;
    }
    long long done = 0;
    int64_t ids[REBUILD_BATCH];
    for (size_t i = 0; i < db_count(a->db); i++) {
        int64_t after = 0;
        int n = REBUILD_BATCH;
        while (n == REBUILD_BATCH) {
            if (users_ids_after(a->db, i, after, REBUILD_BATCH, ids, &n) != USERS_OK) {
                fprintf(stderr, "picogram admin: cannot list the users of database %zu; %lld timeline(s) rebuilt\n", i,
                        done);
                return ADMIN_FAILED;
            }
            for (int k = 0; k < n; k++) {
                if (timeline_rebuild(f, a->db, ids[k]) != 0) {
                    fprintf(stderr, "picogram admin: cannot rebuild the timeline of user %lld; %lld rebuilt\n",
                            (long long)ids[k], done);
                    return ADMIN_FAILED;
                }
                done++;
            }
            if (n > 0)
                after = ids[n - 1];
            db_ctx_release(a->db);
        }
    }
    printf("rebuilt %lld home timeline(s)\n", done);
    return ADMIN_OK;
}

static int reindex(admin_call_t *a)
{
    bool tags = a->pos == NULL || strcmp(a->pos, "tags") == 0, geo = a->pos == NULL || strcmp(a->pos, "geo") == 0;
    if (!tags && !geo)
        return bad("reindex", "takes tags, geo, or nothing for both");
    if (tags) {
        long long checked = 0, fixed = 0;
        if (tags_reindex(a->db, &checked, &fixed) != 0) {
            fprintf(stderr,
                    "picogram admin: the tags' reindex stopped (database error) after %lld pair(s); run it "
                    "again\n",
                    checked);
            return ADMIN_FAILED;
        }
        printf("tags: %lld (photo, tag) pair(s) reconciled, %lld count(s) corrected\n", checked, fixed);
    }
    if (geo) {
        long long points = 0, dropped = 0;
        if (geo_reindex(a->db, &points, &dropped) != 0) {
            fprintf(stderr,
                    "picogram admin: the geo reindex stopped (database error) after %lld photo(s); run it "
                    "again\n",
                    points);
            return ADMIN_FAILED;
        }
        printf("geo: %lld placed photo(s) indexed again, %lld point(s) of photos gone dropped\n", points, dropped);
    }
    return ADMIN_OK;
}

static int export_cmd(admin_call_t *a)
{
    if (a->out == NULL)
        return bad("export", "give --out FILE, where the archive goes");
    if (access(a->out, F_OK) == 0)
        return bad(a->out, "it exists; remove it, or choose another name");
    user_t u;
    int rc = find_user(a, &u);
    if (rc != ADMIN_OK)
        return rc;
    export_counts_t n;
    char err[512];
    rc = export_user(a->db, a->srv->photos, u.id, a->out, &n, err, sizeof(err));
    if (rc == EXPORT_NOT_FOUND) {
        fprintf(stderr, "picogram admin: no user '%s' (deleted meanwhile?)\n", a->pos);
        return ADMIN_NO_USER;
    }
    if (rc != EXPORT_OK) {
        fprintf(stderr, "picogram admin: the archive of %s was not written: %s\n", u.username, err);
        return ADMIN_FAILED;
    }
    printf("exported %s (id %lld) to %s: %lld bytes; %lld photo(s), %lld comment(s) and %lld like(s) on them, %lld "
           "comment(s) and %lld like(s) made, %lld follow(s), %lld follower(s)\n",
           u.username, (long long)u.id, a->out, n.bytes, n.media, n.comments_received, n.likes_received, n.comments,
           n.likes, n.follows, n.followers);
    if (n.photos_missing)
        fprintf(stderr,
                "picogram admin: %lld photo file(s) were missing from the photo store: empty in the archive, "
                "named in its manifest.json\n",
                n.photos_missing);
    return ADMIN_OK;
}

static int import_cmd(admin_call_t *a)
{
    if (access(a->pos, R_OK) != 0)
        return bad(a->pos, "cannot be read");
    if (a->as && validate_new_username(a->as, strlen(a->as)) != NULL)
        return bad("--as", validate_new_username(a->as, strlen(a->as)));
    char hash[128];
    int rc = read_password(hash);
    if (rc != ADMIN_OK)
        return rc;
    if (images_init("picogram") != 0) {
        fprintf(stderr, "picogram admin: the image pipeline (libvips) did not start\n");
        return ADMIN_FAILED;
    }
    import_opts_t o = {.as = a->as, .password_hash = hash, .cfg = a->srv->cfg};
    user_t *u = xmalloc(sizeof(*u));
    import_counts_t n;
    char err[512];
    rc = import_archive(a->db, a->srv->photos, a->pos, &o, u, &n, err, sizeof(err));
    if (rc == IMPORT_OK) {
        printf("imported %s (id %lld): %lld photo(s), %lld of its comment(s) on them; not made (other people's, "
               "kept in the archive): %lld comment(s) and %lld like(s) by others on its photos, %lld comment(s) and "
               "%lld like(s) it made on others' photos, %lld follow(s), %lld follower(s)\n",
               u->username, (long long)u->id, n.media, n.comments, n.others_comments, n.others_likes,
               n.comments_made > n.comments ? n.comments_made - n.comments : 0, n.likes_made, n.follows, n.followers);
        if (n.photos_bad)
            fprintf(stderr, "picogram admin: %lld photo(s) of the archive were missing or damaged: left out\n",
                    n.photos_bad);
    } else if (rc == IMPORT_ERROR && u->id) {
        fprintf(stderr,
                "picogram admin: the import stopped part way: %s. The account %s (id %lld) stays suspended and "
                "hidden; remove it with 'picogram admin delete-user %lld --yes' and import again\n",
                err, u->username, (long long)u->id, (long long)u->id);
    } else {
        fprintf(stderr, "picogram admin: %s; nothing was made\n", err);
    }
    free(u);
    images_shutdown();
    return rc == IMPORT_OK      ? ADMIN_OK
           : rc == IMPORT_BAD   ? ADMIN_BAD_FILE
           : rc == IMPORT_TAKEN ? ADMIN_TAKEN
                                : ADMIN_FAILED;
}

/* ---- status ---- */

typedef struct status_out {
    buf_t *b;
    bool json;
    int64_t now;
    int kinds;
} status_out_t;

static void status_kind(const char *kind, const jobs_kind_stats_t *st, void *arg)
{
    status_out_t *o = arg;
    double age = st->oldest_due_ms > 0 ? (double)(o->now - st->oldest_due_ms) / 1000.0 : 0.0;
    if (o->json) {
        buf_puts(o->b, o->kinds++ ? "," : "");
        buf_json_cstr(o->b, kind);
        buf_printf(o->b, ":{\"live\":%ld,\"due\":%ld,\"running\":%ld,\"oldest_due_seconds\":%.3f,\"dead\":%ld}",
                   st->live, st->due, st->running, age, st->dead);
    } else {
        o->kinds++;
        buf_printf(o->b, "  jobs %-14s %ld live (%ld due, the oldest due for %.1f s; %ld running), %ld dead\n", kind,
                   st->live, st->due, age, st->running, st->dead);
    }
}

static int count_all(db_conn_t *c, unsigned q, long long *n)
{
    db_stmt_t *s = db_q(c, q);
    db_bind_i64(s, 1, 0);
    db_bind_i64(s, 2, IDS_NSHARDS - 1);
    int rc = db_step(s);
    *n = rc == DB_ROW ? (long long)db_col_i64(s, 0) : -1;
    db_reset(s);
    return rc == DB_ROW ? 0 : -1;
}

static int status(admin_call_t *a)
{
    buf_t b;
    buf_init(&b, 1 << 20);
    int rc = ADMIN_OK;
    const dbmap_t *map = a->srv->dbmap;
    if (a->json)
        buf_puts(&b, "{\"databases\":[");
    for (size_t i = 0; i < dbmap_count(map); i++) {
        char url[1024];
        db_url_redacted(dbmap_url(map, i), url, sizeof(url));
        db_conn_t *c = db_physical(a->db, i);
        long long users = -1, media = -1;
        int schema = c ? db_schema_version(c) : -1;
        bool ok = c != NULL && schema >= 0 && count_all(c, Q_SHARD_USERS, &users) == 0 &&
                  count_all(c, Q_SHARD_MEDIA, &media) == 0;
        status_out_t o = {&b, a->json, ids_now_ms(), 0};
        if (a->json) {
            buf_puts(&b, i ? ",{\"server\":" : "{\"server\":");
            buf_json_cstr(&b, url);
            buf_printf(&b, ",\"reachable\":%s,\"schema\":%d,\"users\":%lld,\"media\":%lld,\"jobs\":{",
                       ok ? "true" : "false", schema, users, media);
        } else {
            buf_printf(&b, "%s: %s, schema %d, users %lld, media %lld\n", url, ok ? "up" : "NOT REACHABLE", schema,
                       users, media);
        }
        if (ok && jobs_stats(c, o.now, status_kind, &o) != 0)
            ok = false;
        if (!a->json && ok && o.kinds == 0)
            buf_puts(&b, "  jobs           none waiting\n");
        if (a->json)
            buf_puts(&b, "}}");
        if (!ok)
            rc = ADMIN_FAILED;
        db_ctx_release(a->db);
    }
    if (a->json)
        buf_printf(&b, "],\"schema_expected\":%d}\n", db_schema_latest());
    fwrite(b.data, 1, b.len, stdout);
    buf_free(&b);
    if (rc != ADMIN_OK)
        fprintf(stderr, "picogram admin: a database did not answer\n");
    return rc;
}

static const admin_cmd_t cmds[] = {
    {"create-user", "NAME [--email E] [--full-name N]",
     "make an account; its password is read from the first line of standard input (exit 4 if the name is taken)",
     POS_REQUIRED, "--email= --full-name=", create_user},
    {"suspend", "USER",
     "suspend an account (USER: its name or ID): its tokens stop working, log-in is refused, and it and its "
     "media are hidden from everyone until unsuspended",
     POS_REQUIRED, "", suspend},
    {"unsuspend", "USER", "undo a suspension: the account, its media and its tokens are back as they were",
     POS_REQUIRED, "", unsuspend},
    {"delete-user", "USER --yes",
     "delete an account for good with everything it made: its photos and their files, its likes, comments, follows, "
     "requests and blocks, its tokens and news; hidden at once (suspended), then erased; a run that stopped part way "
     "is finished by running it again",
     POS_REQUIRED, "--yes", delete_user},
    {"rebuild-feeds", "USER|--all",
     "rebuild one user's home timeline, or every user's, from the databases (after a lost or damaged feed store)",
     POS_REQUIRED, "--all", rebuild_feeds},
    {"reindex", "[tags|geo]",
     "mend the derived indexes from the photos (both if neither is named): tags (each tag's list of photos and its "
     "count) and geo (each placed photo's point, its place's list of photos); safe on a running server",
     POS_OPTIONAL, "", reindex},
    {"status", "[--json]",
     "each database's schema, users and media, and its job queue by kind: live, due, the "
     "oldest due, running and dead jobs (exit 1 if a database does not answer)",
     POS_NONE, "--json", status},
    {"export", "USER --out FILE",
     "write an account's archive (a zip: its profile, photos at full size, captions, tags, places, the comments and "
     "likes it made and received, its follows and followers, as GET /v1/users/self/export gives it) to FILE, which "
     "must not exist",
     POS_REQUIRED, "--out=", export_cmd},
    {"import", "FILE [--as NAME]",
     "make an account from an archive of export's, here or on another picogram: its profile, its photos (through the "
     "upload pipeline) with their captions, tags, places and times, and its own comments on them; its password is "
     "read from the first line of standard input; the archive's username unless --as; hidden until whole (exit 4 if "
     "the name is taken, 5 if the archive is not one, or does not pass: nothing is made)",
     POS_REQUIRED, "--as=", import_cmd},
};
#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

int admin_say(int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "picogram: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return rc;
}

void admin_list(FILE *out, void (*line)(FILE *out, const char *name, const char *args, const char *help))
{
    for (size_t i = 0; i < NCMDS; i++)
        line(out, cmds[i].name, cmds[i].args, cmds[i].help);
}

static void usage_line(FILE *out, const char *name, const char *args, const char *help)
{
    fprintf(out, "  %-14s %s\n  %-14s %s\n", name, args, "", help);
}

static void usage(FILE *out)
{
    fprintf(out, "usage: picogram admin <command> [arguments] [--SETTING VALUE ...]\n\n"
                 "Commands (each works on a stopped or a running server; 'picogram admin COMMAND --help'):\n");
    admin_list(out, usage_line);
    fprintf(out, "\nExit codes: 0 done, 1 failed at run time (a database error), 2 bad usage, 3 no such user,\n"
                 "4 the name is taken (create-user, import), 5 the archive is not one or does not pass (import).\n");
}

/* Whether a SQLite database of spec ("sqlite:PATH", or ranges of them
 * separated by ';') does not exist: opening it would make a new, empty one,
 * and a mistyped --data would seem to have no users. */
static bool sqlite_missing(const char *spec, char *path, size_t cap)
{
    for (const char *p = strstr(spec, "sqlite:"); p != NULL; p = strstr(p, "sqlite:")) {
        p += 7;
        size_t n = strcspn(p, ";");
        snprintf(path, cap, "%.*s", (int)n, p);
        if (access(path, F_OK) != 0)
            return true;
    }
    return false;
}

/* The flag as one of cmd's own: 0 no, 1 without a value, 2 with one. */
static int own_flag(const admin_cmd_t *cmd, const char *arg)
{
    size_t n = strlen(arg);
    for (const char *p = cmd->flags; *p;) {
        const char *end = strchr(p, ' ');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        bool value = len > 0 && p[len - 1] == '=';
        if ((value ? len - 1 : len) == n && strncmp(p, arg, n) == 0)
            return value ? 2 : 1;
        p += len + (end ? 1 : 0);
    }
    return 0;
}

int admin_main(int argc, char **argv, admin_config_fn build)
{
    if (argc < 1 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0 || strcmp(argv[0], "help") == 0) {
        usage(argc < 1 ? stderr : stdout);
        return argc < 1 ? ADMIN_USAGE : ADMIN_OK;
    }
    const admin_cmd_t *cmd = NULL;
    for (size_t i = 0; i < NCMDS; i++)
        if (strcmp(cmds[i].name, argv[0]) == 0)
            cmd = &cmds[i];
    if (cmd == NULL) {
        fprintf(stderr, "picogram admin: unknown command '%s'\n", argv[0]);
        usage(stderr);
        return ADMIN_USAGE;
    }
    char title[64];
    snprintf(title, sizeof(title), "admin %s", cmd->name);
    admin_call_t a = {0};
    char **settings = xcalloc((size_t)argc + 1, sizeof(char *));
    int nset = 0, rc = ADMIN_OK;
    for (int i = 1; i < argc && rc == ADMIN_OK; i++) {
        const char *arg = argv[i];
        int own = own_flag(cmd, arg);
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            printf("usage: picogram admin %s %s [--config FILE] [--SETTING VALUE ...]\n\n%s.\n\n"
                   "Exit codes: 0 done, 1 failed at run time, 2 bad usage, 3 no such user, 4 the name is taken,\n"
                   "5 the archive is not one or does not pass.\n\n",
                   cmd->name, cmd->args, cmd->help);
            config_usage(stdout);
            free(settings);
            return ADMIN_OK;
        } else if (own == 2) {
            if (i + 1 >= argc) {
                fprintf(stderr, "picogram admin: %s needs a value\n", arg);
                rc = ADMIN_USAGE;
            } else {
                const char **slot = strcmp(arg, "--email") == 0       ? &a.email
                                    : strcmp(arg, "--full-name") == 0 ? &a.full_name
                                    : strcmp(arg, "--out") == 0       ? &a.out
                                                                      : &a.as;
                *slot = argv[++i];
            }
        } else if (own == 1) {
            a.all |= strcmp(arg, "--all") == 0;
            a.json |= strcmp(arg, "--json") == 0;
            a.yes |= strcmp(arg, "--yes") == 0;
        } else if (strncmp(arg, "--", 2) == 0) { /* a setting: --key value or --key=value */
            settings[nset++] = argv[i];
            if (strchr(arg, '=') == NULL && i + 1 < argc)
                settings[nset++] = argv[++i];
        } else if (a.pos == NULL && cmd->pos != POS_NONE) {
            a.pos = arg;
        } else {
            fprintf(stderr, "picogram admin: unexpected argument '%s' (see 'picogram admin %s --help')\n", arg,
                    cmd->name);
            rc = ADMIN_USAGE;
        }
    }
    config_t cfg;
    config_init(&cfg);
    if (rc == ADMIN_OK)
        rc = build(&cfg, title, nset, settings) == 0 ? ADMIN_OK : ADMIN_USAGE;
    if (rc == ADMIN_OK && cmd->pos == POS_REQUIRED && a.pos == NULL && !a.all) {
        fprintf(stderr, "picogram admin: %s takes %s (see 'picogram admin %s --help')\n", cmd->name, cmd->args,
                cmd->name);
        rc = ADMIN_USAGE;
    }
    if (rc == ADMIN_OK && a.all && a.pos != NULL) {
        fprintf(stderr, "picogram admin: %s takes a user or --all, not both\n", cmd->name);
        rc = ADMIN_USAGE;
    }
    char missing[1024];
    if (rc == ADMIN_OK && sqlite_missing(cfg.database, missing, sizeof(missing))) {
        fprintf(stderr, "picogram admin: no database at %s (is --data, or --database, right?)\n", missing);
        rc = ADMIN_FAILED;
    }
    if (rc == ADMIN_OK) {
        char err[512];
        a.srv = server_open_admin(&cfg, err, sizeof(err));
        if (a.srv == NULL) {
            fprintf(stderr, "picogram admin: %s\n", err);
            rc = ADMIN_FAILED;
        } else {
            a.db = db_ctx_new(a.srv->dbmap);
            rc = cmd->run(&a);
            db_ctx_free(a.db);
            server_close_admin(a.srv);
        }
    }
    free(settings);
    config_free(&cfg);
    return rc;
}
