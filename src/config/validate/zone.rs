//! Time zones: a configured zone name or offset to seconds east of UTC.

/// "UTC", "Z", "±HH:MM" (up to ±14:00) or an IANA zone name → seconds east of UTC. A zone
/// with daylight saving time gives its standard offset: weeks stay exactly 7 days, so that
/// weeks compare (in summer such a week starts at 01:00 local time).
pub(super) fn parse_offset(s: &str) -> Option<i32> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("utc") || s == "Z" {
        return Some(0);
    }
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return standard_offset(s),
    };
    let (h, m) = rest.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    (h <= 14 && m < 60 && h * 60 + m <= 14 * 60).then_some(sign * (h * 3600 + m * 60))
}

/// The standard (not daylight-saving) UTC offset of an IANA zone under its current rules.
fn standard_offset(name: &str) -> Option<i32> {
    use chrono::TimeZone;
    use chrono_tz::OffsetComponents;
    let tz: chrono_tz::Tz = name.parse().ok()?;
    let offset = tz.offset_from_utc_datetime(&chrono::Utc::now().naive_utc());
    i32::try_from(offset.base_utc_offset().num_seconds()).ok()
}

#[cfg(test)]
mod tests {
    use super::parse_offset;

    #[test]
    fn time_zones_are_offsets_or_zone_names_at_their_standard_offset() {
        assert_eq!(parse_offset("UTC"), Some(0));
        assert_eq!(parse_offset("+05:30"), Some(19_800));
        assert_eq!(parse_offset("-08:00"), Some(-28_800));
        assert_eq!(parse_offset("Europe/Berlin"), Some(3_600));
        assert_eq!(parse_offset("America/New_York"), Some(-18_000));
        assert_eq!(parse_offset("Asia/Kolkata"), Some(19_800));
        assert_eq!(parse_offset("Mars/Olympus"), None);
        assert_eq!(parse_offset("+15:00"), None);
        assert_eq!(parse_offset("+5"), None);
    }
}
