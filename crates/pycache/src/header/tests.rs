use super::*;
use proptest::prelude::*;

fn layouts() -> impl Strategy<Value = HeaderLayout> {
    prop_oneof![
        Just(HeaderLayout::MagicMtime),
        Just(HeaderLayout::MagicMtimeSize),
        Just(HeaderLayout::Pep552),
    ]
}

proptest! {
    #[test]
    fn timestamp_headers_round_trip(layout in layouts(), number: u16, mtime: u32, size: u32) {
        let header = PycHeader::timestamp(Magic::from_number(number), layout, mtime, size);
        let bytes = header.to_bytes();
        prop_assert_eq!(bytes.len(), layout.len());
        prop_assert_eq!(PycHeader::parse(&bytes, layout).unwrap(), header);
    }

    #[test]
    fn hash_headers_round_trip(number: u16, checked: bool, hash: [u8; 8]) {
        let header = PycHeader::hash_based(Magic::from_number(number), checked, hash);
        let bytes = header.to_bytes();
        prop_assert_eq!(PycHeader::parse(&bytes, HeaderLayout::Pep552).unwrap(), header);
    }

    #[test]
    fn parsing_arbitrary_bytes_never_panics(data: Vec<u8>) {
        let _ = PycHeader::parse_any(&data);
        for layout in [HeaderLayout::MagicMtime, HeaderLayout::MagicMtimeSize, HeaderLayout::Pep552] {
            let _ = PycHeader::parse(&data, layout);
        }
    }
}

#[test]
fn flags_above_bit_one_are_rejected_and_flags_two_is_a_timestamp() {
    let mut data =
        PycHeader::timestamp(Magic::from_number(3531), HeaderLayout::Pep552, 7, 9).to_bytes();
    data[4] = 4;
    assert_eq!(
        PycHeader::parse(&data, HeaderLayout::Pep552),
        Err(HeaderError::InvalidFlags(4))
    );
    data[4] = 2;
    let header = PycHeader::parse(&data, HeaderLayout::Pep552).unwrap();
    assert_eq!(
        header.invalidation,
        Invalidation::Timestamp {
            mtime: 7,
            size: Some(9)
        }
    );
}

#[test]
fn mtime_truncates_like_python_int_of_a_float() {
    assert_eq!(python_mtime(1_700_000_000, 900_000_000), 1_700_000_000);
    assert_eq!(python_mtime(-6, 700_000_000), -5);
    // 1700000000.999999999 is not representable; the nearest double is 1700000001.0.
    assert_eq!(python_mtime(1_700_000_000, 999_999_999), 1_700_000_001);
    assert_eq!(mask_u32(-5), 0xffff_fffb);
    assert_eq!(mask_u32((1 << 32) + 5), 5);
}
