//! What keeps password checks from being turned against the server: a bound on the Argon2
//! hashes running at once (each takes about 19 MiB and a core for tens of milliseconds) and
//! growing delays for guesses, counted per account and per client address.
//!
//! Every attempt counts as a failure when it is admitted and is forgiven only once it proved
//! right (or was refused unchecked): hundreds of guesses sent at once are then throttled from
//! the sixth on, not after all of them were hashed. The account's own delay binds only
//! addresses that have failed before, so an attacker guessing at an account does not lock its
//! owner out from elsewhere; and those addresses queue for the hashing slots through a narrow
//! gate of their own, so that a client with a clean record waits behind few of their guesses.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::HubError;

/// Failures an account or an address may have before its guesses are delayed.
pub const FREE_FAILURES: u32 = 5;
/// The first delay; each further failure doubles it, up to [`MAX_DELAY`].
const FIRST_DELAY: Duration = Duration::from_secs(1);
const MAX_DELAY: Duration = Duration::from_secs(300);
/// A record with no failure for this long is forgotten.
const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
/// Records kept per table; past it the stale ones go, then those whose delay is nearest its end.
const MAX_RECORDS: usize = 100_000;
/// How long a password check may wait for a free hashing slot before it is refused as busy.
const SLOT_WAIT: Duration = Duration::from_secs(2);
/// Account names longer than this are cut in the table (no real e-mail address is longer).
const MAX_KEY: usize = 320;

/// The failures of one account or address.
#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    /// No guess is admitted before this.
    until: Instant,
    last: Instant,
}

impl Record {
    fn stale(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.last) >= FORGET_AFTER
    }
}

/// The delay after `failures` failures.
fn delay(failures: u32) -> Duration {
    match failures.checked_sub(FREE_FAILURES + 1) {
        None => Duration::ZERO,
        Some(n) => FIRST_DELAY
            .checked_mul(1u32.checked_shl(n).unwrap_or(u32::MAX))
            .map_or(MAX_DELAY, |d| d.min(MAX_DELAY)),
    }
}

struct Table<K> {
    records: HashMap<K, Record>,
}

impl<K: std::hash::Hash + Eq + Clone> Table<K> {
    fn new() -> Self {
        Self {
            records: HashMap::new(),
        }
    }

    fn live(&self, key: &K, now: Instant) -> Option<&Record> {
        self.records.get(key).filter(|r| !r.stale(now))
    }

    /// How long `key` must still wait, if it must.
    fn wait(&self, key: &K, now: Instant) -> Option<Duration> {
        self.live(key, now)
            .map(|r| r.until.saturating_duration_since(now))
            .filter(|d| !d.is_zero())
    }

    fn fail(&mut self, key: &K, now: Instant) -> u32 {
        if !self.records.contains_key(key) && self.records.len() >= MAX_RECORDS {
            self.make_room(now);
        }
        let r = self.records.entry(key.clone()).or_insert(Record {
            failures: 0,
            until: now,
            last: now,
        });
        if r.stale(now) {
            r.failures = 0;
        }
        r.failures = r.failures.saturating_add(1);
        r.until = now + delay(r.failures);
        r.last = now;
        r.failures
    }

    fn forgive(&mut self, key: &K) {
        self.records.remove(key);
    }

    /// Takes back one failure counted for an attempt that was never checked.
    fn undo(&mut self, key: &K) {
        if let Some(r) = self.records.get_mut(key) {
            r.failures = r.failures.saturating_sub(1);
            if r.failures == 0 {
                self.records.remove(key);
            } else {
                r.until = r.last + delay(r.failures);
            }
        }
    }

    fn make_room(&mut self, now: Instant) {
        self.records.retain(|_, r| !r.stale(now));
        if self.records.len() >= MAX_RECORDS {
            // Of the rest, those free to guess again lose least by being forgotten.
            let mut untils: Vec<Instant> = self.records.values().map(|r| r.until).collect();
            let cut = MAX_RECORDS / 10;
            untils.select_nth_unstable(cut);
            let limit = untils[cut];
            self.records.retain(|_, r| r.until > limit);
        }
    }
}

/// A client's address as throttled: IPv6 clients by their /64, since one host usually has a
/// whole /64 to pick addresses from; IPv4 inside IPv6 as IPv4.
fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut s = v6.segments();
                s[4..].fill(0);
                IpAddr::V6(s.into())
            }
        },
    }
}

fn account_key(email: &str) -> String {
    let e = email.trim().to_lowercase();
    match e.char_indices().nth(MAX_KEY) {
        Some((at, _)) => e[..at].to_owned(),
        None => e,
    }
}

struct Tables {
    accounts: Table<String>,
    addresses: Table<IpAddr>,
}

/// The sign-in throttle and the hashing slots; one per hub.
pub struct PasswordGuard {
    tables: Mutex<Tables>,
    slots: Arc<Semaphore>,
    /// Held, as well as a slot, by every check from an address that failed before (and by
    /// sign-ups): as many as there are slots, so that few such checks wait in front of others.
    suspects: Arc<Semaphore>,
    slot_count: usize,
}

/// An admitted sign-in attempt, counted as failed unless [`Attempt::succeeded`] or
/// [`Attempt::unchecked`] is called.
pub struct Attempt {
    account: String,
    address: IpAddr,
    suspect: bool,
}

/// Holding one lets a password be hashed or checked.
pub struct HashSlot {
    _permit: OwnedSemaphorePermit,
    _suspect: Option<OwnedSemaphorePermit>,
}

impl PasswordGuard {
    /// Slots for about half the cores (at least one), so that a flood of password checks leaves
    /// cores for everything else the server does.
    pub fn new() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self::with_slots(cores.div_ceil(2))
    }

    pub fn with_slots(slots: usize) -> Self {
        let slots = slots.max(1);
        Self {
            tables: Mutex::new(Tables {
                accounts: Table::new(),
                addresses: Table::new(),
            }),
            slots: Arc::new(Semaphore::new(slots)),
            suspects: Arc::new(Semaphore::new(slots)),
            slot_count: slots,
        }
    }

    /// How many password hashes may run at once.
    pub fn slots(&self) -> usize {
        self.slot_count
    }

    /// Admits a guess at `email`'s password from `from`, or says how long to wait.
    pub fn admit(&self, email: &str, from: IpAddr) -> Result<Attempt, HubError> {
        self.admit_at(email, from, Instant::now())
    }

    fn admit_at(&self, email: &str, from: IpAddr, now: Instant) -> Result<Attempt, HubError> {
        let (account, address) = (account_key(email), address_key(from));
        let mut t = self.tables.lock().unwrap_or_else(|p| p.into_inner());
        let Tables {
            accounts,
            addresses,
        } = &mut *t;
        let suspect = addresses.live(&address, now).is_some();
        let wait = addresses
            .wait(&address, now)
            .or_else(|| suspect.then(|| accounts.wait(&account, now)).flatten());
        if let Some(wait) = wait {
            tracing::debug!(%address, account, ?wait, "sign-in refused: too many failures");
            metrics::counter!("relay_signin_throttled_total").increment(1);
            return Err(HubError::Throttled {
                retry_after_s: wait.as_secs_f64().ceil() as u64,
            });
        }
        let by_address = addresses.fail(&address, now);
        let by_account = accounts.fail(&account, now);
        if by_address == FREE_FAILURES + 1 || by_account == FREE_FAILURES + 1 {
            tracing::info!(%address, account, "repeated failed sign-ins: further guesses are delayed");
        }
        Ok(Attempt {
            account,
            address,
            suspect,
        })
    }

    /// A free hashing slot for a check that is not a sign-in (a sign-up's hash), waiting
    /// briefly for one.
    pub async fn slot(&self) -> Result<HashSlot, HubError> {
        self.slot_as(true).await
    }

    async fn slot_as(&self, suspect: bool) -> Result<HashSlot, HubError> {
        let wait = async {
            let gate = match suspect {
                true => Some(self.suspects.clone().acquire_owned().await?),
                false => None,
            };
            let permit = self.slots.clone().acquire_owned().await?;
            Ok::<_, tokio::sync::AcquireError>(HashSlot {
                _permit: permit,
                _suspect: gate,
            })
        };
        match tokio::time::timeout(SLOT_WAIT, wait).await {
            Ok(Ok(slot)) => Ok(slot),
            _ => {
                metrics::counter!("relay_signin_busy_total").increment(1);
                Err(HubError::Busy)
            }
        }
    }
}

impl Default for PasswordGuard {
    fn default() -> Self {
        Self::new()
    }
}

impl Attempt {
    /// A hashing slot for this attempt, waiting briefly for one; refused, the attempt is not
    /// counted.
    pub async fn slot(&self, guard: &PasswordGuard) -> Result<HashSlot, HubError> {
        let slot = guard.slot_as(self.suspect).await;
        if slot.is_err() {
            self.unchecked(guard);
        }
        slot
    }

    /// The password was not checked: the failure counted for it is taken back.
    fn unchecked(&self, guard: &PasswordGuard) {
        let mut t = guard.tables.lock().unwrap_or_else(|p| p.into_inner());
        t.accounts.undo(&self.account);
        t.addresses.undo(&self.address);
    }

    /// The password was right: the account's and the address's failures are forgotten.
    pub fn succeeded(self, guard: &PasswordGuard) {
        let mut t = guard.tables.lock().unwrap_or_else(|p| p.into_inner());
        t.accounts.forgive(&self.account);
        t.addresses.forgive(&self.address);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn delays_start_after_the_free_failures_and_double_up_to_the_cap() {
        assert_eq!(delay(FREE_FAILURES), Duration::ZERO);
        assert_eq!(delay(FREE_FAILURES + 1), Duration::from_secs(1));
        assert_eq!(delay(FREE_FAILURES + 2), Duration::from_secs(2));
        assert_eq!(delay(FREE_FAILURES + 4), Duration::from_secs(8));
        assert_eq!(delay(FREE_FAILURES + 40), MAX_DELAY);
        assert_eq!(delay(u32::MAX), MAX_DELAY);
    }

    #[test]
    fn concurrent_guesses_are_refused_from_the_sixth_on() {
        let g = PasswordGuard::with_slots(1);
        let now = Instant::now();
        let a = ip("10.0.0.1");
        let admitted = (0..400)
            .filter(|_| g.admit_at("owner@example.com", a, now).is_ok())
            .count();
        assert_eq!(admitted, FREE_FAILURES as usize + 1);
        match g.admit_at("other@example.com", a, now) {
            Err(HubError::Throttled { retry_after_s }) => assert_eq!(retry_after_s, 1),
            other => panic!("{:?}", other.map(|_| ())),
        }
        // The delay grows with each failure admitted after it ran out.
        let later = now + Duration::from_secs(1);
        assert!(g.admit_at("owner@example.com", a, later).is_ok());
        assert!(matches!(
            g.admit_at("owner@example.com", a, later + Duration::from_millis(1500)),
            Err(HubError::Throttled { retry_after_s: 1 })
        ));
    }

    #[test]
    fn the_account_delay_binds_only_addresses_that_failed() {
        let g = PasswordGuard::with_slots(1);
        let now = Instant::now();
        // Guesses from many addresses, one each, push the account into its delay.
        for n in 1..=10 {
            g.admit_at("owner@example.com", ip(&format!("10.0.1.{n}")), now)
                .unwrap();
        }
        let failed_before = ip("10.0.1.1");
        assert!(matches!(
            g.admit_at("owner@example.com", failed_before, now),
            Err(HubError::Throttled { .. })
        ));
        let owner = ip("192.168.7.7");
        let attempt = g.admit_at("Owner@Example.com", owner, now).unwrap();
        attempt.succeeded(&g);
        // Its success forgave the account, and the owner's address has no record.
        assert!(g.admit_at("owner@example.com", owner, now).is_ok());
    }

    #[test]
    fn a_success_forgives_and_old_failures_are_forgotten() {
        let g = PasswordGuard::with_slots(1);
        let now = Instant::now();
        let a = ip("10.0.0.2");
        for _ in 0..FREE_FAILURES {
            g.admit_at("u@example.com", a, now).unwrap();
        }
        g.admit_at("u@example.com", a, now).unwrap().succeeded(&g);
        for _ in 0..=FREE_FAILURES {
            g.admit_at("u@example.com", a, now).unwrap();
        }
        assert!(g.admit_at("u@example.com", a, now).is_err());
        let much_later = now + FORGET_AFTER + MAX_DELAY;
        assert!(g.admit_at("u@example.com", a, much_later).is_ok());
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        assert_eq!(
            address_key(ip("2001:db8:1:2:aaaa::1")),
            address_key(ip("2001:db8:1:2:bbbb::9"))
        );
        assert_ne!(
            address_key(ip("2001:db8:1:2::1")),
            address_key(ip("2001:db8:1:3::1"))
        );
        assert_eq!(address_key(ip("::ffff:10.0.0.1")), ip("10.0.0.1"));
    }

    #[test]
    fn the_tables_stay_bounded() {
        let mut t: Table<u32> = Table::new();
        let now = Instant::now();
        for k in 0..(MAX_RECORDS as u32 + 10) {
            t.fail(&k, now + Duration::from_millis(u64::from(k)));
        }
        assert!(t.records.len() <= MAX_RECORDS);
        assert!(t.records.contains_key(&(MAX_RECORDS as u32 + 9)));
    }

    #[tokio::test]
    async fn a_check_refused_as_busy_is_not_counted() {
        let g = PasswordGuard::with_slots(1);
        let held = g.slot().await.unwrap();
        let a = ip("10.0.0.3");
        // More than the free failures, had they been counted.
        for _ in 0..=FREE_FAILURES {
            let attempt = g.admit("u@example.com", a).unwrap();
            assert!(matches!(attempt.slot(&g).await, Err(HubError::Busy)));
        }
        drop(held);
        let attempt = g.admit("u@example.com", a).unwrap();
        assert!(!attempt.suspect, "refusals unchecked left a record");
        assert!(attempt.slot(&g).await.is_ok());
    }

    #[tokio::test]
    async fn suspects_wait_behind_no_more_of_their_own_than_there_are_slots() {
        let g = Arc::new(PasswordGuard::with_slots(1));
        let now = Instant::now();
        let bad = ip("10.0.0.4");
        let first = g.admit_at("u@example.com", bad, now).unwrap();
        let running = first.slot(&g).await.unwrap();
        let second = g.admit_at("u@example.com", bad, now).unwrap();
        assert!(second.suspect);
        let g2 = g.clone();
        let queued = tokio::spawn(async move { second.slot(&g2).await.map(drop) });
        tokio::task::yield_now().await;
        let third = g.admit_at("u@example.com", bad, now).unwrap();
        // The suspects' gate is held by the queued second guess; a clean client is not behind
        // the third.
        let clean = g.admit_at("u@example.com", ip("10.9.9.9"), now).unwrap();
        assert!(!clean.suspect);
        assert_eq!(g.suspects.available_permits(), 0);
        drop(running);
        queued.await.unwrap().unwrap();
        assert!(clean.slot(&g).await.is_ok());
        drop(third);
    }
}
