// dreadlocks/detail/file_state.hpp
//
// What the process registry knows about one lock file (or any resource a
// LockPrimitive locks): its handle, the primitive it is locked with, the
// holds of this process's threads and the OS lock they add up to. Every
// field is guarded by the registry's mutex, except `orphaned` (see below)
// and the holds a file's fast mode keeps in a key's word
// (detail/file_fast_mode.hpp).
//
// Words used throughout the process level, and only so:
//   file       a file_state: one open (or idle) lock file of the process.
//   spelling   a lock_key that leads to a file; the first one opened it.
//   hold       one granted request (a thread may have several, per mode).
//   user       a hold or a request in flight; the file stays open while
//              it has users.
//   keeper     a lock object that keeps the file open between its holds
//              (basic_path_mutex); the file stays open while it has
//              users or keepers.
//   OS lock    what the primitive holds for the process (`os_lock`).
//   transition a thread waiting in the kernel, without the mutex, for the
//              OS lock to become `transition_to`.
//   waiter     a thread waiting (in-process) for a transition to end.
//
// The states of a file_state, and what moves it between them:
//
//   state         where it lives          users  handle  spellings
//   ------------  ----------------------  -----  ------  ---------
//   spare         file_table spares       0      none    0
//   unidentified  file_table, alone       >= 0*  open    >= 1
//   identified    file_table files_       >= 0*  open    >= 1
//   idle          file_table idle list    0      none**  1 (the opener)
//   orphaned      file_table orphans      >= 0*  none    0
//
//   * users >= 1, or keepers >= 1 (a kept file may have no user).
//   ** or kept open and unlocked for reuse, when its primitive's idle
//      handles are reusable and its last user released a hold.
//
//   from          event                                   to
//   ------------  --------------------------------------  ------------
//   spare         a new spelling opens a file, nothing    unidentified
//                 else open
//   spare         a new spelling opens a file while       identified
//                 others are open
//   idle          its spelling locates it again, and its  un/identified
//                 kept handle still is the file the       (handle kept)
//                 spelling names
//   idle          its spelling locates it again           (as spare)
//   unidentified  another file is located                 identified
//   un/identified its last user and keeper leave          idle (or spare
//                                                         if never named)
//   idle          pushed out (kIdleFiles), trim(), fork   spare / freed
//   idle          close_idle(): its kept handle closed    idle, no handle
//   un/identified fork(), in the child                    orphaned
//   orphaned      its last user and keeper leave          freed
//
// While open, the OS lock follows the holds: raised (none -> shared ->
// exclusive) by a request that needs more, under the mutex or in a
// transition; lowered at once, under the mutex, by a release that leaves
// it stronger than the holds need (detail/os_lock_transitions.hpp). And the
// holds are either counted here (slow mode) or kept in the word of the
// opening spelling (fast mode, one thread alone holding it more than once:
// detail/file_fast_mode.hpp).

#ifndef DREADLOCKS_DETAIL_FILE_STATE_HPP_
#define DREADLOCKS_DETAIL_FILE_STATE_HPP_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "dreadlocks/detail/detect.hpp"
#include "dreadlocks/detail/fork_safe_instance.hpp"
#include "dreadlocks/detail/owners.hpp"
#include "dreadlocks/lock_key.hpp"
#include "dreadlocks/lock_primitive.hpp"

namespace dreadlocks::detail {

// primitive_ops
//
// A LockPrimitive's calls on an open handle, as the registry keeps them per
// file: the file is locked and closed by the primitive that opened it,
// whichever policy asks later. One instance per primitive
// (primitive_ops_of<P>); `refused` is set once the primitive said
// `unsupported`, so that files opened afterwards use the fallback at once.
template <class Handle>
struct primitive_ops {
  using set_function = lock_result (*)(Handle, primitive_mode, primitive_mode,
                                       bool) noexcept;
  using set_until_function = lock_result (*)(Handle, primitive_mode,
                                             primitive_mode,
                                             primitive_deadline) noexcept;
  using close_function = void (*)(Handle) noexcept;

  constexpr primitive_ops(set_function set_lock,
                          set_until_function set_lock_until,
                          close_function close_handle, bool closing_releases,
                          bool idle_reusable, Handle invalid,
                          const primitive_ops* fallback_ops) noexcept
      : set(set_lock),
        set_until(set_lock_until),
        close(close_handle),
        closing_any_releases(closing_releases),
        idle_handles_reusable(idle_reusable),
        invalid_handle(invalid),
        fallback(fallback_ops) {}

  set_function set;
  set_until_function set_until;  // nullptr: timed requests poll
  close_function close;
  bool closing_any_releases;
  bool idle_handles_reusable;
  Handle invalid_handle;
  const primitive_ops* fallback;  // nullptr: none
  mutable std::atomic<bool> refused{false};

  // The ops a new file opens with: the first not refused in the chain.
  const primitive_ops* usable() const noexcept {
    const primitive_ops* ops = this;
    while (ops->fallback != nullptr &&
           ops->refused.load(std::memory_order_relaxed)) {
      ops = ops->fallback;
    }
    return ops;
  }
};

template <class P>
using primitive_fallback_probe = typename P::fallback;

template <class P>
using primitive_set_until_probe = decltype(&P::set_until);

template <class P>
using primitive_idle_reusable_probe = decltype(P::idle_handles_reusable);

template <class P>
struct primitive_ops_holder;

// primitive_ops_of<P>: the one primitive_ops of primitive P.
template <class P>
inline DREADLOCKS_CONSTINIT primitive_ops<typename P::native_handle_type>
    primitive_ops_of{&P::set,
                     primitive_ops_holder<P>::set_until(),
                     &P::close,
                     P::closing_any_releases,
                     primitive_ops_holder<P>::idle_handles_reusable(),
                     P::invalid_handle,
                     primitive_ops_holder<P>::fallback()};

template <class P>
struct primitive_ops_holder {
  static constexpr bool idle_handles_reusable() noexcept {
    if constexpr (is_detected_v<P, primitive_idle_reusable_probe>) {
      return P::idle_handles_reusable;
    } else {
      return false;
    }
  }

  static constexpr
      typename primitive_ops<typename P::native_handle_type>::set_until_function
      set_until() noexcept {
    if constexpr (is_detected_v<P, primitive_set_until_probe>) {
      return &P::set_until;
    } else {
      return nullptr;
    }
  }

  static constexpr const primitive_ops<typename P::native_handle_type>*
  fallback() noexcept {
    if constexpr (is_detected_v<P, primitive_fallback_probe>) {
      return &primitive_ops_of<typename P::fallback>;
    } else {
      return nullptr;
    }
  }
};

// file_state
//
// One file of the process registry (see the tables above).
template <class Handle, class Id>
struct file_state {
  // In the fast mode the holds are in the opening key's word, not in the
  // counts, the owners nor `users` below, except that the word counts as
  // one user (so that the file stays open).
  Id id{};
  Handle handle{};
  // Lock objects keeping the file open between their holds (not users:
  // the fast mode counts holds against users). Beside `handle`, in what
  // would be padding after a POSIX descriptor.
  std::uint32_t keepers = 0;
  const primitive_ops<Handle>* ops = nullptr;
  std::uint32_t shared_holds = 0;
  std::uint32_t exclusive_holds = 0;
  std::uint32_t users = 0;  // holds and requests in flight; closed at 0
  std::uint32_t waiters = 0;
  owner_table owners;
  // One of the registry's conditions, shared with other files (waiters
  // re-check their own file): 8 bytes per file instead of 48.
  std::condition_variable* changed = nullptr;
  // The keys of the spelling index that lead here; they own the text the
  // index's views point to. The first opened the file.
  std::vector<lock_key> spellings;
  // The idle list (closed, users == 0), most recently released first; or
  // the orphans' list (see file_table::orphan_all()).
  file_state* newer = nullptr;
  file_state* older = nullptr;
  // Blocking requests left that wait in the kernel without asking first
  // (see os_lock_transitions); kept while the file is closed and reopened.
  std::uint8_t skip_asking = 0;
  primitive_mode os_lock = primitive_mode::none;  // the primitive holds
  bool in_transition = false;                     // a thread waits for...
  primitive_mode transition_to = primitive_mode::none;  // ...this mode
  bool changed_in_transition = false;  // a release lowered the OS lock
  bool identified = false;  // `id` is known and the file is in the table
  // `id` is the identity of `handle`: read once for an idle file whose
  // handle is kept for reuse (detail/file_table.hpp), kept while it stays
  // open.
  bool id_known = false;
  bool idle = false;
  // Inherited through fork(). Read without the mutex by a release, possibly
  // while a fork waits for the mutex (hence atomic); set only by the
  // child's fork handler.
  std::atomic<bool> orphaned{false};

  // Asks the file's primitive to change the OS lock; see LockPrimitive.
  lock_result set_os_lock(primitive_mode to, bool wait) const noexcept {
    return ops->set(handle, os_lock, to, wait);
  }
};

}  // namespace dreadlocks::detail

#endif  // DREADLOCKS_DETAIL_FILE_STATE_HPP_
