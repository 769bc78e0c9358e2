// dreadlocks/detail/key_normalize.hpp
//
// How a spelling becomes the text of a lock_key: made absolute against the
// current directory and folded as its key_form says. Pure text work; the
// only thing of the file system read is the current directory, and only
// for a relative spelling.

#ifndef DREADLOCKS_DETAIL_KEY_NORMALIZE_HPP_
#define DREADLOCKS_DETAIL_KEY_NORMALIZE_HPP_

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "dreadlocks/key_form.hpp"

namespace dreadlocks::detail {

using key_char = std::filesystem::path::value_type;
using key_text = std::basic_string_view<key_char>;

// Returns the current directory, against which the relative `path` is
// resolved. The directory may have been deleted: then throws
// std::system_error saying which operation and which path could not be
// resolved, not only "cannot get current path".
inline std::filesystem::path current_directory(
    const std::filesystem::path& path, const char* operation) {
  std::error_code error;
  std::filesystem::path here = std::filesystem::current_path(error);
  if (error) {
    throw std::system_error(
        error, std::string(operation) + ": cannot resolve relative path \"" +
                   path.string() + "\": cannot get the current directory");
  }
  return here;
}

// Returns `text` (POSIX, not empty) made absolute against `here` (the
// current directory; empty for an absolute `text`) and folded as
// key_form::as_opened says. A `..` folds into the component before it
// only when that component came from getcwd(), which names real
// directories: then `cwd/..` is the directory above it whatever open(2)
// does; after a component of `text` it could be a symlink, and stays.
inline std::filesystem::path fold_as_opened(key_text here, key_text text) {
  using string_type = std::filesystem::path::string_type;
  string_type folded;  // "" is the root; each component adds "/name"
  std::vector<std::size_t> starts;  // where each component of `folded` starts
  std::size_t real = 0;  // the first `real` components are directories
  const auto add = [&](key_text part, bool from_cwd) {
    std::size_t at = 0;
    while (at <= part.size()) {
      std::size_t end = part.find('/', at);
      if (end == key_text::npos) end = part.size();
      const key_text name = part.substr(at, end - at);
      at = end + 1;
      if (name.empty() || (name.size() == 1 && name[0] == '.')) continue;
      if (name.size() == 2 && name[0] == '.' && name[1] == '.') {
        if (starts.empty()) continue;  // the root's parent is the root
        if (starts.size() <= real) {
          folded.resize(starts.back());
          starts.pop_back();
          real = starts.size();
          continue;
        }
      }
      starts.push_back(folded.size());
      folded += '/';
      folded += name;
      if (from_cwd) real = starts.size();
    }
  };
  if (text[0] != '/') add(here, true);
  add(text, false);
  if (folded.empty()) folded = string_type(1, '/');
  return std::filesystem::path(std::move(folded));
}

// Returns `text` made absolute and folded in `form`. Throws
// std::system_error(errc::invalid_argument) for an empty text or one
// holding a NUL character, naming `operation` and the path, and as
// current_directory() for a relative text.
inline std::filesystem::path normalize(key_text text, const char* operation,
                                       key_form form) {
  if (text.empty()) {
    throw std::system_error(std::make_error_code(std::errc::invalid_argument),
                            std::string(operation) + ": empty path");
  }
  const std::filesystem::path path(text);
  if (text.find(key_char{}) != key_text::npos) {
    // what() is a C string: spell the NUL so the message goes on.
    std::string shown;
    for (const char c : path.string()) {
      if (c == '\0') {
        shown += "\\0";
      } else {
        shown += c;
      }
    }
    throw std::system_error(
        std::make_error_code(std::errc::invalid_argument),
        std::string(operation) + ": path \"" + shown +
            "\" contains a NUL character");
  }
  if (path.is_absolute()) {
    if constexpr (std::filesystem::path::preferred_separator == '/') {
      if (form == key_form::as_opened) return fold_as_opened({}, text);
    }
    return path.lexically_normal();
  }
  const std::filesystem::path here = current_directory(path, operation);
  if constexpr (std::filesystem::path::preferred_separator == '/') {
    if (form == key_form::as_opened) return fold_as_opened(here.native(), text);
  }
  return (here / path).lexically_normal();
}

// Returns true when `text` is absolute and normal in `form` as it stands,
// so that normalize() (which rebuilds the path component by component, the
// bulk of a cycle's cost) can be skipped: on POSIX, one scan that finds a
// leading '/', no repeated '/', no "." component, no trailing '/', and no
// ".." component (lexical) or none directly under the root (as opened).
// Anything else, and every path on platforms with another separator, takes
// normalize(). Throws as normalize() for a NUL character, the one thing
// the scan must reject.
inline bool already_normal(key_text text, const char* operation,
                           key_form form) {
  if constexpr (std::filesystem::path::preferred_separator != '/') {
    return false;
  } else {
    const std::size_t size = text.size();
    if (size == 0 || text[0] != '/') return false;
    // `start`: where the current component began (just past a '/').
    std::size_t start = 1;
    for (std::size_t i = 1; i <= size; ++i) {
      const key_char c = i < size ? text[i] : key_char('/');
      if (c == key_char{}) normalize(text, operation, form);  // throws
      if (c != '/') continue;
      const std::size_t length = i - start;
      if (length == 0 && !(i == size && size == 1)) return false;
      if (text[start] == '.' && length == 1) return false;
      if (text[start] == '.' && length == 2 && text[start + 1] == '.' &&
          (form == key_form::lexical || start == 1)) {
        return false;
      }
      start = i + 1;
    }
    return true;
  }
}

}  // namespace dreadlocks::detail

#endif  // DREADLOCKS_DETAIL_KEY_NORMALIZE_HPP_
