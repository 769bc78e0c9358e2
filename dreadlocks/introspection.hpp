// dreadlocks/introspection.hpp
//
// What this process's locks hold right now, for tests, leak checks and
// benchmarks: the keys held at the thread level, the lock files open at the
// process level, and a way to drop what the registries keep for reuse. A
// separate include, not part of dreadlocks.hpp: a program that only locks
// never needs it.
//
//   #include "dreadlocks/introspection.hpp"
//   { dreadlocks::path_lock lock(file);
//     assert(dreadlocks::introspection::held_thread_keys() == 1);
//     assert(dreadlocks::introspection::open_lock_files() == 1); }
//   assert(dreadlocks::introspection::open_lock_files() == 0);
//
// Every count is a snapshot: other threads may change it as soon as it is
// read. Each function takes the registry's mutex briefly; none is meant
// for a hot path.

#ifndef DREADLOCKS_INTROSPECTION_HPP_
#define DREADLOCKS_INTROSPECTION_HPP_

#include <cstddef>

// The only door into the registries: every function below calls through
// here, and nothing else of detail/ is named in this header.
#include "dreadlocks/detail/process_registry.hpp"
#include "dreadlocks/detail/thread_registry.hpp"
#include "dreadlocks/platform.hpp"

namespace dreadlocks {

// The registries the functions below read: internal, so under detail.
namespace detail::registries {
// The process's thread-level key table.
inline thread_registry& threads() { return thread_registry::instance(); }
// The registry of the platform's lock files, which every file-backed
// primitive shipped here shares (a primitive with other handle types, such
// as a lock service, has a registry of its own).
using file_registry = process_registry_for<default_process_lock::primitive>;
inline file_registry& processes() { return file_registry::instance(); }
}  // namespace detail::registries

namespace introspection {

// held_thread_keys()
//
// Counts the keys some thread of this process holds or is waiting for at
// the thread level, in any mode, however often each is held.
// Returns 0 when no thread-level lock is held or asked for. Never throws
// (beyond std::system_error from std::mutex).
inline std::size_t held_thread_keys() {
  return detail::registries::threads().size();
}

// thread_key_entries()
//
// Counts the entries of the thread-level key table, in use or not: what
// sweeps bound. Unused entries are swept once the table reaches
// first_sweep_entries, and again each time it doubles since the last sweep,
// so it stays within 2 * (held_thread_keys() + first_sweep_entries).
// Returns that count. Never throws (beyond std::system_error from
// std::mutex).
inline std::size_t thread_key_entries() {
  return detail::registries::threads().entries();
}

// first_sweep_entries
//
// The table size at which the thread-level key table is first swept of
// unused entries: a program that holds no key keeps at most this many.
inline constexpr std::size_t first_sweep_entries =
    detail::thread_registry::kFirstSweep;

// open_lock_files()
//
// Counts the lock files this process holds open at the process level: one
// per file held or asked for, at any level, however many guards hold it and
// however many spellings name it.
// Returns 0 when no process-level lock is held or asked for. Never throws
// (beyond std::system_error from std::mutex).
inline std::size_t open_lock_files() {
  return detail::registries::processes().open_files();
}

// idle_lock_files()
//
// Counts the lock files this process keeps open, unlocked, for the next
// lock on them (dreadlocks/idle_lock_files.hpp), in the registry
// open_lock_files() reads; not counted there.
// Returns 0 when none is kept. Never throws (beyond std::system_error from
// std::mutex).
inline std::size_t idle_lock_files() {
  return detail::registries::processes().idle_handles();
}

// trim()
//
// Drops what both registries keep only for reuse: thread-level key entries
// nobody holds, idle lock files (closing the descriptors they keep open),
// spare states. Held
// locks are untouched. For measuring what held locks cost, and for leak
// checks that want only live state left.
// Returns nothing. Never throws (beyond std::system_error from std::mutex).
inline void trim() {
  detail::registries::processes().trim();
  detail::registries::threads().trim();
}

}  // namespace introspection
}  // namespace dreadlocks

#endif  // DREADLOCKS_INTROSPECTION_HPP_
