// dreadlocks/detail/path_argument.hpp
//
// Which argument types name a path, and how each becomes a
// std::filesystem::path. One constrained template accepts them all, so no
// two overloads can be ambiguous.

#ifndef DREADLOCKS_DETAIL_PATH_ARGUMENT_HPP_
#define DREADLOCKS_DETAIL_PATH_ARGUMENT_HPP_

#include <filesystem>
#include <string>
#include <type_traits>
#include <utility>

#include "dreadlocks/detail/detect.hpp"

namespace dreadlocks::detail {

// A path class that is not std::filesystem::path but offers the same
// native() string: boost::filesystem::path. Detected by shape so that the
// library needs no Boost header (nor Boost.Filesystem's library).
template <class T>
using native_path_probe = std::enable_if_t<std::is_convertible_v<
    decltype(std::declval<const T&>().native()),
    const std::filesystem::path::string_type&>>;

template <class T>
inline constexpr bool is_path_argument_v =
    std::is_convertible_v<const T&, std::filesystem::path> ||
    (std::is_class_v<T> && is_detected_v<T, native_path_probe>);

// Converts an accepted argument to std::filesystem::path; passes a
// std::filesystem::path through by reference, without a copy.
template <class T>
decltype(auto) to_filesystem_path(const T& path) {
  if constexpr (std::is_same_v<T, std::filesystem::path>) {
    return (path);
  } else if constexpr (std::is_convertible_v<const T&,
                                             std::filesystem::path>) {
    return std::filesystem::path(path);
  } else {
    return std::filesystem::path(path.native());
  }
}

}  // namespace dreadlocks::detail

#endif  // DREADLOCKS_DETAIL_PATH_ARGUMENT_HPP_
