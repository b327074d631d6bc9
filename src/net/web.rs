//! `splitbench web`: serves the browser profiler (`web/dist`, built by
//! `scripts/build-web.sh`) and saves what the page measured.
//!
//! WebGPU needs a secure context: `http://localhost` (or 127.0.0.1) is one, any other
//! address needs HTTPS, which `tls` gives with a self-signed certificate generated at
//! start (the browser warns once). The page POSTs its [`WebResult`] to `/result`; the
//! server checks it and writes the files `splitbench profile` writes (same schema), so a
//! phone's profile lands on the laptop that served the page.

use crate::error::{Error, Result};
use crate::report::{kernels_path, pruned_path, read_profile_csv_str, WebResult};
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

/// Largest request body accepted (a profile of a large ONNX model is well under 1 MiB).
const MAX_BODY: usize = 64 << 20;

/// How to serve.
#[derive(Clone, Debug)]
pub struct WebOptions {
    /// Address to listen on (`127.0.0.1:8080`; port 0 picks a free one).
    pub listen: String,
    /// The built page (`web/dist`).
    pub root: PathBuf,
    /// HTTPS with a self-signed certificate (for a phone on the local network).
    pub tls: bool,
    /// Where results are saved.
    pub out: PathBuf,
}

/// Something the server did, for the caller to print.
#[derive(Debug)]
pub enum WebEvent {
    /// A file was served (path, status).
    Served(String, u16),
    /// The page's result was saved: the profile CSV's path and the model.
    Saved(PathBuf, String),
    /// A posted result was rejected (why); the server goes on.
    Rejected(String),
    /// The page reported an error.
    PageError(String),
}

/// A listening server.
pub struct WebServer {
    server: tiny_http::Server,
    opts: WebOptions,
    url: String,
}

impl WebServer {
    /// Binds `opts.listen` (checks that the page is built first).
    pub fn start(opts: WebOptions) -> Result<Self> {
        let index = opts.root.join("index.html");
        let wasm = opts.root.join("pkg/splitbench_web_bg.wasm");
        if !index.is_file() || !wasm.is_file() {
            return Err(Error::InvalidArg(format!(
                "{}: no built page (index.html and pkg/splitbench_web_bg.wasm); run \
                 scripts/build-web.sh first",
                opts.root.display()
            )));
        }
        let failed = |e: Box<dyn std::error::Error + Send + Sync>| {
            Error::InvalidArg(format!("cannot listen on {}: {e}", opts.listen))
        };
        let server = if opts.tls {
            let (certificate, private_key) = self_signed(&opts.listen)?;
            let ssl = tiny_http::SslConfig {
                certificate,
                private_key,
            };
            tiny_http::Server::https(&opts.listen, ssl).map_err(failed)?
        } else {
            tiny_http::Server::http(&opts.listen).map_err(failed)?
        };
        let addr = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| Error::InvalidArg(format!("{} is not an IP address", opts.listen)))?;
        let scheme = if opts.tls { "https" } else { "http" };
        let url = format!("{scheme}://{addr}/");
        Ok(Self { server, opts, url })
    }

    /// The page's address (with the port actually bound).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Serves until `once` and a result was saved (returns its CSV path), until the page
    /// reports an error with `once` (an error), or until `timeout` passes (an error). A
    /// malformed result is answered 400 and ends nothing.
    pub fn serve(
        &self,
        once: bool,
        timeout: Option<Duration>,
        on_event: &mut dyn FnMut(WebEvent),
    ) -> Result<Option<PathBuf>> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let wait = match deadline {
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) => left,
                    None => {
                        return Err(Error::InvalidArg(format!(
                            "no result from the page within {:?}",
                            timeout.unwrap_or_default()
                        )))
                    }
                },
                None => Duration::from_secs(3600),
            };
            let Ok(Some(req)) = self.server.recv_timeout(wait) else {
                continue;
            };
            match self.handle(req) {
                Handled::Served(path, status) => on_event(WebEvent::Served(path, status)),
                Handled::Saved(csv, model) => {
                    on_event(WebEvent::Saved(csv.clone(), model));
                    if once {
                        return Ok(Some(csv));
                    }
                }
                Handled::Rejected(msg) => on_event(WebEvent::Rejected(msg)),
                Handled::PageError(msg) => {
                    on_event(WebEvent::PageError(msg.clone()));
                    if once {
                        return Err(Error::InvalidArg(format!("the page failed: {msg}")));
                    }
                }
            }
        }
    }

    fn handle(&self, mut req: tiny_http::Request) -> Handled {
        let url = req.url().split('?').next().unwrap_or("/").to_string();
        let method = req.method().clone();
        let reply = |req: tiny_http::Request, status: u16, text: String| {
            let _ = req.respond(tiny_http::Response::from_string(text).with_status_code(status));
        };
        if method == tiny_http::Method::Post {
            let mut body = Vec::new();
            let read = req
                .as_reader()
                .take(MAX_BODY as u64 + 1)
                .read_to_end(&mut body);
            if read.is_err() || body.len() > MAX_BODY {
                reply(req, 413, "body unreadable or over 64 MiB".into());
                return Handled::Served(url, 413);
            }
            return match url.as_str() {
                "/result" => match self.save(&body) {
                    Ok((csv, model)) => {
                        reply(req, 200, format!("saved {}", csv.display()));
                        Handled::Saved(csv, model)
                    }
                    Err(e) => {
                        reply(req, 400, e.to_string());
                        Handled::Rejected(e.to_string())
                    }
                },
                "/error" => {
                    reply(req, 200, "noted".into());
                    Handled::PageError(String::from_utf8_lossy(&body).into_owned())
                }
                _ => {
                    reply(req, 404, "no such endpoint".into());
                    Handled::Served(url, 404)
                }
            };
        }
        let Some(path) = static_path(&self.opts.root, &url) else {
            reply(req, 404, "not found".into());
            return Handled::Served(url, 404);
        };
        match std::fs::File::open(&path) {
            Ok(f) => {
                let ty = content_type(&path);
                let header = tiny_http::Header::from_bytes("Content-Type", ty)
                    .expect("static header is valid");
                let _ = req.respond(tiny_http::Response::from_file(f).with_header(header));
                Handled::Served(url, 200)
            }
            Err(_) => {
                reply(req, 404, "not found".into());
                Handled::Served(url, 404)
            }
        }
    }

    /// Checks a posted result and writes its files into `opts.out`.
    fn save(&self, body: &[u8]) -> Result<(PathBuf, String)> {
        let r: WebResult = serde_json::from_slice(body)
            .map_err(|e| Error::InvalidArg(format!("not a result of the page: {e}")))?;
        save_result(&self.opts.out, &r)?;
        Ok((self.opts.out.join(PROFILE_CSV), r.model))
    }
}

enum Handled {
    Served(String, u16),
    Saved(PathBuf, String),
    // A posted result that is not one (the sender is told; the server goes on).
    Rejected(String),
    PageError(String),
}

/// File names a saved result takes in the output folder.
pub const PROFILE_CSV: &str = "device_profile.csv";
/// The profile's manifest.
pub const PROFILE_JSON: &str = "device_profile.json";
/// The output check (GPU against the CPU reference).
pub const CHECK_JSON: &str = "output_check.json";

/// Writes `r`'s files into `dir` after checking that its CSV parses as a profile.
pub fn save_result(dir: &Path, r: &WebResult) -> Result<()> {
    let csv = dir.join(PROFILE_CSV);
    let rows = read_profile_csv_str(&r.profile_csv, &csv)?;
    if rows.is_empty() {
        return Err(Error::BadFile {
            file: csv,
            msg: "the page sent a profile without rows".into(),
        });
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).map_err(|e| Error::io(&p, e))
    };
    write(PROFILE_CSV, &r.profile_csv)?;
    write(PROFILE_JSON, &r.manifest_json)?;
    // Where `profile --kernels` puts them, so `tradeoff --device-profile` finds them.
    for (path, text) in [
        (kernels_path(&csv), &r.kernels_csv),
        (pruned_path(&csv), &r.pruned_csv),
    ] {
        if let Some(text) = text {
            std::fs::write(&path, text).map_err(|e| Error::io(&path, e))?;
        }
    }
    let check = serde_json::to_string_pretty(&r.check).map_err(|e| Error::BadFile {
        file: dir.join(CHECK_JSON),
        msg: e.to_string(),
    })?;
    write(CHECK_JSON, &check)
}

/// The file under `root` that `url` names (`/` is `index.html`); `None` for anything
/// that would leave `root`.
fn static_path(root: &Path, url: &str) -> Option<PathBuf> {
    let rel = url.trim_start_matches('/');
    let rel = if rel.is_empty() { "index.html" } else { rel };
    let rel = Path::new(rel);
    if !rel.components().all(|c| matches!(c, Component::Normal(_))) {
        return None;
    }
    Some(root.join(rel))
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript",
        Some("wasm") => "application/wasm",
        Some("css") => "text/css",
        Some("json") => "application/json",
        Some("csv") => "text/csv",
        _ => "application/octet-stream",
    }
}

/// This machine's address on the network of its default route (what a phone on the same
/// Wi-Fi connects to), if it has one: the local end of a UDP "connection", which sends
/// nothing.
pub fn lan_address() -> Option<std::net::IpAddr> {
    let s = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    s.connect("192.0.2.1:9").ok()?; // TEST-NET-1: routed like any address, never reached
    Some(s.local_addr().ok()?.ip()).filter(|ip| !ip.is_loopback() && !ip.is_unspecified())
}

/// A self-signed certificate and key (PEM) for `localhost`, the listen address's host and,
/// when listening on all addresses, the LAN address.
fn self_signed(listen: &str) -> Result<(Vec<u8>, Vec<u8>)> {
    let mut names = vec!["localhost".to_string()];
    if let Some((host, _)) = listen.rsplit_once(':') {
        let host = host.trim_matches(['[', ']']);
        if host == "0.0.0.0" || host == "::" {
            names.extend(lan_address().map(|ip| ip.to_string()));
        } else if !host.is_empty() && host != "localhost" {
            names.push(host.to_string());
        }
    }
    let c = rcgen::generate_simple_self_signed(names)
        .map_err(|e| Error::InvalidArg(format!("generating a certificate: {e}")))?;
    Ok((
        c.cert.pem().into_bytes(),
        c.signing_key.serialize_pem().into_bytes(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_paths_stay_under_the_root() {
        let root = Path::new("/srv/page");
        assert_eq!(
            static_path(root, "/"),
            Some(PathBuf::from("/srv/page/index.html"))
        );
        assert_eq!(
            static_path(root, "/pkg/a.wasm"),
            Some(PathBuf::from("/srv/page/pkg/a.wasm"))
        );
        assert_eq!(static_path(root, "/../etc/passwd"), None);
        assert_eq!(static_path(root, "/pkg/../../x"), None);
        // Leading slashes are dropped: still under the root.
        assert_eq!(
            static_path(root, "//etc/passwd"),
            Some(PathBuf::from("/srv/page/etc/passwd"))
        );
    }

    #[test]
    fn certificates_name_localhost_and_the_host() {
        let (cert, key) = self_signed("192.168.1.5:8443").unwrap();
        assert!(String::from_utf8(cert)
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(String::from_utf8(key).unwrap().contains("PRIVATE KEY"));
    }
}
