//! When a failed attempt is tried again. The schedule is a list of delays (one per retry), each
//! stretched or shrunk by up to ±20% so a burst of failures to one endpoint does not come back as
//! a synchronised burst. A receiver that says `Retry-After` on 429/503 knows its own load better
//! than our schedule, so its delay replaces the scheduled one (without jitter: it asked for a
//! time), capped at a day so a hostile or broken header cannot park an event forever.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, SecondsFormat, Utc};
use entity::webhook_event::{STATUS_FAILED, STATUS_QUEUED, STATUS_SUCCEEDED};
use rand::Rng;

use crate::config::RetrySchedule;
use crate::dispatch::attempt::{human, Attempt};
use crate::rows::{AttemptRow, Claimed, Effect, Kind, Update};

/// The longest `Retry-After` we honour.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// Delay before the next attempt after a failed one, or `None` when the schedule is exhausted.
/// `failed_attempts` counts the attempt that just failed (1 after the first attempt).
pub fn next_delay(
    schedule: &RetrySchedule,
    failed_attempts: u32,
    retry_after: Option<Duration>,
) -> Option<Duration> {
    let idx = usize::try_from(failed_attempts.checked_sub(1)?).ok()?;
    let scheduled = *schedule.0.get(idx)?;
    if let Some(asked) = retry_after {
        return Some(asked.min(MAX_RETRY_AFTER));
    }
    let factor = rand::thread_rng().gen_range(0.8..=1.2);
    Some(scheduled.mul_f64(factor))
}

/// Total attempts the schedule allows: the first one plus one per retry.
pub fn max_attempts(schedule: &RetrySchedule) -> usize {
    schedule.0.len() + 1
}

/// Parses a `Retry-After` value: delta-seconds or an HTTP date (a date in the past means now).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(now)
            .unwrap_or(Duration::ZERO)
            .min(MAX_RETRY_AFTER),
    )
}

/// What an attempt that started at `started_at` leads to: success, a scheduled retry, or a final
/// failure; with the attempt's record, made by `worker`.
pub fn conclude(
    schedule: &RetrySchedule,
    event: &Claimed,
    attempt: &Attempt,
    started_at: DateTime<Utc>,
    now: DateTime<Utc>,
    worker: Option<Arc<str>>,
) -> Update {
    // Retries made so far decide the schedule; `event.attempt` may be higher when earlier
    // attempts were interrupted, which do not use up the schedule.
    let this_attempt = u32::try_from(event.retry_count)
        .unwrap_or(0)
        .saturating_add(1);
    let of = max_attempts(schedule);
    let base = Update {
        attempt: Some(record_of(event, attempt, started_at, worker)),
        ..Update::for_event(event, now)
    };
    match attempt {
        Attempt::Delivered {
            status, elapsed, ..
        } => Update {
            status: STATUS_SUCCEEDED,
            status_info: format!(
                "HTTP {} in {} on attempt {this_attempt}.",
                status.as_u16(),
                human(*elapsed)
            ),
            effect: streak(event, Effect::Success),
            ..base
        },
        Attempt::Failed {
            message,
            retry_after,
            retryable,
            ..
        } => {
            // `retry_count` counts retries (attempts after the first): it grows when a retry is
            // scheduled, so a final failure leaves it at the schedule's length and the
            // `X-WEBHOOK-ATTEMPT` header (retry_count + 1) numbers every attempt.
            let retry_count = event.retry_count.saturating_add(1);
            let delay = if *retryable {
                next_delay(schedule, this_attempt, *retry_after)
            } else {
                None
            };
            match delay {
                Some(d) => {
                    let at = now
                        + chrono::Duration::milliseconds(
                            i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2),
                        );
                    Update {
                        kind: Kind::Retry {
                            due_at: at.timestamp_millis(),
                        },
                        status: STATUS_QUEUED,
                        status_info: format!(
                            "{message} Attempt {this_attempt} of {of}; next attempt at {} (in {}).",
                            at.to_rfc3339_opts(SecondsFormat::Secs, true),
                            human(d)
                        ),
                        retry_count,
                        ..base
                    }
                }
                None => {
                    let why = if *retryable {
                        "no attempts left"
                    } else {
                        "not retried"
                    };
                    Update {
                        status: STATUS_FAILED,
                        status_info: format!("{message} Attempt {this_attempt} of {of}; {why}."),
                        effect: streak(event, Effect::FinalFailure),
                        ..base
                    }
                }
            }
        }
    }
}

/// The attempt as `webhooks_event_attempts` stores it.
fn record_of(
    event: &Claimed,
    attempt: &Attempt,
    started_at: DateTime<Utc>,
    worker: Option<Arc<str>>,
) -> AttemptRow {
    let ms = |d: &Duration| i32::try_from(d.as_millis()).unwrap_or(i32::MAX);
    let (status_code, error, response) = match attempt {
        Attempt::Delivered {
            status, response, ..
        } => (Some(status.as_u16()), None, Some(response)),
        Attempt::Failed {
            message, response, ..
        } => (
            response.as_ref().map(|(s, _)| s.as_u16()),
            Some(message.clone()),
            response.as_ref().map(|(_, r)| r),
        ),
    };
    AttemptRow {
        event_id: event.id,
        number: event.attempt,
        started_at,
        duration_ms: attempt.elapsed().as_ref().map(ms),
        outcome: attempt.outcome().label(),
        status_code: status_code.map(i32::from),
        error,
        response_headers: response.map_or_else(|| "[]".to_owned(), |r| r.headers_json()),
        response_body: response.map(|r| r.body.clone()),
        worker,
    }
}

/// Deliveries a user asked for (pings, redeliveries) say nothing about the webhook's health for
/// auto-disable: a failing ping must not switch off a webhook that works for real events.
fn streak(event: &Claimed, effect: Effect) -> Effect {
    if event.manual {
        Effect::None
    } else {
        effect
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule() -> RetrySchedule {
        RetrySchedule(vec![Duration::from_secs(10), Duration::from_secs(60)])
    }

    #[test]
    fn jitter_stays_within_twenty_percent_and_schedule_ends() {
        for _ in 0..200 {
            let d = next_delay(&schedule(), 2, None).unwrap_or_default();
            assert!(
                d >= Duration::from_secs(48) && d <= Duration::from_secs(72),
                "{d:?}"
            );
        }
        assert_eq!(next_delay(&schedule(), 3, None), None);
        assert_eq!(next_delay(&schedule(), 0, None), None);
        assert_eq!(max_attempts(&schedule()), 3);
    }

    #[test]
    fn retry_after_replaces_the_schedule_but_not_its_length() {
        let asked = Some(Duration::from_secs(3));
        assert_eq!(next_delay(&schedule(), 1, asked), asked);
        assert_eq!(next_delay(&schedule(), 3, asked), None);
        let huge = Some(Duration::from_secs(10 * 24 * 3600));
        assert_eq!(next_delay(&schedule(), 1, huge), Some(MAX_RETRY_AFTER));
    }

    #[test]
    fn retry_after_parses_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        // 1_445_412_480 is Wed, 21 Oct 2015 07:28:00 GMT.
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:29:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
