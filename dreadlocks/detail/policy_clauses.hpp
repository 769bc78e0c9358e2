// dreadlocks/detail/policy_clauses.hpp
//
// Which requirement a policy fails: each requirement of a policy kind as a
// clause, probed in order, and the first clause a policy does not meet.
// detail/policy_checks.hpp turns that clause into the guards' message; the
// requirements themselves are stated (once) in policy_concepts.hpp.

#ifndef DREADLOCKS_DETAIL_POLICY_CLAUSES_HPP_
#define DREADLOCKS_DETAIL_POLICY_CLAUSES_HPP_

#include <type_traits>
#include <utility>

#include "dreadlocks/detail/detect.hpp"
#include "dreadlocks/key_form.hpp"
#include "dreadlocks/lock_options.hpp"
#include "dreadlocks/lock_request.hpp"

namespace dreadlocks {

namespace detail {

// The requirements, one a clause, in the order they are checked. `met`:
// none is unmet.
enum class policy_clause {
  met,
  // A ThreadPolicy's and a ProcessPolicy's.
  hold_type,
  hold_empty,
  hold_move,
  hold_move_assign,
  acquire,
  acquire_static,
  acquire_returns_hold,
  release,
  release_static,
  release_noexcept,
  // A ProcessPolicy's.
  native_handle_type,
  native_handle,
  native_handle_static,
  native_handle_returns_handle,
  native_handle_noexcept,
  keys,
  located,
  locate,
  thread_key,
  lock_located,
  abandon,
  try_repeat,
  kept,
  keep,
  unkeep,
  kept_key,
  lock_kept,
  // A ReentrancyPolicy's.
  allows_reentry,
  allows_reentry_static,
  allows_reentry_returns_bool,
  allows_reentry_noexcept,
};

// Probes: each names a valid type exactly when P has what it looks for.
// `called_*` calls through an object, so that it also finds a non-static
// member; `static_*` calls through the class, as the guard does;
// `noexcept_*` also asks that the static call be noexcept (and
// try_repeat's return bool).
template <class P>
using hold_of = typename P::hold;
template <class P>
using called_acquire = decltype(std::declval<P&>().acquire(
    std::declval<const lock_request&>()));
template <class P>
using static_acquire =
    decltype(P::acquire(std::declval<const lock_request&>()));
template <class P>
using called_release = decltype(std::declval<P&>().release(
    std::declval<typename P::hold&>()));
template <class P>
using static_release = decltype(P::release(std::declval<typename P::hold&>()));
template <class P>
using native_handle_type_of = typename P::native_handle_type;
template <class P>
using called_native_handle = decltype(std::declval<P&>().native_handle(
    std::declval<const typename P::hold&>()));
template <class P>
using static_native_handle =
    decltype(P::native_handle(std::declval<const typename P::hold&>()));
template <class P>
using called_allows_reentry = decltype(std::declval<P&>().allows_reentry(
    std::declval<const lock_options&>()));
template <class P>
using static_allows_reentry =
    decltype(P::allows_reentry(std::declval<const lock_options&>()));

// `keys` as a static key_form, then as a compile-time one (asked only of
// a static member: a non-static one is a hard error as a template
// argument).
template <class P>
using static_keys =
    std::enable_if_t<std::is_same_v<decltype(&P::keys), const key_form*>>;
template <class P>
using constant_keys = std::integral_constant<key_form, P::keys>;

template <class P>
constexpr bool keys_are_constant() {
  if constexpr (is_detected_v<P, static_keys>) {
    return is_detected_v<P, constant_keys>;
  } else {
    return false;
  }
}

template <class P>
using located_of = typename P::located;
template <class P>
using static_locate = decltype(P::locate(std::declval<const lock_request&>()));
template <class P>
using noexcept_thread_key = std::enable_if_t<noexcept(
    P::thread_key(std::declval<const typename P::located&>(),
                  std::declval<const lock_request&>()))>;
template <class P>
using thread_key_result =
    decltype(P::thread_key(std::declval<const typename P::located&>(),
                           std::declval<const lock_request&>()));
template <class P>
using static_lock_located =
    decltype(P::lock_located(std::declval<typename P::located&>(),
                             std::declval<const lock_request&>()));
template <class P>
using noexcept_abandon = std::enable_if_t<noexcept(
    P::abandon(std::declval<typename P::located&>()))>;
template <class P>
using noexcept_try_repeat = std::enable_if_t<
    noexcept(P::try_repeat(std::declval<const lock_request&>(),
                           std::declval<typename P::hold&>())) &&
    std::is_same_v<decltype(P::try_repeat(std::declval<const lock_request&>(),
                                          std::declval<typename P::hold&>())),
                   bool>>;

template <class P>
using kept_of = typename P::kept;
template <class P>
using noexcept_keep = std::enable_if_t<
    noexcept(P::keep(std::declval<typename P::kept&>(),
                     std::declval<const typename P::hold&>())) &&
    std::is_void_v<decltype(P::keep(std::declval<typename P::kept&>(),
                                    std::declval<const typename P::hold&>()))>>;
template <class P>
using noexcept_unkeep = std::enable_if_t<
    noexcept(P::unkeep(std::declval<typename P::kept&>())) &&
    std::is_void_v<decltype(P::unkeep(std::declval<typename P::kept&>()))>>;
template <class P>
using noexcept_kept_key = std::enable_if_t<
    noexcept(P::kept_key(std::declval<const typename P::kept&>())) &&
    std::is_same_v<decltype(P::kept_key(
                       std::declval<const typename P::kept&>())),
                   const lock_key*>>;
template <class P>
using returning_lock_kept = std::enable_if_t<
    std::is_same_v<decltype(P::lock_kept(std::declval<typename P::kept&>(),
                                         std::declval<const lock_request&>())),
                   typename P::hold>>;

// Whether a ProcessPolicy declares an optional member by name, in any
// form (type, static or not, overloaded, template): a class derived from P
// and from optional_names finds the name twice, an ambiguity, exactly where
// P declares it. A final class cannot be derived from; of its optional
// members, only a `located` type is seen.
struct optional_names {
  int keys, located, locate, thread_key, lock_located, abandon, try_repeat,
      kept, keep, unkeep, kept_key, lock_kept;
};
template <class P>
struct names_beside : P, optional_names {};
template <class P>
using lone_keys = decltype(&names_beside<P>::keys);
template <class P>
using lone_located = decltype(&names_beside<P>::located);
template <class P>
using lone_locate = decltype(&names_beside<P>::locate);
template <class P>
using lone_thread_key = decltype(&names_beside<P>::thread_key);
template <class P>
using lone_lock_located = decltype(&names_beside<P>::lock_located);
template <class P>
using lone_abandon = decltype(&names_beside<P>::abandon);
template <class P>
using lone_try_repeat = decltype(&names_beside<P>::try_repeat);

template <class P>
using lone_kept = decltype(&names_beside<P>::kept);
template <class P>
using lone_keep = decltype(&names_beside<P>::keep);
template <class P>
using lone_unkeep = decltype(&names_beside<P>::unkeep);
template <class P>
using lone_kept_key = decltype(&names_beside<P>::kept_key);
template <class P>
using lone_lock_kept = decltype(&names_beside<P>::lock_kept);

template <class P>
constexpr bool derivable_v = std::is_class_v<P> && !std::is_final_v<P>;

template <class P, template <class> class Lone>
constexpr bool declares() {
  if constexpr (derivable_v<P>) {
    return !is_detected_v<P, Lone>;
  } else {
    return false;
  }
}

template <class P>
constexpr bool declares_keys() {
  return declares<P, lone_keys>();
}

// Whether P declares any member of the locating group.
template <class P>
constexpr bool declares_locating() {
  return is_detected_v<P, located_of> || declares<P, lone_located>() ||
         declares<P, lone_locate>() || declares<P, lone_thread_key>() ||
         declares<P, lone_lock_located>() || declares<P, lone_abandon>() ||
         declares<P, lone_try_repeat>();
}

// Whether P declares any member of the keeping group.
template <class P>
constexpr bool declares_keeping() {
  return is_detected_v<P, kept_of> || declares<P, lone_kept>() ||
         declares<P, lone_keep>() || declares<P, lone_unkeep>() ||
         declares<P, lone_kept_key>() || declares<P, lone_lock_kept>();
}

template <class P, template <class> class Probe, class T>
constexpr bool yields() {
  if constexpr (is_detected_v<P, Probe>) {
    return std::is_same_v<Probe<P>, T>;
  } else {
    return false;
  }
}

// The first unmet requirement of those a ThreadPolicy and a ProcessPolicy
// share (each clause is asked only when the ones before it are met, so it
// may name what they guarantee).
template <class P>
constexpr policy_clause unmet_held_request_clause() {
  using clause = policy_clause;
  if constexpr (!is_detected_v<P, hold_of>) {
    return clause::hold_type;
  } else if constexpr (!std::is_default_constructible_v<typename P::hold>) {
    return clause::hold_empty;
  } else if constexpr (!std::is_nothrow_move_constructible_v<
                           typename P::hold>) {
    return clause::hold_move;
  } else if constexpr (!std::is_nothrow_move_assignable_v<typename P::hold>) {
    return clause::hold_move_assign;
  } else if constexpr (!is_detected_v<P, called_acquire>) {
    return clause::acquire;
  } else if constexpr (!is_detected_v<P, static_acquire>) {
    return clause::acquire_static;
  } else if constexpr (!std::is_same_v<static_acquire<P>, typename P::hold>) {
    return clause::acquire_returns_hold;
  } else if constexpr (!is_detected_v<P, called_release>) {
    return clause::release;
  } else if constexpr (!is_detected_v<P, static_release>) {
    return clause::release_static;
  } else if constexpr (!noexcept(P::release(
                           std::declval<typename P::hold&>()))) {
    return clause::release_noexcept;
  } else {
    return clause::met;
  }
}

template <class P>
constexpr policy_clause unmet_thread_clause() {
  return unmet_held_request_clause<P>();
}

// The first unmet requirement of the locating group, all of it or none.
template <class P>
constexpr policy_clause unmet_locating_clause() {
  using clause = policy_clause;
  if constexpr (!declares_locating<P>()) {
    return clause::met;
  } else if constexpr (!is_detected_v<P, located_of>) {
    return clause::located;
  } else if constexpr (!yields<P, static_locate, typename P::located>()) {
    return clause::locate;
  } else if constexpr (!yields<P, thread_key_result, const lock_key&>() ||
                       !is_detected_v<P, noexcept_thread_key>) {
    return clause::thread_key;
  } else if constexpr (!yields<P, static_lock_located, typename P::hold>()) {
    return clause::lock_located;
  } else if constexpr (!is_detected_v<P, noexcept_abandon>) {
    return clause::abandon;
  } else if constexpr (!is_detected_v<P, noexcept_try_repeat>) {
    return clause::try_repeat;
  } else {
    return clause::met;
  }
}

// The first unmet requirement of the keeping group, all of it or none.
template <class P>
constexpr policy_clause unmet_keeping_clause() {
  using clause = policy_clause;
  if constexpr (!declares_keeping<P>()) {
    return clause::met;
  } else if constexpr (!is_detected_v<P, kept_of>) {
    return clause::kept;
  } else if constexpr (!std::is_nothrow_default_constructible_v<
                           typename P::kept>) {
    return clause::kept;
  } else if constexpr (!is_detected_v<P, noexcept_keep>) {
    return clause::keep;
  } else if constexpr (!is_detected_v<P, noexcept_unkeep>) {
    return clause::unkeep;
  } else if constexpr (!is_detected_v<P, noexcept_kept_key>) {
    return clause::kept_key;
  } else if constexpr (!is_detected_v<P, returning_lock_kept>) {
    return clause::lock_kept;
  } else {
    return clause::met;
  }
}

// The kept file a mutex over ProcessPolicy P holds: P::kept, or nothing
// for a policy without the keeping group.
template <class P, bool = declares_keeping<P>()>
struct kept_storage {
  struct type {};
};
template <class P>
struct kept_storage<P, true> {
  using type = typename P::kept;
};

template <class P>
constexpr policy_clause unmet_process_clause() {
  using clause = policy_clause;
  if constexpr (unmet_held_request_clause<P>() != clause::met) {
    return unmet_held_request_clause<P>();
  } else if constexpr (!is_detected_v<P, native_handle_type_of>) {
    return clause::native_handle_type;
  } else if constexpr (!is_detected_v<P, called_native_handle>) {
    return clause::native_handle;
  } else if constexpr (!is_detected_v<P, static_native_handle>) {
    return clause::native_handle_static;
  } else if constexpr (!std::is_same_v<static_native_handle<P>,
                                       typename P::native_handle_type>) {
    return clause::native_handle_returns_handle;
  } else if constexpr (!noexcept(P::native_handle(
                           std::declval<const typename P::hold&>()))) {
    return clause::native_handle_noexcept;
  } else if constexpr (declares_keys<P>() && !keys_are_constant<P>()) {
    return clause::keys;
  } else if constexpr (unmet_locating_clause<P>() != clause::met) {
    return unmet_locating_clause<P>();
  } else {
    return unmet_keeping_clause<P>();
  }
}

template <class P>
constexpr policy_clause unmet_reentrancy_clause() {
  using clause = policy_clause;
  if constexpr (!is_detected_v<P, called_allows_reentry>) {
    return clause::allows_reentry;
  } else if constexpr (!is_detected_v<P, static_allows_reentry>) {
    return clause::allows_reentry_static;
  } else if constexpr (!std::is_same_v<static_allows_reentry<P>, bool>) {
    return clause::allows_reentry_returns_bool;
  } else if constexpr (!noexcept(P::allows_reentry(
                           std::declval<const lock_options&>()))) {
    return clause::allows_reentry_noexcept;
  } else {
    return clause::met;
  }
}

}  // namespace detail

namespace detail {
template <class P>
constexpr key_form process_key_form() noexcept {
  if constexpr (keys_are_constant<P>()) {
    return P::keys;
  } else {
    return key_form::as_opened;
  }
}
}  // namespace detail

}  // namespace dreadlocks

#endif  // DREADLOCKS_DETAIL_POLICY_CLAUSES_HPP_
