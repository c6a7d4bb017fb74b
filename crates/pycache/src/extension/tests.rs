use super::*;
use proptest::prelude::*;

#[test]
fn every_tag_form_parses() {
    let cases: &[(&str, &str)] = &[
        (
            "foo.cpython-312-x86_64-linux-gnu.so",
            "CPython 3.12 (x86_64-linux-gnu)",
        ),
        (
            "foo.cpython-36m-x86_64-linux-gnu.so",
            "CPython 3.6, flags m (x86_64-linux-gnu)",
        ),
        ("foo.cpython-32mu.so", "CPython 3.2, flags mu"),
        (
            "foo.cpython-313t-x86_64-linux-gnu.so",
            "CPython 3.13, flags t (x86_64-linux-gnu)",
        ),
        (
            "foo.cpython-312d-x86_64-linux-gnu.so",
            "CPython 3.12, flags d (x86_64-linux-gnu)",
        ),
        ("foo.cpython-312-darwin.so", "CPython 3.12 (darwin)"),
        ("foo.abi3.so", "stable ABI (abi3)"),
        ("foo.so", "untagged"),
        (
            "foo.pypy39-pp73-x86_64-linux-gnu.so",
            "PyPy 3.9 (pp73) (x86_64-linux-gnu)",
        ),
        (
            "foo.cp312-win_amd64.pyd",
            "CPython 3.12 on Windows (win_amd64)",
        ),
        (
            "foo_d.cp312-win_amd64.pyd",
            "CPython 3.12 on Windows (win_amd64), debug",
        ),
        ("foo.pyd", "untagged"),
        ("foo.weird.so", "unknown tag \"weird\""),
    ];
    for (name, description) in cases {
        let parsed = ExtensionName::parse(name).unwrap();
        assert_eq!(parsed.module, "foo", "{name}");
        assert_eq!(parsed.tag.describe(), *description, "{name}");
        assert_eq!(parsed.to_string(), *name);
    }
}

#[test]
fn names_that_are_not_extensions_are_refused_clearly() {
    for name in [
        "foo.py",
        "foo.so.1",
        "libfoo-bar.so",
        ".so",
        "foo",
        "1foo.abi3.so",
    ] {
        let error = ExtensionName::parse(name).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("not an extension module file name"),
            "{name}"
        );
    }
}

fn identifiers() -> impl Strategy<Value = String> {
    "[a-z_][a-z0-9_]{0,12}"
}

fn tags() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just(".abi3".to_owned()),
        (
            3u8..4,
            0u8..20,
            "[dmut]{0,2}",
            prop::option::of("[a-z0-9_]{1,8}(-[a-z0-9_]{1,8}){0,2}")
        )
            .prop_map(|(major, minor, flags, platform)| format!(
                ".cpython-{major}{minor}{flags}{}",
                platform.map(|p| format!("-{p}")).unwrap_or_default()
            )),
        (0u8..20, "pp[0-9]{2}", "[a-z0-9_]{1,8}")
            .prop_map(|(minor, abi, platform)| format!(".pypy3{minor}-{abi}-{platform}")),
    ]
}

proptest! {
    #[test]
    fn parsing_round_trips(module in identifiers(), tag in tags()) {
        let name = format!("{module}{tag}.so");
        let parsed = ExtensionName::parse(&name).unwrap();
        prop_assert_eq!(&parsed.module, &module);
        prop_assert_eq!(parsed.to_string(), name);
        prop_assert!(!matches!(parsed.tag, ExtensionTag::Other { .. }), "{:?}", parsed.tag);
    }

    #[test]
    fn parsing_never_panics(name in "\\PC{0,40}") {
        let _ = ExtensionName::parse(&name);
    }
}
