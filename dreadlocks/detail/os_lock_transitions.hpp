// dreadlocks/detail/os_lock_transitions.hpp
//
// Which OS lock a file's holds add up to, and the transitions to it. The
// OS lock is shared while only shared holds exist in the process and
// exclusive while any exclusive hold exists (SPEC §2). Called with the
// registry's mutex held; it never holds the mutex while a thread waits for
// another process:
// - Raising the OS lock (raise_os_lock()) asks the primitive without
//   waiting, under the mutex, when that may succeed; to wait, the thread
//   marks the file "in transition", waits in the kernel without the mutex
//   (a timed request too, where the primitive bounds the wait with
//   set_until(); it polls elsewhere), and other threads that need the OS lock to change meanwhile wait
//   in-process for the transition to end, rather than queue a second
//   request on the same handle.
// - Lowering it (lower_os_lock()) never waits, so a release does it at
//   once under the mutex, even while a transition is in flight; the
//   transition then re-checks what it was granted.

#ifndef DREADLOCKS_DETAIL_OS_LOCK_TRANSITIONS_HPP_
#define DREADLOCKS_DETAIL_OS_LOCK_TRANSITIONS_HPP_

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>

#include "dreadlocks/detail/attributes.hpp"
#include "dreadlocks/detail/file_state.hpp"
#include "dreadlocks/detail/wait.hpp"
#include "dreadlocks/errors.hpp"
#include "dreadlocks/lock_primitive.hpp"
#include "dreadlocks/lock_request.hpp"

namespace dreadlocks::detail::os_lock_transitions {

// After a refusal without waiting, how many blocking requests on the file
// wait in the kernel at once instead of asking first.
inline constexpr std::uint8_t kSkipAskingAfterRefusal = 8;

// The OS lock a file's holds need.
template <class File>
primitive_mode needed(const File& file) noexcept {
  return file.exclusive_holds != 0 ? primitive_mode::exclusive
         : file.shared_holds != 0  ? primitive_mode::shared
                                   : primitive_mode::none;
}

// set_os_lock()
//
// Asks the file's primitive to change the OS lock to `to`, as
// file.set_os_lock() does: calling P::set() directly, inlined, when the
// file is locked with P (the request's primitive, the common case), and
// through the file's ops otherwise (another policy's primitive, or P's
// fallback). Inlined for the call depth: after a system call every
// return costs a mispredicted branch (docs/performance.md, "Call depth at
// the system calls").
template <class P, class File>
DREADLOCKS_INLINE_STEP lock_result set_os_lock(const File& file,
                                               primitive_mode to,
                                               bool wait) noexcept {
  if (file.ops == &primitive_ops_of<P>) {
    return P::set(file.handle, file.os_lock, to, wait);
  }
  return file.set_os_lock(to, wait);
}

// lower_os_lock()
//
// Lowers the OS lock to what the file's holds need, if it is stronger,
// with the request's primitive P (see set_os_lock()).
template <class P, class File>
DREADLOCKS_INLINE_STEP void lower_os_lock(File& file) noexcept {
  const primitive_mode wanted = needed(file);
  if (wanted < file.os_lock) {
    // Lowering a lock we hold never blocks.
    set_os_lock<P>(file, wanted, false);
    file.os_lock = wanted;
    if (file.in_transition) file.changed_in_transition = true;
  }
}

[[noreturn]] inline void throw_would_block(const lock_request& request) {
  throw acquiring_process_level_lock_would_block_error(
      request.operation, request.path(), request.shared,
      refusal_reason(request));
}

// Ends a request the primitive did not grant as it stood: switches the
// file to the primitive's fallback where it is unsupported (the caller asks
// again), or throws.
template <class File>
void after_refusal(File& file, const lock_request& request,
            const lock_result& result) {
  switch (result.status) {
    case lock_status::acquired:
      return;
    case lock_status::unsupported:
      if (file.ops->fallback != nullptr) {
        file.ops->refused.store(true, std::memory_order_relaxed);
        file.ops = file.ops->fallback;
        return;
      }
      break;
    case lock_status::would_block:
      throw_would_block(request);
    case lock_status::deadlock:
      throw recursive_deadlock_error(
          request.operation, request.path(), lock_level::process,
          request.shared,
          "would deadlock with another process (reported by the kernel)");
    case lock_status::failed:
      break;
  }
  throw std::system_error(result.error.code(), std::string(request.operation) +
                                            ": cannot lock \"" +
                                            request.path().string() + "\"");
}

// Serves a non-blocking request while another thread of this process waits
// in the kernel for `file.transition_to`: it must not sleep, and is refused
// only if the kernel refuses it too. It asks for at least the pending mode,
// so that it can never lower a lock the kernel has just granted to the
// waiting thread; and it is refused outright when it needs exclusive while
// the pending request is for shared, because that shared request, granted
// later, would lower it.
template <class File>
void try_beside_transition(File& file, const lock_request& request,
                           primitive_mode wanted) {
  if (wanted > file.transition_to) throw_would_block(request);
  const lock_result result = file.set_os_lock(file.transition_to, false);
  if (result.status == lock_status::acquired) {
    file.os_lock = std::max(file.os_lock, file.transition_to);
  } else {
    after_refusal(file, request, result);
  }
}

// Whether every waiting request polls, as timed ones do without set_until()
// (below), rather than wait in the kernel outside the mutex: on Windows,
// where a LockFileEx lock is added beside the handle's others rather than
// set to a mode, so a wait outside the mutex could stack a second lock on
// another thread's, and where a waiting LockFileEx would hold up the
// handle's other I/O (lockfileex_primitive).
#if defined(_WIN32)
inline constexpr bool kEveryWaitPolls = true;
#else
inline constexpr bool kEveryWaitPolls = false;
#endif

// A timed request polls where the primitive cannot bound a kernel wait
// (no set_until(), or it could not start its task): the kernel has no timed
// lock wait, and a timer signal to interrupt a waiting lock call would be
// the application's to give. The pause doubles from 1 ms up to 16 ms, so a long wait costs a
// few system calls per 16 ms (well under 1% of a core), and never
// overshoots the deadline. Returns the next pause.
inline std::chrono::microseconds pause_before_retry(
    std::unique_lock<std::mutex>& lock, std::chrono::microseconds pause,
    lock_request::clock::time_point deadline) {
  using std::chrono::microseconds;
  pause = pause == microseconds(0) ? microseconds(1000)
                                   : std::min(pause * 2, microseconds(16000));
  lock.unlock();
  std::this_thread::sleep_until(
      std::min(deadline, lock_request::clock::now() + pause));
  lock.lock();
  return pause;
}

// Whether `request` polls rather than waits in the kernel (see
// raise_os_lock() and pause_before_retry()).
template <class File>
bool polls(const File& file, const lock_request& request) noexcept {
  return (request.timed() && file.ops->set_until == nullptr) ||
         (kEveryWaitPolls && request.may_wait());
}

// wait_for_os_lock()
//
// raise_os_lock()'s every case but a grant at the first ask: transitions,
// waits in the kernel, polling, refusals. `asked_without_waiting`: the
// first ask was made (and refused) already.
template <class File>
void wait_for_os_lock(std::unique_lock<std::mutex>& lock, File& file,
                      const lock_request& request,
                      bool asked_without_waiting) {
  const primitive_mode wanted =
      request.shared ? primitive_mode::shared : primitive_mode::exclusive;
  auto pause = std::chrono::microseconds(0);
  while (file.os_lock < wanted) {
    if (file.in_transition) {
      if (!request.may_wait()) {
        try_beside_transition(file, request, wanted);
        continue;
      }
      // Another thread already asks the kernel; wait for its answer
      // rather than queue a second request on the same handle.
      ++file.waiters;
      const bool ended = wait_on(*file.changed, lock, request.deadline,
                                 [&] { return !file.in_transition; });
      --file.waiters;
      if (!ended) throw_would_block(request);
      continue;
    }
    // A timed request waits in the kernel as an untimed one does where the
    // primitive can bound the wait (set_until()); it polls elsewhere.
    const bool polling = polls(file, request);
    if (!request.may_wait() || polling) {
      // A call without waiting never blocks, so the mutex may stay held.
      const lock_result result = file.set_os_lock(wanted, false);
      if (result.status == lock_status::acquired) {
        file.os_lock = wanted;
      } else if (result.status == lock_status::would_block && polling &&
                 lock_request::clock::now() < request.deadline) {
        pause = pause_before_retry(lock, pause, request.deadline);
      } else {
        after_refusal(file, request, result);
      }
      continue;
    }
    if (!asked_without_waiting && file.skip_asking == 0) {
      // Most requests are granted at once: asking without waiting first,
      // under the mutex, spares releasing and retaking it around the
      // kernel call. Refused, it costs one more call, so after a refusal
      // the next few requests on the file wait in the kernel at once.
      asked_without_waiting = true;
      const lock_result result = file.set_os_lock(wanted, false);
      if (result.status == lock_status::acquired) {
        file.os_lock = wanted;
      } else if (result.status == lock_status::would_block) {
        file.skip_asking = kSkipAskingAfterRefusal;
      } else {
        after_refusal(file, request, result);
      }
      continue;
    }
    if (file.skip_asking != 0 && !asked_without_waiting) {
      --file.skip_asking;
      asked_without_waiting = true;
    }
    file.in_transition = true;
    file.transition_to = wanted;
    file.changed_in_transition = false;
    const primitive_mode from = file.os_lock;
    lock.unlock();
    lock_result result =
        request.timed()
            ? file.ops->set_until(file.handle, from, wanted, request.deadline)
            : file.ops->set(file.handle, from, wanted, true);
    lock.lock();
    file.in_transition = false;
    if (file.waiters != 0) file.changed->notify_all();
    // Other threads may have raised the OS lock meanwhile (never above
    // what we asked: see try_beside_transition()) or lowered it.
    const primitive_mode granted = std::max(file.os_lock, wanted);
    if (result.status == lock_status::acquired &&
        file.changed_in_transition) {
      // A release lowered the OS lock while we waited, perhaps after our
      // grant: ask again without waiting; retry from the top if lost.
      result = file.ops->set(file.handle, file.os_lock, granted, false);
      if (result.status == lock_status::would_block) continue;
    }
    if (result.status == lock_status::acquired) {
      file.os_lock = granted;
    } else if (result.status == lock_status::would_block && request.timed() &&
               lock_request::clock::now() < request.deadline) {
      // set_until() could not wait here (detail/timed_kernel_wait.hpp):
      // poll, as a primitive without it does.
      pause = pause_before_retry(lock, pause, request.deadline);
    } else {
      after_refusal(file, request, result);
    }
  }
}

// raise_os_lock()
//
// Raises the OS lock of `file` to what `request` needs, under the mutex
// held by `lock` (released while waiting), P being the request's
// primitive. Returns once the OS lock covers the request; throws
// acquiring_process_level_lock_would_block_error,
// recursive_deadlock_error or std::system_error, leaving the OS lock as
// the other holds need it. The caller drops the request's use on a throw.
//
// The common case, a request granted at its first ask without waiting,
// is done here, inlined into the registry's section, so that the system
// call is made as few calls deep as it can be (see set_os_lock()); the
// rest is wait_for_os_lock()'s.
template <class P, class File>
DREADLOCKS_INLINE_STEP void raise_os_lock(std::unique_lock<std::mutex>& lock,
                                          File& file,
                                          const lock_request& request) {
  const primitive_mode wanted =
      request.shared ? primitive_mode::shared : primitive_mode::exclusive;
  if (file.os_lock >= wanted) return;
  // As wait_for_os_lock() would ask first: a request that does not wait
  // (always), or one that would wait in the kernel, unless the file's
  // recent refusals say to wait at once.
  const bool asks_first =
      !file.in_transition &&
      (!request.may_wait() || (file.skip_asking == 0 && !polls(file, request)));
  if (!asks_first) {
    wait_for_os_lock(lock, file, request, false);
    return;
  }
  const lock_result result = set_os_lock<P>(file, wanted, false);
  if (result.status == lock_status::acquired) {
    file.os_lock = wanted;
    return;
  }
  if (result.status == lock_status::would_block) {
    if (!request.may_wait()) throw_would_block(request);
    file.skip_asking = kSkipAskingAfterRefusal;
  } else {
    after_refusal(file, request, result);  // throws, or falls back
  }
  wait_for_os_lock(lock, file, request, true);
}

}  // namespace dreadlocks::detail::os_lock_transitions

#endif  // DREADLOCKS_DETAIL_OS_LOCK_TRANSITIONS_HPP_
