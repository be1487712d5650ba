//! The pages, as maud templates: every value is HTML-escaped by construction, no inline
//! script or style, everything the script needs in `data-` attributes.

use maud::{html, Markup, DOCTYPE};
use warrant_core::grant::{Grant, Op};
use warrant_core::inspect::describe;
use warrant_core::time::Span;

use crate::store::{AgentRow, AuthorizationRow, RequestRow};

/// A page around `body`.
fn page(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — warrant" }
                link rel="stylesheet" href="/assets/warrant.css";
                script src="/assets/warrant.js" defer {}
            }
            body {
                main {
                    h1 { (title) }
                    (body)
                    p #message role="alert" tabindex="-1" {}
                }
            }
        }
    }
}

/// An error, on a page: what went wrong and what to do.
pub(super) fn problem(title: &str, detail: &str) -> Markup {
    page(title, html! { p { (detail) } })
}

/// `/invite/{secret}`: enrol a passkey.
pub(super) fn invite(secret: &str, human: &str) -> Markup {
    page(
        "Enrol a passkey",
        html! {
            p { "This invitation enrols a passkey for " strong { (human) } ". It works once." }
            p { "Your device will ask for your fingerprint, face or PIN." }
            form #enrol data-secret=(secret) {
                label { "A name for this passkey " input name="name" maxlength="64" placeholder="laptop" autocomplete="off"; }
                button type="submit" { "Create a passkey" }
            }
        },
    )
}

/// `/approve/{id}` before signing in: nothing of the request but whom it asks.
pub(super) fn sign_in(human: &str) -> Markup {
    page(
        "An agent asks for your approval",
        html! {
            p { "Sign in with your passkey, " strong { (human) } ", to see what it asks." }
            form #signin data-human=(human) {
                button type="submit" { "Sign in with a passkey" }
            }
        },
    )
}

/// `/console` before signing in: who are you?
pub(super) fn console_sign_in() -> Markup {
    page(
        "Your console",
        html! {
            p { "Sign in with your passkey to see your agents, tokens and requests." }
            form #signin {
                label { "Your id " input name="human" required autocomplete="username webauthn"; }
                button type="submit" { "Sign in with a passkey" }
            }
        },
    )
}

/// `/consent/{id}` before signing in: who are you?
pub(super) fn consent_sign_in(client_name: &str) -> Markup {
    page(
        "An application asks for your approval",
        html! {
            p { strong { (client_name) } " asks for access in your name. Sign in with your passkey to see what it asks." }
            form #signin {
                label { "Your id " input name="human" required autocomplete="username webauthn"; }
                button type="submit" { "Sign in with a passkey" }
            }
        },
    )
}

/// A console form: its CSRF token, a hidden value, a button.
fn action(path: &str, csrf: &str, field: Option<(&str, &str)>, label: &str) -> Markup {
    html! {
        form method="post" action=(path) .inline {
            input type="hidden" name="csrf" value=(csrf);
            @if let Some((name, value)) = field {
                input type="hidden" name=(name) value=(value);
            }
            button type="submit" { (label) }
        }
    }
}

/// `/console` for the human signed in.
pub(super) fn console(c: &super::console::Console) -> Markup {
    let csrf = c.session.csrf.as_str();
    let time = |t: i64| crate::requests::at(t).to_string();
    page(
        "Your console",
        html! {
            p { "Signed in as " strong { (c.session.human_id) } " until " (time(c.session.expires_at)) "." }
            (action("/console/signout", csrf, None, "Sign out"))
            h2 { "Requests waiting for you" }
            @if c.requests.is_empty() { p { "None." } }
            ul {
                @for (r, agent) in &c.requests {
                    li {
                        a href={ "/approve/" (r.id) } { (agent.as_ref().map_or("an agent", |a| a.name.as_str())) }
                        ": " (r.reason) " — until " (time(r.expires_at))
                        @if let Ok(g) = Grant::from_json_str(&r.grant_json) { p .words { (describe(&g)) } }
                    }
                }
            }
            h2 { "Your live tokens" }
            @if c.tokens.is_empty() { p { "None." } }
            ul {
                @for (t, agent) in &c.tokens {
                    li {
                        code { (t.token_id) } " — "
                        (agent.as_deref().or(t.holder.as_deref()).unwrap_or("a bearer token"))
                        ", until " (time(t.expires_at))
                        (action("/console/revoke", csrf, Some(("token_id", &t.token_id)), "Revoke"))
                    }
                }
            }
            h2 { "Your agents" }
            @if c.agents.is_empty() { p { "None." } }
            ul {
                @for a in &c.agents {
                    li { (a.name) " " code { (a.id) } @if a.disabled { " (disabled)" } }
                }
            }
            h2 { "Your passkeys" }
            ul {
                @for p in &c.passkeys {
                    li {
                        (p.name) ", enrolled " (time(p.created_at))
                        @if let Some(u) = p.last_used_at { ", last used " (time(u)) }
                        (action("/console/passkeys/remove", csrf, Some(("credential_id", &p.credential_id)), "Remove"))
                    }
                }
            }
            h2 { "Applications you let in without asking" }
            @if c.consents.is_empty() { p { "None." } }
            ul {
                @for k in &c.consents {
                    li {
                        (k.client_name) " for " code { (k.resource) } ", since " (time(k.created_at))
                        @if let Ok(g) = Grant::from_json_str(&k.approved_json) { p .words { (describe(&g)) } }
                        (action("/console/consents/forget", csrf, Some(("consent", &super::console::consent_key(k))), "Forget"))
                    }
                }
            }
            h2 { "Your latest audit entries" }
            ul {
                @for e in &c.audit {
                    li { (time(e.at)) " " code { (e.kind) } " #" (e.seq) }
                }
            }
        },
    )
}

/// Lifetimes a human may choose instead of what was asked: only shorter ones.
const LIFETIMES: [u64; 9] = [60, 300, 600, 900, 1800, 3600, 7200, 14_400, 86_400];

/// `/approve/{id}` for its human, signed in: the request in words and the choices.
pub(super) fn request(
    row: &RequestRow,
    agent: &AgentRow,
    asked: &Grant,
    asked_ttl: Span,
) -> Markup {
    let until = crate::requests::at(row.expires_at).to_string();
    let form = Decide {
        base: format!("/v1/requests/{}", row.id),
        human: &row.human_id,
        asked,
        asked_ttl,
        remember: false,
    };
    html! {
        (page("An agent asks for your approval", html! {
            dl {
                dt { "Agent" } dd { (agent.name) }
                dt { "Its key" } dd { code { (agent.id) } }
                dt { "Acting for" } dd { (agent.owner.as_deref().unwrap_or("nobody named at its registration")) }
                dt { "Why" } dd { (row.reason) }
                dt { "Time left" } dd #left data-until=(until) { "until " (until) }
            }
            p { "It asks to:" }
            p .words { (describe(asked)) }
            (decide(&form))
        }))
    }
}

/// `/consent/{id}` for the human signed in: an OAuth client asks; `refused` says why
/// their roles cannot grant it (then only denying is offered).
pub(super) fn consent(
    row: &AuthorizationRow,
    human: &str,
    asked: &Grant,
    asked_ttl: Span,
    refused: Option<&str>,
) -> Markup {
    let until = crate::requests::at(row.expires_at).to_string();
    let form = Decide {
        base: format!("/oauth/consent/{}", row.id),
        human,
        asked,
        asked_ttl,
        remember: true,
    };
    let client_url = row.client_id.starts_with("https://") || row.client_id.starts_with("http://");
    html! {
        (page("An application asks for your approval", html! {
            dl {
                dt { "Application" } dd { (row.client_name) }
                @if client_url { dt { "Described at" } dd { code { (row.client_id) } } }
                dt { "It will be sent to" } dd { strong { (crate::oauth::Client::redirect_host(&row.redirect_uri)) } }
                dt { "For the API" } dd { code { (row.resource) } }
                dt { "Signed in as" } dd { (human) }
                dt { "Time left" } dd #left data-until=(until) { "until " (until) }
            }
            p { "It asks to:" }
            p .words { (describe(asked)) }
            @if let Some(why) = refused {
                p .error { "You cannot approve this: " (why) }
                form #decide data-base=(form.base) data-human=(human) data-grant=(asked.to_json().to_string()) data-ttl=(asked_ttl.to_string()) {
                    input type="hidden" name="ttl" value=(asked_ttl.to_string());
                    button type="button" #deny { "Deny" }
                }
            } @else {
                (decide(&form))
            }
        }))
    }
}

/// What a decision form is for.
struct Decide<'a> {
    /// Where its JSON calls go (`…/passkey`, `…/approve`, `…/deny`).
    base: String,
    human: &'a str,
    asked: &'a Grant,
    asked_ttl: Span,
    /// Whether to offer remembering the decision.
    remember: bool,
}

/// The form that approves (narrowed, or as asked) or denies, with a passkey.
fn decide(d: &Decide<'_>) -> Markup {
    let grant_json = d.asked.to_json().to_string();
    html! {
        form #decide data-base=(d.base) data-human=(d.human) data-grant=(grant_json) data-ttl=(d.asked_ttl.to_string()) {
            fieldset {
                legend { "What you approve (you may only narrow it)" }
                @for (i, rule) in d.asked.allow.iter().enumerate() {
                    @let alone = Grant { allow: vec![rule.clone()], ..Grant::default() };
                    label { input type="checkbox" name="keep" value=(i) checked; " " (describe(&alone)) }
                    @for (k, c) in rule.when.iter().enumerate() {
                        @if let Some((op, words, v)) = limit(&c.op) {
                            label .limit {
                                (c.attr) " " (words) " "
                                input type="number" data-rule=(i) data-cond=(k) data-op=(op) value=(v) max=(v) step="1";
                            }
                        }
                    }
                }
                label {
                    "For "
                    select name="ttl" {
                        option value=(d.asked_ttl.to_string()) selected { (d.asked_ttl) " (as asked)" }
                        @for s in LIFETIMES.iter().filter(|s| **s < d.asked_ttl.seconds()) {
                            option value=(Span::from_seconds(*s).to_string()) { (Span::from_seconds(*s)) }
                        }
                    }
                }
                @if d.remember {
                    label { input type="checkbox" name="remember"; " Remember this: don't ask again while I am signed in, for this application, API and request" }
                }
            }
            button type="submit" { "Approve with your passkey" }
            button type="button" #deny { "Deny" }
        }
    }
}

/// An integer upper limit a human may lower: the operator's JSON name, its words, its value.
fn limit(op: &Op) -> Option<(&'static str, &'static str, i64)> {
    match op {
        Op::Lt(warrant_core::value::Value::Integer(v)) => Some(("lt", "under", *v)),
        Op::Le(warrant_core::value::Value::Integer(v)) => Some(("le", "at most", *v)),
        _ => None,
    }
}
