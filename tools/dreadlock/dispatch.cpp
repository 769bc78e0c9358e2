// tools/dreadlock/dispatch.cpp

#include "tools/dreadlock/dispatch.hpp"

#include <cstdio>
#include <exception>

#include "tools/dreadlock/exit_codes.hpp"
#include "tools/dreadlock/help.hpp"

namespace dreadlock_cli {

namespace {

int parse_and_act(int argc, char** argv, const platform_actions& platform) {
  options parsed;
  try {
    parsed = parse_options(platform.arguments(argc, argv));
  } catch (const usage_error& error) {
    std::fprintf(stderr, "dreadlock: %s (try 'dreadlock --help')\n",
                 error.what());
    return usage_exit;
  }
  switch (parsed.what) {
    case action::help:
      std::fputs(std::string(help_text()).c_str(), stdout);
      std::fwrite(platform.help_notes.data(), 1, platform.help_notes.size(),
                  stdout);
      return 0;
    case action::version:
      std::printf("dreadlock (dreadlocks) %.*s\n",
                  static_cast<int>(version.size()), version.data());
      return 0;
    case action::holders:
      return platform.holders(parsed);
    case action::run:
      break;
  }
  return platform.lock_and_run(parsed);
}

}  // namespace

int dispatch(int argc, char** argv, const platform_actions& platform) noexcept {
  try {
    return parse_and_act(argc, argv, platform);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "dreadlock: %s\n", error.what());
    return os_error_exit;
  }
}

}  // namespace dreadlock_cli
