// dreadlocks/detail/primitive_check.hpp
//
// The check file_process_lock<P> runs on its LockPrimitive P: each
// requirement of dreadlocks/lock_primitive.hpp as a clause, probed in
// order, and one static_assert per clause, of which only the first unmet
// one fires, naming the member: "dreadlocks: LockPrimitive must provide
// set: ...". The requirements themselves are stated in lock_primitive.hpp.

#ifndef DREADLOCKS_DETAIL_PRIMITIVE_CHECK_HPP_
#define DREADLOCKS_DETAIL_PRIMITIVE_CHECK_HPP_

#include <cstddef>
#include <type_traits>
#include <utility>

#include "dreadlocks/detail/detect.hpp"
#include "dreadlocks/lock_key.hpp"
#include "dreadlocks/lock_primitive.hpp"

namespace dreadlocks::detail {

enum class primitive_clause {
  met,
  native_handle_type,
  invalid_handle,
  resource_id,
  resource_id_hash,
  open,
  identify_handle,
  identify_key,
  set,
  close,
  closing_any_releases,
  idle_handles_reusable,
  set_until,
  fallback,
};

// Probes: each names a type exactly when P has what it looks for, called
// through the class, as the registry calls it; a call probe also asks that
// the call be noexcept (the registry calls them under its mutex).
template <class P>
using primitive_handle_of = typename P::native_handle_type;
template <class P>
using primitive_invalid_of = decltype(P::invalid_handle);
template <class P>
using primitive_id_of = typename P::resource_id;
template <class P>
using primitive_hash_call =
    decltype(std::declval<const typename P::resource_id_hash&>()(
        std::declval<const typename P::resource_id&>()));
template <class P>
using primitive_open_call =
    std::enable_if_t<noexcept(P::open(std::declval<const lock_key&>(),
                                      std::declval<open_failure&>())),
                     decltype(P::open(std::declval<const lock_key&>(),
                                      std::declval<open_failure&>()))>;
template <class P>
using primitive_identify_handle_call = std::enable_if_t<
    noexcept(P::identify(std::declval<typename P::native_handle_type>(),
                         std::declval<typename P::resource_id&>(),
                         std::declval<os_error&>())),
    decltype(P::identify(std::declval<typename P::native_handle_type>(),
                         std::declval<typename P::resource_id&>(),
                         std::declval<os_error&>()))>;
template <class P>
using primitive_identify_key_call = std::enable_if_t<
    noexcept(P::identify(std::declval<const lock_key&>(),
                         std::declval<typename P::resource_id&>())),
    decltype(P::identify(std::declval<const lock_key&>(),
                         std::declval<typename P::resource_id&>()))>;
template <class P>
using primitive_set_call = std::enable_if_t<
    noexcept(P::set(std::declval<typename P::native_handle_type>(),
                    primitive_mode::none, primitive_mode::none, false)),
    decltype(P::set(std::declval<typename P::native_handle_type>(),
                    primitive_mode::none, primitive_mode::none, false))>;
template <class P>
using primitive_close_call = std::enable_if_t<
    noexcept(P::close(std::declval<typename P::native_handle_type>())),
    decltype(P::close(std::declval<typename P::native_handle_type>()))>;
template <class P>
using primitive_releases_of = decltype(P::closing_any_releases);
template <class P>
using primitive_idle_reusable_of = decltype(P::idle_handles_reusable);
template <class P>
using primitive_set_until_name = decltype(&P::set_until);
template <class P>
using primitive_set_until_call = std::enable_if_t<
    noexcept(P::set_until(std::declval<typename P::native_handle_type>(),
                          primitive_mode::none, primitive_mode::none,
                          std::declval<primitive_deadline>())),
    decltype(P::set_until(std::declval<typename P::native_handle_type>(),
                          primitive_mode::none, primitive_mode::none,
                          std::declval<primitive_deadline>()))>;
template <class P>
using primitive_fallback_of = typename P::fallback;

// True when P declares idle_handles_reusable wrongly: not a constant bool,
// or true beside closing_any_releases (closing an idle handle would then
// release the locks another handle of the file holds).
template <class P>
constexpr bool idle_reusable_misdeclared() {
  if constexpr (!is_detected_v<P, primitive_idle_reusable_of>) {
    return false;
  } else if constexpr (!std::is_same_v<primitive_idle_reusable_of<P>,
                                       const bool>) {
    return true;
  } else {
    return P::idle_handles_reusable && P::closing_any_releases;
  }
}

// True when the call `Call` probes is valid for P, noexcept, and returns
// exactly `R`.
template <class P, template <class> class Call, class R>
constexpr bool noexcept_call_returning() {
  if constexpr (!is_detected_v<P, Call>) {
    return false;
  } else {
    return std::is_same_v<Call<P>, R>;
  }
}

template <class P>
constexpr primitive_clause unmet_primitive_clause() {
  using clause = primitive_clause;
  if constexpr (!is_detected_v<P, primitive_handle_of>) {
    return clause::native_handle_type;
  } else if constexpr (!is_detected_v<P, primitive_invalid_of>) {
    return clause::invalid_handle;
  } else if constexpr (!std::is_same_v<std::decay_t<primitive_invalid_of<P>>,
                                       typename P::native_handle_type>) {
    return clause::invalid_handle;
  } else if constexpr (!is_detected_v<P, primitive_id_of>) {
    return clause::resource_id;
  } else if constexpr (!is_detected_v<P, primitive_hash_call>) {
    return clause::resource_id_hash;
  } else if constexpr (!noexcept_call_returning<
                           P, primitive_open_call,
                           typename P::native_handle_type>()) {
    return clause::open;
  } else if constexpr (!noexcept_call_returning<
                           P, primitive_identify_handle_call, bool>()) {
    return clause::identify_handle;
  } else if constexpr (!noexcept_call_returning<P, primitive_identify_key_call,
                                                bool>()) {
    return clause::identify_key;
  } else if constexpr (!noexcept_call_returning<P, primitive_set_call,
                                                lock_result>()) {
    return clause::set;
  } else if constexpr (!noexcept_call_returning<P, primitive_close_call,
                                                void>()) {
    return clause::close;
  } else if constexpr (!is_detected_v<P, primitive_releases_of>) {
    return clause::closing_any_releases;
  } else if constexpr (!std::is_same_v<primitive_releases_of<P>, const bool>) {
    return clause::closing_any_releases;
  } else if constexpr (idle_reusable_misdeclared<P>()) {
    return clause::idle_handles_reusable;
  } else if constexpr (is_detected_v<P, primitive_set_until_name> &&
                       !noexcept_call_returning<P, primitive_set_until_call,
                                                lock_result>()) {
    return clause::set_until;
  } else if constexpr (is_detected_v<P, primitive_fallback_of>) {
    using F = typename P::fallback;
    if constexpr (unmet_primitive_clause<F>() != clause::met) {
      return clause::fallback;
    } else if constexpr (!std::is_same_v<typename F::native_handle_type,
                                         typename P::native_handle_type> ||
                         !std::is_same_v<typename F::resource_id,
                                         typename P::resource_id>) {
      return clause::fallback;
    } else {
      return clause::met;
    }
  } else {
    return clause::met;
  }
}

// The check: instantiated by file_process_lock<P>.
template <class P>
struct primitive_check {
  static constexpr primitive_clause unmet = unmet_primitive_clause<P>();
  static_assert(unmet != primitive_clause::native_handle_type,
                "dreadlocks: LockPrimitive must provide native_handle_type: "
                "a member type, what keeps one resource open");
  static_assert(unmet != primitive_clause::invalid_handle,
                "dreadlocks: LockPrimitive must provide invalid_handle: "
                "`static constexpr native_handle_type invalid_handle`");
  static_assert(unmet != primitive_clause::resource_id,
                "dreadlocks: LockPrimitive must provide resource_id: a member "
                "type naming one resource however it is spelled");
  static_assert(unmet != primitive_clause::resource_id_hash,
                "dreadlocks: LockPrimitive must provide resource_id_hash: a "
                "member type hashing a const resource_id&");
  static_assert(unmet != primitive_clause::open,
                "dreadlocks: LockPrimitive must provide open: `static "
                "native_handle_type open(const lock_key&, open_failure&) "
                "noexcept`");
  static_assert(unmet != primitive_clause::identify_handle,
                "dreadlocks: LockPrimitive must provide identify: `static bool "
                "identify(native_handle_type, resource_id&, os_error&) "
                "noexcept`");
  static_assert(unmet != primitive_clause::identify_key,
                "dreadlocks: LockPrimitive must provide identify: `static bool "
                "identify(const lock_key&, resource_id&) noexcept`");
  static_assert(unmet != primitive_clause::set,
                "dreadlocks: LockPrimitive must provide set: `static "
                "lock_result set(native_handle_type, primitive_mode from, "
                "primitive_mode to, bool wait) noexcept`");
  static_assert(unmet != primitive_clause::close,
                "dreadlocks: LockPrimitive must provide close: `static void "
                "close(native_handle_type) noexcept`");
  static_assert(unmet != primitive_clause::closing_any_releases,
                "dreadlocks: LockPrimitive must provide closing_any_releases: "
                "`static constexpr bool closing_any_releases`");
  static_assert(unmet != primitive_clause::idle_handles_reusable,
                "dreadlocks: LockPrimitive must provide idle_handles_reusable: "
                "if declared, `static constexpr bool idle_handles_reusable`, "
                "and false where closing_any_releases is true");
  static_assert(unmet != primitive_clause::set_until,
                "dreadlocks: LockPrimitive must provide set_until: if "
                "declared, `static lock_result set_until(native_handle_type, "
                "primitive_mode, primitive_mode, primitive_deadline) "
                "noexcept`");
  static_assert(unmet != primitive_clause::fallback,
                "dreadlocks: LockPrimitive must provide fallback: if "
                "declared, a LockPrimitive with the same handle and id types");
};

}  // namespace dreadlocks::detail

#endif  // DREADLOCKS_DETAIL_PRIMITIVE_CHECK_HPP_
