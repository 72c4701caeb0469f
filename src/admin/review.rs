//! The yearly account review (アカウントの棚卸し, G-17, checklist 2-⑤) as CSV: every account
//! with its type, roles, groups, second factors, last sign-in, expiry, status, creation and
//! creator, and whether it is dormant. Japanese headers and a BOM (for Excel), or English.

use chrono::{DateTime, Utc};

use crate::account::Account;
use crate::clock::to_jst_string;
use crate::store::FactorRecord;

const HEADERS_JA: [&str; 13] = [
    "利用者ID",
    "氏名",
    "種別",
    "状態",
    "職種",
    "グループ",
    "二要素",
    "二要素の必須",
    "最終サインイン",
    "未使用日数",
    "利用期限",
    "作成日時",
    "作成者",
];
const HEADERS_EN: [&str; 13] = [
    "username",
    "name",
    "type",
    "status",
    "roles",
    "groups",
    "second factors",
    "second factor required",
    "last sign-in",
    "days unused",
    "expires",
    "created",
    "created by",
];

fn factor_names(factors: &[FactorRecord]) -> String {
    let mut kinds: Vec<&str> = factors
        .iter()
        .map(|f| f.kind.as_str())
        .filter(|k| *k == "totp" || *k == "webauthn")
        .collect();
    kinds.dedup();
    let recovery = factors
        .iter()
        .filter(|f| f.kind == crate::recovery::KIND)
        .count();
    let break_glass = factors
        .iter()
        .filter(|f| f.kind == crate::emergency::KIND)
        .count();
    let mut out: Vec<String> = kinds.iter().map(|k| (*k).to_owned()).collect();
    if recovery > 0 {
        out.push(format!("recovery×{recovery}"));
    }
    if break_glass > 0 {
        out.push(format!("break_glass×{break_glass}"));
    }
    out.join(" ")
}

/// The review as CSV bytes.
pub fn csv(
    rows: &[(Account, Vec<FactorRecord>)],
    japanese: bool,
    now: DateTime<Utc>,
) -> Result<Vec<u8>, csv::Error> {
    let mut out = Vec::new();
    if japanese {
        out.extend_from_slice(crate::audit::export::UTF8_BOM);
    }
    {
        let mut w = csv::Writer::from_writer(&mut out);
        w.write_record(if japanese { HEADERS_JA } else { HEADERS_EN })?;
        for (a, factors) in rows {
            let text = |t: Option<DateTime<Utc>>| t.map(to_jst_string).unwrap_or_default();
            let unused = (now - a.last_login_at.unwrap_or(a.created_at)).num_days();
            w.write_record([
                a.username.as_str().to_owned(),
                a.display_name.clone(),
                if japanese {
                    a.account_type.label_ja().to_owned()
                } else {
                    a.account_type.as_str().to_owned()
                },
                if japanese {
                    a.status.label_ja().to_owned()
                } else {
                    a.status.as_str().to_owned()
                },
                a.role_names().join(" "),
                a.group_names().join(" "),
                factor_names(factors),
                a.enforces_second_factor().to_string(),
                text(a.last_login_at),
                unused.to_string(),
                text(a.expires_at),
                to_jst_string(a.created_at),
                a.created_by.clone(),
            ])?;
        }
        w.flush()?;
    }
    Ok(out)
}
