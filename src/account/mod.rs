//! The account model: identifiers, account types, statuses, roles (職種) and groups.
//! Pure data and validation; storage lives in `store`, rules about passwords in `password`.

pub mod username;

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use username::{Username, UsernameError};

/// Account id: UUIDv7, so ids sort by creation time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccountId(pub Uuid);

impl AccountId {
    pub fn new_v7(now: DateTime<Utc>) -> Self {
        Self(new_v7(now))
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Links the accounts of one person (a doctor with a clinical and an admin account), so that
/// password reuse is checked across them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PersonId(pub Uuid);

impl fmt::Display for PersonId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Facility (tenant) id. A clinic runs with one; a vendor serving many clinics runs with many.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FacilityId(pub String);

impl fmt::Display for FacilityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A UUIDv7 whose timestamp comes from `now`, not from the system clock.
pub fn new_v7(now: DateTime<Utc>) -> Uuid {
    let secs = u64::try_from(now.timestamp()).unwrap_or(0);
    let ts = uuid::Timestamp::from_unix(uuid::NoContext, secs, now.timestamp_subsec_nanos());
    Uuid::new_v7(ts)
}

macro_rules! token_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $code:literal, $ja:literal;)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant,)+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $code,)+ }
            }

            /// Japanese label for screens and exports.
            pub fn label_ja(self) -> &'static str {
                match self { $($name::$variant => $ja,)+ }
            }

            /// English label: the code as words (`must_change_password` → "Must change
            /// password").
            pub fn label_en(self) -> String {
                let words = self.as_str().replace('_', " ");
                let mut c = words.chars();
                c.next()
                    .map(|f| f.to_uppercase().chain(c).collect())
                    .unwrap_or_default()
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($code => Ok($name::$variant),)+
                    other => Err(format!(
                        "unknown {} `{}`; expected one of: {}",
                        stringify!($name),
                        other,
                        [$($code),+].join(", ")
                    )),
                }
            }
        }
    };
}
pub(crate) use token_enum;

token_enum! {
    /// What kind of account this is; decides the rules that always apply to it.
    AccountType {
        Staff => "staff", "職員";
        Admin => "admin", "管理者";
        Vendor => "vendor", "保守業者";
        Emergency => "emergency", "非常時用";
        Service => "service", "サービス";
    }
}

impl AccountType {
    /// Admin, vendor and emergency accounts always need a second factor (G-13, G-16, G-18).
    pub fn always_requires_second_factor(self) -> bool {
        matches!(
            self,
            AccountType::Admin | AccountType::Vendor | AccountType::Emergency
        )
    }
}

token_enum! {
    /// Lifecycle state. No status expires by age: guideline 7.0 removed periodic rotation.
    AccountStatus {
        Active => "active", "有効";
        Disabled => "disabled", "無効";
        MustChangePassword => "must_change_password", "パスワード変更必須";
        Compromised => "compromised", "漏えいの疑い";
    }
}

impl AccountStatus {
    /// A password change is the only thing this account may do next.
    pub fn forces_password_change(self) -> bool {
        matches!(
            self,
            AccountStatus::MustChangePassword | AccountStatus::Compromised
        )
    }
}

/// Validation error for role and group tokens.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{value}` is not a valid {what}: use 1-32 characters a-z, 0-9, `_` or `-`, starting with a letter"
)]
pub struct TokenError {
    pub what: &'static str,
    pub value: String,
}

pub(crate) fn parse_token(raw: &str, what: &'static str) -> Result<String, TokenError> {
    let v = username::normalise(raw.trim());
    let ok = (1..=32).contains(&v.len())
        && v.starts_with(|c: char| c.is_ascii_lowercase())
        && v.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if ok {
        Ok(v)
    } else {
        Err(TokenError {
            what,
            value: raw.to_owned(),
        })
    }
}

/// A role (職種). Known roles have Japanese labels; deployments may add their own.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Role(String);

impl Role {
    pub const KNOWN: &'static [(&'static str, &'static str)] = &[
        ("doctor", "医師"),
        ("nurse", "看護師"),
        ("pharmacist", "薬剤師"),
        ("technician", "技師"),
        ("clerk", "医療事務"),
        ("it_admin", "システム管理者"),
        ("auditor", "監査担当"),
        ("vendor", "保守業者"),
    ];

    pub fn parse(raw: &str) -> Result<Self, TokenError> {
        parse_token(raw, "role").map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn label_ja(&self) -> &str {
        Self::KNOWN
            .iter()
            .find(|(k, _)| *k == self.0)
            .map_or(self.0.as_str(), |(_, ja)| ja)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A group (department, ward), used by policies.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Group(String);

impl Group {
    pub fn parse(raw: &str) -> Result<Self, TokenError> {
        parse_token(raw, "group").map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An account as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Account {
    pub id: AccountId,
    pub facility_id: FacilityId,
    /// Normalised; unique within the facility.
    pub username: Username,
    /// As typed at creation, for display.
    pub login_name: String,
    pub display_name: String,
    pub kana_name: Option<String>,
    pub email: Option<String>,
    pub account_type: AccountType,
    pub status: AccountStatus,
    pub roles: Vec<Role>,
    pub groups: Vec<Group>,
    pub person_id: PersonId,
    /// A second factor is enforced for this account (it sets the 8-character minimum).
    pub second_factor_required: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
    /// Informational only: nothing ever expires a password by age.
    pub password_set_at: Option<DateTime<Utc>>,
    /// A fixed-term account (residents, temporary staff, contractors) is disabled then.
    pub expires_at: Option<DateTime<Utc>>,
    /// Who created the account (`cli:USER`, `account:NAME`, `system:bootstrap`).
    pub created_by: String,
}

impl Account {
    pub fn role_names(&self) -> Vec<String> {
        self.roles.iter().map(|r| r.as_str().to_owned()).collect()
    }

    pub fn group_names(&self) -> Vec<String> {
        self.groups.iter().map(|g| g.as_str().to_owned()).collect()
    }

    /// The strings a password must not be guessable from (zxcvbn user inputs, G-6).
    pub fn personal_inputs(&self) -> Vec<String> {
        let mut v = vec![
            self.username.as_str().to_owned(),
            self.login_name.clone(),
            self.display_name.clone(),
        ];
        v.extend(self.kana_name.clone());
        if let Some(email) = &self.email {
            v.push(email.clone());
            v.extend(email.split('@').next().map(str::to_owned));
        }
        v
    }

    pub fn enforces_second_factor(&self) -> bool {
        self.second_factor_required || self.account_type.always_requires_second_factor()
    }

    /// A fixed-term account whose end has come.
    pub fn expired_at(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|t| t <= now)
    }

    /// No sign-in (or, never signed in, no creation) since `days` before `now`.
    pub fn dormant_since(&self, now: DateTime<Utc>, days: u32) -> bool {
        let last = self.last_login_at.unwrap_or(self.created_at);
        now - last >= chrono::Duration::days(i64::from(days))
    }
}

/// What it takes to create an account.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub facility_id: FacilityId,
    pub login_name: String,
    pub display_name: String,
    pub kana_name: Option<String>,
    pub email: Option<String>,
    pub account_type: AccountType,
    pub roles: Vec<Role>,
    pub groups: Vec<Group>,
    pub person_id: Option<PersonId>,
    pub second_factor_required: bool,
    /// The end of a fixed-term account.
    pub expires_at: Option<DateTime<Utc>>,
}

/// Free-text profile fields: bounded and free of control characters.
pub fn validate_text_field(
    field: &'static str,
    value: &str,
    max_chars: usize,
) -> Result<(), String> {
    if value.chars().count() > max_chars {
        return Err(format!("{field} is longer than {max_chars} characters"));
    }
    if value.chars().any(char::is_control) {
        return Err(format!("{field} contains a control character"));
    }
    Ok(())
}

/// Why a new account's fields were refused: the account module's own error (the
/// application's error wraps it, so this module names nothing above it).
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("invalid username: {0}")]
    Username(#[from] UsernameError),
    #[error("{0}")]
    Invalid(String),
}

impl NewAccount {
    /// Validate and build the stored form.
    pub fn into_account(self, now: DateTime<Utc>) -> Result<Account, AccountError> {
        use AccountError as Error;
        let username = Username::parse(&self.login_name).map_err(Error::Username)?;
        validate_text_field("display name", &self.display_name, 128).map_err(Error::Invalid)?;
        if self.display_name.trim().is_empty() {
            return Err(Error::Invalid("display name is empty".into()));
        }
        if let Some(k) = &self.kana_name {
            validate_text_field("kana name", k, 128).map_err(Error::Invalid)?;
        }
        if let Some(e) = &self.email {
            validate_text_field("email", e, 254).map_err(Error::Invalid)?;
            if !e.contains('@') {
                return Err(Error::Invalid(format!("email `{e}` has no @")));
            }
        }
        let id = AccountId::new_v7(now);
        Ok(Account {
            id,
            facility_id: self.facility_id,
            username,
            login_name: self.login_name.trim().to_owned(),
            display_name: self.display_name.trim().to_owned(),
            kana_name: self.kana_name,
            email: self.email,
            account_type: self.account_type,
            status: AccountStatus::MustChangePassword,
            roles: self.roles,
            groups: self.groups,
            person_id: self.person_id.unwrap_or(PersonId(new_v7(now))),
            second_factor_required: self.second_factor_required,
            created_at: now,
            updated_at: now,
            last_login_at: None,
            password_set_at: None,
            expires_at: self.expires_at,
            created_by: String::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_round_trip_and_explain_unknown_values() {
        for t in AccountType::ALL {
            assert_eq!(t.as_str().parse::<AccountType>().unwrap(), *t);
        }
        for s in AccountStatus::ALL {
            assert_eq!(s.as_str().parse::<AccountStatus>().unwrap(), *s);
        }
        let err = "superuser".parse::<AccountType>().unwrap_err();
        assert!(
            err.contains("staff, admin, vendor, emergency, service"),
            "{err}"
        );
    }

    #[test]
    fn roles_are_normalised_tokens() {
        assert_eq!(Role::parse("Doctor").unwrap().as_str(), "doctor");
        assert_eq!(Role::parse("ＮＵＲＳＥ").unwrap().label_ja(), "看護師");
        assert!(Role::parse("1doctor").is_err());
        assert!(Role::parse("doc tor").is_err());
        assert!(Role::parse(&"a".repeat(33)).is_err());
        assert_eq!(Role::parse("radiology").unwrap().label_ja(), "radiology");
    }

    #[test]
    fn uuid_v7_takes_its_time_from_now() {
        use chrono::TimeZone;
        let now = Utc.with_ymd_and_hms(2026, 11, 21, 0, 0, 0).unwrap();
        let id = new_v7(now);
        assert_eq!(id.get_version_num(), 7);
        let (secs, _) = id.get_timestamp().unwrap().to_unix();
        assert_eq!(secs as i64, now.timestamp());
    }

    #[test]
    fn privileged_types_always_require_a_second_factor() {
        assert!(AccountType::Admin.always_requires_second_factor());
        assert!(AccountType::Vendor.always_requires_second_factor());
        assert!(AccountType::Emergency.always_requires_second_factor());
        assert!(!AccountType::Staff.always_requires_second_factor());
    }
}
