//! Every string the pages show, in Japanese and English. Templates name messages by variant,
//! so a page cannot carry text in one language only: a new message needs both to compile.

/// The page language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Ja,
    En,
}

impl Lang {
    /// `?lang=` first, then the first of ja/en in `Accept-Language`; Japanese by default.
    pub fn choose(query: Option<&str>, headers: &axum::http::HeaderMap) -> Self {
        match query {
            Some("en") => return Lang::En,
            Some("ja") => return Lang::Ja,
            _ => {}
        }
        let accept = headers
            .get(axum::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        for part in accept.split(',') {
            let tag = part
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if tag.starts_with("ja") {
                return Lang::Ja;
            }
            if tag.starts_with("en") {
                return Lang::En;
            }
        }
        Lang::Ja
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Ja => "ja",
            Lang::En => "en",
        }
    }

    pub fn other(self) -> Self {
        match self {
            Lang::Ja => Lang::En,
            Lang::En => Lang::Ja,
        }
    }
}

macro_rules! messages {
    ($($name:ident => $ja:literal, $en:literal;)*) => {
        /// A message of the pages.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum M { $($name),* }

        impl M {
            pub fn get(self, lang: Lang) -> &'static str {
                match (self, lang) {
                    $((M::$name, Lang::Ja) => $ja, (M::$name, Lang::En) => $en,)*
                }
            }
        }
    };
}

messages! {
    LanguageName => "English", "日本語";
    SignIn => "サインイン", "Sign in";
    SignOut => "サインアウト", "Sign out";
    Username => "利用者ID", "Username";
    UsernameOptional => "利用者ID（省略可）", "Username (optional)";
    Password => "パスワード", "Password";
    SignInWithPasskey => "パスキーでサインイン", "Sign in with a passkey";
    Or => "または", "or";
    InvalidCredentials => "利用者IDまたはパスワードが正しくありません。", "The username or password is incorrect.";
    SecondFactorTitle => "二要素認証", "Two-factor authentication";
    SecondFactorLead => "このシステムには二つ目の要素が必要です。", "This system needs a second factor.";
    Code => "確認コード（6桁）", "Verification code (6 digits)";
    CodeHint => "認証アプリに表示される6桁の数字を半角で入力してください。", "Enter the 6 digits your authenticator app shows.";
    Verify => "確認", "Verify";
    UseSecurityKey => "セキュリティキーを使う", "Use a security key";
    UseRecoveryCode => "リカバリーコードを使う", "Use a recovery code";
    RecoveryCode => "リカバリーコード", "Recovery code";
    BreakGlassCode => "緊急用コード", "Break-glass code";
    BreakGlassWarning => "緊急用アカウントです。コードを使うと、ただちに管理者に通知され監査ログに記録されます。セッションは時間制限付きで、使用後はパスワードの変更とコードの再発行が必要です。", "This is an emergency account. Using a code alerts the administrators at once and is recorded in the audit log. The session is time-limited; afterwards the password must be changed and new codes issued.";
    BreakGlassWrong => "緊急用コードが正しくないか、使用済みです。", "The break-glass code is not correct or was already used.";
    RecoveryHint => "紙に控えた12文字のコード（例: abcd-efgh-jkmn）。各コードは1回だけ使えます。", "One of your 12-character codes (e.g. abcd-efgh-jkmn). Each works once.";
    CodeWrong => "確認コードが正しくないか、使用済みです。使用済みのコードは使えません。次のコードを待ってください。", "The code is not correct, or it was already used. A used code cannot be used again; wait for the next one.";
    RecoveryWrong => "リカバリーコードが正しくないか、使用済みです。", "The recovery code is not correct or was already used.";
    ChangeTitle => "パスワードの変更", "Change your password";
    ChangeMustChange => "初回または再発行後のパスワードです。新しいパスワードを設定してください。", "This is a one-time password. Choose your own.";
    ChangeCompromised => "このアカウントのパスワードは漏えいの疑いがあります。新しいパスワードを設定してください。", "This account's password may have been exposed. Choose a new one.";
    ChangeBreached => "このパスワードは漏えいしたパスワードの一覧に含まれています。新しいパスワードを設定してください。", "This password appears in a list of breached passwords. Choose a new one.";
    NewPassword => "新しいパスワード", "New password";
    NewPasswordAgain => "新しいパスワード（確認）", "New password (again)";
    PasswordsDiffer => "確認用のパスワードが一致しません。", "The two passwords differ.";
    Strength => "強さ", "Strength";
    ChangeAndContinue => "変更して続ける", "Change and continue";
    EnrolTitle => "二要素の登録", "Set up a second factor";
    EnrolLead => "このアカウントには二要素認証が必要です。次のいずれかを登録してください。", "This account needs two-factor authentication. Set up one of these.";
    EnrolTotp => "認証アプリ（TOTP）", "Authenticator app (TOTP)";
    EnrolSecurityKey => "セキュリティキーを登録", "Register a security key";
    EnrolPasskey => "パスキーを登録", "Register a passkey";
    TotpScan => "認証アプリでQRコードを読み取るか、キーを手入力してください。", "Scan the QR code with your authenticator app, or type the key.";
    TotpKey => "キー（手入力用）", "Key (to type by hand)";
    TotpConfirm => "表示された6桁で確認", "Confirm with the 6 digits shown";
    LockedTitle => "一時的にロックされています", "Temporarily locked";
    LockedLead => "サインインの失敗が続いたため、このアカウントは一時的にロックされています。", "Too many failed sign-ins: this account is temporarily locked.";
    LockedUntil => "解除予定", "Locked until";
    LockedAdmin => "管理者による解除が必要です。情報システム担当者に連絡してください。", "An administrator must unlock it. Contact your IT staff.";
    DeniedTitle => "サインインできません", "Sign-in not allowed";
    DeniedLead => "アクセス方針により、このシステムへのサインインは許可されていません。", "The access policy does not allow a session here.";
    SignedInTitle => "サインイン済み", "Signed in";
    SignedInAs => "サインイン中", "Signed in as";
    Continue => "続ける", "Continue";
    NoticeEnrol => "2027年4月1日から端末とサーバーでは二要素認証が必須です。今のうちに登録してください。", "Two-factor authentication is required at terminals and servers from 1 April 2027. Set it up now.";
    NoticeGrace => "登録せずにサインインできる残り回数", "Sign-ins left before setup is required";
    NoticeRecoveryLow => "リカバリーコードの残りが少なくなっています。新しいコードを発行してください。", "Few recovery codes are left. Make new ones.";
    SetUpNow => "今すぐ登録", "Set up now";
    FlowExpired => "サインインの手続きが期限切れです。最初からやり直してください。", "The sign-in expired. Start again.";
    EmergencyNoFactors => "非常用アカウントは非常用コードでのみサインインし、他の認証要素は登録できません。", "Emergency accounts sign in with break-glass codes only; they enrol no other factor.";
    FormExpired => "フォームの有効期限が切れました。もう一度送信してください。", "The form expired. Send it again.";
    ServiceUnavailable => "現在サインインできません。しばらくしてからやり直してください。", "Sign-in is unavailable right now. Try again shortly.";
    SecurityKeysTitle => "セキュリティキーとパスキー", "Security keys and passkeys";
    Register => "登録", "Register";
    RegisterLead => "サインイン中のアカウントに登録します。", "Registers a key for the account you are signed in to.";
    KeyName => "名前（例: 診察室の鍵）", "Name (e.g. consulting-room key)";
    RegisterSecurityKey => "セキュリティキーを登録", "Register a security key";
    RegisterPasskey => "パスキーを登録", "Register a passkey";
    BrowserRefused => "ブラウザーが操作を中止しました。もう一度お試しください。", "The browser cancelled the operation. Try again.";
    Working => "処理中…", "Working…";
    DeviceTitle => "サーバーへのサインインの承認", "Approve a sign-in at a server";
    DeviceLead => "サーバーや端末に表示されたコードを入力し、自分のセキュリティキーで承認してください。", "Enter the code the server or terminal shows, then approve with your own security key.";
    DeviceCode => "コード（例: BCDF-GHJK）", "Code (e.g. BCDF-GHJK)";
    DeviceLookUp => "確認", "Look up";
    DeviceWaiting => "承認を待っているサインイン", "Sign-in waiting for approval";
    DeviceUser => "利用者ID", "User";
    DeviceName => "機器", "Device";
    DeviceService => "サービス", "Service";
    DeviceFrom => "接続元", "From";
    DeviceExpires => "期限", "Expires";
    DeviceApprove => "セキュリティキーで承認", "Approve with my security key";
    DeviceDeny => "心当たりがない（拒否）", "This was not me (refuse)";
    DeviceUnknown => "このコードは見つからないか、期限切れです。サーバーでもう一度サインインを始めてください。", "This code is unknown or has expired. Start the sign-in at the server again.";
    DeviceApproved => "承認しました。サーバーでのサインインが続行されます。", "Approved: the sign-in at the server continues.";
    DeviceRefused => "拒否しました。サーバーでのサインインは中止されます。", "Refused: the sign-in at the server is stopped.";
    DeviceTooMany => "このアドレスから不明なコードが続いたため、しばらく受け付けません。", "Too many unknown codes from this address: wait and try again.";
    TerminalTitle => "端末の登録", "Register this terminal";
    TerminalLead => "このブラウザーを次の端末として登録します。登録後、この端末からのサインインは院内端末として扱われます。", "This browser will be registered as the terminal below. Sign-ins from it then count as from a registered clinic terminal.";
    TerminalLocation => "設置場所", "Location";
    TerminalOwner => "管理責任者", "Owner";
    TerminalRegister => "この端末として登録", "Register as this terminal";
    TerminalDone => "この端末を登録しました。共用のブラウザーでは利用者ごとにサインアウトしてください。", "This terminal is registered. On a shared browser, each person signs out when done.";
    TerminalLinkInvalid => "この登録リンクは無効か、使用済みか、期限切れです。情報システム担当者に新しいリンクを依頼してください。", "This enrolment link is unknown, used or expired. Ask IT for a new one.";
    AuditTitle => "監査ログ", "Audit log";
    ReportTitle => "ガイドライン対応状況報告書", "Guideline compliance report";
    ApiDocsTitle => "API の説明", "API reference";
    NavLabel => "メニュー", "Menu";
    PrintReport => "印刷・PDFに保存するには、ブラウザーの印刷を使ってください。", "To print or save as PDF, use the browser's print command.";
    ReportJson => "JSON（機械可読）", "JSON (machine-readable)";
    ReportCsv => "CSV（表計算）", "CSV (spreadsheet)";
    ReportOnly => "この報告書は監査担当（auditor）またはシステム管理者（it_admin）のみ閲覧できます。", "Only auditors (auditor) and IT administrators (it_admin) can read this report.";
    LastCheckpoint => "最新の署名付きチェックポイント", "Last signed checkpoint";
    NoCheckpoint => "署名付きチェックポイントはまだありません。", "No signed checkpoint yet.";
    CheckpointProblem => "チェックポイントの問題", "Checkpoint problem";
    AuditorOnly => "このページは監査担当者（auditor）だけが見られます。", "Only auditors can see this page.";
    Any => "すべて", "Any";
    EventType => "種別", "Event";
    Outcome => "結果", "Outcome";
    Zone => "区分", "Zone";
    IpAddress => "IPアドレス", "IP address";
    DateFrom => "開始日", "From";
    DateTo => "終了日", "To";
    Filter => "絞り込み", "Filter";
    ChainIntact => "ハッシュチェーン正常。検証済みの行:", "Hash chain intact, verified up to row";
    ChainVerifying => "ハッシュチェーンを検証中です。正常と確認済みの行:", "Verifying the hash chain; intact so far up to row";
    ChainBroken => "ハッシュチェーンが壊れています。最初の異常行:", "Hash chain broken at row";
    Older => "古い行へ", "Older";
    Newest => "最新へ", "Newest";
    ExportCsv => "CSVで書き出す", "Export CSV";
    AuditCaption => "新しい順（50行ずつ）", "Newest first, 50 a page";
    Seq => "連番", "Seq";
    Time => "日時", "Time";
    Actor => "実行者", "Actor";
    Detail => "詳細", "Detail";
    AdminTitle => "アカウント管理", "Account administration";
    AdminOnly => "このページは情報システム管理者（it_admin）だけが使えます。", "Only IT administrators (it_admin) can use this page.";
    UntilAdminUnlock => "管理者解除まで", "until an administrator unlocks";
    Coverage => "二要素認証の登録状況", "Second-factor coverage";
    AccountType => "アカウント種別", "Account type";
    WithSecondFactor => "登録済み / 全体", "Enrolled / all";
    Exemptions => "二要素認証の例外（システム）", "Two-factor exemptions (systems)";
    System => "システム", "System";
    Until => "期限", "Until";
    Reason => "理由", "Reason";
    Accounts => "アカウント一覧", "Accounts";
    DisplayName => "氏名", "Name";
    Status => "状態", "Status";
    Roles => "職種", "Roles";
    RolesComma => "職種（カンマ区切り）", "Roles (comma-separated)";
    Factors => "二要素", "Second factors";
    RecoveryCodesLeft => "リカバリーコード残数", "recovery codes left";
    LockState => "ロック状態", "Lock";
    NoSuchAccount => "該当するアカウントがありません。", "No such account.";
    DevicesTitle => "機器台帳", "Device register";
    DeviceKindH => "種別", "Kind";
    LastSeen => "最終確認", "Last seen";
    BrowserBound => "端末ブラウザー", "Terminal browser";
    Bound => "登録済み", "bound";
    NotBound => "未登録", "not bound";
    IssueEnrolmentLink => "登録リンクを発行", "Issue an enrolment link";
    EnrolmentLinkLead => "このリンクを端末のブラウザーで一度だけ開いてください（24時間有効、この画面でのみ表示）。", "Open this link once in the terminal's browser (valid 24 hours, shown only here).";
    NoSuchDevice => "該当する機器がありません。", "No such device.";
    Done => "完了", "Done";
    IdentityCheck => "本人確認の方法（例: 職員証を窓口で確認）", "How the identity was checked (e.g. staff ID card seen)";
    Unlock => "ロック解除", "Unlock";
    ResetFactors => "二要素のリセット", "Reset second factors";
    ChangeRoles => "職種の変更", "Change roles";
    Disable => "無効化", "Disable";
    ReasonRequired => "理由を入力してください（監査ログに記録されます）。", "A reason is required (it goes into the audit log).";
    ActionFailed => "操作できませんでした。", "The action failed.";
    AccountTitle => "マイアカウント", "My account";
    Rename => "名前を変更", "Rename";
    Remove => "削除", "Remove";
    ThisSession => "この画面", "this one";
    EndSession => "終了", "End";
    PasswordWrong => "パスワードが正しくありません。", "The password is not correct.";
    LastFactor => "唯一の二要素は削除できません。先に別の二要素を登録してください。", "Your only second factor cannot be removed: add another one first.";
    RecoveryShownOnce => "リカバリーコードは今回だけ表示されます。印刷するか書き留めて、安全な場所に保管してください。以前のコードは無効になりました。", "These recovery codes are shown only now. Print or write them down and keep them safe. The old codes no longer work.";
    Enrolled => "登録日時", "Enrolled";
    LastUsed => "最終使用", "Last used";
    NewRecoveryCodes => "リカバリーコードを新しく発行", "Make new recovery codes";
    Sessions => "サインイン中のセッション", "Active sessions";
    Started => "開始", "Started";
    Device => "端末（ブラウザー）", "Device (browser)";
    Methods => "認証方法", "Methods";
    RecentSignIns => "最近のサインイン", "Recent sign-ins";
    BreakGlassBanner => "緊急用アカウントが使用されました", "An emergency account was used";
    BreakGlassAck => "確認済みにする", "Acknowledge";
    BreakGlassAckReason => "確認した内容（監査ログに記録）", "What was checked (goes into the audit log)";
    BreakGlassAdminOnly => "情報システム管理者がアカウント管理画面で確認するまで表示されます。", "Shown until an IT administrator acknowledges it in the administration console.";
    IssueBreakGlassCodes => "緊急用コードを発行", "Issue break-glass codes";
    BreakGlassShownOnce => "緊急用コードは今回だけ表示されます。印刷して封筒に封印し、安全な場所に保管してください。以前のコードは無効になりました。", "These break-glass codes are shown only now. Print them, seal them in an envelope and keep it safe. The old codes no longer work.";
    VendorsTitle => "保守作業枠（ベンダー）", "Maintenance windows (vendors)";
    WindowId => "作業枠ID", "Window";
    From => "開始", "From";
    To => "終了", "To";
    ApprovedBy => "承認者", "Approved by";
    Work => "作業内容", "Work";
    AddWindow => "作業枠を登録", "Approve a window";
    VendorAccount => "ベンダーアカウント", "Vendor account";
    CancelWindow => "取り消す", "Cancel";
    EndWindow => "今すぐ終了", "End now";
    PhaseUpcoming => "予定", "Upcoming";
    PhaseOpen => "作業中", "Open";
    PhaseOver => "終了", "Over";
    PhaseCancelled => "取消", "Cancelled";
    PhaseEnded => "早期終了", "Ended early";
    WorkReport => "作業記録（CSV）", "Work report (CSV)";
    NoVendors => "ベンダーアカウントがありません（user add --type vendor）。", "No vendor accounts yet (user add --type vendor).";
    JstHint => "日本時間", "JST";
    Expires => "利用期限", "Expires";
    SetExpiry => "利用期限の設定", "Set the expiry";
    ExpiryHint => "空欄で期限なし。その日が始まると（日本時間0時）無効になります。", "Empty for none. The account is disabled when that day begins (00:00 JST).";
    LastSignIn => "最終サインイン", "Last sign-in";
    Dormant => "長期未使用", "dormant";
    Never => "なし", "none";
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderMap, HeaderValue, header};

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_LANGUAGE, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn language_follows_the_switch_then_the_browser() {
        assert_eq!(
            Lang::choose(None, &accept("en-US,en;q=0.9,ja;q=0.8")),
            Lang::En
        );
        assert_eq!(Lang::choose(None, &accept("ja-JP,en;q=0.5")), Lang::Ja);
        assert_eq!(Lang::choose(Some("en"), &accept("ja")), Lang::En);
        assert_eq!(Lang::choose(None, &HeaderMap::new()), Lang::Ja);
    }

    #[test]
    fn every_message_exists_in_both_languages() {
        for m in [M::SignIn, M::LockedLead, M::NoticeEnrol, M::Working] {
            assert!(!m.get(Lang::Ja).is_empty() && !m.get(Lang::En).is_empty());
            assert_ne!(m.get(Lang::Ja), m.get(Lang::En));
        }
    }
}
