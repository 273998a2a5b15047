//! Bad values quoted in errors: at most [`QUOTED_BYTES`] of them, cut at a character boundary,
//! with the length of what was left out, so an error names the value without repeating a
//! megabyte of it (a CSV field, a header, a request header).

/// Bytes of a bad value quoted in an error; the rest is counted, not shown.
pub const QUOTED_BYTES: usize = 200;

/// At most [`QUOTED_BYTES`] of `value`, cut at a character boundary, with the length of what was
/// left out.
pub fn excerpt(value: &str) -> String {
    if value.len() <= QUOTED_BYTES {
        return value.to_owned();
    }
    let mut end = QUOTED_BYTES;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} more bytes)", &value[..end], value.len() - end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_cut_by_bytes_at_a_character_boundary() {
        assert_eq!(excerpt("short"), "short");
        // 100 two-byte characters and one more: 202 bytes, cut after 200.
        let long = "é".repeat(101);
        let cut = excerpt(&long);
        assert!(cut.starts_with(&"é".repeat(100)));
        assert!(cut.ends_with("… (2 more bytes)"), "{cut}");
        // A three-byte character straddling byte 200 is left out whole.
        let straddle = format!("{}€", "a".repeat(199));
        assert_eq!(
            excerpt(&straddle),
            format!("{}… (3 more bytes)", "a".repeat(199))
        );
    }
}
