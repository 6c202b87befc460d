"""Drops the `name` custom section (function names, for debugging) from a .wasm file, in place.

    python3 scripts/strip_wasm_names.py www/pkg/wslens_wasm_bg.wasm

The code and every other section are copied unchanged; browsers only use `name` for stack
traces. (`strip = true` in the Cargo profile would also drop `target_features`, which
wasm-bindgen needs.)
"""
import sys


def leb128(data, i):
    value = shift = 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i


def strip(data):
    assert data[:4] == b"\0asm", "not a wasm module"
    out = bytearray(data[:8])
    i = 8
    while i < len(data):
        start = i
        section = data[i]
        size, body = leb128(data, i + 1)
        end = body + size
        if section == 0:
            name_len, name_at = leb128(data, body)
            if data[name_at:name_at + name_len] == b"name":
                i = end
                continue
        out += data[start:end]
        i = end
    return bytes(out)


if __name__ == "__main__":
    for path in sys.argv[1:]:
        with open(path, "rb") as f:
            data = f.read()
        stripped = strip(data)
        with open(path, "wb") as f:
            f.write(stripped)
        print(f"    {path}: {len(data)} -> {len(stripped)} bytes (name section dropped)")
