//! Wall-clock times in the target's local zone, as `date` prints them (the C library reads
//! TZ and /etc/localtime itself: no NSS is involved).

use std::ffi::CString;

extern "C" {
    // Not in the libc crate; POSIX, and glibc's localtime_r does not promise to call it.
    fn tzset();
}

pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// strftime(FORMAT) of EPOCH in local time.
pub fn format_local(epoch: i64, format: &str) -> String {
    let Ok(fmt) = CString::new(format) else { return String::new() };
    let t: libc::time_t = epoch as libc::time_t;
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let mut buf = [0u8; 128];
    // SAFETY: tm and buf outlive the calls; strftime writes at most buf.len() bytes.
    static TZ: std::sync::Once = std::sync::Once::new();
    // SAFETY: tzset only reads TZ and /etc/localtime into the C library's zone state.
    TZ.call_once(|| unsafe { tzset() });
    let n = unsafe {
        if libc::localtime_r(&t, &mut tm).is_null() {
            return String::new();
        }
        libc::strftime(buf.as_mut_ptr().cast(), buf.len(), fmt.as_ptr(), &tm)
    };
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// systemd's relative timestamp ("3min 2s ago").
pub fn ago(seconds: i64) -> String {
    let s = seconds.max(0);
    if s >= 172800 {
        format!("{} days ago", s / 86400)
    } else if s >= 90000 {
        format!("1 day {}h ago", (s - 86400) / 3600)
    } else if s >= 21600 {
        format!("{}h ago", s / 3600)
    } else if s >= 3600 {
        format!("{}h {}min ago", s / 3600, s % 3600 / 60)
    } else if s >= 300 {
        format!("{}min ago", s / 60)
    } else if s >= 60 {
        format!("{}min {}s ago", s / 60, s % 60)
    } else {
        format!("{s}s ago")
    }
}

/// A systemd time span (90, 90s, 2min, 500ms, infinity) in milliseconds; DEFAULT seconds
/// when it cannot be read. 0 means no bound, as in systemd.
pub fn span_ms(value: &str, default_secs: u64) -> u64 {
    const FOREVER: u64 = 86_400_000;
    if value == "infinity" {
        return FOREVER;
    }
    let (number, scale) = if let Some(n) = value.strip_suffix("ms") {
        (n, 1)
    } else if let Some(n) = value.strip_suffix("min") {
        (n, 60_000)
    } else if let Some(n) = value.strip_suffix('s') {
        (n, 1000)
    } else {
        (value, 1000)
    };
    let ms = match number.parse::<u64>() {
        Ok(n) if !number.is_empty() => n.saturating_mul(scale),
        _ => default_secs * 1000,
    };
    if ms == 0 {
        FOREVER
    } else {
        ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans() {
        assert_eq!(span_ms("90", 5), 90_000);
        assert_eq!(span_ms("2min", 5), 120_000);
        assert_eq!(span_ms("500ms", 5), 500);
        assert_eq!(span_ms("1min 30s", 5), 5000);
        assert_eq!(span_ms("", 90), 90_000);
        assert_eq!(span_ms("0", 90), 86_400_000);
    }

    #[test]
    fn relative_times() {
        assert_eq!(ago(5), "5s ago");
        assert_eq!(ago(125), "2min 5s ago");
        assert_eq!(ago(7300), "2h 1min ago");
        assert_eq!(ago(200000), "2 days ago");
    }
}
