/* venv-opaque: which directories of an upper dir an xattr alone marks opaque.
 *
 *   venv-opaque XATTR...  < NUL-separated paths  > NUL-separated paths
 *
 * Reads paths (relative to the working directory, the upper dir) from stdin and
 * writes back, in the same order, those on which one of the XATTRs has the value
 * "y" (what overlayfs writes: trusted.overlay.opaque, or user.overlay.opaque in
 * a user namespace). The final component is never followed (lgetxattr); a path
 * gone since (a live commit) is skipped.
 *
 * Why: node cannot read xattrs, and GNU tar over every directory (the fallback in
 * src/archive/opaque-dirs.ts, where no compiler built this) made a commit of an
 * overlay env about a fifth slower. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#ifndef VENV_VERSION
#define VENV_VERSION "unknown"
#endif

static int opaque(const char *path, char **names, int count)
{
  for (int i = 0; i < count; i++) {
    char value[2];
    ssize_t len = lgetxattr(path, names[i], value, sizeof value);
    if (len == 1 && value[0] == 'y')
      return 1;
    /* ENODATA: not set; ENOTSUP: no xattrs there; ENOENT/ENOTDIR: gone since.
     * E2BIG/ERANGE: a longer value, which is not "y". */
    if (len == -1 && errno != ENODATA && errno != ENOTSUP && errno != ENOENT && errno != ENOTDIR &&
        errno != ERANGE && errno != E2BIG) {
      fprintf(stderr, "venv-opaque: %s: %s: %s\n", path, names[i], strerror(errno));
      exit(1);
    }
  }
  return 0;
}

int main(int argc, char **argv)
{
  if (argc == 2 && strcmp(argv[1], "--version") == 0) {
    puts("venv-opaque " VENV_VERSION);
    return 0;
  }
  if (argc < 2) {
    fputs("Usage: venv-opaque XATTR... < NUL-separated paths\n", stderr);
    return 2;
  }
  char *line = NULL;
  size_t cap = 0;
  ssize_t got;
  while ((got = getdelim(&line, &cap, '\0', stdin)) > 0) {
    if (line[got - 1] != '\0')
      break; /* a last path without its NUL: the list was cut short */
    if (opaque(line, argv + 1, argc - 1) && fwrite(line, 1, (size_t)got, stdout) != (size_t)got) {
      perror("venv-opaque: stdout");
      return 1;
    }
  }
  free(line);
  if (ferror(stdin)) {
    perror("venv-opaque: stdin");
    return 1;
  }
  if (fflush(stdout) != 0) {
    perror("venv-opaque: stdout");
    return 1;
  }
  return 0;
}
