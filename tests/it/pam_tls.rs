//! The PAM module over TLS: nginx terminates HTTPS for the gateway with a certificate from a
//! test CA made by `openssl`. The module trusting that CA (`ca_file`) signs people in; trusting
//! another CA, it refuses (fail closed) and says it was a TLS error.

use std::path::Path;
use std::process::Command;

use chrono::Duration;

use crate::pam::{PamService, register, require_root, totp_account};
use crate::process::{Gateway, Killed, free_port};
use crate::support::Env;
use crate::totp::oathtool;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl (tests/run.sh installs it)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        crate::support::text(&out)
    );
}

/// A CA named `name` and, with `server`, a certificate for 127.0.0.1 it signed.
fn ca(dir: &Path, name: &str, server: bool) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut args = vec!["req", "-x509"];
    args.extend(ec);
    let (key, pem, subj) = (
        format!("{name}.key"),
        format!("{name}.pem"),
        format!("/CN=Sekimori test {name}"),
    );
    args.extend([
        "-keyout",
        &key,
        "-out",
        &pem,
        "-subj",
        &subj,
        "-days",
        "2",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(dir, &args);
    if server {
        let mut args = vec!["req"];
        args.extend(ec);
        args.extend([
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ]);
        openssl(dir, &args);
        std::fs::write(
            dir.join("server.ext"),
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                &pem,
                "-CAkey",
                &key,
                "-CAcreateserial",
                "-out",
                "server.pem",
                "-days",
                "2",
                "-extfile",
                "server.ext",
            ],
        );
    }
}

fn tls_proxy(dir: &Path, port: u16, gateway: u16) -> Killed {
    let d = dir.display();
    let head = crate::nginx::head(dir, port, " ssl");
    let conf = format!(
        r#"{head}
    ssl_certificate {d}/server.pem;
    ssl_certificate_key {d}/server.key;
    location / {{
      proxy_pass http://127.0.0.1:{gateway};
      proxy_set_header X-Forwarded-For $remote_addr;
    }}
  }}
}}
"#
    );
    crate::nginx::start(dir, port, &conf)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_module_trusts_only_its_ca_file() {
    require_root();
    let env = Env::new();
    let gw = Gateway::start(&env, &[]);
    let (secret, enrolled) = totp_account(&gw, &env, "tls-nurse");
    let credential = register(&env, "srv-tls", "server");
    let certs = tempfile::tempdir().unwrap();
    ca(certs.path(), "ca", true);
    ca(certs.path(), "other-ca", false);
    let port = free_port();
    let _nginx = tls_proxy(certs.path(), port, gw.port);
    let url = format!("https://127.0.0.1:{port}");

    let with_ca = |label: &str, ca: &str| {
        let pam = PamService::new(label, &url, "srv-tls", &credential, "second_factor");
        let conf = pam.dir.path().join("pam.toml");
        let text = std::fs::read_to_string(&conf).unwrap();
        std::fs::write(
            &conf,
            format!("{text}ca_file = \"{}\"\n", certs.path().join(ca).display()),
        )
        .unwrap();
        pam
    };
    let trusted = with_ca("tls", "ca.pem");
    let code = oathtool(&secret, enrolled + Duration::seconds(30));
    let (ok, said) = trusted.authenticate("tls-nurse", &[&code]);
    assert!(ok, "{said}");

    // Another CA: the handshake fails, the module refuses, and says why.
    let untrusted = with_ca("tls-other", "other-ca.pem");
    let (ok, said) = untrusted.authenticate("tls-nurse", &["123456"]);
    assert!(!ok, "{said}");
    assert!(said.contains("Cannot reach the sign-in service"), "{said}");
    let config = pam_sekimori::Config::load(&untrusted.dir.path().join("pam.toml"), 0).unwrap();
    let client = pam_sekimori::client::HttpGateway::new(&config).unwrap();
    let err =
        pam_sekimori::Gateway::post(&client, "/api/v1/pam/authenticate", &serde_json::json!({}))
            .unwrap_err();
    assert!(
        err.starts_with("TLS error talking to https://127.0.0.1"),
        "{err}"
    );
}
