//! "Next activation after t" for a parsed cron [`Schedule`] in a time zone: a port of robfig/cron
//! v3's `SpecSchedule.Next` (and `ConstantDelaySchedule.Next` for `@every`) on `jiff` zoned
//! times, plus the zone lookup of `spec.timeZone` (IANA names from the system's zoneinfo).

use jiff::tz::TimeZone;
use jiff::{civil, Span, Timestamp, Zoned};

use crate::validation::cron::{Schedule, STAR_BIT};

/// Errors resolving a CronJob's schedule.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// `spec.schedule` does not parse (robfig's message).
    #[error("unparseable schedule: {0}")]
    Parse(String),
    /// `spec.timeZone` is not a known IANA zone.
    #[error("unknown time zone {0}")]
    Zone(String),
}

/// The zone of a CronJob: `spec.timeZone` when set, else UTC (the controller manager's local
/// zone upstream; ours runs in UTC).
pub fn zone(name: Option<&str>) -> Result<TimeZone, ScheduleError> {
    match name {
        None | Some("UTC") | Some("Etc/UTC") => Ok(TimeZone::UTC),
        Some(n) => TimeZone::get(n).map_err(|_| ScheduleError::Zone(n.to_string())),
    }
}

/// Parses `spec` (the CronJob's `spec.schedule`).
pub fn parse(spec: &str) -> Result<Schedule, ScheduleError> {
    crate::validation::cron::parse(spec).map_err(ScheduleError::Parse)
}

fn has(bits: u64, n: i64) -> bool {
    (0..63).contains(&n) && bits & (1u64 << n) != 0
}

fn day_matches(dom: u64, dow: u64, t: &Zoned) -> bool {
    let dom_match = has(dom, i64::from(t.day()));
    let dow_match = has(dow, i64::from(t.weekday().to_sunday_zero_offset()));
    if dom & STAR_BIT != 0 || dow & STAR_BIT != 0 {
        dom_match && dow_match
    } else {
        dom_match || dow_match
    }
}

fn at(tz: &TimeZone, y: i16, m: i8, d: i8, h: i8, mi: i8) -> Option<Zoned> {
    civil::date(y, m, d)
        .at(h, mi, 0, 0)
        .to_zoned(tz.clone())
        .ok()
}

/// The first activation strictly after `after`, in `tz`; `None` when there is none within five
/// years (as robfig's zero time).
pub fn next(schedule: &Schedule, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
    let (minute, hour, dom, month, dow) = match schedule {
        Schedule::Every(secs) => {
            let secs = i64::try_from(*secs).ok()?;
            let base = Timestamp::from_second(after.as_second()).ok()?;
            return base.checked_add(Span::new().seconds(secs)).ok();
        }
        Schedule::Spec {
            minute,
            hour,
            dom,
            month,
            dow,
        } => (*minute, *hour, *dom, *month, *dow),
    };
    // Start at the next whole second.
    let start = Timestamp::from_second(after.as_second().checked_add(1)?).ok()?;
    let mut t = start.to_zoned(tz.clone());
    let mut added = false;
    let year_limit = t.year() + 5;
    'wrap: loop {
        if t.year() > year_limit {
            return None;
        }
        while !has(month, i64::from(t.month())) {
            if !added {
                added = true;
                t = at(tz, t.year(), t.month(), 1, 0, 0)?;
            }
            t = t.checked_add(Span::new().months(1)).ok()?;
            if t.month() == 1 {
                continue 'wrap;
            }
        }
        while !day_matches(dom, dow, &t) {
            if !added {
                added = true;
                t = at(tz, t.year(), t.month(), t.day(), 0, 0)?;
            }
            t = t.checked_add(Span::new().days(1)).ok()?;
            if t.day() == 1 {
                continue 'wrap;
            }
        }
        while !has(hour, i64::from(t.hour())) {
            if !added {
                added = true;
                t = at(tz, t.year(), t.month(), t.day(), t.hour(), 0)?;
            }
            t = t.checked_add(Span::new().hours(1)).ok()?;
            if t.hour() == 0 {
                continue 'wrap;
            }
        }
        while !has(minute, i64::from(t.minute())) {
            if !added {
                added = true;
                t = t.with().second(0).subsec_nanosecond(0).build().ok()?;
            }
            t = t.checked_add(Span::new().minutes(1)).ok()?;
            if t.minute() == 0 {
                continue 'wrap;
            }
        }
        while t.second() != 0 {
            added = true;
            t = t.checked_add(Span::new().seconds(1)).ok()?;
            if t.second() == 0 {
                continue 'wrap;
            }
        }
        return Some(t.timestamp());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    fn nxt(spec: &str, after: &str, tz: Option<&str>) -> String {
        let s = parse(spec).expect("parse");
        let z = zone(tz).expect("zone");
        next(&s, ts(after), &z).expect("next").to_string()
    }

    #[test]
    fn every_minute_and_steps() {
        assert_eq!(
            nxt("*/1 * * * *", "2024-03-01T10:00:00Z", None),
            "2024-03-01T10:01:00Z"
        );
        assert_eq!(
            nxt("*/15 * * * *", "2024-03-01T10:07:30Z", None),
            "2024-03-01T10:15:00Z"
        );
        assert_eq!(
            nxt("5-10/2 3 * * *", "2024-03-01T03:07:00Z", None),
            "2024-03-01T03:09:00Z"
        );
        assert_eq!(
            nxt("0,30 * * * *", "2024-03-01T23:45:00Z", None),
            "2024-03-02T00:00:00Z"
        );
    }

    #[test]
    fn names_and_day_rules() {
        // 2024-03-01 is a Friday; next Monday 09:00 is 2024-03-04.
        assert_eq!(
            nxt("0 9 * * MON", "2024-03-01T10:00:00Z", None),
            "2024-03-04T09:00:00Z"
        );
        assert_eq!(
            nxt("0 0 1 JAN *", "2024-03-01T10:00:00Z", None),
            "2025-01-01T00:00:00Z"
        );
        // Both day fields restricted: either matches (the 15th or a Sunday).
        assert_eq!(
            nxt("0 0 15 * sun", "2024-03-01T10:00:00Z", None),
            "2024-03-03T00:00:00Z"
        );
        // February 30 never happens.
        assert!(next(
            &parse("0 0 30 2 *").expect("parse"),
            ts("2024-01-01T00:00:00Z"),
            &TimeZone::UTC
        )
        .is_none());
    }

    #[test]
    fn macros() {
        let after = "2024-03-15T10:20:00Z";
        assert_eq!(nxt("@yearly", after, None), "2025-01-01T00:00:00Z");
        assert_eq!(nxt("@annually", after, None), "2025-01-01T00:00:00Z");
        assert_eq!(nxt("@monthly", after, None), "2024-04-01T00:00:00Z");
        assert_eq!(nxt("@weekly", after, None), "2024-03-17T00:00:00Z");
        assert_eq!(nxt("@daily", after, None), "2024-03-16T00:00:00Z");
        assert_eq!(nxt("@midnight", after, None), "2024-03-16T00:00:00Z");
        assert_eq!(nxt("@hourly", after, None), "2024-03-15T11:00:00Z");
        assert_eq!(nxt("@every 90s", after, None), "2024-03-15T10:21:30Z");
    }

    #[test]
    fn time_zones() {
        // 09:00 in New York (EST, UTC-5) in winter, EDT (UTC-4) in summer.
        assert_eq!(
            nxt(
                "0 9 * * *",
                "2024-01-10T12:00:00Z",
                Some("America/New_York")
            ),
            "2024-01-10T14:00:00Z"
        );
        assert_eq!(
            nxt(
                "0 9 * * *",
                "2024-07-10T12:00:00Z",
                Some("America/New_York")
            ),
            "2024-07-10T13:00:00Z"
        );
        assert_eq!(
            nxt("30 0 * * *", "2024-07-10T00:00:00Z", Some("Asia/Kolkata")),
            "2024-07-10T19:00:00Z"
        );
        // 02:30 does not exist on the spring-forward day in New York: the next run is a day later.
        assert_eq!(
            nxt(
                "30 2 * * *",
                "2024-03-10T05:00:00Z",
                Some("America/New_York")
            ),
            "2024-03-11T06:30:00Z"
        );
        assert!(zone(Some("Mars/Olympus")).is_err());
    }
}
