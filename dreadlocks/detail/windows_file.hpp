// dreadlocks/detail/windows_file.hpp
//
// The Windows calls behind the file-backed process policies, with the
// names and shapes of detail/posix_file.hpp where they apply: each a small
// function that reports "would block" apart from real failure and never
// throws; the public layer turns errors into std::system_error. Compiles to
// nothing but on Windows.

#ifndef DREADLOCKS_DETAIL_WINDOWS_FILE_HPP_
#define DREADLOCKS_DETAIL_WINDOWS_FILE_HPP_

#if defined(_WIN32)

#include <cstddef>
#include <cstdint>
#include <functional>
#include <system_error>

#include "dreadlocks/detail/windows_api.hpp"
#include "dreadlocks/lock_primitive.hpp"

namespace dreadlocks::detail {

// A HANDLE; nullptr for none (INVALID_HANDLE_VALUE is not a constant
// expression, so open_lock_file() maps it to nullptr).
using native_file = void*;
inline constexpr native_file invalid_file = nullptr;

// Identifies a file independently of how its path is spelled: the volume's
// serial number and the file's index on it.
struct file_id {
  std::uint32_t volume;
  std::uint64_t index;
  bool operator==(const file_id& other) const noexcept {
    return volume == other.volume && index == other.index;
  }
};
struct file_id_hash {
  std::size_t operator()(const file_id& id) const noexcept {
    return std::hash<std::uint64_t>()(id.index) * 31u ^
           std::hash<std::uint32_t>()(id.volume);
  }
};

// The error of a failed Windows call: a GetLastError() value, which
// std::system_category() maps on Windows.
inline os_error windows_error(unsigned long error) noexcept {
  return {static_cast<int>(error), &std::system_category()};
}

// open_lock_file()
//
// Opens the lock file at `path` for reading and writing, creating it if it
// is missing (OPEN_ALWAYS; never truncated), sharing it with every other
// opener for reading, writing and deleting, and not inherited by child
// processes. A file this process may not write is opened for reading only
// (LockFileEx locks through either access). Returns the handle, or
// invalid_file with `error` set to the GetLastError() value.
inline native_file open_lock_file(const wchar_t* path,
                                  unsigned long& error) noexcept {
  constexpr DWORD share = FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE;
  HANDLE opened = ::CreateFileW(path, GENERIC_READ | GENERIC_WRITE, share,
                                nullptr, OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL,
                                nullptr);
  if (opened == INVALID_HANDLE_VALUE &&
      ::GetLastError() == ERROR_ACCESS_DENIED) {
    opened = ::CreateFileW(path, GENERIC_READ, share, nullptr, OPEN_EXISTING,
                           FILE_ATTRIBUTE_NORMAL, nullptr);
    if (opened == INVALID_HANDLE_VALUE) {
      error = ERROR_ACCESS_DENIED;  // the first refusal says more
      return invalid_file;
    }
  }
  if (opened == INVALID_HANDLE_VALUE) {
    error = ::GetLastError();
    return invalid_file;
  }
  return opened;
}

// True if `path` names a directory.
inline bool is_directory(const wchar_t* path) noexcept {
  const DWORD attributes = ::GetFileAttributesW(path);
  return attributes != INVALID_FILE_ATTRIBUTES &&
         (attributes & FILE_ATTRIBUTE_DIRECTORY) != 0;
}

// Identifies the open file `file`. Returns false with `error` set on
// failure.
inline bool identify_file(native_file file, file_id& id,
                          unsigned long& error) noexcept {
  BY_HANDLE_FILE_INFORMATION info;
  if (!::GetFileInformationByHandle(file, &info)) {
    error = ::GetLastError();
    return false;
  }
  id = file_id{info.dwVolumeSerialNumber,
               (static_cast<std::uint64_t>(info.nFileIndexHigh) << 32) |
                   info.nFileIndexLow};
  return true;
}

// Identifies the file `path` names, following links, through a handle
// opened for attributes only and closed at once (closing it releases no
// lock: a LockFileEx lock belongs to the handle that took it). Returns
// false with `error` set if it cannot (ERROR_FILE_NOT_FOUND for a file
// not created yet).
inline bool identify_path(const wchar_t* path, file_id& id,
                          unsigned long& error) noexcept {
  const HANDLE probe = ::CreateFileW(
      path, FILE_READ_ATTRIBUTES,
      FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
      OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS, nullptr);
  if (probe == INVALID_HANDLE_VALUE) {
    error = ::GetLastError();
    return false;
  }
  const bool known = identify_file(probe, id, error);
  ::CloseHandle(probe);
  return known;
}

// Closes a handle.
inline void close_file(native_file file) noexcept { ::CloseHandle(file); }

// Takes a LockFileEx lock in `mode` (shared or exclusive) over the whole
// 64-bit range of `file`, without waiting: would_block when another handle
// holds a conflicting lock.
inline lock_result try_lock_range(native_file file,
                                  primitive_mode mode) noexcept {
  OVERLAPPED from_start{};  // offset 0
  DWORD flags = LOCKFILE_FAIL_IMMEDIATELY;
  if (mode == primitive_mode::exclusive) flags |= LOCKFILE_EXCLUSIVE_LOCK;
  if (::LockFileEx(file, flags, 0, MAXDWORD, MAXDWORD, &from_start)) {
    return {lock_status::acquired, {}};
  }
  const DWORD error = ::GetLastError();
  if (error == ERROR_LOCK_VIOLATION || error == ERROR_IO_PENDING) {
    return {lock_status::would_block, windows_error(error)};
  }
  return {lock_status::failed, windows_error(error)};
}

// Removes one LockFileEx lock over the whole range of `file` (the
// exclusive one first where a shared one overlaps it).
inline lock_result unlock_range(native_file file) noexcept {
  OVERLAPPED from_start{};
  if (::UnlockFileEx(file, 0, MAXDWORD, MAXDWORD, &from_start)) {
    return {lock_status::acquired, {}};
  }
  return {lock_status::failed, windows_error(::GetLastError())};
}

// Takes a lock in `mode` as try_lock_range() does; with `wait`, retries a
// refusal until granted, pausing 1 ms and doubling up to 16 ms. It polls
// instead of making a blocking LockFileEx call, because I/O through a
// handle opened without FILE_FLAG_OVERLAPPED is serialized: while one
// thread waited in LockFileEx, another thread's UnlockFileEx (a release,
// which must never wait) or ReadFile through the same handle would wait
// for it; and Wine never completes an overlapped LockFileEx. (The registry
// never asks with `wait` on Windows: it polls under its mutex,
// os_lock_transitions.hpp. This serves a primitive's other callers.)
inline lock_result lock_range(native_file file, primitive_mode mode,
                              bool wait) noexcept {
  DWORD pause_ms = 0;
  for (;;) {
    const lock_result result = try_lock_range(file, mode);
    if (!wait || result.status != lock_status::would_block) return result;
    pause_ms = pause_ms == 0 ? 1 : (pause_ms < 16 ? pause_ms * 2 : 16);
    ::Sleep(pause_ms);
  }
}

}  // namespace dreadlocks::detail

#endif  // defined(_WIN32)

#endif  // DREADLOCKS_DETAIL_WINDOWS_FILE_HPP_
