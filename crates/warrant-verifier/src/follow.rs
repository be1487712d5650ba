//! Following the issuer's revocation feed page by page, without doing any I/O.
//!
//! The feed (`GET /v1/revocations?since=CURSOR`) answers with the entries after a cursor,
//! a page at a time. [`RevocationFollower`] knows which page to ask for next and what a
//! page means; the caller fetches it however it likes (the `refresh` feature's
//! background task with an async client, `warrant verify --revocations URL` with a
//! blocking one):
//!
//! ```
//! use warrant_verifier::RevocationFollower;
//!
//! let mut follower = RevocationFollower::new();
//! let feed = "https://issuer.example/v1/revocations";
//! // The first page: from the start.
//! assert_eq!(follower.next_query().url(feed), feed);
//! let page = r#"{"entries": [{"cursor": 1, "kind": "token_id",
//!                             "value": "dfeed54edf0df03b6586530a2a35c24e"}],
//!               "next_cursor": 1}"#;
//! let step = follower.apply_page(page)?;
//! assert_eq!((step.new_entries, step.caught_up), (1, false));
//! // Then from the last cursor applied, until a page brings nothing new.
//! assert_eq!(follower.next_query().url(feed), format!("{feed}?since=1"));
//! let step = follower.apply_page(r#"{"entries": [], "next_cursor": 1}"#)?;
//! assert!(step.caught_up);
//! assert_eq!(follower.revocations().cursor(), Some(1));
//! # Ok::<(), warrant_verifier::RevocationError>(())
//! ```

use crate::revocation::{RevocationError, RevocationSet};

/// Follows the revocation feed: which page to fetch next ([`Self::next_query`]), and what
/// each page fetched adds ([`Self::apply_page`]). It holds the revocations read so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RevocationFollower {
    set: RevocationSet,
}

/// The page of the feed to fetch next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct FeedQuery {
    /// The cursor to read after (`?since=`): `None` reads from the start.
    pub since: Option<u64>,
}

impl FeedQuery {
    /// The URL of this page of the feed at `feed_url` (`…/v1/revocations`): `feed_url`
    /// itself from the start, else with `since=<cursor>` added to its query.
    pub fn url(&self, feed_url: &str) -> String {
        match self.since {
            None => feed_url.to_owned(),
            Some(c) => {
                let sep = if feed_url.contains('?') { '&' } else { '?' };
                format!("{feed_url}{sep}since={c}")
            }
        }
    }
}

/// What one page did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct FeedStep {
    /// How many entries the page had.
    pub new_entries: usize,
    /// Whether the follower is at the end of the feed: the page was empty or did not move
    /// the cursor, so asking again now would bring nothing new.
    pub caught_up: bool,
}

impl RevocationFollower {
    /// A follower that has read nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The page to fetch next: after the last cursor applied, or from the start.
    pub fn next_query(&self) -> FeedQuery {
        FeedQuery {
            since: self.set.cursor(),
        }
    }

    /// Applies the body of the page [`Self::next_query`] named. A page that is not the
    /// feed's JSON, or has an invalid entry, is an error and changes nothing.
    pub fn apply_page(&mut self, body: &str) -> Result<FeedStep, RevocationError> {
        let page = RevocationSet::parse(body)?;
        let before = self.set.cursor();
        self.set.apply(&page)?;
        Ok(FeedStep {
            new_entries: page.entries.len(),
            caught_up: page.entries.is_empty() || self.set.cursor() == before,
        })
    }

    /// The revocations read so far.
    pub fn revocations(&self) -> &RevocationSet {
        &self.set
    }

    /// The revocations read so far, as a set.
    pub fn into_revocations(self) -> RevocationSet {
        self.set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID_1: &str = "dfeed54edf0df03b6586530a2a35c24e";
    const ID_2: &str = "00000000000000000000000000000002";

    fn page(entries: &[(u64, &str)], next: Option<u64>) -> String {
        let entries: Vec<serde_json::Value> = entries
            .iter()
            .map(|(c, id)| serde_json::json!({"cursor": c, "kind": "token_id", "value": id}))
            .collect();
        serde_json::json!({"entries": entries, "next_cursor": next}).to_string()
    }

    #[test]
    fn queries_follow_the_cursor_and_keep_the_feeds_own_query() {
        let mut f = RevocationFollower::new();
        assert_eq!(f.next_query(), FeedQuery { since: None });
        assert_eq!(
            f.next_query().url("https://i.example/feed?x=1"),
            "https://i.example/feed?x=1"
        );
        f.apply_page(&page(&[(41, ID_1)], Some(41))).unwrap();
        assert_eq!(f.next_query().since, Some(41));
        assert_eq!(
            f.next_query().url("https://i.example/feed?x=1"),
            "https://i.example/feed?x=1&since=41"
        );
        assert_eq!(
            f.next_query().url("https://i.example/feed"),
            "https://i.example/feed?since=41"
        );
    }

    #[test]
    fn the_end_of_the_feed_is_an_empty_page_or_a_cursor_that_does_not_move() {
        let mut f = RevocationFollower::new();
        let step = f
            .apply_page(&page(&[(1, ID_1), (2, ID_2)], Some(2)))
            .unwrap();
        assert_eq!(
            step,
            FeedStep {
                new_entries: 2,
                caught_up: false
            }
        );
        let step = f.apply_page(&page(&[], Some(2))).unwrap();
        assert_eq!(
            step,
            FeedStep {
                new_entries: 0,
                caught_up: true
            }
        );
        // A server that sends the same page again does not keep a follower going.
        let step = f.apply_page(&page(&[(2, ID_2)], Some(2))).unwrap();
        assert!(step.caught_up);
        assert_eq!(f.revocations().len(), 2);
    }

    #[test]
    fn a_bad_page_changes_nothing() {
        let mut f = RevocationFollower::new();
        f.apply_page(&page(&[(1, ID_1)], Some(1))).unwrap();
        let before = f.clone();
        assert!(f.apply_page("not json").is_err());
        assert!(f
            .apply_page(&page(&[(2, ID_2), (3, "nope")], Some(3)))
            .is_err());
        assert_eq!(f, before);
        assert_eq!(f.into_revocations().cursor(), Some(1));
    }
}
