// dreadlocks/detail/posix_file.hpp
//
// The POSIX calls behind the file-backed process policies, each a small
// function that retries EINTR and reports "would block" apart from real
// failure. Nothing here throws; the public layer turns errors into
// std::system_error.

#ifndef DREADLOCKS_DETAIL_POSIX_FILE_HPP_
#define DREADLOCKS_DETAIL_POSIX_FILE_HPP_

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <system_error>

#include "dreadlocks/detail/attributes.hpp"
#include "dreadlocks/detail/raw_syscall.hpp"
#include "dreadlocks/detail/timed_kernel_wait.hpp"
#include "dreadlocks/lock_primitive.hpp"

namespace dreadlocks::detail {

using native_file = int;
inline constexpr native_file invalid_file = -1;

// Identifies a file independently of how its path is spelled.
struct file_id {
  dev_t device;
  ino_t inode;
  bool operator==(const file_id& other) const noexcept {
    return device == other.device && inode == other.inode;
  }
};
struct file_id_hash {
  std::size_t operator()(const file_id& id) const noexcept {
    return std::hash<ino_t>()(id.inode) * 31u ^ std::hash<dev_t>()(id.device);
  }
};

// The rounds open_lock_file() makes before it gives up on a file that
// keeps vanishing between its open and its exclusive create: another
// process creating and deleting it in a loop must not make it spin.
inline constexpr int open_rounds = 4;

// Opens `path` with `flags` (and `mode` if creating), retrying EINTR.
// Returns the descriptor, or -1 with errno set.
inline int open_retrying(const char* path, int flags, mode_t mode) noexcept {
  for (;;) {
    const int fd = ::open(path, flags, mode);
    if (fd >= 0 || errno != EINTR) return fd;
  }
}

// Moves `fd` to a descriptor of 3 or more if it is 0, 1 or 2, closing the
// low one: a program started with stderr closed would otherwise get its
// lock file there and write its messages into it. Returns the descriptor
// to use, or invalid_file with `error` set (the low one closed as well).
inline native_file above_standard_streams(int fd, int& error) noexcept {
  if (fd > STDERR_FILENO) return fd;
  const int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
  const int saved = errno;
  ::close(fd);
  if (moved < 0) {
    error = saved;
    return invalid_file;
  }
  return moved;
}

// True if `path` itself (not what it points to) is a symbolic link.
inline bool is_symlink(const char* path) noexcept {
  struct ::stat info;
  return ::lstat(path, &info) == 0 && S_ISLNK(info.st_mode);
}

// True for the errors with which open(2) refuses O_RDWR on a file that may
// still be opened for reading: no write permission (EACCES), a read-only
// file system (EROFS), a directory (EISDIR), an immutable file (EPERM).
inline bool write_access_refused(int error) noexcept {
  return error == EACCES || error == EROFS || error == EISDIR ||
         error == EPERM;
}

// open_lock_file()
//
// Opens the lock file at `path` for reading and writing, creating it if it
// is missing; an existing file that refuses writing
// (write_access_refused()) is opened read-only instead (SPEC §2 as amended
// by issue 15: read-write is always tried first, so nothing that opened
// read-write before opens read-only now). A read-only descriptor takes
// shared fcntl/OFD locks and both flock(2) modes; an exclusive fcntl/OFD
// lock on it fails (set_record_lock() names the reason), but never through a symbolic link: a file that exists
// (through any symlinks) is opened without O_CREAT; a missing one is
// created with O_CREAT | O_EXCL (mode 0666, masked by the umask), which
// does not follow a symlink at `path`. So a dangling symlink another user
// planted in a shared directory cannot make this process create its
// target. If the exclusive create finds something there (another process
// created the file meanwhile, or `path` is a dangling symlink), the file
// is opened again without O_CREAT; if that finds nothing while `path` is
// a symlink, it is a dangling one. Never truncates; never returns 0, 1 or
// 2 (above_standard_streams()).
// Returns the descriptor, or invalid_file with `error` set; for a dangling
// symlink, `error` is ENOENT and `dangling_symlink` is set. A file that
// vanishes between open and create `open_rounds` times gives ENOENT.
inline native_file open_lock_file(const char* path, int& error,
                                  bool& dangling_symlink) noexcept {
  dangling_symlink = false;
  constexpr int common = O_RDWR | O_CLOEXEC | O_NOCTTY;
  for (int round = 0;; ++round) {
    int fd = open_retrying(path, common, 0);
    if (fd < 0 && write_access_refused(errno)) {
      fd = open_retrying(path, (common & ~O_RDWR) | O_RDONLY, 0);
    }
    if (fd >= 0) return above_standard_streams(fd, error);
    if (errno != ENOENT) {
      error = errno;
      return invalid_file;
    }
    // After an exclusive create refused with EEXIST, nothing to open means
    // a symlink to nothing, unless the file was deleted in between.
    if (round > 0 && is_symlink(path)) {
      dangling_symlink = true;
      error = ENOENT;
      return invalid_file;
    }
    if (round + 1 == open_rounds) {
      error = ENOENT;
      return invalid_file;
    }
    fd = open_retrying(path, common | O_CREAT | O_EXCL, 0666);
    if (fd >= 0) return above_standard_streams(fd, error);
    if (errno != EEXIST) {
      error = errno;
      return invalid_file;
    }
  }
}

// Identifies the file `path` names, following symlinks. Returns false with
// `error` set if it cannot be stat'ed (ENOENT for a file not created yet).
inline bool identify_path(const char* path, file_id& id, int& error) noexcept {
  struct ::stat info;
  if (::stat(path, &info) != 0) {
    error = errno;
    return false;
  }
  id = file_id{info.st_dev, info.st_ino};
  return true;
}

// Identifies the open file `file`. Returns false with `error` set on
// failure.
inline bool identify_file(native_file file, file_id& id, int& error) noexcept {
  struct ::stat info;
  if (::fstat(file, &info) != 0) {
    error = errno;
    return false;
  }
  id = file_id{info.st_dev, info.st_ino};
  return true;
}

// Closes a descriptor. POSIX leaves its state unspecified after EINTR and
// Linux always closes it, so it is not retried.
inline void close_file(native_file file) noexcept { ::close(file); }

// The error of a failed POSIX call.
constexpr os_error posix_error(int error) noexcept { return {error, nullptr}; }

// read_only_lock_category
//
// The category of EBADF from an exclusive fcntl/OFD lock on a lock file
// that could only be opened read-only (open_lock_file()): the same error
// value, compared equal to std::errc::bad_file_descriptor, with a message
// that says why instead of "Bad file descriptor".
class read_only_lock_category_type : public std::error_category {
 public:
  const char* name() const noexcept override { return "dreadlocks.read_only"; }
  std::string message(int) const override {
    return "an exclusive fcntl lock needs write access, and the lock file "
           "could only be opened read-only";
  }
  std::error_condition default_error_condition(
      int value) const noexcept override {
    return {value, std::generic_category()};
  }
};
inline const std::error_category& read_only_lock_category() noexcept {
  static const read_only_lock_category_type category;
  return category;
}

// The request for an fcntl lock of `mode` (none unlocks) over the whole
// file, however it grows.
inline struct ::flock whole_file_request(primitive_mode mode) noexcept {
  struct ::flock request {};
  request.l_type = mode == primitive_mode::none     ? F_UNLCK
                   : mode == primitive_mode::shared ? F_RDLCK
                                                    : F_WRLCK;
  request.l_whence = SEEK_SET;
  request.l_start = 0;
  request.l_len = 0;  // to the end of the file
  return request;
}

#if DREADLOCKS_RAW_LOCK_CALLS
// Makes lock call `number` without the C library (detail/raw_syscall.hpp);
// returns 0, or the errno it failed with.
DREADLOCKS_INLINE_STEP int raw_lock_call(long number, long a0, long a1,
                                         long a2) noexcept {
  long result;
  DREADLOCKS_RAW_SYSCALL3(result, number, a0, a1, a2);
  return result < 0 ? static_cast<int>(-result) : 0;
}
#endif

// Makes the lock call fcntl(file, command, request); returns 0, or the
// errno it failed with. One that does not `wait` is made without the C
// library where it can be.
DREADLOCKS_INLINE_STEP int fcntl_lock_call(
    native_file file, int command, struct ::flock* request,
    [[maybe_unused]] bool wait) noexcept {
#if DREADLOCKS_RAW_LOCK_CALLS
  if (!wait) {
    return raw_lock_call(SYS_fcntl, file, command,
                         reinterpret_cast<long>(request));
  }
#endif
  return ::fcntl(file, command, request) == 0 ? 0 : errno;
}

// Makes the lock call flock(file, operation), as fcntl_lock_call() does.
DREADLOCKS_INLINE_STEP int flock_call(native_file file, int operation,
                                      [[maybe_unused]] bool wait) noexcept {
#if DREADLOCKS_RAW_LOCK_CALLS
  if (!wait) return raw_lock_call(SYS_flock, file, operation, 0);
#endif
  return ::flock(file, operation) == 0 ? 0 : errno;
}

// Sets the whole-file fcntl record lock of `file` to `mode` (none unlocks):
// an open-file-description lock with `ofd`, a classic one without. With
// `wait`, blocks until granted, retrying EINTR; without, returns
// would_block at once. Changing a held lock's mode replaces it; an upgrade
// that must wait keeps the shared lock while it waits. Inlined into the
// primitives' set(), so that the system call is made one call less deep
// (docs/performance.md, "Call depth at the system calls").
DREADLOCKS_INLINE_STEP lock_result set_record_lock(native_file file, bool ofd,
                                                   primitive_mode mode,
                                                   bool wait) noexcept {
  struct ::flock request = whole_file_request(mode);
  int command = wait ? F_SETLKW : F_SETLK;
#if defined(F_OFD_SETLK)
  if (ofd) command = wait ? F_OFD_SETLKW : F_OFD_SETLK;
#else
  if (ofd) return {lock_status::unsupported, posix_error(EINVAL)};
#endif
  for (;;) {
    const int error = fcntl_lock_call(file, command, &request, wait);
    if (error == 0) return {lock_status::acquired, {}};
    if (error == EINTR) continue;
    if (error == EAGAIN || error == EACCES) {
      return {lock_status::would_block, posix_error(error)};
    }
    if (error == EDEADLK) return {lock_status::deadlock, posix_error(error)};
    if (error == EBADF && mode == primitive_mode::exclusive) {
      return {lock_status::failed, {error, &read_only_lock_category()}};
    }
    if (error == EINVAL && ofd) {
      return {lock_status::unsupported, posix_error(error)};
    }
    return {lock_status::failed, posix_error(error)};
  }
}

#if DREADLOCKS_HAS_TIMED_KERNEL_WAIT
// Raises the OFD or flock(2) lock of a descriptor by `call` (its blocking
// request), made in a task of its own that waits at most until `deadline`
// (detail/timed_kernel_wait.hpp). Unless the task was granted the lock,
// asks again without waiting through `ask_now` (the primitive's set()): the
// lock belongs to the open file description, so that answer covers a grant
// made just before the task was killed. would_block: not granted by the
// deadline, or no task could wait here (the caller pauses and asks again).
template <class AskNow>
lock_result set_in_task_until(const kernel_call& call,
                              primitive_deadline deadline,
                              AskNow&& ask_now) noexcept {
  long result = -EINTR;
  if (wait_in_task_until(call, deadline, result) == task_outcome::returned &&
      result == 0) {
    return {lock_status::acquired, {}};
  }
  return ask_now();
}
#endif

// Sets the flock(2) lock of `file` to `mode` (none unlocks), retrying EINTR;
// without `wait`, returns would_block at once. Inlined, as
// set_record_lock() is.
DREADLOCKS_INLINE_STEP lock_result set_flock(native_file file,
                                             primitive_mode mode,
                                             bool wait) noexcept {
  int operation = mode == primitive_mode::none     ? LOCK_UN
                  : mode == primitive_mode::shared ? LOCK_SH
                                                   : LOCK_EX;
  if (!wait) operation |= LOCK_NB;
  for (;;) {
    const int error = flock_call(file, operation, wait);
    if (error == 0) return {lock_status::acquired, {}};
    if (error == EINTR) continue;
    if (error == EWOULDBLOCK) {
      return {lock_status::would_block, posix_error(error)};
    }
    return {lock_status::failed, posix_error(error)};
  }
}

}  // namespace dreadlocks::detail

#endif  // DREADLOCKS_DETAIL_POSIX_FILE_HPP_
