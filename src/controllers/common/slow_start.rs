//! Upstream's `slowStartBatch`: run `count` calls in batches of 1, 2, 4, … (starting at
//! `initial`), stopping after the first batch with a failure, so a quota or admission error
//! costs one failed request instead of hundreds.

use std::future::Future;

use futures::future::join_all;

/// Runs `f` up to `count` times in doubling batches; returns the number of successes and the
/// first error. Calls after a failing batch are skipped.
pub async fn slow_start_batch<F, Fut, E>(count: usize, initial: usize, f: F) -> (usize, Option<E>)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<(), E>>,
{
    let mut remaining = count;
    let mut successes = 0;
    let mut batch = initial.max(1).min(remaining);
    while batch > 0 {
        let results = join_all((0..batch).map(|_| f())).await;
        let mut first_err = None;
        for r in results {
            match r {
                Ok(()) => successes += 1,
                Err(e) => {
                    if first_err.is_none() {
                        first_err = Some(e);
                    }
                }
            }
        }
        if first_err.is_some() {
            return (successes, first_err);
        }
        remaining -= batch;
        batch = (2 * batch).min(remaining);
    }
    (successes, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn batches_double_and_stop_on_error() {
        let calls = AtomicUsize::new(0);
        let (ok, err) = slow_start_batch(10, 1, || {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            async move {
                if n >= 4 {
                    Err("quota")
                } else {
                    Ok(())
                }
            }
        })
        .await;
        // Batches 1, 2, then 4 (of which calls 4..7 fail) → 4 successes, 7 calls.
        assert_eq!(ok, 4);
        assert_eq!(err, Some("quota"));
        assert_eq!(calls.load(Ordering::SeqCst), 7);
        let (ok, err) = slow_start_batch(5, 1, || async { Ok::<(), ()>(()) }).await;
        assert_eq!((ok, err), (5, None));
    }
}
