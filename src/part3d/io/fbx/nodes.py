"""FBX byte layer: the node tree of binary and ASCII FBX files, read and written.

A file is a list of top-level nodes; a node has a name, a list of typed properties and
children. Properties are Python scalars (``int``, ``float``, ``bool``), ``str``, ``bytes`` (raw
data) or one-dimensional numpy arrays. Nothing here knows what a mesh is.

Every length, count, offset and nesting depth read from a file is checked before it is used,
and compressed arrays are inflated with a cap taken from their declared length, so a hostile
file ends in a :class:`~part3d.errors.CorruptFileError` naming the problem and its offset or
line, never in a crash, a hang or an exhausted memory.
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass, field

import numpy as np

from part3d.errors import CorruptFileError, UnsupportedFormatError, UnsupportedVersionError

BINARY_MAGIC = b"Kaydara FBX Binary  \x00\x1a"
HEADER_SIZE = 27
#: Deepest node nesting accepted; real files nest about eight levels.
MAX_DEPTH = 32
#: Most nodes plus scalar properties in one file (arrays count once). Real files hold far
#: fewer; a hostile file of millions of tiny records would otherwise exhaust memory.
MAX_VALUES = 2_000_000
#: Largest array accepted after inflation (bytes), and most for all arrays of a file together;
#: 1.5 M faces need a few hundred MB in all.
MAX_ARRAY_BYTES = 1 << 30
MAX_TOTAL_ARRAY_BYTES = 3 << 30
#: Deflate cannot expand data more than about 1032:1; a larger declared length is a lie.
MAX_DEFLATE_RATIO = 1032
#: Versions read; older files use a different scene layout.
MIN_VERSION, MAX_VERSION = 6100, 9999

Value = int | float | bool | str | bytes | np.ndarray


class FbxNode:
    """One node: ``name``, ``props`` (a list of values) and ``children`` (a list of nodes)."""

    __slots__ = ("name", "props", "children")

    def __init__(
        self, name: str, props: list[Value] | None = None, children: list[FbxNode] | None = None
    ) -> None:
        self.name = name
        self.props = props if props is not None else []
        self.children = children if children is not None else []

    def find(self, name: str) -> FbxNode | None:
        """The first child called ``name``, or None."""
        for child in self.children:
            if child.name == name:
                return child
        return None

    def find_all(self, name: str) -> list[FbxNode]:
        return [child for child in self.children if child.name == name]

    def value(self, index: int = 0, default: Value | None = None) -> Value | None:
        return self.props[index] if len(self.props) > index else default

    def __repr__(self) -> str:
        return f"FbxNode({self.name!r}, {len(self.props)} props, {len(self.children)} children)"


@dataclass
class FbxDocument:
    """A parsed file: its version, encoding and top-level nodes."""

    version: int
    binary: bool
    big_endian: bool = False
    roots: list[FbxNode] = field(default_factory=list)

    def find(self, name: str) -> FbxNode | None:
        for node in self.roots:
            if node.name == name:
                return node
        return None


def parse(data: bytes, source: str = "<bytes>", max_array_bytes: int | None = None) -> FbxDocument:
    """Parse a whole FBX file held in memory, binary or ASCII. ``max_array_bytes`` lowers the
    total budget of inflated arrays (default MAX_TOTAL_ARRAY_BYTES); declared sizes are
    checked against it before anything is inflated."""
    if len(data) == 0:
        raise CorruptFileError(f"{source}: the file is empty")
    if data.startswith(BINARY_MAGIC):
        return _BinaryReader(data, source, max_array_bytes).read()
    if data[:18] == BINARY_MAGIC[:18] or data.startswith(b"Kaydara"):
        raise CorruptFileError(f"{source}: damaged binary FBX header (magic bytes do not match)")
    return _parse_ascii(data, source)


# --------------------------------------------------------------------------- binary reading

_ARRAY_TYPES = {"f": "f4", "d": "f8", "l": "i8", "i": "i4", "b": "u1", "c": "u1"}
_SCALAR_TYPES = {
    "Y": ("h", 2),
    "C": ("?", 1),
    # 1-byte values: Maya 2016+ writes them for audio clips.
    "Z": ("b", 1),
    "B": ("B", 1),
    "I": ("i", 4),
    "F": ("f", 4),
    "D": ("d", 8),
    "L": ("q", 8),
}


def _show(name: str) -> str:
    """A node name for a message: printable, at most 40 characters (damaged files put
    arbitrary bytes where names go)."""
    text = "".join(c if c.isprintable() else "?" for c in name[:40])
    return repr(text + ("..." if len(name) > 40 else ""))


class _BinaryReader:
    def __init__(self, data: bytes, source: str, max_array_bytes: int | None = None) -> None:
        self.budget = MAX_TOTAL_ARRAY_BYTES if max_array_bytes is None else max_array_bytes
        self.data = data
        self.source = source
        self.size = len(data)
        if self.size < HEADER_SIZE:
            raise CorruptFileError(f"{source}: truncated binary FBX header ({self.size} bytes)")
        self.big_endian = data[22] != 0
        e = ">" if self.big_endian else "<"
        self.endian = e
        (self.version,) = struct.unpack_from(e + "I", data, 23)
        if not MIN_VERSION <= self.version <= MAX_VERSION:
            raise UnsupportedVersionError(
                f"{source}: FBX version {self.version} is not supported "
                f"(part3d reads {MIN_VERSION} to {MAX_VERSION}; re-export as FBX 7.4 or later)"
            )
        wide = self.version >= 7500
        self.header = struct.Struct(e + ("QQQB" if wide else "IIIB"))
        self.array_header = struct.Struct(e + "III")
        self.u32 = struct.Struct(e + "I")
        self.scalars = {k: struct.Struct(e + f) for k, (f, _) in _SCALAR_TYPES.items()}
        self.scalar_sizes = {k: n for k, (_, n) in _SCALAR_TYPES.items()}
        self.values = 0
        self.array_bytes = 0
        self.view = memoryview(data)

    def read(self) -> FbxDocument:
        roots, _ = self._read_list(HEADER_SIZE, self.size, 0, top=True)
        return FbxDocument(self.version, True, self.big_endian, roots)

    def _fail(self, what: str, offset: int) -> CorruptFileError:
        return CorruptFileError(f"{self.source}: {what} (byte offset {offset})")

    def _read_list(self, pos: int, end: int, depth: int, top: bool = False) -> tuple[list, int]:
        """Read sibling nodes from ``pos`` until a null record or ``end``. Nodes may nest
        ``MAX_DEPTH`` levels deep (``depth`` 0 is the top level)."""
        nodes: list[FbxNode] = []
        hsize = self.header.size
        while True:
            if pos + hsize > end:
                if top and pos == self.size and nodes:
                    # Some writers end the file after the last node without a null record.
                    return nodes, pos
                raise self._fail("truncated node record", pos)
            end_offset, num_props, props_len, name_len = self.header.unpack_from(self.data, pos)
            if end_offset == 0 and name_len == 0:
                return nodes, pos + hsize
            if depth >= MAX_DEPTH:
                raise self._fail(f"nodes nested deeper than {MAX_DEPTH} levels", pos)
            node, pos = self._read_node(pos, end, depth, end_offset, num_props, props_len, name_len)
            nodes.append(node)

    def _read_node(self, pos, end, depth, end_offset, num_props, props_len, name_len):
        name_start = pos + self.header.size
        props_start = name_start + name_len
        props_end = props_start + props_len
        if props_start > self.size:
            raise self._fail("the file is truncated inside a node name", pos)
        name = self.data[name_start:props_start].decode("utf-8", "surrogateescape")
        if end_offset == 0:
            # Some Maya exports leave EndOffset zero on leaf nodes: the node ends with its
            # properties and has no children.
            end_offset = props_end
        if end_offset > self.size:
            raise self._fail(
                f"the file is truncated or damaged: node {_show(name)} ends at byte {end_offset} "
                f"but the file has {self.size} bytes",
                pos,
            )
        if end_offset > end:
            raise self._fail(f"node {_show(name)} ends past the end of its parent node", pos)
        if end_offset <= pos or props_start > end_offset:
            raise self._fail(
                f"node {_show(name)}: end offset {end_offset} lies inside the node's own header",
                pos,
            )
        if props_end > end_offset:
            raise self._fail(f"node {_show(name)}: properties run past the node's end", pos)
        if num_props > props_len:
            raise self._fail(
                f"node {_show(name)}: {num_props} properties cannot fit in {props_len} bytes", pos
            )
        self.values += num_props + 1
        if self.values > MAX_VALUES:
            raise self._fail(f"more than {MAX_VALUES} nodes and properties", pos)
        props = []
        p = props_start
        for _ in range(num_props):
            value, p = self._read_prop(p, props_end, name)
            props.append(value)
        if p != props_end:
            raise self._fail(
                f"node {_show(name)}: property list length does not match its contents", p
            )
        children: list[FbxNode] = []
        if end_offset > props_end:
            children, after = self._read_list(props_end, end_offset, depth + 1)
            if after != end_offset:
                raise self._fail(
                    f"node {_show(name)}: children do not end at the node's end offset", after
                )
        return FbxNode(name, props, children), end_offset

    def _read_prop(self, p: int, end: int, node: str):
        if p >= end:
            raise self._fail(f"node {_show(node)}: property list is truncated", p)
        code = chr(self.data[p])
        p += 1
        if code in self.scalars:
            n = self.scalar_sizes[code]
            if p + n > end:
                raise self._fail(f"node {_show(node)}: property is truncated", p)
            (value,) = self.scalars[code].unpack_from(self.data, p)
            return value, p + n
        if code in _ARRAY_TYPES:
            return self._read_array(p, end, node, code)
        if code in "SR":
            if p + 4 > end:
                raise self._fail(f"node {_show(node)}: string length is truncated", p)
            (n,) = self.u32.unpack_from(self.data, p)
            p += 4
            if p + n > end:
                raise self._fail(f"node {_show(node)}: string of {n} bytes runs past the node", p)
            raw = self.data[p : p + n]
            # surrogateescape keeps names that differ only in invalid bytes distinct.
            return (raw.decode("utf-8", "surrogateescape") if code == "S" else raw), p + n
        raise self._fail(f"node {_show(node)}: unknown property type {code!r}", p - 1)

    def _read_array(self, p: int, end: int, node: str, code: str):
        if p + 12 > end:
            raise self._fail(f"array {_show(node)}: header is truncated", p)
        count, encoding, comp_len = self.array_header.unpack_from(self.data, p)
        p += 12
        dtype = np.dtype(self.endian + _ARRAY_TYPES[code])
        nbytes = count * dtype.itemsize
        if p + comp_len > end:
            raise self._fail(
                f"array {_show(node)}: {comp_len} bytes of data run past the end of the node", p
            )
        payload = self.view[p : p + comp_len]
        if nbytes > MAX_ARRAY_BYTES:
            raise self._fail(f"array {_show(node)}: declared length {count} is too large", p)
        self.array_bytes += nbytes
        if self.array_bytes > self.budget:
            raise self._fail(f"arrays would take more than {self.budget} bytes in all", p)
        if encoding == 0:
            if comp_len != nbytes:
                raise self._fail(
                    f"array {_show(node)}: {count} values need {nbytes} bytes but {comp_len} "
                    "are stored",
                    p,
                )
            raw = payload
        elif encoding == 1:
            if nbytes > comp_len * MAX_DEFLATE_RATIO + 64:
                raise self._fail(
                    f"array {_show(node)}: declared length {count} is impossible for "
                    f"{comp_len} compressed bytes",
                    p,
                )
            raw = _inflate(
                payload, nbytes, lambda what: self._fail(f"array {_show(node)}: {what}", p)
            )
        else:
            raise self._fail(f"array {_show(node)}: unknown encoding {encoding}", p)
        arr = np.frombuffer(raw, dtype=dtype, count=count)
        if self.big_endian and dtype.itemsize > 1:
            arr = arr.astype(dtype.newbyteorder("="))
        if code == "b":
            arr = arr.astype(bool)
        return arr, p + comp_len


def _inflate(payload: bytes, nbytes: int, fail) -> bytes:
    """Inflate a zlib stream that must give exactly ``nbytes`` bytes; never more."""
    inflater = zlib.decompressobj()
    try:
        # max_length 0 would mean "no limit": always pass at least 1.
        raw = inflater.decompress(payload, max(nbytes, 1))
        # The stream must end (checksum included) right after the declared length.
        if (
            len(raw) == nbytes
            and not inflater.eof
            and (inflater.decompress(inflater.unconsumed_tail, 1) or not inflater.eof)
        ):
            raise fail("zlib stream is longer than the declared length")
    except zlib.error as exc:
        raise fail(f"corrupt zlib data ({exc})") from None
    if len(raw) != nbytes or not inflater.eof:
        raise fail(f"zlib stream inflates to {len(raw)} bytes, {nbytes} declared")
    return raw


# --------------------------------------------------------------------------- ASCII reading

_TOKEN = re.compile(
    rb"""
    (?P<ws>[ \t\r\n]+)
  | (?P<comment>;[^\n]*)
  | (?P<key>[A-Za-z_][A-Za-z0-9_|\-]*)[ \t]*:
  | (?P<string>"[^"\n]*")
  | (?P<number>[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?(?:\#[A-Za-z]+)?)
  | (?P<word>[A-Za-z_][A-Za-z0-9_.\-]*)
  | (?P<count>\*[0-9]+)
  | (?P<punct>[{},])
    """,
    re.VERBOSE,
)
# A long run of comma-separated numbers: parsed in one numpy call instead of token by token.
# Comments (';' to the end of the line) may stand between the values. The separators are
# possessive: a run of ';' or blanks can be matched one way only (no exponential backtracking).
_NUMBER_RUN = re.compile(
    rb"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"
    rb"(?:(?:[ \t\r\n]|;[^\n]*+)*+,(?:[ \t\r\n]|;[^\n]*+)*+"
    rb"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?){15,}"
)
_COMMENT = re.compile(rb";[^\n]*")
#: The spellings of infinities and NaNs that writers print (C runtimes, MSVC's '1.#INF').
_NON_FINITE = re.compile(
    rb"^([-+]?)(?:[0-9]*\.?[0-9]*#(?:inf|ind|qnan|snan|nan)[0-9]*|s?nan|qnan|inf|infty|infinity)$",
    re.I,
)
_ARRAY_OPEN = re.compile(rb"[ \t]*\*([0-9]+)[ \t\r\n]*\{[ \t\r\n]*(?:a[ \t]*:)?")
_VERSION_COMMENT = re.compile(rb"^[ \t]*;[ \t]*FBX[ \t]+([0-9]+)\.([0-9]+)\.([0-9]+)", re.M)
_VERSION_NODE = re.compile(rb"FBXVersion:[ \t]*([0-9]+)")
_FLOAT_MARK = re.compile(rb"[.eE#]")


def ascii_version(data: bytes) -> int | None:
    """The version an ASCII file states: its '; FBX x.y.z' comment, else FBXVersion."""
    head = data[:65536]
    m = _VERSION_COMMENT.search(head)
    if m:
        return int(m[1]) * 1000 + int(m[2]) * 100 + int(m[3])
    m = _VERSION_NODE.search(head)
    return int(m[1]) if m else None


def _parse_numbers(text: bytes) -> np.ndarray:
    """A comma-separated list of numbers as int64, or float64 when any has a fraction.

    Raises ValueError when an entry is not a number.
    """
    if b";" in text:
        text = _COMMENT.sub(b"", text)
    is_float = _FLOAT_MARK.search(text) is not None
    text = text.strip()
    if text.endswith(b","):  # a trailing comma before '}' is common in hand-edited files
        text = text[:-1]
    if not text:
        return np.zeros(0, dtype=np.float64 if is_float else np.int64)
    count = text.count(b",") + 1
    dtype = np.float64 if is_float else np.int64
    try:
        # numpy's text parser: whitespace around the commas is skipped.
        values = np.fromstring(text, dtype=dtype, sep=",")  # noqa: NPY201 - text mode is kept
        if len(values) == count:
            return values
    except ValueError:
        pass
    items = text.split(b",")
    try:
        return np.array(items, dtype=dtype)
    except (ValueError, OverflowError):
        pass
    try:
        return np.array(items, dtype=np.float64)
    except ValueError:
        pass
    out = np.empty(len(items))
    for i, item in enumerate(items):
        item = item.strip()
        m = _NON_FINITE.match(item)
        if m is not None:
            low = item.lower()
            value = float("inf") if b"inf" in low else float("nan")
            out[i] = -value if m[1] == b"-" else value
            continue
        try:
            out[i] = float(item)
        except ValueError:
            raise ValueError(f"non-numeric value {item[:20]!r} in an array") from None
    return out


def _parse_ascii(data: bytes, source: str) -> FbxDocument:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UnsupportedFormatError(f"{source}: UTF-16 text is not FBX (save the file as UTF-8)")
    head = data[:4096]
    if b"\x00" in head:
        raise UnsupportedFormatError(
            f"{source}: not an FBX file (binary data without the FBX magic)"
        )
    version = ascii_version(data)
    if version is None:
        raise UnsupportedFormatError(f"{source}: not an FBX file (no FBX header found)")
    if not MIN_VERSION <= version <= MAX_VERSION:
        raise UnsupportedVersionError(
            f"{source}: FBX version {version} is not supported "
            f"(part3d reads {MIN_VERSION} to {MAX_VERSION}; re-export as FBX 7.4 or later)"
        )

    def fail(what: str, at: int) -> CorruptFileError:
        line = data.count(b"\n", 0, at) + 1
        return CorruptFileError(f"{source}: {what} (line {line})")

    roots: list[FbxNode] = []
    stack: list[tuple[FbxNode | None, list[FbxNode]]] = [(None, roots)]
    current: FbxNode | None = None
    pos, size = 0, len(data)
    match = _TOKEN.match
    values = 0
    while pos < size:
        m = match(data, pos)
        if m is None:
            raise fail(f"unexpected character {data[pos : pos + 1]!r}", pos)
        kind = m.lastgroup
        end = m.end()
        if kind == "ws" or kind == "comment":
            pos = end
            continue
        values += 1
        if values > MAX_VALUES:
            raise fail(f"more than {MAX_VALUES} nodes and properties", pos)
        if kind == "key":
            if len(stack) > MAX_DEPTH:
                raise fail(f"nodes nested deeper than {MAX_DEPTH} levels", pos)
            current = FbxNode(m["key"].decode("ascii"))
            stack[-1][1].append(current)
            pos = end
            # Fast paths for big arrays: '*N { a: ... }' (7.x) and long number runs (6.1).
            arr = _ARRAY_OPEN.match(data, pos)
            if arr is not None:
                close = data.find(b"}", arr.end())
                if close < 0:
                    raise fail(f"array {current.name!r} is not closed", pos)
                try:
                    current.props.append(_parse_numbers(data[arr.end() : close]))
                except ValueError as exc:
                    raise fail(f"array {current.name!r}: {exc}", pos) from None
                pos = close + 1
                current = None
                continue
            skip = pos
            while skip < size and data[skip] in b" \t":
                skip += 1
            run = _NUMBER_RUN.match(data, skip)
            if run is not None:
                try:
                    current.props.append(_parse_numbers(run[0]))
                except ValueError as exc:
                    raise fail(f"array {current.name!r}: {exc}", pos) from None
                pos = run.end()
            continue
        if kind == "punct":
            ch = m["punct"]
            if ch == b",":
                pass
            elif ch == b"{":
                if current is None:
                    raise fail("'{' without a node name", pos)
                stack.append((current, current.children))
                current = None
            else:
                if len(stack) == 1:
                    raise fail("unexpected '}' (more closing braces than opening ones)", pos)
                stack.pop()
                current = None
            pos = end
            continue
        if kind == "count":
            pos = end
            continue
        if current is None:
            raise fail("value without a node name", pos)
        if kind == "string":
            text = m["string"][1:-1].decode("utf-8", "surrogateescape")
            current.props.append(text.replace("&quot;", '"') if "&" in text else text)
        elif kind == "number":
            tok = m["number"]
            if b"#" in tok:
                # MSVC's printf spellings: 1.#INF, -1.#IND, 1.#QNAN
                low = tok.lower()
                value = float("nan") if (b"ind" in low or b"nan" in low) else float("inf")
                current.props.append(-value if tok.startswith(b"-") else value)
            elif _FLOAT_MARK.search(tok):
                current.props.append(float(tok))
            else:
                current.props.append(int(tok))
        else:  # bare word, e.g. 'Shading: Y'
            current.props.append(m["word"].decode("ascii"))
        pos = end
    if len(stack) > 1:
        open_name = stack[-1][0].name if stack[-1][0] is not None else "?"
        raise fail(f"node {open_name!r} is not closed (missing '}}')", size)
    return FbxDocument(version, False, False, roots)


# --------------------------------------------------------------------------- writing


class Int64(int):
    """An integer stored as a 64-bit FBX property ('L'), e.g. object ids."""

    __slots__ = ()


class Int16(int):
    """An integer stored as a 16-bit FBX property ('Y')."""

    __slots__ = ()


class Float32(float):
    """A float stored as a 32-bit FBX property ('F')."""

    __slots__ = ()


_DTYPE_CODES = {
    np.dtype("float64"): "d",
    np.dtype("float32"): "f",
    np.dtype("int64"): "l",
    np.dtype("int32"): "i",
    np.dtype("bool"): "b",
}
#: Arrays larger than this many bytes are zlib-compressed when written.
COMPRESS_THRESHOLD = 128
_FOOTER_ID = bytes.fromhex("fabcab09d0c8d466b176fb831cf7267e")
_FOOTER_MAGIC = bytes.fromhex("f85a8c6adef5d97eece90ce3758f290b")


def _encode_prop(value: Value, out: bytearray) -> None:
    if isinstance(value, np.ndarray):
        arr = np.ascontiguousarray(value)
        if arr.dtype not in _DTYPE_CODES:
            arr = arr.astype(np.float64 if arr.dtype.kind == "f" else np.int64)
        code = _DTYPE_CODES[arr.dtype]
        raw = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
        if len(raw) > COMPRESS_THRESHOLD:
            payload, encoding = zlib.compress(raw, 1), 1
        else:
            payload, encoding = raw, 0
        out += code.encode()
        out += struct.pack("<III", len(arr), encoding, len(payload))
        out += payload
    elif isinstance(value, bool):
        out += b"C" + struct.pack("<?", value)
    elif isinstance(value, Int64):
        out += b"L" + struct.pack("<q", value)
    elif isinstance(value, Int16):
        out += b"Y" + struct.pack("<h", value)
    elif isinstance(value, int):
        out += (
            (b"I" + struct.pack("<i", value))
            if -(2**31) <= value < 2**31
            else (b"L" + struct.pack("<q", value))
        )
    elif isinstance(value, Float32):
        out += b"F" + struct.pack("<f", value)
    elif isinstance(value, float):
        out += b"D" + struct.pack("<d", value)
    elif isinstance(value, str):
        raw = value.encode("utf-8", "surrogateescape")
        out += b"S" + struct.pack("<I", len(raw)) + raw
    elif isinstance(value, bytes):
        out += b"R" + struct.pack("<I", len(value)) + value
    else:
        raise TypeError(f"cannot store {type(value).__name__} in an FBX property")


def _encode_node(node: FbxNode, out: bytearray, wide: bool) -> None:
    header = struct.Struct("<QQQB" if wide else "<IIIB")
    start = len(out)
    name = node.name.encode("utf-8")
    out += bytes(header.size) + name
    props_start = len(out)
    for value in node.props:
        _encode_prop(value, out)
    props_len = len(out) - props_start
    for child in node.children:
        _encode_node(child, out, wide)
    if node.children or not node.props:
        # A null record closes a child list; the FBX SDK also writes one for empty nodes.
        out += bytes(header.size)
    header.pack_into(out, start, len(out), len(node.props), props_len, len(name))


def write_binary(roots: list[FbxNode], version: int = 7400) -> bytes:
    """Encode top-level nodes as a little-endian binary FBX file, footer included."""
    wide = version >= 7500
    out = bytearray(BINARY_MAGIC + b"\x00" + struct.pack("<I", version))
    for node in roots:
        _encode_node(node, out, wide)
    out += bytes(25 if wide else 13)
    out += _FOOTER_ID + bytes(4)
    out += bytes(16 - len(out) % 16)
    out += struct.pack("<I", version) + bytes(120) + _FOOTER_MAGIC
    return bytes(out)


def _ascii_value(value: Value) -> str:
    if isinstance(value, bool):
        return "T" if value else "F"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return repr(float(value)) if np.isfinite(value) else "0"
    if isinstance(value, str):
        return '"' + value.replace('"', "&quot;").replace("\n", " ") + '"'
    if isinstance(value, bytes):
        return '"' + value.hex() + '"'
    raise TypeError(f"cannot store {type(value).__name__} in an FBX property")


def _ascii_array(arr: np.ndarray) -> str:
    if arr.dtype.kind == "f":
        return ",".join(map(repr, arr.astype(np.float64).tolist()))
    return ",".join(map(str, arr.astype(np.int64).tolist()))


def _write_ascii_node(node: FbxNode, depth: int, out: list[str]) -> None:
    pad = "\t" * depth
    if len(node.props) == 1 and isinstance(node.props[0], np.ndarray):
        arr = node.props[0]
        out.append(f"{pad}{node.name}: *{len(arr)} {{\n{pad}\ta: {_ascii_array(arr)}\n{pad}}}\n")
        return
    values = ", ".join(_ascii_value(v) for v in node.props)
    line = f"{pad}{node.name}: {values}" if values else f"{pad}{node.name}: "
    if node.children or not node.props:
        out.append(line + " {\n")
        for child in node.children:
            _write_ascii_node(child, depth + 1, out)
        out.append(pad + "}\n")
    else:
        out.append(line + "\n")


def write_ascii(roots: list[FbxNode], version: int = 7400) -> bytes:
    """Encode top-level nodes as an ASCII FBX file."""
    major, minor = divmod(version, 1000)
    out = [
        f"; FBX {major}.{minor // 100}.{minor % 100} project file\n",
        "; ----------------------------------------------------\n\n",
    ]
    for node in roots:
        _write_ascii_node(node, 0, out)
        out.append("\n")
    return "".join(out).encode("utf-8", "surrogateescape")
