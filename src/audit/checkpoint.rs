//! Signed checkpoints of the audit chain (G-22). The hash chain shows an edited, deleted or
//! inserted row, but not a cut tail, nor a chain rebuilt from scratch by someone holding the
//! database. A checkpoint signs the head (seq, hash, time) with the audit key, which lives
//! outside the database and apart from the assertion keys; each is stored in the database and
//! appended to a file outside it. This module owns the signed form and the pure check of
//! checkpoints against the rows; signing on a schedule lives in `audit::signer`.

use std::collections::{BTreeMap, HashMap};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::crypto::ed25519::{self, Ed25519Key};

/// Domain separation: these bytes are never valid as any other signed message.
const DOMAIN: &str = "sekimori audit checkpoint v1";

/// One signed chain head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub seq: i64,
    /// The hash of row `seq`.
    pub hash: String,
    /// When it was signed, JST with offset (as audit rows are stored).
    pub at: String,
    /// Thumbprint of the audit key that signed it.
    pub key_id: String,
    /// Ed25519 over [`message`], base64url.
    pub signature: String,
}

/// The signed bytes: each field length-prefixed, after the domain.
fn message(seq: i64, hash: &str, at: &str) -> Vec<u8> {
    let mut m = Vec::with_capacity(128);
    for f in [DOMAIN, &seq.to_string(), hash, at] {
        m.extend_from_slice(&(f.len() as u64).to_le_bytes());
        m.extend_from_slice(f.as_bytes());
    }
    m
}

impl Checkpoint {
    pub fn sign(key: &Ed25519Key, seq: i64, hash: &str, at: &str) -> Self {
        Self {
            seq,
            hash: hash.to_owned(),
            at: at.to_owned(),
            key_id: key.thumbprint(),
            signature: URL_SAFE_NO_PAD.encode(key.sign(&message(seq, hash, at))),
        }
    }

    /// Signed by `public` over exactly these fields.
    pub fn verifies_with(&self, public: &[u8; 32]) -> bool {
        URL_SAFE_NO_PAD.decode(&self.signature).is_ok_and(|sig| {
            ed25519::verify(public, &message(self.seq, &self.hash, &self.at), &sig)
        })
    }

    /// One JSON line (the file's and the export's form).
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Where a checkpoint was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Database,
    /// The file the gateway appends to, outside the database.
    File,
    /// A copy kept elsewhere, given to `audit verify --checkpoints`.
    Copy,
}

impl Source {
    fn en(self) -> &'static str {
        match self {
            Source::Database => "the database",
            Source::File => "the checkpoint file",
            Source::Copy => "the copy given",
        }
    }

    fn ja(self) -> &'static str {
        match self {
            Source::Database => "データベース",
            Source::File => "チェックポイントファイル",
            Source::Copy => "指定された写し",
        }
    }
}

/// What a checkpoint says is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum CheckpointProblem {
    /// The checkpoint is not the audit key's signature over its fields (forged or edited).
    NotSigned { seq: i64, source: Source },
    /// Rows `head + 1 ..= seq` are gone: the log was cut after a signed head.
    Truncated { checkpoint: i64, head: i64 },
    /// Row `seq` no longer has the hash that was signed: the chain was rebuilt or rewritten.
    Rebuilt { seq: i64, signed_at: String },
    /// A checkpoint that `source` holds and the database lacks (removed from the database).
    MissingFromDatabase { seq: i64, source: Source },
    /// A checkpoint of the database that the file lacks (the file was cut or replaced).
    MissingFromFile { seq: i64 },
    /// Two different checkpoints claim the same row.
    Conflicting { seq: i64 },
    /// A line of a checkpoint file that is not a checkpoint.
    Unreadable { source: Source, line: usize },
}

impl CheckpointProblem {
    pub fn describe_en(&self) -> String {
        match self {
            Self::NotSigned { seq, source } => format!(
                "the checkpoint at row {seq} in {} is not signed by the audit key (forged or edited)",
                source.en()
            ),
            Self::Truncated { checkpoint, head } => format!(
                "rows {}-{checkpoint} are missing: a checkpoint was signed at row {checkpoint}, the log now ends at row {head} (its tail was cut)",
                head + 1
            ),
            Self::Rebuilt { seq, signed_at } => format!(
                "row {seq} does not have the hash signed at {signed_at}: the chain was rebuilt or rewritten up to there"
            ),
            Self::MissingFromDatabase { seq, source } => format!(
                "the checkpoint at row {seq} is in {} but not in the database (removed)",
                source.en()
            ),
            Self::MissingFromFile { seq } => format!(
                "the checkpoint at row {seq} is in the database but not in the checkpoint file (the file was cut or replaced)"
            ),
            Self::Conflicting { seq } => {
                format!("two different checkpoints claim row {seq}")
            }
            Self::Unreadable { source, line } => {
                format!("line {line} of {} is not a checkpoint", source.en())
            }
        }
    }

    pub fn describe_ja(&self) -> String {
        match self {
            Self::NotSigned { seq, source } => format!(
                "{}の{seq}行目のチェックポイントは監査鍵の署名ではありません（偽造または改ざん）",
                source.ja()
            ),
            Self::Truncated { checkpoint, head } => format!(
                "{}〜{checkpoint}行目がありません：{checkpoint}行目で署名されたのに、ログは{head}行目で終わっています（末尾の切り捨て）",
                head + 1
            ),
            Self::Rebuilt { seq, signed_at } => format!(
                "{seq}行目のハッシュが{signed_at}に署名されたものと一致しません：そこまでのチェーンが作り直されています"
            ),
            Self::MissingFromDatabase { seq, source } => format!(
                "{seq}行目のチェックポイントは{}にありますが、データベースにありません（削除）",
                source.ja()
            ),
            Self::MissingFromFile { seq } => format!(
                "{seq}行目のチェックポイントはデータベースにありますが、チェックポイントファイルにありません（ファイルの切り捨てまたは差し替え）"
            ),
            Self::Conflicting { seq } => {
                format!("{seq}行目について異なる二つのチェックポイントがあります")
            }
            Self::Unreadable { source, line } => {
                format!(
                    "{}の{line}行目はチェックポイントとして読めません",
                    source.ja()
                )
            }
        }
    }
}

/// Read JSON-lines checkpoints; unreadable lines become problems.
pub fn parse_lines(text: &str, source: Source) -> (Vec<Checkpoint>, Vec<CheckpointProblem>) {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Checkpoint>(line) {
            Ok(c) => out.push(c),
            Err(_) => problems.push(CheckpointProblem::Unreadable {
                source,
                line: i + 1,
            }),
        }
    }
    (out, problems)
}

/// The checkpoints from each place, and what the chain holds now.
#[derive(Debug, Default)]
pub struct Inputs {
    pub by_source: Vec<(Source, Vec<Checkpoint>)>,
    /// Whether a file was expected to be complete (it exists where the gateway writes it).
    pub file_present: bool,
}

/// The outcome of checking checkpoints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckpointReport {
    /// Distinct checkpoints seen.
    pub checked: usize,
    /// The newest one with a good signature.
    pub last: Option<Checkpoint>,
    /// Rows after the last good checkpoint: not yet covered by a signature.
    pub unsigned_rows: i64,
    /// Whether signatures could be checked at all (an audit key or public key was at hand).
    pub signatures_checked: bool,
    pub problems: Vec<CheckpointProblem>,
}

/// The seqs whose row hashes [`check`] needs.
pub fn needed_rows(inputs: &Inputs) -> Vec<i64> {
    let mut v: Vec<i64> = inputs
        .by_source
        .iter()
        .flat_map(|(_, cs)| cs.iter().map(|c| c.seq))
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// Check every checkpoint: its signature with `public` (when known), that the row it names
/// still has the signed hash (`hashes`: row hash by seq, for the seqs of [`needed_rows`]), that
/// the log reaches it (`head`: the last row's seq, 0 for an empty log), and that the database
/// and the file agree.
pub fn check(
    inputs: &Inputs,
    public: Option<&[u8; 32]>,
    hashes: &HashMap<i64, String>,
    head: i64,
) -> CheckpointReport {
    let mut problems = Vec::new();
    // seq -> (distinct checkpoints, the sources holding each seq)
    let mut by_seq: BTreeMap<i64, (Vec<&Checkpoint>, Vec<Source>)> = BTreeMap::new();
    for (source, cs) in &inputs.by_source {
        for c in cs {
            let entry = by_seq.entry(c.seq).or_default();
            if !entry.0.contains(&c) {
                entry.0.push(c);
            }
            if !entry.1.contains(source) {
                entry.1.push(*source);
            }
        }
    }
    let mut last: Option<&Checkpoint> = None;
    let mut beyond_head = None;
    for (seq, (variants, sources)) in &by_seq {
        let seq = *seq;
        if variants.len() > 1 {
            problems.push(CheckpointProblem::Conflicting { seq });
        }
        let has = |s: Source| sources.contains(&s);
        if !has(Source::Database) {
            for s in sources {
                problems.push(CheckpointProblem::MissingFromDatabase { seq, source: *s });
            }
        } else if inputs.file_present && !has(Source::File) {
            problems.push(CheckpointProblem::MissingFromFile { seq });
        }
        for c in variants {
            if let Some(public) = public
                && !c.verifies_with(public)
            {
                for (source, cs) in &inputs.by_source {
                    if cs.contains(c) {
                        problems.push(CheckpointProblem::NotSigned {
                            seq,
                            source: *source,
                        });
                    }
                }
                continue;
            }
            if seq > head {
                // One cut tail is one finding, named by the furthest row signed.
                beyond_head = Some(seq);
            } else if hashes.get(&seq) != Some(&c.hash) {
                problems.push(CheckpointProblem::Rebuilt {
                    seq,
                    signed_at: c.at.clone(),
                });
            }
            last = Some(c);
        }
    }
    if let Some(checkpoint) = beyond_head {
        problems.push(CheckpointProblem::Truncated { checkpoint, head });
    }
    CheckpointReport {
        checked: by_seq.values().map(|(v, _)| v.len()).sum(),
        unsigned_rows: (head - last.map_or(0, |c| c.seq)).max(0),
        last: last.cloned(),
        signatures_checked: public.is_some(),
        problems,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: &str = "2026-12-06T19:28:48.000+09:00";

    fn chain(n: i64) -> HashMap<i64, String> {
        (1..=n).map(|s| (s, format!("h{s}"))).collect()
    }

    fn inputs(db: Vec<Checkpoint>, file: Vec<Checkpoint>) -> Inputs {
        Inputs {
            by_source: vec![(Source::Database, db), (Source::File, file)],
            file_present: true,
        }
    }

    #[test]
    fn an_intact_chain_with_its_checkpoints_passes() {
        let k = Ed25519Key::generate();
        let cps: Vec<_> = [3, 6]
            .iter()
            .map(|s| Checkpoint::sign(&k, *s, &format!("h{s}"), AT))
            .collect();
        let r = check(
            &inputs(cps.clone(), cps),
            Some(k.public_key()),
            &chain(8),
            8,
        );
        assert_eq!(r.problems, vec![]);
        assert_eq!(r.checked, 2);
        assert_eq!(r.last.unwrap().seq, 6);
        assert_eq!(r.unsigned_rows, 2);
    }

    #[test]
    fn a_cut_tail_is_reported_with_the_missing_range() {
        let k = Ed25519Key::generate();
        let cps = vec![
            Checkpoint::sign(&k, 3, "h3", AT),
            Checkpoint::sign(&k, 6, "h6", AT),
            Checkpoint::sign(&k, 9, "h9", AT),
        ];
        let r = check(
            &inputs(cps.clone(), cps),
            Some(k.public_key()),
            &chain(4),
            4,
        );
        assert_eq!(
            r.problems,
            vec![CheckpointProblem::Truncated {
                checkpoint: 9,
                head: 4
            }]
        );
        assert!(r.problems[0].describe_en().contains("rows 5-9 are missing"));
        assert!(r.problems[0].describe_ja().contains("5〜9行目"));
    }

    #[test]
    fn a_rebuilt_chain_no_longer_matches_its_signed_heads() {
        let k = Ed25519Key::generate();
        let cps = vec![Checkpoint::sign(&k, 3, "h3", AT)];
        let mut rebuilt = chain(5);
        rebuilt.insert(3, "other".into());
        let r = check(&inputs(cps.clone(), cps), Some(k.public_key()), &rebuilt, 5);
        assert_eq!(
            r.problems,
            vec![CheckpointProblem::Rebuilt {
                seq: 3,
                signed_at: AT.into()
            }]
        );
    }

    #[test]
    fn forged_missing_and_conflicting_checkpoints_are_named() {
        let k = Ed25519Key::generate();
        let thief = Ed25519Key::generate();
        let good = Checkpoint::sign(&k, 3, "h3", AT);
        let forged = Checkpoint::sign(&thief, 5, "h5", AT);
        let mut edited = Checkpoint::sign(&k, 4, "h4", AT);
        edited.hash = "h4x".into();
        let r = check(
            &inputs(vec![good.clone(), forged, edited], vec![]),
            Some(k.public_key()),
            &chain(6),
            6,
        );
        assert!(
            r.problems
                .contains(&CheckpointProblem::MissingFromFile { seq: 3 })
        );
        assert!(r.problems.contains(&CheckpointProblem::NotSigned {
            seq: 5,
            source: Source::Database
        }));
        assert!(r.problems.contains(&CheckpointProblem::NotSigned {
            seq: 4,
            source: Source::Database
        }));
        // Only the good one counts as the last signed head.
        assert_eq!(r.last.unwrap().seq, 3);

        let other = Checkpoint::sign(&k, 3, "h3", "2026-12-07T00:00:00.000+09:00");
        let r = check(
            &inputs(vec![], vec![good, other]),
            Some(k.public_key()),
            &chain(6),
            6,
        );
        assert!(
            r.problems
                .contains(&CheckpointProblem::Conflicting { seq: 3 })
        );
        assert!(
            r.problems
                .contains(&CheckpointProblem::MissingFromDatabase {
                    seq: 3,
                    source: Source::File
                })
        );
    }

    #[test]
    fn lines_round_trip_and_junk_is_reported() {
        let k = Ed25519Key::generate();
        let c = Checkpoint::sign(&k, 1, "h1", AT);
        let text = format!("{}\nnot json\n\n", c.to_line());
        let (cs, problems) = parse_lines(&text, Source::File);
        assert_eq!(cs, vec![c]);
        assert_eq!(
            problems,
            vec![CheckpointProblem::Unreadable {
                source: Source::File,
                line: 2
            }]
        );
    }
}
