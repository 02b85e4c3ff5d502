/*
 * GET /v1/users/self/export: the viewer's archive (model/export.h), a zip.
 *
 * The archive is written on a worker thread to DATA/exports/ (its memory
 * stays flat: export.h), then the loop sends it from disk as the client
 * takes it, and the file is unlinked as soon as it is open: nothing stays
 * behind, whether the client takes it all or goes. One export runs at a
 * time per server (it reads every photo the account has, and holds a
 * worker the while); another gets a fast 503 with Retry-After. What a crash
 * leaves in DATA/exports/ (files whose lock nobody holds, or with no lock
 * and ten minutes old) is removed at the next start.
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
#include <fcntl.h>
#include <sys/file.h>
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
    char dir[4000], lock[4200];
    export_dir(w->data_dir, dir, sizeof(dir));
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        w->rc = EXPORT_IO;
        snprintf(w->err, sizeof(w->err), "cannot make %.300s: %s", dir, strerror(errno));
        return;
    }
    /* BASE.lock, held (flock) while BASE.zip is made: a start-up sweep knows a
     * live maker's files from a dead one's by it, in any process or container */
    unsigned r = randombytes_random();
    snprintf(lock, sizeof(lock), "%s/export-%lld-%08x.lock", dir, (long long)w->user, r);
    snprintf(w->path, sizeof(w->path), "%s/export-%lld-%08x.zip", dir, (long long)w->user, r);
    int lfd = open(lock, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (lfd < 0 || flock(lfd, LOCK_EX) != 0) {
        w->rc = EXPORT_IO;
        snprintf(w->err, sizeof(w->err), "cannot make %.300s: %s", lock, strerror(errno));
        if (lfd >= 0)
            close(lfd);
        w->path[0] = '\0';
        return;
    }
    w->rc = export_user(wc->db, w->store, w->user, w->path, &w->n, w->err, sizeof(w->err));
    unlink(lock);
    close(lfd);
    if (w->rc != EXPORT_OK)
        w->path[0] = '\0';
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
        api_send_file(ar, xstrdup(w->path), "application/zip", w->filename);
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
    if (strcmp(ar->method, "HEAD") == 0) { /* it would make the whole archive to say how large it is */
        api_error(ar, 405, E_INVALID, "GET the archive; HEAD is not answered here");
        return;
    }
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

static bool has_lock(const char *dir, const char *base, size_t blen)
{
    char lock[4400];
    snprintf(lock, sizeof(lock), "%s/%.*s.lock", dir, (int)blen, base);
    return access(lock, F_OK) == 0;
}

/* Whether the maker of base's files has gone: its lock can be taken. */
static bool maker_gone(const char *dir, const char *base, size_t blen)
{
    char lock[4400];
    snprintf(lock, sizeof(lock), "%s/%.*s.lock", dir, (int)blen, base);
    int fd = open(lock, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return false; /* no lock: judged by age */
    bool gone = flock(fd, LOCK_EX | LOCK_NB) == 0;
    close(fd);
    return gone;
}

void api_export_sweep(const char *data_dir)
{
    char dir[4000];
    export_dir(data_dir, dir, sizeof(dir));
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    /* a finished archive is sent (and unlinked) the moment it is made: one
     * with no lock that is minutes old was left by a crash */
    time_t old = time(NULL) - 600;
    struct dirent *e;
    int n = 0;
    for (int locks = 0; locks < 2; locks++, rewinddir(d)) { /* the archives, then their locks */
        while ((e = readdir(d)) != NULL) {
            if (strncmp(e->d_name, "export-", 7) != 0)
                continue;
            size_t blen = strcspn(e->d_name, "."); /* BASE of BASE.zip, BASE.zip.XXXXXX, BASE.lock */
            bool lock = strcmp(e->d_name + blen, ".lock") == 0;
            char path[4400];
            struct stat st;
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            if (lock != (locks == 1) || stat(path, &st) != 0)
                continue;
            bool gone = maker_gone(dir, e->d_name, blen);
            if ((gone || (!lock && !has_lock(dir, e->d_name, blen) && st.st_mtime < old)) && unlink(path) == 0)
                n++;
        }
    }
    closedir(d);
    if (n)
        log_info("removed %d file(s) left in %s by an export that did not finish", n, dir);
}
