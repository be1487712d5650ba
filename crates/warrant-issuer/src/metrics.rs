//! What `GET /metrics` shows, through `prometheus-client` in the Prometheus text format
//! (version 0.0.4, [`CONTENT_TYPE`]): counters of mints, refusals by reason,
//! verifications by method and result and requests by status; a latency histogram; and
//! gauges of what is stored (crate::store::TableSizes). Every label set is a type, so a
//! label is never spelled twice nor found by reading text.
//!
//! Also kept here, in memory beside the counters: the failed verifications not yet in the
//! audit log ([`FailureTally`]).

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use warrant_core::grant::Method;
use warrant_core::time::Timestamp;

use crate::store::TableSizes;

/// The `Content-Type` of `GET /metrics`.
pub(crate) const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// The latency buckets of `warrant_http_request_duration_seconds`.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// Why a mint was refused, as `warrant_refusals_total` counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefusalReason {
    /// A lifetime longer than the role allows.
    Ttl,
    /// A role the human does not have, or no role at all.
    Role,
    /// A grant outside the role's ceiling, or a ceiling the issuer refuses.
    Ceiling,
    /// A holder key of a disabled agent.
    AgentDisabled,
}

impl RefusalReason {
    /// The label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ttl => "ttl",
            Self::Role => "role",
            Self::Ceiling => "ceiling",
            Self::AgentDisabled => "agent_disabled",
        }
    }
}

impl EncodeLabelValue for RefusalReason {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> Result<(), std::fmt::Error> {
        EncodeLabelValue::encode(&self.as_str(), encoder)
    }
}

/// How a human proved who they are (`device-key`, `oidc`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct MethodLabel(pub Method);

impl EncodeLabelValue for MethodLabel {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> Result<(), std::fmt::Error> {
        EncodeLabelValue::encode(&self.0.as_str(), encoder)
    }
}

/// Whether a verification succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// It did.
    Success,
    /// It did not.
    Failure,
}

impl EncodeLabelValue for Outcome {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> Result<(), std::fmt::Error> {
        let text = match self {
            Self::Success => "success",
            Self::Failure => "failure",
        };
        EncodeLabelValue::encode(&text, encoder)
    }
}

/// `warrant_refusals_total{reason}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RefusalLabels {
    reason: RefusalReason,
}

/// `warrant_verifications_total{method, result}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct VerificationLabels {
    method: MethodLabel,
    result: Outcome,
}

/// `warrant_http_requests_total{status}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct StatusLabels {
    status: u16,
}

/// `warrant_live_challenges{kind}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

/// `warrant_stored_rows{table}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct TableLabels {
    table: &'static str,
}

/// The counters and the histogram, registered once; cheap to update from any thread.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    mints: Counter,
    refusals: Family<RefusalLabels, Counter>,
    verifications: Family<VerificationLabels, Counter>,
    requests: Family<StatusLabels, Counter>,
    latency: Histogram,
    /// The stored rows, counted at most every `crate::limits::SIZES_MAX_AGE`.
    pub(crate) sizes: tokio::sync::Mutex<Option<(std::time::Instant, TableSizes)>>,
    /// Failed verifications not yet in the audit log (crate::verify).
    pub(crate) failures: FailureTally,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let mints = Counter::default();
        let refusals = Family::default();
        let verifications = Family::default();
        let requests = Family::default();
        let latency = Histogram::new(BUCKETS);
        // Help texts get their final period from the registry.
        registry.register("warrant_mints", "Tokens minted", mints.clone());
        registry.register(
            "warrant_refusals",
            "Mints refused, by reason",
            refusals.clone(),
        );
        registry.register(
            "warrant_verifications",
            "Human verifications, by method and result",
            verifications.clone(),
        );
        registry.register(
            "warrant_http_requests",
            "HTTP requests, by status code",
            requests.clone(),
        );
        registry.register(
            "warrant_http_request_duration_seconds",
            "HTTP request latency",
            latency.clone(),
        );
        Self {
            registry,
            mints,
            refusals,
            verifications,
            requests,
            latency,
            sizes: tokio::sync::Mutex::default(),
            failures: FailureTally::default(),
        }
    }
}

impl Metrics {
    /// Counts one token minted.
    pub fn minted(&self) {
        self.mints.inc();
    }

    /// Counts one mint refused for `reason`.
    pub fn refused(&self, reason: RefusalReason) {
        self.refusals.get_or_create(&RefusalLabels { reason }).inc();
    }

    /// Counts one verification of a human by `method`, whoever was named.
    pub fn verified(&self, method: Method, result: Outcome) {
        let labels = VerificationLabels {
            method: MethodLabel(method),
            result,
        };
        self.verifications.get_or_create(&labels).inc();
    }

    /// Counts one answered request and records how long it took.
    pub fn request(&self, status: u16, seconds: f64) {
        self.latency.observe(seconds);
        self.requests.get_or_create(&StatusLabels { status }).inc();
    }

    /// The Prometheus text exposition, with gauges of `sizes` when they are known.
    pub fn render(&self, sizes: Option<&TableSizes>) -> String {
        let mut out = String::new();
        // Writing into a `String` cannot fail, nor can encoding these label sets.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry);
        if let Some(sizes) = sizes {
            let _ =
                prometheus_client::encoding::prometheus_text::encode(&mut out, &size_gauges(sizes));
        }
        out
    }
}

/// The stored rows as gauges: made for each scrape, so a failed count shows nothing rather
/// than an old one.
fn size_gauges(t: &TableSizes) -> Registry {
    let mut registry = Registry::default();
    let live = Family::<KindLabels, Gauge>::default();
    for (kind, n) in [
        ("device_key", t.live_challenges),
        ("agent", t.live_agent_challenges),
    ] {
        live.get_or_create(&KindLabels { kind }).set(n);
    }
    registry.register(
        "warrant_live_challenges",
        "Unexpired, unanswered challenges, by kind",
        live,
    );
    let rows = Family::<TableLabels, Gauge>::default();
    for (table, n) in [
        ("challenges", t.challenges),
        ("agent_challenges", t.agent_challenges),
        ("tokens", t.tokens),
        ("revocations", t.revocations),
        ("audit", t.audit),
        ("used_id_tokens", t.used_id_tokens),
        ("rate_counters", t.rate_counters),
    ] {
        rows.get_or_create(&TableLabels { table }).set(n);
    }
    registry.register("warrant_stored_rows", "Rows stored, by table", rows);
    registry
}

/// At most this many distinct (human, method, reason) counts in one
/// `verification_failures` entry; the rest are counted together as `not_itemised`.
pub(crate) const FAILURES_ITEMISED: usize = 100;

/// Reasons are cut to this many characters in the tally.
const REASON_MAX: usize = 200;

/// Failed verifications counted since the last `verification_failures` audit entry.
#[derive(Debug, Default)]
pub(crate) struct FailureTally(Mutex<Failures>);

/// What [`FailureTally`] holds.
#[derive(Debug, Default)]
pub(crate) struct Failures {
    /// When the first of them happened.
    pub since: Option<Timestamp>,
    /// How many, by human, method and reason.
    pub counts: BTreeMap<(String, &'static str, String), u64>,
    /// How many past [`FAILURES_ITEMISED`] distinct counts.
    pub not_itemised: u64,
}

impl FailureTally {
    /// Counts one failed verification of `human`.
    pub(crate) fn add(&self, human: &str, method: &'static str, reason: &str, now: Timestamp) {
        let mut f = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        f.since.get_or_insert(now);
        let reason: String = reason.chars().take(REASON_MAX).collect();
        let key = (human.to_owned(), method, reason);
        if let Some(n) = f.counts.get_mut(&key) {
            *n += 1;
        } else if f.counts.len() < FAILURES_ITEMISED {
            f.counts.insert(key, 1);
        } else {
            f.not_itemised += 1;
        }
    }

    /// Everything counted so far, leaving nothing.
    pub(crate) fn take(&self) -> Failures {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Puts back what [`Self::take`] took and could not be recorded.
    pub(crate) fn restore(&self, taken: Failures) {
        let mut f = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(since) = taken.since {
            f.since = Some(f.since.map_or(since, |s| s.min(since)));
        }
        for (k, n) in taken.counts {
            *f.counts.entry(k).or_insert(0) += n;
        }
        f.not_itemised += taken.not_itemised;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_keeps_the_names_and_labels() {
        let m = Metrics::default();
        m.minted();
        m.refused(RefusalReason::AgentDisabled);
        m.verified(Method::DeviceKey, Outcome::Failure);
        m.request(403, 0.003);
        let sizes = TableSizes {
            live_challenges: 2,
            tokens: 5,
            ..TableSizes::default()
        };
        let text = m.render(Some(&sizes));
        for line in [
            "# HELP warrant_mints_total Tokens minted.",
            "# TYPE warrant_mints_total counter",
            "warrant_mints_total 1",
            "warrant_refusals_total{reason=\"agent_disabled\"} 1",
            "warrant_verifications_total{method=\"device-key\",result=\"failure\"} 1",
            "warrant_http_requests_total{status=\"403\"} 1",
            "# TYPE warrant_http_request_duration_seconds histogram",
            "warrant_http_request_duration_seconds_bucket{le=\"0.0025\"} 0",
            "warrant_http_request_duration_seconds_bucket{le=\"0.005\"} 1",
            "warrant_http_request_duration_seconds_bucket{le=\"+Inf\"} 1",
            "warrant_http_request_duration_seconds_count 1",
            "# TYPE warrant_live_challenges gauge",
            "warrant_live_challenges{kind=\"device_key\"} 2",
            "warrant_stored_rows{table=\"tokens\"} 5",
        ] {
            assert!(text.lines().any(|l| l == line), "no `{line}` in:\n{text}");
        }
        assert!(!m.render(None).contains("warrant_stored_rows"));
    }

    #[test]
    fn failures_are_tallied_taken_and_restored() {
        let t = FailureTally::default();
        let now = Timestamp::from_unix(1000);
        t.add("alice", "device-key", "wrong key", now);
        t.add(
            "alice",
            "device-key",
            "wrong key",
            Timestamp::from_unix(1001),
        );
        let taken = t.take();
        assert_eq!(taken.since, Some(now));
        assert_eq!(taken.counts.values().sum::<u64>(), 2);
        assert!(t.take().since.is_none(), "taken");
        t.add("bob", "oidc", "expired", Timestamp::from_unix(2000));
        t.restore(taken);
        let back = t.take();
        assert_eq!((back.since, back.counts.len()), (Some(now), 2));
    }
}
