/* Roles and resilience: too many jobs on one host, backups (none, stale, on
 * the same disk), no malware scanner for upload folders, no file-integrity
 * baseline. Backup jobs are recognised by tool names in packages, cron
 * files and systemd timers; the time of the last backup comes from the
 * facts ("backup.last", seconds since the epoch) or the newest file in a
 * local backup target we could identify. */
#include "audit/audit.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

static const char *const backup_pkgs[] = {"borgbackup", "restic", "duplicity", "rsnapshot",
                                          "bacula-fd", "backupninja", "duplicati", "timeshift",
                                          "bareos-filedaemon", "kopia", "rdiff-backup", "autorestic"};
static const char *const backup_words[] = {"borg ", "restic ", "duplicity ", "rsnapshot ", "rdiff-backup ",
                                           "mysqldump", "pg_dump", "rsync ", "tar ", "kopia "};

struct bscan {
    bool found;
    char where[320];
    char target[512]; /* a local path the job writes to, if seen */
};

static void set_target(struct bscan *b, const char *t)
{
    if (t[0] != '/' || b->target[0])
        return;
    size_t n = strcspn(t, ":;\"'`$");
    if (n < 2 || n >= sizeof b->target)
        return;
    memcpy(b->target, t, n);
    b->target[n] = '\0';
}

/* The local place a backup job writes to, by tool: borg's repository (the
 * part before "::"), restic's -r/--repo, rsync's last argument, tar's -f
 * file, a dump's "> file". Remote targets (host:path, URLs) are not local. */
static void find_target(struct bscan *b, const char *line, size_t len)
{
    char tmp[1024];
    if (len >= sizeof tmp)
        len = sizeof tmp - 1;
    memcpy(tmp, line, len);
    tmp[len] = '\0';
    char *tok[64];
    int n = 0;
    for (char *t = strtok(tmp, " \t"); t && n < 64; t = strtok(NULL, " \t"))
        tok[n++] = t;
    const char *last_arg = NULL;
    bool rsync = false;
    for (int i = 0; i < n; i++) {
        char *t = tok[i];
        char *dc = strstr(t, "::");
        if (dc && t[0] == '/') {
            *dc = '\0';
            set_target(b, t);
        }
        if ((!strcmp(t, "-r") || !strcmp(t, "--repo") || !strcmp(t, ">") || !strcmp(t, ">>")) && i + 1 < n)
            set_target(b, tok[i + 1]);
        if (!strncmp(t, "--repo=", 7))
            set_target(b, t + 7);
        if (t[0] == '>' && t[1] == '/')
            set_target(b, t + 1);
        if (t[0] != '-' && strchr(t, 'f') && strspn(t, "cxzjJvf") == strlen(t) && i > 0 &&
            strstr(tok[i - 1], "tar") && i + 1 < n)
            set_target(b, tok[i + 1]);
        if (t[0] == '-' && t[1] != '-' && strchr(t, 'f') && i + 1 < n && i > 0 && strstr(tok[0], "tar") == NULL) {
            for (int k = 0; k < i; k++)
                if (strstr(tok[k], "tar"))
                    set_target(b, tok[i + 1]);
        }
        if (strstr(t, "rsync"))
            rsync = true;
        if (t[0] != '-' && t[0] != '>')
            last_arg = t;
    }
    if (rsync && last_arg)
        set_target(b, last_arg);
}

static int cron_cb(struct audit_ctx *c, const char *path, void *arg)
{
    struct bscan *b = arg;
    size_t n;
    char *d = audit_read(c, path, 1u << 20, &n, NULL);
    if (!d)
        return 0;
    struct audit_lines l;
    audit_lines_init(&l, d, n);
    const char *line;
    size_t len;
    while (audit_lines_next(&l, &line, &len)) {
        if (len && line[0] == '#')
            continue;
        for (size_t i = 0; i < sizeof backup_words / sizeof *backup_words; i++) {
            if (!memmem(line, len, backup_words[i], strlen(backup_words[i])))
                continue;
            if (!b->found)
                snprintf(b->where, sizeof b->where, "%s:%u", path, l.lineno);
            b->found = true;
            find_target(b, line, len);
            break;
        }
        if (len > 14 && !strncmp(line, "snapshot_root", 13)) {
            const char *p = line + 13;
            while (p < line + len && isspace((unsigned char)*p))
                p++;
            size_t k = (size_t)(line + len - p);
            while (k && (isspace((unsigned char)p[k - 1]) || p[k - 1] == '/'))
                k--;
            if (k && k < sizeof b->target) {
                memcpy(b->target, p, k);
                b->target[k] = '\0';
            }
        }
    }
    free(d);
    return 0;
}

/* Newest mtime under dir, two levels deep. */
static time_t newest(struct audit_ctx *c, const char *dir, int depth)
{
    struct stat st;
    if (audit_stat(c, dir, &st, false) < 0)
        return 0;
    time_t t = st.st_mtime;
    if (!S_ISDIR(st.st_mode) || depth > 2)
        return t;
    char **names;
    int n = audit_list_dir(c, dir, &names);
    for (int i = 0; i < n && i < 10000; i++) {
        char p[1100];
        if (audit_path_join(p, sizeof p, dir, names[i]) < 0)
            continue;
        time_t s = newest(c, p, depth + 1);
        if (s > t)
            t = s;
    }
    if (n > 0)
        audit_free_list(names, n);
    return t;
}

static void check_backup(struct audit_ctx *c)
{
    struct bscan b;
    memset(&b, 0, sizeof b);
    for (size_t i = 0; i < sizeof backup_pkgs / sizeof *backup_pkgs; i++)
        if (audit_pkg_installed(c, backup_pkgs[i]) && !b.found) {
            b.found = true;
            snprintf(b.where, sizeof b.where, "package %s", backup_pkgs[i]);
        }
    audit_glob(c, "/etc/crontab", cron_cb, &b);
    audit_glob(c, "/etc/cron.d/*", cron_cb, &b);
    audit_glob(c, "/etc/cron.daily/*", cron_cb, &b);
    audit_glob(c, "/etc/cron.weekly/*", cron_cb, &b);
    audit_glob(c, "/var/spool/cron/crontabs/*", cron_cb, &b);
    audit_glob(c, "/etc/systemd/system/*.service", cron_cb, &b);
    audit_glob(c, "/etc/rsnapshot.conf", cron_cb, &b);
    yajl_val last = audit_fact(c, "backup.last");
    if (!b.found && !last) {
        audit_add(c, "backup.none", AUDIT_MEDIUM, "No backup is configured",
                  "Set up a daily off-site backup (borgbackup or restic to another host or "
                  "object storage) of /etc, /var/www, /home and database dumps; test a restore.",
                  "%s", "no backup tool, cron job or timer found");
        return;
    }
    struct stat tst;
    if (b.target[0] && audit_stat(c, b.target, &tst, true) < 0) {
        char *sl = strrchr(b.target, '/');
        if (sl && sl != b.target)
            *sl = '\0';
    }
    time_t t = 0;
    if (last && YAJL_IS_NUMBER(last))
        t = (time_t)YAJL_GET_INTEGER(last);
    else if (b.target[0])
        t = newest(c, b.target, 0);
    if (t && c->now - t > 7 * 86400)
        audit_add(c, "backup.stale", AUDIT_MEDIUM, "The last backup is more than a week old",
                  "Check the backup job's log and run it by hand; then alert on failures.",
                  "last backup %ld days ago%s%s", (long)((c->now - t) / 86400), b.target[0] ? " in " : "",
                  b.target);
    if (b.target[0]) {
        struct stat root, tgt;
        if (audit_stat(c, "/", &root, true) == 0 && audit_stat(c, b.target, &tgt, true) == 0 &&
            root.st_dev == tgt.st_dev)
            audit_add(c, "backup.same-disk", AUDIT_MEDIUM, "Backups are kept on the same disk as the data",
                      "Copy backups to another machine or object storage; a disk failure or "
                      "ransomware takes both otherwise.",
                      "%s (%s) is on the root filesystem", b.target, b.where);
    }
}

static void check_malware_scanner(struct audit_ctx *c)
{
    if (!(c->roles & AUDIT_ROLE_WEB))
        return;
    if (audit_pkg_installed(c, "clamav") || audit_pkg_installed(c, "clamav-daemon") ||
        audit_pkg_installed(c, "clamdscan") || audit_exists(c, "/usr/local/maldetect"))
        return;
    audit_add(c, "resilience.no-malware-scanner", AUDIT_LOW, "Uploaded files are not scanned for malware",
              "apt-get install clamav-daemon and scan upload folders (clamdscan) from cron, or "
              "install Linux Malware Detect.",
              "%s", "no clamav or maldet");
}

static void check_integrity(struct audit_ctx *c)
{
    if (audit_exists(c, "/var/lib/aide/aide.db") || audit_exists(c, "/var/lib/tripwire") ||
        audit_pkg_installed(c, "samhain") || audit_pkg_installed(c, "tripwire"))
        return;
    audit_add(c, "resilience.no-integrity-baseline", AUDIT_LOW, "No file-integrity baseline exists",
              "apt-get install aide && aideinit, so changed system files can be detected after an "
              "incident.",
              "%s", audit_pkg_installed(c, "aide") ? "aide installed but /var/lib/aide/aide.db missing"
                                                   : "no aide, tripwire or samhain");
}

static void check_roles(struct audit_ctx *c)
{
    static const struct {
        unsigned bit;
        const char *name;
    } r[] = {{AUDIT_ROLE_WEB, "web"}, {AUDIT_ROLE_MAIL, "mail"}, {AUDIT_ROLE_FTP, "FTP"},
             {AUDIT_ROLE_SHARE, "file sharing"}, {AUDIT_ROLE_DB, "database"}};
    char list[128] = "";
    int n = 0;
    for (size_t i = 0; i < 5; i++)
        if (c->roles & r[i].bit) {
            size_t l = strlen(list);
            snprintf(list + l, sizeof list - l, "%s%s", n ? " + " : "", r[i].name);
            n++;
        }
    if (n >= 3)
        audit_add(c, "host.consolidated", AUDIT_MEDIUM, "One host does many jobs",
                  "Each service is another way in and a breach of one exposes all; move mail, "
                  "FTP or file sharing elsewhere, or at least isolate them (containers, users).",
                  "%s", list);
}

void audit_check_resilience(struct audit_ctx *c)
{
    check_roles(c);
    check_backup(c);
    check_malware_scanner(c);
    check_integrity(c);
}
