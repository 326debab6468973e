#!/usr/bin/env python3
"""Heap allocations of the SFU core's steady state, by allocation site.

Run the alloc bench under valgrind's DHAT twice, with two lengths of the
measured spans; the joins and the warm-up are the same in both, so what
differs per site is what the steady state allocates there
(docs/performance.md, "Reproduce"):

    valgrind --tool=dhat --num-callers=40 --dhat-out-file=short.json \\
        target/release/deps/alloc-<hash> 10 2 10
    valgrind --tool=dhat --num-callers=40 --dhat-out-file=long.json \\
        target/release/deps/alloc-<hash> 10 2 20
    bench/alloc-sites.py short.json long.json

Only stacks through the core's calls count (`--within`, default
`SfuCore::handle_`), as in the bench. Each site is named by its innermost
frames in str0m or funkraum (`--frames`, default 3).
"""
import argparse
import json
import re
from collections import defaultdict

OURS = re.compile(r"str0m|funkraum")
# With line tables (CARGO_PROFILE_BENCH_DEBUG=line-tables-only) frames of
# Rust's own library and of valgrind's preload are named by their path.
STD_INLINED = re.compile(
    r"(alloc|alloc_impl\w*|allocate|finish_grow|grow_\w+|\w*reserve\w*|with_capacity\w*|"
    r"try_allocate_in|to_vec\w*|clone<|<alloc::|spec_\w+|extend\w*|push\w*|append_elements|"
    r"write_str|write_fmt|fmt|core::fmt::write|format\w*|map_or_else|from_iter|collect|"
    r"\{closure#0\}|UnknownInlinedFun|new_in|new<|insert|<core::|<std::)[<( ]"
)
STD = re.compile(r"\((library/|/rustc/|in /usr/libexec/valgrind)")
# Frames of the allocator and of std's collections growing, named by what
# called them instead.
ALLOCATOR = re.compile(
    r"(malloc|calloc|realloc|__rust_|<?alloc::|<?stats_alloc|std::alloc|"
    r"core::ptr::|<?core::iter::|<?core::slice::)"
)


def frame_name(text):
    # "0x1234: str0m::x::y (src/x.rs:12:5)" -> "str0m::x::y (x.rs:12)"
    m = re.match(r"0x[0-9A-Fa-f]+: (.*?)(?: \((.*?)\))?$", text)
    if not m:
        return text
    name = re.sub(r"::h[0-9a-f]{16}$", "", m.group(1))
    where = m.group(2) or ""
    where = re.sub(r"^.*/(src/)", r"\1", where)
    where = re.sub(r"^.*/([^/]+-[0-9][^/]*/)", r"\1", where)
    where = re.sub(r":(\d+):\d+$", r":\1", where)
    return f"{name} ({where})" if where else name


def sites(path, within, frames, everywhere):
    with open(path) as f:
        dhat = json.load(f)
    table = dhat["ftbl"]
    blocks = defaultdict(int)
    for pp in dhat["pps"]:
        stack = [table[i] for i in pp["fs"]]
        if not any(within in s for s in stack):
            continue
        frames_ = [s for s in stack[1:] if not STD.search(s)]  # [0] is DHAT's root
        names = [frame_name(s) for s in frames_]
        names = [n for n in names if not ALLOCATOR.match(n)]
        # Inlined frames of std carry no path: drop the innermost run of
        # them (the collection growing, the formatting) to name the caller.
        while names and STD_INLINED.match(names[0]):
            names.pop(0)
        ours = names if everywhere else [n for n in names if OURS.search(n)]
        key = " <- ".join(ours[:frames]) if ours else "(no str0m/funkraum frame)"
        blocks[key] += pp["tbk"]
    return blocks


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("short")
    ap.add_argument("long")
    ap.add_argument("--within", default="SfuCore::handle_")
    ap.add_argument("--frames", type=int, default=3)
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--everywhere", action="store_true",
                    help="name sites by frames of any crate (inlined callees too)")
    a = ap.parse_args()
    short = sites(a.short, a.within, a.frames, a.everywhere)
    long = sites(a.long, a.within, a.frames, a.everywhere)
    diff = {k: long.get(k, 0) - short.get(k, 0) for k in set(short) | set(long)}
    total = sum(diff.values())
    print(f"allocations in the extra measured time: {total} "
          f"(whole runs: {sum(short.values())} and {sum(long.values())})")
    for key, n in sorted(diff.items(), key=lambda kv: -abs(kv[1]))[: a.top]:
        if n:
            print(f"{n:8d}  {key}")


if __name__ == "__main__":
    main()
