/*
 * GET /v1/users/self/export: the viewer's archive (model/export.h), a zip.
 *
 * The archive is written on a worker thread to DATA/exports/ (its memory
 * stays flat: export.h), then the loop sends it from disk as the client
 * takes it, and the file is unlinked as soon as it is open: nothing stays
 * behind, whether the client takes it all or goes. One export runs at a
 * time per server (it reads every photo the account has, and holds a
 * worker the while); another gets a fast 503 with Retry-After. What a crash
 * leaves in DATA/exports/ (a file named for a process that is gone, or
 * an hour old) is removed at the next start.
 */
#include "api/handlers.h"
#include "model/export.h"
#include "model/users.h"
#include "obs/log.h"

#include <dirent.h>
#include <errno.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define EXPORTS_AT_ONCE 1
#define EXPORT_RETRY_S 30

static atomic_int exports_running;

typedef struct export_work {
    api_work_t super;
    blob_store_t *store;
    const char *data_dir;
    int64_t user;
    int rc;
    char path[4200];
    char filename[96];
    char err[512];
    export_counts_t n;
} export_work_t;

static void export_dir(const char *data_dir, char *out, size_t cap)
{
    snprintf(out, cap, "%s/exports", data_dir);
}

static void export_run(api_work_t *w_, worker_ctx_t *wc)
{
    export_work_t *w = (export_work_t *)w_;
    char dir[4000];
    export_dir(w->data_dir, dir, sizeof(dir));
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        w->rc = EXPORT_IO;
        snprintf(w->err, sizeof(w->err), "cannot make %.300s: %s", dir, strerror(errno));
        return;
    }
    snprintf(w->path, sizeof(w->path), "%s/export-%ld-%lld-%08x.zip", dir, (long)getpid(), (long long)w->user,
             randombytes_random());
    w->rc = export_user(wc->db, w->store, w->user, w->path, &w->n, w->err, sizeof(w->err));
    user_t *u = xmalloc(sizeof(*u));
    char day[16] = "";
    time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm))
        strftime(day, sizeof(day), "%Y%m%d", &tm);
    if (users_get_any(wc->db, w->user, u) == USERS_OK) /* [A-Za-z0-9._]: safe in a header */
        snprintf(w->filename, sizeof(w->filename), "picogram-%s-%s.zip", u->username, day);
    else
        snprintf(w->filename, sizeof(w->filename), "picogram-%lld-%s.zip", (long long)w->user, day);
    free(u);
}

static void export_done(api_work_t *w_, api_req_t *ar)
{
    export_work_t *w = (export_work_t *)w_;
    if (w->rc == EXPORT_OK) {
        char disp[160];
        int n = snprintf(disp, sizeof(disp), "attachment; filename=\"%s\"", w->filename);
        api_add_header(ar, "content-disposition", disp, (size_t)n);
        api_send_file(ar, xstrdup(w->path), "application/zip");
        w->path[0] = '\0'; /* the request's now */
        return;
    }
    if (w->rc == EXPORT_NOT_FOUND) {
        api_error(ar, 404, E_NOT_FOUND, "this account is gone");
        return;
    }
    log_error("GET /v1/users/self/export: %s", w->err);
    ar->retry_after = EXPORT_RETRY_S;
    api_error(ar, 503, E_UNAVAILABLE,
              w->rc == EXPORT_IO ? "the archive could not be written on the server (out of space?); please retry later"
                                 : "a database or the photo store did not answer; please retry");
}

static void export_cleanup(api_work_t *w_)
{
    export_work_t *w = (export_work_t *)w_;
    if (w->path[0])
        unlink(w->path); /* not sent: the client went, or it failed (export_user leaves nothing then) */
    atomic_fetch_sub(&exports_running, 1);
}

void users_export(api_req_t *ar)
{
    if (atomic_fetch_add(&exports_running, 1) >= EXPORTS_AT_ONCE) {
        atomic_fetch_sub(&exports_running, 1);
        ar->retry_after = EXPORT_RETRY_S;
        api_error(ar, 503, E_UNAVAILABLE, "another archive is being made; please retry in a little while");
        return;
    }
    export_work_t *w = xcalloc(1, sizeof(*w));
    w->super.run = export_run;
    w->super.done = export_done;
    w->super.cleanup = export_cleanup;
    w->store = ar->srv->photos;
    w->data_dir = ar->cfg->data_dir;
    w->user = ar->viewer;
    api_defer(ar, &w->super);
}

void api_export_sweep(const char *data_dir)
{
    char dir[4000];
    export_dir(data_dir, dir, sizeof(dir));
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    time_t old = time(NULL) - 3600;
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)) != NULL) {
        char path[4400];
        struct stat st;
        long pid = 0;
        if (sscanf(e->d_name, "export-%ld-", &pid) != 1)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        /* its writer is gone (another server on this directory may be writing
         * one of its own), or it is an hour old: nobody is sending it */
        bool orphan = pid <= 0 || pid == (long)getpid() || (kill((pid_t)pid, 0) != 0 && errno == ESRCH);
        if (stat(path, &st) == 0 && (orphan || st.st_mtime < old) && unlink(path) == 0)
            n++;
    }
    closedir(d);
    if (n)
        log_info("removed %d archive(s) left in %s by a run before", n, dir);
}
