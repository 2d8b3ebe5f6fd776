#!/usr/bin/env python3
"""The built-in module parameters a kernel shows in sysfs, read from its
vmlinux: one line "MODULE/parameters/NAME MODE" (MODE in octal) for each
entry of the __param section whose permissions are not 0, sorted.  What
param_sysfs_builtin() must create (kernel-patches/0011 changed how), to
compare with the booted kernel's /sys/module.
  builtin-params.py VMLINUX"""
import struct
import sys

# struct kernel_param on x86-64: name, mod, ops (pointers), u16 perm,
# s8 level, u8 flags, 4 bytes of padding, the union (a pointer).
PARAM_SIZE, PERM_OFFSET = 40, 24


def main(path):
    with open(path, "rb") as f:
        elf = f.read()
    if elf[:4] != b"\x7fELF" or elf[4] != 2 or elf[5] != 1:
        sys.exit(f"{path}: not a little-endian ELF64 file")
    shoff, = struct.unpack_from("<Q", elf, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", elf, 0x3A)
    sections = []
    for i in range(shnum):
        name, stype, _, addr, off, size = struct.unpack_from("<IIQQQQ", elf, shoff + i * shentsize)
        sections.append((name, stype, addr, off, size))
    strtab = sections[shstrndx][3]

    def sname(s):
        return elf[strtab + s[0]:elf.index(b"\0", strtab + s[0])].decode()

    def cstring(addr):
        # SHT_NOBITS (8) sections have no bytes in the file.
        for s in sections:
            if s[1] != 8 and s[2] <= addr < s[2] + s[4]:
                o = s[3] + addr - s[2]
                return elf[o:elf.index(b"\0", o)].decode()
        sys.exit(f"{path}: a parameter name at {addr:#x} is in no section")

    param = [s for s in sections if sname(s) == "__param"]
    if len(param) != 1 or param[0][4] % PARAM_SIZE:
        sys.exit(f"{path}: no __param section of {PARAM_SIZE}-byte entries")
    _, _, _, off, size = param[0]
    out = []
    for o in range(off, off + size, PARAM_SIZE):
        name_ptr, = struct.unpack_from("<Q", elf, o)
        perm, = struct.unpack_from("<H", elf, o + PERM_OFFSET)
        if not perm:
            continue
        name = cstring(name_ptr)
        mod, dot, pname = name.partition(".")
        if not dot:
            mod, pname = "kernel", name  # core_param()
        out.append(f"{mod}/parameters/{pname} {perm:o}")
    print("\n".join(sorted(out)))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
