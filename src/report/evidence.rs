//! What the checklist items and the requirements share, below both: the builder of a
//! section's texts in one language, the labels of account types and system kinds, and the
//! evidence that a checklist item and a requirement both show (the audit chain, password
//! length, reuse, exemptions). Pure: computed from the figures alone.

use super::model::{AccountFigure, Figures, Section, Status};
use crate::clock::readable;

/// Builds one section's texts in one language.
pub(super) struct Builder {
    pub ja: bool,
    evidence: Vec<String>,
    actions: Vec<String>,
    status: Status,
}

impl Builder {
    pub fn new(ja: bool) -> Self {
        Self {
            ja,
            evidence: Vec::new(),
            actions: Vec::new(),
            status: Status::Met,
        }
    }

    /// The text in the report's language.
    pub fn t(&self, ja: impl Into<String>, en: impl Into<String>) -> String {
        if self.ja { ja.into() } else { en.into() }
    }

    pub fn ev(&mut self, ja: impl Into<String>, en: impl Into<String>) {
        let line = self.t(ja, en);
        self.evidence.push(line);
    }

    /// Something must be done: the section needs action.
    pub fn act(&mut self, ja: impl Into<String>, en: impl Into<String>) {
        let line = self.t(ja, en);
        self.actions.push(line);
        self.status = Status::ActionRequired;
    }

    pub fn not_applicable(&mut self) {
        self.status = Status::NotApplicable;
    }

    /// A requirement's section: numbered by its id.
    pub fn requirement(self, id: &str, refs: &[&str], titles: (&str, &str)) -> Section {
        self.done(id, "requirement", id, refs, titles)
    }

    pub fn done(
        self,
        id: &str,
        group: &'static str,
        number: &str,
        refs: &[&str],
        (title_ja, title_en): (&str, &str),
    ) -> Section {
        Section {
            id: id.to_owned(),
            group,
            number: number.to_owned(),
            refs: refs.iter().map(|r| (*r).to_owned()).collect(),
            title: if self.ja { title_ja } else { title_en }.to_owned(),
            status: self.status,
            status_label: self.status.label(self.ja),
            evidence: self.evidence,
            actions: self.actions,
        }
    }
}

/// `name (type)` lists, at most `max` names and then a count.
pub(super) fn names(b: &Builder, accounts: &[AccountFigure], max: usize) -> String {
    let mut out: Vec<String> = accounts
        .iter()
        .take(max)
        .map(|a| format!("{} ({})", a.username, account_type(b.ja, &a.account_type)))
        .collect();
    if accounts.len() > max {
        out.push(b.t(
            format!("ほか{}件", accounts.len() - max),
            format!("and {} more", accounts.len() - max),
        ));
    }
    out.join(if b.ja { "、" } else { ", " })
}

pub fn account_type(ja: bool, code: &str) -> String {
    match code.parse::<crate::account::AccountType>() {
        Ok(t) if ja => t.label_ja().to_owned(),
        Ok(t) => t.label_en(),
        Err(_) => code.to_owned(),
    }
}

pub fn system_kind(ja: bool, code: &str) -> String {
    match (code, ja) {
        ("web", true) => "Webシステム".into(),
        ("web", false) => "web systems".into(),
        ("terminal", true) => "端末".into(),
        ("terminal", false) => "terminals".into(),
        ("server", true) => "サーバー".into(),
        ("server", false) => "servers".into(),
        ("network", true) => "ネットワーク機器".into(),
        ("network", false) => "network devices".into(),
        (other, _) => other.to_owned(),
    }
}

/// The chain, its checkpoints and its off-box copy (G-22, checklist 2-⑥).
pub(super) fn chain_evidence(b: &mut Builder, f: &Figures) {
    let au = &f.audit;
    if !au.chain_intact {
        b.ev(
            format!(
                "ハッシュチェーン: 壊れています（{}行目まで正常）",
                au.verified_up_to
            ),
            format!(
                "Hash chain: BROKEN (intact up to row {})",
                au.verified_up_to
            ),
        );
        for p in &au.problems {
            b.ev(format!("  {}", p.ja), format!("  {}", p.en));
        }
        b.act(
            "sekimori audit verify で損傷を確認し、バックアップと外部複製（syslog）で失われた記録を確かめてください。",
            "Run sekimori audit verify, and compare with backups and the syslog copy to learn what was lost.",
        );
    } else if au.chain_complete {
        b.ev(
            format!("ハッシュチェーン: 正常（{}行を検証）", au.verified_up_to),
            format!("Hash chain: intact ({} rows verified)", au.verified_up_to),
        );
    } else {
        b.ev(
            format!(
                "ハッシュチェーン: 検証中（{}行目まで正常）",
                au.verified_up_to
            ),
            format!(
                "Hash chain: being verified (intact up to row {})",
                au.verified_up_to
            ),
        );
    }
    match &au.last_checkpoint {
        Some(c) => b.ev(
            format!(
                "最新の署名付きチェックポイント: {}行目（{}、鍵 {}）。以降の未署名行: {}",
                c.seq,
                readable(&c.at),
                c.key_id,
                au.unsigned_rows
            ),
            format!(
                "Last signed checkpoint: row {} ({}, key {}); rows since, not yet signed: {}",
                c.seq,
                readable(&c.at),
                c.key_id,
                au.unsigned_rows
            ),
        ),
        None => b.ev(
            "署名付きチェックポイント: まだありません",
            "Signed checkpoints: none yet",
        ),
    }
    for p in &au.checkpoint_problems {
        b.ev(format!("  {}", p.ja), format!("  {}", p.en));
    }
    if !au.checkpoint_problems.is_empty() {
        b.act(
            "sekimori audit verify（写しがあれば --checkpoints と --public-key も）で確認し、監査鍵とログの扱いを調べてください。",
            "Run sekimori audit verify (with --checkpoints and --public-key for a copy kept elsewhere) and investigate the audit key and the log.",
        );
    }
    match &au.syslog {
        None => b.ev(
            "ログの外部複製（syslog）: 未設定。[audit] syslog で別のサーバーへの複製を推奨します。",
            "Off-box copy (syslog): not configured. [audit] syslog to another server is recommended.",
        ),
        Some(s) => {
            b.ev(
                format!("ログの外部複製: {}（{}行目まで送信済み、遅れ {}行）", s.target, s.delivered_seq, s.lag),
                format!("Off-box copy: {} (delivered up to row {}, {} rows behind)", s.target, s.delivered_seq, s.lag),
            );
            if let Some(e) = &s.last_error {
                b.ev(format!("  最後のエラー: {e}"), format!("  Last error: {e}"));
            }
            if s.lag > 100 || s.connected == Some(false) {
                b.act(
                    "syslog の受信サーバーを確認してください（復旧すれば未送信分は自動で送られます）。",
                    "Check the syslog collector (the rows not yet sent follow once it is back).",
                );
            }
        }
    }
}

/// Length rules beside the guideline's floors (G-5, checklist 2-⑦).
pub(super) fn length_evidence(b: &mut Builder, f: &Figures) {
    for s in &f.settings {
        let (ja, en) = match s.key {
            "password.min_length_with_second_factor" => (
                "二要素ありの最小桁数",
                "Minimum length with a second factor",
            ),
            "password.min_length_without_second_factor" => (
                "二要素なしの最小桁数",
                "Minimum length without a second factor",
            ),
            "password.composition" => (
                "文字種（英字と数字の混在）",
                "Composition (letters and digits)",
            ),
            _ => continue,
        };
        let mark = if s.meets { "✓" } else { "✗" };
        b.ev(
            format!("{ja}: {}（基準 {}）{mark}", s.value, s.floor),
            format!("{en}: {} (required {}) {mark}", s.value, s.floor),
        );
        if !s.meets {
            b.act(
                format!("[password] の設定を基準（{}）に合わせてください。", s.floor),
                format!("Bring the [password] setting to {}.", s.floor),
            );
        }
    }
}

/// Reuse checks (G-7, checklist 2-⑧).
pub(super) fn reuse_evidence(b: &mut Builder, f: &Figures) {
    let depth = f
        .settings
        .iter()
        .find(|s| s.key == "password.history_depth")
        .map_or("0".to_owned(), |s| s.value.clone());
    b.ev(
        format!("過去のパスワードの再利用禁止: 直近{depth}個。同じ人の他のアカウントとの使い回しも拒否します。"),
        format!("Earlier passwords refused: the last {depth}; the same person's other accounts are checked too."),
    );
    if depth == "0" {
        b.act(
            "[password] history_depth を1以上にしてください。",
            "Set [password] history_depth to 1 or more.",
        );
    }
    let bf = &f.breach_filter;
    if bf.loaded {
        b.ev(
            format!(
                "漏えいパスワードの照合: 有効（{}件、{} バイト）",
                bf.entries, bf.bytes
            ),
            format!(
                "Breached-password filter: loaded ({} entries, {} bytes)",
                bf.entries, bf.bytes
            ),
        );
    } else {
        b.ev(
            "漏えいパスワードの照合: 未設定",
            "Breached-password filter: not loaded",
        );
        b.act(
            "他のサービスで漏えいしたパスワードの使い回しを防ぐため、漏えいパスワードのフィルタを読み込んでください（sekimori breach build、[password] breach_filter_file）。",
            "Load a breached-password filter so that passwords leaked elsewhere are refused (sekimori breach build; [password] breach_filter_file).",
        );
    }
    b.ev(
        "出荷時の共通パスワード: なし（初期管理者のパスワードは導入ごとに生成し、初回に変更させます）",
        "Factory default passwords: none (the bootstrap administrator's is generated per installation and changed at first use)",
    );
}

/// Recorded exemptions and relaxations (G-10).
pub(super) fn exemption_evidence(b: &mut Builder, f: &Figures) {
    if f.exemptions.is_empty() {
        b.ev("記録された例外: なし", "Recorded exemptions: none");
    }
    for e in &f.exemptions {
        let (kj, ke) = match e.kind {
            "two_factor" => ("二要素の例外", "two-factor exemption"),
            _ => ("登録済み二要素の省略", "enrolled factors optional"),
        };
        let flag = if e.ends_within_90_days { " ⚠" } else { "" };
        b.ev(
            format!(
                "{}（{}）の{kj}: {}まで（残り{}日）。理由: {}。承認: {}{flag}",
                e.system,
                system_kind(true, &e.system_kind),
                e.until,
                e.days_left,
                e.reason,
                e.approved_by
            ),
            format!(
                "{} ({}), {ke}: until {} ({} days left). Reason: {}. Approved by: {}{flag}",
                e.system,
                system_kind(false, &e.system_kind),
                e.until,
                e.days_left,
                e.reason,
                e.approved_by
            ),
        );
        if e.ends_within_90_days {
            b.act(
                format!("{} の例外が{}に終わります: 二要素でのサインインを準備するか、更新の記録を残してください。", e.system, e.until),
                format!("The exemption of {} ends on {}: prepare two-factor sign-in there, or record its renewal.", e.system, e.until),
            );
        }
    }
}
