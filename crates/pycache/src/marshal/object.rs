//! The objects a marshal stream holds, kept as written: type byte, FLAG_REF, string type code and
//! reference index all survive a read, so that writing them back gives the same bytes.

/// One object of a marshal stream: its value and whether its type byte carried FLAG_REF (0x80),
/// which appends it to the stream's reference list for a later [`Value::Ref`] to name.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    /// FLAG_REF on the type byte.
    pub flag_ref: bool,
    /// What was written.
    pub value: Value,
}

impl Object {
    /// An object without FLAG_REF.
    pub fn new(value: Value) -> Self {
        Self {
            flag_ref: false,
            value,
        }
    }

    /// Calls `f` on each object directly inside this one, in stream order.
    pub fn for_each_child<'a>(&'a self, mut f: impl FnMut(&'a Object)) {
        match &self.value {
            Value::Tuple { items, .. }
            | Value::List(items)
            | Value::Set(items)
            | Value::FrozenSet(items) => items.iter().for_each(f),
            Value::Dict(pairs) => pairs.iter().for_each(|(k, v)| {
                f(k);
                f(v);
            }),
            Value::Code(code) => code.fields.iter().for_each(|field| {
                if let Field::Object(o) = field {
                    f(o);
                }
            }),
            Value::Slice(parts) => parts.iter().for_each(f),
            _ => {}
        }
    }

    /// True when reading this object appends it to the reference list: FLAG_REF on anything
    /// but a singleton or a reference (CPython's `r_object` ignores the flag on those).
    pub fn joins_refs(&self) -> bool {
        self.flag_ref
            && !matches!(
                self.value,
                Value::Null
                    | Value::None
                    | Value::False
                    | Value::True
                    | Value::StopIteration
                    | Value::Ellipsis
                    | Value::Ref(_)
            )
    }
}

/// The value of an [`Object`], one variant per marshal type code.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `0`: the end of a dict, or an absent value.
    Null,
    /// `N`.
    None,
    /// `F`.
    False,
    /// `T`.
    True,
    /// `S`: `StopIteration`.
    StopIteration,
    /// `.`: `Ellipsis`.
    Ellipsis,
    /// `i`: an int that fits in 32 bits.
    Int(i32),
    /// `l`: a larger int, as marshal writes it: a signed digit count, then 15-bit digits.
    Long(Long),
    /// `g`: a float, as its IEEE 754 bits.
    Float(u64),
    /// `y`: a complex, as the bits of its real and imaginary parts.
    Complex(u64, u64),
    /// `s`: bytes (bytecode, line tables and `bytes` constants).
    Bytes(Vec<u8>),
    /// A `str`, in the type code it was written with.
    Str(Str),
    /// `)` (fewer than 256 items, `small`) or `(`.
    Tuple {
        /// Written with the one-byte count of `)`.
        small: bool,
        /// The items.
        items: Vec<Object>,
    },
    /// `[`.
    List(Vec<Object>),
    /// `{`: key and value pairs, ended by `0` in the stream.
    Dict(Vec<(Object, Object)>),
    /// `<`.
    Set(Vec<Object>),
    /// `>`.
    FrozenSet(Vec<Object>),
    /// `c`: a code object.
    Code(Box<Code>),
    /// `:`: a slice (marshal version 5, Python 3.14).
    Slice(Box<[Object; 3]>),
    /// `r`: the object with this index in the reference list.
    Ref(u32),
}

/// A marshalled `int` outside 32 bits: `count` is the number of 15-bit digits, negative for a
/// negative number.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Long {
    /// The signed digit count.
    pub count: i32,
    /// The digits, least significant first, each below 2**15 in CPython's output.
    pub digits: Vec<u16>,
}

/// A marshalled `str`: its type code and its bytes (ASCII, or UTF-8 with `surrogatepass`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Str {
    /// How it was written.
    pub kind: StrKind,
    /// Its bytes.
    pub data: Vec<u8>,
}

/// The type codes of a `str`: ASCII (short or not) or not, interned or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StrKind {
    /// `z`: ASCII, fewer than 256 bytes, one-byte length.
    ShortAscii,
    /// `Z`: as `z`, interned.
    ShortAsciiInterned,
    /// `a`: ASCII.
    Ascii,
    /// `A`: ASCII, interned.
    AsciiInterned,
    /// `u`: UTF-8 with `surrogatepass`.
    Unicode,
    /// `t`: as `u`, interned.
    Interned,
}

impl StrKind {
    /// The type code (without FLAG_REF).
    pub const fn code(self) -> u8 {
        match self {
            Self::ShortAscii => b'z',
            Self::ShortAsciiInterned => b'Z',
            Self::Ascii => b'a',
            Self::AsciiInterned => b'A',
            Self::Unicode => b'u',
            Self::Interned => b't',
        }
    }

    /// The kind of type code `code`, if it is a string's.
    pub const fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            b'z' => Self::ShortAscii,
            b'Z' => Self::ShortAsciiInterned,
            b'a' => Self::Ascii,
            b'A' => Self::AsciiInterned,
            b'u' => Self::Unicode,
            b't' => Self::Interned,
            _ => return None,
        })
    }

    /// True for the interned kinds (`Z`, `A`, `t`).
    pub const fn is_interned(self) -> bool {
        matches!(
            self,
            Self::ShortAsciiInterned | Self::AsciiInterned | Self::Interned
        )
    }

    /// True when the length is one byte (`z`, `Z`).
    pub const fn is_short(self) -> bool {
        matches!(self, Self::ShortAscii | Self::ShortAsciiInterned)
    }

    /// The kind CPython's `w_object` chooses for a string with these bytes: `z`/`a` when every
    /// byte is ASCII (short below 256 bytes), `u` otherwise; their interned forms when
    /// `interned`.
    pub fn for_str(data: &[u8], interned: bool) -> Self {
        match (data.is_ascii(), data.len() < 256, interned) {
            (true, true, false) => Self::ShortAscii,
            (true, true, true) => Self::ShortAsciiInterned,
            (true, false, false) => Self::Ascii,
            (true, false, true) => Self::AsciiInterned,
            (false, _, false) => Self::Unicode,
            (false, _, true) => Self::Interned,
        }
    }
}

/// Which fields a code object has, in which order: each interpreter line writes its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CodeLayout {
    /// CPython 3.0 to 3.7 and PyPy 3.6/3.7: five ints, then `co_code` to `co_lnotab`.
    V30,
    /// CPython 3.8 to 3.10 and PyPy 3.8 to 3.10: as [`V30`](Self::V30) with
    /// `co_posonlyargcount` after `co_argcount` (3.10's last field is `co_linetable`).
    V38,
    /// CPython 3.11 and later: no `co_nlocals`, `co_varnames`/`co_freevars`/`co_cellvars`
    /// become `co_localsplusnames` and `co_localspluskinds`; `co_qualname` and
    /// `co_exceptiontable` are new.
    V311,
}

/// The name of one code-object field.
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldName {
    Argcount,
    Posonlyargcount,
    Kwonlyargcount,
    Nlocals,
    Stacksize,
    Flags,
    Code,
    Consts,
    Names,
    Varnames,
    Freevars,
    Cellvars,
    Localsplusnames,
    Localspluskinds,
    Filename,
    Name,
    Qualname,
    Firstlineno,
    Linetable,
    Exceptiontable,
}

impl FieldName {
    /// True for the fields written as a bare 32-bit int (no type byte).
    pub const fn is_int(self) -> bool {
        matches!(
            self,
            Self::Argcount
                | Self::Posonlyargcount
                | Self::Kwonlyargcount
                | Self::Nlocals
                | Self::Stacksize
                | Self::Flags
                | Self::Firstlineno
        )
    }

    /// The attribute's name in Python (`co_filename`, ...), without the `co_` prefix.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Argcount => "argcount",
            Self::Posonlyargcount => "posonlyargcount",
            Self::Kwonlyargcount => "kwonlyargcount",
            Self::Nlocals => "nlocals",
            Self::Stacksize => "stacksize",
            Self::Flags => "flags",
            Self::Code => "code",
            Self::Consts => "consts",
            Self::Names => "names",
            Self::Varnames => "varnames",
            Self::Freevars => "freevars",
            Self::Cellvars => "cellvars",
            Self::Localsplusnames => "localsplusnames",
            Self::Localspluskinds => "localspluskinds",
            Self::Filename => "filename",
            Self::Name => "name",
            Self::Qualname => "qualname",
            Self::Firstlineno => "firstlineno",
            Self::Linetable => "linetable",
            Self::Exceptiontable => "exceptiontable",
        }
    }
}

impl CodeLayout {
    /// The fields in the order `w_object` writes them (confirmed against each interpreter by
    /// the oracle tests, which compare them with the attributes of the loaded code).
    pub const fn fields(self) -> &'static [FieldName] {
        use FieldName::*;
        match self {
            Self::V30 => &[
                Argcount,
                Kwonlyargcount,
                Nlocals,
                Stacksize,
                Flags,
                Code,
                Consts,
                Names,
                Varnames,
                Freevars,
                Cellvars,
                Filename,
                Name,
                Firstlineno,
                Linetable,
            ],
            Self::V38 => &[
                Argcount,
                Posonlyargcount,
                Kwonlyargcount,
                Nlocals,
                Stacksize,
                Flags,
                Code,
                Consts,
                Names,
                Varnames,
                Freevars,
                Cellvars,
                Filename,
                Name,
                Firstlineno,
                Linetable,
            ],
            Self::V311 => &[
                Argcount,
                Posonlyargcount,
                Kwonlyargcount,
                Stacksize,
                Flags,
                Code,
                Consts,
                Names,
                Localsplusnames,
                Localspluskinds,
                Filename,
                Name,
                Qualname,
                Firstlineno,
                Linetable,
                Exceptiontable,
            ],
        }
    }
}

/// One field of a code object.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    /// A bare 32-bit int.
    Int(i32),
    /// An object.
    Object(Object),
}

/// A code object: its fields in [`CodeLayout::fields`] order.
#[derive(Debug, Clone, PartialEq)]
pub struct Code {
    /// Which fields, in which order.
    pub layout: CodeLayout,
    /// One per name of `layout.fields()`.
    pub fields: Vec<Field>,
}

impl Code {
    /// The field `name`, if this layout has it.
    pub fn field(&self, name: FieldName) -> Option<&Field> {
        let index = self.layout.fields().iter().position(|&f| f == name)?;
        self.fields.get(index)
    }

    /// The field `name`, mutably.
    pub fn field_mut(&mut self, name: FieldName) -> Option<&mut Field> {
        let index = self.layout.fields().iter().position(|&f| f == name)?;
        self.fields.get_mut(index)
    }

    /// The int field `name` (`None` when absent from this layout).
    pub fn int(&self, name: FieldName) -> Option<i32> {
        match self.field(name)? {
            Field::Int(value) => Some(*value),
            Field::Object(_) => None,
        }
    }

    /// The object field `name` (`None` when absent from this layout).
    pub fn object(&self, name: FieldName) -> Option<&Object> {
        match self.field(name)? {
            Field::Object(object) => Some(object),
            Field::Int(_) => None,
        }
    }
}
