// dreadlocks/detail/single_thread.hpp
//
// Whether the process has one thread: then nobody else can see the
// library's counters, and plain loads and stores keep them without the
// atomic read-modify-write instructions (what libstdc++'s shared_ptr and
// glibc's own mutexes do too).

#ifndef DREADLOCKS_DETAIL_SINGLE_THREAD_HPP_
#define DREADLOCKS_DETAIL_SINGLE_THREAD_HPP_

#if defined(__has_include)
#if __has_include(<sys/single_threaded.h>)
#include <sys/single_threaded.h>
#define DREADLOCKS_HAS_SINGLE_THREADED_FLAG_ 1
#endif
#endif

namespace dreadlocks::detail {

// Returns true while the process has never had a second thread. glibc
// clears the flag for good before a second thread starts, and the thread
// that starts it is the only one that could have read it true; where the
// flag does not exist, the answer is always false.
inline bool process_single_threaded() noexcept {
#if defined(DREADLOCKS_HAS_SINGLE_THREADED_FLAG_)
  return ::__libc_single_threaded != 0;
#else
  return false;
#endif
}

}  // namespace dreadlocks::detail

#endif  // DREADLOCKS_DETAIL_SINGLE_THREAD_HPP_
