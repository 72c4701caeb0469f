//! `sekimori user factors NAME` and `sekimori user reset-factors NAME --reason …
//! --identity-check …`: the helpdesk's view of an account's second factors, and the reset
//! after a lost phone or key.

use super::output::{Lang, print_json, table};
use crate::admin::AccountAdmin;
use crate::clock::to_jst_string;
use crate::error::Error;

pub async fn list(admin: &AccountAdmin, lang: Lang, name: &str, json: bool) -> Result<(), Error> {
    let (account, list) = admin.factors(name).await?;
    if json {
        let mut body = crate::http::api::factors::factor_listing(&list);
        body["username"] = serde_json::json!(account.username);
        return print_json(&body).map_err(|f| Error::Invalid(f.message));
    }
    let recovery = list.iter().filter(|f| f.kind == "recovery").count();
    let mut t = table(vec![
        "id",
        lang.pick("kind", "種類"),
        lang.pick("label", "名前"),
        lang.pick("model (AAGUID)", "機種 (AAGUID)"),
        lang.pick("enrolled", "登録日時"),
        lang.pick("last used", "最終使用"),
    ]);
    let factors: Vec<_> = list.iter().filter(|f| f.kind != "recovery").collect();
    for f in &factors {
        t.add_row(vec![
            f.id.to_string(),
            f.kind.clone(),
            f.label.clone(),
            f.aaguid.clone().unwrap_or_else(|| "-".into()),
            to_jst_string(f.created_at),
            f.last_used_at.map_or_else(|| "-".into(), to_jst_string),
        ]);
    }
    println!("{t}");
    println!(
        "{}: {} {} · {}: {recovery}",
        account.username,
        factors.len(),
        lang.pick("factor(s)", "件の二要素"),
        lang.pick("recovery codes left", "リカバリーコード残数"),
    );
    if factors.is_empty() {
        println!(
            "{}",
            lang.pick(
                "No second factor: the person enrols one at the next sign-in where one is needed.",
                "二要素が未登録です。必要な場面での次回ログイン時に登録します。"
            )
        );
    }
    Ok(())
}

pub async fn reset(
    admin: &AccountAdmin,
    lang: Lang,
    name: &str,
    reason: &str,
    identity_check: &str,
    actor: &str,
) -> Result<(), Error> {
    let removed = admin
        .reset_factors(name, reason, identity_check, actor)
        .await?;
    println!(
        "{} {name}: {removed} {}",
        lang.pick("reset", "二要素をリセットしました:"),
        lang.pick(
            "factor(s) and recovery codes removed; sessions ended. The person enrols again at the next sign-in.",
            "件を削除し、セッションを終了しました。次回ログイン時に再登録します。"
        )
    );
    Ok(())
}
