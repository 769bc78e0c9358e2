// dreadlocks/key_form.hpp
//
// How a path's spelling is folded into the text of its lock_key. Its own
// header because both sides speak it: lock_key.hpp (which users include)
// and the normalization in detail/.

#ifndef DREADLOCKS_KEY_FORM_HPP_
#define DREADLOCKS_KEY_FORM_HPP_

namespace dreadlocks {

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

}  // namespace dreadlocks

#endif  // DREADLOCKS_KEY_FORM_HPP_
