//! `sekimori keys list|rotate|rotate-seal|reseal`: the assertion signing keys and the
//! factor-sealing keys. On several gateways both live on storage every replica shares
//! (`[keys] dir`, `[factors] seal_key_file`); a rotation on one is read by the others
//! without a restart.

use std::path::PathBuf;

use clap::Subcommand;

use super::{Failure, Lang, load_config, open_state};
use crate::session::keys::KeyRing;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// The signing keys (kid, made, signing or waiting) and the sealing keys' ids.
    List,
    /// Make a new assertion signing key now. Every gateway publishes it within
    /// `[keys] reload_seconds`; it signs after `[keys] activation_seconds`.
    Rotate,
    /// Make a new factor-sealing key: new secrets are sealed with it from now on.
    RotateSeal,
    /// Seal every stored second-factor secret again with the newest sealing key (after
    /// which older sealing key files can be removed).
    Reseal,
}

pub async fn run(cmd: KeysCommand, config: &Option<PathBuf>, lang: Lang) -> Result<(), Failure> {
    match cmd {
        KeysCommand::List | KeysCommand::Rotate => {
            let c = load_config(config)?;
            let now = crate::clock::Clock::now(&crate::clock::SystemClock);
            let mut ring = KeyRing::load_or_create(&c.keys.dir, now, c.keys.rotate_after)?;
            if matches!(cmd, KeysCommand::Rotate) {
                let k = ring.rotate(now)?;
                println!(
                    "{} {} ({} {})",
                    lang.pick("new signing key", "新しい署名鍵"),
                    k.kid,
                    lang.pick("signs from", "署名開始"),
                    crate::clock::to_jst_display(k.created + c.keys.activation)
                );
                return Ok(());
            }
            let signing = ring.signing(now, c.keys.activation).map(|k| k.kid.clone());
            for k in ring.all() {
                let state = if Some(&k.kid) == signing.as_ref() {
                    lang.pick("signing", "署名中")
                } else if k.created > now - c.keys.activation {
                    lang.pick("published, not yet signing", "公開済み・署名前")
                } else {
                    lang.pick("published (retired)", "公開のみ（退役）")
                };
                println!(
                    "{}  {}  {state}",
                    k.kid,
                    crate::clock::to_jst_display(k.created)
                );
            }
            let state = open_state(config).await?;
            if let Some(seal) = &state.seal {
                let ids: Vec<String> = seal.ids().iter().map(i64::to_string).collect();
                println!(
                    "{}: {}",
                    lang.pick("sealing keys", "封印鍵"),
                    ids.join(", ")
                );
            }
            state.close().await;
            Ok(())
        }
        KeysCommand::RotateSeal | KeysCommand::Reseal => {
            let state = open_state(config).await?;
            let result = async {
                let seal = state.seal.as_ref().ok_or_else(|| {
                    Failure::new(1, "no sealing key yet: start the gateway once to create it")
                })?;
                if matches!(cmd, KeysCommand::RotateSeal) {
                    let id = seal.rotate(state.clock.now().timestamp())?;
                    println!("{} {id}", lang.pick("new sealing key", "新しい封印鍵"));
                    return Ok(());
                }
                let n = crate::admin::factors::reseal(&state, seal).await?;
                println!(
                    "{n} {}",
                    lang.pick(
                        "secrets sealed again with the newest key",
                        "件のシークレットを最新の鍵で封印し直しました"
                    )
                );
                Ok(())
            }
            .await;
            state.close().await;
            result
        }
    }
}
