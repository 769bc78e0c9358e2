"""Compiler flags and test macros for dreadlocks.

    load("//tools/build_defs:copts.bzl", "dreadlocks_cc_test")
"""

load("@rules_cc//cc:defs.bzl", "cc_binary", "cc_test")

_WARNINGS = [
    "-Wall",
    "-Wextra",
    "-Wpedantic",
    "-Wshadow",
    "-Werror",
]

# The library's flags (C++20; the headers must also compile as C++17).
DREADLOCKS_COPTS = ["-std=c++20"] + _WARNINGS

DREADLOCKS_CXX17_COPTS = ["-std=c++17"] + _WARNINGS

# Tests and benchmarks: the library's flags, threads on.
DREADLOCKS_TEST_COPTS = DREADLOCKS_COPTS + ["-pthread"]

DREADLOCKS_CXX17_TEST_COPTS = DREADLOCKS_CXX17_COPTS + ["-pthread"]

_BOOST_TEST = "@boost//:test"

def _test_copts(std):
    if std == "c++20":
        return DREADLOCKS_TEST_COPTS
    if std == "c++17":
        return DREADLOCKS_CXX17_TEST_COPTS
    fail("std must be \"c++17\" or \"c++20\", not %r" % std)

def dreadlocks_cc_test(
        name,
        srcs,
        deps = [],
        size = "small",
        std = "c++20",
        copts = [],
        linkopts = [],
        **kwargs):
    """A Boost.Test cc_test built with DREADLOCKS_TEST_COPTS.

    A test source defines BOOST_TEST_MODULE and includes
    <boost/test/unit_test.hpp>; @boost//:test (added here) defines
    BOOST_TEST_DYN_LINK, so the source must not define it.

    Args:
      name: test name.
      srcs: sources; exactly one of them defines BOOST_TEST_MODULE.
      deps: further deps, e.g. "//dreadlocks", "@boost//:filesystem".
      size: test size ("small" = 60 s timeout).
      std: "c++20" (default) or "c++17".
      copts: extra compiler flags, after the defaults.
      linkopts: extra linker flags.
      **kwargs: passed to cc_test (data, env, args, tags, timeout, shard_count...).
    """
    cc_test(
        name = name,
        srcs = srcs,
        deps = deps + ([] if _BOOST_TEST in deps else [_BOOST_TEST]),
        size = size,
        copts = _test_copts(std) + copts,
        linkopts = ["-pthread"] + linkopts,
        linkstatic = True,
        **kwargs
    )

def dreadlocks_cc_benchmark(name, srcs, deps = [], copts = [], linkopts = [], **kwargs):
    """A Google Benchmark cc_binary (with benchmark_main); run it with -c opt.

    Args:
      name: binary name.
      srcs: sources (no main(): benchmark_main provides it).
      deps: further deps, e.g. "//dreadlocks".
      copts: extra compiler flags.
      linkopts: extra linker flags.
      **kwargs: passed to cc_binary.
    """
    cc_binary(
        name = name,
        srcs = srcs,
        deps = deps + ["@com_google_benchmark//:benchmark_main"],
        copts = DREADLOCKS_TEST_COPTS + copts,
        linkopts = ["-pthread"] + linkopts,
        linkstatic = True,
        **kwargs
    )
