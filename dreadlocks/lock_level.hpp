// dreadlocks/lock_level.hpp
//
// The two levels a path can be locked at, named in errors and requests.

#ifndef DREADLOCKS_LOCK_LEVEL_HPP_
#define DREADLOCKS_LOCK_LEVEL_HPP_

namespace dreadlocks {

// lock_level
//
// `thread` excludes the threads of one process per key; `process` excludes
// processes through an OS lock on the lock file.
enum class lock_level { thread, process };

// to_string()
//
// Returns "thread-level" or "process-level", as errors spell the level.
constexpr const char* to_string(lock_level level) noexcept {
  return level == lock_level::thread ? "thread-level" : "process-level";
}

}  // namespace dreadlocks

#endif  // DREADLOCKS_LOCK_LEVEL_HPP_
