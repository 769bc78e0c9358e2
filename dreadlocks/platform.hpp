// dreadlocks/platform.hpp
//
// The one place the aliases are chosen for the platform.

#ifndef DREADLOCKS_PLATFORM_HPP_
#define DREADLOCKS_PLATFORM_HPP_

#include "dreadlocks/basic_path_lock.hpp"
#include "dreadlocks/basic_path_mutex.hpp"
#include "dreadlocks/basic_multi_path_lock.hpp"
#include "dreadlocks/process_policies.hpp"
#include "dreadlocks/reentrancy_policies.hpp"
#include "dreadlocks/thread_policies.hpp"

namespace dreadlocks {

// default_process_lock
//
// The OS lock the aliases use: LockFileEx on Windows, OFD locks where the
// headers offer them (Linux), classic fcntl locks on other POSIX systems.
#if defined(_WIN32)
using default_process_lock = windows_process_lock;
#elif defined(F_OFD_SETLK)
using default_process_lock = ofd_process_lock;
#else
using default_process_lock = fcntl_process_lock;
#endif

namespace detail {

// The three compositions every kind of lock comes in, stated once:
// `both` levels, the `process_level` only, the `thread_level` only.
template <template <class, class, class> class Lock>
struct compositions {
  using both =
      Lock<shareable_thread_lock, default_process_lock, reentrant_if_requested>;
  using process_level =
      Lock<no_thread_lock, default_process_lock, reentrant_if_requested>;
  using thread_level =
      Lock<shareable_thread_lock, no_process_lock, reentrant_if_requested>;
};

}  // namespace detail

// path_lock
//
// Locks a path at both levels: threads of this process, then processes.
using path_lock = detail::compositions<basic_path_lock>::both;

// process_level_path_lock
//
// Locks a path at the process level only; the threads of one process share
// it.
using process_level_path_lock =
    detail::compositions<basic_path_lock>::process_level;

// thread_level_path_lock
//
// Locks a key at the thread level only; never touches the file system.
using thread_level_path_lock =
    detail::compositions<basic_path_lock>::thread_level;

// path_mutex, process_level_path_mutex, thread_level_path_mutex
//
// The same three compositions as standard SharedTimedMutex types.
using path_mutex = detail::compositions<basic_path_mutex>::both;
using process_level_path_mutex =
    detail::compositions<basic_path_mutex>::process_level;
using thread_level_path_mutex =
    detail::compositions<basic_path_mutex>::thread_level;

// multi_path_lock, process_level_multi_path_lock,
// thread_level_multi_path_lock
//
// The same three compositions, locking several paths in one call.
using multi_path_lock = detail::compositions<basic_multi_path_lock>::both;
using process_level_multi_path_lock =
    detail::compositions<basic_multi_path_lock>::process_level;
using thread_level_multi_path_lock =
    detail::compositions<basic_multi_path_lock>::thread_level;

}  // namespace dreadlocks

#endif  // DREADLOCKS_PLATFORM_HPP_
