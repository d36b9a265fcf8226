/* venv-rootview: a read-only FUSE view of / for the kernel's overlayfs in a user
 * namespace. What the three files share: the inode table (nodes.c), the FUSE
 * operations (ops.c) and the small helpers every file uses. See README.md. */
#ifndef VENV_ROOTVIEW_H
#define VENV_ROOTVIEW_H

/* 3.12 is the newest API level libfuse 3.14 (Debian 12) offers: it gives the
 * fuse_loop_cfg_* calls. Nothing newer may be used. */
#define FUSE_USE_VERSION 312

#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define UNUSED __attribute__((unused))

static inline void close_fdp(int *fd)
{
  if (*fd >= 0)
    close(*fd);
}
static inline void freep(void *p)
{
  free(*(void **)p);
}
/* Released on every path out of a scope, so an early error reply leaks nothing. */
#define autoclose __attribute__((cleanup(close_fdp)))
#define autofree __attribute__((cleanup(freep)))

/* One host file as the kernel knows it. Nodes hold no file descriptor: a node's
 * path is rebuilt from the parent chain for every operation, which keeps the
 * daemon's fds bounded by what is open, not by what was ever looked up. */
struct node {
  struct node *hash_next;
  struct node *parent; /* NULL for the root only */
  char *name;          /* within the parent; NULL for the root */
  size_t namelen;
  dev_t dev;
  ino_t ino;
  uint64_t nlookup;   /* the kernel's references: lookups not yet forgotten */
  uint64_t nchildren; /* nodes whose parent this is: their paths go through it */
  uint64_t generation;
  bool hidden; /* shown as an empty directory (--hide, or the view itself) */
};

/* What main() decides once, before the session starts; read-only afterwards. */
struct view_config {
  int rootfd;     /* O_PATH fd of / taken at start: every path is relative to it */
  double timeout; /* seconds the kernel may cache entries and attributes */
  dev_t self_dev; /* the view's own device (0 if unknown): never descend into it */
  bool xattrs;    /* --xattrs: pass the host's user.* xattrs (else none, see ops.c) */
};
extern struct view_config view;

/* nodes.c */
int nodes_init(const struct stat *root);
int hide_add(dev_t dev, ino_t ino);
struct node *node_of(fuse_ino_t ino);
fuse_ino_t node_id(struct node *n);
int node_path(struct node *n, const char *child, char *buf, size_t size);
struct node *node_get(struct node *parent, const char *name, const struct stat *st);
void node_forget(struct node *n, uint64_t nlookup);
uint64_t view_ino(dev_t dev, ino_t ino);

/* ops.c */
extern const struct fuse_lowlevel_ops rootview_ops;

#endif
