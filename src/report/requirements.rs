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

fn g1(f: &Figures, ja: bool) -> Section {
    let mut b = Builder::new(ja);
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
    b.requirement(
        "G-1",
        &[],
        (
            "利用者の識別・認証",
            "Every user identified and authenticated",
        ),
    )
}

fn g2(f: &Figures, ja: bool) -> Section {
    let mut b = Builder::new(ja);
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
    bootstrap(&mut b, f);
    b.requirement(
        "G-2",
        &["G-19"],
        (
            "認証情報は本人のみが知る",
            "Credentials known only to their owner",
        ),
    )
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

fn g3(f: &Figures, ja: bool) -> Section {
    let mut b = Builder::new(ja);
    setting_line(&mut b, f, "password.hashing", "保存方式", "Storage");
    b.ev(
        "パスワードは不可逆変換（argon2id、利用者ごとのソルト）でのみ保存します。",
        "Passwords are stored only as irreversible argon2id hashes with a per-user salt.",
    );
    b.requirement(
        "G-3",
        &[],
        ("パスワードの不可逆変換", "Passwords stored irreversibly"),
    )
}

fn g4(f: &Figures, ja: bool) -> Section {
    let mut b = Builder::new(ja);
    b.ev(
        format!("直近365日のパスワード再発行: {}件。すべて実施者と理由（本人確認の方法）を記録しています。", f.password_resets_365_days),
        format!("Password resets in the last 365 days: {}; each records who did it and why (how identity was verified).", f.password_resets_365_days),
    );
    b.requirement(
        "G-4",
        &[],
        (
            "再発行時の本人確認",
            "Resets verify identity and record how",
        ),
    )
}

fn g6(ja: bool, score: u8, blocklist: usize) -> Section {
    let mut b = Builder::new(ja);
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
    b.requirement(
        "G-6",
        &[],
        (
            "推測されやすいパスワードの禁止",
            "Guessable passwords refused",
        ),
    )
}

fn g8(f: &Figures, ja: bool) -> Section {
    let mut b = Builder::new(ja);
    setting_line(
        &mut b,
        f,
        "lockout.threshold",
        "ロックまでの失敗回数/期間",
        "Failures before a lock / window",
    );
    setting_line(
        &mut b,
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
    b.requirement("G-8", &[], ("アカウントロック", "Account lockout"))
}

fn g9(f: &Figures, ja: bool) -> Section {
    let mut b = Builder::new(ja);
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
    b.requirement(
        "G-9",
        &["checklist-2-7"],
        (
            "定期変更の廃止（漏えい時のみ変更）",
            "No periodic rotation; change on compromise",
        ),
    )
}

fn g11(f: &Figures, ja: bool) -> Section {
    let mut b = Builder::new(ja);
    setting_line(
        &mut b,
        f,
        "session.idle_timeout_minutes",
        "無操作タイムアウト（分）",
        "Idle timeout (minutes)",
    );
    setting_line(
        &mut b,
        f,
        "session.absolute_timeout_hours",
        "最長セッション（時間）",
        "Absolute timeout (hours)",
    );
    b.ev(
        "セッションは端末（ブラウザー）に結び付き、二要素を使ったかどうか（amr）を発行する証明に記載します。",
        "Sessions are bound to the browser that signed in; assertions carry how it signed in (amr).",
    );
    b.requirement("G-11", &[], ("セッションの管理", "Sessions bounded"))
}

fn g13(f: &Figures, ja: bool) -> Section {
    let mut b = Builder::new(ja);
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
    b.requirement(
        "G-13",
        &[],
        ("非常時用アカウント", "Emergency (break-glass) accounts"),
    )
}

fn g16(f: &Figures, ja: bool) -> Section {
    let mut b = Builder::new(ja);
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
    b.requirement(
        "G-16",
        &["checklist-2-4"],
        ("管理者権限の明確化", "Administrator rights identified"),
    )
}

fn g18(f: &Figures, ja: bool) -> Section {
    let mut b = Builder::new(ja);
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
    b.requirement(
        "G-18",
        &[],
        ("保守要員の専用アカウント", "Vendor maintenance accounts"),
    )
}

fn g19(f: &Figures, ja: bool) -> Section {
    let mut b = Builder::new(ja);
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
    b.requirement(
        "G-19",
        &["G-2"],
        (
            "初期パスワードの変更",
            "Initial passwords changed at first use",
        ),
    )
}

fn g21(f: &Figures, ja: bool) -> Section {
    let mut b = Builder::new(ja);
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
    b.requirement(
        "G-21",
        &["checklist-2-6"],
        (
            "アクセスログの記録と確認",
            "Access logs recorded and reviewed",
        ),
    )
}

fn g22(f: &Figures, ja: bool) -> Section {
    let mut b = Builder::new(ja);
    chain_evidence(&mut b, f);
    b.requirement(
        "G-22",
        &["checklist-2-6"],
        (
            "ログの改ざん・削除の防止",
            "Logs protected against tampering",
        ),
    )
}

fn g23(f: &Figures, ja: bool) -> Section {
    let mut b = Builder::new(ja);
    b.ev(
        format!("記録の時刻はサーバーの時計で、日本時間（+09:00）付きで保存します。最新の記録: {}", f.audit.last_row_at.as_deref().map_or("—".to_owned(), readable)),
        format!("Times come from the server's clock and are stored in JST with the offset (+09:00). Newest row: {}", f.audit.last_row_at.as_deref().map_or("—".to_owned(), readable)),
    );
    b.requirement(
        "G-23",
        &["checklist-2-6"],
        ("信頼できる時刻", "Trusted time in logs"),
    )
}

fn g26(f: &Figures, ja: bool) -> Section {
    let mut b = Builder::new(ja);
    bootstrap(&mut b, f);
    b.ev(
        "機器の資格情報は登録ごとに生成し、ハッシュでのみ保存します（sekimori device rotate-credential で更新）。",
        "Device credentials are generated per registration and stored only as hashes (renewed with sekimori device rotate-credential).",
    );
    b.requirement(
        "G-26",
        &[],
        ("出荷時パスワードの変更", "No factory default passwords"),
    )
}

fn g27(ja: bool, public_url: &str) -> Section {
    let mut b = Builder::new(ja);
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
    b.requirement("G-27", &[], ("通信の保護と相互認証", "Protected channels"))
}

/// Inputs the figures do not carry.
#[derive(Debug, Clone)]
pub struct Extra {
    pub min_score: u8,
    pub blocklist_entries: usize,
    pub public_url: String,
}

/// Every requirement section, in the map's order.
pub fn requirements(f: &Figures, ja: bool, extra: &Extra, checklist: &[Section]) -> Vec<Section> {
    let same = |id: &str| checklist.iter().find(|s| s.id == id).cloned();
    let mut out = vec![g1(f, ja), g2(f, ja), g3(f, ja), g4(f, ja)];
    let mut g5 = Builder::new(ja);
    length_evidence(&mut g5, f);
    out.push(g5.requirement(
        "G-5",
        &["checklist-2-7"],
        ("パスワードの桁数", "Password length"),
    ));
    out.push(g6(ja, extra.min_score, extra.blocklist_entries));
    let mut g7 = Builder::new(ja);
    reuse_evidence(&mut g7, f);
    out.push(g7.requirement(
        "G-7",
        &["checklist-2-8"],
        ("パスワードの使い回し禁止", "Password reuse prohibited"),
    ));
    out.push(g8(f, ja));
    out.push(g9(f, ja));
    out.push(super::sections::two_factor(f, ja, "G-10", REQ, "G-10"));
    out.push(g11(f, ja));
    out.push(g13(f, ja));
    out.extend(same("checklist-2-4").map(|s| relabel(s, "G-15", &["checklist-2-4"])));
    out.push(g16(f, ja));
    out.extend(same("checklist-2-5").map(|s| relabel(s, "G-17", &["checklist-2-5"])));
    out.push(g18(f, ja));
    out.push(g19(f, ja));
    out.push(g21(f, ja));
    out.push(g22(f, ja));
    out.push(g23(f, ja));
    out.extend(same("checklist-2-1").map(|s| relabel(s, "G-25", &["checklist-2-1"])));
    out.push(g26(f, ja));
    out.push(g27(ja, &extra.public_url));
    out
}
