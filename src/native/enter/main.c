/* venv-enter: runs a command inside a running env, in one process and a fork.
 *
 *   venv-enter [--user] ANCHOR ROOT CWD CMD [ARG...]
 *
 * Joins the namespaces of the env's anchor (its user namespace with --user, its
 * network namespace if the env has one of its own, then its mount and pid
 * namespaces), forks, and in the child chroots to ROOT, goes
 * to CWD (or / when the env has no such directory), puts SIGINT and SIGQUIT back
 * to their default actions and runs CMD. The parent waits and exits with CMD's
 * status, 128+N when a signal N ended it.
 *
 * Why not nsenter + chroot + sh + env, as runtime/session.sh does without this
 * program: each of those is a process, and the last two are read through the
 * env's file system, cold on every first entry; together they were about a third
 * of what entering costs. They remain the fallback where no compiler built this.
 *
 * The caller (session.sh) ignores SIGINT and SIGQUIT while the command runs, so
 * that a Ctrl-C the command shrugs off does not end venv's side: the parent here
 * keeps them ignored, and ignores the signals session.sh passes on itself (TERM,
 * HUP, USR1, USR2), which it sends to this program's child, the command. A signal
 * sent to the whole process group reaches the command directly. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "switch-user.h"

#ifndef VENV_VERSION
#define VENV_VERSION "unknown"
#endif

/* venv's own failures exit with 125, as session.sh's do (see the README). */
#define EXIT_VENV 125

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  fputs("venv: error: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(EXIT_VENV);
}

/* Opens /proc/ANCHOR/ns/NAME. All are opened before the first setns: after the
 * mount namespace changes, /proc is the env's (the same host /proc today, but
 * nothing here should depend on that). */
static int open_ns(const char *anchor, const char *name)
{
  char path[64];
  snprintf(path, sizeof path, "/proc/%s/ns/%s", anchor, name);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd == -1)
    die("cannot open %s: %s (has the env ended?)", path, strerror(errno));
  return fd;
}

/* The anchor's network namespace when the env has one of its own (the setting
 * --net none or private), else -1: joining our own, the host's, from inside the env's user
 * namespace would be refused. Told apart by the namespace files' inodes. */
static int own_net_ns(const char *anchor)
{
  int fd = open_ns(anchor, "net");
  struct stat theirs, ours;
  if (fstat(fd, &theirs) == -1 || stat("/proc/self/ns/net", &ours) == -1)
    die("cannot tell the env's network namespace from ours: %s", strerror(errno));
  if (theirs.st_dev == ours.st_dev && theirs.st_ino == ours.st_ino) {
    close(fd);
    return -1;
  }
  return fd;
}

static void join(int fd, int type, const char *name)
{
  if (setns(fd, type) == -1)
    die("cannot join the env's %s namespace: %s", name, strerror(errno));
  close(fd);
}

/* Ignored here while the command runs: see the top of this file. The command
 * gets SIGINT and SIGQUIT with their default actions (env --default-signal in
 * the fallback), the others as this program got them (ignored under nohup). */
static const int handed_on[] = { SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2 };
static struct sigaction given[sizeof handed_on / sizeof handed_on[0]];

/* The child: the command's own process, pid and root those of the env. */
static void __attribute__((noreturn)) run_command(const char *root, const char *cwd, char **argv)
{
  /* setns into a mount namespace set the root and cwd to that namespace's /:
   * ROOT is a path there (the env's merged directory). */
  if (chroot(root) == -1)
    die("cannot enter the env's root %s: %s", root, strerror(errno));
  /* VENV_AS: the user to run CMD as (an image's User, or --user; session.sh), set after the
   * chroot so that its names are looked up in the env's files, before the chdir so that
   * the directory is one that user may enter. */
  const char *as = getenv("VENV_AS");
  if (as != NULL && as[0] != '\0')
    switch_user(as);
  unsetenv("VENV_AS");
  /* VENV_WORKDIR: an image's WorkingDir (an env made with --base, session.sh), where the
   * command starts when the caller's directory is not in the env. */
  const char *workdir = getenv("VENV_WORKDIR");
  if (chdir(cwd) == -1 && (workdir == NULL || chdir(workdir) == -1) && chdir("/") == -1)
    die("cannot go to / in the env: %s", strerror(errno));
  unsetenv("VENV_WORKDIR");
  for (size_t i = 0; i < sizeof handed_on / sizeof handed_on[0]; i++) {
    if (handed_on[i] == SIGINT || handed_on[i] == SIGQUIT)
      signal(handed_on[i], SIG_DFL);
    else
      sigaction(handed_on[i], &given[i], NULL);
  }
  execvp(argv[0], argv);
  if (errno == ENOENT) {
    fprintf(stderr, "venv: error: command not found in the env: %s\n", argv[0]);
    _exit(127);
  }
  fprintf(stderr, "venv: error: cannot run %s in the env: %s\n", argv[0], strerror(errno));
  _exit(126);
}

/* The parent: waits, follows a stop of the command (Ctrl-Z) as a shell's job
 * would, and returns the status a shell gives. */
static int wait_command(pid_t child)
{
  for (;;) {
    int status;
    if (waitpid(child, &status, WUNTRACED) == -1) {
      if (errno == EINTR)
        continue;
      die("lost the command: %s", strerror(errno));
    }
    if (WIFSTOPPED(status)) {
      kill(getpid(), SIGSTOP);
      kill(child, SIGCONT);
      continue;
    }
    if (WIFEXITED(status))
      return WEXITSTATUS(status);
    return 128 + WTERMSIG(status);
  }
}

int main(int argc, char **argv)
{
  if (argc == 2 && strcmp(argv[1], "--version") == 0) {
    puts("venv-enter " VENV_VERSION);
    return 0;
  }
  bool user = argc > 1 && strcmp(argv[1], "--user") == 0;
  int first = user ? 2 : 1;
  if (argc - first < 4) {
    fputs("Usage: venv-enter [--user] ANCHOR ROOT CWD CMD [ARG...]\n", stderr);
    return 2;
  }
  const char *anchor = argv[first], *root = argv[first + 1], *cwd = argv[first + 2];
  if (anchor[strspn(anchor, "0123456789")] != '\0' || root[0] != '/')
    die("venv-enter: expected a pid and an absolute root, got \"%s\" and \"%s\"", anchor, root);

  int user_fd = user ? open_ns(anchor, "user") : -1;
  int mnt_fd = open_ns(anchor, "mnt");
  int pid_fd = open_ns(anchor, "pid");
  int net_fd = own_net_ns(anchor);
  /* The user namespace first: its root's capabilities are what the other two
   * need. The caller's ids stay as they are (nsenter's --preserve-credentials):
   * the env maps the caller to its root. */
  if (user)
    join(user_fd, CLONE_NEWUSER, "user");
  if (net_fd != -1)
    join(net_fd, CLONE_NEWNET, "network");
  join(mnt_fd, CLONE_NEWNS, "mount");
  /* Takes effect for children only: the command is forked below. */
  join(pid_fd, CLONE_NEWPID, "pid");

  /* Before the fork, so that no signal meant for the command can end this
   * process in between; the child puts them back. */
  struct sigaction ignore = { .sa_handler = SIG_IGN };
  for (size_t i = 0; i < sizeof handed_on / sizeof handed_on[0]; i++)
    sigaction(handed_on[i], &ignore, &given[i]);
  pid_t child = fork();
  if (child == -1)
    die("cannot fork: %s", strerror(errno));
  if (child == 0)
    run_command(root, cwd, argv + first + 3);
  return wait_command(child);
}
