// Linux: the kernel queue is io_uring, driven through the raw syscalls (no liburing, so the
// addon builds anywhere the kernel headers are). One ring per JavaScript environment:
//   writeDurable  IORING_OP_WRITE linked (IOSQE_IO_LINK) to IORING_OP_FSYNC, with
//                 IORING_FSYNC_DATASYNC where linux.h maps the flush kind to fdatasync;
//                 a short write cancels the linked flush and the rest is resubmitted.
//   fsync family  IORING_OP_FSYNC (syncfs: none, it runs on a flush thread);
//   syncFileRange IORING_OP_SYNC_FILE_RANGE;
//   fsyncDir      IORING_OP_OPENAT, then IORING_OP_FSYNC, then IORING_OP_CLOSE.
// Completions raise an eventfd registered with the ring (IORING_REGISTER_EVENTFD), which the
// engine watches with uv_poll: no thread of ours is involved.
// Errors carry the syscall the thread engines would name ("pwrite", "fdatasync", "open"...),
// so a caller cannot tell the engines apart by their errors.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "../platform.h"
#include "linux.h"

namespace hs {
namespace {

// A write never asks for more than Linux's per-call maximum (what write(2) would do anyway).
constexpr size_t kMaxChunk = 0x7ffff000;
constexpr unsigned kEntries = 256;       // submission queue
constexpr unsigned kCqEntries = 1024;    // completion queue: room for every SQE in flight
constexpr size_t kMaxRequests = 120;     // in flight at once; each holds at most 2 SQEs

int Setup(unsigned entries, io_uring_params* params) {
  return static_cast<int>(syscall(__NR_io_uring_setup, entries, params));
}
int Enter(int fd, unsigned submit, unsigned complete, unsigned flags) {
  return static_cast<int>(syscall(__NR_io_uring_enter, fd, submit, complete, flags, nullptr, 0));
}
int Register(int fd, unsigned opcode, void* arg, unsigned count) {
  return static_cast<int>(syscall(__NR_io_uring_register, fd, opcode, arg, count));
}

template <typename T>
T LoadAcquire(const T* p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
template <typename T>
void StoreRelease(T* p, T v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }

std::string Why(const char* what, int err) { return std::string(what) + ": " + strerror(err); }

// One request's progress through its steps.
struct Pending {
  AsyncRequest* request = nullptr;
  void* tag = nullptr;
  int waiting = 0;        // CQEs still to come for the current step
  int step = 0;           // kDirectory: 0 open, 1 fsync, 2 close
  Status status;          // first failure
  size_t chunk = 0;       // kWrite: bytes asked of the current write
  int dir_fd = -1;        // kDirectory
  unsigned first_sqe = 0;  // the SQEs of the step last queued: [first_sqe, end_sqe)
  unsigned end_sqe = 0;
};

class Uring final : public KernelQueue {
 public:
  ~Uring() override {
    if (sqes_ != MAP_FAILED && sqes_ != nullptr) munmap(sqes_, sqes_bytes_);
    if (cq_map_ != MAP_FAILED && cq_map_ != nullptr && cq_map_ != sq_map_) munmap(cq_map_, cq_bytes_);
    if (sq_map_ != MAP_FAILED && sq_map_ != nullptr) munmap(sq_map_, sq_bytes_);
    if (ring_ >= 0) close(ring_);
    if (event_ >= 0) close(event_);
  }

  bool Open(std::string* why_not) {
    if (const char* forced = getenv("HARDSYNC_IO_URING_PROBE"); forced != nullptr && strcmp(forced, "fail") == 0) {
      *why_not = "io_uring probe forced to fail (HARDSYNC_IO_URING_PROBE=fail)";
      return false;
    }
    io_uring_params params;
    memset(&params, 0, sizeof params);
    params.flags = IORING_SETUP_CQSIZE;
    params.cq_entries = kCqEntries;
    ring_ = Setup(kEntries, &params);
    if (ring_ < 0) return (*why_not = Why("io_uring_setup", errno), false);
    // 5.6 or newer: one mmap for both rings, no dropped completions, writes at the file
    // position, and the opcodes below.
    const unsigned needed = IORING_FEAT_SINGLE_MMAP | IORING_FEAT_NODROP | IORING_FEAT_RW_CUR_POS;
    if ((params.features & needed) != needed) {
      *why_not = "io_uring lacks SINGLE_MMAP, NODROP or RW_CUR_POS (kernel older than 5.6)";
      return false;
    }
    if (!HasOpcodes(why_not)) return false;

    sq_bytes_ = params.sq_off.array + params.sq_entries * sizeof(unsigned);
    cq_bytes_ = params.cq_off.cqes + params.cq_entries * sizeof(io_uring_cqe);
    if (cq_bytes_ > sq_bytes_) sq_bytes_ = cq_bytes_;
    sq_map_ = mmap(nullptr, sq_bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring_, IORING_OFF_SQ_RING);
    if (sq_map_ == MAP_FAILED) return (*why_not = Why("mmap(io_uring rings)", errno), false);
    cq_map_ = sq_map_;
    sqes_bytes_ = params.sq_entries * sizeof(io_uring_sqe);
    sqes_ = static_cast<io_uring_sqe*>(
        mmap(nullptr, sqes_bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring_, IORING_OFF_SQES));
    if (sqes_ == MAP_FAILED) return (*why_not = Why("mmap(io_uring sqes)", errno), false);

    char* sq = static_cast<char*>(sq_map_);
    sq_head_ = reinterpret_cast<unsigned*>(sq + params.sq_off.head);
    sq_tail_ = reinterpret_cast<unsigned*>(sq + params.sq_off.tail);
    sq_mask_ = *reinterpret_cast<unsigned*>(sq + params.sq_off.ring_mask);
    sq_array_ = reinterpret_cast<unsigned*>(sq + params.sq_off.array);
    char* cq = static_cast<char*>(cq_map_);
    cq_head_ = reinterpret_cast<unsigned*>(cq + params.cq_off.head);
    cq_tail_ = reinterpret_cast<unsigned*>(cq + params.cq_off.tail);
    cq_mask_ = *reinterpret_cast<unsigned*>(cq + params.cq_off.ring_mask);
    cqes_ = reinterpret_cast<io_uring_cqe*>(cq + params.cq_off.cqes);

    event_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (event_ < 0) return (*why_not = Why("eventfd", errno), false);
    if (Register(ring_, IORING_REGISTER_EVENTFD, &event_, 1) < 0) {
      return (*why_not = Why("io_uring_register(EVENTFD)", errno), false);
    }
    return true;
  }

  bool Supports(const AsyncRequest& r) const override {
    switch (r.kind) {
      case AsyncRequest::Kind::kFlush:
        return LinuxRingHasFlush(r.flush) && FileKind(r, /*write=*/false);
      case AsyncRequest::Kind::kWrite:
        return (r.flush == FlushKind::kNone || LinuxRingHasFlush(r.flush)) && FileKind(r, /*write=*/true);
      case AsyncRequest::Kind::kRange:  // the SQE's len is 32 bits
        return r.nbytes >= 0 && r.nbytes <= 0xffffffffLL && FileKind(r, false);
      case AsyncRequest::Kind::kDirectory:
        return r.path != nullptr;
    }
    return false;
  }

  size_t Room() const override { return in_flight_ >= kMaxRequests ? 0 : kMaxRequests - in_flight_; }
  size_t InFlight() const override { return in_flight_; }
  int NotifyFd() const override { return event_; }
  const char* Name() const override { return "io_uring"; }

  Status Submit(AsyncRequest* request, void* tag) override {
    if (Room() == 0) return Fail(-EBUSY, "io_uring_enter");
    auto* p = new (std::nothrow) Pending;
    if (p != nullptr) {
      p->request = request;
      p->tag = tag;
    }
    if (p == nullptr) return Fail(-ENOMEM, "io_uring_enter");
    request->written = 0;
    Queue(p);
    in_flight_++;
    Status status = SubmitQueued();
    if (!status.ok() && p->waiting == 0) {  // withdrawn before the kernel saw it: not started
      failed_.clear();  // only p was queued (Submit is never called while Drain runs)
      in_flight_--;
      delete p;
      return status;
    }
    return Ok();
  }

  size_t Drain(Done done, void* context) override {
    uint64_t value;
    ssize_t ignored = read(event_, &value, sizeof value);  // reset; EAGAIN when already 0
    (void)ignored;
    size_t reported = 0;
    auto report = [&](Pending* p) {
      in_flight_--;
      Status status = p->status;
      void* tag = p->tag;
      delete p;
      done(tag, status, context);
      reported++;
    };
    for (;;) {
      unsigned head = *cq_head_;
      unsigned tail = LoadAcquire(cq_tail_);
      if (head == tail) break;
      while (head != tail) {
        io_uring_cqe cqe = cqes_[head & cq_mask_];
        head++;
        StoreRelease(cq_head_, head);
        auto* p = reinterpret_cast<Pending*>(static_cast<uintptr_t>(cqe.user_data));
        if (Advance(p, cqe.res)) report(p);
      }
      // Next steps queued while draining go in now. Steps the kernel refused fail their
      // requests (their earlier steps' results are kept).
      SubmitQueued();
      std::vector<Pending*> failed;
      failed.swap(failed_);
      for (Pending* p : failed) report(p);
    }
    return reported;
  }

  Status WaitSome(Done done, void* context) override {
    while (in_flight_ > 0) {
      if (Drain(done, context) > 0) return Ok();
      if (Enter(ring_, 0, 1, IORING_ENTER_GETEVENTS) < 0 && errno != EINTR && errno != EAGAIN && errno != EBUSY) {
        return Fail(-errno, "io_uring_enter");
      }
    }
    return Ok();
  }

  void WaitAll(Done done, void* context) override {
    while (in_flight_ > 0) {
      int rc = Enter(ring_, 0, 1, IORING_ENTER_GETEVENTS);
      if (rc < 0 && errno != EINTR && errno != EAGAIN && errno != EBUSY) break;  // ring unusable
      Drain(done, context);
    }
  }

 private:
  bool HasOpcodes(std::string* why_not) {
    constexpr unsigned kOps = 64;
    size_t bytes = sizeof(io_uring_probe) + kOps * sizeof(io_uring_probe_op);
    auto* probe = static_cast<io_uring_probe*>(calloc(1, bytes));
    if (probe == nullptr) return (*why_not = "out of memory", false);
    bool ok = Register(ring_, IORING_REGISTER_PROBE, probe, kOps) == 0;
    if (!ok) {
      *why_not = Why("io_uring_register(PROBE)", errno);
    } else {
      const struct { unsigned op; const char* name; } needed[] = {
          {IORING_OP_NOP, "NOP"}, {IORING_OP_WRITE, "WRITE"}, {IORING_OP_FSYNC, "FSYNC"},
          {IORING_OP_SYNC_FILE_RANGE, "SYNC_FILE_RANGE"}, {IORING_OP_OPENAT, "OPENAT"},
          {IORING_OP_CLOSE, "CLOSE"}};
      for (const auto& n : needed) {
        if (n.op > probe->last_op || !(probe->ops[n.op].flags & IO_URING_OP_SUPPORTED)) {
          *why_not = std::string("io_uring lacks IORING_OP_") + n.name;
          ok = false;
          break;
        }
      }
    }
    free(probe);
    return ok;
  }

  io_uring_sqe* Next(Pending* p) {
    if (p->waiting == 0 || p->end_sqe != local_tail_) {  // a new step: its SQEs are contiguous
      p->first_sqe = local_tail_;
      queued_.push_back(p);
    }
    p->end_sqe = local_tail_ + 1;
    io_uring_sqe* sqe = &sqes_[local_tail_ & sq_mask_];
    sq_array_[local_tail_ & sq_mask_] = local_tail_ & sq_mask_;
    local_tail_++;
    memset(sqe, 0, sizeof *sqe);
    sqe->user_data = reinterpret_cast<uintptr_t>(p);
    p->waiting++;
    return sqe;
  }

  // Only files whose writes and flushes finish on their own go to the ring: regular files and
  // block devices (and directories, for a flush). A pipe, socket or terminal can block a write
  // until someone reads, and io_uring would wait for that even on an O_NONBLOCK descriptor,
  // where write(2) fails with EAGAIN; those run on a flush thread, with write(2)'s semantics.
  // AT_STATX_DONT_SYNC: the type never changes, so a network or FUSE filesystem may answer
  // from its cache instead of a round trip that a slow server would make this thread wait for.
  // A bad fd answers EBADF here: the thread route then reports it as the thread engines do.
  // The type CompletesWithoutDevice already read, when it did, saves a statx per call.
  static bool FileKind(const AsyncRequest& r, bool write) {
    unsigned type = r.file_type;
    if (type == 0) {
      struct statx st;
      if (statx(r.fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_TYPE, &st) != 0) return false;
      type = st.stx_mode & S_IFMT;
    }
    return type == S_IFREG || type == S_IFBLK || (!write && type == S_IFDIR);
  }

  // What a flush kind is on Linux comes from linux.h, as it does for the blocking calls.
  static bool Datasync(FlushKind flush) { return LinuxFlushCallOf(flush) == LinuxFlushCall::kFdatasync; }
  static const char* FlushName(FlushKind flush) { return LinuxFlushSyscall(LinuxFlushCallOf(flush)); }

  void QueueFlush(Pending* p, int fd, FlushKind flush) {
    io_uring_sqe* sqe = Next(p);
    sqe->opcode = IORING_OP_FSYNC;
    sqe->fd = fd;
    sqe->fsync_flags = Datasync(flush) ? IORING_FSYNC_DATASYNC : 0;
  }

  // Puts the current step's SQEs in the submission ring (not yet submitted).
  void Queue(Pending* p) {
    AsyncRequest* r = p->request;
    switch (r->kind) {
      case AsyncRequest::Kind::kFlush:
        QueueFlush(p, r->fd, r->flush);
        return;
      case AsyncRequest::Kind::kRange: {
        io_uring_sqe* sqe = Next(p);
        sqe->opcode = IORING_OP_SYNC_FILE_RANGE;
        sqe->fd = r->fd;
        sqe->off = static_cast<uint64_t>(r->offset);
        sqe->len = static_cast<uint32_t>(r->nbytes);
        sqe->sync_range_flags = r->flags;
        return;
      }
      case AsyncRequest::Kind::kWrite: {
        size_t rest = r->length - r->written;
        if (rest == 0) {  // nothing (left) to write: the flush alone, or a no-op
          if (r->flush == FlushKind::kNone) {
            Next(p)->opcode = IORING_OP_NOP;
          } else {
            QueueFlush(p, r->fd, r->flush);
          }
          return;
        }
        p->chunk = rest < kMaxChunk ? rest : kMaxChunk;
        io_uring_sqe* sqe = Next(p);
        sqe->opcode = IORING_OP_WRITE;
        sqe->fd = r->fd;
        sqe->addr = reinterpret_cast<uintptr_t>(r->data + r->written);
        sqe->len = static_cast<uint32_t>(p->chunk);
        sqe->off = r->position < 0 ? ~0ULL : static_cast<uint64_t>(r->position) + r->written;
        if (p->chunk == rest && r->flush != FlushKind::kNone) {
          sqe->flags |= IOSQE_IO_LINK;  // the flush runs only if the whole write went in
          QueueFlush(p, r->fd, r->flush);
        }
        return;
      }
      case AsyncRequest::Kind::kDirectory: {
        io_uring_sqe* sqe = Next(p);
        if (p->step == 0) {
          sqe->opcode = IORING_OP_OPENAT;
          sqe->fd = AT_FDCWD;
          sqe->addr = reinterpret_cast<uintptr_t>(r->path);
          sqe->open_flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
        } else if (p->step == 1) {
          sqe->opcode = IORING_OP_FSYNC;
          sqe->fd = p->dir_fd;
        } else {
          sqe->opcode = IORING_OP_CLOSE;
          sqe->fd = p->dir_fd;
        }
        return;
      }
    }
  }

  // Submits everything queued. If the kernel refuses (a broken ring, not a busy one), the
  // SQEs it did not take are withdrawn and their requests, now with nothing left in flight,
  // are put in failed_ with that error.
  Status SubmitQueued() {
    if (local_tail_ == *sq_tail_) return Ok();
    StoreRelease(sq_tail_, local_tail_);
    Status status;
    for (;;) {
      unsigned unconsumed = local_tail_ - LoadAcquire(sq_head_);
      if (unconsumed == 0) break;
      int rc = Enter(ring_, unconsumed, 0, 0);
      if (rc >= 0 || errno == EINTR) continue;
      if ((errno == EAGAIN || errno == EBUSY) && in_flight_ > queued_.size()) {
        Enter(ring_, 0, 1, IORING_ENTER_GETEVENTS);  // short of resources: let some finish
        continue;
      }
      status = Fail(-errno, "io_uring_enter");
      unsigned head = LoadAcquire(sq_head_);
      for (Pending* p : queued_) {
        for (unsigned i = p->first_sqe; i != p->end_sqe; i++) {
          if (static_cast<int>(i - head) >= 0) p->waiting--;
        }
        if (p->status.ok()) p->status = status;
        if (p->waiting == 0) {
          if (p->dir_fd >= 0) close(p->dir_fd);
          failed_.push_back(p);
        }
      }
      StoreRelease(sq_tail_, head);
      local_tail_ = head;
      break;
    }
    queued_.clear();
    return status;
  }

  // One CQE of p's current step. Returns true when p is finished.
  bool Advance(Pending* p, int res) {
    AsyncRequest* r = p->request;
    p->waiting--;
    switch (r->kind) {
      case AsyncRequest::Kind::kFlush:
        if (res < 0 && p->status.ok()) p->status = Fail(res, FlushName(r->flush));
        return p->waiting == 0;
      case AsyncRequest::Kind::kRange:
        if (res < 0 && p->status.ok()) p->status = Fail(res, "sync_file_range");
        return p->waiting == 0;
      case AsyncRequest::Kind::kWrite:
        return AdvanceWrite(p, r, res);
      case AsyncRequest::Kind::kDirectory:
        return AdvanceDirectory(p, res);
    }
    return true;
  }

  bool AdvanceWrite(Pending* p, AsyncRequest* r, int res) {
    // CQEs of a step come in order: the write's first, then its linked flush's.
    bool is_write_cqe = p->chunk != 0;
    if (is_write_cqe) {
      p->chunk = 0;
      if (res == -EINTR) {
        // nothing written: the rest is resubmitted from the same place, as WriteAll does
      } else if (res < 0) {
        p->status = Fail(res, r->position < 0 ? "write" : "pwrite");
      } else if (res == 0) {
        p->status = Fail(-EIO, r->position < 0 ? "write" : "pwrite");  // as WriteAll does
      } else {
        r->written += static_cast<size_t>(res);
      }
    } else if (res == -ECANCELED && (r->written < r->length || !p->status.ok())) {
      // the linked flush, cancelled because the write did not complete: handled below
    } else if (res < 0 && r->flush != FlushKind::kNone && p->status.ok()) {
      p->status = Fail(res, FlushName(r->flush));
    }
    if (p->waiting > 0) return false;
    if (!p->status.ok()) return true;
    if (r->written < r->length) {
      Queue(p);  // the rest (and the flush again)
      return false;
    }
    return true;
  }

  bool AdvanceDirectory(Pending* p, int res) {
    if (p->step == 0) {
      if (res == -EINTR) {
        Queue(p);
        return false;
      }
      if (res < 0) {
        p->status = Fail(res, "open");
        return true;
      }
      p->dir_fd = res;
      p->step = 1;
      Queue(p);
      return false;
    }
    if (p->step == 1) {
      if (res < 0) p->status = Fail(res, "fsync");
      p->step = 2;
      Queue(p);  // close, whatever fsync said (its error is the one reported)
      return false;
    }
    return true;  // close's result is ignored, as FsyncDir ignores close(2)'s
  }

  int ring_ = -1;
  int event_ = -1;
  void* sq_map_ = nullptr;
  void* cq_map_ = nullptr;
  size_t sq_bytes_ = 0;
  size_t cq_bytes_ = 0;
  io_uring_sqe* sqes_ = nullptr;
  size_t sqes_bytes_ = 0;
  unsigned* sq_head_ = nullptr;
  unsigned* sq_tail_ = nullptr;
  unsigned* sq_array_ = nullptr;
  unsigned sq_mask_ = 0;
  unsigned local_tail_ = 0;
  unsigned* cq_head_ = nullptr;
  unsigned* cq_tail_ = nullptr;
  unsigned cq_mask_ = 0;
  io_uring_cqe* cqes_ = nullptr;
  size_t in_flight_ = 0;
  std::vector<Pending*> queued_;  // requests with SQEs queued since the last SubmitQueued
  std::vector<Pending*> failed_;  // requests SubmitQueued failed, to report
};

}  // namespace

KernelQueue* CreateKernelQueue(std::string* why_not) {
  auto* ring = new (std::nothrow) Uring();
  if (ring == nullptr) {
    *why_not = "out of memory";
    return nullptr;
  }
  if (!ring->Open(why_not)) {
    delete ring;
    return nullptr;
  }
  return ring;
}

}  // namespace hs
