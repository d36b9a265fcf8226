/* The inode table: one node per host file the kernel holds, keyed by (st_dev,
 * st_ino) so that hard links share a node, and the device table that turns host
 * inode numbers into numbers unique within the one FUSE filesystem.
 *
 * One mutex guards the table. Everything done under it is a few pointer hops and
 * a memcpy (the syscalls run outside it), so with the daemon's handful of threads
 * a finer scheme would cost more code than it saves. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "rootview.h"

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct node **buckets;
static size_t nbuckets; /* a power of two */
static size_t nnodes;
static uint64_t next_generation = 1;
static struct node root_node;

/* The --hide directories: few, set before the session starts, read-only after. */
#define MAX_HIDDEN 64
static struct {
  dev_t dev;
  ino_t ino;
} hidden_dirs[MAX_HIDDEN];
static size_t nhidden;

int hide_add(dev_t dev, ino_t ino)
{
  if (nhidden == MAX_HIDDEN)
    return -ENOSPC;
  hidden_dirs[nhidden].dev = dev;
  hidden_dirs[nhidden].ino = ino;
  nhidden++;
  return 0;
}

static bool is_hidden(const struct stat *st)
{
  /* A path that leads back into the view itself (its mount point seen from / ,
   * or a bind mount of it) would make the view contain itself without end. */
  if (view.self_dev != 0 && st->st_dev == view.self_dev)
    return true;
  for (size_t i = 0; i < nhidden; i++)
    if (hidden_dirs[i].dev == st->st_dev && hidden_dirs[i].ino == st->st_ino)
      return true;
  return false;
}

static size_t bucket_of(dev_t dev, ino_t ino)
{
  uint64_t h = (uint64_t)ino * 0x9E3779B97F4A7C15ull ^ (uint64_t)dev * 0xC2B2AE3D27D4EB4Full;
  return (size_t)(h ^ (h >> 29)) & (nbuckets - 1);
}

/* Doubling keeps chains short for a walk of /usr (100,000+ nodes). If memory runs
 * out the table simply stays smaller: slower, still correct. */
static void maybe_grow(void)
{
  if (nnodes < nbuckets)
    return;
  size_t old_size = nbuckets;
  struct node **old = buckets;
  struct node **grown = calloc(old_size * 2, sizeof *grown);
  if (grown == NULL)
    return;
  buckets = grown;
  nbuckets = old_size * 2;
  for (size_t i = 0; i < old_size; i++) {
    struct node *n = old[i];
    while (n != NULL) {
      struct node *next = n->hash_next;
      size_t b = bucket_of(n->dev, n->ino);
      n->hash_next = buckets[b];
      buckets[b] = n;
      n = next;
    }
  }
  free(old);
}

static void unhash(struct node *n)
{
  struct node **p = &buckets[bucket_of(n->dev, n->ino)];
  while (*p != n)
    p = &(*p)->hash_next;
  *p = n->hash_next;
  nnodes--;
}

int nodes_init(const struct stat *root)
{
  nbuckets = 4096;
  buckets = calloc(nbuckets, sizeof *buckets);
  if (buckets == NULL)
    return -ENOMEM;
  /* Tag 0 of the device table: files on the filesystem of / keep their number. */
  (void)view_ino(root->st_dev, root->st_ino);
  root_node.dev = root->st_dev;
  root_node.ino = root->st_ino;
  root_node.hidden = is_hidden(root);
  root_node.generation = 0;
  buckets[bucket_of(root->st_dev, root->st_ino)] = &root_node;
  nnodes = 1;
  return 0;
}

struct node *node_of(fuse_ino_t ino)
{
  /* Node ids are the nodes' addresses, except the root's, which FUSE fixes at 1. */
  return ino == FUSE_ROOT_ID ? &root_node : (struct node *)(uintptr_t)ino;
}

fuse_ino_t node_id(struct node *n)
{
  return n == &root_node ? FUSE_ROOT_ID : (fuse_ino_t)(uintptr_t)n;
}

/* Frees a node nobody needs any more (the kernel forgot it and no child path goes
 * through it), then its parent if that was the last thing holding the parent. */
static void release(struct node *n)
{
  while (n != NULL && n != &root_node && n->nlookup == 0 && n->nchildren == 0) {
    struct node *parent = n->parent;
    unhash(n);
    free(n->name);
    free(n);
    parent->nchildren--;
    n = parent;
  }
}

/* The path of `n` (and `child` within it) relative to /, as "." for / itself. */
int node_path(struct node *n, const char *child, char *buf, size_t size)
{
  size_t childlen = child != NULL ? strlen(child) : 0;
  size_t total = 0, parts = 0;

  pthread_mutex_lock(&table_lock);
  if (child != NULL) {
    total += childlen;
    parts++;
  }
  for (struct node *p = n; p->parent != NULL; p = p->parent) {
    total += p->namelen;
    parts++;
  }
  if (parts == 0) {
    pthread_mutex_unlock(&table_lock);
    if (size < 2)
      return -ENAMETOOLONG;
    memcpy(buf, ".", 2);
    return 0;
  }
  total += parts - 1; /* the slashes */
  if (total >= size) {
    pthread_mutex_unlock(&table_lock);
    return -ENAMETOOLONG;
  }
  /* Written back to front: the chain is walked from the leaf up. */
  char *end = buf + total;
  *end = '\0';
  if (child != NULL) {
    end -= childlen;
    memcpy(end, child, childlen);
    if (end > buf)
      *--end = '/';
  }
  for (struct node *p = n; p->parent != NULL; p = p->parent) {
    end -= p->namelen;
    memcpy(end, p->name, p->namelen);
    if (end > buf)
      *--end = '/';
  }
  pthread_mutex_unlock(&table_lock);
  return 0;
}

/* Moves a node to the path it was just found at. Only a leaf may move (no child
 * path goes through it) and never under itself (a directory bind-mounted into
 * itself), so a parent chain can never become a loop. */
static void repoint(struct node *n, struct node *parent, const char *name)
{
  if (n->parent == parent && strcmp(n->name, name) == 0)
    return;
  char *copy = strdup(name);
  if (copy == NULL)
    return; /* the old path stays: it may still work */
  struct node *old = n->parent;
  free(n->name);
  n->name = copy;
  n->namelen = strlen(copy);
  n->parent = parent;
  parent->nchildren++;
  old->nchildren--;
  release(old);
}

/* The node for the file `st` found as `name` in `parent`, with one more lookup
 * reference for the kernel. NULL when memory runs out. */
struct node *node_get(struct node *parent, const char *name, const struct stat *st)
{
  pthread_mutex_lock(&table_lock);
  struct node *n = buckets[bucket_of(st->st_dev, st->st_ino)];
  while (n != NULL && (n->dev != st->st_dev || n->ino != st->st_ino))
    n = n->hash_next;
  if (n != NULL) {
    /* A hard link, or a host file replaced by another that got the same inode
     * number: the path just used is known to work, the stored one may not. */
    if (n != &root_node && n != parent && n->nchildren == 0)
      repoint(n, parent, name);
    n->nlookup++;
    pthread_mutex_unlock(&table_lock);
    return n;
  }
  n = calloc(1, sizeof *n);
  if (n == NULL || (n->name = strdup(name)) == NULL) {
    free(n);
    pthread_mutex_unlock(&table_lock);
    return NULL;
  }
  n->namelen = strlen(name);
  n->parent = parent;
  parent->nchildren++;
  n->dev = st->st_dev;
  n->ino = st->st_ino;
  n->nlookup = 1;
  n->generation = next_generation++;
  n->hidden = is_hidden(st);
  maybe_grow();
  size_t b = bucket_of(n->dev, n->ino);
  n->hash_next = buckets[b];
  buckets[b] = n;
  nnodes++;
  pthread_mutex_unlock(&table_lock);
  return n;
}

void node_forget(struct node *n, uint64_t nlookup)
{
  pthread_mutex_lock(&table_lock);
  n->nlookup = nlookup < n->nlookup ? n->nlookup - nlookup : 0;
  release(n);
  pthread_mutex_unlock(&table_lock);
}

/* Inode numbers inside the view. The kernel's overlayfs and tools like find and
 * tar take (st_dev, st_ino) as a file's identity, and all of the view is one
 * st_dev: files from different host filesystems must not share a number. Files
 * on the filesystem of / keep theirs (tag 0); every other host device gets a
 * tag in the top 16 bits, in the order the view meets them. Devices are only
 * ever added, so readers scan without the lock. */
#define DEV_TAG_SHIFT 48
#define MAX_DEVICES (1u << (64 - DEV_TAG_SHIFT))
static dev_t devices[MAX_DEVICES];
static _Atomic size_t ndevices;
static pthread_mutex_t devices_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t tagged(size_t tag, ino_t ino)
{
  if (tag == 0)
    return ino;
  /* An inode number over 48 bits on another device could meet another one here:
   * none of the usual filesystems hands those out. */
  return (uint64_t)tag << DEV_TAG_SHIFT | ((uint64_t)ino & ((1ull << DEV_TAG_SHIFT) - 1));
}

uint64_t view_ino(dev_t dev, ino_t ino)
{
  size_t n = atomic_load_explicit(&ndevices, memory_order_acquire);
  for (size_t i = 0; i < n; i++)
    if (devices[i] == dev)
      return tagged(i, ino);
  pthread_mutex_lock(&devices_lock);
  n = atomic_load_explicit(&ndevices, memory_order_relaxed);
  size_t tag = n;
  for (size_t i = 0; i < n; i++)
    if (devices[i] == dev)
      tag = i;
  if (tag == n) {
    if (n < MAX_DEVICES) {
      devices[n] = dev;
      atomic_store_explicit(&ndevices, n + 1, memory_order_release);
    } else {
      tag = MAX_DEVICES - 1; /* 65,536 mounted filesystems: numbers may now meet */
    }
  }
  pthread_mutex_unlock(&devices_lock);
  return tagged(tag, ino);
}
