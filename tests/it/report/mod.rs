//! The guideline report against a seeded clinic: every figure equals what the seed implies,
//! in Japanese and English; the CLI's JSON matches its schema and the same figures; and the
//! console's `/report` in Chromium, screenshotted and printed to PDF, turned into PNG pages
//! with `pdftoppm`.

mod clinic;

use chrono::{Duration, NaiveDate};
use sekimori::audit::export::Lang;
use sekimori::clock::Clock as _;
use sekimori::report::gather::{Depth, snapshot};
use sekimori::report::model::{GuidelineReport, Status};

use crate::gateway::PASSWORD;
use crate::support::text;
use clinic::*;

async fn report(seed: &Seed, lang: Lang) -> GuidelineReport {
    let state = seed
        .env
        .state_with_clock(&extra(seed.clock.now()), seed.clock.clone())
        .await;
    let snap = snapshot(&state, seed.clock.now(), Depth::Full)
        .await
        .unwrap();
    state.close().await;
    sekimori::report::build(&snap, lang)
}

fn names(list: &[sekimori::report::model::AccountFigure]) -> Vec<&str> {
    let mut v: Vec<&str> = list.iter().map(|a| a.username.as_str()).collect();
    v.sort_unstable();
    v
}

fn section<'a>(r: &'a GuidelineReport, id: &str) -> &'a sekimori::report::model::Section {
    r.sections
        .iter()
        .find(|s| s.id == id)
        .unwrap_or_else(|| panic!("no section {id}"))
}

#[tokio::test]
async fn every_figure_is_what_the_seeded_store_implies() {
    let seed = seed().await;
    let t0 = seed.clock.now();
    let r = report(&seed, Lang::Ja).await;
    let f = &r.figures;

    let deadline = NaiveDate::from_ymd_opt(2027, 4, 1).unwrap();
    assert_eq!(f.days_to_deadline, (deadline - jst_date(t0)).num_days());

    let cov: Vec<(&str, u64, u64)> = f
        .coverage_by_account_type
        .iter()
        .map(|c| (c.group.as_str(), c.total, c.with_second_factor))
        .collect();
    // Staff: kango-a, kango-b, ishi-kanri, kansa of seven; the emergency account by its codes;
    // the disabled one is not counted.
    assert_eq!(
        cov,
        [
            ("staff", 7, 4),
            ("admin", 1, 1),
            ("vendor", 1, 0),
            ("emergency", 1, 1)
        ]
    );
    assert_eq!(f.coverage_by_account_type[0].percent, Some(57));
    let kinds: Vec<(&str, u64, u64)> = f
        .coverage_by_system_kind
        .iter()
        .map(|c| (c.group.as_str(), c.total, c.with_second_factor))
        .collect();
    assert_eq!(kinds, [("web", 3, 2), ("terminal", 2, 2), ("server", 1, 0)]);
    let today = f.coverage_over_time.last().unwrap();
    assert_eq!((today.accounts, today.with_second_factor), (10, 6));
    assert_eq!(today.date, day(t0, 0));
    // Each month's point counts the factors enrolled by the end of that day: the break-glass
    // codes (200 days ago), kanri (150), kango-a (100), ishi-kanri (40), kango-b (10), kansa
    // (today).
    let enrolled = [200, 150, 100, 40, 10, 0];
    assert!(
        f.coverage_over_time.len() >= 7,
        "{:?}",
        f.coverage_over_time
    );
    for p in &f.coverage_over_time {
        let d = NaiveDate::parse_from_str(&p.date, "%Y-%m-%d").unwrap();
        let expected = enrolled
            .iter()
            .filter(|ago| jst_date(t0 - Duration::days(**ago)) <= d)
            .count() as u64;
        assert_eq!(p.with_second_factor, expected, "{p:?}");
        assert_eq!(p.accounts, 10, "{p:?}");
    }

    let ex: Vec<(&str, &str, &str, i64, bool)> = f
        .exemptions
        .iter()
        .map(|e| {
            (
                e.system.as_str(),
                e.kind,
                e.until.as_str(),
                e.days_left,
                e.ends_within_90_days,
            )
        })
        .collect();
    let mut ex = ex;
    ex.sort();
    assert_eq!(
        ex,
        [
            (
                "emr",
                "enrolled_factors_optional",
                day(t0, 150).as_str(),
                150,
                false
            ),
            ("pacs", "two_factor", day(t0, 200).as_str(), 200, false),
            ("reception-pc", "two_factor", day(t0, 60).as_str(), 60, true),
        ]
    );
    let soon = f
        .exemptions
        .iter()
        .find(|e| e.system == "reception-pc")
        .unwrap();
    assert_eq!(soon.approved_by, "情報セキュリティ責任者 佐藤");
    assert_eq!(soon.reason, "端末の更新まで");

    assert_eq!(names(&f.password_only_accounts), ["ishi-d", "jimu-c"]);
    assert_eq!(
        names(&f.privileged_accounts),
        ["hoshu", "ishi-kanri", "kanri", "kinkyu"]
    );
    let roster: Vec<(&str, bool, bool)> = f
        .privileged_accounts
        .iter()
        .map(|a| (a.username.as_str(), a.has_second_factor, a.admin_rights))
        .collect();
    assert!(roster.contains(&("hoshu", false, false)));
    assert!(roster.contains(&("ishi-kanri", true, true)));
    assert!(roster.contains(&("kinkyu", true, false)));
    let kinkyu = f
        .privileged_accounts
        .iter()
        .find(|a| a.username == "kinkyu")
        .unwrap();
    assert_eq!(kinkyu.factors, ["break_glass_code×10"]);
    assert_eq!(f.dormant_after_days, 90);
    // ishi-d signed in 120 days ago; hoshu never, created 200 days ago. Emergency accounts
    // are dormant by nature and not listed.
    assert_eq!(names(&f.dormant_accounts), ["hoshu", "ishi-d"]);
    let d = f
        .dormant_accounts
        .iter()
        .find(|a| a.username == "ishi-d")
        .unwrap();
    assert_eq!(d.days_unused, 120);

    assert_eq!(f.accounts.total, 11);
    assert_eq!(f.accounts.disabled, 1);
    assert_eq!(f.accounts.fixed_term, 1);
    assert_eq!(f.access_rules, 1);
    let roles: Vec<(&str, u64)> = f
        .roles
        .iter()
        .map(|r| (r.role.as_str(), r.accounts))
        .collect();
    assert_eq!(
        roles,
        [
            ("auditor", 1),
            ("clerk", 1),
            ("doctor", 4),
            ("it_admin", 2),
            ("nurse", 2),
            ("vendor", 1)
        ]
    );

    let dev = &f.devices;
    assert_eq!(dev.active, 4);
    assert_eq!(dev.by_kind.get("terminal"), Some(&2));
    let incomplete: Vec<(&str, Vec<&str>)> = dev
        .incomplete
        .iter()
        .map(|d| (d.name.as_str(), d.missing.clone()))
        .collect();
    assert_eq!(
        incomplete
            .iter()
            .map(|(n, _)| *n)
            .collect::<std::collections::BTreeSet<_>>(),
        ["core-switch", "karte-sv"].into_iter().collect()
    );
    assert!(incomplete.contains(&("core-switch", vec!["owner", "location"])));
    let mut silent: Vec<&str> = dev.silent_30_days.iter().map(|d| d.name.as_str()).collect();
    silent.sort_unstable();
    assert_eq!(silent, ["byoto-pc", "karte-sv"]);

    let failures = |date: String| {
        f.failures_by_day
            .iter()
            .find(|d| d.date == date)
            .cloned()
            .unwrap()
    };
    assert_eq!(f.failures_by_day.len(), 30);
    let y = failures(day(t0 - Duration::days(1), 0));
    assert_eq!(
        (
            y.failures_trusted,
            y.failures_external,
            y.locks_trusted,
            y.locks_external
        ),
        (1, 3, 0, 1)
    );
    let today = failures(day(t0, 0));
    // Today's two, and the seed's own sign-in of kansa is a success, not a failure.
    assert_eq!((today.failures_trusted, today.failures_external), (2, 0));
    let total: u64 = f
        .failures_by_day
        .iter()
        .map(|d| d.failures_trusted + d.failures_external)
        .sum();
    assert_eq!(total, 6, "the five of 40 days ago are outside the 30 days");

    assert_eq!(f.password_resets_365_days, 1);
    assert_eq!(f.vendors.accounts, 1);
    assert_eq!(f.vendors.without_second_factor, ["hoshu"]);
    assert_eq!((f.vendors.windows_90_days, f.vendors.open_now), (1, 0));
    assert_eq!(f.emergency.len(), 1);
    assert_eq!(f.emergency[0].break_glass_codes, 10);
    assert!(!f.breach_filter.loaded);
    let a = &f.audit;
    assert!(a.chain_intact && a.chain_complete, "{a:?}");
    assert_eq!(a.auditors, 1);
    let cp = a.last_checkpoint.as_ref().unwrap();
    assert_eq!(cp.seq, a.rows, "signed at the seed's end");
    assert_eq!(a.unsigned_rows, 0);
    assert!(a.syslog.is_none());
    let setting = |k: &str| f.settings.iter().find(|s| s.key == k).unwrap().clone();
    assert_eq!(
        setting("password.min_length_without_second_factor").value,
        "15"
    );
    assert!(f.settings.iter().all(|s| s.meets), "{:?}", f.settings);

    // Statuses follow from the figures.
    for (id, want, why) in [
        (
            "checklist-2-1",
            Status::ActionRequired,
            "incomplete and silent devices",
        ),
        (
            "checklist-2-4",
            Status::ActionRequired,
            "admin rights on a clinical account",
        ),
        ("checklist-2-5", Status::ActionRequired, "dormant accounts"),
        (
            "checklist-2-6",
            Status::Met,
            "chain, checkpoint, an auditor",
        ),
        ("checklist-2-7", Status::Met, "lengths at their floors"),
        ("checklist-2-8", Status::ActionRequired, "no breach filter"),
        (
            "checklist-2fa",
            Status::ActionRequired,
            "password-only accounts, an exemption ending",
        ),
        ("G-13", Status::Met, "codes sealed, no open use"),
        (
            "G-18",
            Status::ActionRequired,
            "a vendor without a second factor",
        ),
        ("G-27", Status::Met, "local URL"),
    ] {
        assert_eq!(section(&r, id).status, want, "{id}: {why}");
    }
    assert_eq!(
        r.summary.met + r.summary.action_required + r.summary.not_applicable,
        r.sections.len()
    );

    // The texts, in Japanese.
    let two = section(&r, "checklist-2fa");
    assert_eq!(two.status_label, "要対応");
    let all = two.evidence.join("\n");
    assert!(
        all.contains(&format!("あと{}日", f.days_to_deadline)),
        "{all}"
    );
    assert!(all.contains("職員 4/7 (57%)"), "{all}");
    assert!(
        all.contains(
            "パスワードだけでサインインできるアカウント: 2件（jimu-c (職員)、ishi-d (職員)）"
        ) || all.contains(
            "パスワードだけでサインインできるアカウント: 2件（ishi-d (職員)、jimu-c (職員)）"
        ),
        "{all}"
    );
    assert!(
        all.contains("reception-pc（端末）の二要素の例外") && all.contains("⚠"),
        "{all}"
    );
    assert!(
        two.actions
            .iter()
            .any(|a| a.contains("reception-pc の例外")),
        "{:?}",
        two.actions
    );
    let devices = section(&r, "checklist-2-1").evidence.join("\n");
    assert!(
        devices.contains("登録済みの機器（稼働中）: 4台"),
        "{devices}"
    );
    assert!(
        devices.contains("30日以上通信のない端末・サーバー: 2台"),
        "{devices}"
    );

    // And in English.
    let en = report(&seed, Lang::En).await;
    assert_eq!(
        en.figures.coverage_by_account_type,
        r.figures.coverage_by_account_type
    );
    let two = section(&en, "checklist-2fa");
    assert_eq!(two.status_label, "Action required");
    let all = two.evidence.join("\n");
    assert!(all.contains("Staff 4/7 (57%)"), "{all}");
    assert!(
        all.contains(&format!("{} days", f.days_to_deadline)),
        "{all}"
    );
    let g22 = section(&en, "G-22").evidence.join("\n");
    assert!(
        g22.contains(&format!("Last signed checkpoint: row {}", cp.seq)),
        "{g22}"
    );

    // The CLI gives the same figures, as JSON that matches its schema.
    let at = sekimori::clock::to_jst_string(t0);
    let out = seed.env.run(
        &[
            "--lang",
            "ja",
            "report",
            "guideline",
            "--format",
            "json",
            "--at",
            &at,
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json["figures"]["password_only_accounts"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        json["figures"]["coverage_by_account_type"],
        serde_json::to_value(&f.coverage_by_account_type).unwrap()
    );
    assert_eq!(
        json["figures"]["devices"]["silent_30_days"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        json["summary"]["action_required"],
        r.summary.action_required
    );
    let file = seed.env.dir.path().join("report.json");
    std::fs::write(&file, &out.stdout).unwrap();
    let schema = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/report.schema.json");
    let check = std::process::Command::new("/usr/bin/python3")
        .args([
            "-c",
            "import json,sys,jsonschema; jsonschema.Draft202012Validator(json.load(open(sys.argv[2]))).validate(json.load(open(sys.argv[1])))",
        ])
        .arg(&file)
        .arg(&schema)
        .output()
        .unwrap();
    assert!(check.status.success(), "schema: {}", text(&check));

    // Markdown and CSV carry the same statuses.
    for (format, needle) in [
        ("md", "### 2-① 機器台帳の管理 — **要対応**"),
        ("csv", "2-①,機器台帳の管理,要対応"),
    ] {
        let out = seed.env.run(
            &[
                "--lang",
                "ja",
                "report",
                "guideline",
                "--format",
                format,
                "--at",
                &at,
            ],
            None,
        );
        assert!(out.status.success(), "{}", text(&out));
        let body = String::from_utf8_lossy(&out.stdout);
        assert!(body.contains(needle), "{format}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_report_in_chromium_on_screen_and_on_paper() {
    let e2e = crate::browser::node_modules_ready();
    let seed = seed().await;
    let (gw, url) = crate::browser::on_localhost(&seed.env, &[]);
    let summary = crate::browser::browser_run(
        &seed.env,
        &e2e,
        "report.mjs",
        &[
            ("GATEWAY", url.as_str()),
            ("AUDITOR", "kansa"),
            ("PASSWORD", PASSWORD),
            ("TOTP_SECRET", seed.auditor_secret.as_str()),
        ],
    );
    assert_eq!(
        crate::browser::steps(&summary),
        ["report_ja", "report_en", "audit_console"]
    );
    drop(gw);
    // The printed report, page by page: every page carries the facility and its number.
    let shots = e2e.join("screenshots");
    for lang in ["ja", "en"] {
        let pdf = shots.join(format!("report-{lang}.pdf"));
        let prefix = shots.join(format!("report-print-{lang}"));
        let png = std::process::Command::new("pdftoppm")
            .args(["-png", "-r", "60"])
            .arg(&pdf)
            .arg(&prefix)
            .output()
            .expect("pdftoppm must be installed (tests/run.sh installs poppler-utils)");
        assert!(png.status.success(), "{}", text(&png));
        let pages = std::fs::read_dir(&shots)
            .unwrap()
            .filter(|e| {
                let n = e
                    .as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .into_owned();
                n.starts_with(&format!("report-print-{lang}-")) && n.ends_with(".png")
            })
            .count();
        assert!(pages >= 3, "{pages} pages");
        let words = std::process::Command::new("pdftotext")
            .args(["-layout"])
            .arg(&pdf)
            .arg("-")
            .output()
            .unwrap();
        let words = String::from_utf8_lossy(&words.stdout);
        let per_page: Vec<&str> = words
            .split('\u{c}')
            .filter(|p| !p.trim().is_empty())
            .collect();
        assert_eq!(per_page.len(), pages);
        let label = if lang == "ja" { "ページ" } else { "Page" };
        for (i, p) in per_page.iter().enumerate() {
            assert!(
                p.contains("さくら診療所"),
                "page {} lacks the facility:\n{p}",
                i + 1
            );
            assert!(
                p.contains(&format!("{label} {} / {pages}", i + 1)),
                "page {} lacks its number:\n{p}",
                i + 1
            );
        }
    }
}
