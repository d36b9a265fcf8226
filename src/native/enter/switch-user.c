/* The user a command runs as in the env: an image's User or `venv run --user`.
 *
 * Called in the child after the chroot, so /etc/passwd and /etc/group are the env's. They
 * are parsed here, never through getpwnam(3) and friends: NSS would load the modules the
 * env's /etc/nsswitch.conf names, code of the env's, into this process. The files are the
 * env's to make up; nothing read here can give more than the env's root has already (the
 * ids set are checked by the kernel against the env's mapping), so the parse only has to be
 * bounded (regular files, lines and sizes capped) and never to trust a field's form.
 *
 * SPEC is USER[:GROUP], each a name or a number, as an OCI image's config has it:
 *   - a name must be in /etc/passwd ("root" alone is 0:0 without one);
 *   - a number needs no entry; without one its group is 0 (as runc and docker do);
 *   - GROUP, when given, replaces the user's group from /etc/passwd;
 *   - supplementary groups: the primary one and those of /etc/group that list the user's
 *     name as a member. */
#include "switch-user.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_GROUPS 64
#define MAX_FILE (4 << 20)

static void fail(const char *hint, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
static void fail(const char *hint, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  fputs("venv: error: ", stderr);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\nhint: %s\n", hint);
  va_end(ap);
  exit(125);
}

/* A decimal id (no sign, no spaces, below (uid_t)-1, which means "unchanged"). */
static bool parse_id(const char *text, unsigned long *id)
{
  if (text[0] == '\0' || strlen(text) > 10 || text[strspn(text, "0123456789")] != '\0')
    return false;
  *id = strtoul(text, NULL, 10);
  return *id < 0xffffffffUL;
}

/* The whole of an env's file, or NULL when it is missing; refuses anything but a regular
 * file (a FIFO would block, a device could be anything) and one past MAX_FILE. */
static char *read_env_file(const char *path)
{
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd == -1) {
    if (errno == ENOENT || errno == ENOTDIR)
      return NULL;
    fail("check that file in the env", "cannot open the env's %s: %s", path, strerror(errno));
  }
  struct stat st;
  if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) || st.st_size > MAX_FILE)
    fail("make it a regular file of at most 4 MiB", "the env's %s is not a regular file of a sane size", path);
  char *text = malloc((size_t)st.st_size + 1);
  if (text == NULL)
    fail("free some memory", "out of memory reading the env's %s", path);
  size_t got = 0;
  for (;;) {
    ssize_t n = read(fd, text + got, (size_t)st.st_size - got);
    if (n == -1 && errno == EINTR)
      continue;
    if (n == -1)
      fail("check that file in the env", "cannot read the env's %s: %s", path, strerror(errno));
    if (n == 0 || (got += (size_t)n) == (size_t)st.st_size)
      break;
  }
  text[got] = '\0';
  close(fd);
  return text;
}

/* Splits LINE (changed in place) at ':' into at most MAX fields; returns how many. */
static int split(char *line, char **fields, int max)
{
  int n = 0;
  fields[n++] = line;
  for (char *c = line; *c != '\0' && n < max; c++)
    if (*c == ':') {
      *c = '\0';
      fields[n++] = c + 1;
    }
  return n;
}

/* Calls VISIT with each line's fields (lines of fewer than WANT fields skipped) until it
 * returns true. */
static bool each_entry(char *text, int want, bool (*visit)(char **fields, void *ctx), void *ctx)
{
  for (char *line = text, *next; line != NULL && *line != '\0'; line = next) {
    next = strchr(line, '\n');
    if (next != NULL)
      *next++ = '\0';
    char *fields[7];
    if (split(line, fields, want) == want && visit(fields, ctx))
      return true;
  }
  return false;
}

struct passwd_query {
  const char *name; /* or NULL: look up by uid */
  unsigned long uid;
  /* found: */
  unsigned long found_uid, gid;
  char *found_name, *home;
};

static bool passwd_match(char **f, void *ctx)
{
  struct passwd_query *q = ctx;
  unsigned long uid, gid;
  if (!parse_id(f[2], &uid) || !parse_id(f[3], &gid))
    return false;
  if (q->name != NULL ? strcmp(f[0], q->name) != 0 : uid != q->uid)
    return false;
  q->found_uid = uid;
  q->gid = gid;
  q->found_name = f[0];
  q->home = f[5];
  return true;
}

struct group_query {
  const char *name; /* the group by name (or NULL) */
  unsigned long gid;
  const char *member; /* collect the groups listing this user (or NULL) */
  gid_t *groups;
  size_t count;
};

static bool group_match(char **f, void *ctx)
{
  struct group_query *q = ctx;
  unsigned long gid;
  if (!parse_id(f[2], &gid))
    return false;
  if (q->name != NULL) {
    q->gid = gid;
    return strcmp(f[0], q->name) == 0;
  }
  for (char *member = strtok(f[3], ","); member != NULL; member = strtok(NULL, ","))
    if (strcmp(member, q->member) == 0 && q->count < MAX_GROUPS) {
      q->groups[q->count++] = (gid_t)gid;
      break;
    }
  return false;
}

/* Sets the ids; EINVAL from the kernel means the env's user namespace has no such id. */
static void checked(int result, const char *call, const char *spec, unsigned long id)
{
  if (result == 0)
    return;
  if (errno == EINVAL)
    fail("an env made without subordinate ids (mapping single) has only root; choose a user whose ids the env maps",
         "user \"%s\": id %lu is not mapped in the env", spec, id);
  fail("enter as root (--user root) to see why", "cannot %s for user \"%s\": %s", call, spec, strerror(errno));
}

void switch_user(const char *spec)
{
  char buf[256];
  if (strlen(spec) >= sizeof buf || spec[0] == '\0' || spec[0] == ':')
    fail("give USER or USER:GROUP, a name or a number each", "bad user \"%s\"", spec);
  strcpy(buf, spec);
  char *group = strchr(buf, ':');
  if (group != NULL)
    *group++ = '\0';

  char *passwd = read_env_file("/etc/passwd");
  struct passwd_query user = { 0 };
  unsigned long uid, gid = 0;
  bool found;
  if (parse_id(buf, &uid)) {
    user.uid = uid;
    found = passwd != NULL && each_entry(passwd, 7, passwd_match, &user);
  } else {
    user.name = buf;
    found = passwd != NULL && each_entry(passwd, 7, passwd_match, &user);
    if (!found && strcmp(buf, "root") != 0)
      fail("give a user of the env's /etc/passwd, or a number", "no user \"%s\" in the env's /etc/passwd", buf);
    uid = found ? user.found_uid : 0;
  }
  if (found)
    gid = user.gid;

  char *groups_file = read_env_file("/etc/group");
  if (group != NULL && !parse_id(group, &gid)) {
    struct group_query q = { .name = group };
    if (groups_file == NULL || !each_entry(groups_file, 4, group_match, &q))
      fail("give a group of the env's /etc/group, or a number", "no group \"%s\" in the env's /etc/group", group);
    gid = q.gid;
    /* each_entry cut the file's lines: read it again for the members. */
    free(groups_file);
    groups_file = read_env_file("/etc/group");
  }
  gid_t groups[MAX_GROUPS + 1] = { (gid_t)gid };
  struct group_query members = { .member = found ? user.found_name : NULL, .groups = groups + 1 };
  if (members.member != NULL && groups_file != NULL)
    each_entry(groups_file, 4, group_match, &members);

  /* The order matters: the groups and the gid need CAP_SETGID, which setuid to a user
   * other than root drops (with every capability: no SECBIT_KEEP_CAPS is set), so they come
   * first; the uid last. setres*id so that no saved id of root's is left to go back to. An
   * env without subordinate ids ("single") denies setgroups(2) (its setgroups file says
   * "deny"): then only root 0:0, which the process is already, may go on without it. */
  bool groups_denied = false;
  if (setgroups(members.count + 1, groups) == -1) {
    if (errno != EPERM)
      checked(-1, "set the groups", spec, gid);
    groups_denied = true;
  }
  checked(setresgid((gid_t)gid, (gid_t)gid, (gid_t)gid), "set the group id", spec, gid);
  checked(setresuid((uid_t)uid, (uid_t)uid, (uid_t)uid), "set the user id", spec, uid);
  /* Reached with the groups denied only for ids the env maps: in "single", 0:0 alone. */
  if (groups_denied && (uid != 0 || gid != 0))
    fail("enter as root (--user root)", "cannot set the groups for user \"%s\": %s", spec, strerror(EPERM));

  /* As su - does: a user other than root starts in its own HOME (root keeps the caller's,
   * as when no user is given). */
  if (uid != 0) {
    const char *home = found && user.home[0] == '/' ? user.home : "/";
    if (setenv("HOME", home, 1) == -1)
      fail("free some memory", "cannot set HOME: %s", strerror(errno));
  }
  free(passwd);
  free(groups_file);
}
