//! The offline breach filter: a binary fuse filter (xorf `BinaryFuse16`) over the SHA-1 of
//! breached passwords, checked without any network. Built by `sekimori breach build` from a
//! plain list (one password a line) or the Have I Been Pwned `SHA1HEX:COUNT` format.
//!
//! File layout (little-endian): magic `SKMBRF01`, entry count u64, descriptor (seed u64,
//! segment length u32, mask u32, segment count length u32), fingerprint count u64, the
//! fingerprints (u16 each), then the SHA-256 of everything before it, so a truncated or
//! corrupted file is refused instead of silently missing breached passwords.

use std::io::{BufRead, Read, Write};

use sha1::Digest as _;
use sha2::Sha256;
use unicode_normalization::UnicodeNormalization;
use xorf::{BinaryFuse16, Descriptor, Filter as _};

const MAGIC: &[u8; 8] = b"SKMBRF01";
const HEADER_LEN: usize = 8 + 8 + 8 + 4 + 4 + 4 + 8;

#[derive(Debug, thiserror::Error)]
pub enum BreachError {
    #[error("cannot read breach list: {0}")]
    Io(#[from] std::io::Error),
    #[error("breach filter file is not a Sekimori breach filter (bad magic)")]
    BadMagic,
    #[error("breach filter file is truncated or corrupt: {0}")]
    Corrupt(&'static str),
    #[error("line {line}: {message}")]
    BadLine { line: u64, message: String },
    #[error("the list holds no passwords")]
    Empty,
    #[error("filter construction failed: {0}")]
    Build(&'static str),
}

/// Input format of a breach list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ListFormat {
    /// Decide from the first non-empty line.
    Auto,
    /// One password a line.
    Plain,
    /// Have I Been Pwned: `SHA1HEX:COUNT` (or bare `SHA1HEX`).
    Hibp,
}

/// The loaded filter.
#[derive(Debug, Clone)]
pub struct BreachFilter {
    filter: BinaryFuse16,
    entries: u64,
}

/// What a build reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuildStats {
    pub lines: u64,
    pub skipped_below_min_count: u64,
    pub entries: u64,
    pub bytes: u64,
}

fn key_of_sha1(digest: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(b)
}

fn key_of_password(password: &str) -> u64 {
    key_of_sha1(&sha1::Sha1::digest(password.as_bytes()))
}

fn parse_hibp(line: &str, line_no: u64) -> Result<(u64, u64), BreachError> {
    let (hash, count) = match line.split_once(':') {
        Some((h, c)) => {
            let count = c.trim().parse::<u64>().map_err(|_| BreachError::BadLine {
                line: line_no,
                message: format!("count `{}` is not a number", c.trim()),
            })?;
            (h, count)
        }
        None => (line, 1),
    };
    let mut digest = [0u8; 20];
    hex::decode_to_slice(hash.trim(), &mut digest).map_err(|_| BreachError::BadLine {
        line: line_no,
        message: "expected 40 hexadecimal digits of a SHA-1 hash".into(),
    })?;
    Ok((key_of_sha1(&digest), count))
}

fn looks_like_hibp(line: &str) -> bool {
    let hash = line.split_once(':').map_or(line, |(h, _)| h);
    hash.len() == 40 && hash.bytes().all(|b| b.is_ascii_hexdigit())
}

impl BreachFilter {
    /// Build from a list. `progress` is called every 100,000 lines with the lines read so far.
    pub fn build(
        reader: impl BufRead,
        format: ListFormat,
        min_count: u64,
        mut progress: impl FnMut(u64),
    ) -> Result<(Self, BuildStats), BreachError> {
        let mut keys: Vec<u64> = Vec::new();
        let mut format = format;
        let mut stats = BuildStats {
            lines: 0,
            skipped_below_min_count: 0,
            entries: 0,
            bytes: 0,
        };
        for line in reader.lines() {
            let line = line?;
            stats.lines += 1;
            if stats.lines.is_multiple_of(100_000) {
                progress(stats.lines);
            }
            let trimmed = line.trim_end_matches(['\r', '\n']);
            if trimmed.trim().is_empty() {
                continue;
            }
            if format == ListFormat::Auto {
                format = if looks_like_hibp(trimmed.trim()) {
                    ListFormat::Hibp
                } else {
                    ListFormat::Plain
                };
            }
            match format {
                ListFormat::Hibp => {
                    let (key, count) = parse_hibp(trimmed.trim(), stats.lines)?;
                    if count < min_count {
                        stats.skipped_below_min_count += 1;
                    } else {
                        keys.push(key);
                    }
                }
                _ => {
                    keys.push(key_of_password(trimmed));
                    let nfkc: String = trimmed.nfkc().collect();
                    if nfkc != trimmed {
                        keys.push(key_of_password(&nfkc));
                    }
                }
            }
        }
        progress(stats.lines);
        keys.sort_unstable();
        keys.dedup();
        if keys.is_empty() {
            return Err(BreachError::Empty);
        }
        let filter = BinaryFuse16::try_from(&keys).map_err(BreachError::Build)?;
        let entries = keys.len() as u64;
        stats.entries = entries;
        let f = Self { filter, entries };
        stats.bytes = f.serialized_len() as u64;
        Ok((f, stats))
    }

    /// Number of distinct hashes the filter was built from.
    pub fn entries(&self) -> u64 {
        self.entries
    }

    pub fn serialized_len(&self) -> usize {
        HEADER_LEN + self.filter.fingerprints.len() * 2 + 32
    }

    /// Whether the password (as typed, or NFKC-normalised) is probably in the breach list.
    /// False positives happen at about 1 in 65,536; false negatives never.
    pub fn contains_password(&self, password: &str) -> bool {
        if self.filter.contains(&key_of_password(password)) {
            return true;
        }
        let nfkc: String = password.nfkc().collect();
        nfkc != password && self.filter.contains(&key_of_password(&nfkc))
    }

    /// Whether a SHA-1 digest is probably in the list.
    pub fn contains_sha1(&self, digest: &[u8; 20]) -> bool {
        self.filter.contains(&key_of_sha1(digest))
    }

    pub fn write_to(&self, mut out: impl Write) -> std::io::Result<()> {
        let mut buf = Vec::with_capacity(self.serialized_len());
        buf.extend_from_slice(MAGIC);
        buf.extend_from_slice(&self.entries.to_le_bytes());
        let d = &self.filter.descriptor;
        buf.extend_from_slice(&d.seed.to_le_bytes());
        buf.extend_from_slice(&d.segment_length.to_le_bytes());
        buf.extend_from_slice(&d.segment_length_mask.to_le_bytes());
        buf.extend_from_slice(&d.segment_count_length.to_le_bytes());
        buf.extend_from_slice(&(self.filter.fingerprints.len() as u64).to_le_bytes());
        for fp in self.filter.fingerprints.iter() {
            buf.extend_from_slice(&fp.to_le_bytes());
        }
        let digest = Sha256::digest(&buf);
        buf.extend_from_slice(&digest);
        out.write_all(&buf)
    }

    pub fn read_from(mut input: impl Read) -> Result<Self, BreachError> {
        let mut buf = Vec::new();
        input.read_to_end(&mut buf)?;
        if buf.len() < 8 || &buf[..8] != MAGIC {
            return Err(BreachError::BadMagic);
        }
        if buf.len() < HEADER_LEN + 32 {
            return Err(BreachError::Corrupt("shorter than its header"));
        }
        let (body, digest) = buf.split_at(buf.len() - 32);
        if Sha256::digest(body).as_slice() != digest {
            return Err(BreachError::Corrupt("checksum does not match"));
        }
        let u64_at = |o: usize| {
            body.get(o..o + 8)
                .and_then(|s| s.try_into().ok())
                .map(u64::from_le_bytes)
        };
        let u32_at = |o: usize| {
            body.get(o..o + 4)
                .and_then(|s| s.try_into().ok())
                .map(u32::from_le_bytes)
        };
        let bad = || BreachError::Corrupt("header field missing");
        let entries = u64_at(8).ok_or_else(bad)?;
        let descriptor = Descriptor {
            seed: u64_at(16).ok_or_else(bad)?,
            segment_length: u32_at(24).ok_or_else(bad)?,
            segment_length_mask: u32_at(28).ok_or_else(bad)?,
            segment_count_length: u32_at(32).ok_or_else(bad)?,
        };
        let count = usize::try_from(u64_at(36).ok_or_else(bad)?).map_err(|_| bad())?;
        let fps = &body[HEADER_LEN..];
        if fps.len() != count.checked_mul(2).ok_or_else(bad)? {
            return Err(BreachError::Corrupt(
                "fingerprint count does not match the file size",
            ));
        }
        // The contains() arithmetic indexes fingerprints by segment geometry; refuse a header
        // that would index past the end instead of trusting it.
        let needed =
            u64::from(descriptor.segment_count_length) + 2 * u64::from(descriptor.segment_length);
        if descriptor.segment_length == 0
            || descriptor.segment_length_mask != descriptor.segment_length - 1
            || needed > count as u64
        {
            return Err(BreachError::Corrupt("segment geometry is inconsistent"));
        }
        let fingerprints: Box<[u16]> = fps
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        Ok(Self {
            filter: BinaryFuse16 {
                descriptor,
                fingerprints,
            },
            entries,
        })
    }

    pub fn load(path: &std::path::Path) -> Result<Self, BreachError> {
        let file = std::fs::File::open(path)?;
        Self::read_from(std::io::BufReader::new(file))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex_sha1(s: &str) -> String {
        hex::encode_upper(sha1::Sha1::digest(s.as_bytes()))
    }

    #[test]
    fn plain_list_hits_and_misses() {
        let list = "hunter2\ncorrecthorse\nｐａｓｓ１２３\n\n";
        let (f, stats) = BreachFilter::build(list.as_bytes(), ListFormat::Auto, 0, |_| {}).unwrap();
        assert_eq!(stats.lines, 4);
        assert!(f.contains_password("hunter2"));
        assert!(f.contains_password("correcthorse"));
        assert!(
            f.contains_password("pass123"),
            "NFKC form of a full-width entry"
        );
        assert!(f.contains_password("ｐａｓｓ１２３"));
        assert!(!f.contains_password("hunter3"));
    }

    #[test]
    fn hibp_format_with_min_count() {
        let list = format!(
            "{}:42\n{}:1\n{}\n",
            hex_sha1("common"),
            hex_sha1("rare"),
            hex_sha1("bare")
        );
        let (f, stats) = BreachFilter::build(list.as_bytes(), ListFormat::Auto, 2, |_| {}).unwrap();
        assert!(f.contains_password("common"));
        assert!(!f.contains_password("rare"));
        assert_eq!(
            stats.skipped_below_min_count, 2,
            "rare (1) and bare (implied 1)"
        );
        let (f, _) = BreachFilter::build(list.as_bytes(), ListFormat::Hibp, 0, |_| {}).unwrap();
        assert!(f.contains_password("rare") && f.contains_password("bare"));
    }

    #[test]
    fn bad_hibp_line_names_its_line() {
        let list = format!("{}:3\nnot-a-hash:2\n", hex_sha1("x"));
        let err = BreachFilter::build(list.as_bytes(), ListFormat::Hibp, 0, |_| {}).unwrap_err();
        assert!(matches!(err, BreachError::BadLine { line: 2, .. }), "{err}");
    }

    #[test]
    fn empty_list_is_an_error() {
        let err = BreachFilter::build("\n\n".as_bytes(), ListFormat::Auto, 0, |_| {}).unwrap_err();
        assert!(matches!(err, BreachError::Empty));
    }

    #[test]
    fn file_round_trip_and_corruption_detection() {
        let list: String = (0..5000).map(|i| format!("pw-{i}\n")).collect();
        let (f, stats) =
            BreachFilter::build(list.as_bytes(), ListFormat::Plain, 0, |_| {}).unwrap();
        let mut bytes = Vec::new();
        f.write_to(&mut bytes).unwrap();
        assert_eq!(bytes.len() as u64, stats.bytes);
        let g = BreachFilter::read_from(&bytes[..]).unwrap();
        assert_eq!(g.entries(), 5000);
        for i in 0..5000 {
            assert!(g.contains_password(&format!("pw-{i}")));
        }
        let mut flipped = bytes.clone();
        flipped[HEADER_LEN + 10] ^= 1;
        assert!(matches!(
            BreachFilter::read_from(&flipped[..]),
            Err(BreachError::Corrupt(_))
        ));
        assert!(matches!(
            BreachFilter::read_from(&bytes[..bytes.len() - 5]),
            Err(BreachError::Corrupt(_))
        ));
        assert!(matches!(
            BreachFilter::read_from(&b"garbage!garbage"[..]),
            Err(BreachError::BadMagic)
        ));
    }

    #[test]
    fn false_positive_rate_is_measured_below_one_in_ten_thousand() {
        let n = 200_000u64;
        let list: String = (0..n).map(|i| format!("breached-{i}\n")).collect();
        let (f, _) = BreachFilter::build(list.as_bytes(), ListFormat::Plain, 0, |_| {}).unwrap();
        let probes = 400_000u64;
        let fp = (0..probes)
            .filter(|i| f.contains_password(&format!("clean-{i}")))
            .count() as f64;
        let rate = fp / probes as f64;
        // BinaryFuse16's theoretical rate is 2^-16 ≈ 1.5e-5.
        assert!(rate < 1e-4, "false-positive rate {rate}");
        assert!(
            (0..n).all(|i| f.contains_password(&format!("breached-{i}"))),
            "no false negatives"
        );
    }
}
