/* venv-lock: several flock(2) operations on inherited descriptors, in one process.
 *
 *   venv-lock FD:OP...      OP: x, s (exclusive, shared: wait), xn, sn (do not wait), u
 *
 * runtime/session.sh takes its two locks with it on the way in (start.lock, then
 * users.lock) and on the way out: one process where flock(1) needs one per lock, on
 * the path people wait on. A flock(2) lock belongs to the open file description, which
 * the caller shares with this process, so the locks taken here stay the caller's after
 * it exits.
 *
 * The operations run in order. Exit status: 0 when all were done; N+1 when operation
 * N (counted from 1) would have had to wait (xn, sn), in which case the ones before it
 * are done and none after it is tried; 125 for a usage or system error, with one line
 * on stderr. Where no compiler built this, session.sh runs flock(1) for each. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>

#ifndef VENV_VERSION
#define VENV_VERSION "unknown"
#endif

#define EXIT_VENV 125

static int parse_op(const char *arg, int *fd, int *op)
{
  char *end;
  errno = 0;
  long n = strtol(arg, &end, 10);
  if (errno != 0 || end == arg || *end != ':' || n < 0 || n > INT_MAX)
    return -1;
  *fd = (int)n;
  const char *mode = end + 1;
  if (strcmp(mode, "x") == 0)
    *op = LOCK_EX;
  else if (strcmp(mode, "s") == 0)
    *op = LOCK_SH;
  else if (strcmp(mode, "xn") == 0)
    *op = LOCK_EX | LOCK_NB;
  else if (strcmp(mode, "sn") == 0)
    *op = LOCK_SH | LOCK_NB;
  else if (strcmp(mode, "u") == 0)
    *op = LOCK_UN;
  else
    return -1;
  return 0;
}

int main(int argc, char **argv)
{
  if (argc == 2 && strcmp(argv[1], "--version") == 0) {
    puts("venv-lock " VENV_VERSION);
    return 0;
  }
  if (argc < 2 || argc - 1 > 100) {
    fputs("Usage: venv-lock FD:OP...   (OP: x, s, xn, sn, u)\n", stderr);
    return EXIT_VENV;
  }
  for (int i = 1; i < argc; i++) {
    int fd, op;
    if (parse_op(argv[i], &fd, &op) != 0) {
      fprintf(stderr, "venv-lock: expected FD:OP with OP one of x, s, xn, sn, u; got \"%s\"\n", argv[i]);
      return EXIT_VENV;
    }
    int res;
    do
      res = flock(fd, op);
    while (res == -1 && errno == EINTR);
    if (res == -1 && errno == EWOULDBLOCK && (op & LOCK_NB))
      return i + 1;
    if (res == -1) {
      fprintf(stderr, "venv-lock: %s: %s\n", argv[i], strerror(errno));
      return EXIT_VENV;
    }
  }
  return 0;
}
