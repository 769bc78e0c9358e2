// dreadlocks/detail/detect.hpp
//
// The detection idiom, for the policy checks (C++17 has no concepts).

#ifndef DREADLOCKS_DETAIL_DETECT_HPP_
#define DREADLOCKS_DETAIL_DETECT_HPP_

#include <type_traits>

namespace dreadlocks::detail {

template <class, template <class> class, class = void>
struct detected : std::false_type {};

template <class T, template <class> class Probe>
struct detected<T, Probe, std::void_t<Probe<T>>> : std::true_type {};

// True when Probe<T> is a valid type.
template <class T, template <class> class Probe>
inline constexpr bool is_detected_v = detected<T, Probe>::value;

}  // namespace dreadlocks::detail

#endif  // DREADLOCKS_DETAIL_DETECT_HPP_
