"""Builds the one C++17 extension, mapioffline._core, from the Cython binding and the ext/ sources.

Environment switches (no custom command-line flags):
  MAPIOFFLINE_DEBUG=1              -O0 -g, assertions on, MAPIOFFLINE_DEBUG defined
  MAPIOFFLINE_SANITIZE=address     ASan + UBSan (run Python with the sanitizer runtime preloaded), with debug info
  MAPIOFFLINE_SANITIZE=thread      TSan, with debug info

Otherwise (a release build) the library carries no debug info: -g0 overrides the -g that many Pythons' own CFLAGS
(sysconfig) add, which made the Linux library ten times its size. The build says which in _core._DEBUG_INFO.
"""

import os
import sys
from glob import glob

from Cython.Build import cythonize
from setuptools import Extension, setup

debug = os.environ.get("MAPIOFFLINE_DEBUG") == "1"
sanitize = os.environ.get("MAPIOFFLINE_SANITIZE", "")
if sanitize not in ("", "address", "thread"):
    sys.exit(f"MAPIOFFLINE_SANITIZE must be 'address' or 'thread', not {sanitize!r}")

# Sanitizer reports need the debug info to name lines (the sanitizers are gcc/clang builds).
debug_info = debug or (sanitize != "" and sys.platform != "win32")

# What every build of the extension compiles, relative to this folder: this file's build, and .ci/windows-python's
# mingw-w64 cross build for a Windows CPython (which imports these names; setup() runs only when setuptools runs
# this file as a script). The bridge channel (ext/src/channel/) is one concept in several files: its own folder,
# built in the same way.
SOURCES = ["src/mapioffline/_core.pyx"] + sorted(glob("ext/src/*.cpp")) + sorted(glob("ext/src/channel/*.cpp"))
INCLUDE_DIRS = ["ext/include", "ext/src"]
# WaitOnAddress (synchronization), IID_IUnknown (uuid), COM (ole32), the registry and SIDs (advapi32).
WINDOWS_LIBRARIES = ["synchronization", "uuid", "ole32", "advapi32"]
# MSVC: the standard-conforming preprocessor and language mode, level-4 warnings. C4324 ("structure was padded due
# to alignment specifier") is off: padding to a cache line is what every alignas in the core asks for (ring.h,
# sink.h, channel/layout.h). ext/CMakeLists.txt uses the same flags.
MSVC_FLAGS = ["/std:c++17", "/EHsc", "/permissive-", "/Zc:preprocessor", "/W4", "/wd4324"]

compile_args: list[str] = []
link_args: list[str] = []
macros = [("MAPIOFFLINE_DEBUG", "1" if debug else "0"), ("MAPIOFFLINE_DEBUG_INFO", "1" if debug_info else "0")]
libraries: list[str] = []

if sys.platform == "win32":
    libraries = WINDOWS_LIBRARIES
    compile_args = MSVC_FLAGS + (["/Od", "/Zi"] if debug else ["/O2"])
else:
    # -Wall: the core is kept warning-free (CMake builds it with -Wall -Wextra, the mingw-w64 builds with -Werror).
    compile_args = ["-std=c++17", "-fvisibility=hidden", "-Wall"]
    compile_args += ["-O0", "-UNDEBUG"] if debug else ["-O2"]
    # Last on the command line, so that it wins over sysconfig's flags.
    compile_args += ["-g"] if debug_info else ["-g0"]
    if sanitize == "address":
        flags = ["-fsanitize=address,undefined", "-fno-sanitize=vptr", "-fno-omit-frame-pointer"]
        compile_args += flags
        link_args += flags
    elif sanitize == "thread":
        compile_args += ["-fsanitize=thread"]
        link_args += ["-fsanitize=thread"]
    link_args += ["-pthread"]

# Cython's directives for the binding (the cross build cythonizes with these too).
CYTHON_DIRECTIVES = {
    "language_level": "3",
    "boundscheck": debug,
    "wraparound": False,
    "embedsignature": True,
    # Argument Clinic style: CPython reads a class's signature from it (inspect.signature on cdef classes).
    "embedsignature.format": "clinic",
}

if __name__ == "__main__":
    extension = Extension(
        "mapioffline._core",
        sources=SOURCES,
        include_dirs=INCLUDE_DIRS,
        language="c++",
        define_macros=macros,
        extra_compile_args=compile_args,
        extra_link_args=link_args,
        libraries=libraries,
    )
    setup(ext_modules=cythonize([extension], compiler_directives=CYTHON_DIRECTIVES))
