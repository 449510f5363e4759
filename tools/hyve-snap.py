#!/usr/bin/python3
"""Reads a hyve snapshot without hyve: proof that the format is documented
well enough (docs/snapshot-format.md) and readable with standard tools.

    hyve-snap.py PATH            print the JSON of `hyvectl snapshot inspect --json`
    hyve-snap.py --verify PATH   also check the RAM file PATH.mem against its digests

Needs Debian's python3, python3-cbor2 and python3-xxhash.  Exit status 0, or
1 with one line naming the error."""

import io
import json
import os
import struct
import sys

import cbor2
import xxhash

MAGIC = b"HYVESNAP"
FORMAT_VERSION = 1
BYTE_ORDER_MARK = 0x01020304
HEADER_SIZE = 32
RECORD_HEADER_SIZE = 24
RECORD_MAX = 16 << 20
STATE_MAX = 256 << 20
OPTIONAL = 1
KNOWN = {b"MACH": "machine", b"SECT": None, b"RAMM": "ram-map"}
TYPES = {1: "u8", 2: "u16", 3: "u32", 4: "u64", 5: "i8", 6: "i16", 7: "i32",
         8: "i64", 9: "bool", 10: "bytes", 11: "string", 12: "struct"}
INT_RANGE = {1: (0, 0xff), 2: (0, 0xffff), 3: (0, 0xffffffff), 4: (0, 2**64 - 1),
             5: (-2**7, 2**7 - 1), 6: (-2**15, 2**15 - 1), 7: (-2**31, 2**31 - 1),
             8: (-2**63, 2**63 - 1)}
TC_TYPE, TC_ARRAY, TC_OPTIONAL = 0x1f, 0x20, 0x40


class SnapError(Exception):
    pass


def checksum(data):
    return xxhash.xxh3_64(data).intdigest()


def type_name(raw):
    return "".join(chr(c) if 0x20 <= c < 0x7f else "?" for c in raw)


def element(tcode, value, path):
    t = tcode & TC_TYPE
    if t in INT_RANGE:
        lo, hi = INT_RANGE[t]
        if type(value) is not int or not lo <= value <= hi:
            raise SnapError(f"field '{path}': not a {TYPES[t]}")
        return value
    if t == 9 and type(value) is bool:
        return value
    if t == 10 and type(value) is bytes:
        return value.hex()
    if t == 11 and type(value) is str and "\0" not in value:
        return value
    if t == 12 and type(value) is dict:
        return fields(value, path + ".")
    raise SnapError(f"field '{path}': value does not match type {TYPES.get(t, t)}")


def fields(m, prefix=""):
    if type(m) is not dict or len(m) > 256:
        raise SnapError(f"fields '{prefix}': not a field map")
    out = {}
    for name, pair in m.items():
        path = prefix + str(name)
        if type(name) is not str or type(pair) is not list or len(pair) not in (2, 3) \
                or type(pair[0]) is not int or not 0 <= pair[0] <= 0x7f:
            raise SnapError(f"field '{path}': malformed")
        tcode = pair[0]
        t = tcode & TC_TYPE
        if t not in TYPES or len(pair) != (3 if t == 12 else 2):
            raise SnapError(f"field '{path}': unknown type code {tcode}")
        f = {"type": TYPES[t] + ("[]" if tcode & TC_ARRAY else "")}
        if tcode & TC_OPTIONAL:
            f["optional"] = True
        if t == 12:
            f["version"] = pair[1]
        value = pair[-1]
        if tcode & TC_ARRAY:
            if type(value) is not list:
                raise SnapError(f"field '{path}': not an array")
            f["value"] = [element(tcode, v, f"{path}[{i}]") for i, v in enumerate(value)]
        else:
            f["value"] = element(tcode, value, path)
        out[name] = f
    return out


def envelope(body, expect):
    fp = io.BytesIO(body)
    item = cbor2.CBORDecoder(fp).decode()
    if fp.tell() != len(body):
        raise SnapError("trailing bytes after the body")
    if type(item) is not list or len(item) != 4 or type(item[0]) is not str \
            or type(item[1]) is not int or type(item[2]) is not int:
        raise SnapError("body is not a [name, instance, version, fields] array")
    if expect and item[0] != expect:
        raise SnapError(f"body is named '{item[0]}', expected '{expect}'")
    return {"name": item[0], "instance": item[1], "version": item[2],
            "fields": fields(item[3])}


def read(path):
    data = open(path, "rb").read(STATE_MAX + 1)
    if len(data) > STATE_MAX:
        raise SnapError("state file exceeds the cap")
    if len(data) < HEADER_SIZE or data[:8] != MAGIC:
        raise SnapError("not a hyve snapshot (bad magic)")
    version, bom, flags, hsize, csum = struct.unpack_from("<IIIIQ", data, 8)
    if csum != checksum(data[:24]):
        raise SnapError("header checksum mismatch")
    if bom != BYTE_ORDER_MARK or version == 0 or version > FORMAT_VERSION \
            or flags or hsize != HEADER_SIZE:
        raise SnapError(f"unsupported header (format version {version})")
    doc = {"format": "hyve-snapshot", "format_version": version, "records": []}
    off, index = HEADER_SIZE, 0
    while True:
        if len(data) - off < RECORD_HEADER_SIZE:
            raise SnapError(f"truncated at record {index} (no END record)")
        rtype = data[off:off + 4]
        name = type_name(rtype)
        rflags, length, csum = struct.unpack_from("<IQQ", data, off + 4)
        padded = (length + 7) & ~7
        body_at = off + RECORD_HEADER_SIZE
        if length > RECORD_MAX or padded > len(data) - body_at:
            raise SnapError(f"record {index} '{name}': bad length {length}")
        body = data[body_at:body_at + length]
        h = xxhash.xxh3_64()
        h.update(data[off:off + 16])
        h.update(body)
        if h.intdigest() != csum:
            raise SnapError(f"record {index} '{name}': checksum mismatch")
        if rflags & ~OPTIONAL or any(data[body_at + length:body_at + padded]):
            raise SnapError(f"record {index} '{name}': reserved flags or padding set")
        if (index == 0) != (rtype == b"MACH"):
            raise SnapError(f"record {index} '{name}': MACH must be first and only first")
        rec = {"index": index, "type": name, "optional": bool(rflags & OPTIONAL),
               "length": length, "checksum": f"{csum:016x}"}
        off = body_at + padded
        if rtype in KNOWN:
            try:
                rec["body"] = envelope(body, KNOWN[rtype])
            except (cbor2.CBORDecodeError, ValueError) as e:
                raise SnapError(f"record {index} '{name}': bad CBOR: {e}")
            except SnapError as e:
                raise SnapError(f"record {index} '{name}': {e}")
        elif rtype == b"END ":
            if length or off != len(data):
                raise SnapError(f"record {index} 'END ': body or trailing data")
            rec["body"] = None
        elif rflags & OPTIONAL:
            rec["body"] = {"hex": body.hex()}
        else:
            raise SnapError(f"record {index} '{name}' is mandatory but unknown to this reader")
        doc["records"].append(rec)
        index += 1
        if rtype == b"END ":
            return doc


def verify_ram(doc, mem_path):
    maps = [r["body"]["fields"] for r in doc["records"] if r["type"] == "RAMM"]
    if not maps:
        raise SnapError("no RAM map")
    m = {k: v["value"] for k, v in maps[0].items()}
    chunk, digests = m["chunk_size"], m["digests"]
    if os.path.getsize(mem_path) != m["file_size"]:
        raise SnapError(f"RAM file {mem_path} has the wrong size")
    n = 0
    with open(mem_path, "rb") as f:
        for r in m["ranges"]:
            gpa, size, offset = (r[k]["value"] for k in ("gpa", "size", "offset"))
            for c in range(0, size, chunk):
                f.seek(offset + c)
                if n >= len(digests) or checksum(f.read(min(chunk, size - c))) != digests[n]:
                    raise SnapError(f"RAM file: chunk {n} (guest {gpa + c:#x}) does not match its digest")
                n += 1
    if n != len(digests):
        raise SnapError("RAM map digest count mismatch")


def main(argv):
    args = argv[1:]
    verify = "--verify" in args
    args = [a for a in args if a != "--verify"]
    if len(args) != 1:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    try:
        doc = read(args[0])
        if verify:
            verify_ram(doc, args[0] + ".mem")
    except (SnapError, OSError) as e:
        print(f"hyve-snap.py: {args[0]}: {e}", file=sys.stderr)
        return 1
    sys.stdout.write(json.dumps(doc, separators=(",", ":"), ensure_ascii=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
