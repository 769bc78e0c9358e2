"""compile_fail_test: a test that a source does NOT compile, with a message.

    load("//tests/api:compile_fail.bzl", "compile_fail_test")

The compiler runs at build time (its failure is recorded, not fatal); the
test then checks that compilation failed and that the first `error:` line of
the diagnostics contains `expected` (the readable message comes first).
"""

load("@bazel_tools//tools/cpp:toolchain_utils.bzl", "find_cpp_toolchain")

_COMPILED = "COMPILE_FAIL_TEST: the source compiled"

# A diagnostic line of the compiler that is an error (not a note, a warning
# or an "In file included from" line naming errors.hpp).
_FIRST_ERROR = ": (fatal )?error:"

def _compile_fail_test_impl(ctx):
    cc_toolchain = find_cpp_toolchain(ctx)
    contexts = [dep[CcInfo].compilation_context for dep in ctx.attr.deps]
    headers = depset(transitive = [c.headers for c in contexts])
    include_dirs = depset(
        ["."],
        transitive = [c.includes for c in contexts] +
                     [c.quote_includes for c in contexts] +
                     [c.system_includes for c in contexts],
    )
    log = ctx.actions.declare_file(ctx.label.name + ".log")
    args = ctx.actions.args()
    args.add(log)
    args.add(cc_toolchain.compiler_executable)
    args.add("-std=" + ctx.attr.std)
    args.add("-fsyntax-only")
    args.add_all(ctx.attr.copts)
    args.add_all(["-D" + d for d in ctx.attr.defines])
    args.add_all(include_dirs, format_each = "-I%s")
    args.add(ctx.file.src)
    ctx.actions.run_shell(
        inputs = depset([ctx.file.src], transitive = [headers, cc_toolchain.all_files]),
        outputs = [log],
        command = ('log="$1"; shift; if "$@" > "$log" 2>&1; then ' +
                   'echo "%s" >> "$log"; fi') % _COMPILED,
        arguments = [args],
        mnemonic = "CompileFail",
        progress_message = "Compiling %s (expected to fail)" % ctx.label,
    )
    script = ctx.actions.declare_file(ctx.label.name + ".sh")
    ctx.actions.write(
        output = script,
        is_executable = True,
        content = """#!/bin/sh
log='{log}'
# Quoted once, here: the messages hold backquotes and `&`.
expected='{expected}'
if grep -qF '{compiled}' "$log"; then
  echo "FAIL: {src} compiled, but must not"
  exit 1
fi
if ! grep -qF -- "$expected" "$log"; then
  echo "FAIL: the diagnostics of {src} do not contain: $expected"
  cat "$log"
  exit 1
fi
if ! grep -m1 -E '{first_error}' "$log" | grep -qF -- "$expected"; then
  echo "FAIL: the first error of {src} is not the expected one:"
  grep -m1 -E '{first_error}' "$log"
  exit 1
fi
echo "PASS: {src} is refused, first with: $expected"
""".format(
            log = log.short_path,
            compiled = _COMPILED,
            src = ctx.file.src.short_path,
            expected = ctx.attr.expected.replace("'", "'\\''"),
            first_error = _FIRST_ERROR,
        ),
    )
    return [DefaultInfo(
        executable = script,
        runfiles = ctx.runfiles(files = [log]),
    )]

compile_fail_test = rule(
    implementation = _compile_fail_test_impl,
    test = True,
    attrs = {
        "src": attr.label(allow_single_file = [".cpp", ".cc"], mandatory = True),
        "deps": attr.label_list(providers = [CcInfo]),
        "expected": attr.string(mandatory = True),
        "defines": attr.string_list(),
        "copts": attr.string_list(),
        "std": attr.string(default = "c++20", values = ["c++17", "c++20"]),
        "_cc_toolchain": attr.label(
            default = Label("@bazel_tools//tools/cpp:current_cc_toolchain"),
        ),
    },
    toolchains = ["@bazel_tools//tools/cpp:toolchain_type"],
    fragments = ["cpp"],
)
