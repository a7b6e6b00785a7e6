//! Units as people write them and as sandbox writes them back: durations (`90s`, `10m`, a bare
//! number of seconds), Docker-style memory sizes (`512m`), sizes as images are measured
//! (`150MB`, `1.5 GiB`). The CLI, the settings and `challenge.toml` read them alike.

use std::time::Duration;

/// `90s`, `10m`, `1h`, `1h 30m` (humantime), or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    // A bare number is seconds, as `timeout = 90` reads in Ansible and Docker alike.
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().map(Duration::from_secs).map_err(|_| format!("`{text}` is too long"));
    }
    humantime::parse_duration(text).map_err(|err| match err {
        humantime::DurationError::NumberOverflow => format!("`{text}` is too long"),
        err => format!("`{text}` is not a duration like 90s, 10m or 1h ({err})"),
    })
}

/// A size as a limit is written (`1 GiB`, `512 MiB`), or to a tenth (`470.8 MiB`).
pub fn format_size(bytes: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    const GIB: u64 = 1024 * MIB;
    match bytes {
        _ if bytes >= GIB && bytes.is_multiple_of(GIB) => format!("{} GiB", bytes / GIB),
        _ if bytes >= MIB && bytes.is_multiple_of(MIB) => format!("{} MiB", bytes / MIB),
        _ if bytes >= GIB => format!("{:.1} GiB", bytes as f64 / GIB as f64),
        _ => format!("{:.1} MiB", bytes as f64 / MIB as f64),
    }
}

/// Docker-style sizes: `512m`, `1g`, `262144k`, bytes when bare.
pub fn parse_memory(text: &str) -> Result<u64, String> {
    let lower = text.trim().to_ascii_lowercase();
    let split = lower.find(|c: char| !c.is_ascii_digit()).unwrap_or(lower.len());
    let (number, unit) = lower.split_at(split);
    let number: u64 = number.parse().map_err(|_| format!("`{text}` is not a size like 512m or 1g"))?;
    let factor = match unit.trim_end_matches('b') {
        "" => 1,
        "k" => 1024,
        "m" => 1024 * 1024,
        "g" => 1024 * 1024 * 1024,
        _ => return Err(format!("unknown unit `{unit}`: use k, m or g")),
    };
    // Checked: `17179869185g` wrapped to 1g in release builds and panicked in debug ones.
    number.checked_mul(factor).ok_or_else(|| format!("`{text}` is too large"))
}

/// `150MB`, `1.5 GiB`, `80m`: sizes as people write them (bytesize reads both SI and IEC).
pub fn parse_size(text: &str) -> Result<u64, String> {
    text.trim()
        .parse::<bytesize::ByteSize>()
        .map(|size| size.as_u64())
        .map_err(|_| format!("`{text}` is not a size like 150MB or 1GiB"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_limits_are_written() {
        assert_eq!(format_size(1 << 30), "1 GiB");
        assert_eq!(format_size(2047 << 20), "2047 MiB");
        assert_eq!(format_size(493_658_112), "470.8 MiB");
        assert_eq!(format_size(20_482_613_248), "19.1 GiB");
    }

    #[test]
    fn durations_and_sizes_parse() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("45").unwrap(), Duration::from_secs(45));
        assert!(parse_duration("ten").is_err());
        assert_eq!(parse_memory("512m").unwrap(), 512 * 1024 * 1024);
        assert_eq!(parse_memory("1G").unwrap(), 1024 * 1024 * 1024);
        assert!(parse_memory("lots").is_err());
    }

    #[test]
    fn oversized_durations_and_sizes_are_refused_not_wrapped() {
        // Found writing the tests/fuzz challenge_loader target: the unit multiplication overflowed.
        assert!(parse_duration("9999999999999999999h").unwrap_err().contains("too long"));
        assert!(parse_duration("307445734561825861m").is_err());
        assert_eq!(parse_duration("18446744073709551615").unwrap(), Duration::from_secs(u64::MAX));
        assert!(parse_memory("17179869185g").unwrap_err().contains("too large"));
        assert!(parse_memory("18014398509481984k").is_err());
        assert_eq!(parse_memory("17179869183g").unwrap(), 17179869183 * 1024 * 1024 * 1024);
    }

    #[test]
    fn sizes_read_as_written() {
        assert_eq!(parse_size("150MB").unwrap(), 150_000_000);
        assert_eq!(parse_size("1 GiB").unwrap(), 1 << 30);
        assert!(parse_size("huge").is_err());
    }
}
