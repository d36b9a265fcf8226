/* venv-rootview: the command line, the mount and the daemon's life.
 *
 * Run by venv's keeper as root of a user namespace with its own mount and pid
 * namespaces. Nothing here needs privileges beyond that namespace's: the mount
 * is a FUSE mount in a mount namespace the user owns, and every file is read
 * with the user's own rights (see ops.c). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/sysmacros.h>

#include "rootview.h"

/* Request threads: created only when all are busy (cold reads wait on the disk),
 * and never destroyed again, which libfuse advises (max_idle -1: a thread
 * destroyed and re-created costs more than it saves). */
#define MAX_THREADS 16

#ifndef VENV_VERSION
#define VENV_VERSION "unknown"
#endif

static const char usage[] =
  "Usage: venv-rootview [OPTIONS] MOUNTPOINT\n"
  "Mounts at MOUNTPOINT a read-only view of / in which every file is owned by\n"
  "uid 0 / gid 0, for the kernel's overlayfs (userxattr) in a user namespace.\n"
  "\n"
  "  --hide PATH        show the directory PATH as empty (repeatable); PATH is\n"
  "                     identified by its device and inode at start\n"
  "  --xattrs           show the host's user.* xattrs (never user.overlay.*);\n"
  "                     without it the view has none, and the kernel asks for none\n"
  "  --timeout SECONDS  how long the kernel caches entries and attributes\n"
  "                     (default 86400: changes on the host show after that)\n"
  "  --overlay OPTIONS  once the view is up, mount the kernel's overlayfs on\n"
  "                     MOUNTPOINT too, with these mount options (its lowerdir\n"
  "                     is the view; relative paths are the caller's)\n"
  "  --mount-timeout SECONDS\n"
  "                     give up (killed by SIGALRM, status 142) if mounting has\n"
  "                     not completed by then\n"
  "  -f, --foreground   stay attached instead of becoming a daemon\n"
  "  -d, --debug        log every FUSE request to stderr (implies --foreground)\n"
  "  -h, --help         show this help\n"
  "  -V, --version      show the version\n"
  "\n"
  "The command returns once the view is mounted (exit 0), or prints one line and\n"
  "exits 1. SIGTERM, SIGINT and SIGHUP unmount it; so does the end of the mount\n"
  "namespace. Errors after that go to stderr, which stays open.\n";

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  fputs("venv-rootview: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(1);
}

/* libfuse's own messages. While mounting they are kept, to become the one line
 * of a failed mount; after that they go to stderr (venv's log file). */
static char libfuse_error[512];
static bool keep_libfuse_errors = true;

static void __attribute__((format(printf, 2, 0))) log_to_stderr(enum fuse_log_level level, const char *fmt,
                                                                 va_list ap)
{
  if (keep_libfuse_errors) {
    if (level > FUSE_LOG_ERR)
      return;
    vsnprintf(libfuse_error, sizeof libfuse_error, fmt, ap);
    libfuse_error[strcspn(libfuse_error, "\n")] = '\0';
    return;
  }
  fputs("venv-rootview: ", stderr);
  vfprintf(stderr, fmt, ap);
}

/* libfuse's message without its "fuse: " prefix, or errno's text. */
static const char *mount_failure(int err)
{
  const char *msg = libfuse_error;
  if (strncmp(msg, "fuse: ", 6) == 0)
    msg += 6;
  return *msg != '\0' ? msg : strerror(err);
}

/* mountinfo writes blanks, tabs, newlines and backslashes as \ooo. */
static void unescape_octal(char *s)
{
  char *out = s;
  for (char *in = s; *in != '\0'; out++) {
    if (in[0] == '\\' && in[1] >= '0' && in[1] <= '3' && in[2] >= '0' && in[2] <= '7' && in[3] >= '0' &&
        in[3] <= '7') {
      *out = (char)((in[1] - '0') * 64 + (in[2] - '0') * 8 + (in[3] - '0'));
      in += 4;
    } else {
      *out = *in++;
    }
  }
  *out = '\0';
}

static void fclosep(FILE **f)
{
  if (*f != NULL)
    fclose(*f);
}

/* The device of the view just mounted at `mountpoint`, read from mountinfo: a
 * stat of the mount point would be a request to this very daemon, which does not
 * serve requests yet. The last entry for the path is the newest mount on it. */
static dev_t mounted_device(const char *mountpoint)
{
  __attribute__((cleanup(fclosep))) FILE *f = fopen("/proc/self/mountinfo", "re");
  if (f == NULL)
    return 0;
  autofree char *line = NULL;
  size_t cap = 0;
  dev_t found = 0;
  while (getline(&line, &cap, f) != -1) {
    unsigned int major, minor;
    char point[PATH_MAX];
    if (sscanf(line, "%*s %*s %u:%u %*s %4095s", &major, &minor, point) != 3)
      continue;
    unescape_octal(point);
    if (strcmp(point, mountpoint) == 0)
      found = makedev(major, minor);
  }
  return found;
}

/* The kernel's overlayfs on top of the view, on the same mount point: the
 * parent does it once the child serves requests (the mount looks up the view's
 * root). One process less for venv than mount(8), which also reads and parses
 * the namespace's whole mount table first. */
static void mount_overlay(const char *mountpoint, const char *options)
{
  if (mount("overlay", mountpoint, "overlay", 0, options) == -1)
    die("the kernel refused the overlay mount on %s: %s", mountpoint, strerror(errno));
}

/* Forks; the parent exits 0 once the child is set up (the mount already
 * exists: requests wait in the kernel until the child serves them) and, with
 * --overlay, the overlay is mounted; or 1 if the child died first. stderr
 * stays: venv sends it to a log file. */
static void daemonize(const char *mountpoint, const char *overlay)
{
  int ready[2];
  if (pipe2(ready, O_CLOEXEC) == -1)
    die("pipe: %s", strerror(errno));
  pid_t pid = fork();
  if (pid == -1)
    die("fork: %s", strerror(errno));
  if (pid > 0) {
    close(ready[1]);
    char byte;
    ssize_t n;
    do
      n = read(ready[0], &byte, 1);
    while (n == -1 && errno == EINTR);
    if (n == 1 && overlay != NULL)
      mount_overlay(mountpoint, overlay);
    /* _exit: the mount belongs to the child now, nothing may be torn down. */
    _exit(n == 1 ? 0 : 1);
  }
  close(ready[0]);
  if (setsid() == -1)
    die("setsid: %s", strerror(errno));
  /* Holds no directory busy (the caller may remove its working directory). */
  if (chdir("/") == -1)
    die("chdir /: %s", strerror(errno));
  autoclose int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null == -1)
    die("/dev/null: %s", strerror(errno));
  if (dup2(null, STDIN_FILENO) == -1 || dup2(null, STDOUT_FILENO) == -1)
    die("dup2: %s", strerror(errno));
  if (write(ready[1], "", 1) != 1)
    die("cannot tell the caller the view is ready: %s", strerror(errno));
  close(ready[1]);
}

static double parse_timeout(const char *arg)
{
  char *end;
  errno = 0;
  double t = strtod(arg, &end);
  if (errno != 0 || end == arg || *end != '\0' || !(t >= 0) || t > 1e9)
    die("--timeout: expected a number of seconds from 0 to 1e9, got \"%s\"", arg);
  return t;
}

static unsigned int parse_mount_timeout(const char *arg)
{
  char *end;
  errno = 0;
  unsigned long t = strtoul(arg, &end, 10);
  if (errno != 0 || end == arg || *end != '\0' || t == 0 || t > 86400 || arg[0] == '-')
    die("--mount-timeout: expected a whole number of seconds from 1 to 86400, got \"%s\"", arg);
  return (unsigned int)t;
}

static void hide(const char *path)
{
  struct stat st;
  /* stat, not lstat: a symlink to the directory hides the directory. */
  if (stat(path, &st) == -1)
    die("cannot hide %s: %s", path, strerror(errno));
  if (!S_ISDIR(st.st_mode))
    die("cannot hide %s: %s", path, strerror(ENOTDIR));
  if (hide_add(st.st_dev, st.st_ino) != 0)
    die("cannot hide %s: too many --hide directories", path);
}

int main(int argc, char **argv)
{
  static const struct option longopts[] = {
    { "hide", required_argument, NULL, 'H' }, { "timeout", required_argument, NULL, 't' },
    { "xattrs", no_argument, NULL, 'x' },       { "overlay", required_argument, NULL, 'o' },
    { "mount-timeout", required_argument, NULL, 'T' },
    { "foreground", no_argument, NULL, 'f' }, { "debug", no_argument, NULL, 'd' },
    { "help", no_argument, NULL, 'h' },       { "version", no_argument, NULL, 'V' },
    { NULL, 0, NULL, 0 },
  };
  bool foreground = false, debug = false;
  const char *overlay = NULL;
  int opt;
  while ((opt = getopt_long(argc, argv, "+fdhV", longopts, NULL)) != -1) {
    switch (opt) {
    case 'H':
      hide(optarg);
      break;
    case 't':
      view.timeout = parse_timeout(optarg);
      break;
    case 'x':
      view.xattrs = true;
      break;
    case 'o':
      overlay = optarg;
      break;
    case 'T':
      /* A stale mount under the mount point, or a view that never answers the
       * overlay's first lookup, would hang this call; SIGALRM's default action
       * ends it. The daemon's own child does not inherit the alarm. */
      alarm(parse_mount_timeout(optarg));
      break;
    case 'f':
      foreground = true;
      break;
    case 'd':
      debug = foreground = true;
      break;
    case 'h':
      fputs(usage, stdout);
      return 0;
    case 'V':
      printf("venv-rootview %s (libfuse %s)\n", VENV_VERSION, fuse_pkgversion());
      return 0;
    default:
      fputs("Try 'venv-rootview --help'.\n", stderr);
      return 2;
    }
  }
  if (argc - optind != 1) {
    fprintf(stderr, "venv-rootview: expected one MOUNTPOINT, got %d arguments\nTry 'venv-rootview --help'.\n",
            argc - optind);
    return 2;
  }
  const char *given = argv[optind];

  /* As init of a pid namespace the parent's exit would end the namespace, and
   * the daemon with it. */
  if (!foreground && getpid() == 1)
    die("cannot mount %s: as pid 1 of a pid namespace, run with --foreground", given);
  /* Only the parent can mount it, once the daemon runs: not in the foreground. */
  if (foreground && overlay != NULL)
    die("--overlay cannot be used with --foreground or --debug");

  /* The absolute path, the form mountinfo shows it in. */
  char mountpoint[PATH_MAX];
  if (realpath(given, mountpoint) == NULL)
    die("cannot mount %s: %s", given, strerror(errno));
  struct stat st;
  if (stat(mountpoint, &st) == -1)
    die("cannot mount %s: %s", given, strerror(errno));
  if (!S_ISDIR(st.st_mode))
    die("cannot mount %s: %s", given, strerror(ENOTDIR));

  /* / as this mount namespace sees it now; paths are walked from it, so mounts
   * below it show as their contents. O_PATH: no read right needed, and no
   * directory stream is ever read through it. */
  view.rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (view.rootfd == -1)
    die("cannot open /: %s", strerror(errno));
  if (fstat(view.rootfd, &st) == -1)
    die("cannot stat /: %s", strerror(errno));
  if (nodes_init(&st) != 0)
    die("out of memory");

  fuse_set_log_func(log_to_stderr);
  /* ro: the kernel refuses writes before they reach the daemon.
   * default_permissions: the kernel checks modes against the 0:0 owners shown,
   * so the namespace's root passes, and the daemon's real syscalls (as the
   * user) then decide what can actually be read. */
  char *fuse_argv[] = { argv[0], "-o", "ro,default_permissions,fsname=venv-rootview,subtype=venv-rootview",
                        debug ? "-d" : NULL, NULL };
  struct fuse_args args = FUSE_ARGS_INIT(debug ? 4 : 3, fuse_argv);
  struct fuse_session *se = fuse_session_new(&args, &rootview_ops, sizeof rootview_ops, NULL);
  if (se == NULL)
    die("cannot mount %s: %s", given, mount_failure(ENOMEM));
  errno = 0;
  if (fuse_session_mount(se, mountpoint) != 0)
    die("cannot mount %s: %s", given, mount_failure(errno));
  keep_libfuse_errors = false;
  view.self_dev = mounted_device(mountpoint);

  if (!foreground)
    daemonize(mountpoint, overlay);
  if (fuse_set_signal_handlers(se) != 0) {
    fuse_session_unmount(se);
    die("cannot set signal handlers");
  }
  struct fuse_loop_config *config = fuse_loop_cfg_create();
  if (config == NULL) {
    fuse_session_unmount(se);
    die("out of memory");
  }
  /* The idle-thread limit stays libfuse's default, -1: never destroy threads.
   * One thread was tried (2026-12-02): faster on a loaded machine, but on a quiet
   * one the first walk of /usr took 3.9-4.3 s against 2.8-2.9 s with these. */
  fuse_loop_cfg_set_max_threads(config, MAX_THREADS);
  int res = fuse_session_loop_mt(se, config);
  fuse_loop_cfg_destroy(config);
  fuse_session_unmount(se);
  fuse_remove_signal_handlers(se);
  fuse_session_destroy(se);
  /* A signal number (SIGTERM...) is a clean end; a negative errno is not. */
  if (res < 0) {
    fprintf(stderr, "venv-rootview: %s: %s\n", mountpoint, strerror(-res));
    return 1;
  }
  return 0;
}
