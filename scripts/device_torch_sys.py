"""Adapts tch's C++ bindings (the torch-sys crate) to an older libtorch.

torch-sys 0.26 binds every operator of PyTorch 2.13. Built against another
version's headers, the few operators that version lacks (or declares with
other arguments) fail to compile. arlab uses none of them, so each failing
binding is turned into one that raises a C++ exception, which tch reports as
an error if it is ever called. Everything else is left as it is.

usage: device_torch_sys.py TORCH_SYS_SRC DEST LIBTORCH

Copies the crate TORCH_SYS_SRC to DEST (replacing it), then compiles its
bindings with `g++ -fsyntax-only` against LIBTORCH's headers and stubs the
functions with errors, until they compile. Prints the stubbed functions.
"""
import re
import shutil
import subprocess
import sys
from pathlib import Path

FILES = ("libtch/torch_api_generated.cpp",)


def errors(crate: Path, libtorch: Path, name: str) -> set[int]:
    """The line numbers of `name` that g++ reports errors on."""
    cmd = [
        "g++", "-fsyntax-only", "-std=c++17", "-D_GLIBCXX_USE_CXX11_ABI=1",
        "-DGLOG_USE_GLOG_EXPORT", "-w",
        f"-I{libtorch / 'include'}",
        f"-I{libtorch / 'include/torch/csrc/api/include'}",
        name,
    ]
    out = subprocess.run(cmd, cwd=crate, capture_output=True, text=True)
    pattern = re.compile(re.escape(name) + r":(\d+):\d+: error:")
    return {int(m.group(1)) for m in pattern.finditer(out.stderr)}


def function_start(lines: list[str], line: int) -> int:
    """The index of the first line of the function around `line` (1-based)."""
    return next(k for k in range(line - 1, -1, -1) if re.match(r"^[a-z]", lines[k]))


def stub(lines: list[str], start: int) -> str:
    """Replaces the PROTECT(...) body of the function starting at index
    `start` with a throw; returns the function's name."""
    name = re.search(r"(\w+)\(", lines[start]).group(1)
    open_ = next(k for k in range(start, len(lines)) if lines[k].strip() == "PROTECT(")
    close = next(k for k in range(open_, len(lines)) if lines[k].rstrip() == "  )")
    message = f"{name}: not in the libtorch this arlab was built against (scripts/device_build.sh)"
    lines[open_ + 1:close] = [f'    throw std::runtime_error("{message}");\n']
    return name


def main() -> None:
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    src, dest, libtorch = (Path(a).resolve() for a in sys.argv[1:])
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(src, dest)
    for name in FILES:
        path = dest / name
        for attempt in range(4):
            bad = errors(dest, libtorch, name)
            if not bad:
                break
            if attempt == 3:
                sys.exit(f"device_torch_sys: {name} still fails to compile after 3 passes")
            lines = path.read_text().splitlines(keepends=True)
            starts = sorted({function_start(lines, n) for n in bad}, reverse=True)
            stubbed = sorted(stub(lines, k) for k in starts)
            path.write_text("".join(lines))
            print(f"{name}: stubbed {len(stubbed)}: {', '.join(stubbed)}")


if __name__ == "__main__":
    main()
