//! `pycache inspect --code`: the code-object tree inside a pyc, read without its interpreter
//! (as xdis does in Python): qualname, first line, filename, flags by name, argument counts
//! and constants, nested code as children.

use pycache::marshal::{Code, FieldName, Object, Pyc, Value, references};
use serde::Serialize;

/// A code object described, as `inspect --code --json` gives it.
#[derive(Debug, Serialize)]
pub(crate) struct CodeObject {
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    qualname: Option<String>,
    firstlineno: Option<i32>,
    filename: Option<String>,
    flags: Vec<String>,
    flags_value: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    argcount: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    posonlyargcount: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kwonlyargcount: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nlocals: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stacksize: Option<i32>,
    /// The constants that are not code, as text.
    constants: Vec<String>,
    /// The code objects among the constants.
    children: Vec<CodeObject>,
}

/// What a pyc holds: a code object, or (a crafted pyc) some other constant.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(crate) enum CodeTree {
    /// The usual case.
    Code(CodeObject),
    /// Not code: its repr.
    Constant {
        /// The constant as text.
        constant: String,
    },
}

/// The `co_flags` bits by name (`Include/cpython/code.h`; the `__future__` ones from
/// `Include/cpython/compile.h`).
const FLAGS: &[(i32, &str)] = &[
    (0x1, "OPTIMIZED"),
    (0x2, "NEWLOCALS"),
    (0x4, "VARARGS"),
    (0x8, "VARKEYWORDS"),
    (0x10, "NESTED"),
    (0x20, "GENERATOR"),
    (0x40, "NOFREE"),
    (0x80, "COROUTINE"),
    (0x100, "ITERABLE_COROUTINE"),
    (0x200, "ASYNC_GENERATOR"),
    (0x2_0000, "FUTURE_DIVISION"),
    (0x4_0000, "FUTURE_ABSOLUTE_IMPORT"),
    (0x8_0000, "FUTURE_WITH_STATEMENT"),
    (0x10_0000, "FUTURE_PRINT_FUNCTION"),
    (0x20_0000, "FUTURE_UNICODE_LITERALS"),
    (0x40_0000, "FUTURE_BARRY_AS_BDFL"),
    (0x80_0000, "FUTURE_GENERATOR_STOP"),
    (0x100_0000, "FUTURE_ANNOTATIONS"),
];

fn flag_names(flags: i32) -> Vec<String> {
    let mut names: Vec<String> = FLAGS
        .iter()
        .filter(|(bit, _)| flags & bit != 0)
        .map(|(_, name)| (*name).to_owned())
        .collect();
    let known = FLAGS.iter().fold(0, |all, (bit, _)| all | bit);
    if flags & !known != 0 {
        names.push(format!("{:#x}", flags & !known));
    }
    names
}

/// The code tree of the pyc `data`.
///
/// # Errors
///
/// The pyc's magic is unknown, or its payload is not marshalled code (the message names the
/// offset).
pub(crate) fn tree(data: &[u8]) -> Result<CodeTree, pycache::marshal::MarshalError> {
    let pyc = Pyc::split(data)?;
    let root = pyc.code()?;
    let refs = references(&root);
    let root = resolve(&root, &refs);
    Ok(match &root.value {
        Value::Code(code) => CodeTree::Code(describe(code, &refs)),
        _ => CodeTree::Constant {
            constant: constant(root, &refs),
        },
    })
}

fn resolve<'a>(object: &'a Object, refs: &[&'a Object]) -> &'a Object {
    match object.value {
        Value::Ref(index) => refs.get(index as usize).copied().unwrap_or(object),
        _ => object,
    }
}

fn describe(code: &Code, refs: &[&Object]) -> CodeObject {
    let text = |name| code.object(name).map(|o| constant_text(resolve(o, refs)));
    let flags = code.int(FieldName::Flags).unwrap_or(0);
    let (constants, children) = consts(code, refs);
    CodeObject {
        name: text(FieldName::Name),
        qualname: text(FieldName::Qualname),
        firstlineno: code.int(FieldName::Firstlineno),
        filename: text(FieldName::Filename),
        flags: flag_names(flags),
        flags_value: flags,
        argcount: code.int(FieldName::Argcount),
        posonlyargcount: code.int(FieldName::Posonlyargcount),
        kwonlyargcount: code.int(FieldName::Kwonlyargcount),
        nlocals: code.int(FieldName::Nlocals),
        stacksize: code.int(FieldName::Stacksize),
        constants,
        children,
    }
}

/// The constants shown as text, and the code objects among them described.
fn consts(code: &Code, refs: &[&Object]) -> (Vec<String>, Vec<CodeObject>) {
    let (mut constants, mut children) = (Vec::new(), Vec::new());
    let Some(tuple) = code.object(FieldName::Consts).map(|o| resolve(o, refs)) else {
        return (constants, children);
    };
    if let Value::Tuple { items, .. } = &tuple.value {
        for item in items.iter().map(|o| resolve(o, refs)) {
            if let Value::Code(child) = &item.value {
                children.push(describe(child, refs));
            } else {
                constants.push(constant(item, refs));
            }
        }
    }
    (constants, children)
}

/// A string's text (UTF-8 with lone surrogates shown as U+FFFD), else the constant's repr.
fn constant_text(object: &Object) -> String {
    match &object.value {
        Value::Str(s) => String::from_utf8_lossy(&s.data).into_owned(),
        _ => constant(object, &[]),
    }
}

/// A constant as Python would print its repr (near enough to read).
fn constant(object: &Object, refs: &[&Object]) -> String {
    let object = resolve(object, refs);
    let join = |items: &[Object]| {
        items
            .iter()
            .map(|item| constant(item, refs))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match &object.value {
        Value::Null => "NULL".into(),
        Value::None => "None".into(),
        Value::False => "False".into(),
        Value::True => "True".into(),
        Value::StopIteration => "StopIteration".into(),
        Value::Ellipsis => "Ellipsis".into(),
        Value::Int(v) => v.to_string(),
        Value::Long(long) => long_text(long),
        Value::Float(bits) => float_text(*bits),
        Value::Complex(re, im) => format!("({}+{}j)", float_text(*re), float_text(*im)),
        Value::Bytes(data) => format!("b'{}'", data.escape_ascii()),
        Value::Str(s) => format!("{:?}", String::from_utf8_lossy(&s.data)),
        Value::Tuple { items, .. } if items.len() == 1 => format!("({},)", join(items)),
        Value::Tuple { items, .. } => format!("({})", join(items)),
        Value::List(items) => format!("[{}]", join(items)),
        Value::Set(items) => format!("{{{}}}", join(items)),
        Value::FrozenSet(items) => format!("frozenset({{{}}})", join(items)),
        Value::Dict(pairs) => format!("{{{} items}}", pairs.len()),
        Value::Code(code) => {
            let name = code
                .object(FieldName::Name)
                .map(|o| constant_text(resolve(o, refs)));
            format!("<code {}>", name.unwrap_or_default())
        }
        Value::Slice(parts) => format!("slice({})", join(parts.as_slice())),
        Value::Ref(index) => format!("<reference {index}>"),
    }
}

fn float_text(bits: u64) -> String {
    let value = f64::from_bits(bits);
    if value.is_finite() && value.fract() == 0.0 && value.abs() < 1e16 {
        format!("{value:.1}")
    } else {
        format!("{value}")
    }
}

/// A marshalled long in decimal (15-bit digits, least significant first).
fn long_text(long: &pycache::marshal::Long) -> String {
    // Base 10**9 limbs, least significant first.
    let mut limbs: Vec<u64> = vec![0];
    for &digit in long.digits.iter().rev() {
        let mut carry = u64::from(digit);
        for limb in &mut limbs {
            let value = *limb * (1 << 15) + carry;
            *limb = value % 1_000_000_000;
            carry = value / 1_000_000_000;
        }
        while carry > 0 {
            limbs.push(carry % 1_000_000_000);
            carry /= 1_000_000_000;
        }
    }
    let mut text = if long.count < 0 {
        "-".to_owned()
    } else {
        String::new()
    };
    let mut rest = limbs.iter().rev();
    text.push_str(&rest.next().copied().unwrap_or(0).to_string());
    for limb in rest {
        text.push_str(&format!("{limb:09}"));
    }
    text
}

/// The tree as indented text lines.
pub(crate) fn text(tree: &CodeTree, indent: usize, lines: &mut Vec<String>) {
    match tree {
        CodeTree::Code(code) => code_text(code, indent, lines),
        // As a code object with no field known.
        CodeTree::Constant { .. } => {
            let pad = "  ".repeat(indent);
            lines.push(format!("{pad}- (line null, -)"));
            lines.push(format!(
                "{pad}  args - posonly - kwonly -  stack -  flags -"
            ));
        }
    }
}

fn code_text(code: &CodeObject, indent: usize, lines: &mut Vec<String>) {
    let pad = "  ".repeat(indent);
    let name = code.qualname.as_ref().or(code.name.as_ref());
    lines.push(format!(
        "{pad}{} (line {}, {})",
        name.map_or("-", String::as_str),
        code.firstlineno
            .map_or("null".to_owned(), |n| n.to_string()),
        code.filename.as_deref().unwrap_or("-")
    ));
    let count = |value: Option<i32>| value.map_or("-".into(), |v| v.to_string());
    lines.push(format!(
        "{pad}  args {} posonly {} kwonly {}  stack {}  flags {}",
        count(code.argcount),
        count(code.posonlyargcount),
        count(code.kwonlyargcount),
        count(code.stacksize),
        if code.flags.is_empty() {
            "-".into()
        } else {
            code.flags.join("|")
        }
    ));
    if !code.constants.is_empty() {
        lines.push(format!("{pad}  constants {}", code.constants.join(", ")));
    }
    for child in &code.children {
        code_text(child, indent + 1, lines);
    }
}

#[cfg(test)]
mod tests {
    use pycache::marshal::Long;

    #[test]
    fn longs_in_decimal() {
        let long = |count, digits: &[u16]| {
            super::long_text(&Long {
                count,
                digits: digits.to_vec(),
            })
        };
        assert_eq!(long(3, &[0, 0, 1]), (1u64 << 30).to_string());
        assert_eq!(long(-2, &[5, 1]), format!("-{}", (1u64 << 15) + 5));
        assert_eq!(long(5, &[0x7fff; 5]), ((1u128 << 75) - 1).to_string());
    }

    #[test]
    fn flags_by_name() {
        assert_eq!(
            super::flag_names(0x43),
            ["OPTIMIZED", "NEWLOCALS", "NOFREE"]
        );
        assert_eq!(super::flag_names(0x1000_0001), ["OPTIMIZED", "0x10000000"]);
    }
}
