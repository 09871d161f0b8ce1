#!/usr/bin/env python3
"""Build do-nothing stand-ins for the CUDA libraries a PyPI torch wheel links to.

The only torch 2.x wheels on PyPI for Linux x86_64 are CUDA builds: their shared
libraries (libtorch_cuda.so, libtorch_cpu.so via kineto, ...) carry DT_NEEDED
entries for libcudart, libcublas, libcudnn, libnccl, ... which pip normally
satisfies with ~2.5 GB of nvidia-* wheels. The CPU benchmark never touches a GPU,
so those libraries only have to *load*: this script creates, for every CUDA
soname torch needs, a tiny shared library that exports the symbols (with the
symbol versions) torch references from it. Every stub function returns an error
code (100 = cudaErrorNoDevice for the CUDA runtime, so torch sees "no GPU";
string getters return a static message).

The stubs are written into site-packages/nvidia/cu13/lib (for torch 2.15), a
directory on the RPATH of every torch library, so they win over any system CUDA install and the
result behaves the same on every machine. A manifest lists the files written so
setup_venv.sh can remove them again before a full (real CUDA) install.

Usage: cuda_stubs.py TORCH_PACKAGE_DIR   (e.g. .venv/lib/python3.11/site-packages/torch)
Needs gcc, nm and readelf (binutils).
"""
import glob
import os
import re
import subprocess
import sys
import tempfile

# DT_NEEDED sonames treated as CUDA libraries (to be stubbed).
CUDA_SONAME = re.compile(r"^lib(cu|nv|nccl)[A-Za-z0-9_]*\.so(\.\d+)*$")
# Unversioned undefined symbols that come from CUDA libraries, and where they go.
UNVERSIONED_OWNER = [
    (re.compile(r"^cusparseLt"), "libcusparseLt.so"),
    (re.compile(r"^cuFile"), "libcufile.so"),
    (re.compile(r"^nccl"), "libnccl.so"),
    (re.compile(r"^nvshmem"), "libnvshmem_host.so"),
    (re.compile(r"^nvrtc"), "libnvrtc.so"),
    (re.compile(r"^cu[A-Z]"), "libcuda.so"),  # driver API (cuModuleLoad, ...)
]
STRING_GETTER = re.compile(r"(ErrorString|ErrorName|StatusString|StatusName|GetString)$")
MANIFEST = "TORCH_CUDA_STUBS_MANIFEST"


def run(*cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def needed(lib):
    return re.findall(r"\(NEEDED\)\s+Shared library: \[(.*?)\]", run("readelf", "-d", lib))


def version_needs(lib):
    """Map version name -> file (soname) from the .gnu.version_r section."""
    out, cur = {}, None
    for line in run("readelf", "-V", "-W", lib).splitlines():
        m = re.search(r"File: (\S+)", line)
        if m:
            cur = m.group(1)
            continue
        m = re.search(r"Name: (\S+)", line)
        if m and cur:
            out[m.group(1)] = cur
    return out


def stub_dir(torch_dir):
    """A site-packages/nvidia/.../lib directory on libtorch_cpu.so's RPATH (the last
    one: nvidia/cu13/lib for torch 2.15); the loader searches it for every soname."""
    lib_dir = os.path.join(torch_dir, "lib")
    dyn = run("readelf", "-d", os.path.join(lib_dir, "libtorch_cpu.so"))
    m = re.search(r"\((?:RPATH|RUNPATH)\)\s+Library r(?:un)?path: \[(.*?)\]", dyn)
    dirs = [d.replace("$ORIGIN", lib_dir) for d in (m.group(1).split(":") if m else [])]
    dirs = [os.path.normpath(d) for d in dirs if "/nvidia/" in d]
    return dirs[-1] if dirs else os.path.join(os.path.dirname(torch_dir), "nvidia", "cu13", "lib")


def main():
    torch_dir = os.path.abspath(sys.argv[1])
    libs = sorted(glob.glob(os.path.join(torch_dir, "lib", "*.so")) +
                  glob.glob(os.path.join(torch_dir, "_C*.so")))
    own = {os.path.basename(p) for p in libs}

    stub_sonames, ver_owner, undefined, defined = set(), {}, set(), set()
    for lib in libs:
        stub_sonames |= {s for s in needed(lib) if CUDA_SONAME.match(s) and s not in own}
        ver_owner.update(version_needs(lib))
        for line in run("nm", "-D", "--undefined-only", "--with-symbol-versions", lib).splitlines():
            f = line.split()
            if len(f) == 2 and f[0] == "U":  # skip weak ('w') references
                undefined.add(f[1])
        for line in run("nm", "-D", "--defined-only", lib).splitlines():
            f = line.split()
            if len(f) == 3:
                defined.add(f[2].split("@")[0])

    # symbols[soname] = {version or None: set(names)}
    symbols = {s: {} for s in stub_sonames}
    by_prefix = {re.sub(r"\.so.*", ".so", s): s for s in stub_sonames}
    for sym in undefined:
        name, _, ver = sym.partition("@")   # nm prints name@VERSION
        ver = ver.lstrip("@") or None
        if name in defined:
            continue
        owner = None
        if ver is not None:
            owner = ver_owner.get(ver)
        else:
            for pat, base in UNVERSIONED_OWNER:
                if pat.match(name):
                    owner = by_prefix.get(base)
                    break
        if owner in symbols:
            symbols[owner].setdefault(ver, set()).add(name)

    out_dir = stub_dir(torch_dir)
    os.makedirs(out_dir, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory() as tmp:
        for soname in sorted(symbols):
            ret = "100" if soname.startswith("libcudart") else "999"
            src = ['static const char msg[] = "CUDA unavailable (CPU-only torch, stub library)";']
            script = []
            groups = sorted(symbols[soname].items(), key=lambda kv: str(kv[0]))
            for k, (ver, names) in enumerate(groups):
                for j, n in enumerate(sorted(names)):
                    # C name s<k>_<j>, exported under the real (possibly mangled) name.
                    fn = f"s{k}_{j}"
                    rtype, value = ("const char*", "msg") if STRING_GETTER.search(n) else ("long", ret)
                    src.append(f'{rtype} {fn}(void) __asm__("{n}");')
                    src.append(f"{rtype} {fn}(void) {{ return {value}; }}")
                if ver is not None:
                    script.append(f"{ver} {{ global: {'; '.join(sorted(names))}; }};")
            c_path = os.path.join(tmp, "stub.c")
            with open(c_path, "w") as f:
                f.write("\n".join(src) + "\n")
            cmd = ["gcc", "-shared", "-fPIC", "-O0", "-o", os.path.join(out_dir, soname),
                   f"-Wl,-soname,{soname}", c_path]
            if script:
                v_path = os.path.join(tmp, "stub.map")
                with open(v_path, "w") as f:
                    f.write("\n".join(script) + "\n")
                cmd.append(f"-Wl,--version-script={v_path}")
            subprocess.run(cmd, check=True)
            written.append(soname)
            n = sum(len(v) for v in symbols[soname].values())
            print(f"  stub {soname}: {n} symbols")
    with open(os.path.join(out_dir, MANIFEST), "w") as f:
        f.write("\n".join(written) + "\n")


if __name__ == "__main__":
    main()
