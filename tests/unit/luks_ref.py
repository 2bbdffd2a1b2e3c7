#!/usr/bin/env python3
"""Reference sector en/decryption for test_luks, written from dm-crypt's
IV definitions (plain, plain64, essiv:sha256) on python3-cryptography:
luks_ref.py enc|dec CIPHER KEYHEX SECTOR_SIZE FIRST_IV < in > out; IVs
count 512-byte units whatever the sector size, as cryptsetup sets LUKS2 up
(its iv_large_sectors is for plain and BITLK mappings only)."""
import hashlib
import sys

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def iv_for(ivmode, key, n):
    if ivmode == "plain":
        return (n & 0xffffffff).to_bytes(16, "little")
    raw = n.to_bytes(8, "little") + bytes(8)
    if ivmode == "plain64":
        return raw
    salt = hashlib.sha256(key).digest()
    e = Cipher(algorithms.AES(salt), modes.ECB()).encryptor()
    return e.update(raw) + e.finalize()


def main():
    op, spec, keyhex, ss, first = sys.argv[1:6]
    key, ss, n = bytes.fromhex(keyhex), int(ss), int(first)
    _, mode, ivmode = spec.split("-", 2)
    ivmode = ivmode.split(":")[0]
    data, out = sys.stdin.buffer.read(), bytearray()
    for off in range(0, len(data), ss):
        iv = iv_for(ivmode, key, n)
        m = modes.XTS(iv) if mode == "xts" else modes.CBC(iv)
        c = Cipher(algorithms.AES(key), m)
        x = c.encryptor() if op == "enc" else c.decryptor()
        out += x.update(data[off:off + ss]) + x.finalize()
        n += ss // 512
    sys.stdout.buffer.write(out)


main()
