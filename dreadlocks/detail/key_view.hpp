// dreadlocks/detail/key_view.hpp
//
// How the registries index keys: by the text of a lock_key and the hash it
// computed once, so that a lookup neither hashes nor copies the path.

#ifndef DREADLOCKS_DETAIL_KEY_VIEW_HPP_
#define DREADLOCKS_DETAIL_KEY_VIEW_HPP_

#include <cstddef>
#include <filesystem>
#include <string_view>

#include "dreadlocks/lock_request.hpp"

namespace dreadlocks::detail {

// A key's text and hash. The text belongs to a lock_key that whoever keeps
// the view keeps alive (the registry entry holds a copy of the key). Only
// the start of the text is kept: a key's text has no NUL but the one that
// ends it, and a view is half the size with it.
struct key_view {
  const std::filesystem::path::value_type* text;
  std::size_t hash;

  explicit key_view(const lock_key& key) noexcept
      : text(key.c_str()), hash(key.hash()) {}

  bool operator==(const key_view& other) const noexcept {
    // Copies of a key share their text: equal pointers are common.
    if (hash != other.hash) return false;
    if (text == other.text) return true;
    using text_view =
        std::basic_string_view<std::filesystem::path::value_type>;
    return text_view(text) == text_view(other.text);
  }
};

struct key_view_hash {
  std::size_t operator()(const key_view& key) const noexcept {
    return key.hash;
  }
};

}  // namespace dreadlocks::detail

#endif  // DREADLOCKS_DETAIL_KEY_VIEW_HPP_
