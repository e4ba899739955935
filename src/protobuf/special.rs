//! JSON forms of the special well-known types that have no field-by-field mapping:
//! `metav1.Time`/`MicroTime` and `metav1.Duration` (Go `time.Duration` strings).

use serde_json::Value;

use super::ProtobufError;

/// Seconds of Go's zero `time.Time` (January 1, year 1, UTC) since the Unix epoch.
pub(super) const GO_ZERO_TIME_SECONDS: i64 = -62_135_596_800;

/// Formats a timestamp like Go's `metav1.Time` (RFC 3339, seconds) or
/// `metav1.MicroTime` (RFC 3339 with 6 fractional digits); Go's zero time is null.
pub(super) fn format_time(seconds: i64, nanos: i64, micro: bool) -> Result<Value, ProtobufError> {
    let bad = ProtobufError::InvalidTimestamp { seconds, nanos };
    let secs = seconds
        .checked_add(nanos.div_euclid(1_000_000_000))
        .ok_or_else(|| bad.clone())?;
    let sub = u32::try_from(nanos.rem_euclid(1_000_000_000)).map_err(|_| bad.clone())?;
    if secs == GO_ZERO_TIME_SECONDS && sub == 0 {
        return Ok(Value::Null);
    }
    let t = chrono::DateTime::from_timestamp(secs, sub).ok_or(bad)?;
    let fmt = if micro {
        "%Y-%m-%dT%H:%M:%S%.6fZ"
    } else {
        "%Y-%m-%dT%H:%M:%SZ"
    };
    Ok(Value::String(t.format(fmt).to_string()))
}

/// Formats nanoseconds like Go's `time.Duration.String()` (`1h0m0s`, `1.5s`, `100ms`).
pub(super) fn go_duration(nanos: i64) -> String {
    fn frac(v: u64, prec: u32) -> (String, u64) {
        let pow = 10u64.pow(prec);
        let f = v % pow;
        if f == 0 {
            return (String::new(), v / pow);
        }
        let digits = format!("{f:0width$}", width = prec as usize);
        (format!(".{}", digits.trim_end_matches('0')), v / pow)
    }
    if nanos == 0 {
        return "0s".into();
    }
    let u = nanos.unsigned_abs();
    let body = if u < 1_000_000_000 {
        let (prec, unit) = if u < 1_000 {
            (0, "ns")
        } else if u < 1_000_000 {
            (3, "µs")
        } else {
            (6, "ms")
        };
        let (f, int) = frac(u, prec);
        format!("{int}{f}{unit}")
    } else {
        let (f, mut rest) = frac(u, 9);
        let mut s = format!("{}{f}s", rest % 60);
        rest /= 60;
        if rest > 0 {
            s = format!("{}m{s}", rest % 60);
            rest /= 60;
            if rest > 0 {
                s = format!("{rest}h{s}");
            }
        }
        s
    };
    if nanos < 0 {
        format!("-{body}")
    } else {
        body
    }
}
