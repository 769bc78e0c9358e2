// dreadlocks/detail/thread_registry.hpp
//
// The in-process keyed shared/exclusive lock behind shareable_thread_lock.
//
// Each key in use has an entry, in one of two modes:
// - fast: at most one thread holds the key, and the entry's atomic word
//   says which (a small per-thread tag) and how many times in each mode. A
//   thread locks or unlocks such a key with one compare-and-swap on the
//   word, taking neither the registry's mutex nor a look in its hash table:
//   the key's block points to the entry (key_access::entry()), and
//   the calling thread's recent keys hand that block out again.
// - slow: the word says kSlow, and the registry's mutex guards the state:
//   per-thread counts in an owner table, waiters, a pending upgrade.
// Whatever the fast mode cannot express (a second thread, a waiter, a
// refused or failed request) is handled under the mutex, which first turns
// the entry slow; a slow operation that leaves at most one holder and nobody
// waiting turns it fast again. A fast operation that finds the entry slow
// goes through the mutex instead.
//
// An entry keeps a copy of the key it was made with, whose block points back
// to it. It is erased once nobody holds it and that copy is the last
// reference to the block: then no thread can reach it without the mutex.
// Such unused entries are swept when the table has doubled since the last
// sweep, so memory follows the keys in use, within a factor of two, not the
// keys ever used; and a key a thread locks again and again keeps its entry
// (the thread's recent keys keep the block).

#ifndef DREADLOCKS_DETAIL_THREAD_REGISTRY_HPP_
#define DREADLOCKS_DETAIL_THREAD_REGISTRY_HPP_

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <new>
#include <unordered_map>

#include "dreadlocks/detail/fork_safe_instance.hpp"
#include "dreadlocks/detail/hold_word.hpp"
#include "dreadlocks/detail/key_access.hpp"
#include "dreadlocks/detail/key_view.hpp"
#include "dreadlocks/detail/map_room.hpp"
#include "dreadlocks/detail/owners.hpp"
#include "dreadlocks/detail/thread_tag.hpp"
#include "dreadlocks/detail/wait.hpp"
#include "dreadlocks/errors.hpp"
#include "dreadlocks/lock_request.hpp"

namespace dreadlocks::detail {

class thread_registry {
 public:

  struct key_state {
    explicit key_state(const lock_key& owned) : key(owned) {}

    // The fast mode's holder and counts, or kSlow (see the file comment).
    std::atomic<std::uint64_t> word{0};
    // Owns the text the entry's key_view points to; its block points here.
    lock_key key;
    // The slow mode's state, under the mutex.
    owner_table owners;
    thread_tag writer = 0;  // the thread holding exclusive, or 0
    std::uint32_t waiters = 0;
    bool upgrade_pending = false;  // a shared owner waits to be the only one
    // One of the registry's conditions_, chosen by the key's hash.
    std::condition_variable* changed = nullptr;
  };

  // instance()
  //
  // Returns the process's registry. It is never destroyed, so that guards
  // released from static destructors still find it.
  static thread_registry& instance() {
    return fork_safe_instance<thread_registry>::get();
  }

  // generation()
  //
  // Returns how many fork()s lie between the first process and this one; a
  // hold taken in another generation is an orphan (see after_fork()).
  std::uint32_t generation() const noexcept {
    return generation_.load(std::memory_order_relaxed);
  }

  // acquire()
  //
  // Grants `request` to the thread tagged `tag` (the calling one), waiting
  // if it must and may. Returns the key's entry, to be passed back to
  // release(). Throws recursive_deadlock_error or
  // acquiring_thread_level_lock_would_block_error (and std::bad_alloc) and
  // then leaves no trace.
  key_state& acquire(const lock_request& request, thread_tag tag) {
    if (void* hint = key_access::entry(request.key, registry_slot::thread)) {
      auto& state = *static_cast<key_state*>(hint);
      if (try_fast_acquire(state, request, tag)) return state;
    }
    return acquire_slow(request, tag);
  }

  // release()
  //
  // Gives back one hold of `mode` taken by the thread tagged `holder`
  // through acquire() in `generation`. Never blocks on anything but the
  // registry mutex; never throws.
  void release(key_state& state, thread_tag holder, bool shared,
               std::uint32_t generation) noexcept {
    if (generation != this->generation()) return;  // an orphan: after_fork()
    std::uint64_t word = state.word.load(std::memory_order_relaxed);
    for (;;) {
      if ((word & hold_word::kSlow) != 0) {
        return release_slow(state, holder, shared);
      }
      std::uint64_t left = word - hold_word::unit(shared);
      if ((left & hold_word::kCounts) == 0) left = 0;  // nobody holds it now
      if (hold_word::update(state.word, word, left,
                            std::memory_order_release)) {
        return;
      }
    }
  }

  // size()
  //
  // Returns the number of keys held or asked for; 0 when nothing is in use.
  std::size_t size() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return static_cast<std::size_t>(
        std::count_if(keys_.begin(), keys_.end(), [](const auto& entry) {
          return entry.second.word.load(std::memory_order_acquire) != 0;
        }));
  }

  // entries()
  //
  // Returns the number of entries, in use or not: what sweeps bound.
  std::size_t entries() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return keys_.size();
  }

  // trim()
  //
  // Erases every entry nobody holds or can reach without the mutex now,
  // rather than when the table has doubled: for measuring what held keys
  // cost.
  void trim() {
    const std::lock_guard<std::mutex> lock(mutex_);
    sweep();
    keys_.rehash(0);  // the fewest buckets for what is left
  }

  // How many condition variables the keys share. Keys with one condition
  // wake each other's waiters, who check their own key and wait again;
  // sharing saves 40 bytes per key and lets a release notify after
  // unlocking without the key's entry having to outlive the notification.
  static constexpr std::size_t kConditions = 64;

  // The table is swept of unused entries when it reaches this size, or
  // twice its size after the last sweep.
  static constexpr std::size_t kFirstSweep = 64;

 private:
  using map_type = std::unordered_map<key_view, key_state, key_view_hash>;

  // Grants `request` in the fast mode if the key is free, or held by the
  // caller alone and the request is a repeat it may make.
  static bool try_fast_acquire(key_state& state, const lock_request& request,
                               thread_tag tag) noexcept {
    std::uint64_t word = state.word.load(std::memory_order_relaxed);
    for (;;) {
      std::uint64_t desired;
      if (word == 0) {
        desired = tag | hold_word::unit(request.shared);
      } else if (request.reentry_allowed) {
        // A repeat, or an upgrade with no other holder to wait for.
        desired = hold_word::with_repeat(word, tag, request.shared, true);
        if (desired == hold_word::kSlow) return false;
      } else {
        return false;
      }
      if (hold_word::update(state.word, word, desired,
                            std::memory_order_acquire)) {
        return true;
      }
    }
  }

  key_state& acquire_slow(const lock_request& request, thread_tag tag) {
    std::unique_lock<std::mutex> lock = lock_registry(mutex_);
    key_state& state = find_or_add(request);
    make_slow(state);

    if (auto* mine = state.owners.find(tag)) {
      if (!request.reentry_allowed) {
        make_fast(state);
        throw recursive_deadlock_error(
            request.operation, request.path(), lock_level::thread,
            request.shared,
            "asked again by the thread that holds it, without reentrancy");
      }
      if (!request.shared && mine->exclusive == 0) {
        upgrade(state, request, lock, tag);
        state.writer = tag;
      }
      return grant(state, request, tag);
    }

    const bool granted =
        request.shared
            ? wait(lock, state, request, [&] { return state.writer == 0; })
            : wait(lock, state, request, [&] { return state.owners.empty(); });
    if (!granted) fail_would_block(state, request);
    if (!request.shared) state.writer = tag;
    return grant(state, request, tag);
  }

  // Counts the granted request; the caller has set the writer if it is one.
  key_state& grant(key_state& state, const lock_request& request,
                   thread_tag tag) {
    try {
      state.owners.add(tag, request.shared);  // a second holder allocates
    } catch (...) {
      if (state.owners.find(tag) == nullptr && state.writer == tag) {
        state.writer = 0;
      }
      abandon(state);
      throw;
    }
    make_fast(state);
    return state;
  }

  void release_slow(key_state& state, thread_tag holder, bool shared) noexcept {
    std::condition_variable* changed = nullptr;
    {
      const std::unique_lock<std::mutex> lock = lock_registry(mutex_);
      // It may have turned fast again since the caller looked.
      make_slow(state);
      if (state.owners.remove(holder, shared) == 0 && !shared) {
        state.writer = 0;
      }
      if (state.waiters != 0) changed = state.changed;
      make_fast(state);
    }
    // Notified once the mutex is free, so that a woken waiter does not
    // block on it straight away; conditions_ outlive every entry.
    if (changed != nullptr) changed->notify_all();
  }

  // Returns the entry for the request's key, made if there is none. An
  // entry found through another block with the same text either takes
  // that block (when nobody else refers to its own) or has the calling
  // thread's recent keys hand out its own block from now on, so that the
  // thread's next lock of the key takes the fast path.
  key_state& find_or_add(const lock_request& request) {
    const key_view view(request.key);
    auto found = keys_.find(view);
    if (found == keys_.end()) {
      if (keys_.size() >= sweep_at_) sweep();
      found = keys_.try_emplace(view, request.key).first;
      key_state& state = found->second;
      state.changed = &conditions_[request.key.hash() % kConditions];
      key_access::set_entry(request.key, registry_slot::thread, &state);
      return state;
    }
    key_state& state = found->second;
    if (!state.key.shares_block_with(request.key)) {
      if (key_access::sole_copy(state.key)) {
        // The node keeps its address; the view must point to the new text
        // before the old one goes with the entry's old key. Reserved first,
        // so that putting the node back cannot throw.
        make_room(keys_, 1);  // may rehash: find again
        map_type::node_type node = keys_.extract(keys_.find(view));
        node.key() = view;
        node.mapped().key = request.key;
        keys_.insert(std::move(node));
        key_access::set_entry(request.key, registry_slot::thread, &state);
      } else {
        key_access::prefer_in_thread_cache(state.key);
      }
    }
    return state;
  }

  // Erases the entries nobody holds and nobody can reach without the mutex
  // (their key's last reference is their own).
  void sweep() noexcept {
    for (auto it = keys_.begin(); it != keys_.end();) {
      // The key first: once its other references are gone, whatever their
      // holders did to the word is visible.
      if (key_access::sole_copy(it->second.key) &&
          it->second.word.load(std::memory_order_acquire) == 0) {
        it = keys_.erase(it);
      } else {
        ++it;
      }
    }
    sweep_at_ = std::max(kFirstSweep, 2 * keys_.size());
  }

  // Moves a fast entry's holder into the owner table and marks it slow, so
  // that fast operations on it wait for the mutex.
  static void make_slow(key_state& state) noexcept {
    const std::uint64_t word = hold_word::take(state.word);
    if (word == hold_word::kSlow || word == 0) return;
    // The table is empty in the fast mode: adding allocates nothing.
    hold_word::to_owners(word, state.owners);
    if (hold_word::count(word, false) != 0) {
      state.writer = hold_word::holder(word);
    }
  }

  // Turns a slow entry fast again when nobody waits on it and at most one
  // thread holds it.
  static void make_fast(key_state& state) noexcept {
    if (state.waiters != 0 || state.upgrade_pending) return;
    std::uint64_t word = 0;
    if (!state.owners.empty()) {
      word = hold_word::take_from_owners(state.owners);
      if (word == hold_word::kSlow) return;
      state.writer = 0;
    }
    state.word.store(word, std::memory_order_release);
  }

  // A forked child is a new process and holds no locks, not even those of
  // the thread that forked: every entry starts afresh there, and the
  // child's copies of guards are orphans of an older generation whose
  // release touches nothing. The mutex is held across fork() so that the
  // child never inherits it locked by a thread that does not exist there:
  // the fork handlers of detail/fork_safe_instance.hpp lock it and run
  // after_fork() (registered before the registry is made, so that a fork
  // during its making cannot leave the child without it or stuck).
  thread_registry() = default;
  friend class fork_safe_instance<thread_registry>;

  void after_fork() noexcept {
    generation_.store(generation() + 1, std::memory_order_relaxed);
    // The condition variables are shared by keys, and a parent's thread may
    // have been waiting on one, which leaves the child's copy undefined
    // (POSIX). Fresh ones, without destroying the old (undefined with a
    // waiter).
    for (std::condition_variable& condition : conditions_) {
      new (&condition) std::condition_variable;
    }
    for (auto& entry : keys_) {
      key_state& state = entry.second;
      state.word.store(0, std::memory_order_relaxed);
      state.owners.clear();
      state.writer = 0;
      state.waiters = 0;
      state.upgrade_pending = false;
    }
  }

  // Waits on the key until `ready()`, as far as the request allows.
  template <class Ready>
  static bool wait(std::unique_lock<std::mutex>& lock, key_state& state,
                   const lock_request& request, Ready ready) {
    if (ready()) return true;
    if (!request.may_wait()) return false;
    ++state.waiters;
    const bool ok = wait_on(*state.changed, lock, request.deadline, ready);
    --state.waiters;
    return ok;
  }

  // Turns the calling thread's shared hold into shared + exclusive once it
  // is the only owner. Only one such upgrade may wait per key: a second
  // would wait for the first, which waits for it.
  void upgrade(key_state& state, const lock_request& request,
               std::unique_lock<std::mutex>& lock, thread_tag tag) {
    if (state.owners.threads() == 1) return;
    if (!request.may_wait()) fail_would_block(state, request);
    if (state.upgrade_pending) {
      make_fast(state);
      throw recursive_deadlock_error(
          request.operation, request.path(), lock_level::thread, false,
          "asked as an upgrade from shared while another thread holding it "
          "shared already waits to upgrade");
    }
    state.upgrade_pending = true;
    // The caller's shared hold may be released meanwhile (by a guard moved
    // to another thread): then it must wait for no owner at all.
    const bool granted = wait(lock, state, request, [&] {
      return state.owners.threads() ==
             (state.owners.find(tag) != nullptr ? 1u : 0u);
    });
    state.upgrade_pending = false;
    if (!granted) fail_would_block(state, request);
  }

  [[noreturn]] void fail_would_block(key_state& state,
                                     const lock_request& request) {
    abandon(state);
    throw acquiring_thread_level_lock_would_block_error(
        request.operation, request.path(), request.shared,
        refusal_reason(request));
  }

  // Ends a request that is not granted. Notifies the waiters, whose
  // condition may have changed with the request (an upgrade that no longer
  // waits, say).
  void abandon(key_state& state) noexcept {
    if (state.waiters != 0) state.changed->notify_all();
    make_fast(state);
  }

  mutable std::mutex mutex_;
  std::condition_variable conditions_[kConditions];
  map_type keys_;
  std::size_t sweep_at_ = kFirstSweep;
  // Read without the mutex; written only by the child's fork handler, before
  // the child has a second thread. Atomic because a thread of the parent
  // may read it while a fork waits for the mutex (ThreadSanitizer would
  // otherwise order that read after the child's write).
  std::atomic<std::uint32_t> generation_{0};
};

}  // namespace dreadlocks::detail

#endif  // DREADLOCKS_DETAIL_THREAD_REGISTRY_HPP_
