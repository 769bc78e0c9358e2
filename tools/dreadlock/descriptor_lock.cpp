// tools/dreadlock/descriptor_lock.cpp

#include "tools/dreadlock/descriptor_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>

#include <cerrno>
#include <optional>
#include <utility>

#include "tools/dreadlock/wait_deadline.hpp"

namespace dreadlock_cli {

namespace {

enum class kind { flock, ofd };

// The outcome of one call on one kind: 0, or EAGAIN (held elsewhere),
// ETIMEDOUT (the deadline passed while waiting) or another errno.
int set_flock(int fd, lock_request::mode mode, bool wait,
              const wait_deadline& deadline) {
  int operation = mode == lock_request::mode::unlock   ? LOCK_UN
                  : mode == lock_request::mode::shared ? LOCK_SH
                                                       : LOCK_EX;
  if (!wait) operation |= LOCK_NB;
  for (;;) {
    if (::flock(fd, operation) == 0) return 0;
    if (errno == EWOULDBLOCK) return EAGAIN;
    if (errno != EINTR) return errno;
    if (deadline.expired()) return ETIMEDOUT;
  }
}

int set_record(int fd, short type, const lock_request& request, bool wait,
               const wait_deadline& deadline) {
  struct ::flock range {};
  range.l_type = type;
  range.l_whence = SEEK_SET;
  range.l_start = request.start;
  range.l_len = request.length;
#if defined(F_OFD_SETLK)
  int command = wait ? F_OFD_SETLKW : F_OFD_SETLK;
#else
  int command = wait ? F_SETLKW : F_SETLK;
#endif
  for (;;) {
    if (::fcntl(fd, command, &range) == 0) return 0;
    if (errno == EAGAIN || errno == EACCES) return EAGAIN;
#if defined(F_OFD_SETLK)
    // A kernel older than 3.15: classic locks (they end with dreadlock).
    if (errno == EINVAL && command != F_SETLK && command != F_SETLKW) {
      command = wait ? F_SETLKW : F_SETLK;
      continue;
    }
#endif
    if (errno != EINTR) return errno;
    if (deadline.expired()) return ETIMEDOUT;
  }
}

// The descriptor's access mode (O_RDONLY, O_WRONLY, O_RDWR); O_RDWR if it
// cannot be read (the lock call then reports the error).
int access_mode(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  return flags >= 0 ? (flags & O_ACCMODE) : O_RDWR;
}

// The record lock type for `wanted` on a descriptor opened with `access`:
// the kernel grants F_RDLCK only to readable descriptors and F_WRLCK only
// to writable ones. nullopt: no record lock can be had.
std::optional<short> record_type_for(lock_request::mode wanted, int access) {
  switch (wanted) {
    case lock_request::mode::unlock:
      return F_UNLCK;
    case lock_request::mode::shared:
      if (access == O_WRONLY) return std::nullopt;
      return F_RDLCK;
    case lock_request::mode::exclusive:
      return access == O_RDONLY ? F_RDLCK : F_WRLCK;
  }
  return std::nullopt;
}

class descriptor_locker {
 public:
  descriptor_locker(int fd, const lock_request& request)
      : fd_(fd), request_(request), deadline_(request.timeout) {
    const int access = access_mode(fd);
    const auto type = record_type_for(request.wanted, access);
    record_type_ = type.value_or(F_UNLCK);
    record_possible_ = type.has_value();
    if (request.wanted == lock_request::mode::exclusive &&
        record_type_ == F_RDLCK) {
      access_note_ = "an exclusive fcntl lock needs a descriptor open for "
                     "writing";
    } else if (!record_possible_) {
      access_note_ = "a shared fcntl lock needs a descriptor open for reading";
    }
  }

  lock_outcome run() {
    if (request_.wanted == lock_request::mode::unlock) return unlock_all();
    if (request_.fcntl_only) {
      if (access_note_ != nullptr) {
        return {lock_outcome::status::failed, EBADF, access_note_};
      }
      return outcome(set(kind::ofd, wait()));
    }
    // No record lock fits a write-only descriptor's shared request: the
    // flock(2) lock alone (docs/dreadlock.md).
    if (!record_possible_) return outcome(set(kind::flock, wait()));
    // A descriptor that already holds an OFD lock (the descriptor form,
    // converting) gives it up first, as flock(2) gives up its lock to
    // convert: otherwise two converting readers could each hold the OFD
    // lock shared while waiting to make it exclusive, a cycle the kernel
    // does not detect.
    release(kind::ofd);
    kind first = kind::flock;
    kind second = kind::ofd;
    for (;;) {
      if (const int error = set(first, wait()); error != 0) {
        return outcome(error);
      }
      const int error = set(second, false);
      if (error == 0) return outcome(0);
      release(first);
      if (error != EAGAIN || !wait()) return outcome(error);
      // Wait for the kind that refused, holding nothing else meanwhile.
      std::swap(first, second);
    }
  }

 private:
  bool wait() const { return !request_.nonblock; }

  int set(kind which, bool wait) {
    if (deadline_.expired()) return ETIMEDOUT;
    return which == kind::flock
               ? set_flock(fd_, request_.wanted, wait, deadline_)
               : set_record(fd_, record_type_, request_, wait, deadline_);
  }

  void release(kind which) {
    if (which == kind::flock) {
      set_flock(fd_, lock_request::mode::unlock, false, deadline_);
    } else {
      set_record(fd_, F_UNLCK, request_, false, deadline_);
    }
  }

  lock_outcome unlock_all() {
    int error = set_record(fd_, F_UNLCK, request_, false, deadline_);
    if (!request_.fcntl_only) {
      const int flock_error = set_flock(fd_, request_.wanted, false, deadline_);
      if (error == 0) error = flock_error;
    }
    return outcome(error);
  }

  static lock_outcome outcome(int error) {
    lock_outcome result;
    if (error == 0) return result;
    result.result = error == EAGAIN      ? lock_outcome::status::conflict
                    : error == ETIMEDOUT ? lock_outcome::status::timed_out
                                         : lock_outcome::status::failed;
    result.error = error;
    return result;
  }

  int fd_;
  const lock_request& request_;
  wait_deadline deadline_;
  short record_type_;
  bool record_possible_;
  const char* access_note_ = nullptr;
};

}  // namespace

lock_outcome lock_descriptor(int fd, const lock_request& request) {
  return descriptor_locker(fd, request).run();
}

}  // namespace dreadlock_cli
