/* The FUSE operations. Every request rebuilds its node's path and runs the real
 * syscall relative to the O_PATH fd of / taken at start, as the user the daemon
 * runs as: the host's own permission checks decide what can be read. What the
 * view changes on the way: owners (always 0:0), inode numbers (unique per host
 * device), O_NOATIME (dropped), xattrs (user.* only), unreadable and hidden
 * directories (empty), and every write (EROFS). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/xattr.h>

#include "rootview.h"

struct view_config view = { .rootfd = -1, .timeout = 86400.0 };

/* The namespace's root owns everything: overlayfs then copies files up to ids
 * that are mapped, and default_permissions checks the mode bits against root. */
static void to_view_attr(struct stat *st)
{
  st->st_ino = view_ino(st->st_dev, st->st_ino);
  st->st_uid = 0;
  st->st_gid = 0;
}

static void reply_negative(fuse_req_t req)
{
  /* ino 0 with a timeout: the kernel caches "no such entry" like a positive one. */
  struct fuse_entry_param e = { .ino = 0, .entry_timeout = view.timeout };
  fuse_reply_entry(req, &e);
}

static void rv_init(UNUSED void *userdata, struct fuse_conn_info *conn)
{
  /* Every listing as readdirplus: one request per page of entries brings their
   * attributes too, and the lookups of a walk (find, ls -l, overlayfs) that
   * would follow are answered from the kernel's cache. */
  if (conn->capable & FUSE_CAP_READDIRPLUS)
    conn->want |= FUSE_CAP_READDIRPLUS;
  conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
  /* Reads go from the host file to /dev/fuse through a pipe, without a copy
   * through our memory. */
  if (conn->capable & FUSE_CAP_SPLICE_WRITE)
    conn->want |= FUSE_CAP_SPLICE_WRITE;
  if (conn->capable & FUSE_CAP_CACHE_SYMLINKS)
    conn->want |= FUSE_CAP_CACHE_SYMLINKS;
  /* Lookups and listings of one directory may run at once: nothing here
   * depends on the kernel serialising them. */
  if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
    conn->want |= FUSE_CAP_PARALLEL_DIROPS;
}

static void rv_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
  struct node *dir = node_of(parent);
  if (dir->hidden) {
    reply_negative(req);
    return;
  }
  char path[PATH_MAX];
  int err = node_path(dir, name, path, sizeof path);
  if (err != 0) {
    fuse_reply_err(req, -err);
    return;
  }
  struct fuse_entry_param e = { .attr_timeout = view.timeout, .entry_timeout = view.timeout };
  if (fstatat(view.rootfd, path, &e.attr, AT_SYMLINK_NOFOLLOW) == -1) {
    /* EACCES: a directory the user cannot search. Its entries do not exist in
     * the view, so that overlayfs may create them in its upper layer (a package
     * upgrade adding a file to /usr/share/polkit-1/rules.d, 0700 polkitd). */
    if (errno == ENOENT || errno == EACCES)
      reply_negative(req);
    else
      fuse_reply_err(req, errno);
    return;
  }
  struct node *n = node_get(dir, name, &e.attr);
  if (n == NULL) {
    fuse_reply_err(req, ENOMEM);
    return;
  }
  e.ino = node_id(n);
  e.generation = n->generation;
  to_view_attr(&e.attr);
  /* The kernel never saw the entry if the request was interrupted meanwhile:
   * no FORGET will come for this reference. */
  if (fuse_reply_entry(req, &e) != 0)
    node_forget(n, 1);
}

static void rv_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
  node_forget(node_of(ino), nlookup);
  fuse_reply_none(req);
}

static void rv_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
  for (size_t i = 0; i < count; i++)
    node_forget(node_of(forgets[i].ino), forgets[i].nlookup);
  fuse_reply_none(req);
}

static void rv_getattr(fuse_req_t req, fuse_ino_t ino, UNUSED struct fuse_file_info *fi)
{
  char path[PATH_MAX];
  int err = node_path(node_of(ino), NULL, path, sizeof path);
  if (err != 0) {
    fuse_reply_err(req, -err);
    return;
  }
  struct stat st;
  if (fstatat(view.rootfd, path, &st, AT_SYMLINK_NOFOLLOW) == -1) {
    fuse_reply_err(req, errno);
    return;
  }
  to_view_attr(&st);
  fuse_reply_attr(req, &st, view.timeout);
}

static void rv_readlink(fuse_req_t req, fuse_ino_t ino)
{
  char path[PATH_MAX], target[PATH_MAX];
  int err = node_path(node_of(ino), NULL, path, sizeof path);
  if (err != 0) {
    fuse_reply_err(req, -err);
    return;
  }
  ssize_t len = readlinkat(view.rootfd, path, target, sizeof target);
  if (len == -1) {
    fuse_reply_err(req, errno);
    return;
  }
  if ((size_t)len == sizeof target) {
    fuse_reply_err(req, ENAMETOOLONG);
    return;
  }
  target[len] = '\0';
  fuse_reply_readlink(req, target);
}

/* Files have no OPEN or RELEASE here: rv_open answers ENOSYS once, and the
 * kernel (3.x and later, "no_open") then opens every file without asking, keeps
 * its page cache across opens and sends READs with no handle. A warm read of an
 * unchanged host file (a header, a library) then makes no request at all, where
 * an OPEN and a RELEASE each cost a round trip before. Each READ opens the host
 * file by path instead (rv_read), so a file the user cannot read fails there,
 * with EACCES, rather than at open(2): it stays unreadable, and overlayfs cannot
 * copy it up. Writes never get here: the mount is read-only. */
static void rv_open(fuse_req_t req, UNUSED fuse_ino_t ino, UNUSED struct fuse_file_info *fi)
{
  fuse_reply_err(req, ENOSYS);
}

static void rv_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, UNUSED struct fuse_file_info *fi)
{
  struct node *n = node_of(ino);
  char path[PATH_MAX];
  int err = node_path(n, NULL, path, sizeof path);
  if (err != 0) {
    fuse_reply_err(req, -err);
    return;
  }
  /* Not the caller's flags: O_NOATIME above all would fail with EPERM on the
   * host's root-owned files (overlayfs opens lower files with it). O_NONBLOCK:
   * should the host put a FIFO where a file was, the open must not block a
   * thread for ever. */
  autoclose int fd = openat(view.rootfd, path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  struct stat st;
  if (fd == -1 || fstat(fd, &st) == -1) {
    fuse_reply_err(req, errno);
    return;
  }
  /* The path leads to another file now (the host replaced it): its bytes are not
   * this inode's. The kernel drops the stale entry when its attributes expire. */
  if (st.st_dev != n->dev || st.st_ino != n->ino || !S_ISREG(st.st_mode)) {
    fuse_reply_err(req, ESTALE);
    return;
  }
  /* An fd buffer: libfuse splices it to the kernel (or reads it) before it returns. */
  struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);
  buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
  buf.buf[0].fd = fd;
  buf.buf[0].pos = off;
  fuse_reply_data(req, &buf, 0);
}

/* Nothing is ever written, so a close has nothing to flush: ENOSYS once and the
 * kernel stops sending FLUSH at every close (with no OPEN, nothing else says so). */
static void rv_flush(fuse_req_t req, UNUSED fuse_ino_t ino, UNUSED struct fuse_file_info *fi)
{
  fuse_reply_err(req, ENOSYS);
}

static void rv_fsync(fuse_req_t req, UNUSED fuse_ino_t ino, UNUSED int datasync, UNUSED struct fuse_file_info *fi)
{
  fuse_reply_err(req, 0);
}

/* Directories have no OPENDIR or RELEASEDIR here: rv_opendir answers ENOSYS
 * once, and the kernel ("no_opendir", Linux 5.1+) stops sending both. It then
 * caches every listing in its page cache by itself (FOPEN_CACHE_DIR and
 * FOPEN_KEEP_CACHE are its defaults in that mode), so a walk of a tree already
 * listed makes no request at all; with OPENDIR answered here it made two per
 * directory (1,048 of each for 11,300 entries: most of a warm find's time).
 * The price: no handle, so each READDIRPLUS opens the directory and seeks to
 * the kernel's offset, the d_off of the last entry given. Filesystems that can
 * be exported over NFS must accept that cookie on a new fd, and ext4, xfs,
 * btrfs, tmpfs and overlayfs do. It happens only while the kernel fills its
 * cache. */

static bool is_dot_or_dotdot(const char *name)
{
  return name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

/* What getdents64(2) returns: glibc 2.36 has the call but not the type. */
struct linux_dirent64 {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

/* A reply holds far fewer entries than a 32 KiB readdir(3) buffer: reading the
 * host directory in steps about the reply's share keeps a big directory from
 * being read over and over (each request reopens it at the kernel's offset). A
 * READDIRPLUS entry takes about four times its getdents64 record. */
static size_t dirents_wanted(size_t reply_size)
{
  size_t want = reply_size / 4;
  return want < 1024 ? 1024 : want > 65536 ? 65536 : want;
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, bool plus)
{
  struct node *dir = node_of(ino);
  if (dir->hidden) {
    fuse_reply_buf(req, NULL, 0);
    return;
  }
  char path[PATH_MAX];
  int err = node_path(dir, NULL, path, sizeof path);
  if (err != 0) {
    fuse_reply_err(req, -err);
    return;
  }
  autoclose int fd = openat(view.rootfd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd == -1) {
    /* The user may not list it (0700 of another owner): an empty directory,
     * to which overlayfs can add files in its upper layer. */
    if (errno == EACCES || errno == EPERM)
      fuse_reply_buf(req, NULL, 0);
    else
      fuse_reply_err(req, errno);
    return;
  }
  /* The kernel's offset is a d_off this code handed out: the host file system's
   * own position, valid across opens. */
  if (off != 0 && lseek(fd, off, SEEK_SET) == -1) {
    fuse_reply_err(req, errno);
    return;
  }
  autofree char *buf = malloc(size);
  size_t dsize = dirents_wanted(size);
  autofree char *dents = malloc(dsize);
  if (buf == NULL || dents == NULL) {
    fuse_reply_err(req, ENOMEM);
    return;
  }
  size_t used = 0;
  bool full = false;
  while (!full) {
    long got = syscall(SYS_getdents64, fd, dents, dsize);
    if (got <= 0) {
      err = got == 0 ? 0 : errno;
      break;
    }
    for (long pos = 0; pos < got && !full;) {
      struct linux_dirent64 *ent = (struct linux_dirent64 *)(dents + pos);
      pos += ent->d_reclen;
      struct fuse_entry_param e = { .attr_timeout = view.timeout, .entry_timeout = view.timeout };
      struct node *n = NULL;
      if (plus && !is_dot_or_dotdot(ent->d_name) && fstatat(fd, ent->d_name, &e.attr, AT_SYMLINK_NOFOLLOW) == 0) {
        /* Take the kernel's reference only for an entry that fits. */
        if (used + fuse_add_direntry_plus(req, NULL, 0, ent->d_name, &e, 0) > size) {
          full = true;
          break;
        }
        n = node_get(dir, ent->d_name, &e.attr);
        if (n != NULL) {
          e.ino = node_id(n);
          e.generation = n->generation;
          to_view_attr(&e.attr);
        }
      }
      if (n == NULL) {
        /* . and .., an entry gone since, one the user cannot stat (a directory
         * readable but not searchable), or no memory: a name and a type only.
         * In a READDIRPLUS entry ino 0 tells the kernel to make no dentry of it. */
        memset(&e.attr, 0, sizeof e.attr);
        e.attr.st_ino = view_ino(dir->dev, ent->d_ino);
        e.attr.st_mode = DTTOIF(ent->d_type);
      }
      size_t need = plus ? fuse_add_direntry_plus(req, buf + used, size - used, ent->d_name, &e, ent->d_off)
                         : fuse_add_direntry(req, buf + used, size - used, ent->d_name, &e.attr, ent->d_off);
      if (need > size - used) {
        if (n != NULL)
          node_forget(n, 1);
        full = true;
        break;
      }
      used += need;
    }
  }
  /* An error after some entries: hand those over, the kernel asks again. */
  if (err != 0 && used == 0) {
    fuse_reply_err(req, err);
    return;
  }
  /* If the reply is lost (interrupted), the kernel never got these references.
   * Rare, and a leak of a few nodes, not a wrong answer: not undone. */
  fuse_reply_buf(req, buf, used);
}

/* ENOSYS once: the kernel then never sends OPENDIR or RELEASEDIR again (libfuse
 * 3.14 answers a missing opendir handler with success, not ENOSYS). */
static void rv_opendir(fuse_req_t req, UNUSED fuse_ino_t ino, UNUSED struct fuse_file_info *fi)
{
  fuse_reply_err(req, ENOSYS);
}

static void rv_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, UNUSED struct fuse_file_info *fi)
{
  do_readdir(req, ino, size, off, false);
}

static void rv_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, UNUSED struct fuse_file_info *fi)
{
  do_readdir(req, ino, size, off, true);
}

static void rv_fsyncdir(fuse_req_t req, UNUSED fuse_ino_t ino, UNUSED int datasync, UNUSED struct fuse_file_info *fi)
{
  fuse_reply_err(req, 0);
}

static void rv_statfs(fuse_req_t req, UNUSED fuse_ino_t ino)
{
  struct statvfs st;
  if (fstatvfs(view.rootfd, &st) == -1)
    fuse_reply_err(req, errno);
  else
    fuse_reply_statfs(req, &st);
}

/* Only user.* xattrs are part of the view. Not user.overlay.*: overlayfs with
 * userxattr would take a stray one on the host for its own marker (an opaque
 * directory, a redirect). The rest (security.*, system.*, trusted.*) describes
 * the host's files to the host's kernel: capabilities for host root, ACLs
 * naming host users; inside the namespace it would be wrong or unusable. */
static bool xattr_shown(const char *name)
{
  return strncmp(name, "user.", 5) == 0 && strncmp(name, "user.overlay.", 13) != 0;
}

/* The absolute path of a node for the l*xattr calls, which take no directory
 * fd: / is the same directory the O_PATH fd holds, so the path means the same. */
static int xattr_path(fuse_ino_t ino, char *buf, size_t size)
{
  buf[0] = '/';
  return node_path(node_of(ino), NULL, buf + 1, size - 1);
}

/* Without --xattrs the view has no xattrs, and says so with ENOSYS: the kernel then
 * never asks again. overlayfs asks every lower directory and file it looks up for
 * its own xattrs (user.overlay.origin, .metacopy, ...): a round trip each, about as
 * many as the lookups themselves on a first walk. System files carry no user.*
 * xattrs worth that; --xattrs passes them for a host whose files do. */
static void rv_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
  if (!view.xattrs) {
    fuse_reply_err(req, ENOSYS);
    return;
  }
  if (!xattr_shown(name)) {
    fuse_reply_err(req, ENODATA);
    return;
  }
  char path[PATH_MAX];
  int err = xattr_path(ino, path, sizeof path);
  if (err != 0) {
    fuse_reply_err(req, -err);
    return;
  }
  autofree char *value = size > 0 ? malloc(size) : NULL;
  if (size > 0 && value == NULL) {
    fuse_reply_err(req, ENOMEM);
    return;
  }
  ssize_t len = lgetxattr(path, name, value, size);
  if (len == -1)
    fuse_reply_err(req, errno == ENOTSUP ? ENODATA : errno);
  else if (size == 0)
    fuse_reply_xattr(req, (size_t)len);
  else
    fuse_reply_buf(req, value, (size_t)len);
}

static void rv_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
  if (!view.xattrs) {
    fuse_reply_err(req, ENOSYS);
    return;
  }
  char path[PATH_MAX];
  int err = xattr_path(ino, path, sizeof path);
  if (err != 0) {
    fuse_reply_err(req, -err);
    return;
  }
  /* The whole host list, then the shown names: the kernel's size query must
   * get the filtered size. Retried if the list grows between the two calls. */
  autofree char *list = NULL;
  ssize_t len;
  for (int tries = 0;; tries++) {
    len = llistxattr(path, NULL, 0);
    if (len <= 0)
      break;
    free(list);
    list = malloc((size_t)len);
    if (list == NULL) {
      fuse_reply_err(req, ENOMEM);
      return;
    }
    len = llistxattr(path, list, (size_t)len);
    if (len >= 0 || errno != ERANGE || tries == 3)
      break;
  }
  if (len == -1 && errno != ENOTSUP) {
    fuse_reply_err(req, errno);
    return;
  }
  size_t kept = 0;
  for (ssize_t i = 0; i < len;) {
    size_t entry = strlen(list + i) + 1;
    if (xattr_shown(list + i)) {
      memmove(list + kept, list + i, entry);
      kept += entry;
    }
    i += (ssize_t)entry;
  }
  if (size == 0)
    fuse_reply_xattr(req, kept);
  else if (kept > size)
    fuse_reply_err(req, ERANGE);
  else
    fuse_reply_buf(req, list, kept);
}

/* Everything that would change the host: refused. The mount is "ro" as well, so
 * the kernel refuses most of these before they get here. */
static void refuse(fuse_req_t req)
{
  fuse_reply_err(req, EROFS);
}
static void rv_setattr(fuse_req_t req, UNUSED fuse_ino_t ino, UNUSED struct stat *attr, UNUSED int to_set,
                       UNUSED struct fuse_file_info *fi)
{
  refuse(req);
}
static void rv_mknod(fuse_req_t req, UNUSED fuse_ino_t parent, UNUSED const char *name, UNUSED mode_t mode,
                     UNUSED dev_t rdev)
{
  refuse(req);
}
static void rv_mkdir(fuse_req_t req, UNUSED fuse_ino_t parent, UNUSED const char *name, UNUSED mode_t mode)
{
  refuse(req);
}
static void rv_unlink(fuse_req_t req, UNUSED fuse_ino_t parent, UNUSED const char *name)
{
  refuse(req);
}
static void rv_symlink(fuse_req_t req, UNUSED const char *link, UNUSED fuse_ino_t parent, UNUSED const char *name)
{
  refuse(req);
}
static void rv_rename(fuse_req_t req, UNUSED fuse_ino_t parent, UNUSED const char *name, UNUSED fuse_ino_t newparent,
                      UNUSED const char *newname, UNUSED unsigned int flags)
{
  refuse(req);
}
static void rv_link(fuse_req_t req, UNUSED fuse_ino_t ino, UNUSED fuse_ino_t newparent, UNUSED const char *newname)
{
  refuse(req);
}
static void rv_create(fuse_req_t req, UNUSED fuse_ino_t parent, UNUSED const char *name, UNUSED mode_t mode,
                      UNUSED struct fuse_file_info *fi)
{
  refuse(req);
}
static void rv_setxattr(fuse_req_t req, UNUSED fuse_ino_t ino, UNUSED const char *name, UNUSED const char *value,
                        UNUSED size_t size, UNUSED int flags)
{
  refuse(req);
}
static void rv_removexattr(fuse_req_t req, UNUSED fuse_ino_t ino, UNUSED const char *name)
{
  refuse(req);
}
static void rv_write(fuse_req_t req, UNUSED fuse_ino_t ino, UNUSED const char *buf, UNUSED size_t size,
                     UNUSED off_t off, UNUSED struct fuse_file_info *fi)
{
  refuse(req);
}
static void rv_fallocate(fuse_req_t req, UNUSED fuse_ino_t ino, UNUSED int mode, UNUSED off_t offset,
                         UNUSED off_t length, UNUSED struct fuse_file_info *fi)
{
  refuse(req);
}
static void rv_copy_file_range(fuse_req_t req, UNUSED fuse_ino_t ino_in, UNUSED off_t off_in,
                               UNUSED struct fuse_file_info *fi_in, UNUSED fuse_ino_t ino_out,
                               UNUSED off_t off_out, UNUSED struct fuse_file_info *fi_out, UNUSED size_t len,
                               UNUSED int flags)
{
  refuse(req);
}

/* Not here on purpose: releasedir (see do_readdir), access
 * (default_permissions makes the kernel decide), locks (without getlk/setlk/flock the kernel keeps them locally), ioctl. */
const struct fuse_lowlevel_ops rootview_ops = {
  .init = rv_init,
  .lookup = rv_lookup,
  .forget = rv_forget,
  .forget_multi = rv_forget_multi,
  .getattr = rv_getattr,
  .readlink = rv_readlink,
  .open = rv_open,
  .read = rv_read,
  .flush = rv_flush,
  .fsync = rv_fsync,
  .opendir = rv_opendir,
  .readdir = rv_readdir,
  .readdirplus = rv_readdirplus,
  .fsyncdir = rv_fsyncdir,
  .statfs = rv_statfs,
  .getxattr = rv_getxattr,
  .listxattr = rv_listxattr,
  .setattr = rv_setattr,
  .mknod = rv_mknod,
  .mkdir = rv_mkdir,
  .unlink = rv_unlink,
  .rmdir = rv_unlink,
  .symlink = rv_symlink,
  .rename = rv_rename,
  .link = rv_link,
  .create = rv_create,
  .setxattr = rv_setxattr,
  .removexattr = rv_removexattr,
  .write = rv_write,
  .fallocate = rv_fallocate,
  .copy_file_range = rv_copy_file_range,
};
