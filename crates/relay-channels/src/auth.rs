//! Password hashing and token minting.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::Rng;
use std::sync::atomic::{AtomicI64, Ordering};

use crate::error::HubError;

/// Access tokens live 24 h and refresh tokens 30 days, the lifetimes the SDK's refresh schedule
/// (every 6 h, re-sign-in every 7 days) is built around.
pub const ACCESS_TTL_MS: i64 = 24 * 3600 * 1000;
pub const REFRESH_TTL_MS: i64 = 30 * 24 * 3600 * 1000;

pub fn hash_password(password: &str) -> Result<String, HubError> {
    let raw: [u8; 16] = rand::rng().random();
    let salt = SaltString::encode_b64(&raw).map_err(|e| HubError::Invalid(format!("salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| HubError::Invalid(format!("cannot hash password: {e}")))
}

pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Checks `password` against a hash no password matches, as long as a real check takes: a
/// sign-in for an account that does not exist then answers no sooner than one with a wrong
/// password, and does not tell which accounts exist.
pub fn verify_against_nothing(password: &str) {
    static NOTHING: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let phc = NOTHING.get_or_init(|| {
        let secret: [u8; 32] = rand::rng().random();
        hash_password(&new_token_from(&secret)).unwrap_or_default()
    });
    let _ = verify_password(password, phc);
}

fn new_token_from(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// 256 random bits, hex: unguessable and free of `//` (the SDK collapses `//` in URLs).
pub fn new_token() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    new_token_from(&bytes)
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// How far the hub's clock is ahead of the system's; only tests move it.
static CLOCK_SHIFT_MS: AtomicI64 = AtomicI64::new(0);

/// How far tests may move the clock in all: a thousand years, far beyond any lifetime they
/// check, and far enough from `i64::MAX` that adding a token lifetime to the clock cannot
/// overflow.
pub const MAX_CLOCK_SHIFT_MS: i64 = 1000 * 365 * 24 * 3600 * 1000;

/// The hub's clock, which token lifetimes and message timestamps are read from.
pub fn now_ms() -> i64 {
    let system = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    system.saturating_add(CLOCK_SHIFT_MS.load(Ordering::Relaxed))
}

/// Moves the hub's clock forward by `ms` (test hook). Lifetimes of days (tokens) can then be
/// tested against a running server without waiting for them; `relay serve` offers it only
/// with `RELAY_TEST_HOOKS=1`. A shift past [`MAX_CLOCK_SHIFT_MS`] in all is refused.
pub fn advance_clock_for_tests(ms: i64) -> Result<(), HubError> {
    CLOCK_SHIFT_MS
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |shift| {
            shift.checked_add(ms).filter(|total| (0..=MAX_CLOCK_SHIFT_MS).contains(total))
        })
        .map(drop)
        .map_err(|shift| HubError::Invalid(format!("ms must be between 0 and {} (the clock is {shift} ms ahead already, of {MAX_CLOCK_SHIFT_MS} at most)", MAX_CLOCK_SHIFT_MS - shift)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_verifies_only_the_right_password() {
        let h = hash_password("s3cret").unwrap();
        assert!(h.starts_with("$argon2"));
        assert!(verify_password("s3cret", &h));
        assert!(!verify_password("wrong", &h));
    }

    #[test]
    fn the_clock_is_moved_forward_only_within_its_limit() {
        let before = now_ms();
        assert!(advance_clock_for_tests(i64::MAX).is_err());
        assert!(advance_clock_for_tests(-1).is_err());
        advance_clock_for_tests(1000).unwrap();
        assert!(advance_clock_for_tests(MAX_CLOCK_SHIFT_MS).is_err());
        assert!(now_ms() >= before + 1000);
        assert!(
            now_ms() < before + 60_000,
            "a refused shift moved the clock"
        );
    }

    #[test]
    fn tokens_are_distinct_and_long() {
        let a = new_token();
        assert_eq!(a.len(), 64);
        assert_ne!(a, new_token());
    }
}
