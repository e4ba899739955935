//! client-go's `EventCorrelator`: what to write for a new event. Similar events (same source,
//! object, type and reason) with many different messages are combined into one; repeats of the
//! same event are counted on the existing one; and a token bucket per source and object (burst
//! 25, one more every 5 minutes) drops the rest, so a busy controller cannot flood the API.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// Distinct messages of similar events before they are combined (client-go's `maxEvents`).
const MAX_SIMILAR: usize = 10;
/// How long similar events are remembered (client-go's `maxIntervalInSeconds`).
const SIMILAR_WINDOW: Duration = Duration::from_secs(600);
/// Events one source may write about one object at once (client-go's spam filter burst).
const SPAM_BURST: f64 = 25.0;
/// One more event per this interval after the burst (client-go: qps 1/300).
const SPAM_REFILL: Duration = Duration::from_secs(300);
/// Remembered keys before the tables are cleared (client-go uses LRU caches of 4096).
const MAX_KEYS: usize = 4096;

/// What identifies the object and the writer of an event.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Source {
    /// `source.component` and `source.host`, joined.
    pub writer: String,
    /// Kind, namespace, name, uid and apiVersion of the involved object, joined.
    pub object: String,
}

/// A new event as a recorder sees it.
#[derive(Clone, Debug)]
pub struct NewEvent {
    /// Writer and object.
    pub source: Source,
    /// `Normal` or `Warning`.
    pub kind: String,
    /// `reason`.
    pub reason: String,
    /// `message`.
    pub message: String,
}

/// What to write for an event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Create an event named `name` with `message` and count 1.
    Create {
        /// Name of the new Event.
        name_suffix: u128,
        /// Its message (possibly "(combined from similar events): …").
        message: String,
    },
    /// Count one more on the event created for the same key.
    Count {
        /// Name suffix of the existing Event.
        name_suffix: u128,
        /// The new count.
        count: i32,
        /// The message to set.
        message: String,
    },
    /// Drop it (spam filter).
    Skip,
}

struct Bucket {
    tokens: f64,
    last: Instant,
}

struct Observed {
    name_suffix: u128,
    count: i32,
}

/// The correlator of one recorder.
#[derive(Default)]
pub struct Correlator {
    similar: HashMap<String, (HashSet<String>, Option<Instant>)>,
    observed: HashMap<String, Observed>,
    buckets: HashMap<String, Bucket>,
}

impl Correlator {
    /// Decides what to write for `ev` at `now`; `fresh` gives a new unique name suffix.
    pub fn correlate(
        &mut self,
        ev: &NewEvent,
        now: Instant,
        fresh: impl FnOnce() -> u128,
    ) -> Decision {
        if self.similar.len() > MAX_KEYS || self.observed.len() > MAX_KEYS {
            self.similar.clear();
            self.observed.clear();
        }
        if self.buckets.len() > MAX_KEYS {
            self.buckets.clear();
        }
        let base = format!(
            "{}\u{0}{}\u{0}{}\u{0}{}",
            ev.source.writer, ev.source.object, ev.kind, ev.reason
        );
        // Aggregation of similar events.
        let (messages, last) = self.similar.entry(base.clone()).or_default();
        if last.is_some_and(|l| now.duration_since(l) > SIMILAR_WINDOW) {
            messages.clear();
        }
        messages.insert(ev.message.clone());
        *last = Some(now);
        let (key, message) = if messages.len() < MAX_SIMILAR {
            (format!("{base}\u{0}{}", ev.message), ev.message.clone())
        } else {
            // Do not grow the set any further (client-go pops one).
            let drop = messages.iter().next().cloned();
            if let Some(d) = drop {
                messages.remove(&d);
            }
            (
                base,
                format!("(combined from similar events): {}", ev.message),
            )
        };
        // Spam filter on the writer and the object.
        let spam_key = format!(
            "{}\u{0}{}\u{0}{}",
            ev.source.writer, ev.source.object, ev.kind
        );
        let bucket = self.buckets.entry(spam_key).or_insert(Bucket {
            tokens: SPAM_BURST,
            last: now,
        });
        let refill = now.duration_since(bucket.last).as_secs_f64() / SPAM_REFILL.as_secs_f64();
        bucket.tokens = (bucket.tokens + refill).min(SPAM_BURST);
        bucket.last = now;
        if bucket.tokens < 1.0 {
            return Decision::Skip;
        }
        bucket.tokens -= 1.0;
        match self.observed.get_mut(&key) {
            Some(o) => {
                o.count += 1;
                Decision::Count {
                    name_suffix: o.name_suffix,
                    count: o.count,
                    message,
                }
            }
            None => {
                let name_suffix = fresh();
                self.observed.insert(
                    key,
                    Observed {
                        name_suffix,
                        count: 1,
                    },
                );
                Decision::Create {
                    name_suffix,
                    message,
                }
            }
        }
    }

    /// Forgets the event created under `name_suffix` (its write failed, so a repeat creates
    /// a new one).
    pub fn forget(&mut self, name_suffix: u128) {
        self.observed.retain(|_, o| o.name_suffix != name_suffix);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(object: &str, reason: &str, message: &str) -> NewEvent {
        NewEvent {
            source: Source {
                writer: "replicaset-controller".into(),
                object: object.into(),
            },
            kind: "Normal".into(),
            reason: reason.into(),
            message: message.into(),
        }
    }

    #[test]
    fn repeats_are_counted_on_one_event() {
        let mut c = Correlator::default();
        let now = Instant::now();
        let mut n = 0;
        let mut fresh = || {
            n += 1;
            n
        };
        let first = c.correlate(&ev("rs", "BackOff", "m"), now, &mut fresh);
        assert!(matches!(first, Decision::Create { name_suffix: 1, .. }));
        let second = c.correlate(&ev("rs", "BackOff", "m"), now, &mut fresh);
        assert_eq!(
            second,
            Decision::Count {
                name_suffix: 1,
                count: 2,
                message: "m".into()
            }
        );
    }

    #[test]
    fn similar_events_are_combined_after_ten_messages() {
        let mut c = Correlator::default();
        let now = Instant::now();
        let mut n = 0;
        let mut decisions = Vec::new();
        for i in 0..12 {
            decisions.push(c.correlate(
                &ev("rs", "SuccessfulCreate", &format!("Created pod: p{i}")),
                now,
                || {
                    n += 1;
                    n
                },
            ));
        }
        // Nine distinct events, then one combined event that later ones are counted on.
        for d in &decisions[..9] {
            assert!(matches!(d, Decision::Create { .. }));
        }
        assert_eq!(
            decisions[9],
            Decision::Create {
                name_suffix: 10,
                message: "(combined from similar events): Created pod: p9".into()
            }
        );
        assert_eq!(
            decisions[11],
            Decision::Count {
                name_suffix: 10,
                count: 3,
                message: "(combined from similar events): Created pod: p11".into()
            }
        );
    }

    #[test]
    fn spam_filter_allows_a_burst_of_25_then_one_per_five_minutes() {
        let mut c = Correlator::default();
        let now = Instant::now();
        let mut n = 0;
        let mut fresh = || {
            n += 1;
            n
        };
        let written = (0..100)
            .map(|_| c.correlate(&ev("pod", "BackOff", "m"), now, &mut fresh))
            .filter(|d| *d != Decision::Skip)
            .count();
        assert_eq!(written, 25);
        // Another object is not affected.
        assert_ne!(
            c.correlate(&ev("other", "BackOff", "m"), now, &mut fresh),
            Decision::Skip
        );
        let later = now + SPAM_REFILL;
        assert_ne!(
            c.correlate(&ev("pod", "BackOff", "m"), later, &mut fresh),
            Decision::Skip
        );
        assert_eq!(
            c.correlate(&ev("pod", "BackOff", "m"), later, &mut fresh),
            Decision::Skip
        );
    }
}
