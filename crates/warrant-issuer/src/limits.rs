//! Bounds on what anonymous clients can make the issuer store: challenges per client
//! address and in total, and the pruning of what has expired.
//!
//! Anyone may ask for a challenge (`POST /v1/challenges`, `POST /v1/agents/challenges`),
//! so each one is admitted only if its client has asked for fewer than
//! `challenges_per_minute_per_client` this minute and fewer than `max_live_challenges`
//! unexpired challenges are stored (429 with `Retry-After` otherwise); every answer to a
//! challenge (crate::verify) is counted against `verifications_per_minute_per_client`
//! first. The client is the connection's peer address, an IPv6 one by its /64;
//! `X-Forwarded-For` is read only when the peer is one of the configured
//! `trusted_proxies`. Expired challenges, ID-token records and old rate-limit
//! windows are deleted every [`PRUNE_INTERVAL`] by `warrant serve`, and whenever the
//! global cap is reached.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::{Extensions, HeaderMap};
use sqlx::AnyConnection;

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::Store;

/// How often `warrant serve` deletes expired rows.
pub const PRUNE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

/// The client, as the per-client limits count it: the connection's peer address, or —
/// when the peer is a trusted proxy — the right-most `X-Forwarded-For` address that is
/// not a trusted proxy itself; an IPv6 address by its /64 prefix (see [`client_key`]).
/// `unknown` when the connection carries no address (in-process calls).
pub fn client_address(trusted: &[IpAddr], extensions: &Extensions, headers: &HeaderMap) -> String {
    let Some(ConnectInfo(peer)) = extensions.get::<ConnectInfo<SocketAddr>>() else {
        return "unknown".to_owned();
    };
    let peer = peer.ip().to_canonical();
    if !trusted.contains(&peer) {
        return client_key(peer);
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
        .map_or_else(|| client_key(peer), client_key)
}

/// How an address is counted: an IPv4 address as itself, an IPv6 address by its /64
/// prefix — what one subscriber or host is given, so one client cannot be 2^64 clients.
pub fn client_key(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            format!("{}/64", std::net::Ipv6Addr::from(prefix))
        }
    }
}

impl AppState {
    /// The unanswered challenges now: read before a challenge's transaction opens, so
    /// that counting them (a scan of every live challenge) does not hold the database's
    /// write lock; [`Self::admit_challenge`] checks the cap against it.
    pub async fn live_challenges(&self) -> Result<i64, ApiError> {
        Ok(self.store.live_challenges(self.now().unix_i64()).await?)
    }

    /// Admits one new challenge from `client`, on `conn` (the request's transaction):
    /// within the per-client rate, then the global cap on live challenges (`live`, counted
    /// by [`Self::live_challenges`] before the transaction; at the cap, expired challenges
    /// are pruned and the live ones counted again, in the transaction, before refusing).
    pub async fn admit_challenge(
        &self,
        conn: &mut AnyConnection,
        client: &str,
        live: i64,
    ) -> Result<(), ApiError> {
        self.rate_limit(
            conn,
            "challenge-client",
            client,
            self.config.challenges_per_minute_per_client,
        )
        .await?;
        let now = self.now().unix_i64();
        let max = self.config.max_live_challenges;
        if live < max {
            return Ok(());
        }
        Store::prune_on(conn, now).await?;
        if Store::live_challenges_on(conn, now).await? < max {
            return Ok(());
        }
        let after = self.config.challenge_ttl.seconds().max(1);
        Err(ApiError::TooMany(
            format!("the issuer holds {max} unanswered challenges, its limit: retry in {after}s"),
            after,
        ))
    }

    /// Deletes expired rows; logs how many. Records the failed verifications tallied since
    /// the last time first (run every [`PRUNE_INTERVAL`]).
    pub async fn prune(&self) -> Result<u64, ApiError> {
        self.record_verification_failures().await?;
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

    /// What `GET /metrics` answers: the counters, and the stored rows when they can be
    /// counted.
    pub async fn metrics_text(&self) -> String {
        let sizes = match self.table_sizes().await {
            Ok(sizes) => Some(sizes),
            Err(e) => {
                tracing::warn!(error = %e, "cannot count the stored rows for /metrics");
                None
            }
        };
        self.metrics.render(sizes.as_ref())
    }
}

#[cfg(test)]
mod tests {
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
        // IPv6: one /64 is one client.
        for peer in ["2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff"] {
            assert_eq!(
                client_address(&[], &with_peer(peer), &HeaderMap::new()),
                "2001:db8:1:2::/64"
            );
        }
        assert_eq!(
            client_address(&[proxy], &with_peer("10.0.0.1"), &xff("2001:db8::7")),
            "2001:db8::/64"
        );
    }
}
