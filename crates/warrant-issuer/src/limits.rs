//! Bounds on what anonymous clients can make the issuer store: challenges per client
//! address and in total, and the pruning of what has expired.
//!
//! Anyone may ask for a challenge (`POST /v1/challenges`, `POST /v1/agents/challenges`),
//! so each one is admitted only if its client has asked for fewer than
//! `challenges_per_minute_per_client` this minute and fewer than `max_live_challenges`
//! unexpired challenges are stored (429 with `Retry-After` otherwise). The client is the
//! connection's peer address; `X-Forwarded-For` is read only when the peer is one of the
//! configured `trusted_proxies`. Expired challenges, ID-token records and old rate-limit
//! windows are deleted every [`PRUNE_INTERVAL`] by `warrant serve`, and whenever the
//! global cap is reached.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::{Extensions, HeaderMap};

use crate::error::ApiError;
use crate::state::AppState;

/// How often `warrant serve` deletes expired rows.
pub const PRUNE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

/// The client's address: the connection's peer, or — when the peer is a trusted proxy —
/// the right-most `X-Forwarded-For` address that is not a trusted proxy itself.
/// `unknown` when the connection carries no address (in-process calls).
pub fn client_address(trusted: &[IpAddr], extensions: &Extensions, headers: &HeaderMap) -> String {
    let Some(ConnectInfo(peer)) = extensions.get::<ConnectInfo<SocketAddr>>() else {
        return "unknown".to_owned();
    };
    let peer = peer.ip().to_canonical();
    if !trusted.contains(&peer) {
        return peer.to_string();
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse::<IpAddr>().ok())
        .map(|a| a.to_canonical())
        .collect();
    forwarded
        .iter()
        .rev()
        .find(|a| !trusted.contains(a))
        .copied()
        .unwrap_or(peer)
        .to_string()
}

impl AppState {
    /// Admits one new challenge from `client`: within the per-client rate and the global
    /// cap on live challenges (pruning expired ones before refusing).
    pub async fn admit_challenge(&self, client: &str) -> Result<(), ApiError> {
        self.rate_limit(
            "challenge-client",
            client,
            self.config.challenges_per_minute_per_client,
        )
        .await?;
        let now = self.now().unix_i64();
        let max = self.config.max_live_challenges;
        if self.store.live_challenges(now).await? < max {
            return Ok(());
        }
        self.store.prune(now).await?;
        if self.store.live_challenges(now).await? < max {
            return Ok(());
        }
        let after = self.config.challenge_ttl.seconds().max(1);
        Err(ApiError::TooMany(
            format!("the issuer holds {max} unanswered challenges, its limit: retry in {after}s"),
            after,
        ))
    }

    /// Deletes expired rows; logs how many.
    pub async fn prune(&self) -> Result<u64, ApiError> {
        let n = self.store.prune(self.now().unix_i64()).await?;
        if n > 0 {
            tracing::info!(rows = n, "pruned expired challenges and records");
        }
        Ok(n)
    }
}

/// How long `/metrics` reuses its count of the stored rows: anyone may scrape it, and
/// counting a large table on every request would be theirs to trigger.
pub const SIZES_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(5);

impl AppState {
    /// The stored rows, counted at most once every [`SIZES_MAX_AGE`] (one count at a time).
    pub async fn table_sizes(&self) -> Result<crate::store::TableSizes, ApiError> {
        let mut cached = self.metrics.sizes.lock().await;
        if let Some((at, sizes)) = *cached {
            if at.elapsed() < SIZES_MAX_AGE {
                return Ok(sizes);
            }
        }
        let sizes = self.store.table_sizes(self.now().unix_i64()).await?;
        *cached = Some((std::time::Instant::now(), sizes));
        Ok(sizes)
    }
}

/// The stored rows as Prometheus gauges.
pub fn render_sizes(t: &crate::store::TableSizes) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let name = "warrant_live_challenges";
    let _ = writeln!(
        out,
        "# HELP {name} Unexpired, unanswered challenges, by kind.\n# TYPE {name} gauge\n\
         {name}{{kind=\"device_key\"}} {}\n{name}{{kind=\"agent\"}} {}",
        t.live_challenges, t.live_agent_challenges
    );
    let name = "warrant_stored_rows";
    let _ = writeln!(
        out,
        "# HELP {name} Rows stored, by table.\n# TYPE {name} gauge"
    );
    for (table, n) in [
        ("challenges", t.challenges),
        ("agent_challenges", t.agent_challenges),
        ("tokens", t.tokens),
        ("revocations", t.revocations),
        ("audit", t.audit),
        ("used_id_tokens", t.used_id_tokens),
        ("rate_counters", t.rate_counters),
    ] {
        let _ = writeln!(out, "{name}{{table=\"{table}\"}} {n}");
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn with_peer(ip: &str) -> Extensions {
        let mut e = Extensions::new();
        e.insert(ConnectInfo(SocketAddr::new(ip.parse().unwrap(), 4000)));
        e
    }

    fn xff(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", v.parse().unwrap());
        h
    }

    #[test]
    fn x_forwarded_for_is_read_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let forged = xff("1.2.3.4, 203.0.113.9");
        // Not trusted: the peer, whatever the header says.
        assert_eq!(
            client_address(&[], &with_peer("198.51.100.7"), &forged),
            "198.51.100.7"
        );
        assert_eq!(
            client_address(&[proxy], &with_peer("198.51.100.7"), &forged),
            "198.51.100.7"
        );
        // Through the trusted proxy: the address it appended (right-most), not what the
        // client wrote before it.
        assert_eq!(
            client_address(&[proxy], &with_peer("10.0.0.1"), &forged),
            "203.0.113.9"
        );
        assert_eq!(
            client_address(&[proxy], &with_peer("10.0.0.1"), &HeaderMap::new()),
            "10.0.0.1"
        );
        assert_eq!(
            client_address(&[], &with_peer("::ffff:192.0.2.1"), &HeaderMap::new()),
            "192.0.2.1"
        );
        assert_eq!(client_address(&[], &Extensions::new(), &forged), "unknown");
    }
}
