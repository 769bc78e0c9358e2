// dreadlocks/lock_request.hpp
//
// What a policy is given when asked to acquire: the normalized key and the
// request decided by the guard. Users writing their own ThreadPolicy or
// ProcessPolicy read these two types; nothing else of the guard.

#ifndef DREADLOCKS_LOCK_REQUEST_HPP_
#define DREADLOCKS_LOCK_REQUEST_HPP_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "dreadlocks/detail/hold_word.hpp"
#include "dreadlocks/detail/path_argument.hpp"
#include "dreadlocks/detail/single_thread.hpp"

namespace dreadlocks {

namespace detail {
class thread_registry;
struct key_access;
}  // namespace detail

// key_form
//
// How a spelling is folded into a key's text (docs/keys.md):
//   lexical    absolute and lexically normal: `.`, `..`, repeated and
//              trailing separators are folded as text. For locks that open
//              no file (thread_level_path_lock), since `dir/..` is `.` only
//              when `dir` is no symlink.
//   as_opened  absolute, with only the foldings that cannot change which
//              file open(2) reaches: `.` components, repeated and trailing
//              separators, `..` directly under the root, and `..` after a
//              component of the current directory (getcwd() is free of
//              symlinks). Every other `..` is kept as written, so that the
//              text opens the file the spelling names. For locks that open
//              the file.
enum class key_form : unsigned char { lexical, as_opened };

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
  // The character type of native() and of the text a key is built from.
  using value_type = std::filesystem::path::value_type;
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
              return intern(text, operation, form);
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

  // Copies share the text; a moved-from key is empty.
  lock_key(const lock_key& other) noexcept : block_(other.block_) {
    if (block_ != nullptr) block_->add_reference();
  }
  lock_key(lock_key&& other) noexcept
      : block_(std::exchange(other.block_, nullptr)) {}
  lock_key& operator=(const lock_key& other) noexcept {
    lock_key copy(other);
    std::swap(block_, copy.block_);
    return *this;
  }
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
  friend class detail::thread_registry;
  friend struct detail::key_access;

  // An empty key, for registries that keep one only sometimes.
  lock_key() noexcept : block_(nullptr) {}

  // Each registry keeps, in the block of a key its entry for this text
  // holds, a pointer to that entry, so that locking through the same block
  // (the calling thread's recent keys hand it out again) can find the entry
  // without the registry's mutex or hash table. The registry sets and
  // clears it under its mutex and keeps the entry alive for as long as a
  // key could read the pointer (see detail/thread_registry.hpp and
  // detail/process_registry.hpp).
  enum registry_slot : unsigned { thread_slot = 0, process_slot = 1 };
  void* registry_entry(registry_slot slot) const noexcept {
    return block_ != nullptr
               ? block_->registry_entries[slot].load(std::memory_order_acquire)
               : nullptr;
  }
  void set_registry_entry(registry_slot slot, void* entry) const noexcept {
    block_->registry_entries[slot].store(entry, std::memory_order_release);
  }

  // The process registry's fast mode keeps the holds of the file this key
  // opened here (detail/hold_word.hpp); hold_word::kSlow for any other key.
  std::atomic<std::uint64_t>& process_hold_word() const noexcept {
    return block_->process_hold_word;
  }

  // Returns true when no copy of this key but this one exists.
  bool sole_copy() const noexcept {
    return block_ != nullptr && block_->sole_reference();
  }

  // Makes the calling thread's recent keys hand out `key`'s block for its
  // text from now on, instead of another block with the same text.
  static void prefer_in_thread_cache(const lock_key& key) noexcept {
    if (key.block_ != nullptr) recent_keys::mine().prefer(key.block_);
  }

  // One allocation: this header, then the text and its NUL.
  class text_block {
   public:
    std::size_t hash;

    static text_block* make(string_view_type text, key_form form) {
      void* memory = ::operator new(sizeof(text_block) +
                                    (text.size() + 1) * sizeof(value_type));
      auto* block = new (memory) text_block(text, form);
      value_type* chars = block->chars();
      text.copy(chars, text.size());
      chars[text.size()] = value_type{};
      return block;
    }

    value_type* chars() noexcept {
      return reinterpret_cast<value_type*>(this + 1);
    }
    const value_type* chars() const noexcept {
      return reinterpret_cast<const value_type*>(this + 1);
    }
    string_view_type text() const noexcept {
      return {chars(), static_cast<std::size_t>(size_and_form_ & ~kAsOpened)};
    }

    // Part of what a recent key must match: a text normal as opened
    // (`/a/link/../x`) is not lexically normal.
    key_form form() const noexcept {
      return (size_and_form_ & kAsOpened) != 0 ? key_form::as_opened
                                                : key_form::lexical;
    }

    void add_reference() noexcept {
      if (detail::process_single_threaded()) {
        references_.store(references_.load(std::memory_order_relaxed) + 1,
                          std::memory_order_relaxed);
      } else {
        references_.fetch_add(1, std::memory_order_relaxed);
      }
    }
    void drop_reference() noexcept {
      if (detail::process_single_threaded()) {
        const std::size_t left =
            references_.load(std::memory_order_relaxed) - 1;
        references_.store(left, std::memory_order_relaxed);
        if (left != 0) return;
      } else if (references_.fetch_sub(1, std::memory_order_acq_rel) != 1) {
        return;
      }
      delete path_.load(std::memory_order_acquire);
      this->~text_block();
      ::operator delete(this);
    }

    bool sole_reference() const noexcept {
      return references_.load(std::memory_order_acquire) == 1;
    }

    // See lock_key::registry_entry() and process_hold_word().
    std::atomic<void*> registry_entries[2] = {nullptr, nullptr};
    std::atomic<std::uint64_t> process_hold_word{detail::hold_word::kSlow};

    // Builds the std::filesystem::path once; threads racing to build it
    // keep the first one published.
    const std::filesystem::path& path() const {
      const std::filesystem::path* built =
          path_.load(std::memory_order_acquire);
      if (built != nullptr) return *built;
      auto made = std::make_unique<const std::filesystem::path>(text());
      if (path_.compare_exchange_strong(built, made.get(),
                                        std::memory_order_acq_rel,
                                        std::memory_order_acquire)) {
        built = made.release();
      }
      return *built;
    }

   private:
    text_block(string_view_type text, key_form folded) noexcept
        : hash(std::hash<string_view_type>()(text)),
          size_and_form_(text.size() |
                         (folded == key_form::as_opened ? kAsOpened : 0)) {}

    // The form rides in the top bit of the size (no string is that long):
    // a byte of its own would push a key into the next malloc size class.
    static constexpr std::size_t kAsOpened = ~(~std::size_t{0} >> 1);

    std::atomic<std::size_t> references_{1};
    std::size_t size_and_form_;
    mutable std::atomic<const std::filesystem::path*> path_{nullptr};
  };
  static_assert(alignof(text_block) >= alignof(value_type));

  // The few keys the calling thread made last. A thread tends to lock the
  // same paths again (a cycle, a nested lock, a handful of files in turn);
  // four entries catch that at the price of four small blocks kept alive
  // per thread.
  struct recent_keys {
    static constexpr std::size_t kSize = 4;
    text_block* keys[kSize] = {};
    std::size_t next = 0;
    std::size_t last = 0;  // the entry found or added last: tried first

    recent_keys() = default;
    recent_keys(const recent_keys&) = delete;
    recent_keys& operator=(const recent_keys&) = delete;
    ~recent_keys() {
      for (text_block* key : keys) {
        if (key != nullptr) key->drop_reference();
      }
    }

    // Returns a new reference to the recent key with this text and form,
    // or nullptr.
    text_block* find(string_view_type text, key_form form) noexcept {
      if (matches(last, text, form)) return share(keys[last]);
      for (std::size_t i = 0; i < kSize; ++i) {
        if (i != last && matches(i, text, form)) {
          last = i;
          return share(keys[i]);
        }
      }
      return nullptr;
    }

    bool matches(std::size_t i, string_view_type text,
                 key_form form) const noexcept {
      return keys[i] != nullptr && keys[i]->form() == form &&
             keys[i]->text() == text;
    }

    static text_block* share(text_block* key) noexcept {
      key->add_reference();
      return key;
    }

    // Replaces the recent key with `preferred`'s text and form by
    // `preferred`.
    void prefer(text_block* preferred) noexcept {
      for (text_block*& key : keys) {
        if (key != nullptr && key != preferred &&
            key->form() == preferred->form() &&
            key->text() == preferred->text()) {
          key->drop_reference();
          key = share(preferred);
        }
      }
    }

    // Makes a key of `normal` text, keeps it and returns a new reference.
    text_block* add(string_view_type normal, key_form form) {
      text_block* key = text_block::make(normal, form);
      if (keys[next] != nullptr) keys[next]->drop_reference();
      keys[next] = key;
      last = next;
      next = (next + 1) % kSize;
      return share(key);
    }

    static recent_keys& mine() {
      thread_local recent_keys recent;
      return recent;
    }
  };

  // Returns a reference to the shared normal form of `text`. A recent key
  // with the same text and form proves `text` normal (and free of NUL)
  // without looking further.
  static text_block* intern(string_view_type text, const char* operation,
                            key_form form) {
    recent_keys& recent = recent_keys::mine();
    if (text_block* hit = recent.find(text, form)) return hit;
    if (already_normal(text, operation, form)) return recent.add(text, form);
    const std::filesystem::path normal = normalize(text, operation, form);
    if (text_block* hit = recent.find(normal.native(), form)) return hit;
    return recent.add(normal.native(), form);
  }

  static const std::filesystem::path& empty_path() noexcept {
    static const std::filesystem::path empty;
    return empty;
  }

  // Returns true when `text` is absolute and normal in `form` as it stands,
  // so that normalize() (which rebuilds the path component by component,
  // the bulk of a cycle's cost) can be skipped: on POSIX, one scan that
  // finds a leading '/', no repeated '/', no "." component, no trailing
  // '/', and no ".." component (lexical) or none directly under the root
  // (as opened). Anything else, and every path on platforms with another
  // separator, takes normalize(). Throws as normalize() for a NUL
  // character, the one thing the scan must reject.
  static bool already_normal(string_view_type text, const char* operation,
                             key_form form) {
    if constexpr (std::filesystem::path::preferred_separator != '/') {
      return false;
    } else {
      const std::size_t size = text.size();
      if (size == 0 || text[0] != '/') return false;
      // `start`: where the current component began (just past a '/').
      std::size_t start = 1;
      for (std::size_t i = 1; i <= size; ++i) {
        const value_type c = i < size ? text[i] : value_type('/');
        if (c == value_type{}) normalize(text, operation, form);  // throws
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

  static std::filesystem::path normalize(string_view_type text,
                                         const char* operation,
                                         key_form form) {
    if (text.empty()) {
      throw std::system_error(std::make_error_code(std::errc::invalid_argument),
                              std::string(operation) + ": empty path");
    }
    const std::filesystem::path path(text);
    if (text.find(value_type{}) != string_view_type::npos) {
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

  // Returns the current directory, against which the relative `path` is
  // resolved. The directory may have been deleted: then throws
  // std::system_error saying which operation and which path could not be
  // resolved, not only "cannot get current path".
  static std::filesystem::path current_directory(
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
  static std::filesystem::path fold_as_opened(string_view_type here,
                                             string_view_type text) {
    using string_type = std::filesystem::path::string_type;
    string_type folded;  // "" is the root; each component adds "/name"
    std::vector<std::size_t> starts;  // where each component of `folded` starts
    std::size_t real = 0;  // the first `real` components are directories
    const auto add = [&](string_view_type part, bool from_cwd) {
      std::size_t at = 0;
      while (at <= part.size()) {
        std::size_t end = part.find('/', at);
        if (end == string_view_type::npos) end = part.size();
        const string_view_type name = part.substr(at, end - at);
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

  text_block* block_;
};

// lock_request
//
// One acquisition as a policy sees it. `key` is what to lock;
// `reentry_allowed` is the ReentrancyPolicy's verdict for these options;
// `deadline` is `no_deadline` unless the request is timed, and `timeout`
// then the duration it was computed from (for messages); `operation` names
// the public call (e.g. "basic_path_lock::basic_path_lock") for error
// messages; `named`, when set, is the key of the path the user gave, where
// `key` is another spelling of its file (the thread level of a guard keyed
// by the file): messages name path(), never `key` directly.
struct lock_request {
  // The clock of `deadline`; `no_deadline` marks an untimed request.
  using clock = std::chrono::steady_clock;
  static constexpr clock::time_point no_deadline = clock::time_point::max();

  // The fields described above.
  const lock_key& key;
  bool shared;
  bool blocking;
  bool reentry_allowed;
  clock::time_point deadline;
  clock::duration timeout;
  const char* operation;
  const lock_key* named = nullptr;

  // path()
  //
  // Returns the path error messages name: the user's, as normalized.
  const std::filesystem::path& path() const {
    return (named != nullptr ? *named : key).path();
  }

  // for_key()
  //
  // Returns this request for `other`, a key of the same file, still naming
  // this request's path. Requires: `other` and this request's keys outlive
  // the result.
  lock_request for_key(const lock_key& other) const noexcept {
    lock_request moved{other,    shared,  blocking,  reentry_allowed,
                       deadline, timeout, operation, named};
    if (moved.named == nullptr && !other.shares_block_with(key)) {
      moved.named = &key;
    }
    return moved;
  }

  // make()
  //
  // Builds the request for `options`, the timeout's clock started at
  // `start` (so that several requests can share one deadline): a zero or
  // negative timeout asks not to wait at all.
  template <class ReentrancyPolicy, class Options>
  static lock_request make(const lock_key& key, const Options& options,
                           const char* operation,
                           clock::time_point start = clock::now()) {
    lock_request request{key,
                         options.shared,
                         options.blocking,
                         ReentrancyPolicy::allows_reentry(options),
                         no_deadline,
                         clock::duration::zero(),
                         operation};
    if (options.blocking && options.timeout) {
      if (*options.timeout <= clock::duration::zero()) {
        request.blocking = false;
      } else {
        // A timeout past the clock's range (nanoseconds::max(), say) waits
        // forever rather than overflowing.
        request.timeout =
            std::chrono::duration_cast<clock::duration>(*options.timeout);
        if (request.timeout < no_deadline - start) {
          request.deadline = start + request.timeout;
        }
      }
    }
    return request;
  }

  // may_wait()
  //
  // Returns true when the request may wait at all.
  bool may_wait() const noexcept { return blocking; }

  // timed()
  //
  // Returns true when the wait is bounded by `deadline`.
  bool timed() const noexcept { return blocking && deadline != no_deadline; }
};

}  // namespace dreadlocks

#endif  // DREADLOCKS_LOCK_REQUEST_HPP_
