//! The command line, declared with clap.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Micro-permissions for AI agents, as Biscuit tokens.
#[derive(Debug, Parser)]
#[command(
    name = "warrant",
    version,
    about,
    after_help = "Exit codes: 0 success or allowed, 1 denied, 2 usage or input error.\n\nStart with `warrant keygen --help`."
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the issuer service (first start: creates ./warrant-data with a SQLite database,
    /// a signing key and an admin token).
    #[command(after_help = "Examples:\n  \
        warrant serve\n  \
        warrant serve --config warrant.toml\n  \
        warrant serve --database postgres://postgres@127.0.0.1/warrant --listen 0.0.0.0:8414\n\n\
        Set WARRANT_KEK (64 hex digits) to encrypt signing keys at rest.")]
    Serve(ServeArgs),
    /// Revoke a token, a block or every token of a holder, at an issuer.
    #[command(after_help = "Examples:\n  \
        warrant revoke --issuer http://127.0.0.1:8414 --admin-token warrant-data/admin.token --token \"$TOKEN\"\n  \
        warrant revoke --issuer URL --admin-token FILE --holder ed25519/…\n  \
        warrant revoke --issuer URL --admin-token FILE --admin-credential ID")]
    Revoke(RevokeArgs),
    /// Signing keys at an issuer: `warrant keys rotate`.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// The audit chain: `warrant audit export`, `warrant audit verify`.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Humans at an issuer: `warrant humans add alice --role support --device-key …`.
    #[command(subcommand)]
    Humans(HumansCommand),
    /// Admin credentials at an issuer: `warrant admin rotate`.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Create a signing key (PKCS#8 v1 PEM, as OpenSSL reads it; file mode 0600) and print its public key.
    #[command(
        after_help = "Examples:\n  warrant keygen --out issuer.key --key-id 1 --public-out keys.json"
    )]
    Keygen(KeygenArgs),
    /// Mint a token offline with the root key (whoever holds it is the issuer).
    #[command(after_help = "Examples:\n  \
        warrant mint --key issuer.key --audience support-api --ttl 10m --human alice \\\n      \
        --allow read:tickets/123/email_address --when 'ticket.status eq open'\n  \
        warrant mint --key issuer.key --grant grant.json --holder ed25519/…\n\n\
        Conditions: eq ne lt le gt ge in present prefix within (or == != < <= > >=).\n\
        Values are typed: 4999 is an integer, true/false are bools, RFC 3339 is a date.\n\
        Integers are i64, money in minor units: 49.99 is written 4999 (20000.0 is an error).\n\
        Write values bare: 'status eq open', 'status in open,pending' (no quotes or brackets).")]
    Mint(MintArgs),
    /// Narrow a token offline: append a block that only adds checks.
    #[command(after_help = "Examples:\n  \
        warrant attenuate --token \"$TOKEN\" --ttl 5m --allow read:tickets/123/email_address\n  \
        echo \"$TOKEN\" | warrant attenuate --token - --grant narrower.json")]
    Attenuate(AttenuateArgs),
    /// Show every block, its Datalog, who signed it, and what the token permits.
    #[command(after_help = "Examples:\n  \
        warrant inspect --token \"$TOKEN\"\n  \
        warrant inspect --token \"$TOKEN\" --keys keys.json --json")]
    Inspect(InspectArgs),
    /// Agent keys: `warrant agent keygen`, and `warrant agents register` at an issuer.
    #[command(subcommand, visible_alias = "agents")]
    Agent(AgentCommand),
    /// Ask a human for a token, as an agent: prints where they approve it, then (with
    /// --wait) the token, bound to the agent's key.
    #[command(after_help = "Examples:\n  \
        warrant request --issuer http://127.0.0.1:8414 --key agent.key --human alice \\\n      \
        --reason \"refund order 7, charged twice\" --ttl 10m --audience support-api \\\n      \
        --allow refund:orders/7 --when 'amount le 5000' --wait\n  \
        warrant request --issuer URL --key agent.key --collect ID --wait\n\n\
        The agent must be registered (`warrant agents register`). Without --wait it prints the\n\
        approve URL and the request's id; --collect ID fetches the token later. Exit codes:\n\
        0 the token (or the request made), 1 denied, 2 expired or an error.")]
    Request(RequestArgs),
    /// Approve an agent's request, as the human it asks, with a device key.
    #[command(after_help = "Examples:\n  \
        warrant approve ID --issuer http://127.0.0.1:8414 --device-key alice.key\n  \
        warrant approve ID --issuer URL --device-key alice.key --ttl 5m \\\n      \
        --allow refund:orders/7 --when 'amount lt 2000'\n\n\
        Grant flags narrow the request before approving: the token then allows only what both\n\
        the request and the narrowed grant allow. ID is the last part of the approve URL.")]
    Approve(ApproveArgs),
    /// Deny an agent's request, as the human it asks, with a device key.
    #[command(after_help = "Examples:\n  \
        warrant deny ID --issuer http://127.0.0.1:8414 --device-key alice.key")]
    Deny(DenyArgs),
    /// Hand a holder-bound token on to a sub-agent (signed by the current holder's key).
    #[command(after_help = "Examples:\n  \
        warrant delegate --token \"$TOKEN\" --key agent.key --to ed25519/… --ttl 5m \\\n      \
        --allow read:tickets/123/email_address\n\n\
        The new block is a Biscuit third-party block signed by --key, which must be the\n\
        token's current holder; it names the next holder and can only narrow the grant.")]
    Delegate(DelegateArgs),
    /// Make a DPoP proof (RFC 9449) for one request with a holder-bound token.
    #[command(after_help = "Examples:\n  \
        warrant proof --key agent.key --token \"$TOKEN\" --method GET --url https://api.example/tickets/123\n\n\
        Send it as the `DPoP` header with `Authorization: DPoP <token>`. A proof is good for\n\
        one request, about a minute.")]
    Proof(ProofArgs),
    /// Check a token against one request; print `allowed` or `denied: <reason>`.
    #[command(after_help = "Examples:\n  \
        warrant verify --token \"$TOKEN\" --keys keys.json --audience support-api \\\n      \
        --resource tickets/123/email_address --action read --attr ticket.status=open\n  \
        warrant verify --token - --public-key ed25519/… --resource orders/7 --action refund \\\n      \
        --attr amount=4999 --attr-json 'reason=\"duplicate\"' --at 2026-11-30T10:00:00Z\n\n\
        Exit codes: 0 allowed, 1 denied, 2 the token or the arguments could not be read.")]
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// A TOML configuration file (see the issuer crate's documentation).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Listen address (overrides the file).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Database URL: sqlite://PATH or postgres://… (overrides the file).
    #[arg(long, value_name = "URL")]
    pub database: Option<String>,
    /// Data directory (overrides the file).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Log as JSON lines.
    #[arg(long)]
    pub log_json: bool,
}

/// An issuer and an admin token.
#[derive(Debug, Args)]
pub(crate) struct AdminArgs {
    /// The issuer's URL (`--url` works too).
    #[arg(long, value_name = "URL", visible_alias = "url")]
    pub issuer: String,
    /// The admin token, or a file holding it (warrant-data/admin.token).
    #[arg(long, value_name = "TOKEN|FILE")]
    pub admin_token: String,
}

#[derive(Debug, Args)]
pub(crate) struct RevokeArgs {
    #[command(flatten)]
    pub admin: AdminArgs,
    /// Revoke this token (by its token id; `-` reads standard input).
    #[arg(long, value_name = "TOKEN", group = "what")]
    pub token: Option<String>,
    /// Revoke the token in this file (base64 text or raw Biscuit bytes).
    #[arg(long, value_name = "FILE", group = "what")]
    pub token_file: Option<PathBuf>,
    /// Revoke by token id (32 hex digits, as `warrant inspect` shows).
    #[arg(long, value_name = "ID", group = "what")]
    pub token_id: Option<String>,
    /// Revoke a block (and every token containing it) by revocation id (128 hex digits).
    #[arg(long, value_name = "HEX", group = "what")]
    pub revocation_id: Option<String>,
    /// Revoke every token of a holder (`ed25519/…` or `secp256r1/…`).
    #[arg(long, value_name = "KEY", group = "what")]
    pub holder: Option<String>,
    /// Revoke an admin credential by its id (binds at once; not in the public feed).
    #[arg(long, value_name = "ID", group = "what")]
    pub admin_credential: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AdminCommand {
    /// Issue a new admin credential and revoke the one presented. When --admin-token names
    /// a file, the new credential replaces it; otherwise it is printed.
    #[command(after_help = "Examples:\n  \
        warrant admin rotate --issuer http://127.0.0.1:8414 --admin-token warrant-data/admin.token")]
    Rotate(AdminArgs),
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// Add a new active signing key; the old one stays published until its tokens expire.
    Rotate(AdminArgs),
}

#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Download the whole audit chain as JSON lines (to check with `audit verify --file`).
    #[command(after_help = "Examples:\n  \
        warrant audit export --url http://127.0.0.1:8414 --admin-token warrant-data/admin.token --out audit.jsonl\n  \
        warrant audit verify --file audit.jsonl --keys http://127.0.0.1:8414/.well-known/warrant-audit-keys")]
    Export(AuditExportArgs),
    /// Check an audit export: every hash, every link, every head signature, and that
    /// signed heads vouch for the whole export.
    #[command(after_help = "Examples:\n  \
        warrant audit verify --url http://127.0.0.1:8414 --admin-token warrant-data/admin.token\n  \
        warrant audit verify --file audit.jsonl --keys keys.json\n\n\
        Hashes alone do not show tampering: whoever can rewrite the log can recompute them.\n\
        A head signature by a key of the key set vouches for its entry and every one before\n\
        it. Verification fails when no head signature verifies, when more than --max-unsigned\n\
        entries follow the last signed head, lie between two signed heads or come before the\n\
        first one (a rewrite the issuer signed later), and when the export does not start at\n\
        entry 1 (or right after --since). The issuer signs its head before every export, so\n\
        an export fetched with --url ends with a signature. Entries after the last signature\n\
        can still be cut off: compare the reported head with one you kept.")]
    Verify(AuditVerifyArgs),
}

#[derive(Debug, Args)]
pub(crate) struct AuditExportArgs {
    #[command(flatten)]
    pub admin: AdminArgs,
    /// Write to this file (created with mode 0600; must not exist yet) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum HumansCommand {
    /// Enrol a human (or update one): roles, device keys, verified attributes.
    #[command(after_help = "Examples:\n  \
        warrant humans add alice --role support --device-key ed25519/… \\\n      \
        --url http://127.0.0.1:8414 --admin-token warrant-data/admin.token\n  \
        warrant humans add bob --role support --device-key bob-device.key --attr team=emea \\\n      \
        --url URL --admin-token FILE\n\n\
        A device key is `ed25519/…` or a key file made with `warrant keygen` (its public half is sent).")]
    Add(HumanAddArgs),
    /// Invite a human to enrol a passkey: prints a link that works once, for 24 hours.
    #[command(after_help = "Examples:\n  \
        warrant humans invite alice --url http://localhost:8414 --admin-token warrant-data/admin.token\n\n\
        Passkeys need the issuer's public_url to be https://<host> or http://localhost:<port>.")]
    Invite(HumanInviteArgs),
}

#[derive(Debug, Args)]
pub(crate) struct HumanInviteArgs {
    /// The human's id.
    #[arg(value_name = "ID")]
    pub id: String,
    #[command(flatten)]
    pub admin: AdminArgs,
}

#[derive(Debug, Args)]
pub(crate) struct HumanAddArgs {
    /// The human's id (such as their login).
    #[arg(value_name = "ID")]
    pub id: String,
    /// A role the human may mint under (it must exist at the issuer); repeatable.
    #[arg(long, value_name = "NAME")]
    pub role: Vec<String>,
    /// A device key to enrol: `ed25519/…`, or a key file; repeatable.
    #[arg(long, value_name = "ed25519/HEX|FILE")]
    pub device_key: Vec<String>,
    /// A verified attribute stamped on the human's tokens (typed value); repeatable.
    #[arg(long, value_name = "NAME=VALUE")]
    pub attr: Vec<String>,
    /// The name shown for the human (default: the id).
    #[arg(long, value_name = "TEXT")]
    pub display_name: Option<String>,
    #[command(flatten)]
    pub admin: AdminArgs,
}

#[derive(Debug, Args)]
pub(crate) struct AuditVerifyArgs {
    /// The issuer to export from (needs --admin-token); every page of the chain is read.
    #[arg(
        long,
        value_name = "URL",
        conflicts_with = "file",
        requires = "admin_token"
    )]
    pub url: Option<String>,
    /// The admin token, or a file holding it.
    #[arg(long, value_name = "TOKEN|FILE")]
    pub admin_token: Option<String>,
    /// An export file (JSON lines); needs --keys.
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// The key set to check head signatures with (file or URL; with --url, the issuer's
    /// audit key set `/.well-known/warrant-audit-keys` by default: every key it has signed
    /// with, retired ones included). Pass a copy you trust to catch an issuer that lies
    /// about its keys; repeatable.
    #[arg(long, value_name = "FILE|URL")]
    pub keys: Vec<String>,
    /// The most entries allowed after the last signed head, between two signed heads and
    /// before the first one (the issuer signs every `audit_sign_every` entries, 100 by
    /// default).
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub max_unsigned: usize,
    /// Check the chain after entry N only: with --url, read from there; with --file, the
    /// export must start at entry N+1. By default the chain must start at entry 1.
    #[arg(long, value_name = "N", default_value_t = 0, value_parser = clap::value_parser!(i64).range(0..))]
    pub since: i64,
    /// Entries fetched per request with --url.
    #[arg(long, value_name = "N", default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub page_size: u32,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AgentCommand {
    /// Create an agent key pair (PKCS#8 PEM, as OpenSSL reads it; file mode 0600), Ed25519 or
    /// P-256; print its public key and its RFC 7638 JWK thumbprint.
    #[command(after_help = "Examples:\n  warrant agent keygen --out agent.key\n  \
        warrant agent keygen --alg es256 --out agent-p256.key")]
    Keygen(AgentKeygenArgs),
    /// Register an agent at an issuer: the agent's key signs the issuer's challenge, so
    /// only a key you hold can be registered.
    #[command(after_help = "Examples:\n  \
        warrant agents register --key agent.key --name triage-bot --owner alice \\\n      \
        --url http://127.0.0.1:8414 --admin-token warrant-data/admin.token")]
    Register(AgentRegisterArgs),
}

#[derive(Debug, Args)]
pub(crate) struct AgentRegisterArgs {
    /// The agent's private key file (made with `warrant agent keygen`).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// The agent's name (default: the key file's name without extension).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// The human who owns the agent (they may list and disable it).
    #[arg(long, value_name = "HUMAN")]
    pub owner: Option<String>,
    #[command(flatten)]
    pub admin: AdminArgs,
}

#[derive(Debug, Args)]
pub(crate) struct AgentKeygenArgs {
    /// Where to write the private key (must not exist yet).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// The key's algorithm: `ed25519` (its DPoP proofs are `EdDSA`) or `es256` (P-256,
    /// `ES256` proofs, for agents whose keys live where only P-256 is offered).
    #[arg(long, value_name = "ALG", value_enum, ignore_case = true, default_value_t = AgentAlg::Ed25519)]
    pub alg: AgentAlg,
}

/// An agent key's algorithm on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum AgentAlg {
    /// Ed25519 (`EdDSA` proofs); also `eddsa`.
    #[value(alias = "eddsa")]
    Ed25519,
    /// P-256 (`ES256` proofs); also `p256`, `p-256`, `secp256r1`.
    #[value(aliases = ["p256", "p-256", "secp256r1"])]
    Es256,
}

#[derive(Debug, Args)]
pub(crate) struct DelegateArgs {
    #[command(flatten)]
    pub token: TokenArgs,
    /// The current holder's private key file.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// The next holder's public key: `ed25519/…` or `secp256r1/…` (as `warrant agent keygen`
    /// prints it).
    #[arg(long, value_name = "KEY")]
    pub to: String,
    #[command(flatten)]
    pub grant: GrantArgs,
}

#[derive(Debug, Args)]
pub(crate) struct ProofArgs {
    /// The holder's private key file (Ed25519 makes an `EdDSA` proof, P-256 an `ES256` one).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// The token the proof goes with.
    #[command(flatten)]
    pub token: TokenArgs,
    /// The request's HTTP method.
    #[arg(long)]
    pub method: String,
    /// The request's URL (query and fragment are ignored).
    #[arg(long)]
    pub url: String,
    /// Make the proof even when --key is not the token's current holder (every verifier
    /// denies it: for showing and testing exactly that).
    #[arg(long)]
    pub dangerous_any_key: bool,
}

#[derive(Debug, Args)]
pub(crate) struct KeygenArgs {
    /// Where to write the private key (must not exist yet).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// The key id tokens signed with this key will carry.
    #[arg(long, value_name = "N")]
    pub key_id: Option<u32>,
    /// Also write a key-set JSON file with the public key (needs --key-id).
    #[arg(long, value_name = "FILE")]
    pub public_out: Option<PathBuf>,
}

/// Grant flags shared by `mint` and `attenuate`.
#[derive(Debug, Args)]
pub(crate) struct GrantArgs {
    /// A grant file (JSON, or TOML when it ends in .toml; `-` reads JSON from stdin).
    #[arg(long, value_name = "FILE")]
    pub grant: Option<PathBuf>,
    /// Allow ACTION (or `a,b`, or `*`) on RESOURCE pattern; repeatable.
    #[arg(long, value_name = "ACTION:RESOURCE")]
    pub allow: Vec<String>,
    /// Deny ACTION (or `*`) on RESOURCE pattern; repeatable.
    #[arg(long, value_name = "ACTION:RESOURCE")]
    pub deny: Vec<String>,
    /// A condition `ATTR OP VALUE` on the --allow (or --deny) just before it.
    #[arg(long, value_name = "'ATTR OP VALUE'", allow_hyphen_values = true)]
    pub when: Vec<String>,
    /// Lifetime from now, such as 10m, 1h30m, 7d.
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub ttl: Option<String>,
    /// The API the token is for; repeatable.
    #[arg(long, value_name = "NAME")]
    pub audience: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct MintArgs {
    /// The issuer's private key file (offline minting).
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "issuer",
        conflicts_with = "issuer"
    )]
    pub key: Option<PathBuf>,
    /// Mint at an issuer instead: it verifies the human with --device-key first.
    #[arg(long, value_name = "URL", requires_all = ["human", "device_key"])]
    pub issuer: Option<String>,
    /// The human's enrolled device key (a private key file made with `warrant keygen`).
    #[arg(long, value_name = "FILE", requires = "issuer")]
    pub device_key: Option<PathBuf>,
    /// The role to mint under, when the human has several.
    #[arg(long, requires = "issuer")]
    pub role: Option<String>,
    #[command(flatten)]
    pub grant: GrantArgs,
    /// Bind the token to this agent key: `ed25519/…` or `secp256r1/…`.
    #[arg(long, value_name = "KEY")]
    pub holder: Option<String>,
    /// The id of the human on whose behalf the token is minted.
    #[arg(long, value_name = "ID")]
    pub human: Option<String>,
    /// A verified attribute of the human to stamp on the token (typed value); repeatable.
    #[arg(long, value_name = "NAME=VALUE")]
    pub human_attr: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct RequestArgs {
    /// The issuer's URL.
    #[arg(long, value_name = "URL")]
    pub issuer: String,
    /// The agent's private key file (`warrant agent keygen`): its proofs ask and collect.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// The human asked.
    #[arg(long, value_name = "ID", required_unless_present = "collect")]
    pub human: Option<String>,
    /// Why, shown to the human (1 to 500 characters).
    #[arg(long, required_unless_present = "collect")]
    pub reason: Option<String>,
    /// The human's role to delegate from, when they have several.
    #[arg(long)]
    pub role: Option<String>,
    /// Collect the token of a request made before (its id) instead of asking.
    #[arg(long, value_name = "ID", conflicts_with_all = ["human", "reason", "role"])]
    pub collect: Option<String>,
    /// Wait for the human's decision (polling as the issuer says), then print the token.
    #[arg(long)]
    pub wait: bool,
    #[command(flatten)]
    pub grant: GrantArgs,
}

#[derive(Debug, Args)]
pub(crate) struct DeciderArgs {
    /// The request's id (the last part of its approve URL), or the approve URL.
    pub id: String,
    /// The issuer's URL.
    #[arg(long, value_name = "URL")]
    pub issuer: String,
    /// The human deciding: the one the request asks (by default, read from the issuer).
    #[arg(long, value_name = "ID")]
    pub human: Option<String>,
    /// The human's enrolled device key (a private key file made with `warrant keygen`).
    #[arg(long, value_name = "FILE")]
    pub device_key: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct ApproveArgs {
    #[command(flatten)]
    pub decider: DeciderArgs,
    #[command(flatten)]
    pub grant: GrantArgs,
}

#[derive(Debug, Args)]
pub(crate) struct DenyArgs {
    #[command(flatten)]
    pub decider: DeciderArgs,
}

#[derive(Debug, Args)]
pub(crate) struct AttenuateArgs {
    #[command(flatten)]
    pub token: TokenArgs,
    #[command(flatten)]
    pub grant: GrantArgs,
}

/// The token a command works on: `--token` or `--token-file`.
#[derive(Debug, Args)]
pub(crate) struct TokenArgs {
    /// The token (`-` reads standard input).
    #[arg(
        long,
        value_name = "TOKEN",
        required_unless_present = "token_file",
        conflicts_with = "token_file"
    )]
    pub token: Option<String>,
    /// Read the token from a file: base64 text or raw Biscuit bytes.
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
}

/// Where the trusted root key comes from.
#[derive(Debug, Args)]
pub(crate) struct KeyArgs {
    /// The issuer's public key, `ed25519/<hex>`.
    #[arg(long, value_name = "ed25519/HEX", conflicts_with = "keys")]
    pub public_key: Option<String>,
    /// A key-set JSON file (as written by `keygen --public-out`) or its URL
    /// (`https://issuer/.well-known/warrant-keys`).
    #[arg(long, value_name = "FILE|URL")]
    pub keys: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    #[command(flatten)]
    pub token: TokenArgs,
    #[command(flatten)]
    pub keys: KeyArgs,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    #[command(flatten)]
    pub token: TokenArgs,
    #[command(flatten)]
    pub keys: KeyArgs,
    /// The resource requested, such as tickets/123/email_address.
    #[arg(long)]
    pub resource: String,
    /// The action requested, such as read.
    #[arg(long)]
    pub action: String,
    /// A request attribute, typed: amount=4999, verified=true, placed_at=2026-11-30T10:00:00Z.
    /// Numbers are integers in i64 (money in minor units): 20000.0 or 1e4 is an error.
    #[arg(long, value_name = "NAME=VALUE")]
    pub attr: Vec<String>,
    /// A request attribute with a JSON value for exact typing: reason="4999", d={"date":"…"}.
    #[arg(long, value_name = "NAME=JSON")]
    pub attr_json: Vec<String>,
    /// The audience (API) the request is made to.
    #[arg(long)]
    pub audience: Option<String>,
    /// The request time (RFC 3339; default now).
    #[arg(long, value_name = "RFC3339")]
    pub at: Option<String>,
    /// A revocation list (JSON, the feed format of docs/verifier.md), or the issuer's feed
    /// URL: revoked tokens are denied.
    #[arg(long, value_name = "FILE|URL")]
    pub revocations: Option<String>,
    /// The DPoP proof sent with the request (needed for holder-bound tokens).
    #[arg(long, value_name = "JWT", requires_all = ["method", "url"])]
    pub proof: Option<String>,
    /// The request's HTTP method, which the proof must name.
    #[arg(long, requires = "proof")]
    pub method: Option<String>,
    /// The request's URL, which the proof must name.
    #[arg(long, requires = "proof")]
    pub url: Option<String>,
    /// Accept a token that is not bound to a holder (a bearer token).
    #[arg(long)]
    pub allow_bearer: bool,
    /// Print the decision as JSON.
    #[arg(long)]
    pub json: bool,
}
