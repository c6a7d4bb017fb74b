use super::*;
use proptest::prelude::*;

const V311: Format = Format {
    code: CodeLayout::V311,
    version: 4,
};

const V314: Format = Format {
    code: CodeLayout::V311,
    version: 5,
};

#[test]
fn round_trip_keeps_flags_refs_and_string_codes() {
    let bytes = b")\x05\xfa\x01xr\x00\x00\x00\x00Z\x01xa\x01\x00\x00\x00x\xe9\x05\x00\x00\x00";
    let object = read(bytes, V311).unwrap();
    assert_eq!(write(&object), bytes);
}

#[test]
fn errors_name_the_offset() {
    assert_eq!(
        read(b")\x01i\x01\x00", V311),
        Err(MarshalError::Truncated {
            offset: 3,
            needed: 2
        })
    );
    assert_eq!(
        read(b")\x01?", V311),
        Err(MarshalError::UnknownType {
            offset: 2,
            code: b'?'
        })
    );
    assert_eq!(
        read(b"NN", V311),
        Err(MarshalError::TrailingBytes { offset: 1 })
    );
    assert_eq!(
        read(b")\x01r\x00\x00\x00\x00", V311),
        Err(MarshalError::BadRef {
            offset: 2,
            index: 0,
            count: 0
        })
    );
    assert_eq!(
        read(b"\xa9\x01r\x00\x00\x00\x00", V311),
        Err(MarshalError::RefInsideItself {
            offset: 2,
            index: 0
        })
    );
}

#[test]
fn huge_lengths_are_refused_before_allocating() {
    for bytes in [
        &b"s\xff\xff\xff\xff"[..],
        b"(\xff\xff\xff\xff",
        b"[\xff\xff\xff\x7f",
        b"l\xff\xff\xff\x7f",
        b"a\x00\x00\x00\x10xyz",
    ] {
        assert!(
            matches!(
                read(bytes, V311),
                Err(MarshalError::BadLength { offset: 5, .. })
            ),
            "{bytes:?}"
        );
    }
}

#[test]
fn nesting_is_limited() {
    let nested = |depth: usize| {
        let mut bytes = b")\x01".repeat(depth);
        bytes.push(b'N');
        bytes
    };
    // Reading, writing, canonicalizing and dropping the deepest stream fit a test thread's
    // stack even unoptimized.
    let deepest = nested(MAX_DEPTH - 1);
    assert_eq!(write(&read(&deepest, V311).unwrap()), deepest);
    assert_eq!(canonical(&deepest, V311).unwrap(), deepest);
    let mut tree = read(&deepest, V311).unwrap();
    tree::repoint(&mut tree, b"/x");
    assert_eq!(rewrite_filename(&deepest, V311, b"/x").unwrap(), deepest);
    assert_eq!(
        read(&nested(MAX_DEPTH), V311),
        Err(MarshalError::TooDeep {
            offset: 2 * MAX_DEPTH,
            limit: MAX_DEPTH
        })
    );
}

#[test]
fn slices_only_in_version_5() {
    let bytes = b":NNi\x01\x00\x00\x00";
    assert!(matches!(
        read(bytes, V311),
        Err(MarshalError::UnknownType { code: b':', .. })
    ));
    assert_eq!(write(&read(bytes, V314).unwrap()), bytes);
}

#[test]
fn canonical_drops_unused_flags_and_shares_equal_values() {
    // (flagged 'x', 'x' again written in full, flagged 'y' unused, a ref to 'x').
    let bytes = b")\x04\xfa\x01xz\x01x\xfa\x01yr\x00\x00\x00\x00";
    assert_eq!(
        canonical(bytes, V311).unwrap(),
        b")\x04\xfa\x01xr\x00\x00\x00\x00z\x01yr\x00\x00\x00\x00"
    );
    // Renumbered: the first flagged object is unused, so the second becomes reference 0.
    let bytes = b")\x03\xfa\x01x\xfa\x01yr\x01\x00\x00\x00";
    assert_eq!(
        canonical(bytes, V311).unwrap(),
        b")\x03z\x01x\xfa\x01yr\x00\x00\x00\x00"
    );
    // Interned and not interned stay apart; equal tuples are shared whole.
    let bytes = b")\x04Z\x01xz\x01x)\x01i\x01\x00\x00\x00)\x01i\x01\x00\x00\x00";
    assert_eq!(
        canonical(bytes, V311).unwrap(),
        b")\x04Z\x01xz\x01x\xa9\x01i\x01\x00\x00\x00r\x00\x00\x00\x00"
    );
}

#[test]
fn surrogates_are_encoded_as_surrogatepass() {
    assert_eq!(
        filename::encode_surrogatepass(b"/a/\xc3\xa9\xff"),
        b"/a/\xc3\xa9\xed\xb3\xbf"
    );
}

/// A code object (3.11 layout) whose filename is `filename`, holding `inner` in its constants.
fn code(filename: Object, inner: Vec<Object>) -> Object {
    let s = |text: &str| {
        Object::new(Value::Str(Str {
            kind: StrKind::ShortAscii,
            data: text.into(),
        }))
    };
    let mut fields = Vec::new();
    for &name in CodeLayout::V311.fields() {
        fields.push(match name {
            n if n.is_int() => Field::Int(0),
            FieldName::Code
            | FieldName::Linetable
            | FieldName::Exceptiontable
            | FieldName::Localspluskinds => Field::Object(Object::new(Value::Bytes(Vec::new()))),
            FieldName::Consts => Field::Object(Object::new(Value::Tuple {
                small: true,
                items: inner.clone(),
            })),
            FieldName::Filename => Field::Object(filename.clone()),
            FieldName::Names | FieldName::Localsplusnames => {
                Field::Object(Object::new(Value::Tuple {
                    small: true,
                    items: vec![],
                }))
            }
            _ => Field::Object(s("f")),
        });
    }
    Object::new(Value::Code(Box::new(Code {
        layout: CodeLayout::V311,
        fields,
    })))
}

#[test]
fn rewrite_filename_replaces_shared_and_separate_copies() {
    let flagged = Object {
        flag_ref: true,
        value: Value::Str(Str {
            kind: StrKind::ShortAsciiInterned,
            data: b"/a.py".to_vec(),
        }),
    };
    let separate = Object::new(Value::Str(Str {
        kind: StrKind::ShortAscii,
        data: b"/a.py".to_vec(),
    }));
    // Stream order: the first inner code's filename is written in full and flagged, the
    // second's separately, and the outer code's is a reference to the first.
    let inner = vec![code(flagged, vec![]), code(separate, vec![])];
    let bytes = write(&code(Object::new(Value::Ref(0)), inner));
    let out = rewrite_filename(&bytes, V311, "/é".as_bytes()).unwrap();
    let expected = {
        let flagged = Object {
            flag_ref: true,
            value: Value::Str(Str {
                kind: StrKind::Interned,
                data: "/é".into(),
            }),
        };
        let separate = Object::new(Value::Str(Str {
            kind: StrKind::Unicode,
            data: "/é".into(),
        }));
        write(&code(
            Object::new(Value::Ref(0)),
            vec![code(flagged, vec![]), code(separate, vec![])],
        ))
    };
    assert_eq!(out, expected);
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::None),
        Just(Value::True),
        Just(Value::Ellipsis),
        any::<i32>().prop_map(Value::Int),
        any::<u64>().prop_map(Value::Float),
        prop::collection::vec(any::<u8>(), 0..4).prop_map(Value::Bytes),
        (0..6usize, prop::collection::vec(b'a'..=b'c', 0..3)).prop_map(|(k, data)| {
            let kinds = [b'z', b'Z', b'a', b'A', b'u', b't'];
            Value::Str(Str {
                kind: StrKind::from_code(kinds[k]).unwrap(),
                data,
            })
        }),
    ]
}

fn object() -> impl Strategy<Value = Object> {
    let leaf = (any::<bool>(), leaf()).prop_map(|(flag_ref, value)| Object { flag_ref, value });
    leaf.prop_recursive(4, 40, 5, |inner| {
        (any::<bool>(), 0..4usize, prop::collection::vec(inner, 0..5)).prop_map(
            |(flag_ref, kind, items)| {
                let value = match kind {
                    0 => Value::Tuple { small: true, items },
                    1 => Value::Tuple {
                        small: false,
                        items,
                    },
                    2 => Value::List(items),
                    _ => Value::FrozenSet(items),
                };
                Object { flag_ref, value }
            },
        )
    })
}

/// Appends a reference to every object that joins the reference list, as marshal would.
fn with_refs(object: Object) -> Object {
    fn slots(o: &Object, n: &mut u32) {
        if o.flag_ref && !matches!(o.value, Value::None | Value::True | Value::Ellipsis) {
            *n += 1;
        }
        if let Value::Tuple { items, .. } | Value::List(items) | Value::FrozenSet(items) = &o.value
        {
            items.iter().for_each(|i| slots(i, n));
        }
    }
    let mut count = 0;
    slots(&object, &mut count);
    let refs = (0..count).map(|i| Object::new(Value::Ref(i))).collect();
    let refs = Object::new(Value::Tuple {
        small: false,
        items: refs,
    });
    Object::new(Value::Tuple {
        small: false,
        items: vec![object, refs],
    })
}

proptest! {
    #[test]
    fn any_bytes_read_without_panic_and_round_trip(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(object) = read(&bytes, V314) {
            prop_assert_eq!(write(&object), bytes.clone());
            let canonical = canonical(&bytes, V314).unwrap();
            prop_assert_eq!(super::canonical(&canonical, V314).unwrap(), canonical);
            let moved = rewrite_filename(&bytes, V314, b"/x/\xff.py").unwrap();
            prop_assert!(read(&moved, V314).is_ok());
        }
    }

    #[test]
    fn objects_round_trip_and_canonical_is_stable(object in object()) {
        let object = with_refs(object);
        let bytes = write(&object);
        prop_assert_eq!(&read(&bytes, V311).unwrap(), &object);
        let once = canonical(&bytes, V311).unwrap();
        prop_assert_eq!(canonical(&once, V311).unwrap(), once.clone());
    }
}

/// A stream of code objects whose filenames are written every way an interpreter (or a
/// hostile writer) may: a flagged string named by references, a plain copy, a flagged copy no
/// one names, a reference to a flagged constant, something that is not a string.
fn code_stream() -> impl Strategy<Value = Object> {
    let filename = (0..6usize, 0..4usize, any::<bool>()).prop_map(|(how, kind, flag_ref)| {
        let kinds = [b'z', b'Z', b'a', b't'];
        let s = Value::Str(Str {
            kind: StrKind::from_code(kinds[kind]).unwrap(),
            data: b"/a.py".to_vec(),
        });
        match how {
            0 => Object::new(Value::Ref(0)),
            1 => Object::new(Value::Ref(1)),
            2 => Object { flag_ref, value: s },
            3 => Object::new(Value::Int(1)),
            4 => Object {
                flag_ref,
                value: Value::Dict(vec![(Object::new(Value::None), Object::new(Value::True))]),
            },
            _ => Object::new(s),
        }
    });
    let codes = prop::collection::vec((filename, prop::collection::vec(object(), 0..3)), 0..4);
    codes.prop_map(|codes| {
        // Reference 0 is a flagged filename string, reference 1 a flagged tuple.
        let mut items = vec![
            Object {
                flag_ref: true,
                value: Value::Str(Str {
                    kind: StrKind::ShortAsciiInterned,
                    data: b"/a.py".to_vec(),
                }),
            },
            Object {
                flag_ref: true,
                value: Value::Tuple {
                    small: true,
                    items: vec![],
                },
            },
        ];
        items.extend(codes.into_iter().map(|(f, inner)| code(f, inner)));
        let inner = Object::new(Value::Tuple { small: true, items });
        code(Object::new(Value::Ref(0)), vec![inner])
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn streaming_canonical_is_the_tree_canonical_on_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        for format in [V311, V314] {
            prop_assert_eq!(canonical(&bytes, format), tree_reference::canonical(&bytes, format));
            prop_assert_eq!(
                rewrite_filename(&bytes, format, b"/x/\xff.py"),
                tree_reference::rewrite_filename(&bytes, format, b"/x/\xff.py")
            );
        }
    }

    #[test]
    fn streaming_canonical_is_the_tree_canonical_on_objects(object in object()) {
        let bytes = write(&with_refs(object));
        prop_assert_eq!(canonical(&bytes, V311), tree_reference::canonical(&bytes, V311));
    }

    #[test]
    fn kept_spots_are_checked_against_the_payload_and_never_panic(
        object in code_stream(),
        spots in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let bytes = write(&object);
        if let Some(spots) = FilenameSpots::from_bytes(&spots, &bytes) {
            let _ = spots.apply(&bytes, b"/x.py");
        }
        let found = FilenameSpots::find(&bytes, V311).unwrap();
        let mut kept = found.to_bytes();
        prop_assert_eq!(FilenameSpots::from_bytes(&kept, &bytes), Some(found));
        // None at all is "not known" (every code object has a filename): the caller scans.
        prop_assert_eq!(FilenameSpots::from_bytes(&[], &bytes), None);
        // A string spot must end where its length says.
        if let Some(first) = kept.chunks_exact(9).position(|spot| spot[0] != 0) {
            let mut shorter = kept.clone();
            let end = &mut shorter[first * 9 + 5..first * 9 + 9];
            let value = u32::from_le_bytes((&*end).try_into().unwrap()) - 1;
            end.copy_from_slice(&value.to_le_bytes());
            prop_assert_eq!(FilenameSpots::from_bytes(&shorter, &bytes), None);
        }
        // Spots that do not fit the payload are refused: one past its end, or out of order.
        if let Some(last) = kept.len().checked_sub(4) {
            kept[last..].copy_from_slice(&(bytes.len() as u32 + 1).to_le_bytes());
            prop_assert_eq!(FilenameSpots::from_bytes(&kept, &bytes), None);
        }
    }

    #[test]
    fn streaming_passes_are_the_tree_ones_on_code(object in code_stream(), cut in any::<prop::sample::Index>()) {
        let bytes = write(&object);
        let spots = FilenameSpots::find(&bytes, V311).unwrap();
        for path in [&b"/b.py"[..], "/é/x.py".as_bytes(), &[b'/'; 300][..]] {
            let moved = rewrite_filename(&bytes, V311, path);
            prop_assert_eq!(&moved, &tree_reference::rewrite_filename(&bytes, V311, path));
            let moved = moved.unwrap();
            prop_assert_eq!(&spots.apply(&bytes, path), &moved);
            // In pieces: none empty, as long as the whole.
            let splice = spots.splice(&bytes, path);
            prop_assert!(splice.pieces(&bytes).all(|piece| !piece.is_empty()));
            prop_assert_eq!(splice.len(), moved.len());
            prop_assert_eq!(canonical(&moved, V311), tree_reference::canonical(&moved, V311));
        }
        prop_assert_eq!(canonical(&bytes, V311), tree_reference::canonical(&bytes, V311));
        // Cut short or damaged anywhere: the same error.
        let cut = cut.index(bytes.len());
        prop_assert_eq!(canonical(&bytes[..cut], V311), tree_reference::canonical(&bytes[..cut], V311));
        let mut damaged = bytes.clone();
        damaged[cut] ^= 0x80;
        prop_assert_eq!(canonical(&damaged, V311), tree_reference::canonical(&damaged, V311));
        prop_assert_eq!(
            rewrite_filename(&damaged, V311, b"/b.py"),
            tree_reference::rewrite_filename(&damaged, V311, b"/b.py")
        );
    }
}

#[test]
fn rewrite_filename_writes_a_flagged_dict_end_plainly_as_the_tree_does() {
    // A dict whose closing NULL carries FLAG_REF: the reader drops the flag.
    let bytes = b"{N\xe9\x01\x00\x00\x00\xb0";
    let out = rewrite_filename(bytes, V311, b"/x").unwrap();
    assert_eq!(out, b"{N\xe9\x01\x00\x00\x00\x30");
    assert_eq!(
        out,
        tree_reference::rewrite_filename(bytes, V311, b"/x").unwrap()
    );
}

#[test]
fn canonical_writes_tuples_below_256_items_with_a_one_byte_count() {
    for len in [0usize, 3, 255, 256, 300] {
        // Distinct ints, so that nothing is shared.
        let items = (0..len as i32)
            .map(|i| Object::new(Value::Int(i)))
            .collect();
        let tuple = |small| {
            write(&Object::new(Value::Tuple {
                small,
                items: Vec::clone(&items),
            }))
        };
        let expected = tuple(len < 256);
        assert_eq!(canonical(&tuple(false), V311).unwrap(), expected, "{len}");
        assert_eq!(
            canonical(&tuple(false), V311),
            tree_reference::canonical(&tuple(false), V311)
        );
    }
}
