// dreadlocks/detail/policy_checks.hpp
//
// The guards' check of their policies: one static_assert per clause of
// detail/policy_clauses.hpp, of which only the first unmet one fires, with
// the text of the requirement. The requirements themselves are stated
// (once) in policy_concepts.hpp.

#ifndef DREADLOCKS_DETAIL_POLICY_CHECKS_HPP_
#define DREADLOCKS_DETAIL_POLICY_CHECKS_HPP_

#include "dreadlocks/detail/policy_clauses.hpp"

namespace dreadlocks {

namespace detail {

// The messages of the clauses a ThreadPolicy and a ProcessPolicy share,
// for the policy kind named `Kind` (a string literal).
#define DREADLOCKS_DETAIL_HELD_REQUEST_MESSAGES(Kind)                          \
  static_assert(unmet != policy_clause::hold_type,                            \
                "dreadlocks: " Kind " must provide hold: a member type, the " \
                "record of one granted request");                             \
  static_assert(unmet != policy_clause::hold_empty,                           \
                "dreadlocks: " Kind " must provide hold: default-"            \
                "constructible (the empty hold of a guard that owns "         \
                "nothing)");                                                  \
  static_assert(unmet != policy_clause::hold_move,                            \
                "dreadlocks: " Kind " must provide hold: nothrow move-"       \
                "constructible (guards move without throwing)");              \
  static_assert(unmet != policy_clause::hold_move_assign,                     \
                "dreadlocks: " Kind " must provide hold: nothrow move-"       \
                "assignable (guards move without throwing)");                 \
  static_assert(unmet != policy_clause::acquire,                              \
                "dreadlocks: " Kind " must provide acquire: `static hold "    \
                "acquire(const lock_request&)`");                             \
  static_assert(unmet != policy_clause::acquire_static,                       \
                "dreadlocks: " Kind " must provide acquire: as a static "     \
                "member function (policies are never instantiated)");         \
  static_assert(unmet != policy_clause::acquire_returns_hold,                 \
                "dreadlocks: " Kind " must provide acquire: returning "       \
                "exactly `hold`");                                            \
  static_assert(unmet != policy_clause::release,                              \
                "dreadlocks: " Kind " must provide release: `static void "    \
                "release(hold&) noexcept`");                                  \
  static_assert(unmet != policy_clause::release_static,                       \
                "dreadlocks: " Kind " must provide release: as a static "     \
                "member function (policies are never instantiated)");         \
  static_assert(unmet != policy_clause::release_noexcept,                     \
                "dreadlocks: " Kind " must provide release: noexcept (it "    \
                "runs in destructors, on whichever thread holds the guard)")

// Instantiated, each reports the first requirement its policy does not
// meet, with the text of the clause, and nothing else.
template <class P>
struct thread_policy_check {
  static constexpr policy_clause unmet = unmet_thread_clause<P>();
  DREADLOCKS_DETAIL_HELD_REQUEST_MESSAGES("ThreadPolicy");
};

template <class P>
struct process_policy_check {
  static constexpr policy_clause unmet = unmet_process_clause<P>();
  DREADLOCKS_DETAIL_HELD_REQUEST_MESSAGES("ProcessPolicy");
  static_assert(unmet != policy_clause::native_handle_type,
                "dreadlocks: ProcessPolicy must provide native_handle_type: "
                "a member type, what native_handle() returns");
  static_assert(unmet != policy_clause::native_handle,
                "dreadlocks: ProcessPolicy must provide native_handle: "
                "`static native_handle_type native_handle(const hold&) "
                "noexcept`");
  static_assert(unmet != policy_clause::native_handle_static,
                "dreadlocks: ProcessPolicy must provide native_handle: as a "
                "static member function (policies are never instantiated)");
  static_assert(unmet != policy_clause::native_handle_returns_handle,
                "dreadlocks: ProcessPolicy must provide native_handle: "
                "returning exactly `native_handle_type`");
  static_assert(unmet != policy_clause::native_handle_noexcept,
                "dreadlocks: ProcessPolicy must provide native_handle: "
                "noexcept (basic_path_lock::native_handle() is)");
  static_assert(unmet != policy_clause::keys,
                "dreadlocks: ProcessPolicy must provide keys: if declared, "
                "as `static constexpr key_form keys`");
  static_assert(unmet != policy_clause::located,
                "dreadlocks: ProcessPolicy must provide located: a member "
                "type, since it declares members of the locating group (all "
                "six or none; see dreadlocks/policy_concepts.hpp)");
  static_assert(unmet != policy_clause::locate,
                "dreadlocks: ProcessPolicy must provide locate: `static "
                "located locate(const lock_request&)` (locating group)");
  static_assert(unmet != policy_clause::thread_key,
                "dreadlocks: ProcessPolicy must provide thread_key: `static "
                "const lock_key& thread_key(const located&, const "
                "lock_request&) noexcept` (locating group)");
  static_assert(unmet != policy_clause::lock_located,
                "dreadlocks: ProcessPolicy must provide lock_located: "
                "`static hold lock_located(located&, const lock_request&)` "
                "(locating group)");
  static_assert(unmet != policy_clause::abandon,
                "dreadlocks: ProcessPolicy must provide abandon: `static "
                "void abandon(located&) noexcept` (locating group)");
  static_assert(unmet != policy_clause::try_repeat,
                "dreadlocks: ProcessPolicy must provide try_repeat: `static "
                "bool try_repeat(const lock_request&, hold&) noexcept` "
                "(locating group)");
  static_assert(unmet != policy_clause::kept,
                "dreadlocks: ProcessPolicy must provide kept: a member type, "
                "nothrow default-constructible, since it declares members of "
                "the keeping group (all five or none; see "
                "dreadlocks/policy_concepts.hpp)");
  static_assert(unmet != policy_clause::keep,
                "dreadlocks: ProcessPolicy must provide keep: `static void "
                "keep(kept&, const hold&) noexcept` (keeping group)");
  static_assert(unmet != policy_clause::unkeep,
                "dreadlocks: ProcessPolicy must provide unkeep: `static void "
                "unkeep(kept&) noexcept` (keeping group)");
  static_assert(unmet != policy_clause::kept_key,
                "dreadlocks: ProcessPolicy must provide kept_key: `static "
                "const lock_key* kept_key(const kept&) noexcept` (keeping "
                "group)");
  static_assert(unmet != policy_clause::lock_kept,
                "dreadlocks: ProcessPolicy must provide lock_kept: `static "
                "hold lock_kept(kept&, const lock_request&)` (keeping group)");
};

#undef DREADLOCKS_DETAIL_HELD_REQUEST_MESSAGES

template <class P>
struct reentrancy_policy_check {
  static constexpr policy_clause unmet = unmet_reentrancy_clause<P>();
  static_assert(unmet != policy_clause::allows_reentry,
                "dreadlocks: ReentrancyPolicy must provide allows_reentry: "
                "`static bool allows_reentry(const lock_options&) noexcept`");
  static_assert(unmet != policy_clause::allows_reentry_static,
                "dreadlocks: ReentrancyPolicy must provide allows_reentry: as "
                "a static member function (policies are never instantiated)");
  static_assert(unmet != policy_clause::allows_reentry_returns_bool,
                "dreadlocks: ReentrancyPolicy must provide allows_reentry: "
                "returning exactly `bool`");
  static_assert(unmet != policy_clause::allows_reentry_noexcept,
                "dreadlocks: ReentrancyPolicy must provide allows_reentry: "
                "noexcept (it is asked on every acquisition)");
};

// check_policies()
//
// The check of the guards (basic_path_lock, basic_path_mutex,
// basic_multi_path_lock): static_assert(check_policies<T, P, R>()) reports
// the first unmet requirement of each policy, and passes itself.
template <class ThreadPolicy, class ProcessPolicy, class ReentrancyPolicy>
constexpr bool check_policies() {
  return sizeof(thread_policy_check<ThreadPolicy>) +
             sizeof(process_policy_check<ProcessPolicy>) +
             sizeof(reentrancy_policy_check<ReentrancyPolicy>) >
         0;
}

}  // namespace detail

}  // namespace dreadlocks

#endif  // DREADLOCKS_DETAIL_POLICY_CHECKS_HPP_
