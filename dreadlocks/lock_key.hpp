// dreadlocks/lock_key.hpp
//
// The key a path is locked under: a small value type that a lock_request
// carries to the policies (lock_request.hpp) and that a guard can be built
// from. How a spelling folds into it: key_form (key_form.hpp, included
// here) and docs/keys.md.

#ifndef DREADLOCKS_LOCK_KEY_HPP_
#define DREADLOCKS_LOCK_KEY_HPP_

#include <cstddef>
#include <filesystem>
#include <string_view>
#include <type_traits>
#include <utility>

#include "dreadlocks/detail/key_block.hpp"
#include "dreadlocks/detail/path_argument.hpp"
#include "dreadlocks/key_form.hpp"

namespace dreadlocks {

namespace detail {
struct key_access;
}  // namespace detail

// lock_key
//
// The key a path is locked under: its absolute form, folded as `form` says
// (key_form). Lexically, `lock`, `./lock`, `dir/../lock` and `/cwd/lock`
// are one key; as opened, `dir/../lock` stays another text, which the
// process level maps to its file. Building a key reads the current
// directory for a relative path and touches nothing else of the file
// system; symlinks are not resolved (see docs/keys.md).
//
// A key is a counted reference to one immutable block holding the text and
// its hash: copies share it, and so do the keys for the same path that the
// calling thread made recently, so that locking a path again costs a string
// comparison, not a normalization and a copy. The std::filesystem::path that
// path() returns is built from the text on first use (it is ten times the
// size of the text, and the library itself only needs the text).
class lock_key {
 public:
  // The character type of the OS's paths (std::filesystem::path's: char
  // on POSIX).
  using value_type = std::filesystem::path::value_type;

  // A view of a key's text, as native() returns it.
  using string_view_type = std::basic_string_view<value_type>;

  // lock_key()
  //
  // Normalizes `path` in `form` (lexical unless asked): a
  // std::filesystem::path, boost::filesystem::path, std::string,
  // std::string_view or C string (a std::filesystem::path is built only
  // where the text must be converted or normalized). Throws
  // std::system_error(errc::invalid_argument) for an empty path or one
  // holding a NUL character, naming `operation` and the path; a
  // std::system_error with the OS error (ENOENT for a deleted directory)
  // if the current directory cannot be read for a relative path, naming
  // `operation` and the path.
  template <class Path,
            class = std::enable_if_t<detail::is_path_argument_v<Path>>>
  lock_key(const Path& path, const char* operation,
           key_form form = key_form::lexical)
      : block_(detail::with_native_text(
            path, [operation, form](string_view_type text) {
              return detail::intern_key(text, operation, form);
            })) {}

  // in_form()
  //
  // Returns this key if it is in `form`, else the key of its text in
  // `form`: a lexical text is already folded as opened (it has no `.` or
  // `..` left), and a text as opened folds lexically. Throws as the
  // constructor (std::bad_alloc only, for a key that is not empty).
  lock_key in_form(key_form form, const char* operation) const {
    if (block_ == nullptr || block_->form() == form) return *this;
    return lock_key(native(), operation, form);
  }

  // Shares `other`'s block: one more reference, no copy of the text.
  lock_key(const lock_key& other) noexcept : block_(other.block_) {
    if (block_ != nullptr) block_->add_reference();
  }

  // Takes over `other`'s block; `other` is then empty (a moved-from key).
  lock_key(lock_key&& other) noexcept
      : block_(std::exchange(other.block_, nullptr)) {}

  // Drops this key's reference and shares `other`'s block.
  lock_key& operator=(const lock_key& other) noexcept {
    lock_key copy(other);
    std::swap(block_, copy.block_);
    return *this;
  }

  // Drops this key's reference and takes over `other`'s block; `other` is
  // then empty (a moved-from key).
  lock_key& operator=(lock_key&& other) noexcept {
    lock_key taken(std::move(other));
    std::swap(block_, taken.block_);
    return *this;
  }

  ~lock_key() {
    if (block_ != nullptr) block_->drop_reference();
  }

  // form()
  //
  // Returns how the key's text was folded (lexical for a moved-from key).
  key_form form() const noexcept {
    return block_ != nullptr ? block_->form() : key_form::lexical;
  }

  // path()
  //
  // Returns the normalized absolute path (empty for a moved-from key). The
  // first call for a key builds it, once for all the key's copies; only
  // that allocation can throw (std::bad_alloc).
  const std::filesystem::path& path() const {
    return block_ != nullptr ? block_->path() : empty_path();
  }

  // native()
  //
  // Returns the normalized path in the OS's native encoding; this text is
  // what registries hash and compare. Empty for a moved-from key.
  string_view_type native() const noexcept {
    return block_ != nullptr ? block_->text() : string_view_type();
  }

  // c_str()
  //
  // Returns native() as a NUL-terminated string, for OS calls.
  const value_type* c_str() const noexcept {
    static constexpr value_type kEmpty[1] = {};
    return block_ != nullptr ? block_->chars() : kEmpty;
  }

  // hash()
  //
  // Returns std::hash of native(), computed once per path, so that every
  // registry a lock goes through looks the key up without hashing it again.
  std::size_t hash() const noexcept {
    return block_ != nullptr ? block_->hash : 0;
  }

  // shares_block_with()
  //
  // Returns true when both keys are copies of one key (equal texts made
  // apart are not): what a registry compares to tell its own key.
  bool shares_block_with(const lock_key& other) const noexcept {
    return block_ == other.block_;
  }

 private:
  // The registries' view of the block (the slots they keep in it, whether
  // a copy is the last, an empty key): detail/key_access.hpp.
  friend struct detail::key_access;

  // An empty key, as a moved-from one.
  lock_key() noexcept : block_(nullptr) {}

  static const std::filesystem::path& empty_path() noexcept {
    static const std::filesystem::path empty;
    return empty;
  }

  detail::key_block* block_;
};

}  // namespace dreadlocks

#endif  // DREADLOCKS_LOCK_KEY_HPP_
