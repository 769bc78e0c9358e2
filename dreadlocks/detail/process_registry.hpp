// dreadlocks/detail/process_registry.hpp
//
// The per-process registry behind every file-backed process policy: one
// handle per lock file, opened when the first lock on the file is asked for
// and closed after the last is released (or, if a lock object keeps it,
// once that lets go too; or kept idle for reuse, bounded, where the
// primitive allows: detail/file_table.hpp), and per file the holds of this
// process's threads and the OS lock they add up to. One registry per kind
// of handle and identity, so that every primitive on POSIX files (OFD,
// classic fcntl, flock(2), one's own) meets the others in one table and
// two policies locking one file cooperate.
//
// It puts together, under one mutex:
//   detail/file_table.hpp           which open file a spelling names, who
//                                   uses it (open, identify, close, idle,
//                                   fork orphans);
//   detail/os_lock_transitions.hpp  which OS lock the holds add up to, and
//                                   the transitions to it;
//   detail/file_fast_mode.hpp       the hold word that grants a nested
//                                   repeat without the mutex;
//   detail/file_state.hpp           one file's state (its table of states
//                                   and transitions);
// and adds the requests' bookkeeping: who holds what (the owner table),
// reentrancy, and dropping a request's use when it fails.

#ifndef DREADLOCKS_DETAIL_PROCESS_REGISTRY_HPP_
#define DREADLOCKS_DETAIL_PROCESS_REGISTRY_HPP_

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <new>
#include <utility>

#include "dreadlocks/detail/attributes.hpp"
#include "dreadlocks/detail/file_fast_mode.hpp"
#include "dreadlocks/detail/file_state.hpp"
#include "dreadlocks/detail/file_table.hpp"
#include "dreadlocks/detail/fork_safe_instance.hpp"
#include "dreadlocks/detail/key_access.hpp"
#include "dreadlocks/detail/os_lock_transitions.hpp"
#include "dreadlocks/detail/thread_tag.hpp"
#include "dreadlocks/errors.hpp"
#include "dreadlocks/lock_request.hpp"

namespace dreadlocks::detail {

template <class Handle, class Id, class IdHash>
class process_registry {
 public:
  using file = file_state<Handle, Id>;

  // What a grant gives: the file, and the word its holds may be kept in
  // (in the block of the key that opened the file, alive while it is held).
  struct held_file {
    file* target = nullptr;
    std::atomic<std::uint64_t>* word = nullptr;
  };

  // A file found or opened for one request and counted as one of its users
  // (so that it stays open, and its thread key stays the same, until the
  // request is granted and released or abandoned).
  struct located_file {
    file* target = nullptr;
    // The file's thread key when it is not the request's own key (empty
    // otherwise: the common case costs no copy).
    lock_key other_thread_key = key_access::empty();
  };

  // instance()
  //
  // Returns the process's registry for this kind of handle. It is never
  // destroyed, so that guards released from static destructors still find
  // it.
  static process_registry& instance() {
    return fork_safe_instance<process_registry>::get();
  }

  // acquire()
  //
  // Grants `request` at the process level to the thread tagged `self` (the
  // calling one), opening the file with primitive P if this process does
  // not hold it yet. Throws std::system_error for a file that cannot be
  // opened or locked, recursive_deadlock_error, or
  // acquiring_process_level_lock_would_block_error, and then leaves no
  // hold, handle or entry behind.
  //
  // Static and small, so that a repeat in the fast mode inlines into the
  // guard: it then costs no call and no instance() check.
  template <class P>
  DREADLOCKS_INLINE_STEP static held_file acquire(const lock_request& request,
                                                  thread_tag self) {
    held_file granted;
    if (try_repeat(request, self, granted)) return granted;
    return instance().template acquire_slow<P>(request, self);
  }

  // release()
  //
  // Gives back one hold of the given mode taken by thread `holder` through
  // primitive P's policy; lowers the OS lock when no hold needs it any
  // more, and closes the file with the last user. Never waits for another
  // process; never throws.
  template <class P>
  DREADLOCKS_INLINE_STEP static void release(const held_file& held,
                                             thread_tag holder,
                                             bool shared) noexcept {
    // A forked child's copy of a parent's guard: the word it names may be
    // the child's own holds now (or gone with the key); the orphan alone
    // is its to release. `orphaned` is set only in the child's fork
    // handler, before the child has a second thread.
    if (!held.target->orphaned.load(std::memory_order_relaxed) &&
        file_fast_mode::try_release(*held.word, shared)) {
      return;
    }
    instance().template release_slow<P>(*held.target, holder, shared);
  }

  // The steps of a guard that keys its thread level by the file
  // (basic_path_lock over a ProcessPolicy that locates files): find the
  // file first, then lock the thread level under the file's thread key,
  // then the OS lock.

  // try_repeat()
  //
  // Grants, without the mutex or a system call, a reentrant repeat of a
  // mode the calling thread `self` holds, alone, on the file the request's
  // key opened; returns false for anything else. When it grants, the
  // request's key is the file's thread key.
  static bool try_repeat(const lock_request& request, thread_tag self,
                         held_file& granted) noexcept {
    if (!file_fast_mode::try_repeat(request, self)) return false;
    // The word names this thread, so the file the key opened is held.
    granted = {static_cast<file*>(
                   key_access::entry(request.key, registry_slot::process)),
               &key_access::hold_word(request.key)};
    return true;
  }

  // locate()
  //
  // Finds the file the request's key names, opening it with primitive P if
  // this process does not hold it (no OS lock yet), and counts the request
  // as one of its users. Throws std::system_error for a file that cannot
  // be opened (then leaves nothing behind).
  template <class P>
  DREADLOCKS_INLINE_STEP static located_file locate(
      const lock_request& request) {
    process_registry& registry = instance();
    const std::lock_guard<std::mutex> lock(registry.mutex_);
    file& found = registry.table_.template locate<P>(request);
    located_file located;
    located.target = &found;
    // The key that opened the file: the same for every spelling while
    // anybody uses the file, and read here under the mutex (spellings may
    // grow meanwhile).
    const lock_key& opener = found.spellings.front();
    if (!opener.shares_block_with(request.key)) {
      located.other_thread_key = opener;
    }
    return located;
  }

  // thread_key()
  //
  // Returns the key the thread level locks a located file under: one key
  // per open file, whatever spelling located it.
  static const lock_key& thread_key(const located_file& located,
                                    const lock_request& request) noexcept {
    return located.other_thread_key.native().empty()
               ? request.key
               : located.other_thread_key;
  }

  // lock_located()
  //
  // Grants `request` at the process level on the file located for it, to
  // the calling thread `self`, as acquire<P>() does. Consumes the request's
  // use of the file either way: throws as acquire(), leaving no hold and no
  // use behind.
  template <class P>
  DREADLOCKS_INLINE_STEP static held_file lock_located(
      located_file& located, const lock_request& request, thread_tag self) {
    process_registry& registry = instance();
    std::unique_lock<std::mutex> lock(registry.mutex_);
    file& target = *std::exchange(located.target, nullptr);
    return registry.template grant<P>(lock, target, request, self);
  }

  // abandon()
  //
  // Drops the request's use of a located file it will not lock (the thread
  // level refused it); closes the file if nobody else uses it.
  static void abandon(located_file& located) noexcept {
    file* target = std::exchange(located.target, nullptr);
    if (target == nullptr) return;
    process_registry& registry = instance();
    const std::lock_guard<std::mutex> lock(registry.mutex_);
    if (target->orphaned) {
      registry.table_.forget_orphan(*target);
    } else {
      registry.leave(*target);
    }
  }

  // keep()
  //
  // Makes `kept` keep open the file `held` is a hold on (and no other):
  // counts it one keeper more, and lets go of the file `kept` kept before,
  // if another (one a forked child inherited, say). Costs a comparison
  // when `kept` already keeps that file. `held` must be granted.
  static void keep(file*& kept, const held_file& held) noexcept {
    if (kept == held.target) return;
    process_registry& registry = instance();
    const std::lock_guard<std::mutex> lock(registry.mutex_);
    ++held.target->keepers;
    if (kept != nullptr) registry.drop_keeper(*kept);
    kept = held.target;
  }

  // unkeep()
  //
  // Lets go of the file `kept` keeps, if any: closes it if it has no user
  // left, frees it if it is an orphan nobody uses.
  static void unkeep(file*& kept) noexcept {
    file* target = std::exchange(kept, nullptr);
    if (target == nullptr) return;
    process_registry& registry = instance();
    const std::lock_guard<std::mutex> lock(registry.mutex_);
    registry.drop_keeper(*target);
  }

  // ---- Kept files locked directly (basic_path_mutex's cycle; issue 16
  // item 1). A lock object that keeps a file may, from its second hold on,
  // lock it without locating it: the file stays open while kept, so its
  // thread key (the opener) cannot change, and one mutex section grants
  // the OS lock. Added for the mutex; nothing above calls these. ----

  // keep_direct()
  //
  // Publishes, once per `direct`, the file `held` is a hold on for
  // lock_kept(): counts one keeper more for it (its own, so that the state
  // outlives the publication however the lock object's other keeping
  // changes) and copies its thread key into `thread_key` before the release
  // store of `direct`. Does nothing if `direct` is published or the file is
  // an orphan (a forked child locks through locate() instead). Callers
  // serialize the calls on one `direct`; readers need only the acquire
  // load. `held` must be granted.
  static void keep_direct(std::atomic<file*>& direct, lock_key& thread_key,
                          const held_file& held) noexcept {
    if (direct.load(std::memory_order_relaxed) != nullptr) return;
    process_registry& registry = instance();
    {
      const std::lock_guard<std::mutex> lock(registry.mutex_);
      if (held.target->orphaned.load(std::memory_order_relaxed)) return;
      ++held.target->keepers;
      thread_key = held.target->spellings.front();
    }
    direct.store(held.target, std::memory_order_release);
  }

  // lock_kept()
  //
  // Grants `request` at the process level on `kept`, a file published by
  // keep_direct() and not an orphan, to the calling thread `self`: as
  // locate() and lock_located<P>() do, in one mutex section. Throws as
  // acquire(), leaving no hold and no use behind (the file stays kept).
  template <class P>
  DREADLOCKS_INLINE_STEP static held_file lock_kept(
      file& kept, const lock_request& request, thread_tag self) {
    process_registry& registry = instance();
    std::unique_lock<std::mutex> lock(registry.mutex_);
    file_fast_mode::make_slow(kept);
    ++kept.users;
    return registry.template grant<P>(lock, kept, request, self);
  }

  // ---- End of the kept files locked directly. ----

  // trim()
  //
  // Forgets the closed files kept for reopening and frees the spare states:
  // for measuring what held files cost.
  void trim() {
    const std::lock_guard<std::mutex> lock(mutex_);
    table_.trim();
  }

  // open_files()
  //
  // Returns the number of files this process holds open; 0 when no
  // process-level lock is held or asked for.
  std::size_t open_files() const {
    const std::lock_guard<std::mutex> lock(mutex_);
    return table_.open_files();
  }

  // close_idle()
  //
  // Closes the handles idle files keep open for reuse; returns how many.
  std::size_t close_idle() {
    const std::lock_guard<std::mutex> lock(mutex_);
    return table_.close_idle();
  }

  // idle_handles()
  //
  // Returns the number of handles idle files keep open for reuse.
  std::size_t idle_handles() const {
    const std::lock_guard<std::mutex> lock(mutex_);
    return table_.idle_handles();
  }

 private:
  // Inlined, as the steps below are, so that each system call of a cycle
  // is made as few calls deep as it can be: after a system call, every
  // return costs a mispredicted branch (docs/performance.md, "Call depth
  // at the system calls").
  template <class P>
  DREADLOCKS_INLINE_STEP held_file acquire_slow(const lock_request& request,
                                                thread_tag self) {
    std::unique_lock<std::mutex> lock(mutex_);
    return grant<P>(lock, table_.template locate<P>(request), request, self);
  }

  // Grants `request` on `target`, located for it (one of its users), under
  // the mutex held by `lock`, P being the request's primitive; on a throw
  // the request's use is dropped.
  template <class P>
  DREADLOCKS_INLINE_STEP held_file grant(std::unique_lock<std::mutex>& lock,
                                         file& target,
                                         const lock_request& request,
                                         thread_tag self) {
    try {
      if (!request.reentry_allowed && target.owners.find(self) != nullptr) {
        throw recursive_deadlock_error(
            request.operation, request.path(), lock_level::process,
            request.shared,
            "asked again by the thread that holds it, without reentrancy");
      }
      os_lock_transitions::raise_os_lock<P>(lock, target, request);
    } catch (...) {
      leave(target);
      throw;
    }
    try {
      target.owners.add(self, request.shared);  // a second thread allocates
    } catch (...) {
      // The OS lock may have been raised for this request alone.
      os_lock_transitions::lower_os_lock<P>(target);
      leave(target);
      throw;
    }
    ++(request.shared ? target.shared_holds : target.exclusive_holds);
    file_fast_mode::make_fast(target);
    return {&target, &file_fast_mode::word_of(target)};
  }

  // Inlined into release(), and so into a guard's destructor and a mutex's
  // unlock(): the unlock call is then made no call deep (see
  // acquire_slow()).
  template <class P>
  DREADLOCKS_INLINE_STEP void release_slow(file& target, thread_tag holder,
                                           bool shared) noexcept {
    const std::lock_guard<std::mutex> lock(mutex_);
    file_fast_mode::make_slow(target);
    target.owners.remove(holder, shared);
    --(shared ? target.shared_holds : target.exclusive_holds);
    if (target.orphaned) {
      table_.forget_orphan(target);
      return;
    }
    os_lock_transitions::lower_os_lock<P>(target);
    leave(target, true);
  }

  // Drops one user of a file that is not an orphan; the last one clears the
  // OS lock and, unless a keeper keeps it open, closes the file. A user
  // that released a hold (`released`) lets the file keep its handle idle
  // for reuse; a request that failed leaves nothing open.
  DREADLOCKS_INLINE_STEP void leave(file& target,
                                    bool released = false) noexcept {
    if (--target.users != 0) {
      if (target.waiters != 0) target.changed->notify_all();
      file_fast_mode::make_fast(target);
      return;
    }
    if (target.os_lock != primitive_mode::none) {
      target.set_os_lock(primitive_mode::none, false);
    }
    if (target.keepers == 0) table_.close(target, released);
  }

  // Drops one keeper of a file; closes it (or frees an orphan) if that
  // leaves it without users and keepers.
  void drop_keeper(file& target) noexcept {
    --target.keepers;
    if (target.orphaned) {
      table_.free_unused_orphan(target);
    } else if (target.users == 0 && target.keepers == 0) {
      table_.close(target, true);  // its OS lock went with its last user
    }
  }

  // A forked child is a new process and holds no locks: classic locks are
  // not inherited, and an inherited OFD or flock(2) handle would make the
  // child share the parent's lock. So the child closes its copies of the
  // handles (which leaves the parent's locks alone) and starts empty; its
  // copies of guards release into orphaned states without touching the OS.
  // The mutex is held across fork() so that the child never inherits it
  // locked by a thread that does not exist there: the fork handlers of
  // detail/fork_safe_instance.hpp lock it and run after_fork() (registered
  // before the registry is made, so that a fork during its making cannot
  // leave the child without it or stuck).
  process_registry() = default;
  friend class fork_safe_instance<process_registry>;

  void after_fork() noexcept {
    // The condition variables are shared by files, and a parent's thread
    // may have been waiting on one, which leaves the child's copy undefined
    // (POSIX). Fresh ones, without destroying the old (undefined with a
    // waiter).
    for (std::condition_variable& condition : conditions_) {
      new (&condition) std::condition_variable;
    }
    table_.orphan_all();
  }

  // How many condition variables the files share.
  static constexpr std::size_t kConditions = 16;

  mutable std::mutex mutex_;
  std::condition_variable conditions_[kConditions];
  file_table<Handle, Id, IdHash> table_{conditions_, kConditions};
};

// process_registry_for<P>
//
// The registry primitive P's files are kept in: one per kind of handle and
// identity.
template <class P>
using process_registry_for =
    process_registry<typename P::native_handle_type, typename P::resource_id,
                     typename P::resource_id_hash>;

}  // namespace dreadlocks::detail

#endif  // DREADLOCKS_DETAIL_PROCESS_REGISTRY_HPP_
