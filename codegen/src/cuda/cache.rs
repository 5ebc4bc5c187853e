//! Device copies of host data, found again by content.
//!
//! A training step passes the same θ and the same collocation points to every kernel site,
//! and a map's result often feeds the next map (`grad.loss` reads the residuals again).
//! Keying device copies by content (length, a hash, then an exact bit comparison) finds
//! all of these without the interpreter knowing about devices: an upload of data already
//! on the device is a hash of it, and a site's downloaded result is remembered with its
//! device buffer, so the next site that reads it does not copy it back. The exact
//! comparison makes a hit always correct; the least recently used copies go first when
//! the byte budget is exceeded.

/// Bytes of device copies kept by default (plus a host copy of each for comparisons).
pub const DEFAULT_BUDGET: usize = 256 << 20;
/// Copies kept by default: a training step of a PINN touches a few dozen (θ, the points,
/// the maps' results); stale θs and results go first. Lookups scan the entries, so the
/// count stays small.
pub const DEFAULT_ENTRIES: usize = 64;

/// A content-addressed cache of device handles `D`.
#[derive(Debug)]
pub struct ContentCache<D> {
    entries: Vec<Entry<D>>,
    bytes: usize,
    budget: usize,
    max_entries: usize,
    clock: u64,
    hits: u64,
    misses: u64,
}

#[derive(Debug)]
struct Entry<D> {
    hash: u64,
    host: Vec<f64>,
    device: D,
    used: u64,
}

/// A fast hash of the bits of `data` (FxHash-style over the words, with the length).
pub fn content_hash(data: &[f64]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h = (data.len() as u64).wrapping_mul(K);
    for x in data {
        h = (h.rotate_left(5) ^ x.to_bits()).wrapping_mul(K);
    }
    h
}

/// Same elements, bit for bit (NaN payloads and signed zeros included).
fn same_bits(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

impl<D: Clone> ContentCache<D> {
    /// An empty cache holding at most `budget` bytes of data in at most `max_entries`
    /// copies.
    pub fn new(budget: usize, max_entries: usize) -> ContentCache<D> {
        ContentCache {
            entries: Vec::new(),
            bytes: 0,
            budget,
            max_entries,
            clock: 0,
            hits: 0,
            misses: 0,
        }
    }

    /// The device copy of `data`, if the cache holds one.
    pub fn get(&mut self, data: &[f64]) -> Option<D> {
        let hash = content_hash(data);
        self.clock += 1;
        let clock = self.clock;
        let found = self
            .entries
            .iter_mut()
            .find(|e| e.hash == hash && same_bits(&e.host, data));
        match found {
            Some(e) => {
                e.used = clock;
                self.hits += 1;
                Some(e.device.clone())
            }
            None => {
                self.misses += 1;
                None
            }
        }
    }

    /// Remembers `device` as the copy of `host`; data larger than the budget is not kept.
    pub fn insert(&mut self, host: Vec<f64>, device: D) {
        let size = std::mem::size_of_val(host.as_slice());
        if size > self.budget || self.max_entries == 0 {
            return;
        }
        let hash = content_hash(&host);
        if self
            .entries
            .iter()
            .any(|e| e.hash == hash && same_bits(&e.host, &host))
        {
            return;
        }
        while self.bytes + size > self.budget || self.entries.len() >= self.max_entries {
            let Some(oldest) = self
                .entries
                .iter()
                .enumerate()
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| k)
            else {
                break;
            };
            let e = self.entries.swap_remove(oldest);
            self.bytes -= std::mem::size_of_val(e.host.as_slice());
        }
        self.clock += 1;
        self.bytes += size;
        self.entries.push(Entry {
            hash,
            host,
            device,
            used: self.clock,
        });
    }

    /// Forgets everything (device copies are freed when their last user drops them).
    pub fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
    }

    /// Lookups that found a copy, and lookups that did not.
    pub fn stats(&self) -> (u64, u64) {
        (self.hits, self.misses)
    }

    /// Bytes of data held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_need_equal_bits_and_old_entries_go_first() {
        let mut c: ContentCache<u32> = ContentCache::new(64, 8);
        assert_eq!(c.get(&[1.0, 2.0]), None);
        c.insert(vec![1.0, 2.0], 7);
        assert_eq!(c.get(&[1.0, 2.0]), Some(7));
        assert_eq!(c.get(&[1.0, 2.5]), None);
        assert_eq!(c.get(&[1.0]), None);
        c.insert(vec![0.0], 1);
        assert_eq!(c.get(&[-0.0]), None, "signed zeros differ");
        c.insert(vec![f64::NAN], 2);
        assert_eq!(c.get(&[f64::NAN]), Some(2));
        assert_eq!(c.bytes(), 32);
        // 32 more bytes fit exactly; 8 more evict the least recently used ([0.0]).
        c.insert(vec![3.0; 4], 3);
        assert_eq!(c.bytes(), 64);
        c.get(&[1.0, 2.0]);
        c.insert(vec![9.0], 4);
        assert_eq!(c.get(&[0.0]), None);
        assert_eq!(c.get(&[1.0, 2.0]), Some(7));
        assert_eq!(c.get(&[9.0]), Some(4));
        assert!(c.bytes() <= 64);
        // Too big for the budget: not kept, nothing evicted.
        c.insert(vec![0.5; 9], 5);
        assert_eq!(c.get(&[0.5; 9]), None);
        assert_eq!(c.get(&[9.0]), Some(4));
        let (hits, misses) = c.stats();
        assert!(hits >= 5 && misses >= 5);
        c.clear();
        assert_eq!(c.get(&[9.0]), None);
        assert_eq!(c.bytes(), 0);
        assert_ne!(content_hash(&[1.0, 2.0]), content_hash(&[2.0, 1.0]));
        // At most `max_entries` copies: the oldest goes.
        let mut c: ContentCache<u32> = ContentCache::new(1 << 20, 2);
        c.insert(vec![1.0], 1);
        c.insert(vec![2.0], 2);
        c.get(&[1.0]);
        c.insert(vec![3.0], 3);
        assert_eq!(
            (c.get(&[1.0]), c.get(&[2.0]), c.get(&[3.0])),
            (Some(1), None, Some(3))
        );
        assert_ne!(content_hash(&[]), content_hash(&[0.0]));
    }
}
