//! A port of the parts of `robfig/cron/v3`'s `ParseStandard` that upstream
//! CronJob validation relies on (5 fields or a descriptor), with its error texts.

struct Bounds {
    min: u64,
    max: u64,
    names: &'static [(&'static str, u64)],
}

const MINUTES: Bounds = Bounds {
    min: 0,
    max: 59,
    names: &[],
};
const HOURS: Bounds = Bounds {
    min: 0,
    max: 23,
    names: &[],
};
const DOM: Bounds = Bounds {
    min: 1,
    max: 31,
    names: &[],
};
const MONTHS: Bounds = Bounds {
    min: 1,
    max: 12,
    names: &[
        ("jan", 1),
        ("feb", 2),
        ("mar", 3),
        ("apr", 4),
        ("may", 5),
        ("jun", 6),
        ("jul", 7),
        ("aug", 8),
        ("sep", 9),
        ("oct", 10),
        ("nov", 11),
        ("dec", 12),
    ],
};
const DOW: Bounds = Bounds {
    min: 0,
    max: 6,
    names: &[
        ("sun", 0),
        ("mon", 1),
        ("tue", 2),
        ("wed", 3),
        ("thu", 4),
        ("fri", 5),
        ("sat", 6),
    ],
};

fn must_parse_int(expr: &str) -> Result<u64, String> {
    let num: i64 = match expr.parse::<i64>() {
        Ok(n) if !expr.starts_with('+') || expr.len() > 1 => n,
        Ok(n) => n,
        Err(e) => {
            let reason = if matches!(
                e.kind(),
                std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow
            ) {
                "value out of range"
            } else {
                "invalid syntax"
            };
            return Err(format!(
                "failed to parse int from {expr}: strconv.Atoi: parsing {}: {reason}",
                super::fmt::go_quote(expr)
            ));
        }
    };
    if num < 0 {
        return Err(format!("negative number ({num}) not allowed: {expr}"));
    }
    Ok(num as u64)
}

fn parse_int_or_name(expr: &str, b: &Bounds) -> Result<u64, String> {
    let lower = expr.to_lowercase();
    if let Some((_, n)) = b.names.iter().find(|(name, _)| *name == lower) {
        return Ok(*n);
    }
    must_parse_int(expr)
}

/// Bit set when a field was `*` or `?` (robfig's `starBit`), which changes how day-of-month and
/// day-of-week combine.
pub const STAR_BIT: u64 = 1 << 63;

fn get_range(expr: &str, b: &Bounds) -> Result<u64, String> {
    let range_and_step: Vec<&str> = expr.split('/').collect();
    let low_and_high: Vec<&str> = range_and_step[0].split('-').collect();
    let single = low_and_high.len() == 1;
    let (start, mut end);
    let mut extra = 0;
    if low_and_high[0] == "*" || low_and_high[0] == "?" {
        start = b.min;
        end = b.max;
        extra = STAR_BIT;
    } else {
        start = parse_int_or_name(low_and_high[0], b)?;
        end = match low_and_high.len() {
            1 => start,
            2 => parse_int_or_name(low_and_high[1], b)?,
            _ => return Err(format!("too many hyphens: {expr}")),
        };
    }
    let step = match range_and_step.len() {
        1 => 1,
        2 => {
            let s = must_parse_int(range_and_step[1])?;
            if single {
                end = b.max;
            }
            if s > 1 {
                extra = 0;
            }
            s
        }
        _ => return Err(format!("too many slashes: {expr}")),
    };
    if start < b.min {
        return Err(format!(
            "beginning of range ({start}) below minimum ({}): {expr}",
            b.min
        ));
    }
    if end > b.max {
        return Err(format!(
            "end of range ({end}) above maximum ({}): {expr}",
            b.max
        ));
    }
    if start > end {
        return Err(format!(
            "beginning of range ({start}) beyond end of range ({end}): {expr}"
        ));
    }
    if step == 0 {
        return Err(format!("step of range should be a positive number: {expr}"));
    }
    let mut bits = extra;
    let mut i = start;
    while i <= end {
        bits |= 1 << i;
        i += step;
    }
    Ok(bits)
}

fn get_field(field: &str, b: &Bounds) -> Result<u64, String> {
    let mut bits = 0;
    for expr in field.split(',') {
        bits |= get_range(expr, b)?;
    }
    Ok(bits)
}

/// A parsed schedule: robfig's `SpecSchedule` bit sets (seconds always 0) or `@every`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Schedule {
    /// Minute, hour, day-of-month, month and day-of-week bit sets ([`STAR_BIT`] marks `*`).
    Spec {
        /// Minutes 0–59.
        minute: u64,
        /// Hours 0–23.
        hour: u64,
        /// Days of the month 1–31.
        dom: u64,
        /// Months 1–12.
        month: u64,
        /// Days of the week 0–6 (Sunday = 0).
        dow: u64,
    },
    /// `@every <duration>`: a constant delay in whole seconds (at least one).
    Every(u64),
}

fn all(b: &Bounds) -> u64 {
    let mut bits = STAR_BIT;
    for i in b.min..=b.max {
        bits |= 1 << i;
    }
    bits
}

/// Parses a Go duration (`1h30m`, `90s`) into whole seconds, rounding down (at least 1).
fn go_duration_seconds(s: &str) -> Option<u64> {
    let re = regex::Regex::new(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)").ok()?;
    let mut total = 0f64;
    for c in re.captures_iter(s) {
        let n: f64 = c[1].parse().ok()?;
        total += n * match &c[2] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "ns" => 1e-9,
            _ => 1e-6,
        };
    }
    Some((total as u64).max(1))
}

/// Parses a standard 5-field cron spec or descriptor (robfig's `ParseStandard`) into a
/// [`Schedule`]; a `TZ=`/`CRON_TZ=` prefix is skipped (CronJobs use `spec.timeZone`).
pub fn parse(spec: &str) -> Result<Schedule, String> {
    parse_standard(spec)?;
    let mut spec = spec.trim();
    if spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=") {
        spec = spec.split_once(' ').map(|(_, r)| r.trim()).unwrap_or("");
    }
    let one = |n: u64| 1u64 << n;
    let (minute, hour, dom, month, dow) = match spec {
        "@yearly" | "@annually" => (one(0), one(0), one(1), one(1), all(&DOW)),
        "@monthly" => (one(0), one(0), one(1), all(&MONTHS), all(&DOW)),
        "@weekly" => (one(0), one(0), all(&DOM), all(&MONTHS), one(0)),
        "@daily" | "@midnight" => (one(0), one(0), all(&DOM), all(&MONTHS), all(&DOW)),
        "@hourly" => (one(0), all(&HOURS), all(&DOM), all(&MONTHS), all(&DOW)),
        s if s.starts_with("@every ") => {
            let secs = go_duration_seconds(&s["@every ".len()..])
                .ok_or_else(|| format!("failed to parse duration {s}"))?;
            return Ok(Schedule::Every(secs));
        }
        s => {
            let f: Vec<&str> = s.split_whitespace().collect();
            let [mi, h, d, mo, w] = f.as_slice() else {
                return Err(format!("expected exactly 5 fields, found {}", f.len()));
            };
            (
                get_field(mi, &MINUTES)?,
                get_field(h, &HOURS)?,
                get_field(d, &DOM)?,
                get_field(mo, &MONTHS)?,
                get_field(w, &DOW)?,
            )
        }
    };
    Ok(Schedule::Spec {
        minute,
        hour,
        dom,
        month,
        dow,
    })
}

fn parse_go_duration(s: &str) -> bool {
    // Accepts Go duration syntax such as "1h30m", "90s", "1.5h".
    let re = regex::Regex::new(r"^[-+]?((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+$");
    s == "0" || re.is_ok_and(|r| r.is_match(s))
}

/// Parses a standard 5-field cron spec or descriptor; returns upstream's error text.
pub fn parse_standard(spec: &str) -> Result<(), String> {
    if spec.is_empty() {
        return Err("empty spec string".to_string());
    }
    let mut spec = spec.to_string();
    if spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=") {
        let eq = spec.find('=').unwrap_or(0);
        match spec.find(' ') {
            Some(i) if i > eq => spec = spec[i..].trim().to_string(),
            _ => {
                return Err(format!(
                    "provided bad location {}: unknown time zone {}",
                    &spec[eq + 1..],
                    &spec[eq + 1..]
                ))
            }
        }
    }
    if spec.starts_with('@') {
        return match spec.as_str() {
            "@yearly" | "@annually" | "@monthly" | "@weekly" | "@daily" | "@midnight"
            | "@hourly" => Ok(()),
            s if s.starts_with("@every ") => {
                let d = &s["@every ".len()..];
                if parse_go_duration(d) {
                    Ok(())
                } else {
                    Err(format!(
                        "failed to parse duration {s}: time: invalid duration {}",
                        super::fmt::go_quote(d)
                    ))
                }
            }
            s => Err(format!("unrecognized descriptor: {s}")),
        };
    }
    let fields: Vec<&str> = spec.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!(
            "expected exactly 5 fields, found {}: [{}]",
            fields.len(),
            fields.join(" ")
        ));
    }
    for (f, b) in fields.iter().zip([&MINUTES, &HOURS, &DOM, &MONTHS, &DOW]) {
        get_field(f, b)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_standard;

    #[test]
    fn cron_specs() {
        assert!(parse_standard("*/5 * * * *").is_ok());
        assert!(parse_standard("0 0 1 jan mon-fri").is_ok());
        assert!(parse_standard("@hourly").is_ok());
        assert!(parse_standard("@every 1h30m").is_ok());
        assert_eq!(
            parse_standard("* * *"),
            Err("expected exactly 5 fields, found 3: [* * *]".to_string())
        );
        assert_eq!(
            parse_standard("61 * * * *"),
            Err("end of range (61) above maximum (59): 61".to_string())
        );
        assert_eq!(
            parse_standard("@fortnightly"),
            Err("unrecognized descriptor: @fortnightly".to_string())
        );
        assert_eq!(
            parse_standard("x * * * *"),
            Err(
                "failed to parse int from x: strconv.Atoi: parsing \"x\": invalid syntax"
                    .to_string()
            )
        );
        assert_eq!(parse_standard(""), Err("empty spec string".to_string()));
    }
}
