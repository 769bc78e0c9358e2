// dreadlocks/detail/fork_safe_instance.hpp
//
// The registries' single instances, made so that a fork() taken at any
// instant, even while another thread is making one, leaves a child that can
// lock (issue 12, item 2).
//
// Contract:
// - fork_safe_instance<Registry>::get() returns the one Registry of
//   the process, made on first use with `new Registry` and never destroyed
//   (guards released from static destructors still find it). Its fast path
//   is one acquire load. It throws std::bad_alloc (nothing made, nothing
//   published; the next call tries again).
// - Around every fork() of the process, once any registry has been asked
//   for: the parent keeps each made registry's `mutex_` locked across the
//   fork (so the child never inherits it locked by a thread it lacks), and
//   the child runs each made registry's after_fork() and then unlocks it.
//   A Registry befriends its fork_safe_instance and has `std::mutex mutex_`
//   and `void after_fork() noexcept`.
// - The child of a fork taken while a registry is being made gets either no
//   registry (and makes its own on first use) or the finished one: never a
//   half-made one, and never a "construction in progress" mark, because
//   there is none to inherit (no function-local static guards the
//   instance; a fork cannot complete while a registry is being published).
// - A fork() waits for nothing but the few stores of a publication in
//   flight (and, as before, for the registry mutexes).
//
// Why each step is ordered as it is (and what a function-local static got
// wrong): a `static T* const p = new T;` keeps a guard variable "in
// progress" while `new T` runs; a fork() in that window gives a child whose
// guard stays in progress forever (the thread that would finish it does not
// exist there), so the child's first lock hangs in __cxa_guard_acquire.
// Here instead:
// 1. Everything shared is constant-initialized (no guard, no dynamic
//    initialization): the published pointers, the creation mutex (std::mutex
//    has a constexpr constructor), the flag and the depth counter.
// 2. The fork handlers are registered BEFORE a thread takes the creation
//    mutex, never while holding it: a fork() waits in its prepare handler for
//    the creation mutex, and glibc runs the prepare handlers under its
//    atfork lock, which pthread_atfork() also takes; registering under the
//    creation mutex would deadlock against a fork in flight. So whenever the
//    creation mutex is held, a completed registration exists, and every
//    fork() from then on runs the handlers.
//    Threads that race on first use may each register (the flag is read
//    before and set after): the handlers are idempotent per fork through
//    the depth counter below. A fork() after a thread found the flag false
//    but before its registration completed happens while that thread
//    publishes nothing (it takes the creation mutex only afterwards): the
//    child has no registry and makes its own, registering its own handlers.
//    The child handler sets the flag, since it running proves that a
//    registration exists in the child.
// 3. A registry is made (allocated and constructed) BEFORE the creation
//    mutex is taken, and published under it: the mutex covers only the
//    re-check of the published pointer, the stores of the fork functions
//    and the release store of the pointer, which call nothing. The prepare
//    handler locks the creation mutex first, so a fork() asked for during a
//    publication waits a few instructions for it, and with the mutex held
//    no registry can appear: the handlers see a fixed set of registries
//    from prepare to parent/child. Making the registry outside the mutex
//    matters: `new` may take locks of its own (a replaced operator new, an
//    allocator whose prepare handler, registered after ours, runs before
//    ours and locks its arenas), and a fork waiting for the creation mutex
//    must never wait for an allocation. A fork while a registry is being
//    made outside the mutex gives a child in which it is not published:
//    the child makes its own. Threads that race on first use may each make
//    one; the losers delete theirs, after the mutex is released.
// 4. Then each made registry's mutex, in slot order (the order they were
//    made); parent and child release in reverse order. No code path holds
//    a registry mutex while it takes the creation mutex or another
//    registry's mutex, so any order is free of deadlock.
// 5. glibc serializes forks of one process: __run_fork_handlers() takes
//    atfork_lock before the first prepare handler and releases it after the
//    last parent or child handler (posix/register-atfork.c, glibc 2.36;
//    pthread_atfork() takes it too). So the handlers of one fork, each
//    registration run once, bracket each other: prepare handlers run in
//    reverse registration order, parent and child handlers in order. The
//    depth counter makes the first prepare do the work and the last parent
//    or child undo it, however many registrations there are.

#ifndef DREADLOCKS_DETAIL_FORK_SAFE_INSTANCE_HPP_
#define DREADLOCKS_DETAIL_FORK_SAFE_INSTANCE_HPP_

#if !defined(_WIN32)
#include <pthread.h>
#endif

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <new>
#include <stdexcept>

#include "dreadlocks/detail/attributes.hpp"


namespace dreadlocks::detail {

// How many registries can take part: the thread registry and one process
// registry per kind of handle (detail/process_registry.hpp), in the order
// they were made. A fifth kind fails to be made (std::length_error).
inline constexpr std::size_t fork_safe_slots = 4;

// One registry's entry in the fork handlers' table.
struct fork_safe_entry {
  // The registry, once made; published with release after the functions
  // below are set. The fast path reads only this.
  std::atomic<void*> instance{nullptr};
  // Set under the creation mutex before `instance` is published; read by
  // the fork handlers, which hold the creation mutex.
  void (*lock)(void*) noexcept = nullptr;
  void (*unlock)(void*) noexcept = nullptr;
  void (*after_fork)(void*) noexcept = nullptr;
};

// The state shared by every fork_safe_instance, and the fork handlers.
class fork_safe_instances {
 protected:
  static inline DREADLOCKS_CONSTINIT fork_safe_entry slots_[fork_safe_slots];
  // How many of slots_ are taken; under the creation mutex.
  static inline DREADLOCKS_CONSTINIT std::size_t slots_taken_ = 0;
  static inline DREADLOCKS_CONSTINIT std::mutex creation_mutex_{};
  static inline DREADLOCKS_CONSTINIT std::atomic<bool> handlers_registered_{
      false};
  // How many prepare handlers of the fork in progress ran without their
  // parent or child handler (see step 5 above). Only the handlers touch it,
  // one fork at a time; atomic so that no tool needs to know that.
  static inline DREADLOCKS_CONSTINIT std::atomic<unsigned> fork_depth_{0};

  // Registers the fork handlers unless a registration is known to exist.
  // Never called with the creation mutex held (step 2). Windows has no
  // fork(): nothing to register there.
  static void register_handlers() {
#if !defined(_WIN32)
    if (handlers_registered_.load(std::memory_order_acquire)) return;
    if (::pthread_atfork(&prepare, &parent, &child) != 0) {
      throw std::bad_alloc();  // ENOMEM, its one documented failure
    }
    handlers_registered_.store(true, std::memory_order_release);
#endif
  }

 private:
  static void prepare() noexcept {
    if (fork_depth_.fetch_add(1, std::memory_order_relaxed) != 0) return;
    creation_mutex_.lock();  // step 3: waits for a publication in flight
    for (fork_safe_entry& each : slots_) {  // step 4
      if (void* made = each.instance.load(std::memory_order_relaxed)) {
        each.lock(made);
      }
    }
  }

  static void parent() noexcept {
    if (fork_depth_.fetch_sub(1, std::memory_order_relaxed) != 1) return;
    for (std::size_t i = fork_safe_slots; i-- > 0;) {
      if (void* made = slots_[i].instance.load(std::memory_order_relaxed)) {
        slots_[i].unlock(made);
      }
    }
    creation_mutex_.unlock();
  }

  static void child() noexcept {
    // Running proves that a registration exists in this process.
    handlers_registered_.store(true, std::memory_order_relaxed);
    if (fork_depth_.fetch_sub(1, std::memory_order_relaxed) != 1) return;
    for (std::size_t i = fork_safe_slots; i-- > 0;) {
      if (void* made = slots_[i].instance.load(std::memory_order_relaxed)) {
        slots_[i].after_fork(made);
        slots_[i].unlock(made);
      }
    }
    creation_mutex_.unlock();
  }
};

// fork_safe_instance
//
// The one Registry of the process, in the slot it took when it was made
// (see the file comment).
template <class Registry>
class fork_safe_instance : fork_safe_instances {
 public:
  // get()
  //
  // Returns the registry, making it on first use. Throws std::bad_alloc,
  // or std::length_error when every slot is taken.
  static Registry& get() {
    if (Registry* made = published_.load(std::memory_order_acquire)) {
      return *made;
    }
    return create();
  }

 private:
  // Out of line and cold, so that get() stays one load and a branch where
  // inlined.
  [[gnu::noinline, gnu::cold]] static Registry& create() {
    register_handlers();  // step 2: before the creation mutex
    // Step 3: made before the creation mutex; deleted after it is released
    // if another thread published one first. Throws: nothing published.
    std::unique_ptr<Registry> fresh(new Registry);
    const std::lock_guard<std::mutex> publishing(creation_mutex_);
    if (Registry* made = published_.load(std::memory_order_relaxed)) {
      return *made;  // another thread's
    }
    if (slots_taken_ == fork_safe_slots) {
      throw std::length_error("dreadlocks: too many kinds of registry");
    }
    fork_safe_entry& mine = slots_[slots_taken_++];
    mine.lock = [](void* registry) noexcept {
      static_cast<Registry*>(registry)->mutex_.lock();
    };
    mine.unlock = [](void* registry) noexcept {
      static_cast<Registry*>(registry)->mutex_.unlock();
    };
    mine.after_fork = [](void* registry) noexcept {
      static_cast<Registry*>(registry)->after_fork();
    };
    Registry* const made = fresh.release();
    mine.instance.store(made, std::memory_order_release);
    published_.store(made, std::memory_order_release);
    return *made;
  }

  // The fast path's copy of this registry's slot's instance.
  static inline DREADLOCKS_CONSTINIT std::atomic<Registry*> published_{nullptr};
};

}  // namespace dreadlocks::detail

#endif  // DREADLOCKS_DETAIL_FORK_SAFE_INSTANCE_HPP_
