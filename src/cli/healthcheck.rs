//! `sekimori healthcheck`: ask a running gateway for `/healthz`; exit 0 when it answers 200.
//! Used by the container HEALTHCHECK, so the image needs no curl.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

use super::{Failure, load_config};

pub fn run(config: &Option<PathBuf>, addr: Option<SocketAddr>) -> Result<(), Failure> {
    let addr = match addr {
        Some(a) => a,
        None => {
            let listen = load_config(config)?.server.listen;
            // A wildcard bind is reached through loopback.
            if listen.ip().is_unspecified() {
                SocketAddr::from(([127, 0, 0, 1], listen.port()))
            } else {
                listen
            }
        }
    };
    let fail =
        |e: std::io::Error| Failure::new(1, format!("gateway at {addr} is not healthy: {e}"));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(3)).map_err(fail)?;
    s.set_read_timeout(Some(Duration::from_secs(3)))
        .map_err(fail)?;
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .map_err(fail)?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head).map_err(fail)?;
    if &head[9..12] == b"200" {
        println!("ok");
        Ok(())
    } else {
        Err(Failure::new(
            1,
            format!(
                "gateway at {addr} answered {}",
                String::from_utf8_lossy(&head[9..12])
            ),
        ))
    }
}
