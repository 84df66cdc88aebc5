/*
 * powercut-fs: a FUSE filesystem that simulates losing power.
 *
 * The backing directory holds the DURABLE state, as an ordinary tree. The daemon holds the
 * LIVE state (what programs see through the mount) in memory, and writes to the backing tree
 * only what a flush makes durable:
 *   - fsync/fdatasync of a file (or an O_DSYNC/O_SYNC write) makes its data and size durable;
 *     fsync (not fdatasync) also its mode and owner;
 *   - fsync of a directory makes its entries (create, unlink, rename, link, mkdir, rmdir) and
 *     its own mode durable.
 * Writing "cut" to the control file /.powercut makes every later operation fail with EIO;
 * "reboot" then throws the live state away and presents the backing tree again. Two more knobs
 * turn it into a bad disk: "lie on" (every flush reports success and makes nothing durable, a
 * volatile cache that ignores FLUSH) and "delay MS" / "delay-us US" (every flush first sleeps,
 * a slow disk).
 * See README.md for the full model and for what it does not model.
 *
 * Single-threaded on purpose (fuse_session_loop): the operations are totally ordered, so a cut
 * lands exactly between two of them and needs no locking.
 */
#define FUSE_USE_VERSION 34
#define _GNU_SOURCE

#include <fuse_lowlevel.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define CONTROL_NAME ".powercut"
#define UNNAMED_NAME ".powercut-unnamed"
#define ACKS_NAME ".powercut-acks"
#define CONTROL_INO 2
#define ACKS_INO 3
/* A write cut in the middle keeps whole sectors of it: a real disk writes a sector all or nothing. */
#define SECTOR 512
/* Live file contents are held in memory: refuse files larger than this rather than exhaust it. */
#define MAX_FILE_BYTES ((off_t)1 << 30)
#define MAX_VIOLATIONS 64
#define DIRTY_TO_END ((off_t)INT64_MAX)
/* The longest flush delay accepted: a typo must not hang a test run for hours. */
#define MAX_DELAY_MS 60000
#define MAX_DELAY_US (MAX_DELAY_MS * 1000L)
/* The last part of a flush delay is waited by polling the clock, not sleeping (see flush_point). */
#define SPIN_NS 100000

enum kind { K_FILE, K_DIR, K_SYMLINK, K_CONTROL };

struct node;
struct dent {
  char *name;
  struct node *node;
};
/* Directory tables are small in the workloads this tool serves; a linear array keeps it simple. */
struct dtab {
  struct dent *v;
  size_t n, cap;
};

struct node {
  uint64_t id; /* st_ino, and the node's name in the unnamed store */
  enum kind kind;
  bool stale;       /* belongs to a boot before the last reboot: every operation fails */
  uint64_t nlookup; /* references the kernel holds (lookup/create replies minus forgets) */
  unsigned nopen;   /* open handles */
  struct node *prev_all, *next_all;
  char *hint; /* the last name it was given, for messages only */

  /* live state */
  unsigned nlink;   /* files, symlinks: live names; directories: 1 while linked, 0 once removed */
  unsigned nsubdirs;
  mode_t mode;
  uid_t uid;
  gid_t gid;
  struct timespec atime, mtime, ctime;
  uint8_t *data; /* bytes [0, len); [len, size) reads as zeros */
  size_t len, cap;
  off_t size;
  bool loaded; /* data read from the backing file (lazily, on first use) */
  char *target;
  struct dtab entries;
  struct node *parent; /* live parent directory (directories only) */

  /* durable state */
  int bfd;         /* the backing object (O_RDWR for files, O_PATH otherwise), -1 if none */
  unsigned dlinks; /* durable names; 0 with bfd >= 0 means it sits in the unnamed store */
  struct node *dparent; /* directories: where their one durable name is */
  char *dname;
  struct dtab dentries;
  mode_t dmode;
  uid_t duid;
  gid_t dgid;
  bool dirty;     /* live data differs from durable data only in [dirty_lo, dirty_hi) */
  off_t dirty_lo;
  off_t dirty_hi; /* DIRTY_TO_END after a size change: the durable tail must be rebuilt */
  bool durable_secret; /* the durable data contains the audited secret */
};

struct handle {
  struct node *node;
  int flags;
  /* directories: the entries as they were at opendir, so offsets stay stable */
  struct {
    char *name;
    uint64_t ino;
    mode_t type;
  } *list;
  size_t nlist;
  /* control file: the status text as it was at open */
  char *text;
  size_t textlen;
};

static struct {
  const char *backing_path;
  int unnamed_fd;
  struct node *root;
  struct node control;
  struct node *all; /* every node of the current boot */
  uint64_t next_id;
  bool cut;
  bool lie;          /* flushes succeed without making anything durable */
  long delay_us;     /* every flush sleeps this many microseconds first */
  uint64_t arm_left; /* cut before the arm_left-th counted operation; 0: not armed */
  uint64_t arm_flush_left; /* cut right after the arm_flush_left-th flush returned; 0: not armed */
  uint64_t arm_write_left; /* cut in the middle of the arm_write_left-th write; 0: not armed */
  bool notify;       /* print "cut" on stdout when the power fails (-o notify) */
  int acks_fd;       /* where writes to the acknowledgements file go; -1: nowhere */
  pid_t guard;       /* a process group killed when the daemon stops (guard PGID); 0: none */
  struct node acks;
  bool mmap;         /* files open without direct I/O: the kernel's page cache, shared mmap */
  struct fuse_session *se;
  uint8_t *secret;
  size_t secret_len;
  char *violations[MAX_VIOLATIONS];
  unsigned nviolations;
  struct {
    uint64_t ops, writes, fsyncs, fdatasyncs, dsync_writes, fsyncdirs, cuts, reboots, syncs, acks;
    uint64_t failed_after_cut, backing_errors, unmodelled, lies, invalidated;
  } st;
} g;

/* ------------------------------------------------------------------------------------------ */
/* small helpers */

static void logmsg(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("powercut-fs: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

/* A backing call failed: the durable model no longer matches the tree. Counted, so the harness
 * can refuse a run in which that happened. */
static int backing_error(const char *what, const struct node *n) {
  int e = errno ? errno : EIO;
  g.st.backing_errors++;
  logmsg("backing %s failed for node %" PRIu64 " (%s): %s", what, n ? n->id : 0,
         n && n->hint ? n->hint : "?", strerror(e));
  return -e;
}

static void *xcalloc(size_t n, size_t size) {
  void *p = calloc(n, size);
  if (!p) {
    logmsg("out of memory");
    abort();
  }
  return p;
}

static char *xstrdup(const char *s) {
  char *p = strdup(s);
  if (!p) {
    logmsg("out of memory");
    abort();
  }
  return p;
}

static void set_hint(struct node *n, const char *name) {
  free(n->hint);
  n->hint = xstrdup(name);
}

static void now(struct timespec *t) { clock_gettime(CLOCK_REALTIME, t); }

static int64_t timespec_ns(struct timespec t) { return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec; }

/* Every flush (fsync, fdatasync, an O_DSYNC/O_SYNC write, a directory fsync) passes here before
 * doing its work: it sleeps the configured delay (the whole daemon waits, as one slow disk
 * would), and says whether the flush should really be done. False means "lie": the caller
 * reports success and leaves the durable state as it is. */
static bool flush_point(void) {
  if (g.delay_us > 0) {
    /* An absolute deadline: a signal that interrupts the sleep cannot lengthen it by
     * restarting the whole interval. (clock_nanosleep returns the error, it does not set errno.) */
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    int64_t until = timespec_ns(start) + (int64_t)g.delay_us * 1000;
    /* A timer wakes a sleeper some tens of microseconds late (more on a loaded VM): sleep to
     * SPIN_NS before the deadline, then poll the clock up to it. */
    if ((int64_t)g.delay_us * 1000 > SPIN_NS) {
      int64_t early = until - SPIN_NS;
      struct timespec wake = {(time_t)(early / 1000000000), (long)(early % 1000000000)};
      while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &wake, NULL) == EINTR) {
      }
    }
    struct timespec t;
    do clock_gettime(CLOCK_MONOTONIC, &t);
    while (timespec_ns(t) < until);
  }
  if (!g.lie) return true;
  g.st.lies++;
  return false;
}

/* Parses a whole number of decimal digits only (no sign, space, point or exponent) in 0..max;
 * -1 if it is not one. */
static long parse_bounded(const char *text, long max) {
  if (!text || !*text) return -1;
  long v = 0;
  for (const char *c = text; *c; c++) {
    if (*c < '0' || *c > '9') return -1;
    v = v * 10 + (*c - '0');
    if (v > max) return -1; /* also stops before an overflow */
  }
  return v;
}

/* A delay command's or mount option's value in microseconds; -1 if malformed or too long. */
static long parse_delay_us(const char *text, bool micros) {
  long v = parse_bounded(text, micros ? MAX_DELAY_US : MAX_DELAY_MS);
  return v < 0 ? -1 : micros ? v : v * 1000L;
}

static void id_name(const struct node *n, char out[32]) { snprintf(out, 32, "%" PRIu64, n->id); }

static bool is_alive(const struct node *n) { return !n->stale && n->nlink > 0; }

static struct dent *dtab_find(struct dtab *t, const char *name) {
  for (size_t i = 0; i < t->n; i++)
    if (strcmp(t->v[i].name, name) == 0) return &t->v[i];
  return NULL;
}

static struct node *dtab_get(struct dtab *t, const char *name) {
  struct dent *d = dtab_find(t, name);
  return d ? d->node : NULL;
}

static void dtab_put(struct dtab *t, const char *name, struct node *n) {
  struct dent *d = dtab_find(t, name);
  if (d) {
    d->node = n;
    return;
  }
  if (t->n == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 8;
    struct dent *v = realloc(t->v, cap * sizeof *v);
    if (!v) {
      logmsg("out of memory");
      abort();
    }
    t->v = v;
    t->cap = cap;
  }
  t->v[t->n].name = xstrdup(name);
  t->v[t->n].node = n;
  t->n++;
}

static void dtab_remove(struct dtab *t, const char *name) {
  for (size_t i = 0; i < t->n; i++) {
    if (strcmp(t->v[i].name, name) == 0) {
      free(t->v[i].name);
      t->v[i] = t->v[t->n - 1];
      t->n--;
      return;
    }
  }
}

static void dtab_free(struct dtab *t) {
  for (size_t i = 0; i < t->n; i++) free(t->v[i].name);
  free(t->v);
  memset(t, 0, sizeof *t);
}

/* ------------------------------------------------------------------------------------------ */
/* the secret audit: no state, live or durable, may hold the secret in a file others can read */

static bool holds_secret(const struct node *n) {
  return g.secret_len > 0 && n->len >= g.secret_len &&
         memmem(n->data, n->len, g.secret, g.secret_len) != NULL;
}

static void violation(const char *fmt, ...) {
  if (g.nviolations < MAX_VIOLATIONS) {
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    g.violations[g.nviolations] = xstrdup(buf);
  }
  g.nviolations++;
}

static void audit_live(const struct node *n) {
  if (n->kind == K_FILE && (n->mode & 0044) && holds_secret(n))
    violation("live node=%" PRIu64 " name=%s mode=%04o", n->id, n->hint ? n->hint : "?",
              (unsigned)(n->mode & 07777));
}

static void audit_durable(const struct node *n) {
  if (n->kind == K_FILE && (n->dmode & 0044) && n->durable_secret)
    violation("durable node=%" PRIu64 " name=%s mode=%04o", n->id, n->hint ? n->hint : "?",
              (unsigned)(n->dmode & 07777));
}

/* ------------------------------------------------------------------------------------------ */
/* nodes */

static struct node *new_node(enum kind kind, mode_t mode, uid_t uid, gid_t gid) {
  struct node *n = xcalloc(1, sizeof *n);
  n->id = g.next_id++;
  n->kind = kind;
  n->mode = mode;
  n->dmode = mode;
  n->uid = n->duid = uid;
  n->gid = n->dgid = gid;
  n->bfd = -1;
  n->loaded = true;
  now(&n->atime);
  n->mtime = n->ctime = n->atime;
  n->next_all = g.all;
  if (g.all) g.all->prev_all = n;
  g.all = n;
  return n;
}

static void unlist(struct node *n) {
  if (n->prev_all) n->prev_all->next_all = n->next_all;
  else if (g.all == n) g.all = n->next_all;
  if (n->next_all) n->next_all->prev_all = n->prev_all;
  n->prev_all = n->next_all = NULL;
}

static void release_contents(struct node *n) {
  if (n->bfd >= 0) close(n->bfd);
  n->bfd = -1;
  free(n->data);
  n->data = NULL;
  n->len = n->cap = 0;
  free(n->target);
  n->target = NULL;
  dtab_free(&n->entries);
  dtab_free(&n->dentries);
  free(n->dname);
  n->dname = NULL;
}

static void destroy_node(struct node *n) {
  unlist(n);
  release_contents(n);
  free(n->hint);
  free(n);
}

static int detach(struct node *dir, const char *name, struct node *n);

/* Frees a node nothing refers to any more: no live name, no durable name, no kernel reference,
 * no open handle. Its backing object, if any, is in the unnamed store: remove it. */
static void maybe_free(struct node *n) {
  if (n == g.root || n->kind == K_CONTROL) return;
  if (n->nlookup > 0 || n->nopen > 0) return;
  if (n->stale) {
    destroy_node(n);
    return;
  }
  if (n->nlink > 0 || n->dlinks > 0) return;
  if (n->bfd >= 0) {
    char idn[32];
    id_name(n, idn);
    if (n->kind == K_DIR) {
      while (n->dentries.n > 0) {
        char *name = xstrdup(n->dentries.v[0].name);
        detach(n, name, n->dentries.v[0].node);
        free(name);
      }
      if (unlinkat(g.unnamed_fd, idn, AT_REMOVEDIR) < 0) backing_error("rmdir unnamed", n);
    } else if (unlinkat(g.unnamed_fd, idn, 0) < 0) {
      backing_error("unlink unnamed", n);
    }
  }
  destroy_node(n);
}

/* Reads a backing file's contents into memory on first use. Trailing holes stay unread (a
 * preallocated segment costs nothing until written). */
static int load(struct node *n) {
  if (n->loaded) return 0;
  struct stat st;
  if (fstat(n->bfd, &st) < 0) return backing_error("fstat", n);
  off_t end = 0, off = 0;
  for (;;) {
    off_t d = lseek(n->bfd, off, SEEK_DATA);
    if (d < 0) break;
    off_t h = lseek(n->bfd, d, SEEK_HOLE);
    if (h < 0) {
      h = st.st_size;
    }
    end = h;
    off = h;
    if (off >= st.st_size) break;
  }
  if (end > st.st_size) end = st.st_size;
  if (end > MAX_FILE_BYTES) return -EFBIG;
  n->data = end ? malloc((size_t)end) : NULL;
  if (end && !n->data) return -ENOMEM;
  size_t got = 0;
  while (got < (size_t)end) {
    ssize_t r = pread(n->bfd, n->data + got, (size_t)end - got, (off_t)got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      free(n->data);
      n->data = NULL;
      return backing_error("read", n);
    }
    got += (size_t)r;
  }
  n->len = n->cap = (size_t)end;
  n->size = st.st_size;
  n->loaded = true;
  n->durable_secret = holds_secret(n);
  audit_live(n);
  return 0;
}

static int reserve(struct node *n, size_t need) {
  if ((off_t)need > MAX_FILE_BYTES) return -EFBIG;
  if (need <= n->cap) return 0;
  size_t cap = n->cap ? n->cap : 4096;
  while (cap < need) cap *= 2;
  uint8_t *p = realloc(n->data, cap);
  if (!p) return -ENOMEM;
  n->data = p;
  n->cap = cap;
  return 0;
}

/* Live bytes [from, to) changed (to = DIRTY_TO_END: and everything after them). */
static void mark_dirty(struct node *n, off_t from, off_t to) {
  if (!n->dirty || from < n->dirty_lo) n->dirty_lo = from;
  if (!n->dirty || to > n->dirty_hi) n->dirty_hi = to;
  n->dirty = true;
}

/* Live size change (truncate, preallocate): bytes past the new end are gone; bytes past the old
 * end read as zeros. */
static int set_size(struct node *n, off_t size) {
  if (size > MAX_FILE_BYTES) return -EFBIG;
  if (size == n->size) return 0;
  mark_dirty(n, size < n->size ? size : n->size, DIRTY_TO_END);
  if ((size_t)size < n->len) n->len = (size_t)size;
  n->size = size;
  return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* durability: moving state from the live model to the backing tree */

static int ensure_backing(struct node *n) {
  if (n->bfd >= 0) return 0;
  char idn[32];
  id_name(n, idn);
  if (n->kind == K_FILE) {
    n->bfd = openat(g.unnamed_fd, idn, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, n->dmode & 07777);
    if (n->bfd < 0) return backing_error("create unnamed", n);
    if (fchown(n->bfd, n->duid, n->dgid) < 0) return backing_error("fchown", n);
  } else if (n->kind == K_DIR) {
    if (mkdirat(g.unnamed_fd, idn, n->dmode & 07777) < 0) return backing_error("mkdir unnamed", n);
    n->bfd = openat(g.unnamed_fd, idn, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (n->bfd < 0) return backing_error("open unnamed dir", n);
    if (fchownat(g.unnamed_fd, idn, n->duid, n->dgid, AT_SYMLINK_NOFOLLOW) < 0)
      return backing_error("chown dir", n);
  } else {
    if (symlinkat(n->target, g.unnamed_fd, idn) < 0) return backing_error("symlink unnamed", n);
    n->bfd = openat(g.unnamed_fd, idn, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (n->bfd < 0) return backing_error("open unnamed symlink", n);
    if (fchownat(g.unnamed_fd, idn, n->duid, n->dgid, AT_SYMLINK_NOFOLLOW) < 0)
      return backing_error("chown symlink", n);
  }
  return 0;
}

/* Makes the owner and mode durable (fsync, O_SYNC, directory fsync; not fdatasync). */
static int flush_meta(struct node *n) {
  if (n->kind == K_SYMLINK) return 0;
  char proc[64];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", n->bfd);
  bool chowned = false;
  if (n->uid != n->duid || n->gid != n->dgid) {
    if (fchownat(AT_FDCWD, proc, n->uid, n->gid, 0) < 0) return backing_error("chown", n);
    n->duid = n->uid;
    n->dgid = n->gid;
    chowned = true;
  }
  if (chowned || (n->mode & 07777) != (n->dmode & 07777)) {
    /* chown may have cleared set-id bits: set the mode after it. O_PATH fds refuse fchmod, so
     * go through the /proc link, which chmod follows. */
    if (chmod(proc, n->mode & 07777) < 0) return backing_error("chmod", n);
  }
  n->dmode = n->mode;
  return 0;
}

/* fsync / fdatasync / O_DSYNC of a file: its data and size become durable; with `meta`, its
 * owner and mode too. A file with no name, live or durable, can never be seen again: nothing to
 * do. Otherwise the data goes to its backing file, which sits in the unnamed store until a
 * directory fsync gives it a durable name. */
static int flush_file(struct node *n, bool meta) {
  if (n->bfd < 0 && !is_alive(n)) return 0;
  int r = ensure_backing(n);
  if (r < 0) return r;
  if (n->dirty) {
    /* Everything outside [dirty_lo, dirty_hi) already matches: rewrite that range from the live
     * copy (only it: a flush of one block of a large file copies one block). After a size change
     * the durable tail from dirty_lo is rebuilt: cut off, then rewritten up to the live data's
     * end, the rest left a hole (zeros, as live). */
    struct stat st;
    if (fstat(n->bfd, &st) < 0) return backing_error("fstat", n);
    /* (A range past the live data's end would need zeros written: rebuild instead.) */
    bool rebuild = n->dirty_hi == DIRTY_TO_END || n->dirty_hi > (off_t)n->len;
    off_t backing_size = st.st_size;
    if (rebuild && st.st_size > n->dirty_lo) {
      if (ftruncate(n->bfd, n->dirty_lo) < 0) return backing_error("truncate", n);
      backing_size = n->dirty_lo;
    }
    off_t end = (off_t)n->len < n->size ? (off_t)n->len : n->size;
    if (!rebuild && n->dirty_hi < end) end = n->dirty_hi;
    off_t off = n->dirty_lo;
    while (off < end) {
      ssize_t w = pwrite(n->bfd, n->data + off, (size_t)(end - off), off);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return backing_error("write", n);
      off += w;
    }
    if (end > n->dirty_lo && end > backing_size) backing_size = end; /* the pwrite extended it */
    if (backing_size != n->size && ftruncate(n->bfd, n->size) < 0) return backing_error("truncate", n);
    n->dirty = false;
    n->durable_secret = holds_secret(n);
  }
  /* One fsync commits data and mode together: audit the state after both, not in between. */
  if (meta && (r = flush_meta(n)) < 0) return r;
  audit_durable(n);
  return 0;
}

/* Is `anc` the directory `d` itself or one of its durable ancestors? */
static bool durable_ancestor(const struct node *anc, const struct node *d) {
  for (; d; d = d->dparent)
    if (d == anc) return true;
  return false;
}

static void drop_durable_entries(struct node *dir) {
  while (dir->dentries.n > 0) {
    char *name = xstrdup(dir->dentries.v[0].name);
    detach(dir, name, dir->dentries.v[0].node);
    free(name);
  }
}

/* Removes the durable entry dir/name -> n. If it was n's last durable name and n is still alive
 * (renamed elsewhere, not yet durable there), its backing object moves to the unnamed store,
 * keeping its durable contents; if n is dead, its durable contents are unreachable: delete. */
static int detach(struct node *dir, const char *name, struct node *n) {
  int r = 0;
  dtab_remove(&dir->dentries, name);
  n->dlinks--;
  if (n->kind == K_DIR) {
    n->dparent = NULL;
    free(n->dname);
    n->dname = NULL;
  }
  if (n->dlinks > 0) {
    if (unlinkat(dir->bfd, name, 0) < 0) r = backing_error("unlink", n);
    return r;
  }
  if (is_alive(n)) {
    char idn[32];
    id_name(n, idn);
    if (renameat(dir->bfd, name, g.unnamed_fd, idn) < 0) r = backing_error("rename to unnamed", n);
    return r;
  }
  if (n->kind == K_DIR) {
    drop_durable_entries(n);
    if (unlinkat(dir->bfd, name, AT_REMOVEDIR) < 0) r = backing_error("rmdir", n);
  } else if (unlinkat(dir->bfd, name, 0) < 0) {
    r = backing_error("unlink", n);
  }
  if (n->bfd >= 0) close(n->bfd);
  n->bfd = -1;
  maybe_free(n);
  return r;
}

/* Adds the durable entry dir/name -> n (dir/name has no durable entry now). */
static int attach(struct node *dir, const char *name, struct node *n) {
  if (n->bfd < 0) {
    /* Never flushed: its durable self is what it was at creation (empty, creation mode). */
    if (n->kind == K_FILE) {
      n->bfd = openat(dir->bfd, name, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, n->dmode & 07777);
      if (n->bfd < 0) return backing_error("create", n);
      if (fchown(n->bfd, n->duid, n->dgid) < 0) return backing_error("fchown", n);
    } else if (n->kind == K_DIR) {
      if (mkdirat(dir->bfd, name, n->dmode & 07777) < 0) return backing_error("mkdir", n);
      n->bfd = openat(dir->bfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (n->bfd < 0) return backing_error("open dir", n);
      if (fchownat(dir->bfd, name, n->duid, n->dgid, AT_SYMLINK_NOFOLLOW) < 0)
        return backing_error("chown dir", n);
    } else {
      if (symlinkat(n->target, dir->bfd, name) < 0) return backing_error("symlink", n);
      n->bfd = openat(dir->bfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
      if (n->bfd < 0) return backing_error("open symlink", n);
      if (fchownat(dir->bfd, name, n->duid, n->dgid, AT_SYMLINK_NOFOLLOW) < 0)
        return backing_error("chown symlink", n);
    }
  } else if (n->dlinks == 0) {
    if (n->kind == K_DIR && durable_ancestor(n, dir)) goto cycle;
    char idn[32];
    id_name(n, idn);
    if (renameat(g.unnamed_fd, idn, dir->bfd, name) < 0) return backing_error("rename from unnamed", n);
  } else if (n->kind == K_DIR) {
    /* A directory has one name: it moves. So fsync of the new parent also makes the removal
     * from the old one durable (as a journalled rename would). */
    if (durable_ancestor(n, dir)) goto cycle;
    struct node *old = n->dparent;
    if (renameat(old->bfd, n->dname, dir->bfd, name) < 0) return backing_error("rename dir", n);
    dtab_remove(&old->dentries, n->dname);
    n->dlinks--;
  } else if (linkat(n->bfd, "", dir->bfd, name, AT_EMPTY_PATH) < 0) {
    return backing_error("link", n);
  }
  dtab_put(&dir->dentries, name, n);
  n->dlinks++;
  if (n->kind == K_DIR) {
    n->dparent = dir;
    free(n->dname);
    n->dname = xstrdup(name);
  }
  return 0;
cycle:
  g.st.unmodelled++;
  logmsg("directory fsync would move %s into its own durable subtree: not modelled", name);
  return -EIO;
}

/* fsync of a directory: its entries as they are now become its durable entries. */
static int flush_dir(struct node *dir) {
  if (dir->bfd < 0 && !is_alive(dir)) return 0;
  int r = ensure_backing(dir);
  if (r < 0) return r;
  size_t nnames = dir->entries.n + dir->dentries.n;
  char **names = xcalloc(nnames ? nnames : 1, sizeof *names);
  size_t k = 0;
  for (size_t i = 0; i < dir->entries.n; i++) names[k++] = xstrdup(dir->entries.v[i].name);
  for (size_t i = 0; i < dir->dentries.n; i++)
    if (!dtab_find(&dir->entries, dir->dentries.v[i].name)) names[k++] = xstrdup(dir->dentries.v[i].name);
  /* Additions and replacements first, removals after: a removed subdirectory may hold the
   * durable copy of something this same fsync gives a new name. */
  for (size_t i = 0; i < k && r == 0; i++) {
    struct node *live = dtab_get(&dir->entries, names[i]);
    struct node *dur = dtab_get(&dir->dentries, names[i]);
    if (!live || live == dur) continue;
    if (dur) r = detach(dir, names[i], dur);
    if (r == 0) r = attach(dir, names[i], live);
  }
  for (size_t i = 0; i < k && r == 0; i++) {
    struct node *dur = dtab_get(&dir->dentries, names[i]);
    if (dur && !dtab_get(&dir->entries, names[i])) r = detach(dir, names[i], dur);
  }
  for (size_t i = 0; i < k; i++) free(names[i]);
  free(names);
  if (r == 0) r = flush_meta(dir);
  return r;
}

/* "sync": the whole live tree becomes durable (a clean shutdown). Top-down, so every directory
 * has its durable place before its own entries are written. */
static int sync_all(void) {
  size_t cap = 64, head = 0, tail = 0;
  struct node **queue = xcalloc(cap, sizeof *queue);
  queue[tail++] = g.root;
  int r = 0;
  while (head < tail && r == 0) {
    struct node *d = queue[head++];
    r = flush_dir(d);
    for (size_t i = 0; i < d->entries.n && r == 0; i++) {
      struct node *c = d->entries.v[i].node;
      if (c->kind == K_DIR) {
        if (tail == cap) {
          cap *= 2;
          struct node **q = realloc(queue, cap * sizeof *q);
          if (!q) abort();
          queue = q;
        }
        queue[tail++] = c;
      } else if (c->kind == K_FILE) {
        r = flush_file(c, true);
      }
    }
  }
  free(queue);
  g.st.syncs++;
  return r;
}

/* ------------------------------------------------------------------------------------------ */
/* boot: build the live model from the backing tree */

struct inomap {
  dev_t dev;
  ino_t ino;
  struct node *node;
};
static struct inomap *inomap;
static size_t ninomap, capinomap;

static int remove_tree_at(int dirfd, const char *name) {
  int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? 0 : -errno;
  DIR *d = fdopendir(fd);
  if (!d) {
    close(fd);
    return -errno;
  }
  struct dirent *e;
  int r = 0;
  while ((e = readdir(d)) != NULL) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    if (unlinkat(fd, e->d_name, 0) == 0) continue;
    if (errno == EISDIR || errno == EPERM) {
      r = remove_tree_at(fd, e->d_name);
      if (r == 0 && unlinkat(fd, e->d_name, AT_REMOVEDIR) < 0) r = -errno;
    } else {
      r = -errno;
    }
    if (r < 0) break;
  }
  closedir(d);
  return r;
}

static int scan_dir(struct node *dir) {
  int fd = openat(dir->bfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return backing_error("open dir for scan", dir);
  DIR *d = fdopendir(fd);
  if (!d) {
    close(fd);
    return backing_error("fdopendir", dir);
  }
  struct dirent *e;
  int r = 0;
  while (r == 0 && (e = readdir(d)) != NULL) {
    const char *name = e->d_name;
    if (!strcmp(name, ".") || !strcmp(name, "..")) continue;
    if (dir == g.root && (!strcmp(name, UNNAMED_NAME) || !strcmp(name, CONTROL_NAME) || !strcmp(name, ACKS_NAME)))
      continue;
    struct stat st;
    if (fstatat(dir->bfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
      r = backing_error("stat", dir);
      break;
    }
    struct node *n = NULL;
    if (S_ISREG(st.st_mode) && st.st_nlink > 1) {
      for (size_t i = 0; i < ninomap; i++)
        if (inomap[i].dev == st.st_dev && inomap[i].ino == st.st_ino) n = inomap[i].node;
    }
    if (!n) {
      enum kind kind;
      if (S_ISREG(st.st_mode)) kind = K_FILE;
      else if (S_ISDIR(st.st_mode)) kind = K_DIR;
      else if (S_ISLNK(st.st_mode)) kind = K_SYMLINK;
      else {
        logmsg("ignoring %s: not a file, directory or symlink", name);
        continue;
      }
      n = new_node(kind, st.st_mode, st.st_uid, st.st_gid);
      n->atime = st.st_atim;
      n->mtime = st.st_mtim;
      n->ctime = st.st_ctim;
      set_hint(n, name);
      if (kind == K_FILE) {
        n->bfd = openat(dir->bfd, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
        n->loaded = false;
        n->size = st.st_size;
        if (st.st_nlink > 1) {
          if (ninomap == capinomap) {
            capinomap = capinomap ? capinomap * 2 : 16;
            inomap = realloc(inomap, capinomap * sizeof *inomap);
            if (!inomap) abort();
          }
          inomap[ninomap++] = (struct inomap){st.st_dev, st.st_ino, n};
        }
      } else if (kind == K_DIR) {
        n->bfd = openat(dir->bfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        n->parent = dir;
        n->dparent = dir;
        n->dname = xstrdup(name);
        dir->nsubdirs++;
      } else {
        n->bfd = openat(dir->bfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        char buf[PATH_MAX];
        ssize_t len = readlinkat(dir->bfd, name, buf, sizeof buf - 1);
        if (len < 0) len = 0;
        buf[len] = '\0';
        n->target = xstrdup(buf);
        n->size = len;
      }
      if (n->bfd < 0) {
        r = backing_error("open", n);
        break;
      }
      if (kind == K_DIR) r = scan_dir(n);
    }
    dtab_put(&dir->entries, name, n);
    dtab_put(&dir->dentries, name, n);
    n->nlink++;
    n->dlinks++;
  }
  closedir(d);
  return r;
}

/* Presents the backing tree as the live state. Everything of the previous boot is stale:
 * the kernel may still name those nodes (cached dentries, open files) and gets EIO for them. */
static int boot(void) {
  for (struct node *n = g.all, *next; n; n = next) {
    next = n->next_all;
    n->stale = true;
    release_contents(n);
    n->nlink = n->dlinks = 0;
    if (n == g.root) {
      /* The kernel never forgets the root: the new root takes its node id. */
      n->nlookup = 0;
      g.root = NULL;
    }
    if (n->nlookup == 0 && n->nopen == 0) destroy_node(n);
  }
  /* Stale nodes stay on no list: they are freed by their last forget or release. */
  for (struct node *n = g.all, *next; n; n = next) {
    next = n->next_all;
    n->prev_all = n->next_all = NULL;
  }
  g.all = NULL;

  if (g.unnamed_fd >= 0) close(g.unnamed_fd);
  int bfd = open(g.backing_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (bfd < 0) return backing_error("open backing root", NULL);
  int dfd = open(g.backing_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return backing_error("open backing root", NULL);
  /* Nodes that were durable but had no durable name are lost with the power. */
  int r = remove_tree_at(dfd, UNNAMED_NAME);
  if (r == 0 && unlinkat(dfd, UNNAMED_NAME, AT_REMOVEDIR) < 0 && errno != ENOENT) r = -errno;
  if (r == 0 && mkdirat(dfd, UNNAMED_NAME, 0700) < 0) r = -errno;
  close(dfd);
  if (r < 0) {
    errno = -r;
    return backing_error("reset unnamed store", NULL);
  }
  g.unnamed_fd = openat(bfd, UNNAMED_NAME, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (g.unnamed_fd < 0) return backing_error("open unnamed store", NULL);

  struct stat st;
  if (fstat(bfd, &st) < 0) return backing_error("stat backing root", NULL);
  g.root = new_node(K_DIR, st.st_mode, st.st_uid, st.st_gid);
  g.root->bfd = bfd;
  g.root->nlink = 1;
  g.root->dlinks = 1;
  set_hint(g.root, "/");
  ninomap = 0;
  return scan_dir(g.root);
}

/* ------------------------------------------------------------------------------------------ */
/* the power switch */

static void do_cut(void) {
  if (!g.cut) {
    g.st.cuts++;
    /* The harness kills the workload at once, as the power would: a process that outlived the
     * cut could only go on failing with EIO. */
    if (g.notify) {
      fputs("cut\n", stdout);
      fflush(stdout);
    }
  }
  g.cut = true;
  g.arm_left = g.arm_flush_left = g.arm_write_left = 0;
}

/* A flush returned: the point "after the N-th flush" (arm-flush N) cuts here, so the flush is
 * durable and the next operation fails. */
static void flush_done(void) {
  if (g.arm_flush_left > 0 && --g.arm_flush_left == 0) do_cut();
}

/* Every operation on the filesystem passes here first. After the cut, all of them fail. */
static bool gate(fuse_req_t req) {
  if (g.arm_left > 0 && --g.arm_left == 0) do_cut();
  if (g.cut) {
    g.st.failed_after_cut++;
    fuse_reply_err(req, EIO);
    return true;
  }
  g.st.ops++;
  return false;
}

static struct node *node_of(fuse_ino_t ino) {
  if (ino == FUSE_ROOT_ID) return g.root;
  return (struct node *)(uintptr_t)ino;
}

static fuse_ino_t ino_of(struct node *n) {
  return n == g.root ? FUSE_ROOT_ID : (fuse_ino_t)(uintptr_t)n;
}

/* Resolves a live node; replies with an error and returns NULL for stale nodes. */
static struct node *live_node(fuse_req_t req, fuse_ino_t ino) {
  struct node *n = node_of(ino);
  if (!n || n->stale) {
    fuse_reply_err(req, EIO);
    return NULL;
  }
  return n;
}

/* ------------------------------------------------------------------------------------------ */
/* the control file */

static char *status_text(size_t *len) {
  size_t cap = 1024 + (size_t)MAX_VIOLATIONS * 300;
  char *buf = xcalloc(1, cap);
  size_t k = 0;
#define OUT(...) k += (size_t)snprintf(buf + k, cap - k, __VA_ARGS__)
  OUT("state=%s\n", g.cut ? "cut" : "running");
  OUT("armed=%" PRIu64 "\n", g.arm_left);
  OUT("armed_flush=%" PRIu64 "\n", g.arm_flush_left);
  OUT("armed_write=%" PRIu64 "\n", g.arm_write_left);
  OUT("ops=%" PRIu64 "\n", g.st.ops);
  OUT("writes=%" PRIu64 "\n", g.st.writes);
  OUT("fsyncs=%" PRIu64 "\n", g.st.fsyncs);
  OUT("fdatasyncs=%" PRIu64 "\n", g.st.fdatasyncs);
  OUT("dsync_writes=%" PRIu64 "\n", g.st.dsync_writes);
  OUT("fsyncdirs=%" PRIu64 "\n", g.st.fsyncdirs);
  OUT("syncs=%" PRIu64 "\n", g.st.syncs);
  OUT("cuts=%" PRIu64 "\n", g.st.cuts);
  OUT("reboots=%" PRIu64 "\n", g.st.reboots);
  OUT("failed_after_cut=%" PRIu64 "\n", g.st.failed_after_cut);
  OUT("acks=%" PRIu64 "\n", g.st.acks);
  OUT("backing_errors=%" PRIu64 "\n", g.st.backing_errors);
  OUT("unmodelled=%" PRIu64 "\n", g.st.unmodelled);
  OUT("lie=%s\n", g.lie ? "on" : "off");
  OUT("lies=%" PRIu64 "\n", g.st.lies);
  OUT("mmap=%s\n", g.mmap ? "on" : "off");
  OUT("invalidated=%" PRIu64 "\n", g.st.invalidated);
  /* delay_ms stays for older readers, exact: a fraction only when the delay is not whole ms. */
  if (g.delay_us % 1000) {
    char frac[8];
    snprintf(frac, sizeof frac, "%03ld", g.delay_us % 1000);
    for (int i = 2; i > 0 && frac[i] == '0'; i--) frac[i] = '\0';
    OUT("delay_ms=%ld.%s\n", g.delay_us / 1000, frac);
  } else {
    OUT("delay_ms=%ld\n", g.delay_us / 1000);
  }
  OUT("delay_us=%ld\n", g.delay_us);
  OUT("violations=%u\n", g.nviolations);
  for (unsigned i = 0; i < g.nviolations && i < MAX_VIOLATIONS; i++) OUT("violation=%s\n", g.violations[i]);
#undef OUT
  *len = k;
  return buf;
}

/* mmap mode: the kernel's page cache of the previous boot is dropped at a reboot.
 *
 * Without direct I/O the kernel keeps file pages in its page cache, and a process of the old boot
 * that still has a file open or mapped would go on reading its pre-cut contents from there (and
 * the pages of a shared mapping stay mapped). A reboot therefore tells the kernel to drop the
 * pages of every file inode it knows from the old boot (FUSE_NOTIFY_INVAL_INODE, whole file):
 * mapped pages are unmapped, and the next access asks the daemon, which answers EIO for the stale
 * node (SIGBUS for a mapping), as for direct I/O. New opens after the reboot never meet those
 * pages anyway: every node of the new boot has a new node id, so a new kernel inode.
 *
 * The kernel writes a dirty page of a shared mapping back (a WRITE request) before dropping it,
 * and waits for that WRITE, which this single-threaded daemon must answer (EIO: the node is
 * stale): the notifications are sent from a helper thread while the loop goes on serving, and the
 * control write that asked for the reboot is answered by that thread once all were sent. The
 * thread touches no node: only the list of inode numbers taken before the reboot, the session
 * (libfuse's replies and notifications may come from any thread) and one atomic counter. */
struct inval_job {
  fuse_ino_t *inos;
  size_t n;
  fuse_req_t req; /* the control write to answer when done */
  size_t size;    /* its size (the reply), or 0 with err */
  int err;
};

static struct inval_job *pending_inval; /* taken by the reboot command, started by the control write */

static void *inval_thread(void *arg) {
  struct inval_job *job = arg;
  for (size_t i = 0; i < job->n; i++) {
    /* ENOENT: the kernel had already forgotten the inode (and its pages with it). */
    if (fuse_lowlevel_notify_inval_inode(g.se, job->inos[i], 0, 0) == 0)
      __atomic_add_fetch(&g.st.invalidated, 1, __ATOMIC_RELAXED);
  }
  if (job->err) fuse_reply_err(job->req, job->err);
  else fuse_reply_write(job->req, job->size);
  free(job->inos);
  free(job);
  return NULL;
}

/* The file inodes the kernel may hold pages of (it has looked them up and not forgotten them). */
static void take_inval_list(void) {
#ifdef POWERCUT_KEEP_PAGE_CACHE
  /* Built only by the test that shows what this invalidation prevents (its negative control). */
  return;
#endif
  if (!g.mmap || pending_inval) return;
  size_t n = 0;
  for (struct node *m = g.all; m; m = m->next_all)
    if (m->kind == K_FILE && m->nlookup > 0) n++;
  if (n == 0) return;
  struct inval_job *job = xcalloc(1, sizeof *job);
  job->inos = xcalloc(n, sizeof *job->inos);
  for (struct node *m = g.all; m; m = m->next_all)
    if (m->kind == K_FILE && m->nlookup > 0) job->inos[job->n++] = ino_of(m);
  pending_inval = job;
}

/* Answers the control write: at once, or from the invalidation thread when a reboot took a list. */
static void reply_control_write(fuse_req_t req, int r, size_t size) {
  struct inval_job *job = pending_inval;
  pending_inval = NULL;
  if (job) {
    job->req = req;
    job->err = r < 0 ? -r : 0;
    job->size = size;
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int e = pthread_create(&t, &attr, inval_thread, job);
    pthread_attr_destroy(&attr);
    if (e == 0) return;
    /* Sending them from this thread could deadlock on a dirty page: count it instead. */
    logmsg("cannot start the page cache invalidation thread: %s", strerror(e));
    g.st.backing_errors++;
    free(job->inos);
    free(job);
  }
  if (r < 0) fuse_reply_err(req, -r);
  else fuse_reply_write(req, size);
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static int control_command(char *line) {
  char *arg = strchr(line, ' ');
  if (arg) *arg++ = '\0';
  if (!strcmp(line, "cut")) {
    do_cut();
    return 0;
  }
  if (!strcmp(line, "reboot")) {
    do_cut();
    take_inval_list(); /* before boot() leaves the old nodes off every list */
    int r = boot();
    if (r < 0) return r; /* stays cut: the durable state could not be presented */
    g.cut = false;
    g.st.reboots++;
    return 0;
  }
  if (!strcmp(line, "sync")) return g.cut ? -EIO : sync_all();
  if (!strcmp(line, "arm") || !strcmp(line, "arm-flush") || !strcmp(line, "arm-write")) {
    long n = parse_bounded(arg, LONG_MAX / 10);
    if (n <= 0) return -EINVAL;
    uint64_t *which = line[3] == '\0' ? &g.arm_left : line[4] == 'f' ? &g.arm_flush_left : &g.arm_write_left;
    *which = (uint64_t)n;
    return 0;
  }
  if (!strcmp(line, "disarm")) {
    g.arm_left = g.arm_flush_left = g.arm_write_left = 0;
    return 0;
  }
  if (!strcmp(line, "guard")) {
    /* The workload's process group: if the program that mounted this dies without ending it
     * (killed), the daemon, stopped by its parent's death, ends the workload too. */
    long pgid = arg ? parse_bounded(arg, INT_MAX) : 0;
    if (pgid < 0) return -EINVAL;
    g.guard = (pid_t)pgid;
    return 0;
  }
  if (!strcmp(line, "acks")) {
    /* Where the acknowledgements file's writes go from now on (appended); "acks" alone: nowhere. */
    int fd = -1;
    if (arg && *arg) {
      fd = open(arg, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
      if (fd < 0) return -errno;
    }
    if (g.acks_fd >= 0) close(g.acks_fd);
    g.acks_fd = fd;
    return 0;
  }
  if (!strcmp(line, "secret")) {
    size_t hl = arg ? strlen(arg) : 0;
    if (hl % 2) return -EINVAL;
    uint8_t *s = hl ? malloc(hl / 2) : NULL;
    for (size_t i = 0; i < hl / 2; i++) {
      int hi = hexval(arg[2 * i]), lo = hexval(arg[2 * i + 1]);
      if (hi < 0 || lo < 0) {
        free(s);
        return -EINVAL;
      }
      s[i] = (uint8_t)(hi << 4 | lo);
    }
    free(g.secret);
    g.secret = s;
    g.secret_len = hl / 2;
    return 0;
  }
  if (!strcmp(line, "lie")) {
    if (!arg || !strcmp(arg, "on")) g.lie = true;
    else if (!strcmp(arg, "off")) g.lie = false;
    else return -EINVAL;
    return 0;
  }
  if (!strcmp(line, "delay") || !strcmp(line, "delay-us")) {
    long us = parse_delay_us(arg, line[5] == '-');
    if (us < 0) return -EINVAL;
    g.delay_us = us;
    return 0;
  }
  if (!strcmp(line, "reset")) {
    for (unsigned i = 0; i < g.nviolations && i < MAX_VIOLATIONS; i++) free(g.violations[i]);
    g.nviolations = 0;
    memset(&g.st, 0, sizeof g.st);
    return 0;
  }
  return -EINVAL;
}

/* The control and acknowledgements files belong to whoever runs the daemon, so that a user who
 * mounted it (through fusermount3) can open them under default_permissions. */
static void control_stat(fuse_ino_t ino, struct stat *st) {
  memset(st, 0, sizeof *st);
  st->st_ino = ino == (fuse_ino_t)(uintptr_t)&g.acks ? ACKS_INO : CONTROL_INO;
  st->st_mode = S_IFREG | 0600;
  st->st_uid = geteuid();
  st->st_gid = getegid();
  st->st_nlink = 1;
  st->st_size = 0;
}

/* ------------------------------------------------------------------------------------------ */
/* attributes and entries */

static void fill_stat(const struct node *n, struct stat *st) {
  memset(st, 0, sizeof *st);
  st->st_ino = n->id;
  st->st_mode = n->mode;
  st->st_uid = n->uid;
  st->st_gid = n->gid;
  st->st_blksize = 4096;
  st->st_atim = n->atime;
  st->st_mtim = n->mtime;
  st->st_ctim = n->ctime;
  switch (n->kind) {
  case K_DIR:
    st->st_nlink = n->nlink ? 2 + n->nsubdirs : 0;
    st->st_size = 4096;
    st->st_blocks = 8;
    break;
  case K_SYMLINK:
    st->st_nlink = n->nlink;
    st->st_size = (off_t)strlen(n->target);
    break;
  default:
    st->st_nlink = n->nlink;
    st->st_size = n->size;
    st->st_blocks = (blkcnt_t)((n->len + 511) / 512);
  }
}

static void reply_entry(fuse_req_t req, struct node *n) {
  struct fuse_entry_param e;
  memset(&e, 0, sizeof e);
  e.ino = ino_of(n);
  e.generation = 1;
  /* Zero timeouts: the kernel asks again every time, so a reboot is seen at once. */
  e.attr_timeout = 0;
  e.entry_timeout = 0;
  fill_stat(n, &e.attr);
  n->nlookup++;
  fuse_reply_entry(req, &e);
}

static void reply_attr(fuse_req_t req, const struct node *n) {
  struct stat st;
  fill_stat(n, &st);
  fuse_reply_attr(req, &st, 0);
}

static int check_name(struct node *parent, const char *name) {
  if (strlen(name) > NAME_MAX) return -ENAMETOOLONG;
  if (parent == g.root && (!strcmp(name, CONTROL_NAME) || !strcmp(name, UNNAMED_NAME) || !strcmp(name, ACKS_NAME)))
    return -EPERM;
  return 0;
}

/* Resolves a live directory for a name operation, replying with the error if it is not one. */
static struct node *live_dir(fuse_req_t req, fuse_ino_t ino) {
  struct node *d = live_node(req, ino);
  if (!d) return NULL;
  if (d->kind != K_DIR) {
    fuse_reply_err(req, ENOTDIR);
    return NULL;
  }
  if (d->nlink == 0) {
    fuse_reply_err(req, ENOENT);
    return NULL;
  }
  return d;
}

static void touch_dir(struct node *d) {
  now(&d->mtime);
  d->ctime = d->mtime;
}

/* Creates a live node under parent/name (which must be free). */
static struct node *make_child(fuse_req_t req, struct node *parent, const char *name, enum kind kind,
                               mode_t mode) {
  const struct fuse_ctx *ctx = fuse_req_ctx(req);
  gid_t gid = ctx->gid;
  if (parent->mode & S_ISGID) {
    gid = parent->gid;
    if (kind == K_DIR) mode |= S_ISGID;
  }
  struct node *n = new_node(kind, mode, ctx->uid, gid);
  set_hint(n, name);
  n->nlink = 1;
  dtab_put(&parent->entries, name, n);
  if (kind == K_DIR) {
    n->parent = parent;
    parent->nsubdirs++;
  }
  touch_dir(parent);
  return n;
}

/* ------------------------------------------------------------------------------------------ */
/* FUSE operations */

static void pc_init(void *userdata, struct fuse_conn_info *conn) {
  (void)userdata;
  /* Every write, read and attribute must reach the daemon: no kernel-side caching. */
  conn->want &= ~(unsigned)(FUSE_CAP_WRITEBACK_CACHE | FUSE_CAP_ATOMIC_O_TRUNC | FUSE_CAP_READDIRPLUS |
                            FUSE_CAP_AUTO_INVAL_DATA);
}

static void pc_lookup(fuse_req_t req, fuse_ino_t parent, const char *name) {
  if (parent == FUSE_ROOT_ID && (!strcmp(name, CONTROL_NAME) || !strcmp(name, ACKS_NAME))) {
    struct fuse_entry_param e;
    memset(&e, 0, sizeof e);
    e.ino = (fuse_ino_t)(uintptr_t)(strcmp(name, ACKS_NAME) ? &g.control : &g.acks);
    e.generation = 1;
    control_stat(e.ino, &e.attr);
    fuse_reply_entry(req, &e);
    return;
  }
  if (gate(req)) return;
  struct node *d = live_dir(req, parent);
  if (!d) return;
  struct node *n = dtab_get(&d->entries, name);
  if (!n) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  reply_entry(req, n);
}

static void forget_one(fuse_ino_t ino, uint64_t nlookup) {
  struct node *n = node_of(ino);
  if (!n || n->kind == K_CONTROL || n == g.root) return;
  n->nlookup = n->nlookup > nlookup ? n->nlookup - nlookup : 0;
  maybe_free(n);
}

static void pc_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  forget_one(ino, nlookup);
  fuse_reply_none(req);
}

static void pc_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets) {
  for (size_t i = 0; i < count; i++) forget_one(forgets[i].ino, forgets[i].nlookup);
  fuse_reply_none(req);
}

/* The control file and the acknowledgements file: outside the model, never counted, never cut
 * by an arm (an acknowledgement still fails once the power is off). */
static bool is_control(fuse_ino_t ino) {
  return ino == (fuse_ino_t)(uintptr_t)&g.control || ino == (fuse_ino_t)(uintptr_t)&g.acks;
}
static bool is_acks(fuse_ino_t ino) { return ino == (fuse_ino_t)(uintptr_t)&g.acks; }

static void pc_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  (void)fi;
  if (is_control(ino)) {
    struct stat st;
    control_stat(ino, &st);
    fuse_reply_attr(req, &st, 0);
    return;
  }
  /* default_permissions has the kernel fetch the root's attributes on every path walk: the
   * control file must stay reachable after the cut. */
  if (g.cut && ino == FUSE_ROOT_ID) {
    reply_attr(req, g.root);
    return;
  }
  if (gate(req)) return;
  struct node *n = live_node(req, ino);
  if (n) reply_attr(req, n);
}

static void pc_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set, struct fuse_file_info *fi) {
  (void)fi;
  if (is_control(ino)) {
    struct stat st;
    control_stat(ino, &st);
    fuse_reply_attr(req, &st, 0);
    return;
  }
  if (gate(req)) return;
  struct node *n = live_node(req, ino);
  if (!n) return;
  struct timespec t;
  now(&t);
  /* The audit needs the contents of a file whose mode changes. */
  if ((to_set & FUSE_SET_ATTR_MODE) && n->kind == K_FILE && g.secret_len > 0) {
    int r = load(n);
    if (r < 0) {
      fuse_reply_err(req, -r);
      return;
    }
  }
  if (to_set & FUSE_SET_ATTR_SIZE) {
    if (n->kind != K_FILE) {
      fuse_reply_err(req, n->kind == K_DIR ? EISDIR : EINVAL);
      return;
    }
    int r = load(n);
    if (r == 0) r = set_size(n, attr->st_size);
    if (r < 0) {
      fuse_reply_err(req, -r);
      return;
    }
    n->mtime = t;
  }
  if (to_set & FUSE_SET_ATTR_UID) n->uid = attr->st_uid;
  if (to_set & FUSE_SET_ATTR_GID) n->gid = attr->st_gid;
  if (to_set & FUSE_SET_ATTR_MODE) n->mode = (n->mode & S_IFMT) | (attr->st_mode & 07777);
  if (to_set & FUSE_SET_ATTR_ATIME) n->atime = attr->st_atim;
  if (to_set & FUSE_SET_ATTR_ATIME_NOW) n->atime = t;
  if (to_set & FUSE_SET_ATTR_MTIME) n->mtime = attr->st_mtim;
  if (to_set & FUSE_SET_ATTR_MTIME_NOW) n->mtime = t;
  n->ctime = (to_set & FUSE_SET_ATTR_CTIME) ? attr->st_ctim : t;
  audit_live(n);
  reply_attr(req, n);
}

static void pc_readlink(fuse_req_t req, fuse_ino_t ino) {
  if (gate(req)) return;
  struct node *n = live_node(req, ino);
  if (!n) return;
  if (n->kind != K_SYMLINK) {
    fuse_reply_err(req, EINVAL);
    return;
  }
  fuse_reply_readlink(req, n->target);
}

/* Common checks for the operations that create parent/name. */
static struct node *creation_parent(fuse_req_t req, fuse_ino_t parent, const char *name) {
  struct node *d = live_dir(req, parent);
  if (!d) return NULL;
  int r = check_name(d, name);
  if (r == 0 && dtab_get(&d->entries, name)) r = -EEXIST;
  if (r < 0) {
    fuse_reply_err(req, -r);
    return NULL;
  }
  return d;
}

static void pc_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev) {
  (void)rdev;
  if (gate(req)) return;
  if (!S_ISREG(mode)) {
    fuse_reply_err(req, EPERM);
    return;
  }
  struct node *d = creation_parent(req, parent, name);
  if (!d) return;
  reply_entry(req, make_child(req, d, name, K_FILE, S_IFREG | (mode & 07777)));
}

static void pc_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode) {
  if (gate(req)) return;
  struct node *d = creation_parent(req, parent, name);
  if (!d) return;
  reply_entry(req, make_child(req, d, name, K_DIR, S_IFDIR | (mode & 07777)));
}

static void pc_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name) {
  if (gate(req)) return;
  struct node *d = creation_parent(req, parent, name);
  if (!d) return;
  struct node *n = make_child(req, d, name, K_SYMLINK, S_IFLNK | 0777);
  n->target = xstrdup(link);
  reply_entry(req, n);
}

static void pc_unlink(fuse_req_t req, fuse_ino_t parent, const char *name) {
  if (gate(req)) return;
  struct node *d = live_dir(req, parent);
  if (!d) return;
  if (d == g.root && (!strcmp(name, CONTROL_NAME) || !strcmp(name, ACKS_NAME))) {
    fuse_reply_err(req, EPERM);
    return;
  }
  struct node *n = dtab_get(&d->entries, name);
  if (!n) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  if (n->kind == K_DIR) {
    fuse_reply_err(req, EISDIR);
    return;
  }
  dtab_remove(&d->entries, name);
  n->nlink--;
  now(&n->ctime);
  touch_dir(d);
  maybe_free(n);
  fuse_reply_err(req, 0);
}

static void pc_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name) {
  if (gate(req)) return;
  struct node *d = live_dir(req, parent);
  if (!d) return;
  struct node *n = dtab_get(&d->entries, name);
  int err = 0;
  if (!n) err = ENOENT;
  else if (n->kind != K_DIR) err = ENOTDIR;
  else if (n->entries.n > 0) err = ENOTEMPTY;
  if (err) {
    fuse_reply_err(req, err);
    return;
  }
  dtab_remove(&d->entries, name);
  d->nsubdirs--;
  n->nlink = 0;
  n->parent = NULL;
  touch_dir(d);
  maybe_free(n);
  fuse_reply_err(req, 0);
}

/* Is `anc` the directory `d` or a live ancestor of it? */
static bool live_ancestor(const struct node *anc, const struct node *d) {
  for (; d; d = d->parent)
    if (d == anc) return true;
  return false;
}

static void pc_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
                      const char *newname, unsigned int flags) {
  if (gate(req)) return;
  struct node *from = live_dir(req, parent);
  if (!from) return;
  struct node *to = live_dir(req, newparent);
  if (!to) return;
  if ((from == g.root && (!strcmp(name, CONTROL_NAME) || !strcmp(name, ACKS_NAME))) || check_name(to, newname) < 0) {
    fuse_reply_err(req, strlen(newname) > NAME_MAX ? ENAMETOOLONG : EPERM);
    return;
  }
  if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE)) {
    fuse_reply_err(req, EINVAL);
    return;
  }
  struct node *n = dtab_get(&from->entries, name);
  struct node *target = dtab_get(&to->entries, newname);
  if (!n) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  if ((flags & RENAME_NOREPLACE) && target) {
    fuse_reply_err(req, EEXIST);
    return;
  }
  if (flags & RENAME_EXCHANGE) {
    if (!target) {
      fuse_reply_err(req, ENOENT);
      return;
    }
    if ((n->kind == K_DIR && live_ancestor(n, to)) || (target->kind == K_DIR && live_ancestor(target, from))) {
      fuse_reply_err(req, EINVAL);
      return;
    }
    dtab_put(&from->entries, name, target);
    dtab_put(&to->entries, newname, n);
    if (n->kind == K_DIR) {
      n->parent = to;
      from->nsubdirs--;
      to->nsubdirs++;
    }
    if (target->kind == K_DIR) {
      target->parent = from;
      to->nsubdirs--;
      from->nsubdirs++;
    }
    set_hint(n, newname);
    set_hint(target, name);
    touch_dir(from);
    touch_dir(to);
    fuse_reply_err(req, 0);
    return;
  }
  if (target == n) {
    fuse_reply_err(req, 0);
    return;
  }
  if (n->kind == K_DIR && live_ancestor(n, to)) {
    fuse_reply_err(req, EINVAL);
    return;
  }
  if (target) {
    int err = 0;
    if (n->kind == K_DIR && target->kind != K_DIR) err = ENOTDIR;
    else if (n->kind != K_DIR && target->kind == K_DIR) err = EISDIR;
    else if (target->kind == K_DIR && target->entries.n > 0) err = ENOTEMPTY;
    if (err) {
      fuse_reply_err(req, err);
      return;
    }
  }
  dtab_remove(&from->entries, name);
  if (target) {
    if (target->kind == K_DIR) {
      target->nlink = 0;
      target->parent = NULL;
      to->nsubdirs--;
    } else {
      target->nlink--;
    }
  }
  dtab_put(&to->entries, newname, n);
  if (n->kind == K_DIR) {
    n->parent = to;
    from->nsubdirs--;
    to->nsubdirs++;
  }
  set_hint(n, newname);
  now(&n->ctime);
  touch_dir(from);
  touch_dir(to);
  if (target) maybe_free(target);
  fuse_reply_err(req, 0);
}

static void pc_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname) {
  if (gate(req)) return;
  struct node *n = live_node(req, ino);
  if (!n) return;
  if (n->kind == K_DIR) {
    fuse_reply_err(req, EPERM);
    return;
  }
  if (n->nlink == 0) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  struct node *d = creation_parent(req, newparent, newname);
  if (!d) return;
  dtab_put(&d->entries, newname, n);
  n->nlink++;
  now(&n->ctime);
  touch_dir(d);
  reply_entry(req, n);
}

static struct handle *new_handle(struct node *n, int flags) {
  struct handle *h = xcalloc(1, sizeof *h);
  h->node = n;
  h->flags = flags;
  n->nopen++;
  return h;
}

static void free_handle(struct handle *h) {
  struct node *n = h->node;
  for (size_t i = 0; i < h->nlist; i++) free(h->list[i].name);
  free(h->list);
  free(h->text);
  free(h);
  if (n->kind == K_CONTROL) return;
  n->nopen--;
  maybe_free(n);
}

static void pc_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  if (is_control(ino)) {
    struct handle *h = xcalloc(1, sizeof *h);
    h->node = node_of(ino);
    if (!is_acks(ino)) h->text = status_text(&h->textlen);
    fi->fh = (uint64_t)(uintptr_t)h;
    fi->direct_io = 1;
    fuse_reply_open(req, fi);
    return;
  }
  if (gate(req)) return;
  struct node *n = live_node(req, ino);
  if (!n) return;
  if (n->kind != K_FILE) {
    fuse_reply_err(req, n->kind == K_DIR ? EISDIR : ELOOP);
    return;
  }
  fi->fh = (uint64_t)(uintptr_t)new_handle(n, fi->flags);
  /* mmap mode: through the page cache (shared mmap needs it); keep_cache 0 drops the file's
   * cached pages at every open, so an open never sees pages the daemon no longer has. */
  fi->direct_io = !g.mmap;
  fi->keep_cache = 0;
  fuse_reply_open(req, fi);
}

static void pc_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, struct fuse_file_info *fi) {
  if (gate(req)) return;
  struct node *d = creation_parent(req, parent, name);
  if (!d) return;
  struct node *n = make_child(req, d, name, K_FILE, S_IFREG | (mode & 07777));
  fi->fh = (uint64_t)(uintptr_t)new_handle(n, fi->flags);
  /* mmap mode: through the page cache (shared mmap needs it); keep_cache 0 drops the file's
   * cached pages at every open, so an open never sees pages the daemon no longer has. */
  fi->direct_io = !g.mmap;
  fi->keep_cache = 0;
  struct fuse_entry_param e;
  memset(&e, 0, sizeof e);
  e.ino = ino_of(n);
  e.generation = 1;
  fill_stat(n, &e.attr);
  n->nlookup++;
  fuse_reply_create(req, &e, fi);
}

static void pc_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  struct handle *h = (struct handle *)(uintptr_t)fi->fh;
  if (is_control(ino)) {
    /* A read from offset 0 takes a fresh snapshot, so one open control fd serves many reads
     * (a path walk to the control file would itself be a counted operation). */
    if (off == 0 && !is_acks(ino)) {
      free(h->text);
      h->text = status_text(&h->textlen);
    }
    size_t from = (size_t)off < h->textlen ? (size_t)off : h->textlen;
    size_t count = h->textlen - from < size ? h->textlen - from : size;
    fuse_reply_buf(req, h->text + from, count);
    return;
  }
  if (gate(req)) return;
  struct node *n = live_node(req, ino);
  if (!n) return;
  int r = load(n);
  if (r < 0) {
    fuse_reply_err(req, -r);
    return;
  }
  if (off >= n->size) {
    fuse_reply_buf(req, NULL, 0);
    return;
  }
  size_t count = (size_t)(n->size - off) < size ? (size_t)(n->size - off) : size;
  if ((size_t)off + count <= n->len) {
    fuse_reply_buf(req, (const char *)n->data + off, count);
    return;
  }
  char *buf = xcalloc(1, count ? count : 1);
  if ((size_t)off < n->len) memcpy(buf, n->data + off, n->len - (size_t)off);
  fuse_reply_buf(req, buf, count);
  free(buf);
}

/* A write to the acknowledgements file: the workload's promise, recorded before the write
 * returns, so that the promise it then makes comes after. Once the power is cut it fails like
 * every other operation: a program that outlived the cut acknowledges nothing. */
static void write_acks(fuse_req_t req, const char *buf, size_t size) {
  if (g.cut) {
    g.st.failed_after_cut++;
    fuse_reply_err(req, EIO);
    return;
  }
  if (g.acks_fd < 0) {
    fuse_reply_err(req, ENXIO);
    return;
  }
  for (size_t done = 0; done < size;) {
    ssize_t k = write(g.acks_fd, buf + done, size - done);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) {
      logmsg("writing an acknowledgement failed: %s", k < 0 ? strerror(errno) : "no progress");
      fuse_reply_err(req, EIO);
      return;
    }
    done += (size_t)k;
  }
  g.st.acks++;
  fuse_reply_write(req, size);
}

static void pc_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                     struct fuse_file_info *fi) {
  struct handle *h = (struct handle *)(uintptr_t)fi->fh;
  if (is_acks(ino)) {
    write_acks(req, buf, size);
    return;
  }
  if (is_control(ino)) {
    char *text = xcalloc(1, size + 1);
    memcpy(text, buf, size);
    int r = 0;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line && r == 0; line = strtok_r(NULL, "\n", &save))
      if (*line) r = control_command(line);
    free(text);
    reply_control_write(req, r, size);
    return;
  }
  if (gate(req)) return;
  struct node *n = live_node(req, ino);
  if (!n) return;
  g.st.writes++;
  /* arm-write N: power fails in the middle of this write. What reached the disk is its first
   * whole sectors, durable only if the write was to be durable when it returned (O_DSYNC). */
  bool torn = g.arm_write_left > 0 && --g.arm_write_left == 0;
  if (torn) size = size / 2 / SECTOR * SECTOR;
  /* The kernel passes the file's flags with each write, with O_DSYNC / O_SYNC added for
   * RWF_DSYNC / RWF_SYNC writes. A writeback of a shared mapping's dirty page (mmap mode) comes
   * with the handle of any file open for writing: its O_DSYNC or O_APPEND says nothing about
   * the page (the kernel gives the offset, and the page becomes durable at the next flush). */
  int flags = fi->writepage ? 0 : fi->flags | h->flags;
  int r = load(n);
  if (r < 0) {
    fuse_reply_err(req, -r);
    return;
  }
  if (size == 0) {
    if (torn) {
      do_cut();
      fuse_reply_err(req, EIO);
      return;
    }
    fuse_reply_write(req, 0);
    return;
  }
  if (flags & O_APPEND) off = n->size;
  if (off < 0 || (uint64_t)off + size > (uint64_t)MAX_FILE_BYTES) {
    fuse_reply_err(req, EFBIG);
    return;
  }
  size_t end = (size_t)off + size;
  if ((r = reserve(n, end)) < 0) {
    fuse_reply_err(req, -r);
    return;
  }
  if ((size_t)off > n->len) memset(n->data + n->len, 0, (size_t)off - n->len);
  memcpy(n->data + off, buf, size);
  if (end > n->len) n->len = end;
  if ((off_t)end > n->size) n->size = (off_t)end;
  mark_dirty(n, off, (off_t)end);
  now(&n->mtime);
  n->ctime = n->mtime;
  audit_live(n);
  if (flags & O_DSYNC) {
    /* O_DSYNC: the data is durable when write returns; O_SYNC (which includes the O_DSYNC bit)
     * also the metadata. */
    g.st.dsync_writes++;
    r = flush_point() ? flush_file(n, (flags & O_SYNC) == O_SYNC) : 0;
    if (r < 0) {
      fuse_reply_err(req, EIO);
      return;
    }
    if (!torn) flush_done();
  }
  if (torn) {
    do_cut();
    fuse_reply_err(req, EIO);
    return;
  }
  fuse_reply_write(req, size);
}

static void pc_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  (void)fi;
  if (is_control(ino)) {
    fuse_reply_err(req, 0);
    return;
  }
  /* close(2) flushes nothing to stable storage. */
  if (gate(req)) return;
  fuse_reply_err(req, 0);
}

static void pc_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  (void)ino;
  free_handle((struct handle *)(uintptr_t)fi->fh);
  fuse_reply_err(req, 0);
}

static void pc_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi) {
  (void)fi;
  if (is_control(ino)) {
    fuse_reply_err(req, 0);
    return;
  }
  if (gate(req)) return;
  struct node *n = live_node(req, ino);
  if (!n) return;
  if (datasync) g.st.fdatasyncs++;
  else g.st.fsyncs++;
  int r = 0;
  if (flush_point()) r = n->kind == K_DIR ? flush_dir(n) : n->kind == K_FILE ? flush_file(n, !datasync) : 0;
  if (r == 0) flush_done();
  fuse_reply_err(req, r < 0 ? EIO : 0);
}

static void pc_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  if (gate(req)) return;
  struct node *d = live_node(req, ino);
  if (!d) return;
  if (d->kind != K_DIR) {
    fuse_reply_err(req, ENOTDIR);
    return;
  }
  struct handle *h = new_handle(d, fi->flags);
  h->list = xcalloc(d->entries.n + 2, sizeof *h->list);
  h->list[0].name = xstrdup(".");
  h->list[0].ino = d->id;
  h->list[0].type = S_IFDIR;
  h->list[1].name = xstrdup("..");
  h->list[1].ino = d->parent ? d->parent->id : d->id;
  h->list[1].type = S_IFDIR;
  h->nlist = 2;
  for (size_t i = 0; i < d->entries.n; i++) {
    h->list[h->nlist].name = xstrdup(d->entries.v[i].name);
    h->list[h->nlist].ino = d->entries.v[i].node->id;
    h->list[h->nlist].type = d->entries.v[i].node->mode & S_IFMT;
    h->nlist++;
  }
  fi->fh = (uint64_t)(uintptr_t)h;
  fuse_reply_open(req, fi);
}

static void pc_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  if (gate(req)) return;
  if (!live_node(req, ino)) return;
  struct handle *h = (struct handle *)(uintptr_t)fi->fh;
  char *buf = xcalloc(1, size ? size : 1);
  size_t pos = 0;
  for (size_t i = (size_t)off; i < h->nlist; i++) {
    struct stat st;
    memset(&st, 0, sizeof st);
    st.st_ino = h->list[i].ino;
    st.st_mode = h->list[i].type;
    size_t need = fuse_add_direntry(req, buf + pos, size - pos, h->list[i].name, &st, (off_t)(i + 1));
    if (need > size - pos) break;
    pos += need;
  }
  fuse_reply_buf(req, buf, pos);
  free(buf);
}

static void pc_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  (void)ino;
  free_handle((struct handle *)(uintptr_t)fi->fh);
  fuse_reply_err(req, 0);
}

static void pc_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi) {
  (void)datasync;
  (void)fi;
  if (gate(req)) return;
  struct node *d = live_node(req, ino);
  if (!d) return;
  g.st.fsyncdirs++;
  int r = flush_point() ? flush_dir(d) : 0;
  if (r == 0) flush_done();
  fuse_reply_err(req, r < 0 ? EIO : 0);
}

static void pc_statfs(fuse_req_t req, fuse_ino_t ino) {
  (void)ino;
  if (gate(req)) return;
  struct statvfs sv;
  if (statvfs(g.backing_path, &sv) < 0) {
    fuse_reply_err(req, errno);
    return;
  }
  fuse_reply_statfs(req, &sv);
}

static void pc_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len, struct fuse_file_info *fi) {
  (void)fi;
  if (gate(req)) return;
  struct node *n = live_node(req, ino);
  if (!n) return;
  if (n->kind != K_FILE) {
    fuse_reply_err(req, ENODEV);
    return;
  }
  int r = load(n);
  if (r < 0) {
    fuse_reply_err(req, -r);
    return;
  }
  bool keep = mode & FALLOC_FL_KEEP_SIZE;
  if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) {
    fuse_reply_err(req, EOPNOTSUPP);
    return;
  }
  if ((mode & FALLOC_FL_PUNCH_HOLE) && !keep) {
    fuse_reply_err(req, EOPNOTSUPP);
    return;
  }
  if (mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) {
    if ((size_t)off < n->len) {
      size_t end = (size_t)(off + len) < n->len ? (size_t)(off + len) : n->len;
      memset(n->data + off, 0, end - (size_t)off);
      mark_dirty(n, off, (off_t)end);
    }
  }
  if (!keep && off + len > n->size) r = set_size(n, off + len);
  if (r < 0) {
    fuse_reply_err(req, -r);
    return;
  }
  now(&n->ctime);
  fuse_reply_err(req, 0);
}

static const struct fuse_lowlevel_ops ops = {
    .init = pc_init,
    .lookup = pc_lookup,
    .forget = pc_forget,
    .forget_multi = pc_forget_multi,
    .getattr = pc_getattr,
    .setattr = pc_setattr,
    .readlink = pc_readlink,
    .mknod = pc_mknod,
    .mkdir = pc_mkdir,
    .symlink = pc_symlink,
    .unlink = pc_unlink,
    .rmdir = pc_rmdir,
    .rename = pc_rename,
    .link = pc_link,
    .open = pc_open,
    .create = pc_create,
    .read = pc_read,
    .write = pc_write,
    .flush = pc_flush,
    .release = pc_release,
    .fsync = pc_fsync,
    .opendir = pc_opendir,
    .readdir = pc_readdir,
    .releasedir = pc_releasedir,
    .fsyncdir = pc_fsyncdir,
    .statfs = pc_statfs,
    .fallocate = pc_fallocate,
};

/* ------------------------------------------------------------------------------------------ */

static void usage(void) {
  fprintf(stderr,
          "usage: powercut-fs [-d] [-o option,...] BACKING_DIR MOUNTPOINT\n"
          "  Mounts MOUNTPOINT in the foreground; prints \"ready\" on stdout once mounted;\n"
          "  unmounts on SIGTERM/SIGINT/SIGHUP and when its parent process exits.\n"
          "  Options of its own (the others go to FUSE): lie (every flush succeeds and makes\n"
          "  nothing durable), delay=MS (every flush sleeps MS ms first, 0..%d), delay_us=US\n"
          "  (the same in microseconds, 0..%ld), mmap (files go through the kernel's page cache\n"
          "  instead of direct I/O, so shared mmap works), notify (print \"cut\" on stdout when the\n"
          "  power fails).\n"
          "  Control: write \"cut\", \"reboot\", \"sync\", \"arm N\", \"arm-flush N\", \"arm-write N\",\n"
          "  \"disarm\", \"acks PATH\", \"guard PGID\", \"lie on|off\", \"delay MS\", \"delay-us US\",\n"
          "  \"secret HEX\" or \"reset\" to MOUNTPOINT/" CONTROL_NAME "; read it for the status. Lines written to\n"
          "  MOUNTPOINT/" ACKS_NAME " are appended to the file of the last \"acks PATH\".\n",
          MAX_DELAY_MS, MAX_DELAY_US);
}

/* Takes this daemon's own mount options (lie, mmap, notify, delay=MS, delay_us=US) out of a comma-separated -o list and
 * passes the rest on to FUSE. -1 on a malformed value. */
static int take_own_options(struct fuse_args *args, const char *list) {
  char *copy = xstrdup(list);
  char *rest = xcalloc(1, strlen(list) + 1);
  int r = 0;
  for (char *save = NULL, *opt = strtok_r(copy, ",", &save); opt; opt = strtok_r(NULL, ",", &save)) {
    if (!strcmp(opt, "lie")) {
      g.lie = true;
    } else if (!strcmp(opt, "mmap")) {
      g.mmap = true;
    } else if (!strcmp(opt, "notify")) {
      g.notify = true;
    } else if (!strncmp(opt, "delay=", 6) || !strncmp(opt, "delay_us=", 9)) {
      bool micros = opt[5] == '_';
      long us = parse_delay_us(strchr(opt, '=') + 1, micros);
      if (us < 0) {
        fprintf(stderr, "powercut-fs: -o %s: the delay must be 0..%ld %s\n", opt,
                micros ? MAX_DELAY_US : (long)MAX_DELAY_MS, micros ? "microseconds" : "milliseconds");
        r = -1;
        break;
      }
      g.delay_us = us;
    } else {
      if (*rest) strcat(rest, ",");
      strcat(rest, opt);
    }
  }
  if (r == 0 && *rest) {
    fuse_opt_add_arg(args, "-o");
    fuse_opt_add_arg(args, rest);
  }
  free(copy);
  free(rest);
  return r;
}

int main(int argc, char **argv) {
  const char *positional[2] = {NULL, NULL};
  int npos = 0;
  struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
  fuse_opt_add_arg(&args, argv[0]);
  /* default_permissions: the kernel checks modes like any local filesystem does. */
  fuse_opt_add_arg(&args, "-o");
  fuse_opt_add_arg(&args, "default_permissions,fsname=powercut,subtype=powercut");
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-d")) fuse_opt_add_arg(&args, "-d");
    else if (!strcmp(argv[i], "-o") && i + 1 < argc) {
      if (take_own_options(&args, argv[++i]) < 0) {
        usage();
        return 2;
      }
    } else if (argv[i][0] != '-' && npos < 2) positional[npos++] = argv[i];
    else {
      usage();
      return 2;
    }
  }
  if (npos != 2) {
    usage();
    return 2;
  }
  char *backing = realpath(positional[0], NULL);
  if (!backing) {
    fprintf(stderr, "powercut-fs: %s: %s\n", positional[0], strerror(errno));
    return 1;
  }
  g.backing_path = backing;
  g.unnamed_fd = -1;
  g.next_id = 4; /* 1: the root's usual number, 2: the control file, 3: the acknowledgements file */
  g.control.kind = K_CONTROL;
  g.control.id = CONTROL_INO;
  g.acks.kind = K_CONTROL;
  g.acks.id = ACKS_INO;
  g.acks_fd = -1;
  umask(0); /* modes in the backing tree are exactly the modelled ones */
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  if (boot() < 0) {
    fprintf(stderr, "powercut-fs: cannot load %s\n", backing);
    return 1;
  }
  g.st.backing_errors = 0;

  struct fuse_session *se = fuse_session_new(&args, &ops, sizeof ops, NULL);
  if (!se) return 1;
  g.se = se;
  if (fuse_set_signal_handlers(se) != 0) return 1;
  /* A test process that dies without unmounting must not leave a mount behind: SIGTERM, which
   * the handlers above turn into a clean unmount, when the parent goes. */
  pid_t parent = getppid();
  if (prctl(PR_SET_PDEATHSIG, SIGTERM) == 0 && getppid() != parent) return 1;
  /* The kernel may end a sleep up to the timer slack late (50 us by default), half of the margin
   * a flush delay keeps before its deadline (flush_point). 1 ns: no slack. */
  prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  if (fuse_session_mount(se, positional[1]) != 0) return 1;
  printf("ready\n");
  fflush(stdout);
  int r = fuse_session_loop(se);
  if (g.guard > 0) kill(-g.guard, SIGKILL);
  fuse_session_unmount(se);
  fuse_remove_signal_handlers(se);
  fuse_session_destroy(se);
  fuse_opt_free_args(&args);
  return r ? 1 : 0;
}
