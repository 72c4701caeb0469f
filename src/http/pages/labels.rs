//! Values as people read them in the consoles, in the page's language: account types and
//! statuses, zones (院内/院外), event kinds and outcomes, and an audit row's detail as labelled
//! fields instead of raw JSON.

use serde_json::Value;

use super::i18n::Lang;
use super::layout::esc;
use crate::account::{AccountStatus, AccountType};
use crate::audit::{EventKind, Outcome};

pub fn account_type(lang: Lang, t: AccountType) -> String {
    match lang {
        Lang::Ja => t.label_ja().to_owned(),
        Lang::En => t.label_en(),
    }
}

pub fn account_status(lang: Lang, s: AccountStatus) -> String {
    match lang {
        Lang::Ja => s.label_ja().to_owned(),
        Lang::En => s.label_en(),
    }
}

pub fn event_kind(lang: Lang, k: EventKind) -> String {
    match lang {
        Lang::Ja => k.label_ja().to_owned(),
        Lang::En => k.label_en(),
    }
}

pub fn outcome(lang: Lang, o: Outcome) -> String {
    match lang {
        Lang::Ja => o.label_ja().to_owned(),
        Lang::En => o.label_en(),
    }
}

pub fn device_kind(lang: Lang, k: crate::device::DeviceKind) -> String {
    use crate::device::DeviceKind as K;
    match lang {
        Lang::Ja => k.label_ja().to_owned(),
        Lang::En => match k {
            K::Terminal => "Terminal".into(),
            K::Server => "Server".into(),
            K::Network => "Network device".into(),
        },
    }
}

pub fn device_status(lang: Lang, s: crate::device::DeviceStatus) -> String {
    use crate::device::DeviceStatus as S;
    match lang {
        Lang::Ja => s.label_ja().to_owned(),
        Lang::En => match s {
            S::Active => "Active".into(),
            S::Disabled => "Disabled".into(),
        },
    }
}

/// A second factor's kind as stored (`totp`, `webauthn`, …).
pub fn factor_kind(lang: Lang, kind: &str) -> String {
    match (kind, lang) {
        ("totp", Lang::Ja) => "認証アプリ（TOTP）".into(),
        ("totp", Lang::En) => "Authenticator app (TOTP)".into(),
        ("webauthn", Lang::Ja) => "セキュリティキー・パスキー".into(),
        ("webauthn", Lang::En) => "Security key or passkey".into(),
        (other, _) => other.to_owned(),
    }
}

/// `trusted` / `external` as 院内 / 院外 (Clinic network / Outside).
pub fn zone(lang: Lang, z: &str) -> String {
    match (z, lang) {
        ("trusted", Lang::Ja) => "院内".into(),
        ("trusted", Lang::En) => "Clinic network".into(),
        ("external", Lang::Ja) => "院外".into(),
        ("external", Lang::En) => "Outside".into(),
        (other, _) => other.to_owned(),
    }
}

/// Labels of the detail keys the gateway writes; others are shown by their key.
const DETAIL_LABELS: &[(&str, &str, &str)] = &[
    ("reason", "理由", "Reason"),
    ("result", "結果", "Result"),
    ("step", "段階", "Step"),
    ("system", "システム", "System"),
    ("zone", "区域", "Zone"),
    ("amr", "認証方式", "Methods used"),
    ("methods", "利用できる方式", "Methods available"),
    ("kinds", "必要な要素", "Factor kinds needed"),
    ("policy_ids", "判定した方針", "Policies"),
    ("policy_errors", "方針の評価エラー", "Policy errors"),
    ("until", "期限", "Until"),
    (
        "admin_unlock_required",
        "管理者による解除が必要",
        "Administrator unlock required",
    ),
    (
        "failures_in_window",
        "期間内の失敗回数",
        "Failures in window",
    ),
    (
        "consecutive_failures",
        "連続失敗回数",
        "Consecutive failures",
    ),
    (
        "address_failures",
        "アドレスからの失敗回数",
        "Failures from the address",
    ),
    ("channel", "経路", "Channel"),
    ("password_state", "パスワードの状態", "Password state"),
    ("maintenance_window", "保守作業枠", "Maintenance window"),
    ("sessions_ended", "終了したセッション数", "Sessions ended"),
    ("scope", "対象", "Scope"),
    ("method", "方式", "Method"),
    ("sid", "セッション", "Session"),
    ("factor_id", "要素ID", "Factor id"),
    ("before", "変更前", "Before"),
    ("after", "変更後", "After"),
    ("passwordless", "パスワードなし", "Passwordless"),
    ("roles", "職種", "Roles"),
    ("request", "リクエスト", "Request"),
    ("path", "パス", "Path"),
    ("header", "ヘッダー", "Header"),
    ("identity_check", "本人確認", "Identity check"),
    (
        "password_verified_by",
        "パスワードの確認者",
        "Password verified by",
    ),
    ("approved_by", "承認者", "Approved by"),
    ("from", "開始", "From"),
    ("to", "終了", "To"),
    ("owner", "管理者", "Owner"),
    ("location", "設置場所", "Location"),
    ("device_kind", "機器の種類", "Device kind"),
    ("account_type", "アカウント種別", "Account type"),
    (
        "break_glass_event",
        "緊急用アカウント使用の記録",
        "Break-glass use",
    ),
    ("severity", "重大度", "Severity"),
    ("count", "件数", "Count"),
    ("note", "備考", "Note"),
];

fn label(lang: Lang, key: &str) -> String {
    DETAIL_LABELS
        .iter()
        .find(|(k, _, _)| *k == key)
        .map_or_else(
            || key.to_owned(),
            |(_, ja, en)| {
                if lang == Lang::Ja {
                    (*ja).to_owned()
                } else {
                    (*en).to_owned()
                }
            },
        )
}

fn value(lang: Lang, key: &str, v: &Value) -> String {
    match v {
        Value::Null => "—".into(),
        Value::Bool(b) => match (b, lang) {
            (true, Lang::Ja) => "はい".into(),
            (false, Lang::Ja) => "いいえ".into(),
            (true, Lang::En) => "yes".into(),
            (false, Lang::En) => "no".into(),
        },
        Value::String(s) if key == "zone" => zone(lang, s),
        // Stored times (RFC 3339) read like every other time on the page.
        Value::String(s) => crate::clock::readable(s),
        Value::Number(n) => n.to_string(),
        Value::Array(items) => items
            .iter()
            .map(|i| value(lang, key, i))
            .collect::<Vec<_>>()
            .join(", "),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| format!("{}: {}", label(lang, k), value(lang, k, v)))
            .collect::<Vec<_>>()
            .join("; "),
    }
}

/// An audit row's detail as a list of labelled fields (HTML).
pub fn detail(lang: Lang, detail: &Value) -> String {
    let Value::Object(map) = detail else {
        return esc(&value(lang, "", detail));
    };
    if map.is_empty() {
        return String::new();
    }
    let items: String = map
        .iter()
        .map(|(k, v)| {
            format!(
                "<dt>{}</dt><dd>{}</dd>",
                esc(&label(lang, k)),
                esc(&value(lang, k, v))
            )
        })
        .collect();
    format!(r#"<dl class="detail">{items}</dl>"#)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detail_reads_as_labelled_fields_in_each_language() {
        let d = serde_json::json!({
            "zone": "external",
            "amr": ["pwd", "otp"],
            "admin_unlock_required": false,
            "until": "2026-12-06T19:28:48.123+09:00",
            "custom_key": "<b>"
        });
        let ja = detail(Lang::Ja, &d);
        assert!(ja.contains("<dt>区域</dt><dd>院外</dd>"), "{ja}");
        assert!(ja.contains("<dt>認証方式</dt><dd>pwd, otp</dd>"), "{ja}");
        assert!(ja.contains("<dd>いいえ</dd>"), "{ja}");
        assert!(ja.contains("<dd>2026-12-06 19:28:48 JST</dd>"), "{ja}");
        assert!(ja.contains("<dt>custom_key</dt><dd>&lt;b&gt;</dd>"), "{ja}");
        let en = detail(Lang::En, &d);
        assert!(en.contains("<dt>Zone</dt><dd>Outside</dd>"), "{en}");
        assert_eq!(
            account_status(Lang::En, AccountStatus::MustChangePassword),
            "Must change password"
        );
        assert_eq!(zone(Lang::Ja, "trusted"), "院内");
    }
}
