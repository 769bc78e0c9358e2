// dreadlocks/detail/thread_registry.hpp
//
// The in-process keyed shared/exclusive lock behind shareable_thread_lock:
// one entry per key that is held or asked for, with per-thread ownership
// counts so that reentrancy, mode changes when nesting and upgrade deadlocks
// can be told apart. Entries are reference-counted; when the last user
// leaves, an entry rests in a short idle list (the kIdleEntries most
// recently released) for the next acquisition of the same key, and the
// oldest idle one is erased. So memory follows the keys in use plus a
// constant, not the keys ever used, and an uncontended lock-unlock cycle
// neither allocates nor frees.

#ifndef DREADLOCKS_DETAIL_THREAD_REGISTRY_HPP_
#define DREADLOCKS_DETAIL_THREAD_REGISTRY_HPP_

#include <pthread.h>

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <new>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "dreadlocks/detail/key_view.hpp"
#include "dreadlocks/detail/owners.hpp"
#include "dreadlocks/detail/wait.hpp"
#include "dreadlocks/errors.hpp"
#include "dreadlocks/lock_request.hpp"

namespace dreadlocks::detail {

class thread_registry {
 public:
  struct key_state {
    explicit key_state(const lock_key& owned) : key(owned) {}

    // Owns the text the entry's key_view points to.
    lock_key key;
    std::uint32_t users = 0;    // holds and requests in flight; idle at 0
    std::uint32_t waiters = 0;
    std::thread::id writer;     // the thread holding exclusive, or none
    owner_table owners;
    // One of the registry's conditions_, chosen by the key's hash.
    std::condition_variable* changed = nullptr;
    // The idle list (users == 0), most recently released first.
    std::pair<const key_view, key_state>* newer = nullptr;
    std::pair<const key_view, key_state>* older = nullptr;
    bool upgrade_pending = false;  // a shared owner waits to be the only one
    bool orphaned = false;  // inherited through fork(); see after_fork()
    bool idle = false;
  };

  using map_type = std::unordered_map<key_view, key_state, key_view_hash>;
  using entry = map_type::value_type;

  // instance()
  //
  // Returns the process's registry. It is never destroyed, so that guards
  // released from static destructors still find it.
  static thread_registry& instance() {
    static thread_registry* const registry = new thread_registry;
    return *registry;
  }

  // acquire()
  //
  // Grants `request` to the calling thread, waiting if it must and may.
  // Returns the key's entry, to be passed back to release(). Throws
  // recursive_deadlock_error or acquiring_thread_level_lock_would_block_error
  // and then leaves no trace.
  entry& acquire(const lock_request& request) {
    std::unique_lock<std::mutex> lock = lock_registry(mutex_);
    // The view points to the request's text, which the new entry's copy
    // of the key shares and keeps alive.
    const auto [found, added] =
        keys_.try_emplace(key_view(request.key), request.key);
    entry& node = *found;
    key_state& state = node.second;
    if (added) state.changed = &conditions_[request.key.hash() % kConditions];
    if (state.users++ == 0 && state.idle) wake(node);
    const std::thread::id self = std::this_thread::get_id();

    if (owner* mine = state.owners.find(self)) {
      if (!request.reentry_allowed) {
        abandon(node);
        throw recursive_deadlock_error(
            request.operation, request.key.path(), lock_level::thread,
            request.shared,
            "asked again by the thread that holds it, without reentrancy");
      }
      if (!request.shared && mine->exclusive == 0) {
        upgrade(node, request, lock);
        state.writer = self;
      }
      state.owners.add(self, request.shared);
      return node;
    }

    const bool granted =
        request.shared
            ? wait(lock, state, request,
                   [&] { return state.writer == std::thread::id(); })
            : wait(lock, state, request, [&] { return state.owners.empty(); });
    if (!granted) fail_would_block(node, request);
    state.owners.add(self, request.shared);
    if (!request.shared) state.writer = self;
    return node;
  }

  // release()
  //
  // Gives back one hold of `mode` taken by thread `holder` through acquire().
  // Never blocks on anything but the registry mutex; never throws.
  void release(entry& node, std::thread::id holder, bool shared) noexcept {
    std::condition_variable* changed = nullptr;
    {
      const std::unique_lock<std::mutex> lock = lock_registry(mutex_);
      key_state& state = node.second;
      if (state.owners.remove(holder, shared) == 0 && !shared) {
        state.writer = std::thread::id();
      }
      if (state.orphaned) {
        forget_orphan(state);
        return;
      }
      if (--state.users == 0) {
        rest(node);
      } else if (state.waiters != 0) {
        changed = state.changed;
      }
    }
    // Notified once the mutex is free, so that a woken waiter does not
    // block on it straight away; conditions_ outlive every entry.
    if (changed != nullptr) changed->notify_all();
  }

  // size()
  //
  // Returns the number of keys held or asked for; 0 when nothing is in use.
  std::size_t size() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return keys_.size() - idle_count_;
  }

  // How many released entries are kept for reuse at most. A few cover the
  // common patterns (one key cycled, a handful of keys in turn) at a few
  // hundred bytes each.
  static constexpr std::size_t kIdleEntries = 32;

  // How many condition variables the keys share. Keys with one condition
  // wake each other's waiters, who check their own key and wait again;
  // sharing saves 40 bytes per key and lets a release notify after
  // unlocking without the key's entry having to outlive the notification.
  static constexpr std::size_t kConditions = 64;

 private:
  // A forked child is a new process and holds no locks, not even those of
  // the thread that forked: the child's copies of guards are orphans whose
  // release touches nothing. Their entries leave the map (node handles keep
  // their addresses) so that the child locks its keys afresh. The mutex is
  // held across fork() so that the child never inherits it locked by a
  // thread that does not exist there.
  thread_registry() {
    ::pthread_atfork([] { instance().mutex_.lock(); },
                     [] { instance().mutex_.unlock(); },
                     [] {
                       instance().after_fork();
                       instance().mutex_.unlock();
                     });
  }

  void after_fork() noexcept {
    while (idle_oldest_ != nullptr) evict_oldest();
    // The condition variables are shared by keys, and a parent's thread may
    // have been waiting on one, which leaves the child's copy undefined
    // (POSIX). Fresh ones, without destroying the old (undefined with a
    // waiter).
    for (std::condition_variable& condition : conditions_) {
      new (&condition) std::condition_variable;
    }
    while (!keys_.empty()) {
      map_type::node_type orphan = keys_.extract(keys_.begin());
      orphan.mapped().orphaned = true;
      orphans_.push_back(std::move(orphan));
    }
  }

  void forget_orphan(key_state& state) noexcept {
    if (--state.users != 0) return;
    for (auto& orphan : orphans_) {
      if (&orphan.mapped() == &state) {
        orphan = std::move(orphans_.back());
        orphans_.pop_back();
        return;
      }
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
  void upgrade(entry& node, const lock_request& request,
               std::unique_lock<std::mutex>& lock) {
    key_state& state = node.second;
    if (state.owners.threads() == 1) return;
    if (!request.may_wait()) fail_would_block(node, request);
    if (state.upgrade_pending) {
      abandon(node);
      throw recursive_deadlock_error(
          request.operation, request.key.path(), lock_level::thread, false,
          "asked as an upgrade from shared while another thread holding it "
          "shared already waits to upgrade");
    }
    state.upgrade_pending = true;
    // The caller's shared hold may be released meanwhile (by a guard moved
    // to another thread): then it must wait for no owner at all.
    const std::thread::id self = std::this_thread::get_id();
    const bool granted = wait(lock, state, request, [&] {
      return state.owners.threads() ==
             (state.owners.find(self) != nullptr ? 1u : 0u);
    });
    state.upgrade_pending = false;
    if (!granted) fail_would_block(node, request);
  }

  [[noreturn]] void fail_would_block(entry& node,
                                     const lock_request& request) {
    abandon(node);
    throw acquiring_thread_level_lock_would_block_error(
        request.operation, request.key.path(), request.shared,
        refusal_reason(request));
  }

  // Drops one user of the key; the last one lays it to rest in the idle
  // list. Notifies waiters, whose condition may have changed with the
  // caller's hold or request.
  void abandon(entry& node) noexcept {
    key_state& state = node.second;
    if (--state.users == 0) {
      rest(node);
    } else if (state.waiters != 0) {
      state.changed->notify_all();
    }
  }

  // Puts an entry nobody uses (and so in its initial state: no owner, no
  // writer, no waiter) at the head of the idle list; erases the oldest idle
  // entry beyond kIdleEntries.
  void rest(entry& node) noexcept {
    key_state& state = node.second;
    state.idle = true;
    state.newer = nullptr;
    state.older = idle_newest_;
    if (idle_newest_ != nullptr) idle_newest_->second.newer = &node;
    idle_newest_ = &node;
    if (idle_oldest_ == nullptr) idle_oldest_ = &node;
    if (++idle_count_ > kIdleEntries) evict_oldest();
  }

  // Takes an idle entry out of the idle list: it is in use again.
  void wake(entry& node) noexcept {
    key_state& state = node.second;
    (state.newer != nullptr ? state.newer->second.older : idle_newest_) =
        state.older;
    (state.older != nullptr ? state.older->second.newer : idle_oldest_) =
        state.newer;
    state.idle = false;
    state.newer = state.older = nullptr;
    --idle_count_;
  }

  void evict_oldest() noexcept {
    entry& oldest = *idle_oldest_;
    wake(oldest);
    keys_.erase(keys_.find(oldest.first));
  }

  mutable std::mutex mutex_;
  std::condition_variable conditions_[kConditions];
  map_type keys_;
  entry* idle_newest_ = nullptr;
  entry* idle_oldest_ = nullptr;
  std::size_t idle_count_ = 0;
  std::vector<map_type::node_type> orphans_;
};

}  // namespace dreadlocks::detail

#endif  // DREADLOCKS_DETAIL_THREAD_REGISTRY_HPP_
