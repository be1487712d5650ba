//! Background refresh of the key set and the revocation feed (feature `refresh`).
//!
//! Verification stays offline and synchronous: these tasks only replace the verifier's
//! copies. When a fetch fails the verifier keeps its last good copy and logs a warning;
//! with [`VerifierBuilder::max_staleness`](crate::VerifierBuilder::max_staleness) it
//! refuses every token once that copy is older than the bound (denial kind `stale`).
//!
//! A refresher takes the built verifier: its settings are fixed, and every clone of it
//! shares the keys and revocations the refresher replaces.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use warrant_core::keys::KeySet;

use crate::follow::RevocationFollower;
use crate::verified::Trusted;
use crate::verifier::Verifier;

/// The largest key set or feed page accepted.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// How long one fetch may take.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// Most feed pages read in one poll.
const MAX_PAGES_PER_POLL: usize = 100;

/// Why a fetch failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RefreshError {
    /// The request failed or the server answered with an error status.
    #[error("cannot fetch `{url}`: {reason}")]
    Fetch {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The body is not a valid key set or feed page.
    #[error("`{url}` returned an invalid document: {reason}")]
    Invalid {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
}

/// A running refresher; dropping it stops the task.
#[derive(Debug)]
pub struct RefreshHandle {
    task: JoinHandle<()>,
}

impl Drop for RefreshHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn client() -> Result<reqwest::Client, RefreshError> {
    reqwest::Client::builder()
        .timeout(FETCH_TIMEOUT)
        .build()
        .map_err(|e| RefreshError::Fetch {
            url: String::new(),
            reason: e.to_string(),
        })
}

async fn fetch(req: reqwest::RequestBuilder, url: &str) -> Result<String, RefreshError> {
    let fail = |reason: String| RefreshError::Fetch {
        url: url.to_owned(),
        reason,
    };
    let mut res = req.send().await.map_err(|e| fail(e.to_string()))?;
    if !res.status().is_success() {
        return Err(fail(format!("status {}", res.status())));
    }
    let mut body = Vec::new();
    while let Some(chunk) = res.chunk().await.map_err(|e| fail(e.to_string()))? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(fail(format!(
                "the body is larger than {MAX_BODY_BYTES} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    String::from_utf8(body).map_err(|_| RefreshError::Invalid {
        url: url.to_owned(),
        reason: "not UTF-8".into(),
    })
}

async fn fetch_keys(client: &reqwest::Client, url: &str) -> Result<KeySet, RefreshError> {
    let text = fetch(client.get(url), url).await?;
    KeySet::from_json(&text).map_err(|e| RefreshError::Invalid {
        url: url.to_owned(),
        reason: e.to_string(),
    })
}

impl Verifier {
    /// Fetches the key set from `url` now (an error if that fails), then refetches it every
    /// `interval`, and at once when a token names an unknown key id — at most once per
    /// `interval` for that reason.
    pub async fn refresh_keys(
        &self,
        url: &str,
        interval: Duration,
    ) -> Result<RefreshHandle, RefreshError> {
        let client = client()?;
        let keys = fetch_keys(&client, url).await?;
        self.replace_keys(Trusted::Set(keys), Some(Instant::now()));
        let notify = Arc::new(Notify::new());
        let hook = Arc::clone(&notify);
        self.on_unknown_key(Arc::new(move || hook.notify_one()));
        let verifier = self.clone();
        let url = url.to_owned();
        let task = tokio::spawn(async move {
            let mut last_unknown_refetch: Option<Instant> = None;
            loop {
                tokio::select! {
                    () = tokio::time::sleep(interval) => {}
                    () = notify.notified() => {
                        if last_unknown_refetch.is_some_and(|t| t.elapsed() < interval) {
                            continue;
                        }
                        last_unknown_refetch = Some(Instant::now());
                    }
                }
                match fetch_keys(&client, &url).await {
                    Ok(keys) if Some(&keys) == verifier.keys().as_ref() => {
                        verifier.keys_confirmed(Instant::now());
                    }
                    Ok(keys) => {
                        tracing::info!(url = %url, keys = keys.keys.len(), "trusted key set updated");
                        verifier.replace_keys(Trusted::Set(keys), Some(Instant::now()));
                    }
                    Err(e) => tracing::warn!(error = %e, "keeping the last good key set"),
                }
            }
        });
        Ok(RefreshHandle { task })
    }

    /// Reads the revocation feed at `url` from the start now (an error if that fails), then
    /// polls it every `interval` with `?since=<last cursor>`, page after page (at most
    /// 100 pages a poll; the next poll goes on from there).
    pub async fn follow_revocations(
        &self,
        url: &str,
        interval: Duration,
    ) -> Result<RefreshHandle, RefreshError> {
        let client = client()?;
        let mut follower = RevocationFollower::new();
        poll_feed(&client, url, &mut follower).await?;
        self.replace_revocations(follower.revocations().clone(), Some(Instant::now()));
        let verifier = self.clone();
        let url = url.to_owned();
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                match poll_feed(&client, &url, &mut follower).await {
                    Ok(new) => {
                        if new > 0 {
                            tracing::info!(url = %url, new, "revocations applied");
                        }
                        verifier.replace_revocations(
                            follower.revocations().clone(),
                            Some(Instant::now()),
                        );
                    }
                    Err(e) => tracing::warn!(error = %e, "keeping the last good revocation list"),
                }
            }
        });
        Ok(RefreshHandle { task })
    }
}

/// Reads the new pages of the feed into `follower`; returns how many entries were new.
async fn poll_feed(
    client: &reqwest::Client,
    url: &str,
    follower: &mut RevocationFollower,
) -> Result<usize, RefreshError> {
    let mut new = 0;
    for _ in 0..MAX_PAGES_PER_POLL {
        let page_url = follower.next_query().url(url);
        let text = fetch(client.get(&page_url), &page_url).await?;
        // A page with a bad entry changes nothing.
        let step = follower
            .apply_page(&text)
            .map_err(|e| RefreshError::Invalid {
                url: page_url,
                reason: e.to_string(),
            })?;
        new += step.new_entries;
        if step.caught_up {
            break;
        }
    }
    Ok(new)
}
