// dreadlocks/policy_concepts.hpp
//
// The three policy kinds basic_path_lock<ThreadPolicy, ProcessPolicy,
// ReentrancyPolicy> composes, stated once: what each must provide and what
// it must guarantee; a trait per kind (is_thread_policy_v,
// is_process_policy_v, is_reentrancy_policy_v) and, in C++20, a concept
// (thread_policy, process_policy, reentrancy_policy); and the check the
// guards run, whose first error names the first requirement a policy does
// not meet: "dreadlocks: ProcessPolicy must provide release: noexcept ...".
//
// A policy is a struct of static members; the guard never makes an object
// of it. Requirements are checked in the order listed below; the check
// reports the first unmet one of each policy and nothing after it.
//
// ---- ThreadPolicy: the in-process level, asked first ----
//
//   typename P::hold
//     One granted request, kept by the guard until release: default-
//     constructible (the empty hold of a guard that owns nothing),
//     nothrow move-constructible and nothrow move-assignable (guards move
//     without throwing).
//   static hold P::acquire(const lock_request& request);
//     Grants `request` to the calling thread, or throws and leaves nothing
//     behind.
//   static void P::release(hold& held) noexcept;
//     Gives `held` back.
//
// What a ThreadPolicy that excludes threads must enforce (no_thread_lock
// excludes none, so it has nothing to enforce):
// - Per key, two modes: any number of shared holds of `request.key`, or the
//   exclusive holds of one thread. Keys compare as `request.key`, which is
//   the file's key where the guard keys its thread level by the file.
// - Ownership per thread, counted. A thread asking for a key it holds, in
//   any mode, is a repeat: if `request.reentry_allowed`, it is granted (a
//   count goes up; shared inside exclusive at once; exclusive inside shared
//   is an upgrade that waits to be the only holder, and the second of two
//   threads upgrading one key gets recursive_deadlock_error instead of a
//   hang); otherwise recursive_deadlock_error at once. A thread never waits
//   for itself.
// - Release from another thread: a guard may be moved to another thread and
//   released there, so release() works from whichever thread runs it, and
//   the hold itself says which thread, key and mode it gives back.
// - Waiting as asked: `request.blocking == false` throws
//   acquiring_thread_level_lock_would_block_error at once when another
//   thread is in the way; a timed request (`request.timed()`) waits until
//   `request.deadline` at most, then throws the same error.
// - Errors name `request.path()` (the user's spelling), not `request.key`.
// So a plain std::mutex or std::shared_mutex does NOT qualify: unlocking
// it from another thread than the one that locked it is undefined, a
// repeat by the holding thread deadlocks or is undefined instead of being
// counted or refused, and neither has per-key state. Wrap such a mutex in a
// registry that records owners and counts, as shareable_thread_lock does
// (docs/thread-level.md).
//
// ---- ProcessPolicy: the OS level, asked second ----
//
//   typename P::hold
//     As a ThreadPolicy's hold.
//   static hold P::acquire(const lock_request& request);
//     Grants `request` or throws: would-block and timeouts as
//     acquiring_process_level_lock_would_block_error, a repeat the request
//     refuses (`request.reentry_allowed` false) by a thread holding the key
//     as recursive_deadlock_error, a bad path or an OS failure as
//     std::system_error naming `request.path()`. Honours `request.blocking`
//     and `request.deadline`. Leaves nothing behind when it throws (no hold,
//     descriptor or registry entry).
//   static void P::release(hold& held) noexcept;
//     Gives `held` back, from any thread (guards move); never waits for
//     another process.
//   typename P::native_handle_type
//   static native_handle_type P::native_handle(const hold& held) noexcept;
//     What basic_path_lock::native_handle() returns: the lock file's
//     descriptor, or a value the policy documents as "none" (also for an
//     empty hold).
// The process level excludes other processes. It need not exclude the
// threads of its own process from each other (the thread level does); the
// shipped ones let any number of them hold shared and exclusive at once.
//
// Optional, checked when declared:
//   static constexpr key_form P::keys;
//     How the guard folds a spelling into the key it passes (key_form in
//     dreadlocks/lock_request.hpp). Without it, key_form::as_opened: the
//     text then opens the file the user's spelling names, which is what a
//     policy that opens files needs. A policy that opens no file declares
//     key_form::lexical, and the thread level then compares lexical keys
//     (no_process_lock does; docs/keys.md). process_key_form_v reads it.
//   The locating group: all six members, or none of them.
//     typename P::located
//     static located P::locate(const lock_request& request);
//     static const lock_key& P::thread_key(const located& file,
//                                          const lock_request& request)
//         noexcept;
//     static hold P::lock_located(located& file, const lock_request& request);
//     static void P::abandon(located& file) noexcept;
//     static bool P::try_repeat(const lock_request& request,
//                               hold& granted) noexcept;
//   Offered by a policy that can tell which file a spelling names before
//   locking it, so that basic_path_lock keys its thread level by the file,
//   not the spelling (one file, one lock; locates_files_v). The guard then,
//   unless its ThreadPolicy is no_thread_lock: (1) asks try_repeat(), which
//   may grant a repeat the calling thread's holds cover without locating
//   anything, and then the request's key is the file's thread key; else (2)
//   locate() finds or opens the file and counts the request as one of its
//   users, without an OS lock; (3) the ThreadPolicy locks thread_key(), a
//   key of that file which is the same for every spelling while the file
//   has users; (4) lock_located() takes the OS lock. A refused step undoes
//   the ones before it: abandon() drops the use when the thread level
//   refuses, and lock_located() drops it itself when it throws. Release is
//   as without them: the process hold (and the use with it), then the
//   thread hold. Without the group the guard locks the thread level under
//   the request's key, then calls acquire().
//   The keeping group: all five members, or none of them.
//     typename P::kept
//       Nothrow default-constructible; the default keeps nothing.
//     static void P::keep(kept& keeping, const hold& held) noexcept;
//     static void P::unkeep(kept& keeping) noexcept;
//     static const lock_key* P::kept_key(const kept& keeping) noexcept;
//     static hold P::lock_kept(kept& keeping, const lock_request& request);
//   Offered by a policy whose files can stay open between holds, for a
//   lock object kept across cycles (basic_path_mutex; keeps_files_v).
//   keep() makes `keeping` keep open the file `held` (a granted hold)
//   locks, and no other: the file then stays open, without an OS lock,
//   after its last hold is released, so that the next acquisition through
//   the same spelling finds it and makes no open or close. It is called
//   after every grant made without lock_kept(), under the lock object's
//   own serialization, so it must be cheap when `keeping` already keeps
//   that file, and it replaces a file kept before (one a forked child
//   inherited, say). unkeep() lets the file go (closing it if nothing
//   else uses it); it is called with no hold left. kept_key(), called by
//   any thread without that serialization, returns the kept file's
//   thread key when lock_kept() may lock it, or nullptr (nothing kept
//   yet, or a file lock_kept() must not lock, a forked child's copy say);
//   the lock object then locks the thread level under that key (if its
//   thread level is keyed by the file) and calls lock_kept(), which
//   grants `request` on the kept file as lock_located() would, or throws
//   and leaves nothing behind, without locating the file again. Without
//   the group a mutex opens and closes the file with each first and last
//   hold, as a guard does.
//
// ---- ReentrancyPolicy: what a repeated request gets ----
//
//   static bool P::allows_reentry(const lock_options& options) noexcept;
//     Returns true to grant a thread's request for a key it already holds
//     (in any mode, at the level asked: nesting, with the mode changes the
//     ThreadPolicy allows), false to refuse it with recursive_deadlock_error
//     at once. Pure: it is asked on every acquisition, and its answer
//     reaches the levels as `lock_request::reentry_allowed`.

#ifndef DREADLOCKS_POLICY_CONCEPTS_HPP_
#define DREADLOCKS_POLICY_CONCEPTS_HPP_

#include "dreadlocks/detail/policy_checks.hpp"
#include "dreadlocks/key_form.hpp"
#include "dreadlocks/lock_options.hpp"
#include "dreadlocks/lock_request.hpp"

namespace dreadlocks {

// is_thread_policy_v, is_process_policy_v, is_reentrancy_policy_v
//
// True when P meets every requirement of its kind that the compiler can
// see (the members and their signatures; the guarantees are P's word).
template <class P>
inline constexpr bool is_thread_policy_v =
    detail::unmet_thread_clause<P>() == detail::policy_clause::met;
template <class P>
inline constexpr bool is_process_policy_v =
    detail::unmet_process_clause<P>() == detail::policy_clause::met;
template <class P>
inline constexpr bool is_reentrancy_policy_v =
    detail::unmet_reentrancy_clause<P>() == detail::policy_clause::met;

// locates_files_v
//
// True when ProcessPolicy P offers the locating group, the steps that key
// the thread level by the file.
template <class P>
inline constexpr bool locates_files_v =
    is_process_policy_v<P> && detail::declares_locating<P>();

// keeps_files_v
//
// True when ProcessPolicy P offers the keeping group, which lets a lock
// object keep its file open across cycles.
template <class P>
inline constexpr bool keeps_files_v =
    is_process_policy_v<P> && detail::declares_keeping<P>();

// process_key_form_v
//
// The key_form a guard over ProcessPolicy P folds spellings in: P::keys if
// P declares it, else key_form::as_opened.
template <class P>
inline constexpr key_form process_key_form_v = detail::process_key_form<P>();

#if defined(__cpp_concepts) && __cpp_concepts >= 201907L
// thread_policy, process_policy, reentrancy_policy
//
// The concepts, for constraining code of one's own:
//
//   template <dreadlocks::process_policy P> struct logging_process_lock;
//
// They say whether P qualifies; the guards' check says why not.
template <class P>
concept thread_policy = is_thread_policy_v<P>;

template <class P>
concept process_policy = is_process_policy_v<P>;

template <class P>
concept reentrancy_policy = is_reentrancy_policy_v<P>;
#endif

}  // namespace dreadlocks

#endif  // DREADLOCKS_POLICY_CONCEPTS_HPP_
