#!/usr/bin/env python3
"""Import cycles between the files of a Rust source tree.

Reads every `crate::a::b`, `super::x` and `use crate::a::{...}` reference of each file (test
modules left out), resolves it to the file that defines the module, and prints the strongly
connected components of that graph (Tarjan) with more than one file. A parent `mod.rs`
re-exporting its children does not count (`pub use child::...` is not a crate/super path).

    python3 scripts/module_cycles.py src        # the library
    python3 scripts/module_cycles.py cli/src    # the CLI crate
"""
import os, re, sys
root=sys.argv[1] if len(sys.argv)>1 else 'src'
mods={}  # module path tuple -> file
for dp, dn, fn in os.walk(root):
    if 'bin' in dp.split(os.sep): continue
    for f in fn:
        if not f.endswith('.rs'): continue
        p=os.path.join(dp,f); rel=os.path.relpath(p,root)[:-3].split(os.sep)
        if rel==['lib']: mp=()
        elif rel[-1]=='mod': mp=tuple(rel[:-1])
        else: mp=tuple(rel)
        mods[mp]=p
def resolve(path):
    # longest prefix that is a module
    for k in range(len(path),0,-1):
        if tuple(path[:k]) in mods: return tuple(path[:k])
    return None
edges={m:set() for m in mods}
for mp,p in mods.items():
    src=open(p).read()
    # strip tests module
    ti=src.find('#[cfg(test)]\nmod tests')
    if ti>=0: src=src[:ti]
    src=re.sub(r'//.*','',src)
    # expand use groups roughly: capture crate::a::b and super::a
    for m in re.finditer(r'\b(crate|super|self)((?:::\w+)+)', src):
        kind=m.group(1); parts=m.group(2).strip(':').split('::')
        if kind=='crate': base=[]
        elif kind=='super':
            base=list(mp[:-1]) if not p.endswith('mod.rs') else list(mp[:-1])
            # super of a file module a/b.rs (mp=(a,b)) is (a); of a/mod.rs (mp=(a,)) is ()
        else: base=list(mp)
        full=base+parts
        r=resolve(full)
        if r is None or r==mp: continue
        # ignore references to ancestors (parent mod re-exports) only if exact ancestor? keep
        edges[mp].add(r)
    # use groups: crate::a::{b, c::d}
    for m in re.finditer(r'use (crate|super)((?:::\w+)*)::\{([^;]*)\};', src, re.S):
        kind=m.group(1); pre=m.group(2).strip(':').split('::') if m.group(2) else []
        base=[] if kind=='crate' else list(mp[:-1])
        for item in re.split(r',', re.sub(r'\{[^}]*\}','',m.group(3))):
            item=item.strip().split(' as ')[0]
            if not item or item=='self': continue
            full=base+[x for x in pre if x]+item.split('::')
            r=resolve(full)
            if r and r!=mp: edges[mp].add(r)
# Tarjan SCC
sys.setrecursionlimit(10000)
idx={}; low={}; st=[]; on=set(); sccs=[]; c=[0]
def sc(v):
    idx[v]=low[v]=c[0]; c[0]+=1; st.append(v); on.add(v)
    for w in edges[v]:
        if w not in idx: sc(w); low[v]=min(low[v],low[w])
        elif w in on: low[v]=min(low[v],idx[w])
    if low[v]==idx[v]:
        comp=[]
        while True:
            w=st.pop(); on.discard(w); comp.append(w)
            if w==v: break
        sccs.append(comp)
for v in edges:
    if v not in idx: sc(v)
# Ignore cycles that only go through a parent mod.rs re-export (child -> parent edge)
bad=[s for s in sccs if len(s)>1]
for s in bad:
    print("CYCLE:", sorted('::'.join(x) or 'lib' for x in s))
    for a in s:
        for b in edges[a]:
            if b in s: print("   ", '::'.join(a) or 'lib', '->', '::'.join(b) or 'lib')
print(len(bad), "cycles")
