// dreadlocks/lock_options.hpp
//
// How a lock is asked for: the mode, whether to wait, whether the calling
// thread may nest it inside a lock of its own on the same key.

#ifndef DREADLOCKS_LOCK_OPTIONS_HPP_
#define DREADLOCKS_LOCK_OPTIONS_HPP_

#include <chrono>
#include <optional>

namespace dreadlocks {

// lock_options
//
// Describes one acquisition. The defaults ask for an exclusive, blocking,
// non-reentrant lock, like the original package's defaults.
struct lock_options {
  // Asks for a shared (reader) lock instead of an exclusive (writer) one.
  bool shared = false;
  // Waits until the lock is granted; `false` throws the level's would-block
  // error at once instead of waiting.
  bool blocking = true;
  // Lets the calling thread lock a key it already holds (in any mode). What
  // a repeated request actually gets is decided by the ReentrancyPolicy; the
  // one used by the aliases reads this flag.
  bool reentrant = false;
  // Bounds the wait for the whole acquisition (thread level and process
  // level together). Unset: `blocking` decides. Zero or negative: exactly
  // `blocking = false`. On expiry the would-block error of the level that
  // was waiting is thrown, saying how long it waited. Ignored when
  // `blocking` is false.
  std::optional<std::chrono::nanoseconds> timeout = std::nullopt;
};

}  // namespace dreadlocks

#endif  // DREADLOCKS_LOCK_OPTIONS_HPP_
