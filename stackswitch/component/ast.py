"""The decoded form of a component binary, one frozen dataclass per construct.

This is the binary's abstract syntax as Binary.md defines it, not its meaning:
indices stay indices (nothing is resolved or validated against an index
space), core modules stay raw bytes, and each section keeps its definitions in
binary order so that a later linker can rebuild the index spaces exactly as
the spec's incremental validation does.

Naming: ``Core*`` classes come from the embedded core-wasm grammar (core
types, core instances, core aliases); the rest are component-level. A type
index is a plain ``int``; a primitive value type is a :class:`PrimValType`
member (an ``Enum``, deliberately not an ``int``, so the two never mix up).
"""

from __future__ import annotations

import re
from dataclasses import MISSING, dataclass, field, fields
from enum import Enum, IntEnum, StrEnum

# ---------------------------------------------------------------------------
# Sorts and sort indices
# ---------------------------------------------------------------------------


class CoreSort(IntEnum):
    """``core:sort``; the values are the binary codes."""

    FUNC = 0x00
    TABLE = 0x01
    MEMORY = 0x02
    GLOBAL = 0x03
    TAG = 0x04
    TYPE = 0x10
    MODULE = 0x11
    INSTANCE = 0x12


class Sort(IntEnum):
    """The component-level ``sort``s (a core sort is written ``0x00 <core:sort>``)."""

    FUNC = 0x01
    VALUE = 0x02
    TYPE = 0x03
    COMPONENT = 0x04
    INSTANCE = 0x05


AnySort = Sort | CoreSort


@dataclass(frozen=True)
class SortIdx:
    """``(sort idx)``: an index into the index space of ``sort``."""

    sort: AnySort
    index: int


@dataclass(frozen=True)
class CoreSortIdx:
    sort: CoreSort
    index: int


# ---------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------


_WORDS = r"[a-z][0-9a-z]*(?:-[0-9a-z]+)*"
_LABEL = r"(?:[a-z][0-9a-z]*|[A-Z][0-9A-Z]*)(?:-(?:[0-9a-z]+|[0-9A-Z]+))*"
# Explainer.md's ``interfacename``, including the nested namespaces/projections (🪺).
_INTERFACE_NAME = re.compile(
    rf"(?P<package>(?:{_WORDS}:)+{_WORDS})(?P<path>(?:/{_LABEL})+)(?:@(?P<version>.+))?"
)


@dataclass(frozen=True)
class ExternName:
    """An import/export name (``nameattributes``) with its optional attributes.

    ``form`` is the leading byte: 0x00 and 0x01 are the same plain name (0x01
    is a legacy spelling); 0x02 carries attributes (``implements``,
    ``versionsuffix``, ``external-id``).
    """

    name: str
    form: int = 0
    implements: str | None = None
    version_suffix: str | None = None
    external_id: str | None = None

    @property
    def is_interface(self) -> bool:
        """True for ``namespace:package/interface[@version]`` names (lexically)."""
        return _INTERFACE_NAME.fullmatch(self.name) is not None

    @property
    def package(self) -> str | None:
        """``namespace:package`` of an interface name."""
        m = _INTERFACE_NAME.fullmatch(self.name)
        return m and m["package"]

    @property
    def version(self) -> str | None:
        """The ``@version`` of an interface name, if it has one."""
        m = _INTERFACE_NAME.fullmatch(self.name)
        return m and m["version"]

    def __str__(self) -> str:
        return self.name


# ---------------------------------------------------------------------------
# Core types (the parts of core wasm's type grammar a component can contain)
# ---------------------------------------------------------------------------


class CoreNumType(Enum):
    I32 = 0x7F
    I64 = 0x7E
    F32 = 0x7D
    F64 = 0x7C
    V128 = 0x7B


class CorePackedType(Enum):
    """Storage-only types of GC struct/array fields."""

    I8 = 0x78
    I16 = 0x77


class CoreAbsHeapType(Enum):
    FUNC = 0x70
    EXTERN = 0x6F
    ANY = 0x6E
    EQ = 0x6D
    I31 = 0x6C
    STRUCT = 0x6B
    ARRAY = 0x6A
    EXN = 0x69
    CONT = 0x68
    NONE = 0x71
    NOEXTERN = 0x72
    NOFUNC = 0x73
    NOEXN = 0x74
    NOCONT = 0x75


@dataclass(frozen=True)
class CoreRefType:
    """``(ref null? ht)``; ``heap`` is an abstract heap type or a type index."""

    nullable: bool
    heap: CoreAbsHeapType | int
    shared: bool = False
    exact: bool = False


CoreValType = CoreNumType | CoreRefType
CoreStorageType = CoreValType | CorePackedType


@dataclass(frozen=True)
class CoreFuncType:
    params: tuple[CoreValType, ...]
    results: tuple[CoreValType, ...]


@dataclass(frozen=True)
class CoreFieldType:
    storage: CoreStorageType
    mutable: bool


@dataclass(frozen=True)
class CoreStructType:
    fields: tuple[CoreFieldType, ...]


@dataclass(frozen=True)
class CoreArrayType:
    element: CoreFieldType


@dataclass(frozen=True)
class CoreContType:
    func_type: int


CoreCompositeType = CoreFuncType | CoreStructType | CoreArrayType | CoreContType


@dataclass(frozen=True)
class CoreSubType:
    """One entry of a recursion group, with its GC/threads/descriptor prefixes."""

    body: CoreCompositeType
    final: bool = True
    supertypes: tuple[int, ...] = ()
    shared: bool = False
    describes: int | None = None
    descriptor: int | None = None


@dataclass(frozen=True)
class CoreRecGroup:
    """``core:rectype``; ``explicit`` is False for a lone subtype written without ``rec``."""

    types: tuple[CoreSubType, ...]
    explicit: bool = False


@dataclass(frozen=True)
class CoreLimits:
    minimum: int
    maximum: int | None


@dataclass(frozen=True)
class CoreFuncDesc:
    """A core ``func`` import/export type; ``exact`` is the custom-descriptors form (0x20)."""

    type_index: int
    exact: bool = False


@dataclass(frozen=True)
class CoreTableType:
    element: CoreRefType
    limits: CoreLimits
    shared: bool = False
    table64: bool = False


@dataclass(frozen=True)
class CoreMemoryType:
    limits: CoreLimits
    shared: bool = False
    memory64: bool = False
    page_size_log2: int | None = None


@dataclass(frozen=True)
class CoreGlobalType:
    valtype: CoreValType
    mutable: bool
    shared: bool = False


@dataclass(frozen=True)
class CoreTagType:
    func_type: int


CoreExternType = CoreFuncDesc | CoreTableType | CoreMemoryType | CoreGlobalType | CoreTagType


@dataclass(frozen=True)
class CoreImportDecl:
    module: str
    name: str
    desc: CoreExternType


@dataclass(frozen=True)
class CoreExportDecl:
    name: str
    desc: CoreExternType


@dataclass(frozen=True)
class CoreOuterAlias:
    """``(alias outer ct idx (type))`` inside a module type (only core types)."""

    count: int
    index: int


ModuleDecl = CoreImportDecl | CoreRecGroup | CoreOuterAlias | CoreExportDecl


@dataclass(frozen=True)
class ModuleType:
    decls: tuple[ModuleDecl, ...]


CoreType = CoreRecGroup | ModuleType


# ---------------------------------------------------------------------------
# Component value types and type definitions
# ---------------------------------------------------------------------------


class PrimValType(Enum):
    BOOL = 0x7F
    S8 = 0x7E
    U8 = 0x7D
    S16 = 0x7C
    U16 = 0x7B
    S32 = 0x7A
    U32 = 0x79
    S64 = 0x78
    U64 = 0x77
    F32 = 0x76
    F64 = 0x75
    CHAR = 0x74
    STRING = 0x73
    ERROR_CONTEXT = 0x64


ValType = PrimValType | int
"""A value type: a primitive, or the index of a defined value type."""


@dataclass(frozen=True)
class LabeledType:
    """A record field or function parameter: ``label`` and type."""

    label: str
    type: ValType


@dataclass(frozen=True)
class Case:
    label: str
    type: ValType | None


@dataclass(frozen=True)
class RecordType:
    fields: tuple[LabeledType, ...]


@dataclass(frozen=True)
class VariantType:
    cases: tuple[Case, ...]


@dataclass(frozen=True)
class ListType:
    element: ValType


@dataclass(frozen=True)
class FixedListType:
    """``(list t len)``, the fixed-length list (🔧)."""

    element: ValType
    length: int


@dataclass(frozen=True)
class TupleType:
    types: tuple[ValType, ...]


@dataclass(frozen=True)
class FlagsType:
    labels: tuple[str, ...]


@dataclass(frozen=True)
class EnumType:
    labels: tuple[str, ...]


@dataclass(frozen=True)
class OptionType:
    type: ValType


@dataclass(frozen=True)
class ResultType:
    ok: ValType | None
    error: ValType | None


@dataclass(frozen=True)
class OwnType:
    resource: int


@dataclass(frozen=True)
class BorrowType:
    resource: int


@dataclass(frozen=True)
class StreamType:
    element: ValType | None


@dataclass(frozen=True)
class FutureType:
    element: ValType | None


@dataclass(frozen=True)
class MapType:
    """``(map k v)`` (🗺️)."""

    key: ValType
    value: ValType


DefValType = (
    PrimValType
    | RecordType
    | VariantType
    | ListType
    | FixedListType
    | TupleType
    | FlagsType
    | EnumType
    | OptionType
    | ResultType
    | OwnType
    | BorrowType
    | StreamType
    | FutureType
    | MapType
)


@dataclass(frozen=True)
class FuncType:
    """``(func async? (param ...)* (result t)?)``; ``result`` is None for no result."""

    params: tuple[LabeledType, ...]
    result: ValType | None
    is_async: bool = False


@dataclass(frozen=True)
class ResourceType:
    """``(resource (rep t) (dtor f)?)``; ``dtor`` is a core function index."""

    rep: CoreValType
    dtor: int | None = None


# -- extern descriptions --------------------------------------------------------
# Each description's ``sort`` is a class attribute (not a field): the sort it describes.


@dataclass(frozen=True)
class TypeEq:
    """Type bound ``(eq i)``."""

    index: int


@dataclass(frozen=True)
class SubResource:
    """Type bound ``(sub resource)``: a fresh abstract resource type."""


@dataclass(frozen=True)
class CoreModuleDesc:
    type_index: int
    sort = CoreSort.MODULE


@dataclass(frozen=True)
class FuncDesc:
    type_index: int
    sort = Sort.FUNC


@dataclass(frozen=True)
class ValueDesc:
    """A value import/export (🪙); 1.262 writes a bare valtype, not Binary.md's ``valuebound``."""

    type: ValType
    sort = Sort.VALUE


@dataclass(frozen=True)
class TypeDesc:
    bound: TypeEq | SubResource
    sort = Sort.TYPE


@dataclass(frozen=True)
class ComponentDesc:
    type_index: int
    sort = Sort.COMPONENT


@dataclass(frozen=True)
class InstanceDesc:
    type_index: int
    sort = Sort.INSTANCE


ExternDesc = CoreModuleDesc | FuncDesc | ValueDesc | TypeDesc | ComponentDesc | InstanceDesc


# -- aliases --------------------------------------------------------------------


@dataclass(frozen=True)
class AliasExport:
    """``(alias export i "n" (sort))`` from a component instance."""

    sort: AnySort
    instance: int
    name: str


@dataclass(frozen=True)
class AliasCoreExport:
    """``(alias core export i "n" (core sort))`` from a core instance."""

    sort: CoreSort
    instance: int
    name: str


@dataclass(frozen=True)
class AliasOuter:
    """``(alias outer ct idx (sort))``: ``count`` enclosing scopes out."""

    sort: AnySort
    count: int
    index: int


Alias = AliasExport | AliasCoreExport | AliasOuter


# -- component and instance types ----------------------------------------------


@dataclass(frozen=True)
class ImportDecl:
    name: ExternName
    desc: ExternDesc


@dataclass(frozen=True)
class ExportDecl:
    name: ExternName
    desc: ExternDesc


@dataclass(frozen=True)
class CoreTypeDecl:
    """A core type declared inside a component or instance type."""

    type: CoreType


@dataclass(frozen=True)
class TypeDecl:
    """A component type declared inside a component or instance type."""

    type: DefType


InstanceDecl = CoreTypeDecl | TypeDecl | Alias | ExportDecl
ComponentDecl = InstanceDecl | ImportDecl


@dataclass(frozen=True)
class ComponentType:
    decls: tuple[ComponentDecl, ...]


@dataclass(frozen=True)
class InstanceType:
    decls: tuple[InstanceDecl, ...]


DefType = DefValType | FuncType | ComponentType | InstanceType | ResourceType


# ---------------------------------------------------------------------------
# Canonical definitions
# ---------------------------------------------------------------------------


class StringEncoding(StrEnum):
    UTF8 = "utf8"
    UTF16 = "utf16"
    LATIN1_UTF16 = "latin1+utf16"


class CanonOptKind(IntEnum):
    """``canonopt`` codes; MEMORY..CALLBACK and CORE_TYPE carry an index."""

    UTF8 = 0x00
    UTF16 = 0x01
    LATIN1_UTF16 = 0x02
    MEMORY = 0x03
    REALLOC = 0x04
    POST_RETURN = 0x05
    ASYNC = 0x06
    CALLBACK = 0x07
    CORE_TYPE = 0x08
    GC = 0x09


_ENCODINGS = {
    CanonOptKind.UTF8: StringEncoding.UTF8,
    CanonOptKind.UTF16: StringEncoding.UTF16,
    CanonOptKind.LATIN1_UTF16: StringEncoding.LATIN1_UTF16,
}


@dataclass(frozen=True, repr=False)
class CanonOpt:
    kind: CanonOptKind
    index: int | None = None

    def __repr__(self) -> str:
        if self.kind in _ENCODINGS:
            return f"string-encoding={_ENCODINGS[self.kind]}"
        name = self.kind.name.lower().replace("_", "-")
        return name if self.index is None else f"({name} {self.index})"


@dataclass(frozen=True, repr=False)
class CanonOptions:
    """The ``canonopt*`` list, in binary order, with the usual lookups.

    Duplicates and conflicts are a validation matter, so they are kept; the
    lookups report the first occurrence.
    """

    items: tuple[CanonOpt, ...] = ()

    def __repr__(self) -> str:
        return f"CanonOptions({' '.join(map(repr, self.items))})"

    def _index(self, kind: CanonOptKind) -> int | None:
        return next((o.index for o in self.items if o.kind is kind), None)

    def _has(self, kind: CanonOptKind) -> bool:
        return any(o.kind is kind for o in self.items)

    @property
    def string_encoding(self) -> StringEncoding:
        """The explicit encoding, or ``utf8``, the spec's default."""
        for o in self.items:
            if o.kind in _ENCODINGS:
                return _ENCODINGS[o.kind]
        return StringEncoding.UTF8

    @property
    def memory(self) -> int | None:
        return self._index(CanonOptKind.MEMORY)

    @property
    def realloc(self) -> int | None:
        return self._index(CanonOptKind.REALLOC)

    @property
    def post_return(self) -> int | None:
        return self._index(CanonOptKind.POST_RETURN)

    @property
    def is_async(self) -> bool:
        return self._has(CanonOptKind.ASYNC)

    @property
    def callback(self) -> int | None:
        return self._index(CanonOptKind.CALLBACK)

    @property
    def core_type(self) -> int | None:
        return self._index(CanonOptKind.CORE_TYPE)

    @property
    def gc(self) -> bool:
        return self._has(CanonOptKind.GC)


@dataclass(frozen=True)
class CanonLift:
    """``(canon lift core_func opts type)``: defines a component function."""

    core_func: int
    options: CanonOptions
    type_index: int


@dataclass(frozen=True)
class CanonLower:
    """``(canon lower func opts)``: defines a core function."""

    func: int
    options: CanonOptions


class Builtin(StrEnum):
    """Every canon built-in other than lift/lower, by its text-format name."""

    RESOURCE_NEW = "resource.new"
    RESOURCE_DROP = "resource.drop"
    RESOURCE_REP = "resource.rep"
    CONTEXT_GET = "context.get"
    CONTEXT_SET = "context.set"
    BACKPRESSURE_INC = "backpressure.inc"
    BACKPRESSURE_DEC = "backpressure.dec"
    TASK_RETURN = "task.return"
    TASK_CANCEL = "task.cancel"
    SUBTASK_CANCEL = "subtask.cancel"
    SUBTASK_DROP = "subtask.drop"
    STREAM_NEW = "stream.new"
    STREAM_READ = "stream.read"
    STREAM_WRITE = "stream.write"
    STREAM_CANCEL_READ = "stream.cancel-read"
    STREAM_CANCEL_WRITE = "stream.cancel-write"
    STREAM_DROP_READABLE = "stream.drop-readable"
    STREAM_DROP_WRITABLE = "stream.drop-writable"
    STREAM_FORWARD = "stream.forward"
    FUTURE_NEW = "future.new"
    FUTURE_READ = "future.read"
    FUTURE_WRITE = "future.write"
    FUTURE_CANCEL_READ = "future.cancel-read"
    FUTURE_CANCEL_WRITE = "future.cancel-write"
    FUTURE_DROP_READABLE = "future.drop-readable"
    FUTURE_DROP_WRITABLE = "future.drop-writable"
    FUTURE_FORWARD = "future.forward"
    ERROR_CONTEXT_NEW = "error-context.new"
    ERROR_CONTEXT_DEBUG_MESSAGE = "error-context.debug-message"
    ERROR_CONTEXT_DROP = "error-context.drop"
    WAITABLE_SET_NEW = "waitable-set.new"
    WAITABLE_SET_WAIT = "waitable-set.wait"
    WAITABLE_SET_POLL = "waitable-set.poll"
    WAITABLE_SET_DROP = "waitable-set.drop"
    WAITABLE_JOIN = "waitable.join"
    THREAD_INDEX = "thread.index"
    THREAD_NEW_INDIRECT = "thread.new-indirect"
    THREAD_RESUME_LATER = "thread.resume-later"
    THREAD_SUSPEND = "thread.suspend"
    THREAD_YIELD = "thread.yield"
    THREAD_SUSPEND_THEN_RESUME = "thread.suspend-then-resume"
    THREAD_YIELD_THEN_RESUME = "thread.yield-then-resume"
    THREAD_SUSPEND_THEN_PROMOTE = "thread.suspend-then-promote"
    THREAD_YIELD_THEN_PROMOTE = "thread.yield-then-promote"
    THREAD_SPAWN_REF = "thread.spawn-ref"
    THREAD_SPAWN_INDIRECT = "thread.spawn-indirect"
    THREAD_AVAILABLE_PARALLELISM = "thread.available-parallelism"


@dataclass(frozen=True, repr=False)
class CanonBuiltin:
    """A built-in that defines a core function; only its own immediates are set.

    ``type_index`` is the resource type (``resource.*``) or the stream/future
    type; ``result`` is ``task.return``'s result type; ``valtype``/``slot``
    are ``context.get/set``'s; ``func_type``/``table`` are the thread
    built-ins' core type and table; ``memory`` is ``waitable-set.wait/poll``'s.
    """

    builtin: Builtin
    type_index: int | None = None
    options: CanonOptions = field(default_factory=CanonOptions)
    is_async: bool = False
    cancellable: bool = False
    result: ValType | None = None
    valtype: CoreValType | None = None
    slot: int | None = None
    memory: int | None = None
    func_type: int | None = None
    table: int | None = None

    def __repr__(self) -> str:
        """Only the immediates this built-in has, e.g. ``CanonBuiltin(stream.new, type_index=1)``."""
        shown = [str(self.builtin)]
        for f in fields(self)[1:]:
            value = getattr(self, f.name)
            default = f.default_factory() if f.default is MISSING else f.default
            if value != default:
                shown.append(f"{f.name}={value!r}")
        return f"CanonBuiltin({', '.join(shown)})"


Canon = CanonLift | CanonLower | CanonBuiltin


# ---------------------------------------------------------------------------
# Instances, start, imports, exports, values, custom sections, modules
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CoreInstantiateArg:
    """``(with "name" (instance i))``; only the instance sort exists today."""

    name: str
    instance: int


@dataclass(frozen=True)
class CoreInstantiate:
    module: int
    args: tuple[CoreInstantiateArg, ...]


@dataclass(frozen=True)
class CoreInlineExport:
    name: str
    target: CoreSortIdx


@dataclass(frozen=True)
class CoreInlineExports:
    """A core instance made of existing definitions."""

    exports: tuple[CoreInlineExport, ...]


CoreInstance = CoreInstantiate | CoreInlineExports


@dataclass(frozen=True)
class InstantiateArg:
    name: str
    target: SortIdx


@dataclass(frozen=True)
class Instantiate:
    component: int
    args: tuple[InstantiateArg, ...]


@dataclass(frozen=True)
class InlineExport:
    name: ExternName
    target: SortIdx


@dataclass(frozen=True)
class InlineExports:
    exports: tuple[InlineExport, ...]


Instance = Instantiate | InlineExports


@dataclass(frozen=True)
class Start:
    """``(start f (value arg)* (result (value))^r)`` (🪙)."""

    func: int
    args: tuple[int, ...]
    results: int


@dataclass(frozen=True)
class Import:
    name: ExternName
    desc: ExternDesc


@dataclass(frozen=True)
class Export:
    """An export; ``desc`` is the optional ascribed type."""

    name: ExternName
    target: SortIdx
    desc: ExternDesc | None = None


@dataclass(frozen=True)
class Value:
    """A value definition (🪙). Its bytes stay raw: reading them needs the type index space."""

    type: ValType
    data: bytes


@dataclass(frozen=True)
class CustomSection:
    name: str
    data: bytes


@dataclass(frozen=True)
class CoreModule:
    """An embedded core module, undecoded; ``offset`` is where its bytes start."""

    data: bytes = field(repr=False)
    offset: int


# ---------------------------------------------------------------------------
# Sections and the component
# ---------------------------------------------------------------------------


class SectionId(IntEnum):
    CUSTOM = 0
    CORE_MODULE = 1
    CORE_INSTANCE = 2
    CORE_TYPE = 3
    COMPONENT = 4
    INSTANCE = 5
    ALIAS = 6
    TYPE = 7
    CANON = 8
    START = 9
    IMPORT = 10
    EXPORT = 11
    VALUE = 12

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", " ") + " section"


@dataclass(frozen=True)
class Section:
    """One section: ``offset`` is its id byte, ``content_offset``/``size`` its payload.

    ``items`` are the section's definitions in order (a single item for the
    custom, core module, component and start sections).
    """

    id: SectionId
    offset: int
    content_offset: int
    size: int
    items: tuple[Definition, ...]


@dataclass(frozen=True)
class Component:
    """A decoded component; ``offset`` is where its preamble starts in the outer binary."""

    version: int
    layer: int
    sections: tuple[Section, ...]
    offset: int = 0
    size: int = 0

    def _items(self, sid: SectionId) -> tuple:
        return tuple(i for s in self.sections if s.id is sid for i in s.items)

    @property
    def definitions(self) -> tuple[Definition, ...]:
        """All definitions except custom sections, in binary order (the spec's ``flatten``)."""
        return tuple(i for s in self.sections if s.id is not SectionId.CUSTOM for i in s.items)

    @property
    def custom_sections(self) -> tuple[CustomSection, ...]:
        return self._items(SectionId.CUSTOM)

    @property
    def core_modules(self) -> tuple[CoreModule, ...]:
        return self._items(SectionId.CORE_MODULE)

    @property
    def core_instances(self) -> tuple[CoreInstance, ...]:
        return self._items(SectionId.CORE_INSTANCE)

    @property
    def core_types(self) -> tuple[CoreType, ...]:
        return self._items(SectionId.CORE_TYPE)

    @property
    def components(self) -> tuple[Component, ...]:
        return self._items(SectionId.COMPONENT)

    @property
    def instances(self) -> tuple[Instance, ...]:
        return self._items(SectionId.INSTANCE)

    @property
    def aliases(self) -> tuple[Alias, ...]:
        return self._items(SectionId.ALIAS)

    @property
    def types(self) -> tuple[DefType, ...]:
        return self._items(SectionId.TYPE)

    @property
    def canons(self) -> tuple[Canon, ...]:
        return self._items(SectionId.CANON)

    @property
    def starts(self) -> tuple[Start, ...]:
        return self._items(SectionId.START)

    @property
    def imports(self) -> tuple[Import, ...]:
        return self._items(SectionId.IMPORT)

    @property
    def exports(self) -> tuple[Export, ...]:
        return self._items(SectionId.EXPORT)

    @property
    def values(self) -> tuple[Value, ...]:
        return self._items(SectionId.VALUE)


Definition = (
    CustomSection
    | CoreModule
    | CoreInstance
    | CoreType
    | Component
    | Instance
    | Alias
    | DefType
    | Canon
    | Start
    | Import
    | Export
    | Value
)
