//! `sekimori device add|list|show|disable|rotate-credential|export`: the device register
//! (機器台帳). A device credential is printed once, at `add` and `rotate-credential`; `export`
//! writes the register as CSV with Japanese headers (a BOM for Excel), the checklist's 台帳.

use std::io::Write as _;
use std::path::PathBuf;

use clap::Subcommand;

use super::output::{print_json, table};
use super::{Failure, Lang, actor, open_state};
use crate::clock::to_jst_string;
use crate::device::service::NewDevice;
use crate::device::{Device, DeviceKind};
use crate::error::Error;

#[derive(Debug, Subcommand)]
pub enum DeviceCommand {
    /// Register a terminal, server or network device; prints its credential once.
    Add {
        name: String,
        /// terminal | server | network
        #[arg(long)]
        kind: String,
        #[arg(long, default_value = "")]
        location: String,
        /// Who is responsible for it (管理責任者).
        #[arg(long, default_value = "")]
        owner: String,
    },
    /// List the register.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one device.
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Disable a device: its credential stops counting.
    Disable {
        name: String,
        #[arg(long)]
        reason: String,
    },
    /// Issue a new credential (printed once); the old one stops working.
    RotateCredential {
        name: String,
        #[arg(long)]
        reason: String,
    },
    /// A one-time link (24 hours) that registers the browser opening it as this terminal.
    EnrolmentLink { name: String },
    /// The register as CSV (Japanese headers unless --lang en).
    Export {
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

fn kind_text(lang: Lang, d: &Device) -> String {
    match lang {
        Lang::Ja => d.kind.label_ja().to_owned(),
        Lang::En => d.kind.as_str().to_owned(),
    }
}

fn status_text(lang: Lang, d: &Device) -> String {
    match lang {
        Lang::Ja => d.status.label_ja().to_owned(),
        Lang::En => d.status.as_str().to_owned(),
    }
}

fn last_seen(d: &Device) -> String {
    d.last_seen_at.map_or_else(|| "-".into(), to_jst_string)
}

fn show_credential(lang: Lang, d: &Device, token: &str) {
    println!(
        "{}",
        lang.pick(
            "Device credential (shown once; put it on the device in a file readable by root only):",
            "機器の資格情報（一度だけ表示。機器上の root だけが読めるファイルに保存してください）:"
        )
    );
    println!("  {}  {token}", d.name);
}

/// The register as CSV rows, headers first.
pub fn csv(devices: &[Device], lang: Lang) -> Result<Vec<u8>, std::io::Error> {
    let mut out = Vec::new();
    if lang == Lang::Ja {
        out.write_all("\u{feff}".as_bytes())?;
    }
    {
        let mut w = csv::Writer::from_writer(&mut out);
        let headers: [&str; 9] = match lang {
            Lang::Ja => [
                "機器名",
                "種別",
                "設置場所",
                "管理責任者",
                "登録者",
                "状態",
                "最終確認",
                "登録日時",
                "資格情報更新日時",
            ],
            Lang::En => [
                "name",
                "kind",
                "location",
                "owner",
                "registered by",
                "status",
                "last seen",
                "registered",
                "credential rotated",
            ],
        };
        w.write_record(headers).map_err(std::io::Error::other)?;
        for d in devices {
            w.write_record([
                d.name.clone(),
                kind_text(lang, d),
                d.location.clone(),
                d.owner.clone(),
                d.registered_by.clone(),
                status_text(lang, d),
                last_seen(d),
                to_jst_string(d.created_at),
                to_jst_string(d.credential_rotated_at),
            ])
            .map_err(std::io::Error::other)?;
        }
        w.flush()?;
    }
    Ok(out)
}

pub async fn run(cmd: DeviceCommand, config: &Option<PathBuf>, lang: Lang) -> Result<(), Failure> {
    let state = open_state(config).await?;
    let reg = &state.devices;
    let public_url = state.config.server.public_url.clone();
    let actor = actor();
    let result: Result<(), Error> = match cmd {
        DeviceCommand::Add {
            name,
            kind,
            location,
            owner,
        } => {
            let kind = DeviceKind::parse(&kind).ok_or_else(|| {
                Error::Invalid(format!(
                    "unknown device kind `{kind}`: use terminal, server or network"
                ))
            })?;
            let (d, token) = reg
                .add(
                    NewDevice {
                        name,
                        kind,
                        location,
                        owner,
                    },
                    &actor,
                )
                .await?;
            println!(
                "{} {} ({})",
                lang.pick("registered", "登録しました:"),
                d.name,
                d.id
            );
            show_credential(lang, &d, token.expose());
            Ok(())
        }
        DeviceCommand::List { json } => {
            let list = reg.list().await?;
            if json {
                return print_json(&list);
            }
            let mut t = table(match lang {
                Lang::En => vec!["name", "kind", "location", "owner", "status", "last seen"],
                Lang::Ja => vec![
                    "機器名",
                    "種別",
                    "設置場所",
                    "管理責任者",
                    "状態",
                    "最終確認",
                ],
            });
            for d in &list {
                t.add_row(vec![
                    d.name.clone(),
                    kind_text(lang, d),
                    d.location.clone(),
                    d.owner.clone(),
                    status_text(lang, d),
                    last_seen(d),
                ]);
            }
            println!("{t}");
            println!("{} {}", list.len(), lang.pick("device(s)", "台"));
            Ok(())
        }
        DeviceCommand::Show { name, json } => {
            let d = reg.find(&name).await?;
            if json {
                return print_json(&d);
            }
            let mut t = table(vec![lang.pick("field", "項目"), lang.pick("value", "値")]);
            for (en, ja, v) in [
                ("name", "機器名", d.name.clone()),
                ("id", "ID", d.id.to_string()),
                ("kind", "種別", kind_text(lang, &d)),
                ("location", "設置場所", d.location.clone()),
                ("owner", "管理責任者", d.owner.clone()),
                ("registered by", "登録者", d.registered_by.clone()),
                ("status", "状態", status_text(lang, &d)),
                ("last seen", "最終確認", last_seen(&d)),
                (
                    "browser bound",
                    "端末ブラウザー",
                    lang.pick(
                        if d.terminal.is_bound() { "yes" } else { "no" },
                        if d.terminal.is_bound() {
                            "登録済み"
                        } else {
                            "未登録"
                        },
                    )
                    .to_owned(),
                ),
                ("registered", "登録日時", to_jst_string(d.created_at)),
                (
                    "credential rotated",
                    "資格情報更新日時",
                    to_jst_string(d.credential_rotated_at),
                ),
            ] {
                t.add_row(vec![lang.pick(en, ja).to_owned(), v]);
            }
            println!("{t}");
            Ok(())
        }
        DeviceCommand::Disable { name, reason } => {
            let d = reg.disable(&name, &reason, &actor).await?;
            println!("{} {}", lang.pick("disabled", "無効化しました:"), d.name);
            Ok(())
        }
        DeviceCommand::RotateCredential { name, reason } => {
            let (d, token) = reg.rotate(&name, &reason, &actor).await?;
            println!(
                "{} {}",
                lang.pick("new credential for", "資格情報を更新しました:"),
                d.name
            );
            show_credential(lang, &d, token.expose());
            Ok(())
        }
        DeviceCommand::EnrolmentLink { name } => {
            let (d, url) = reg.enrolment_link(&name, &public_url, &actor).await?;
            println!(
                "{} {}",
                lang.pick(
                    "Open this link once in the browser of terminal",
                    "次のリンクを端末のブラウザーで一度だけ開いてください:"
                ),
                d.name
            );
            println!(
                "{} {}",
                lang.pick("(valid until", "（有効期限"),
                d.terminal
                    .enrol_expires_at
                    .map(crate::clock::to_jst_display)
                    .unwrap_or_default()
                    + lang.pick(")", "）")
            );
            println!("{}", url.expose());
            Ok(())
        }
        DeviceCommand::Export { output } => {
            let list = reg.list().await?;
            let bytes = csv(&list, lang).map_err(|e| Error::io("writing the export", e))?;
            match output {
                Some(path) => std::fs::write(&path, &bytes)
                    .map_err(|e| Error::io(format!("writing {}", path.display()), e)),
                None => std::io::stdout()
                    .write_all(&bytes)
                    .map_err(|e| Error::io("writing the export", e)),
            }
        }
    };
    result.map_err(Failure::from)
}
