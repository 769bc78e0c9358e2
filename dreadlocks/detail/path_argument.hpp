// dreadlocks/detail/path_argument.hpp
//
// Which argument types name a path, and how each gives its native text.
// One constrained template accepts them all, so no two overloads can be
// ambiguous.

#ifndef DREADLOCKS_DETAIL_PATH_ARGUMENT_HPP_
#define DREADLOCKS_DETAIL_PATH_ARGUMENT_HPP_

#include <filesystem>
#include <string>
#include <string_view>
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

// Calls `use` with the argument's text in the native encoding, as a
// std::basic_string_view of std::filesystem::path::value_type, and returns
// what it returns. Text that is already native (a path's native(), a
// std::string or C string on POSIX) is passed as it stands; anything else
// goes through a std::filesystem::path, which does the conversion.
template <class T, class Use>
decltype(auto) with_native_text(const T& path, Use&& use) {
  using text = std::basic_string_view<std::filesystem::path::value_type>;
  if constexpr (std::is_same_v<T, std::filesystem::path>) {
    return use(text(path.native()));
  } else if constexpr (std::is_convertible_v<const T&, text>) {
    return use(text(path));
  } else if constexpr (std::is_convertible_v<const T&,
                                             std::filesystem::path>) {
    const std::filesystem::path converted(path);
    return use(text(converted.native()));
  } else {
    return use(text(path.native()));
  }
}

}  // namespace dreadlocks::detail

#endif  // DREADLOCKS_DETAIL_PATH_ARGUMENT_HPP_
