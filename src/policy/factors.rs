//! Authentication methods (RFC 8176 `amr` values) and the factor kind each belongs to.
//! Guideline 7.0 counts kinds, not steps: a password and a PIN are one kind (G-10).

use serde::{Deserialize, Serialize};

/// 2027-04-01 00:00 JST: two-factor authentication at terminals and servers from then on
/// (guideline 7.0). The default policy carries the same instant.
pub const TWO_FACTOR_DEADLINE_UNIX: i64 = 1_806_505_200;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FactorKind {
    Knowledge,
    Possession,
    Inherence,
}

impl FactorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FactorKind::Knowledge => "knowledge",
            FactorKind::Possession => "possession",
            FactorKind::Inherence => "inherence",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "knowledge" => Some(FactorKind::Knowledge),
            "possession" => Some(FactorKind::Possession),
            "inherence" => Some(FactorKind::Inherence),
            _ => None,
        }
    }
}

/// The factor kind of an RFC 8176 method, or None for methods that prove no factor by
/// themselves (`user`: presence only; `mfa`: a claim, not a method).
pub fn kind_of_amr(amr: &str) -> Option<FactorKind> {
    match amr {
        "pwd" | "pin" | "kba" => Some(FactorKind::Knowledge),
        "otp" | "hwk" | "swk" | "sms" | "tel" | "sc" => Some(FactorKind::Possession),
        "fpt" | "face" | "iris" | "retina" | "vbm" | "bio" => Some(FactorKind::Inherence),
        _ => None,
    }
}

/// Distinct kinds among the methods presented, sorted.
pub fn kinds(amr: &[String]) -> Vec<FactorKind> {
    let mut k: Vec<FactorKind> = amr.iter().filter_map(|a| kind_of_amr(a)).collect();
    k.sort();
    k.dedup();
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn two_steps_of_one_kind_count_once() {
        assert_eq!(kinds(&v(&["pwd", "pin"])), vec![FactorKind::Knowledge]);
        assert_eq!(
            kinds(&v(&["pwd", "otp"])),
            vec![FactorKind::Knowledge, FactorKind::Possession]
        );
        assert_eq!(
            kinds(&v(&["hwk", "user"])),
            vec![FactorKind::Possession],
            "presence is no factor"
        );
        assert_eq!(kinds(&v(&["hwk", "pin"])).len(), 2, "a passkey with a PIN");
        assert!(kinds(&v(&["mfa"])).is_empty());
    }
}
