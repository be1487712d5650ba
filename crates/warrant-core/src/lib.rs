//! warrant-core: the warrant token profile, with no I/O.
pub mod compile;
pub mod eval;
pub mod grant;
pub mod inspect;
pub mod keys;
pub mod pattern;
pub mod request;
pub mod time;
pub mod token;
pub mod value;
