//! The checklist items (サイバーセキュリティ対策チェックリスト 2-①, ④, ⑤, ⑥, ⑦, ⑧ and two-factor
//! authentication by 令和9年度), each with a status, its evidence and, when action is needed,
//! what to do, in the report's language. Pure: computed from the figures alone. The
//! requirements of guideline 7.0 (G-1 …) are in `requirements`.

use super::evidence::{Builder, account_type, names, system_kind};
use super::model::{AccountFigure, Figures, Section};
use crate::clock::readable;

fn percent(p: Option<u64>) -> String {
    p.map_or("—".to_owned(), |p| format!("{p}%"))
}

const CHECKLIST: &str = "checklist";

/// 2-① the register of servers, terminals and network devices (G-25).
fn devices(f: &Figures, ja: bool) -> Section {
    let mut b = Builder::new(ja);
    let d = &f.devices;
    let kinds: Vec<String> = d
        .by_kind
        .iter()
        .map(|(k, n)| format!("{} {n}", system_kind(ja, k)))
        .collect();
    if kinds.is_empty() {
        b.ev(
            "登録済みの機器（稼働中）: 0台",
            "Registered devices (active): none",
        );
    } else {
        b.ev(
            format!(
                "登録済みの機器（稼働中）: {}台（{}）",
                d.active,
                kinds.join("、")
            ),
            format!(
                "Registered devices (active): {} ({})",
                d.active,
                kinds.join(", ")
            ),
        );
    }
    if d.active == 0 {
        b.act(
            "サーバー・端末・ネットワーク機器を機器台帳に登録してください（sekimori device add）。",
            "Register servers, terminals and network devices (sekimori device add).",
        );
    }
    if d.incomplete.is_empty() {
        b.ev(
            "管理者・設置場所の記載漏れ: なし",
            "Missing owner or location: none",
        );
    } else {
        let list: Vec<String> = d.incomplete.iter().map(|x| x.name.clone()).collect();
        b.ev(
            format!(
                "管理者または設置場所が未記載: {}台（{}）",
                list.len(),
                list.join("、")
            ),
            format!(
                "Without owner or location: {} ({})",
                list.len(),
                list.join(", ")
            ),
        );
        b.act(
            "未記載の機器に管理者と設置場所を記入してください。",
            "Record an owner and a location for these devices.",
        );
    }
    if d.silent_30_days.is_empty() {
        b.ev(
            "30日以上通信のない端末・サーバー: なし",
            "Terminals and servers silent for 30 days: none",
        );
    } else {
        let list: Vec<String> = d.silent_30_days.iter().map(|x| x.name.clone()).collect();
        b.ev(
            format!(
                "30日以上通信のない端末・サーバー: {}台（{}）",
                list.len(),
                list.join("、")
            ),
            format!(
                "Terminals and servers silent for 30 days: {} ({})",
                list.len(),
                list.join(", ")
            ),
        );
        b.act(
            "使われていない機器か確認し、廃止した機器は無効にしてください（sekimori device disable）。",
            "Check whether they are still in use; disable retired ones (sekimori device disable).",
        );
    }
    b.done(
        "checklist-2-1",
        CHECKLIST,
        "2-①",
        &["G-25"],
        ("機器台帳の管理", "Register of devices"),
    )
}

/// 2-④ access rights by job type, and who holds administrator rights (G-15, G-16).
fn rights(f: &Figures, ja: bool) -> Section {
    let mut b = Builder::new(ja);
    let roles: Vec<String> = f
        .roles
        .iter()
        .map(|r| {
            if ja {
                format!("{} {}名", r.label, r.accounts)
            } else {
                format!("{} {}", r.role, r.accounts)
            }
        })
        .collect();
    b.ev(
        format!("職種（ロール）別の利用者: {}", roles.join("、")),
        format!("Accounts by job type (role): {}", roles.join(", ")),
    );
    b.ev(
        format!("アクセス規則（[[access.rules]]）: {}件", f.access_rules),
        format!("Access rules ([[access.rules]]): {}", f.access_rules),
    );
    if f.access_rules == 0 {
        b.act(
            "職種・担当業務ごとのアクセス規則を設定してください（[[access.rules]]、config/access-rules.example.toml 参照）。",
            "Write access rules per job type and duty ([[access.rules]]; see config/access-rules.example.toml).",
        );
    }
    let admins: Vec<&AccountFigure> = f
        .privileged_accounts
        .iter()
        .filter(|a| a.admin_rights)
        .collect();
    let list: Vec<AccountFigure> = admins.iter().map(|a| (*a).clone()).collect();
    b.ev(
        format!(
            "管理者権限の保有者: {}名（{}）",
            admins.len(),
            names(&b, &list, 20)
        ),
        format!(
            "Holders of administrator rights: {} ({})",
            admins.len(),
            names(&b, &list, 20)
        ),
    );
    let weak: Vec<&&AccountFigure> = admins.iter().filter(|a| !a.has_second_factor).collect();
    if !weak.is_empty() {
        let n: Vec<String> = weak.iter().map(|a| a.username.clone()).collect();
        b.act(
            format!(
                "二要素が未登録の管理者がいます（{}）: 登録させてください。",
                n.join("、")
            ),
            format!(
                "Administrators without a second factor ({}): have them enrol one.",
                n.join(", ")
            ),
        );
    }
    let shared: Vec<String> = admins
        .iter()
        .filter(|a| a.account_type == "staff")
        .map(|a| a.username.clone())
        .collect();
    if !shared.is_empty() {
        b.act(
            format!("診療用アカウントに管理者権限があります（{}）: 管理者用アカウントを分けてください。", shared.join("、")),
            format!("Clinical accounts hold administrator rights ({}): give administrators separate accounts.", shared.join(", ")),
        );
    }
    b.done(
        "checklist-2-4",
        CHECKLIST,
        "2-④",
        &["G-15", "G-16"],
        (
            "職種別のアクセス権限と管理者権限",
            "Access rights by job type; administrator rights",
        ),
    )
}

/// 2-⑤ unneeded accounts removed (G-17).
fn unneeded(f: &Figures, ja: bool) -> Section {
    let mut b = Builder::new(ja);
    let a = &f.accounts;
    b.ev(
        format!(
            "アカウント: 全{}件（有効{}、無効{}、利用期限付き{}）",
            a.total,
            a.total - a.disabled,
            a.disabled,
            a.fixed_term
        ),
        format!(
            "Accounts: {} ({} live, {} disabled, {} fixed-term)",
            a.total,
            a.total - a.disabled,
            a.disabled,
            a.fixed_term
        ),
    );
    b.ev(
        "利用期限を過ぎたアカウントは期限日（日本時間0時）に自動で無効化されます。",
        "Fixed-term accounts are disabled automatically at 00:00 JST on their end date.",
    );
    if f.dormant_accounts.is_empty() {
        b.ev(
            format!(
                "{}日以上サインインのないアカウント: なし",
                f.dormant_after_days
            ),
            format!(
                "Accounts without a sign-in for {} days: none",
                f.dormant_after_days
            ),
        );
    } else {
        b.ev(
            format!(
                "{}日以上サインインのないアカウント: {}件（{}）",
                f.dormant_after_days,
                f.dormant_accounts.len(),
                names(&b, &f.dormant_accounts, 20)
            ),
            format!(
                "Accounts without a sign-in for {} days: {} ({})",
                f.dormant_after_days,
                f.dormant_accounts.len(),
                names(&b, &f.dormant_accounts, 20)
            ),
        );
        b.act(
            "退職・異動などで不要になっていないか確認し、不要なものは無効にしてください（sekimori user disable、棚卸しは sekimori user review）。",
            "Check whether leavers or movers still need them and disable the rest (sekimori user disable; review with sekimori user review).",
        );
    }
    b.done(
        "checklist-2-5",
        CHECKLIST,
        "2-⑤",
        &["G-17"],
        (
            "不要なアカウントの削除・棚卸し",
            "Unneeded accounts removed",
        ),
    )
}

/// 2-⑥ access logs kept and reviewed (G-21, G-22, G-23).
fn logs(f: &Figures, ja: bool) -> Section {
    let mut b = Builder::new(ja);
    let au = &f.audit;
    b.ev(
        format!(
            "監査ログ: {}行（{} 〜 {}）、直近30日のサインイン記録 {}件",
            au.rows,
            au.first_row_at.as_deref().map_or("—".to_owned(), readable),
            au.last_row_at.as_deref().map_or("—".to_owned(), readable),
            au.sign_in_events_30_days
        ),
        format!(
            "Audit log: {} rows ({} to {}); sign-in records in the last 30 days: {}",
            au.rows,
            au.first_row_at.as_deref().map_or("—".to_owned(), readable),
            au.last_row_at.as_deref().map_or("—".to_owned(), readable),
            au.sign_in_events_30_days
        ),
    );
    super::evidence::chain_evidence(&mut b, f);
    b.ev(
        format!("監査担当（auditor ロール）: {}名", au.auditors),
        format!("Auditors (role auditor): {}", au.auditors),
    );
    if au.auditors == 0 {
        b.act(
            "ログを定期的に確認する監査担当者に auditor ロールを付与してください。",
            "Give the person who reviews the logs the auditor role.",
        );
    }
    b.done(
        "checklist-2-6",
        CHECKLIST,
        "2-⑥",
        &["G-21", "G-22", "G-23"],
        ("アクセスログの管理", "Access logs kept and reviewed"),
    )
}

/// 2-⑦ password length, no periodic change (G-5, G-9).
fn length(f: &Figures, ja: bool) -> Section {
    let mut b = Builder::new(ja);
    super::evidence::length_evidence(&mut b, f);
    b.ev(
        "パスワードの有効期限（定期変更）: 設定項目なし。漏えいの疑いがある場合にのみ変更させます。",
        "Password expiry (periodic change): no such setting; a change is forced only on evidence of compromise.",
    );
    b.done(
        "checklist-2-7",
        CHECKLIST,
        "2-⑦",
        &["G-5", "G-9"],
        (
            "パスワードの桁数（定期変更なし）",
            "Password length (no periodic change)",
        ),
    )
}

/// 2-⑧ password reuse prohibited (G-7).
fn reuse(f: &Figures, ja: bool) -> Section {
    let mut b = Builder::new(ja);
    super::evidence::reuse_evidence(&mut b, f);
    b.done(
        "checklist-2-8",
        CHECKLIST,
        "2-⑧",
        &["G-7"],
        ("パスワードの使い回し禁止", "Password reuse prohibited"),
    )
}

/// Two-factor authentication by 令和9年度 (G-10).
pub(super) fn two_factor(
    f: &Figures,
    ja: bool,
    id: &str,
    group: &'static str,
    number: &str,
) -> Section {
    let mut b = Builder::new(ja);
    let d = f.days_to_deadline;
    if d > 0 {
        b.ev(
            format!("義務化（2027年4月1日）まで: あと{d}日"),
            format!("Until two-factor authentication is required (2027-04-01): {d} days"),
        );
    } else {
        b.ev(
            format!("2027年4月1日から二要素認証が必須です（{}日経過）", -d),
            format!(
                "Two-factor authentication is required since 2027-04-01 ({} days ago)",
                -d
            ),
        );
    }
    let by_type: Vec<String> = f
        .coverage_by_account_type
        .iter()
        .filter(|c| c.total > 0)
        .map(|c| {
            format!(
                "{} {}/{} ({})",
                account_type(ja, &c.group),
                c.with_second_factor,
                c.total,
                percent(c.percent)
            )
        })
        .collect();
    b.ev(
        format!("二要素の登録率（アカウント種別）: {}", by_type.join("、")),
        format!(
            "Second-factor coverage by account type: {}",
            by_type.join(", ")
        ),
    );
    let by_kind: Vec<String> = f
        .coverage_by_system_kind
        .iter()
        .map(|c| {
            format!(
                "{} {}/{} ({})",
                system_kind(ja, &c.group),
                c.with_second_factor,
                c.total,
                percent(c.percent)
            )
        })
        .collect();
    b.ev(
        format!(
            "直近30日のサインインのうち二要素を使ったもの（システム種別）: {}",
            by_kind.join("、")
        ),
        format!(
            "Sign-ins of the last 30 days with a second factor, by system kind: {}",
            by_kind.join(", ")
        ),
    );
    if f.password_only_accounts.is_empty() {
        b.ev(
            "パスワードだけでサインインできるアカウント: なし",
            "Accounts that can sign in with a password alone: none",
        );
    } else {
        b.ev(
            format!(
                "パスワードだけでサインインできるアカウント: {}件（{}）",
                f.password_only_accounts.len(),
                names(&b, &f.password_only_accounts, 20)
            ),
            format!(
                "Accounts that can sign in with a password alone: {} ({})",
                f.password_only_accounts.len(),
                names(&b, &f.password_only_accounts, 20)
            ),
        );
        b.act(
            if d > 0 {
                format!("あと{d}日のうちに、これらの利用者に二要素（認証アプリまたはセキュリティキー）を登録させてください。")
            } else {
                "これらの利用者に二要素（認証アプリまたはセキュリティキー）を登録させてください。".to_owned()
            },
            if d > 0 {
                format!("Have these people enrol a second factor (an authenticator app or a security key) within {d} days.")
            } else {
                "Have these people enrol a second factor (an authenticator app or a security key).".to_owned()
            },
        );
    }
    super::evidence::exemption_evidence(&mut b, f);
    b.done(
        id,
        group,
        number,
        &["G-10"],
        (
            "二要素認証（令和9年度まで）",
            "Two-factor authentication by FY2027 (令和9年度)",
        ),
    )
}

/// The checklist items, in the checklist's order.
pub fn checklist(f: &Figures, ja: bool) -> Vec<Section> {
    vec![
        devices(f, ja),
        rights(f, ja),
        unneeded(f, ja),
        logs(f, ja),
        length(f, ja),
        reuse(f, ja),
        two_factor(f, ja, "checklist-2fa", CHECKLIST, "2FA"),
    ]
}
