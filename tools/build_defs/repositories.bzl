"""Repositories dreadlocks needs, all local: Bazel 4.2.3 builds offline.

In a WORKSPACE (dreadlocks' own or a consumer's):

    load("@dreadlocks//tools/build_defs:repositories.bzl", "dreadlocks_dependencies")
    dreadlocks_dependencies()

Declares (each only if the workspace has not declared it already):
  @rules_cc, @remote_coverage_tools  stand-ins from //third_party
  @rules_java, @platforms            Debian's bazel-rules-java, bazel-platforms
  @boost                             :headers (alias :interprocess), :test, :filesystem
  @com_google_benchmark              :benchmark, :benchmark_main
  @com_google_googletest             :gtest, :gtest_main
The system libraries come from Debian's -dev packages (tools/bazel installs
them). Labels are Label()s so they resolve inside @dreadlocks when this file is
loaded from another workspace.
"""

def _stub_repository_impl(rctx):
    rctx.file("WORKSPACE", "workspace(name = \"%s\")\n" % rctx.name)
    if "BUILD.bazel" not in rctx.attr.files.values():
        rctx.file("BUILD.bazel", "")
    for src, dest in rctx.attr.files.items():
        rctx.symlink(rctx.path(src), dest)

# A repository made of files of this repository: {label: path in the repo}.
# Unlike local_repository, whose relative path is taken from the root
# workspace, this works when dreadlocks is itself an external repository.
_stub_repository = repository_rule(
    implementation = _stub_repository_impl,
    attrs = {"files": attr.label_keyed_string_dict(allow_files = True)},
    local = True,
)

def _maybe(rule, name, **kwargs):
    if not native.existing_rule(name):
        rule(name = name, **kwargs)

def dreadlocks_dependencies():
    """Declares the repositories that building and testing dreadlocks needs."""

    # Bazel's own @bazel_tools loads these four; by default it would download them.
    _maybe(
        _stub_repository,
        name = "rules_cc",
        files = {
            Label("//third_party/rules_cc:BUILD.cc.bazel"): "cc/BUILD.bazel",
            Label("//third_party/rules_cc:defs.bzl"): "cc/defs.bzl",
        },
    )
    _maybe(
        _stub_repository,
        name = "remote_coverage_tools",
        files = {
            Label("//third_party/remote_coverage_tools:BUILD.remote_coverage_tools.bazel"): "BUILD.bazel",
            Label("//third_party/remote_coverage_tools:unavailable.sh"): "unavailable.sh",
        },
    )
    _maybe(
        native.local_repository,
        name = "rules_java",
        path = "/usr/share/bazel/rules/java",
    )
    _maybe(
        native.local_repository,
        name = "platforms",
        path = "/usr/share/bazel/tools/platforms",
    )

    # System libraries (Debian bookworm).
    _maybe(
        native.new_local_repository,
        name = "boost",
        path = "/usr/include",
        build_file = str(Label("//third_party:BUILD.boost.bazel")),
    )
    _maybe(
        native.new_local_repository,
        name = "com_google_benchmark",
        path = "/usr/include",
        build_file = str(Label("//third_party:BUILD.com_google_benchmark.bazel")),
    )
    _maybe(
        native.new_local_repository,
        name = "com_google_googletest",
        path = "/usr/include",
        build_file = str(Label("//third_party:BUILD.com_google_googletest.bazel")),
    )
