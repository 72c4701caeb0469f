//! The requirements of guideline 7.0 that the gateway can evidence from live data (the G-ids
//! of the requirements map), and the evidence the checklist items share with them. G-20
//! (failure messages that reveal nothing) is behaviour, shown by the tests, not by data.

use super::evidence::{
    Builder, account_type, chain_evidence, length_evidence, reuse_evidence, system_kind,
};
use super::model::{Figures, Section};
use crate::clock::readable;

const REQ: &str = "requirement";

/// The same assessment under a requirement's id.
fn relabel(mut s: Section, id: &str, refs: &[&str]) -> Section {
    s.id = id.to_owned();
    s.group = REQ;
    s.number = id.to_owned();
    s.refs = refs.iter().map(|r| (*r).to_owned()).collect();
    s
}

fn g1(b: &mut Builder, f: &Figures, _extra: &Extra) {
    let ja = b.ja;
    let systems: Vec<String> = f
        .systems
        .iter()
        .map(|(id, kind)| format!("{id} ({})", system_kind(ja, kind)))
        .collect();
    b.ev(
        format!(
            "保護しているシステム: {}件（{}）",
            systems.len(),
            systems.join("、")
        ),
        format!(
            "Systems behind the gateway: {} ({})",
            systems.len(),
            systems.join(", ")
        ),
    );
    b.ev(
        "すべてのアクセスはセッション（識別・認証済み）が必要で、方針エンジンがセッション発行前に判定し、その理由を記録します。",
        "Every request needs a session (identified and authenticated); the policy engine decides before any session is issued and records why.",
    );
    if systems.is_empty() {
        b.act(
            "保護するシステムを [systems.*] に登録してください。",
            "Declare the systems behind the gateway in [systems.*].",
        );
    }
}

fn g2(b: &mut Builder, f: &Figures, _extra: &Extra) {
    b.ev(
        format!(
            "初回の変更待ちの一時パスワード: {}件",
            f.accounts.must_change_password
        ),
        format!(
            "One-time passwords awaiting their first change: {}",
            f.accounts.must_change_password
        ),
    );
    b.ev(
        "管理者が発行するパスワードは一時的なもので、APIがパスワードを返すことはありません。",
        "Passwords an administrator issues are one-time; no API ever returns a password.",
    );
    bootstrap(b, f);
}

fn bootstrap(b: &mut Builder, f: &Figures) {
    if f.bootstrap_password_unchanged {
        b.ev(
            "初期管理者のパスワード: 未変更",
            "Bootstrap administrator's password: not yet changed",
        );
        b.act(
            "初期管理者でサインインしてパスワードを変更してください（変更するとパスワードのファイルは削除されます）。",
            "Sign in as the bootstrap administrator and change the password (its file is removed then).",
        );
    } else {
        b.ev(
            "初期管理者のパスワード: 変更済み",
            "Bootstrap administrator's password: changed",
        );
    }
}

fn setting_line(b: &mut Builder, f: &Figures, key: &str, ja: &str, en: &str) {
    if let Some(s) = f.settings.iter().find(|s| s.key == key) {
        let mark = if s.meets { "✓" } else { "✗" };
        b.ev(
            format!("{ja}: {}（基準 {}）{mark}", s.value, s.floor),
            format!("{en}: {} (required {}) {mark}", s.value, s.floor),
        );
        if !s.meets {
            b.act(
                format!("{key} を基準（{}）に合わせてください。", s.floor),
                format!("Bring {key} to {}.", s.floor),
            );
        }
    }
}

fn g3(b: &mut Builder, f: &Figures, _extra: &Extra) {
    setting_line(b, f, "password.hashing", "保存方式", "Storage");
    b.ev(
        "パスワードは不可逆変換（argon2id、利用者ごとのソルト）でのみ保存します。",
        "Passwords are stored only as irreversible argon2id hashes with a per-user salt.",
    );
}

fn g4(b: &mut Builder, f: &Figures, _extra: &Extra) {
    b.ev(
        format!("直近365日のパスワード再発行: {}件。すべて実施者と理由（本人確認の方法）を記録しています。", f.password_resets_365_days),
        format!("Password resets in the last 365 days: {}; each records who did it and why (how identity was verified).", f.password_resets_365_days),
    );
}

fn g6(b: &mut Builder, _f: &Figures, extra: &Extra) {
    let (score, blocklist) = (extra.min_score, extra.blocklist_entries);
    b.ev(
        format!("推測されやすさの判定（zxcvbn）: スコア{score}以上を要求。氏名・利用者ID・メールなど本人の情報も照合します。"),
        format!("Guessability (zxcvbn): score {score} or more; the person's own name, username and e-mail are checked too."),
    );
    b.ev(
        format!("禁止語リスト: {blocklist}語"),
        format!("Blocklist: {blocklist} words"),
    );
    if score < 2 {
        b.act(
            "[password] min_score を3以上にしてください。",
            "Set [password] min_score to 3 or more.",
        );
    }
}

fn g8(b: &mut Builder, f: &Figures, _extra: &Extra) {
    setting_line(
        b,
        f,
        "lockout.threshold",
        "ロックまでの失敗回数/期間",
        "Failures before a lock / window",
    );
    setting_line(
        b,
        f,
        "lockout.hard_threshold",
        "管理者解除が必要になる連続失敗",
        "Consecutive failures before an administrator must unlock",
    );
    let (fails, locks) = f.failures_by_day.iter().fold((0, 0), |(a, l), d| {
        (
            a + d.failures_trusted + d.failures_external,
            l + d.locks_trusted + d.locks_external,
        )
    });
    b.ev(
        format!("直近30日: サインイン失敗 {fails}件、ロック {locks}件（院外からの失敗で院内端末がロックされない設計）"),
        format!("Last 30 days: {fails} failed sign-ins, {locks} locks (failures from outside cannot lock out clinic terminals)"),
    );
}

fn g9(b: &mut Builder, f: &Figures, _extra: &Extra) {
    b.ev(
        "パスワードの有効期限: 設定項目自体がありません（期間による変更の強制なし）。",
        "Password expiry: no such setting exists (no change is forced by age).",
    );
    b.ev(
        format!(
            "漏えいの疑いにより変更待ちのアカウント: {}件",
            f.accounts.compromised
        ),
        format!(
            "Accounts awaiting a change after evidence of compromise: {}",
            f.accounts.compromised
        ),
    );
}

fn g11(b: &mut Builder, f: &Figures, _extra: &Extra) {
    setting_line(
        b,
        f,
        "session.idle_timeout_minutes",
        "無操作タイムアウト（分）",
        "Idle timeout (minutes)",
    );
    setting_line(
        b,
        f,
        "session.absolute_timeout_hours",
        "最長セッション（時間）",
        "Absolute timeout (hours)",
    );
    b.ev(
        "セッションは端末（ブラウザー）に結び付き、二要素を使ったかどうか（amr）を発行する証明に記載します。",
        "Sessions are bound to the browser that signed in; assertions carry how it signed in (amr).",
    );
}

fn g13(b: &mut Builder, f: &Figures, _extra: &Extra) {
    if f.emergency.is_empty() {
        b.ev("非常時用アカウント: 登録なし", "Emergency accounts: none");
        b.not_applicable();
    }
    for e in &f.emergency {
        b.ev(
            format!(
                "{}: 封印済みの緊急用コード {}個、未確認の使用 {}件",
                e.username, e.break_glass_codes, e.unacknowledged_uses
            ),
            format!(
                "{}: {} sealed break-glass codes, {} unacknowledged uses",
                e.username, e.break_glass_codes, e.unacknowledged_uses
            ),
        );
        if e.unacknowledged_uses > 0 {
            b.act(
                format!(
                    "{} の使用を確認し、理由を記録してください（sekimori emergency acknowledge）。",
                    e.username
                ),
                format!(
                    "Review the use of {} and record why (sekimori emergency acknowledge).",
                    e.username
                ),
            );
        }
        if e.break_glass_codes == 0 {
            b.act(
                format!("{} には使えるコードがありません: パスワードを変更し、コードを再発行してください。", e.username),
                format!("{} has no usable code: change its password and issue new codes.", e.username),
            );
        }
    }
}

fn g16(b: &mut Builder, f: &Figures, _extra: &Extra) {
    for a in &f.privileged_accounts {
        let factors = if a.factors.is_empty() {
            b.t("なし", "none")
        } else {
            a.factors.join(", ")
        };
        let rights = if a.admin_rights {
            b.t("・管理者権限", ", admin rights")
        } else {
            String::new()
        };
        b.ev(
            format!(
                "{}（{}{rights}）: 二要素 {factors}",
                a.username,
                account_type(true, &a.account_type)
            ),
            format!(
                "{} ({}{rights}): factors {factors}",
                a.username,
                account_type(false, &a.account_type)
            ),
        );
        if !a.has_second_factor {
            b.act(
                format!(
                    "{} は二要素を登録するまでサインインできません: 登録させてください。",
                    a.username
                ),
                format!(
                    "{} cannot sign in until it enrols a second factor: have it enrol one.",
                    a.username
                ),
            );
        }
    }
    b.ev(
        "管理者・保守業者・非常時用のアカウントは常に二要素が必要です（方針 privileged-accounts-two-factor）。",
        "Administrator, vendor and emergency accounts always need a second factor (policy privileged-accounts-two-factor).",
    );
}

fn g18(b: &mut Builder, f: &Figures, _extra: &Extra) {
    let v = &f.vendors;
    if v.accounts == 0 {
        b.ev("保守業者アカウント: 登録なし", "Vendor accounts: none");
        b.not_applicable();
    } else {
        b.ev(
            format!(
                "保守業者アカウント: {}件。直近90日の作業枠 {}件、現在開いている枠 {}件",
                v.accounts, v.windows_90_days, v.open_now
            ),
            format!(
                "Vendor accounts: {}; maintenance windows in the last 90 days: {}; open now: {}",
                v.accounts, v.windows_90_days, v.open_now
            ),
        );
        b.ev(
            "承認された保守作業枠の中でのみサインインでき、作業中のリクエストはすべて作業枠IDとともに記録されます。",
            "They sign in only inside an approved maintenance window, and every request during it is recorded with the window id.",
        );
        if !v.without_second_factor.is_empty() {
            b.act(
                format!(
                    "二要素が未登録の保守業者アカウント（{}）に登録させてください。",
                    v.without_second_factor.join("、")
                ),
                format!(
                    "Have these vendor accounts enrol a second factor: {}.",
                    v.without_second_factor.join(", ")
                ),
            );
        }
    }
}

fn g19(b: &mut Builder, f: &Figures, _extra: &Extra) {
    b.ev(
        format!(
            "初回の変更が済むまで他の操作ができないアカウント: {}件",
            f.accounts.must_change_password
        ),
        format!(
            "Accounts that can do nothing but change their one-time password: {}",
            f.accounts.must_change_password
        ),
    );
}

fn g21(b: &mut Builder, f: &Figures, _extra: &Extra) {
    let au = &f.audit;
    b.ev(
        format!("直近30日のサインイン記録: {}件（時刻、利用者、端末、IP、結果、要素）", au.sign_in_events_30_days),
        format!("Sign-in records of the last 30 days: {} (time, user, device, address, outcome, factors)", au.sign_in_events_30_days),
    );
    b.ev(
        format!("監査担当（auditor ロール）: {}名", au.auditors),
        format!("Auditors (role auditor): {}", au.auditors),
    );
    if au.auditors == 0 {
        b.act(
            "ログを定期的に確認する担当者に auditor ロールを付与してください。",
            "Give the person who reviews the logs the auditor role.",
        );
    }
}

fn g22(b: &mut Builder, f: &Figures, _extra: &Extra) {
    chain_evidence(b, f);
}

fn g23(b: &mut Builder, f: &Figures, _extra: &Extra) {
    b.ev(
        format!("記録の時刻はサーバーの時計で、日本時間（+09:00）付きで保存します。最新の記録: {}", f.audit.last_row_at.as_deref().map_or("—".to_owned(), readable)),
        format!("Times come from the server's clock and are stored in JST with the offset (+09:00). Newest row: {}", f.audit.last_row_at.as_deref().map_or("—".to_owned(), readable)),
    );
}

fn g26(b: &mut Builder, f: &Figures, _extra: &Extra) {
    bootstrap(b, f);
    b.ev(
        "機器の資格情報は登録ごとに生成し、ハッシュでのみ保存します（sekimori device rotate-credential で更新）。",
        "Device credentials are generated per registration and stored only as hashes (renewed with sekimori device rotate-credential).",
    );
}

fn g27(b: &mut Builder, _f: &Figures, extra: &Extra) {
    let public_url = extra.public_url.as_str();
    let local = ["http://localhost", "http://127.0.0.1", "http://[::1]"]
        .iter()
        .any(|p| public_url.starts_with(p));
    b.ev(
        format!("ゲートウェイの公開URL: {public_url}"),
        format!("The gateway's public URL: {public_url}"),
    );
    if public_url.starts_with("http://") && !local {
        b.act(
            "TLS（https）で公開してください（リバースプロキシでTLSを終端する場合は public_url を https にします）。",
            "Serve it over TLS (https); when a proxy terminates TLS, set public_url to https.",
        );
    }
}

/// Inputs the figures do not carry.
#[derive(Debug, Clone)]
pub struct Extra {
    pub min_score: u8,
    pub blocklist_entries: usize,
    pub public_url: String,
}

fn g5(b: &mut Builder, f: &Figures, _extra: &Extra) {
    length_evidence(b, f);
}

fn g7(b: &mut Builder, f: &Figures, _extra: &Extra) {
    reuse_evidence(b, f);
}

/// Where a requirement's section comes from.
enum Drawn {
    /// Evidence drawn here, under the requirement's title, citing the items it shares.
    Here {
        refs: &'static [&'static str],
        title: (&'static str, &'static str),
        evidence: fn(&mut Builder, &Figures, &Extra),
    },
    /// The checklist item that assesses the same thing, under the requirement's id.
    Checklist(&'static str),
    /// The two-factor section, the same in the checklist and the requirements.
    TwoFactor,
}

/// Every requirement the report evidences, in the map's order.
const REQUIREMENTS: &[(&str, Drawn)] = &[
    (
        "G-1",
        Drawn::Here {
            refs: &[],
            title: (
                "利用者の識別・認証",
                "Every user identified and authenticated",
            ),
            evidence: g1,
        },
    ),
    (
        "G-2",
        Drawn::Here {
            refs: &["G-19"],
            title: (
                "認証情報は本人のみが知る",
                "Credentials known only to their owner",
            ),
            evidence: g2,
        },
    ),
    (
        "G-3",
        Drawn::Here {
            refs: &[],
            title: ("パスワードの不可逆変換", "Passwords stored irreversibly"),
            evidence: g3,
        },
    ),
    (
        "G-4",
        Drawn::Here {
            refs: &[],
            title: (
                "再発行時の本人確認",
                "Resets verify identity and record how",
            ),
            evidence: g4,
        },
    ),
    (
        "G-5",
        Drawn::Here {
            refs: &["checklist-2-7"],
            title: ("パスワードの桁数", "Password length"),
            evidence: g5,
        },
    ),
    (
        "G-6",
        Drawn::Here {
            refs: &[],
            title: (
                "推測されやすいパスワードの禁止",
                "Guessable passwords refused",
            ),
            evidence: g6,
        },
    ),
    (
        "G-7",
        Drawn::Here {
            refs: &["checklist-2-8"],
            title: ("パスワードの使い回し禁止", "Password reuse prohibited"),
            evidence: g7,
        },
    ),
    (
        "G-8",
        Drawn::Here {
            refs: &[],
            title: ("アカウントロック", "Account lockout"),
            evidence: g8,
        },
    ),
    (
        "G-9",
        Drawn::Here {
            refs: &["checklist-2-7"],
            title: (
                "定期変更の廃止（漏えい時のみ変更）",
                "No periodic rotation; change on compromise",
            ),
            evidence: g9,
        },
    ),
    ("G-10", Drawn::TwoFactor),
    (
        "G-11",
        Drawn::Here {
            refs: &[],
            title: ("セッションの管理", "Sessions bounded"),
            evidence: g11,
        },
    ),
    (
        "G-13",
        Drawn::Here {
            refs: &[],
            title: ("非常時用アカウント", "Emergency (break-glass) accounts"),
            evidence: g13,
        },
    ),
    ("G-15", Drawn::Checklist("checklist-2-4")),
    (
        "G-16",
        Drawn::Here {
            refs: &["checklist-2-4"],
            title: ("管理者権限の明確化", "Administrator rights identified"),
            evidence: g16,
        },
    ),
    ("G-17", Drawn::Checklist("checklist-2-5")),
    (
        "G-18",
        Drawn::Here {
            refs: &[],
            title: ("保守要員の専用アカウント", "Vendor maintenance accounts"),
            evidence: g18,
        },
    ),
    (
        "G-19",
        Drawn::Here {
            refs: &["G-2"],
            title: (
                "初期パスワードの変更",
                "Initial passwords changed at first use",
            ),
            evidence: g19,
        },
    ),
    (
        "G-21",
        Drawn::Here {
            refs: &["checklist-2-6"],
            title: (
                "アクセスログの記録と確認",
                "Access logs recorded and reviewed",
            ),
            evidence: g21,
        },
    ),
    (
        "G-22",
        Drawn::Here {
            refs: &["checklist-2-6"],
            title: (
                "ログの改ざん・削除の防止",
                "Logs protected against tampering",
            ),
            evidence: g22,
        },
    ),
    (
        "G-23",
        Drawn::Here {
            refs: &["checklist-2-6"],
            title: ("信頼できる時刻", "Trusted time in logs"),
            evidence: g23,
        },
    ),
    ("G-25", Drawn::Checklist("checklist-2-1")),
    (
        "G-26",
        Drawn::Here {
            refs: &[],
            title: ("出荷時パスワードの変更", "No factory default passwords"),
            evidence: g26,
        },
    ),
    (
        "G-27",
        Drawn::Here {
            refs: &[],
            title: ("通信の保護と相互認証", "Protected channels"),
            evidence: g27,
        },
    ),
];

/// Every requirement section, in the map's order.
pub fn requirements(f: &Figures, ja: bool, extra: &Extra, checklist: &[Section]) -> Vec<Section> {
    REQUIREMENTS
        .iter()
        .filter_map(|(id, drawn)| match drawn {
            Drawn::Here {
                refs,
                title,
                evidence,
            } => {
                let mut b = Builder::new(ja);
                evidence(&mut b, f, extra);
                Some(b.requirement(id, refs, *title))
            }
            Drawn::Checklist(item) => checklist
                .iter()
                .find(|s| s.id == *item)
                .cloned()
                .map(|s| relabel(s, id, &[item])),
            Drawn::TwoFactor => Some(super::sections::two_factor(f, ja, id, REQ, id)),
        })
        .collect()
}
