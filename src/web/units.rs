//! Values as people read them: binary byte units (KiB, MiB, GiB), percents,
//! rates per second, durations, temperatures and plain counts, each with at
//! most three significant digits; and times as UTC minutes.

use crate::series::Unit;

/// `value` in `unit`, formatted for a page.
pub fn format(value: f64, unit: Unit) -> String {
    if !value.is_finite() {
        return "–".to_string();
    }
    match unit {
        Unit::Percent => format!("{}%", significant(value)),
        Unit::Bytes => bytes(value),
        Unit::BytesPerSecond => format!("{}/s", bytes(value)),
        Unit::PerSecond => format!("{}/s", significant(value)),
        Unit::Seconds => duration(value),
        Unit::Milliseconds => {
            if value.abs() >= 1000.0 {
                duration(value / 1000.0)
            } else {
                format!("{} ms", significant(value))
            }
        }
        Unit::Celsius => format!("{} °C", significant(value)),
        Unit::Count => count(value),
    }
}

fn bytes(value: f64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = value;
    let mut i = 0;
    while v.abs() >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        return format!("{} B", v.round());
    }
    format!("{} {}", significant(v), UNITS[i])
}

fn count(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude >= 1e9 {
        format!("{}G", significant(value / 1e9))
    } else if magnitude >= 1e6 {
        format!("{}M", significant(value / 1e6))
    } else if magnitude >= 1e4 {
        format!("{}k", significant(value / 1e3))
    } else {
        significant(value)
    }
}

fn duration(seconds: f64) -> String {
    let s = seconds.max(0.0);
    if s < 60.0 {
        format!("{} s", significant(s))
    } else if s < 3600.0 {
        format!("{} min", significant(s / 60.0))
    } else if s < 86_400.0 {
        format!("{} h", significant(s / 3600.0))
    } else {
        format!("{} d", significant(s / 86_400.0))
    }
}

/// Three significant digits, no trailing zeros.
fn significant(v: f64) -> String {
    let magnitude = v.abs();
    let decimals = if magnitude >= 100.0 || magnitude == 0.0 {
        0
    } else if magnitude >= 10.0 {
        1
    } else {
        2
    };
    let text = format!("{v:.decimals$}");
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    };
    if text == "-0" { "0".to_string() } else { text }
}

/// A Unix time in seconds as `2026-12-01 10:30 UTC`.
pub fn utc_minute(ts: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp(ts)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| "unknown".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_utc_minutes() {
        assert_eq!(utc_minute(1_764_585_000), "2025-12-01 10:30 UTC");
    }

    #[test]
    fn every_unit_reads_the_human_way() {
        let table: &[(f64, Unit, &str)] = &[
            (0.0, Unit::Bytes, "0 B"),
            (512.0, Unit::Bytes, "512 B"),
            (1536.0, Unit::Bytes, "1.5 KiB"),
            (10.0 * 1024.0 * 1024.0, Unit::Bytes, "10 MiB"),
            (123.4 * 1024.0 * 1024.0 * 1024.0, Unit::Bytes, "123 GiB"),
            (2048.0, Unit::BytesPerSecond, "2 KiB/s"),
            (42.0, Unit::Percent, "42%"),
            (3.1428, Unit::Percent, "3.14%"),
            (99.95, Unit::Percent, "100%"),
            (0.25, Unit::PerSecond, "0.25/s"),
            (45.0, Unit::Seconds, "45 s"),
            (5400.0, Unit::Seconds, "1.5 h"),
            (3.0 * 86_400.0, Unit::Seconds, "3 d"),
            (12.5, Unit::Milliseconds, "12.5 ms"),
            (2500.0, Unit::Milliseconds, "2.5 s"),
            (48.0, Unit::Celsius, "48 °C"),
            (0.07, Unit::Count, "0.07"),
            (183.0, Unit::Count, "183"),
            (25_000.0, Unit::Count, "25k"),
            (f64::NAN, Unit::Count, "–"),
            (-0.001, Unit::Count, "0"),
        ];
        for (value, unit, expected) in table {
            assert_eq!(format(*value, *unit), *expected, "{value} {unit:?}");
        }
    }
}
